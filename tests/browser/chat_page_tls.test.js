// Browser test over TLS (docs/tls.md): the chat page of `fallbench serve --tls-cert --tls-key` in
// Debian's Chromium (playwright-core), served over https with the throwaway certificate of
// tests/support/make-test-pki, which Chromium is told to accept (ignoreHTTPSErrors: its CA is not in
// the browser's store). Two pages in one room chat, their transport ends as websocket (wss), and no
// page has a console error, a failed request, or a request that is not https/wss to the server.
//
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/browser/chat_page_tls.test.js

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { serverBinary, startServer } from "../interop/harness.js";

const CHROMIUM = process.env.FALLBENCH_CHROMIUM ?? "/usr/bin/chromium";
const STEP_MS = 10000;
const SUITE_DEADLINE_MS = 110000;
const MAKE_PKI = fileURLToPath(new URL("../support/make-test-pki", import.meta.url));

const watchdog = setTimeout(() => {
  process.stderr.write(`browser-tls: suite deadline of ${SUITE_DEADLINE_MS} ms exceeded, aborting\n`);
  process.exit(2);
}, SUITE_DEADLINE_MS);
watchdog.unref();

const pkiDir = mkdtempSync(join(tmpdir(), "fallbench-tls-"));
const made = spawnSync(MAKE_PKI, [pkiDir], { encoding: "utf8" });
const skip = made.status === 0 ? false : `make-test-pki exited ${made.status}: ${made.stderr.trim()}`;

describe("the chat page over https in Chromium", { skip, timeout: SUITE_DEADLINE_MS }, () => {
  let server;
  let context;
  let profileDir;
  const problems = [];

  before(async () => {
    server = await startServer(serverBinary(), [
      "--tls-cert", join(pkiDir, "server.pem"),
      "--tls-key", join(pkiDir, "server-key.pem"),
    ]);
    profileDir = mkdtempSync(join(tmpdir(), "fallbench-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      ignoreHTTPSErrors: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context.setDefaultTimeout(STEP_MS);
  });

  after(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    rmSync(pkiDir, { recursive: true, force: true });
    const stopped = await server?.stop();
    if (stopped) assert.equal(stopped.code, 0, `server exit: ${JSON.stringify(stopped)}`);
  });

  async function openPage(label) {
    const page = await context.newPage();
    const { host } = new URL(server.url);
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`${label}: console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`${label}: page error: ${e.message}`));
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.protocol === "data:") return;
      if (url.host !== host || (url.protocol !== "https:" && url.protocol !== "wss:"))
        problems.push(`${label}: request that is not https/wss to the server: ${r.url()}`);
    });
    page.on("requestfailed", (r) => {
      if (!page.isClosed() && r.failure()?.errorText !== "net::ERR_ABORTED")
        problems.push(`${label}: request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${label}: HTTP ${r.status()} for ${r.url()}`);
    });
    return page;
  }

  const roomUrl = (name, room) => `${server.url}/room?${new URLSearchParams({ name, room })}`;
  const waitForLine = (page, kind, text) =>
    page.locator(`#messages li.${kind}`, { hasText: text }).first().waitFor({ state: "visible" });

  test("two pages chat over https and wss", async () => {
    assert.match(server.url, /^https:\/\//);
    const alice = await openPage("alice");
    await alice.goto(roomUrl("alice", "secure"));
    await waitForLine(alice, "join", "alice joined secure.");
    const bob = await openPage("bob");
    await bob.goto(roomUrl("bob", "secure"));
    await waitForLine(alice, "join", "bob joined secure.");
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => document.getElementById("transport").dataset.transport === "websocket");
      assert.equal(await page.getAttribute("#transport", "title"), "polling → websocket");
    }
    await alice.fill("#message", "hello over TLS");
    await alice.click("#send");
    await waitForLine(bob, "chat", "hello over TLS");
    await waitForLine(alice, "chat", "hello over TLS");
    assert.equal(await alice.evaluate(() => location.protocol), "https:");
    assert.deepEqual(problems, []);
  });
});
