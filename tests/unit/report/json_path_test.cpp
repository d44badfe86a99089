// The one reader of values in result documents (tools/results/src/json_path.cpp): dotted paths, array
// indices, and "absent" for whatever is missing or of another type, never an exception.

#include "fallbench/results/json_path.hpp"

#include <gtest/gtest.h>

namespace fallbench::results {
namespace {

using json = nlohmann::json;

json const doc = json::parse(R"({
  "scenario": {"name": "smoke", "seed": 7},
  "machine": {"cores": 2, "cpu_model": "EPYC"},
  "runs": [
    {"target": "ours", "valid": true, "latency": {"fanout_corrected": {"count": 10, "p99_us": 1500.5}}},
    {"target": "peer", "valid": false, "by_strategy": {"polling": {"clients": 3}}}
  ],
  "empty": {},
  "nothing": null,
  "": {"odd": 1}
})");

TEST(JsonPathTest, FollowsDottedKeys) {
  EXPECT_EQ(number_at(doc, "machine.cores"), 2.0);
  EXPECT_EQ(string_at(doc, "machine.cpu_model"), "EPYC");
  EXPECT_EQ(string_at(doc, "scenario.name", "?"), "smoke");
  ASSERT_NE(find_at(doc, "scenario"), nullptr);
  EXPECT_TRUE(find_at(doc, "scenario")->is_object());
}

TEST(JsonPathTest, AnEmptyPathIsTheDocumentItself) {
  EXPECT_EQ(find_at(doc, ""), &doc);
  EXPECT_EQ(&value_at(doc, ""), &doc);
}

TEST(JsonPathTest, MissingStepsAreAbsent) {
  EXPECT_EQ(find_at(doc, "machine.memory"), nullptr);
  EXPECT_EQ(find_at(doc, "nope.deeper.still"), nullptr);
  EXPECT_EQ(find_at(doc, "empty.x"), nullptr);
  EXPECT_FALSE(number_at(doc, "machine.memory").has_value());
  EXPECT_EQ(number_at(doc, "machine.memory", -1), -1);
  EXPECT_FALSE(string_at(doc, "scenario.hash").has_value());
  EXPECT_EQ(string_at(doc, "scenario.hash", "none"), "none");
  EXPECT_TRUE(value_at(doc, "machine.memory").is_null());
}

TEST(JsonPathTest, DigitStepsIndexArrays) {
  EXPECT_EQ(string_at(doc, "runs.0.target"), "ours");
  EXPECT_EQ(string_at(doc, "runs.1.target"), "peer");
  EXPECT_EQ(number_at(doc, "runs.0.latency.fanout_corrected.p99_us"), 1500.5);
  EXPECT_EQ(number_at(doc, "runs.1.by_strategy.polling.clients"), 3.0);
  EXPECT_TRUE(value_at(doc, "runs").is_array());
}

TEST(JsonPathTest, BadArrayStepsAreAbsent) {
  EXPECT_EQ(find_at(doc, "runs.2"), nullptr);       // out of range
  EXPECT_EQ(find_at(doc, "runs.-1"), nullptr);      // not an index
  EXPECT_EQ(find_at(doc, "runs.first"), nullptr);   // a key into an array
  EXPECT_EQ(find_at(doc, "runs.0x1"), nullptr);     // digits then junk
  EXPECT_EQ(find_at(doc, "runs..target"), nullptr); // an empty step in an array
  EXPECT_EQ(find_at(doc, "runs.99999999999999999999999"), nullptr);  // overflows the index
}

TEST(JsonPathTest, StepsIntoScalarsAreAbsent) {
  EXPECT_EQ(find_at(doc, "machine.cores.x"), nullptr);
  EXPECT_EQ(find_at(doc, "scenario.name.0"), nullptr);
  EXPECT_EQ(find_at(doc, "nothing.x"), nullptr);
  EXPECT_EQ(find_at(doc, "runs.0.valid.x"), nullptr);
}

TEST(JsonPathTest, WrongTypesAreAbsentNotConverted) {
  EXPECT_FALSE(number_at(doc, "machine.cpu_model").has_value());  // a string is no number
  EXPECT_FALSE(number_at(doc, "runs.0.valid").has_value());       // nor is a boolean
  EXPECT_FALSE(number_at(doc, "nothing").has_value());            // nor null
  EXPECT_FALSE(number_at(doc, "scenario").has_value());           // nor an object
  EXPECT_EQ(number_at(doc, "runs", 5), 5);                         // nor an array
  EXPECT_FALSE(string_at(doc, "scenario.seed").has_value());      // a number is no string
  EXPECT_EQ(string_at(doc, "runs.0.valid", "x"), "x");
  ASSERT_NE(find_at(doc, "nothing"), nullptr);  // present, and null
  EXPECT_TRUE(find_at(doc, "nothing")->is_null());
}

TEST(JsonPathTest, AnEmptyKeyIsAStepLikeAnyOther) {
  EXPECT_EQ(number_at(doc, ".odd"), 1.0);
  EXPECT_EQ(find_at(doc, "machine..cores"), nullptr);
}

TEST(JsonPathTest, NonContainersAtTheRootAreSafe) {
  EXPECT_EQ(find_at(json(3), "a"), nullptr);
  EXPECT_EQ(find_at(json(), "a.b"), nullptr);
  EXPECT_EQ(number_at(json(3), ""), 3.0);
  EXPECT_EQ(string_at(json::array({"x"}), "0"), "x");
}

}  // namespace
}  // namespace fallbench::results
