#include "agent/checks/kafka/kafka_client.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::agent::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::map<std::string, std::string> AsMap(const std::vector<ClientProperty>& properties) {
  std::map<std::string, std::string> out;
  for (const ClientProperty& p : properties) out[p.name] = p.value;
  return out;
}

TEST(ClientProperties, PlaintextReadsWithoutAGroupAndWithTheTimeout) {
  ClientSettings s;
  s.bootstrap_servers = {"k1:9092", "k2:9092"};
  s.timeout = absl::Milliseconds(2500);
  std::map<std::string, std::string> p = AsMap(ClientProperties(s, "unused"));
  EXPECT_EQ(p["bootstrap.servers"], "k1:9092,k2:9092");
  EXPECT_EQ(p["security.protocol"], "plaintext");
  EXPECT_EQ(p.count("group.id"), 0u);  // never joins a group, never commits for one
  EXPECT_EQ(p["enable.auto.commit"], "false");
  EXPECT_EQ(p["isolation.level"], "read_uncommitted");
  EXPECT_EQ(p["socket.timeout.ms"], "2500");
  EXPECT_EQ(p["socket.connection.setup.timeout.ms"], "2500");
  EXPECT_EQ(p.count("sasl.username"), 0u);
  EXPECT_EQ(p.count("sasl.password"), 0u);
  EXPECT_EQ(p.count("ssl.ca.location"), 0u);
}

TEST(ClientProperties, SetupTimeoutIsAtLeastLibrdkafkasMinimum) {
  ClientSettings s;
  s.bootstrap_servers = {"k1:9092"};
  s.timeout = absl::Milliseconds(300);
  std::map<std::string, std::string> p = AsMap(ClientProperties(s, ""));
  EXPECT_EQ(p["socket.timeout.ms"], "300");
  EXPECT_EQ(p["socket.connection.setup.timeout.ms"], "1000");
  std::string key;
  EXPECT_TRUE(ValidateClientProperties(ClientProperties(s, ""), &key).ok());
}

TEST(ClientProperties, SaslSslCarriesMechanismCredentialsAndCa) {
  ClientSettings s;
  s.bootstrap_servers = {"k1:9093"};
  s.security_protocol = "sasl_ssl";
  s.sasl_mechanism = "SCRAM-SHA-512";
  s.username = "monitor";
  s.ssl_ca_location = "/etc/ssl/kafka-ca.pem";
  std::map<std::string, std::string> p = AsMap(ClientProperties(s, "s3cret"));
  EXPECT_EQ(p["security.protocol"], "sasl_ssl");
  EXPECT_EQ(p["sasl.mechanisms"], "SCRAM-SHA-512");
  EXPECT_EQ(p["sasl.username"], "monitor");
  EXPECT_EQ(p["sasl.password"], "s3cret");
  EXPECT_EQ(p["ssl.ca.location"], "/etc/ssl/kafka-ca.pem");
  std::string key;
  absl::Status valid = ValidateClientProperties(ClientProperties(s, "s3cret"), &key);
  EXPECT_TRUE(valid.ok()) << valid;
}

TEST(ValidateClientProperties, RejectedValueNamesTheConfigKey) {
  ClientSettings s;
  s.bootstrap_servers = {"k1:9093"};
  s.security_protocol = "tls";  // the check's Init rejects it first; librdkafka does too
  std::string key;
  absl::Status valid = ValidateClientProperties(ClientProperties(s, "s3cret"), &key);
  ASSERT_FALSE(valid.ok());
  EXPECT_EQ(key, "security_protocol");
  EXPECT_THAT(std::string(valid.message()), HasSubstr("tls"));
  EXPECT_THAT(valid.message(), Not(HasSubstr("s3cret")));
}

TEST(Redact, ReplacesEveryOccurrenceOfTheSecret) {
  EXPECT_EQ(Redact("user=a password=pw and pw again", "pw"), "user=a password=*** and *** again");
  EXPECT_EQ(Redact("nothing to hide", "pw"), "nothing to hide");
  EXPECT_EQ(Redact("empty secret changes nothing", ""), "empty secret changes nothing");
}

}  // namespace
}  // namespace vigil::agent::kafka
