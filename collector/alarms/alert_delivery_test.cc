#include "collector/alarms/alert_delivery.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "collector/state/open_state_store.h"
#include "common/testing/process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace vigil::collector {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::vigil::testing::TempDir;

constexpr char kGood[] = R"(receivers:
  - name: oncall
    webhook: {url: "http://127.0.0.1:9/hook"}
route: {receiver: oncall}
)";

std::string Metrics(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

class AlertDeliveryTest : public ::testing::Test {
 protected:
  AlertDelivery::Options Options(bool required) {
    AlertDelivery::Options o;
    o.config_file = dir_.Join("alerting.yaml");
    o.config_file_required = required;
    if (state_ == nullptr) state_ = *collector::OpenStateStore({}, dir_.path());
    o.store = &state_->notifications();
    o.store_location = dir_.Join("state.db");
    o.default_external_url = "http://collector.example:8080";
    return o;
  }
  TempDir dir_;
  std::unique_ptr<StateStore> state_;
  prometheus::Registry registry_;
};

TEST_F(AlertDeliveryTest, LoadsTheConfigAndDescribesIt) {
  dir_.Write("alerting.yaml", kGood);
  absl::StatusOr<std::unique_ptr<AlertDelivery>> d = AlertDelivery::Start(Options(true), registry_);
  ASSERT_TRUE(d.ok()) << d.status();
  nlohmann::json status = (*d)->Status();
  EXPECT_EQ(status["config_file"], dir_.Join("alerting.yaml"));
  EXPECT_EQ(status["config_loaded"], true);
  EXPECT_EQ(status["receivers"],
            nlohmann::json::parse(R"([{"name":"oncall","integrations":["webhook"]}])"));
  EXPECT_EQ(status["routing_tree"], true);
  EXPECT_EQ(status["outbox_pending"], 0);
  EXPECT_EQ(status["external_url"], "http://collector.example:8080");
  EXPECT_EQ(status["last_reload"]["success"], true);
  EXPECT_EQ(status["store"], dir_.Join("state.db"));
  EXPECT_THAT(Metrics(registry_), HasSubstr("\nvigil_alerting_config_last_reload_success 1\n"));
}

TEST_F(AlertDeliveryTest, ABadReloadIsRejectedWholeAndTheLastGoodConfigKeepsRunning) {
  dir_.Write("alerting.yaml", kGood);
  absl::StatusOr<std::unique_ptr<AlertDelivery>> d = AlertDelivery::Start(Options(true), registry_);
  ASSERT_TRUE(d.ok()) << d.status();
  dir_.Write("alerting.yaml", "receivers:\n  - name: oncall\n    webhok: {url: x}\n");
  absl::Status s = (*d)->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr(dir_.Join("alerting.yaml") + ":3:5: unknown key 'webhok'"));
  nlohmann::json status = (*d)->Status();
  EXPECT_EQ(status["last_reload"]["success"], false);
  EXPECT_THAT(status["last_reload"]["error"].get<std::string>(), HasSubstr(":3:5:"));
  EXPECT_EQ(status["receivers"][0]["integrations"], nlohmann::json::array({"webhook"}));
  EXPECT_THAT(Metrics(registry_), HasSubstr("\nvigil_alerting_config_last_reload_success 0\n"));

  dir_.Write("alerting.yaml", "receivers: [{name: quiet}]\n");
  EXPECT_TRUE((*d)->Reload().ok());
  EXPECT_EQ((*d)->Status()["receivers"][0]["name"], "quiet");
  EXPECT_THAT(Metrics(registry_), HasSubstr("\nvigil_alerting_config_last_reload_success 1\n"));
}

TEST_F(AlertDeliveryTest, ABadConfigAtStartIsAnErrorWithPositions) {
  dir_.Write("alerting.yaml", "route: {receiver: nobody}\n");
  absl::StatusOr<std::unique_ptr<AlertDelivery>> d = AlertDelivery::Start(Options(true), registry_);
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()), StartsWith("alerting config not loaded:\n"));
  EXPECT_THAT(d.status().message(), HasSubstr(dir_.Join("alerting.yaml") + ":1:"));
}

TEST_F(AlertDeliveryTest, AGivenConfigFileMustExistAtStartAndOnReload) {
  absl::StatusOr<std::unique_ptr<AlertDelivery>> d = AlertDelivery::Start(Options(true), registry_);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(d.status().message(), HasSubstr(dir_.Join("alerting.yaml")));

  dir_.Write("alerting.yaml", kGood);
  d = AlertDelivery::Start(Options(true), registry_);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(unlink(dir_.Join("alerting.yaml").c_str()), 0);
  absl::Status s = (*d)->Reload();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*d)->Status()["receivers"].size(), 1u);  // still the last good one
}

TEST_F(AlertDeliveryTest, TheDefaultFileMayBeAbsentAndCreatedLater) {
  absl::StatusOr<std::unique_ptr<AlertDelivery>> d =
      AlertDelivery::Start(Options(false), registry_);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->Status()["config_loaded"], false);
  EXPECT_EQ((*d)->Status()["receivers"], nlohmann::json::array());
  dir_.Write("alerting.yaml", kGood);
  ASSERT_TRUE((*d)->Reload().ok());
  EXPECT_EQ((*d)->Status()["config_loaded"], true);
  EXPECT_EQ((*d)->Status()["receivers"].size(), 1u);
}

TEST_F(AlertDeliveryTest, SilencesArePersistedAcrossRestarts) {
  std::string id;
  {
    absl::StatusOr<std::unique_ptr<AlertDelivery>> d =
        AlertDelivery::Start(Options(false), registry_);
    ASSERT_TRUE(d.ok()) << d.status();
    alerting::SilenceRequest r;
    r.matchers = {"host=\"web1\""};
    r.ends_at_ms = absl::ToUnixMillis(absl::Now() + absl::Hours(1));
    r.created_by = "alice";
    r.comment = "deploy";
    absl::StatusOr<alerting::Silence> s = (*d)->AddSilence(r);
    ASSERT_TRUE(s.ok()) << s.status();
    id = s->id;
    EXPECT_EQ((*d)->Status()["silences"]["active"], 1);
  }
  prometheus::Registry fresh;
  absl::StatusOr<std::unique_ptr<AlertDelivery>> d = AlertDelivery::Start(Options(false), fresh);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ((*d)->Silences().size(), 1u);
  EXPECT_EQ((*d)->Silences()[0].id, id);
  EXPECT_EQ((*d)->Silences()[0].created_by, "alice");
  EXPECT_TRUE((*d)->ExpireSilence(id).ok());
  EXPECT_EQ((*d)->ExpireSilence(id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*d)->ExpireSilence("nope").code(), absl::StatusCode::kNotFound);
}

TEST(DefaultExternalUrl, IsTheHttpListenAddressWithAHostNameForWildcards) {
  EXPECT_EQ(DefaultExternalUrl("127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(DefaultExternalUrl("[::1]:8080"), "http://[::1]:8080");
  std::string wildcard = DefaultExternalUrl("0.0.0.0:9090");
  EXPECT_THAT(wildcard, StartsWith("http://"));
  EXPECT_TRUE(absl::EndsWith(wildcard, ":9090")) << wildcard;
  EXPECT_THAT(wildcard, ::testing::Not(HasSubstr("0.0.0.0")));
}

}  // namespace
}  // namespace vigil::collector
