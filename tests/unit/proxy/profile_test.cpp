// Unit tests of the fault proxy's profile specs and schedules (tools/proxy/src/profile.cpp,
// schedule.cpp): no sockets.

#include "fallbench/proxy/profile.hpp"
#include "fallbench/proxy/schedule.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace fp = fallbench::proxy;
using std::chrono::milliseconds;

TEST(ProfileSpecTest, NamesRoundTrip) {
  for (auto kind : fp::all_profile_kinds()) {
    auto const name = fp::to_string(kind);
    ASSERT_EQ(fp::profile_kind_from_string(name), kind) << name;
  }
  EXPECT_EQ(fp::all_profile_kinds().size(), 14u);
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

TEST(ProfileSpecTest, ParsesTheFieldProfilesParameters) {
  auto const d = fp::parse_profile("request-deadline?deadline-ms=250&deadline-status=524");
  EXPECT_EQ(d.kind, fp::profile_kind::request_deadline);
  EXPECT_EQ(d.deadline, milliseconds{250});
  EXPECT_EQ(d.deadline_status, 524);
  EXPECT_THROW(fp::parse_profile("request-deadline?deadline-status=200"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("request-deadline?deadline-ms=0"), std::invalid_argument);

  auto const l = fp::parse_profile("max-lifetime?lifetime-ms=300&lifetime-of=upgraded");
  EXPECT_EQ(l.lifetime, milliseconds{300});
  EXPECT_TRUE(l.lifetime_upgraded_only);
  EXPECT_THROW(fp::parse_profile("max-lifetime?lifetime-of=some"), std::invalid_argument);

  auto const i = fp::parse_profile("idle-timeout?idle-counts=down&idle-pings=ignore");
  EXPECT_EQ(i.idle_counts, fp::idle_counting::down);
  EXPECT_FALSE(i.idle_pings_count);
  EXPECT_THROW(fp::parse_profile("idle-timeout?idle-counts=sideways"), std::invalid_argument);

  auto const st = fp::parse_profile("upgrade-then-stall?stall-mode=drop-down&stall-after-ms=5&stall-ms=0");
  EXPECT_EQ(st.stall, fp::stall_mode::drop_down);
  EXPECT_EQ(st.stall_after, milliseconds{5});
  EXPECT_EQ(st.stall_for, milliseconds{0});

  auto const r = fp::parse_profile("rewrite-headers?request-set=Connection: close ;X-A:b c&response-remove=Upgrade;Via");
  ASSERT_EQ(r.request_set.size(), 2u);
  EXPECT_EQ(r.request_set[0], (fp::header_field{"Connection", "close"}));
  EXPECT_EQ(r.request_set[1], (fp::header_field{"X-A", "b c"}));
  EXPECT_EQ(r.response_remove, (std::vector<std::string>{"Upgrade", "Via"}));
  EXPECT_EQ(fp::parameter_value(r, "request-set"), "Connection:close;X-A:b c");
  EXPECT_THROW(fp::parse_profile("rewrite-headers?request-set=Content-Length:0"), std::invalid_argument)
      << "the proxy frames bodies by it";
  EXPECT_THROW(fp::parse_profile("rewrite-headers?response-remove=Transfer-Encoding"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("rewrite-headers?request-set=NoColon"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("rewrite-headers?request-remove=bad name"), std::invalid_argument);
}

TEST(ProfilePresetTest, EveryPresetParsesToItsSpec) {
  EXPECT_EQ(fp::all_presets().size(), 11u);
  for (auto const& preset : fp::all_presets()) {
    auto const p = fp::parse_profile(preset.name);
    EXPECT_EQ(p.preset, preset.name);
    EXPECT_EQ(fp::describe(p), fp::describe(fp::parse_profile(preset.spec))) << preset.name;
    EXPECT_NE(p.kind, fp::profile_kind::pass) << preset.name;
    EXPECT_FALSE(preset.help.empty());
  }
  auto const envoy = fp::parse_profile("envoy-route-timeout");
  EXPECT_EQ(envoy.kind, fp::profile_kind::request_deadline);
  EXPECT_EQ(envoy.deadline, milliseconds{15'000});
  EXPECT_EQ(envoy.deadline_status, 504);
  auto const heroku = fp::parse_profile("heroku-router-timeout");
  EXPECT_EQ(heroku.deadline, milliseconds{30'000});
  EXPECT_EQ(heroku.deadline_status, 503);
  auto const cloudflare = fp::parse_profile("cloudflare-origin-timeout");
  EXPECT_EQ(cloudflare.deadline, milliseconds{100'000});
  EXPECT_EQ(cloudflare.deadline_status, 524);
  auto const gcp = fp::parse_profile("gcp-backend-timeout");
  EXPECT_EQ(gcp.kind, fp::profile_kind::max_lifetime);
  EXPECT_EQ(gcp.lifetime, milliseconds{30'000});
  auto const nginx = fp::parse_profile("nginx-read-timeout");
  EXPECT_EQ(nginx.idle, milliseconds{60'000});
  EXPECT_EQ(nginx.idle_counts, fp::idle_counting::down);
  EXPECT_EQ(fp::parse_profile("aws-alb-idle").idle, milliseconds{60'000});
  EXPECT_EQ(fp::parse_profile("heroku-idle").idle, milliseconds{55'000});
  EXPECT_EQ(fp::parse_profile("cloudflare-idle").idle, milliseconds{100'000});
  EXPECT_EQ(fp::parse_profile("antivirus-stall").stall, fp::stall_mode::hold);
  EXPECT_EQ(fp::parse_profile("antivirus-one-way").stall, fp::stall_mode::drop_up);
  auto const close = fp::parse_profile("force-close");
  ASSERT_EQ(close.response_set.size(), 1u);
  EXPECT_EQ(close.response_set[0], (fp::header_field{"Connection", "close"}));
}

TEST(ProfilePresetTest, ScaleMultipliesEveryTimeThenParametersApplyOnTop) {
  auto const envoy = fp::parse_profile("envoy-route-timeout?scale=0.1");
  EXPECT_EQ(envoy.deadline, milliseconds{1'500});
  EXPECT_EQ(envoy.deadline_status, 504) << "statuses are not times";
  EXPECT_EQ(fp::describe_effective(envoy),
            "envoy-route-timeout?scale=0.1 = request-deadline?deadline-ms=1500&deadline-status=504");
  auto const stall = fp::parse_profile("antivirus-stall?scale=0.01");
  EXPECT_EQ(stall.stall_for, milliseconds{250});
  EXPECT_EQ(fp::parse_profile("antivirus-one-way?scale=0.5").stall_for, milliseconds{0}) << "for ever stays for ever";
  EXPECT_EQ(fp::parse_profile("aws-alb-idle?scale=0.000001").idle, milliseconds{1}) << "a positive time stays positive";
  auto const mixed = fp::parse_profile("cloudflare-origin-timeout?scale=0.01&deadline-status=504");
  EXPECT_EQ(mixed.deadline, milliseconds{1'000});
  EXPECT_EQ(mixed.deadline_status, 504);
  EXPECT_THROW(fp::parse_profile("envoy-route-timeout?scale=0"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("envoy-route-timeout?scale=abc"), std::invalid_argument);
  EXPECT_THROW(fp::parse_profile("envoy-route-timeout?idle-ms=5"), std::invalid_argument) << "not its kind's";
  EXPECT_THROW(fp::parse_profile("latency?scale=0.5"), std::invalid_argument) << "scale is for presets";
  // A preset in a schedule, as a study writes it.
  auto const s = fp::parse_schedule("0s:pass,1s:envoy-route-timeout?scale=0.1,3s:pass");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[1].prof.deadline, milliseconds{1'500});
}

TEST(ProfilePresetTest, NeedsHttpSaysWhatTlsPassthroughCannotApply) {
  for (auto const* spec : {"pass", "latency", "bandwidth", "reset", "idle-timeout", "max-lifetime", "aws-alb-idle",
                           "nginx-read-timeout"})
    EXPECT_FALSE(fp::needs_http(fp::parse_profile(spec))) << spec;
  for (auto const* spec : {"strip-upgrade", "refuse-upgrade", "blackhole-upgrade", "kill-websocket-after",
                           "buffer-responses", "request-deadline", "upgrade-then-stall", "rewrite-headers",
                           "idle-timeout?idle-pings=ignore", "gcp-backend-timeout", "force-close"})
    EXPECT_TRUE(fp::needs_http(fp::parse_profile(spec))) << spec;
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
