// `fallbench compare` and `fallbench report` as CI calls them: the real executable on the fixture
// results of tests/fixtures/, checked by exit status (0 pass, 1 regression, 2 usage, 3 invalid run,
// 4 incomparable) and by the files written.

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

std::string const fixtures = FALLBENCH_FIXTURES_DIR;

/// Quotes a word for sh.
std::string q(std::string const& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct ran {
  int status = -1;
  std::string out;  ///< stdout and stderr
};

/// Runs `fallbench ARGS`, capturing its output and exit status.
ran fallbench(std::string const& args) {
  ran r;
  std::string const cmd = q(FALLBENCH_BIN) + " " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  int const raw = ::pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

std::string f(std::string const& name) { return q(fixtures + "/compare/" + name); }

/// A fresh directory for one test, removed after it.
class scratch {
 public:
  scratch() : path_(fs::temp_directory_path() / ("fallbench-cli-" + std::to_string(::getpid()) + "-" + std::to_string(next_++))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~scratch() { fs::remove_all(path_); }
  fs::path const& path() const { return path_; }

 private:
  static inline int next_ = 0;
  fs::path path_;
};

std::string slurp(fs::path const& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CompareCliTest, ExitsZeroWhenNothingChanged) {
  auto const r = fallbench("compare " + f("baseline") + " " + f("same"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("### fallbench compare: pass (exit 0)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| metric | baseline | candidate | change | p-value | verdict |"), std::string::npos) << r.out;
}

TEST(CompareCliTest, ExitsOneOnARegressionAndWritesTheMarkdown) {
  scratch dir;
  auto const md = dir.path() / "compare.md";
  auto const r = fallbench("compare " + f("baseline") + " " + f("regressed") + " --markdown " + q(md.string()));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("**REGRESSION**"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(md), r.out) << "the file holds what stdout printed";
  // With a larger minimum effect for p99 it passes, through a per-metric override.
  auto const lenient = fallbench("compare " + f("baseline") + " " + f("regressed") + " --min-effect '*p99_ms=0.6'");
  EXPECT_EQ(lenient.status, 0) << lenient.out;
}

TEST(CompareCliTest, WritesJUnitCsvAndASummaryForPipelines) {
  scratch dir;
  auto const junit = dir.path() / "compare.xml";
  auto const csv = dir.path() / "compare.csv";
  auto const summary = dir.path() / "compare.json";
  auto const r = fallbench("compare " + f("baseline") + " " + f("regressed") + " --junit " + q(junit.string()) + " --csv " +
                           q(csv.string()) + " --summary-json " + q(summary.string()));
  EXPECT_EQ(r.status, 1) << r.out;
  auto const xml = slurp(junit);
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"fallbench\"", 0), 0u) << xml;
  // One test case per metric; the regressed p99 fails its case, with the figures in the message.
  EXPECT_NE(xml.find("<testsuite name=\"fallbench compare (regression)\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"fanout_p99_ms\">\n      <failure message=\"regression: "), std::string::npos) << xml;
  EXPECT_EQ(xml.find("failures=\"0\""), std::string::npos) << xml;
  ASSERT_EQ(std::system("command -v xmllint >/dev/null"), 0) << "xmllint missing: apt-get install libxml2-utils";
  EXPECT_EQ(std::system(("xmllint --noout --schema " + q(FALLBENCH_JUNIT_XSD) + " " + q(junit.string())).c_str()), 0);
  auto const table = slurp(csv);
  EXPECT_EQ(table.rfind("metric,label,unit,class,baseline,candidate,change,p_value,bound,verdict\r\n", 0), 0u) << table;
  EXPECT_NE(table.find("REGRESSION"), std::string::npos) << table;
  auto const json = slurp(summary);
  EXPECT_NE(json.find("\"status\": \"regression\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"exit_status\": 1"), std::string::npos) << json;
  // A comparison that could not be made is a failing case too, never an empty green suite.
  auto const other = fallbench("compare " + f("baseline") + " " + f("other-scenario.json") + " --junit " + q(junit.string()));
  EXPECT_EQ(other.status, 4) << other.out;
  EXPECT_NE(slurp(junit).find("name=\"comparable and valid\">\n      <failure message="), std::string::npos) << slurp(junit);
}

TEST(CompareCliTest, ExitsOneOnAChangeInBytesPerDelivery) {
  auto const r = fallbench("compare --baseline " + f("baseline") + " --candidate " + f("bytes") + " --metric '*bytes_per_delivery'");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("polling/bytes_per_delivery"), std::string::npos) << r.out;
}

TEST(CompareCliTest, ExitsThreeOnAnInvalidRun) {
  EXPECT_EQ(fallbench("compare " + f("baseline") + " " + f("invalid.json")).status, 3);
  auto const lost = fallbench("compare " + f("baseline") + " " + f("lost.json"));
  EXPECT_EQ(lost.status, 3) << lost.out;
  EXPECT_NE(lost.out.find("invalid run (exit 3)"), std::string::npos) << lost.out;
}

TEST(CompareCliTest, ExitsFourOnIncomparableResults) {
  auto const scenario = fallbench("compare " + f("baseline") + " " + f("other-scenario.json"));
  EXPECT_EQ(scenario.status, 4) << scenario.out;
  EXPECT_NE(scenario.out.find("scenario (hash of its canonical JSON) differs"), std::string::npos) << scenario.out;
  auto const debug = fallbench("compare " + f("baseline") + " " + f("debug-build.json"));
  EXPECT_EQ(debug.status, 4) << debug.out;
  EXPECT_NE(debug.out.find("build type 'Debug'"), std::string::npos) << debug.out;
  EXPECT_EQ(fallbench("compare " + f("baseline") + " " + f("other-cores.json")).status, 4);
  // Incomparable wins over invalid: an invalid run of another scenario is first of all another scenario.
  EXPECT_EQ(fallbench("compare --baseline " + f("baseline") + " --candidate " + f("invalid.json") + " --candidate " +
                      f("other-scenario.json"))
                .status,
            4);
}

TEST(CompareCliTest, ExitsTwoOnUsageErrors) {
  EXPECT_EQ(fallbench("compare " + f("baseline")).status, 2);
  EXPECT_EQ(fallbench("compare " + f("baseline") + " " + f("same") + " --alpha 2").status, 2);
  EXPECT_EQ(fallbench("compare " + f("baseline") + " " + f("same") + " --min-effect lots").status, 2);
  EXPECT_EQ(fallbench("compare " + f("baseline") + " " + f("same") + " --correction bonferroni").status, 2);
  auto const missing = fallbench("compare " + f("baseline") + " " + f("no-such-dir"));
  EXPECT_EQ(missing.status, 2) << missing.out;
  EXPECT_NE(missing.out.find("cannot read"), std::string::npos) << missing.out;
  // Not JSON at all is not a result document: exit 3, like any document that breaks the schema.
  EXPECT_EQ(fallbench("compare " + f("baseline") + " " + q(fixtures + "/make-fixtures.js")).status, 3);
}

/// The fixture run-01 of the baseline with `edit` applied to its text, written to `dir`/name.
std::string edited(scratch const& dir, std::string const& name, std::string const& from, std::string const& to) {
  auto text = slurp(fs::path(fixtures) / "compare/baseline/run-01.json");
  auto const at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  auto const path = dir.path() / name;
  std::ofstream(path) << text;
  return q(path.string());
}

// An output that cannot be written is refused before anything is read or compared (exit 2), naming the
// flag and the reason; what a refused command tried to create is gone, an existing file untouched.
TEST(CompareCliTest, ExitsTwoAtOnceOnAnOutputThatCannotBeWritten) {
  scratch dir;
  auto const blocker = dir.path() / "blocker";
  std::ofstream(blocker) << "a file";
  auto const compare = [&](std::string const& flags) { return fallbench("compare " + f("baseline") + " " + f("same") + " " + flags); };

  auto r = compare("--junit " + q((blocker / "j.xml").string()));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--junit " + (blocker / "j.xml").string() + ": " + blocker.string() + " is not a directory"),
            std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("| metric |"), std::string::npos) << "nothing compared: " << r.out;

  r = compare("--markdown " + q((dir.path() / "new.md").string()) + " --csv " + q(dir.path().string()));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--csv " + dir.path().string() + ": is a directory, not a file"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() / "new.md")) << "the check of --markdown leaves no file behind";

  r = compare("--summary-json " + q((dir.path() / "s.json").string()) + " --markdown " + q((dir.path() / "." / "s.json").string()));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("the same file as --markdown"), std::string::npos) << r.out;

  EXPECT_EQ(slurp(blocker), "a file");
  EXPECT_EQ(compare("--markdown " + q(blocker.string()) + " --junit " + q((blocker / "x").string())).status, 2);
  EXPECT_EQ(slurp(blocker), "a file") << "an existing file is not touched by a refused command";
}

