#include "common/secret.h"

#include <cstdlib>

#include "absl/strings/match.h"
#include "common/testing/process.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

SecretRef Parse(const std::string& yaml, ConfigErrors& errors) {
  ConfigMap config(YAML::Load(yaml), &errors);
  SecretRef ref = ReadSecretRef(config, "password");
  config.Finish();
  return ref;
}

TEST(SecretRefTest, FileIsRelativeToTheConfigAndReadAtUse) {
  testing::TempDir dir;
  dir.Write("pw", "  s3cret\n");
  ConfigErrors errors(dir.Join("agent.yaml"));
  SecretRef ref = Parse("password_file: pw", errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(ref.file, dir.Join("pw"));
  EXPECT_EQ(ref.Read().value_or(""), "s3cret");
  dir.Write("pw", "rotated");
  EXPECT_EQ(ref.Read().value_or(""), "rotated");
}

TEST(SecretRefTest, EnvironmentVariable) {
  ConfigErrors errors("agent.yaml");
  setenv("VIGIL_TEST_SECRET", "from-env", 1);
  SecretRef ref = Parse("password_env: VIGIL_TEST_SECRET", errors);
  ASSERT_TRUE(errors.empty()) << errors.ToStatus();
  EXPECT_EQ(ref.Read().value_or(""), "from-env");
  unsetenv("VIGIL_TEST_SECRET");
  auto missing = ref.Read();
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "VIGIL_TEST_SECRET is not set"));
}

TEST(SecretRefTest, InlineSecretsAndBothSourcesAreErrorsThatDoNotEchoTheValue) {
  ConfigErrors errors("agent.yaml");
  Parse("password: hunter2", errors);
  ASSERT_EQ(errors.messages().size(), 1u);
  EXPECT_TRUE(absl::StrContains(errors.messages()[0], "agent.yaml:1:1")) << errors.messages()[0];
  EXPECT_TRUE(absl::StrContains(errors.messages()[0], "password_file")) << errors.messages()[0];
  EXPECT_FALSE(absl::StrContains(errors.messages()[0], "hunter2"));

  ConfigErrors both("agent.yaml");
  Parse("password_file: a\npassword_env: B", both);
  ASSERT_EQ(both.messages().size(), 1u);
  EXPECT_TRUE(absl::StrContains(both.messages()[0], "not both")) << both.messages()[0];
}

TEST(SecretRefTest, AbsentIsEmpty) {
  ConfigErrors errors("agent.yaml");
  SecretRef ref = Parse("{}", errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_TRUE(ref.empty());
}

}  // namespace
}  // namespace vigil
