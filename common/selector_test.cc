#include "common/selector.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;

SeriesKey Key(absl::string_view text) {
  absl::StatusOr<SeriesKey> key = ParseSeriesKey(text);
  EXPECT_TRUE(key.ok()) << key.status();
  return key.ok() ? *key : SeriesKey{};
}

SeriesSelector MustParse(absl::string_view text) {
  absl::StatusOr<SeriesSelector> selector = ParseSelector(text);
  EXPECT_TRUE(selector.ok()) << selector.status();
  return selector.ok() ? *selector : SeriesSelector{};
}

std::string ErrorOf(absl::string_view text) {
  absl::StatusOr<SeriesSelector> selector = ParseSelector(text);
  EXPECT_FALSE(selector.ok()) << "parsed: " << text;
  if (selector.ok()) return "";
  EXPECT_EQ(selector.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(selector.status().message());
}

TEST(ParseSelector, BareMetricHasNoMatchers) {
  SeriesSelector s = MustParse("cpu.usage_percent");
  EXPECT_EQ(s.metric, "cpu.usage_percent");
  EXPECT_TRUE(s.matchers.empty());
}

TEST(ParseSelector, ParsesEveryOperator) {
  SeriesSelector s = MustParse(R"(cpu{a="x",b!="y",c=~"re.*",d!~"z|w"})");
  EXPECT_EQ(s.metric, "cpu");
  ASSERT_EQ(s.matchers.size(), 4u);
  EXPECT_EQ(s.matchers[0].name, "a");
  EXPECT_EQ(s.matchers[0].op, LabelMatcher::Op::kEqual);
  EXPECT_EQ(s.matchers[0].value, "x");
  EXPECT_EQ(s.matchers[1].op, LabelMatcher::Op::kNotEqual);
  EXPECT_EQ(s.matchers[1].value, "y");
  EXPECT_EQ(s.matchers[2].op, LabelMatcher::Op::kRegex);
  EXPECT_EQ(s.matchers[2].value, "re.*");
  EXPECT_NE(s.matchers[2].regex, nullptr);
  EXPECT_EQ(s.matchers[3].op, LabelMatcher::Op::kNotRegex);
  EXPECT_EQ(s.matchers[3].name, "d");
  EXPECT_NE(s.matchers[3].regex, nullptr);
}

TEST(ParseSelector, MetricMayBeOmitted) {
  SeriesSelector s = MustParse(R"({host="db1"})");
  EXPECT_EQ(s.metric, "");
  ASSERT_EQ(s.matchers.size(), 1u);
  EXPECT_TRUE(s.Matches(Key(R"(cpu{host="db1"})")));
  EXPECT_TRUE(s.Matches(Key(R"(mem.used_bytes{host="db1"})")));
  EXPECT_FALSE(s.Matches(Key(R"(cpu{host="db2"})")));
}

TEST(ParseSelector, AllowsSpacesAndTrailingComma) {
  SeriesSelector s = MustParse(R"(  cpu { a = "x" , b != "y", }  )");
  EXPECT_EQ(s.metric, "cpu");
  ASSERT_EQ(s.matchers.size(), 2u);
  EXPECT_EQ(s.matchers[1].value, "y");
}

TEST(ParseSelector, UnescapesValues) {
  SeriesSelector s = MustParse(R"(m{a="q\"b\\s\nt\t"})");
  ASSERT_EQ(s.matchers.size(), 1u);
  EXPECT_EQ(s.matchers[0].value, "q\"b\\s\nt\t");
}

TEST(ParseSelector, EmptyBracesMatchEverySeries) {
  SeriesSelector s = MustParse("{}");
  EXPECT_TRUE(s.Matches(Key("anything")));
}

TEST(ParseSelector, RejectsEmptyText) {
  EXPECT_EQ(ErrorOf("   "), "empty selector at offset 3 in selector '   '");
}

TEST(ParseSelector, RejectsBadMetricName) {
  EXPECT_EQ(ErrorOf(R"(Cpu{a="1"})"),
            R"(invalid metric name 'Cpu' at offset 0 in selector 'Cpu{a="1"}')");
}

TEST(ParseSelector, RejectsBadLabelName) {
  EXPECT_EQ(ErrorOf(R"(cpu{Host="a"})"),
            R"(invalid label name 'Host' at offset 4 in selector 'cpu{Host="a"}')");
  EXPECT_EQ(ErrorOf(R"(cpu{9x="a"})"),
            R"(invalid label name '9x' at offset 4 in selector 'cpu{9x="a"}')");
}

TEST(ParseSelector, RejectsMissingLabelName) {
  EXPECT_EQ(ErrorOf(R"(cpu{="a"})"),
            R"(expected a label name but found '=' at offset 4 in selector 'cpu{="a"}')");
}

TEST(ParseSelector, RejectsMissingOperator) {
  EXPECT_EQ(
      ErrorOf(R"(cpu{host "a"})"),
      R"(expected one of =, !=, =~, !~ after label 'host' at offset 9 in selector 'cpu{host "a"}')");
  EXPECT_THAT(ErrorOf(R"(cpu{host~"a"})"), HasSubstr("expected one of =, !=, =~, !~"));
}