// Missing directories of an output are made, as `fallbench run` makes them.
TEST(CompareCliTest, MakesTheDirectoriesOfItsOutputs) {
  scratch dir;
  auto const junit = dir.path() / "ci" / "reports" / "compare.xml";
  auto const r = fallbench("compare " + f("baseline") + " " + f("same") + " --junit " + q(junit.string()));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(slurp(junit).find("<testsuites"), std::string::npos);
}

// A read-only directory (what a non-root CI user meets); root writes anywhere, so there it says so and skips.
TEST(CompareCliTest, ExitsTwoOnAReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may write into a read-only directory";
  scratch dir;
  auto const locked = dir.path() / "locked";
  fs::create_directories(locked);
  fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  auto const r = fallbench("compare " + f("baseline") + " " + f("same") + " --csv " + q((locked / "c.csv").string()));
  fs::permissions(locked, fs::perms::owner_all);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--csv " + (locked / "c.csv").string() + ": cannot be opened for writing (Permission denied)"),
            std::string::npos) << r.out;
}

TEST(CompareCliTest, ExitsThreeOnADocumentThatBreaksTheSchemaNamingWhereAndWhy) {
  scratch dir;
  // A required part of the run gone (renamed away, so nothing else moves).
  auto const no_latency = edited(dir, "no-latency.json", "\"by_strategy\"", "\"by_strategy_gone\"");
  auto const r1 = fallbench("compare " + f("baseline") + " " + no_latency);
  EXPECT_EQ(r1.status, 3) << r1.out;
  EXPECT_NE(r1.out.find("no-latency.json: not a valid result document"), std::string::npos) << r1.out;
  EXPECT_NE(r1.out.find("runs[0]: Missing required property 'by_strategy'"), std::string::npos) << r1.out;

  auto const lots = edited(dir, "lots.json", "\"bytes_per_delivery\":548.9", "\"bytes_per_delivery\":\"lots\"");
  auto const r2 = fallbench("compare " + f("baseline") + " " + lots);
  EXPECT_EQ(r2.status, 3) << r2.out;
  EXPECT_NE(r2.out.find("runs[0].by_strategy.polling.wire.bytes_per_delivery: Value type not permitted"),
            std::string::npos)
      << r2.out;

  auto const r3 = fallbench("report " + lots + " -o " + q((dir.path() / "out").string()));
  EXPECT_EQ(r3.status, 3) << r3.out;
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "report.html"));
}

