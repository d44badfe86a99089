// Browser test: the HTML page of `fallbench report` (tools/report) in Debian's Chromium, driven by
// playwright-core, with JavaScript disabled (the page must read without scripts). What it checks:
// it opens without console errors or requests, every chart is a visible SVG with marks, and the test
// takes a screenshot.
//
// Inputs: a real result (the first committed smoke baseline under reports/baselines/, from
// `fallbench run`) and the synthetic tests/fixtures/report/two-targets.json (two targets, a ladder,
// side-by-side ratios, hostile strings), so every kind of chart is drawn.
//
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/browser/report_page.test.js   (what ctest runs)
//   node tests/browser/report_page.test.js build/ci/fallbench                       (the same, by hand)
//
// Screenshots: report-page.png (the whole page) and report-top.png into $FALLBENCH_SCREENSHOT_DIR (default:
// the working directory, the build directory under ctest); with FALLBENCH_UPDATE_DOCS=1 the top of the
// page also into docs/images/report.png, the README's picture.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHROMIUM = process.env.FALLBENCH_CHROMIUM ?? "/usr/bin/chromium";
const BIN = resolve(process.env.FALLBENCH_BIN ?? process.argv[2] ?? join(ROOT, "build/ci/fallbench"));
const STEP_MS = 20000;
const SUITE_DEADLINE_MS = 110000; // below the ctest TIMEOUT (120 s)
const DOCS_SCREENSHOT = join(ROOT, "docs/images/report.png");

const watchdog = setTimeout(() => {
  process.stderr.write(`browser: suite deadline of ${SUITE_DEADLINE_MS} ms exceeded, aborting\n`);
  process.exit(2);
}, SUITE_DEADLINE_MS);
watchdog.unref();

/** The first committed smoke baseline, if any: a real result. */
function realResult() {
  const base = join(ROOT, "reports/baselines");
  if (!existsSync(base)) return null;
  for (const machine of readdirSync(base).sort()) {
    const dir = join(base, machine, "smoke");
    if (!existsSync(dir)) continue;
    const runs = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
    if (runs.length > 0) return join(dir, runs[0]);
  }
  return null;
}

describe("the report page of fallbench report in Chromium", { timeout: SUITE_DEADLINE_MS }, () => {
  let work;
  let profileDir;
  let context;
  let page;
  const problems = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "fallbench-report-"));
    // Paths relative to the repository, as the page shows them.
    const inputs = [realResult(), join(ROOT, "tests/fixtures/report/two-targets.json")]
      .filter(Boolean)
      .map((p) => relative(ROOT, p));
    execFileSync(BIN, ["report", ...inputs, "-o", join(work, "out")], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    profileDir = mkdtempSync(join(tmpdir(), "fallbench-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      javaScriptEnabled: false,
      viewport: { width: 1100, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context.setDefaultTimeout(STEP_MS);
    page = await context.newPage();
    const url = pathToFileURL(join(work, "out", "report.html")).href;
    page.on("console", (m) => {
      if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      if (r.url() !== url) problems.push(`request: ${r.url()}`);
    });
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    await page.goto(url, { waitUntil: "load" });
  });

  after(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("opens without console errors or requests, and every chart is a visible SVG with marks", async () => {
    const charts = page.locator("svg.chart");
    const n = await charts.count();
    // The fixture alone draws 26 charts (two targets x two groups x six, the ratios and the ladder).
    assert.ok(n >= 26, `only ${n} charts`);
    for (let i = 0; i < n; ++i) {
      const chart = charts.nth(i);
      const title = await chart.locator("title").first().textContent();
      const box = await chart.boundingBox();
      assert.ok(box && box.width > 300 && box.height > 80, `${title}: not visible (${JSON.stringify(box)})`);
      const marks = await chart.locator(".mark").count();
      assert.ok(marks > 0, `${title}: no marks`);
      // Each chart says what it measured and where, inside the picture.
      const text = await chart.textContent();
      assert.match(text, /Measured: /, `${title}: no "Measured:" line`);
      assert.match(text, /commit [0-9a-f]{8}/, `${title}: no commit`);
    }
    // Hostile strings of the fixture arrive as text, not markup.
    assert.equal(await page.locator("script").count(), 0);
    assert.ok((await page.textContent("body")).includes("<script>alert('x')</script>"));
    assert.deepEqual(problems, []);
  });

  test("takes a screenshot", async () => {
    const dir = process.env.FALLBENCH_SCREENSHOT_DIR || process.cwd();
    mkdirSync(dir, { recursive: true });
    const full = join(dir, "report-page.png");
    await page.screenshot({ path: full, fullPage: true });
    const top = join(dir, "report-top.png");
    // The top of the page: the real result's summary table and its first charts.
    await page.screenshot({ path: top, fullPage: true, clip: { x: 0, y: 0, width: 1100, height: 1250 } });
    assert.ok(statSync(full).size > 10000 && statSync(top).size > 10000);
    process.stderr.write(`browser: screenshots of the report: ${full}, ${top}\n`);
    if (process.env.FALLBENCH_UPDATE_DOCS === "1") {
      mkdirSync(join(DOCS_SCREENSHOT, ".."), { recursive: true });
      copyFileSync(top, DOCS_SCREENSHOT);
      const size = statSync(DOCS_SCREENSHOT).size;
      assert.ok(size < 200 * 1024, `docs screenshot is ${size} bytes, over 200 KB`);
      process.stderr.write(`browser: docs screenshot updated: ${DOCS_SCREENSHOT} (${size} bytes)\n`);
    }
    assert.deepEqual(problems, []);
  });
});