TEST(ParseSelector, RejectsUnquotedValue) {
  EXPECT_EQ(
      ErrorOf(R"(cpu{host=db1})"),
      R"(expected '"' to start the value of label 'host' at offset 9 in selector 'cpu{host=db1}')");
}

TEST(ParseSelector, RejectsUnterminatedValue) {
  EXPECT_EQ(ErrorOf(R"(cpu{host="db1)"),
            R"(unterminated value of label 'host' at offset 9 in selector 'cpu{host="db1')");
  EXPECT_THAT(ErrorOf(R"(cpu{host="db1\)"), HasSubstr("unterminated value of label 'host'"));
}

TEST(ParseSelector, RejectsUnknownEscape) {
  EXPECT_EQ(
      ErrorOf(R"(cpu{host="a\qb"})"),
      R"(unknown escape '\q' in the value of label 'host' at offset 11 in selector 'cpu{host="a\qb"}')");
}

TEST(ParseSelector, RejectsMissingClosingBrace) {
  EXPECT_EQ(ErrorOf(R"(cpu{host="a")"), R"(missing '}' at offset 12 in selector 'cpu{host="a"')");
  EXPECT_EQ(ErrorOf("cpu{"), "missing '}' at offset 4 in selector 'cpu{'");
}

TEST(ParseSelector, RejectsMissingComma) {
  EXPECT_EQ(ErrorOf(R"(cpu{a="1" b="2"})"),
            R"(expected ',' or '}' but found 'b' at offset 10 in selector 'cpu{a="1" b="2"}')");
}

TEST(ParseSelector, RejectsTrailingCharacters) {
  EXPECT_EQ(ErrorOf(R"(cpu{a="1"} x)"),
            R"(unexpected 'x' after the selector at offset 11 in selector 'cpu{a="1"} x')");
  EXPECT_THAT(ErrorOf("cpu mem"), HasSubstr("unexpected 'm' after the selector at offset 4"));
}

TEST(ParseSelector, RejectsBadRegexWithLabelAndOffset) {
  std::string error = ErrorOf(R"(cpu{host=~"db(1"})");
  EXPECT_THAT(error, HasSubstr("bad regex for label 'host': "));
  EXPECT_THAT(error, HasSubstr("at offset 10 in selector"));
}

TEST(SeriesSelector, RegexIsFullyAnchored) {
  SeriesSelector s = MustParse(R"(cpu{host=~"db"})");
  EXPECT_TRUE(s.Matches(Key(R"(cpu{host="db"})")));
  EXPECT_FALSE(s.Matches(Key(R"(cpu{host="db1"})")));
  EXPECT_FALSE(s.Matches(Key(R"(cpu{host="xdb"})")));
}

TEST(SeriesSelector, AlternationIsAnchoredAsAWhole) {
  // Without the group, ^a|b$ would match "ax" through its first branch.
  SeriesSelector s = MustParse(R"(cpu{host=~"a|b"})");
  EXPECT_TRUE(s.Matches(Key(R"(cpu{host="a"})")));
  EXPECT_TRUE(s.Matches(Key(R"(cpu{host="b"})")));
  EXPECT_FALSE(s.Matches(Key(R"(cpu{host="ax"})")));
  EXPECT_FALSE(s.Matches(Key(R"(cpu{host="xb"})")));
}

TEST(SeriesSelector, NegatedRegexExcludesMatches) {
  SeriesSelector s = MustParse(R"(cpu{host!~"db.*"})");
  EXPECT_FALSE(s.Matches(Key(R"(cpu{host="db1"})")));
  EXPECT_TRUE(s.Matches(Key(R"(cpu{host="web1"})")));
}

TEST(SeriesSelector, AbsentLabelMatchesAsEmpty) {
  SeriesKey no_env = Key(R"(cpu{host="a"})");
  EXPECT_TRUE(MustParse(R"(cpu{env=""})").Matches(no_env));
  EXPECT_FALSE(MustParse(R"(cpu{env!=""})").Matches(no_env));
  EXPECT_TRUE(MustParse(R"(cpu{env!="prod"})").Matches(no_env));
  EXPECT_FALSE(MustParse(R"(cpu{env="prod"})").Matches(no_env));
  EXPECT_TRUE(MustParse(R"(cpu{env=~"prod|"})").Matches(no_env));
  EXPECT_FALSE(MustParse(R"(cpu{env=~".+"})").Matches(no_env));
}

TEST(SeriesSelector, MetricMustMatchExactly) {
  SeriesSelector s = MustParse("cpu");
  EXPECT_TRUE(s.Matches(Key(R"(cpu{host="a"})")));
  EXPECT_FALSE(s.Matches(Key("cpu.idle")));
}

TEST(SeriesSelector, EveryMatcherMustHold) {
  SeriesSelector s = MustParse(R"(cpu{host="a",env!="dev"})");
  EXPECT_TRUE(s.Matches(Key(R"(cpu{env="prod",host="a"})")));
  EXPECT_FALSE(s.Matches(Key(R"(cpu{env="dev",host="a"})")));
  EXPECT_FALSE(s.Matches(Key(R"(cpu{env="prod",host="b"})")));
}

TEST(SeriesSelector, NameLabelRefersToMetric) {
  SeriesSelector s = MustParse(R"({__name__=~"cpu\\..*"})");
  EXPECT_TRUE(s.Matches(Key("cpu.idle")));
  EXPECT_FALSE(s.Matches(Key("mem.free")));
}

TEST(MakeLabelMatcher, ReportsBadRegex) {
  absl::StatusOr<LabelMatcher> m = MakeLabelMatcher("host", LabelMatcher::Op::kRegex, "[a");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("bad regex for label 'host': "));
}

}  // namespace
}  // namespace vigil