TEST(CompareCliTest, PrintsTheMachineClass) {
  auto const r = fallbench("compare --machine-class " + f("baseline/run-01.json"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "2core-synthetic-cpu\n");
}

TEST(ReportCliTest, WritesTheHtmlPageAndTheMarkdownSummary) {
  scratch dir;
  auto const r = fallbench("report " + q(fixtures + "/report/two-targets.json") + " " + f("baseline/run-01.json") +
                           " -o " + q(dir.path().string()));
  ASSERT_EQ(r.status, 0) << r.out;
  auto const html = slurp(dir.path() / "report.html");
  auto const md = slurp(dir.path() / "summary.md");
  EXPECT_TRUE(html.starts_with("<!doctype html>")) << html.substr(0, 100);
  EXPECT_NE(html.find("id=\"result-2\""), std::string::npos) << "one section per result";
  EXPECT_NE(md.find("## fallbench report: two \\| targets, fixture"), std::string::npos) << md.substr(0, 200);
  EXPECT_NE(r.out.find("report.html"), std::string::npos) << r.out;
}

TEST(ReportCliTest, ExitsTwoOnUsageErrorsAndThreeOnANonResult) {
  scratch dir;
  EXPECT_EQ(fallbench("report " + f("baseline/run-01.json")).status, 2) << "no -o";
  EXPECT_EQ(fallbench("report -o " + q(dir.path().string())).status, 2) << "no result";
  auto const r = fallbench("report " + q(fixtures + "/make-fixtures.js") + " -o " + q(dir.path().string()));
  EXPECT_EQ(r.status, 3) << r.out;  // not a result document (not JSON at all)
  EXPECT_NE(r.out.find("make-fixtures.js: not JSON"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir.path() / "report.html"));
}

// `fallbench report -o` naming a file, not a directory: exit 2 before anything is read or rendered.
TEST(ReportCliTest, ExitsTwoOnAnOutputDirectoryThatIsAFile) {
  scratch dir;
  auto const blocker = dir.path() / "blocker";
  std::ofstream(blocker) << "a file";
  auto const r = fallbench("report " + f("baseline/run-01.json") + " -o " + q(blocker.string()));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--output " + blocker.string() + ": " + blocker.string() + " is not a directory"), std::string::npos)
      << r.out;
  EXPECT_EQ(slurp(blocker), "a file");
}

}  // namespace

namespace {

TEST(FrontDoorTest, VersionNamesTheCommitAndTheBuild) {
  auto const r = fallbench("--version");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.rfind("fallbench ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("\ncommit "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nbuild "), std::string::npos) << r.out;
  auto const unknown = fallbench("--verzion");
  EXPECT_EQ(unknown.status, 2) << unknown.out;
  EXPECT_NE(unknown.out.find("unknown command '--verzion'"), std::string::npos) << unknown.out;
}

}  // namespace
