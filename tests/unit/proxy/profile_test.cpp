// Unit tests of the fault proxy's profile specs and schedules (tools/proxy/src/profile.cpp,
// schedule.cpp): no sockets.

#include "fallbench/proxy/profile.hpp"
#include "fallbench/proxy/schedule.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace {

namespace fp = fallbench::proxy;
using std::chrono::milliseconds;

TEST(ProfileSpecTest, NamesRoundTrip) {
  for (auto kind : fp::all_profile_kinds()) {
    auto const name = fp::to_string(kind);
    ASSERT_EQ(fp::profile_kind_from_string(name), kind) << name;
  }
  EXPECT_EQ(fp::all_profile_kinds().size(), 10u);
  EXPECT_EQ(fp::to_string(fp::profile_kind::kill_websocket_after), "kill-websocket-after");
  EXPECT_FALSE(fp::profile_kind_from_string("Pass"));
}

TEST(ProfileSpecTest, ParsesParametersOnTopOfTheBase) {
  fp::profile base;
  base.jitter = milliseconds{7};
  auto const p = fp::parse_profile("latency?up-ms=20&down-ms=30", base);
  EXPECT_EQ(p.kind, fp::profile_kind::latency);
  EXPECT_EQ(p.up_delay, milliseconds{20});
  EXPECT_EQ(p.down_delay, milliseconds{30});
  EXPECT_EQ(p.jitter, milliseconds{7}) << "a parameter not in the spec keeps the base's value";

  auto const r = fp::parse_profile("reset?reset-probability=0.25&seed=99");
  EXPECT_DOUBLE_EQ(r.reset_probability, 0.25);
  EXPECT_EQ(r.seed, 99u);
  EXPECT_EQ(fp::parse_profile("refuse-upgrade?refuse-status=400").refuse_status, 400);
  EXPECT_EQ(fp::parse_profile("pass").kind, fp::profile_kind::pass);
}

TEST(ProfileSpecTest, RejectsUnknownNamesForeignKeysAndBadValues) {
  EXPECT_THROW(fp::parse_profile("nope"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("latency?refuse-status=400"), std::invalid_argument) << "not a latency parameter";
  EXPECT_THROW(fp::parse_profile("latency?up-ms"), std::invalid_argument) << "no value";
  EXPECT_THROW(fp::parse_profile("latency?up-ms=-1"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("latency?up-ms=1x"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("refuse-upgrade?refuse-status=200"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("reset?reset-probability=1.5"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("idle-timeout?idle-ms=0"), std::invalid_argument);
  try {
    fp::parse_profile("latency?status=1");
    FAIL() << "no exception";
  } catch (std::invalid_argument const& e) {
    EXPECT_NE(std::string(e.what()).find("up-ms"), std::string::npos) << "the message lists the parameters: " << e.what();
  }
}

TEST(ProfileSpecTest, DescribeGivesASpecThatParsesBack) {
  for (auto kind : fp::all_profile_kinds()) {
    fp::profile p;
    p.kind = kind;
    p.up_delay = milliseconds{11};
    p.reset_probability = 0.125;
    p.burst_bytes = 999;
    auto const spec = fp::describe(p);
    auto const back = fp::parse_profile(spec);
    EXPECT_EQ(fp::describe(back), spec);
    EXPECT_EQ(back.kind, kind);
  }
  fp::profile p;
  p.kind = fp::profile_kind::refuse_upgrade;
  EXPECT_EQ(fp::describe(p), "refuse-upgrade?refuse-status=403");
  p.kind = fp::profile_kind::pass;
  EXPECT_EQ(fp::describe(p), "pass");
}

TEST(ScheduleTest, ParsesOffsetsAndProfiles) {
  auto const s = fp::parse_schedule("0s:pass,5s:refuse-upgrade, 15s:pass");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].at, milliseconds{0});
  EXPECT_EQ(s[1].at, milliseconds{5000});
  EXPECT_EQ(s[1].prof.kind, fp::profile_kind::refuse_upgrade);
  EXPECT_EQ(s[2].at, milliseconds{15000});

  EXPECT_EQ(fp::parse_offset("250ms"), milliseconds{250});
  EXPECT_EQ(fp::parse_offset("1.5s"), milliseconds{1500});
  EXPECT_EQ(fp::parse_offset("0.25s"), milliseconds{250});
  EXPECT_EQ(fp::parse_offset("2m"), milliseconds{120000});
}

TEST(ScheduleTest, ReadsAFileWithCommentsAndParameters) {
  fp::profile base;
  base.seed = 5;
  auto const s = fp::parse_schedule(
      "# warm up clean, then a slow link, then resets\n"
      "0s: pass\n"
      "\n"
      "10s: latency?up-ms=100&down-ms=100   # a, b: commas in comments are fine\n"
      "20s: reset?reset-probability=1\n",
      base);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[1].prof.kind, fp::profile_kind::latency);
  EXPECT_EQ(s[1].prof.up_delay, milliseconds{100});
  EXPECT_EQ(s[2].prof.seed, 5u) << "entries start from the base";
  EXPECT_DOUBLE_EQ(s[2].prof.reset_probability, 1.0);
}

TEST(ScheduleTest, RejectsBadEntries) {
  EXPECT_THROW(fp::parse_schedule(""), std::invalid_argument);
  EXPECT_THROW(fp::parse_schedule("# only a comment"), std::invalid_argument);
  EXPECT_THROW(fp::parse_schedule("5s pass"), std::invalid_argument);
  EXPECT_THROW(fp::parse_schedule("5:pass"), std::invalid_argument) << "no unit";
  EXPECT_THROW(fp::parse_schedule("5s:pass,1s:pass"), std::invalid_argument) << "offsets go down";
  EXPECT_THROW(fp::parse_schedule("0s:nope"), std::invalid_argument);
  EXPECT_THROW(fp::parse_offset("1.2345s"), std::invalid_argument);
  EXPECT_THROW(fp::parse_offset("-1s"), std::invalid_argument);
}

}  // namespace
