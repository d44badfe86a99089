// Browser test: the chat page of `fallbench serve` (server/web/room.html) in Debian's Chromium, driven
// by playwright-core over loopback. What it checks: two pages in one room see each other's
// messages, a page in another room sees none, Out shows the leave on the other page, and the transport
// shown ends as websocket; and through `fallbench proxy --profile refuse-upgrade`, two pages still chat
// and the transport shown stays polling. Any console error, page error, failed request or request to
// another origin fails the test (through the proxy, one console error per page is expected: Chromium's
// report of the refused WebSocket handshake, and nothing else).
//
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/browser/   (what ctest runs, label browser)
//   node tests/browser/chat_page.test.js build/ci/fallbench        (the same, by hand)
//
// Screenshots of the room page, room-page.png (on websocket) and room-page-polling.png (through the
// proxy, on polling): into $FALLBENCH_SCREENSHOT_DIR (default: the working directory, which ctest sets
// to its build directory); with FALLBENCH_UPDATE_DOCS=1 the first also into docs/images/room-page.png.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { ClientPool, nextEvent, serverBinary, startCommand, startServer } from "../interop/harness.js";

const CHROMIUM = process.env.FALLBENCH_CHROMIUM ?? "/usr/bin/chromium";
const STEP_MS = 10000;
// Below the ctest TIMEOUT (120 s), so we stop the browser and the server with a message, not ctest.
const SUITE_DEADLINE_MS = 110000;
const DOCS_SCREENSHOT = fileURLToPath(new URL("../../docs/images/room-page.png", import.meta.url));

const watchdog = setTimeout(() => {
  process.stderr.write(`browser: suite deadline of ${SUITE_DEADLINE_MS} ms exceeded, aborting\n`);
  process.exit(2);
}, SUITE_DEADLINE_MS);
watchdog.unref();

describe("the chat page of fallbench serve in Chromium", { timeout: SUITE_DEADLINE_MS }, () => {
  let server;
  let context;
  let profileDir;
  const problems = []; // console errors, page errors, failed or foreign requests, from every page

  before(async () => {
    server = await startServer(serverBinary());
    profileDir = mkdtempSync(join(tmpdir(), "fallbench-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 860, height: 540 },
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
  });

  after(async () => {
    await context?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    const stopped = await server?.stop();
    if (stopped) assert.equal(stopped.code, 0, `server exit: ${JSON.stringify(stopped)}`);
  });

  /**
   * A new page whose every problem is recorded under `label`. Requests may only go to the origin of
   * `base` (the server, or the proxy in front of it). With `consoleErrors`, the page's console errors
   * go there instead of into `problems`, for the test to check.
   */
  async function openPage(label, { base = server.url, consoleErrors = null } = {}) {
    const page = await context.newPage();
    const origin = new URL(base).origin;
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      if (consoleErrors) consoleErrors.push(m.text());
      else problems.push(`${label}: console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`${label}: page error: ${e.message}`));
    page.on("request", (r) => {
      const url = new URL(r.url());
      if (url.protocol !== "data:" && url.origin !== origin && url.origin !== origin.replace(/^http/, "ws"))
        problems.push(`${label}: request to another origin: ${r.url()}`);
    });
    page.on("requestfailed", (r) => {
      // Closing a page or a socket aborts its pending long-poll: that is not a failure of the page.
      if (!page.isClosed() && r.failure()?.errorText !== "net::ERR_ABORTED")
        problems.push(`${label}: request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`${label}: HTTP ${r.status()} for ${r.url()}`);
    });
    return page;
  }

  const roomUrl = (name, room, base = server.url) => `${base}/room?${new URLSearchParams({ name, room })}`;

  /** Waits until the page's message log has a line of `kind` whose text contains `text`. */
  async function waitForLine(page, kind, text) {
    await page.locator(`#messages li.${kind}`, { hasText: text }).first().waitFor({ state: "visible" });
  }

  /** The text of every line of the page's message log. */
  const lines = (page) => page.locator("#messages li").allTextContents();

  async function waitForTransport(page, name) {
    await page.waitForFunction((n) => document.getElementById("transport").dataset.transport === n, name, {
      timeout: STEP_MS,
    });
  }

  async function send(page, msg) {
    await page.fill("#message", msg);
    await page.click("#send");
  }

  test("two pages in one room chat, a third room hears nothing, Out shows the leave", async () => {
    const room = "lobby";
    const otherRoom = "garden";

    // Alice comes in through the index page and the room page's form.
    const alice = await openPage("alice");
    await alice.goto(`${server.url}/`);
    await alice.click("#enter");
    await alice.waitForURL(`${server.url}/room`);
    await alice.locator("#join-form").waitFor({ state: "visible" });
    await alice.fill("#join-name", "alice");
    await alice.fill("#join-room", room);
    await alice.click("#join");
    await alice.waitForURL(roomUrl("alice", room));
    await waitForLine(alice, "join", `alice joined ${room}.`);

    const bob = await openPage("bob");
    await bob.goto(roomUrl("bob", room));
    await waitForLine(bob, "join", `bob joined ${room}.`);
    await waitForLine(alice, "join", `bob joined ${room}.`);

    const carol = await openPage("carol");
    await carol.goto(roomUrl("carol", otherRoom));
    await waitForLine(carol, "join", `carol joined ${otherRoom}.`);

    // Each page opens on polling and upgrades; the badge ends on websocket, the path behind it.
    for (const [label, page] of [["alice", alice], ["bob", bob], ["carol", carol]]) {
      await waitForTransport(page, "websocket");
      assert.equal(await page.textContent("#transport"), "websocket", label);
      assert.equal(await page.getAttribute("#transport", "title"), "polling → websocket", label);
    }

    await send(alice, "hello from alice");
    await waitForLine(bob, "chat", "hello from alice");
    await waitForLine(alice, "chat", "hello from alice");
    await send(bob, "hi alice, bob here");
    await waitForLine(alice, "chat", "hi alice, bob here");
    // Markup in a message stays text.
    const markup = '<b>not bold</b> <img src="/x" onerror="document.title=1">';
    await send(bob, markup);
    await waitForLine(alice, "chat", markup);
    assert.equal(await alice.locator("#messages img, #messages b").count(), 0, "markup was rendered");
    assert.equal(await alice.locator("#messages li.chat .who").last().textContent(), "bob");

    // Carol's own chat comes back to her after anything the server had queued for her before it, so
    // seeing it means room lobby's chats did not reach her.
    await send(carol, "anyone in the garden?");
    await waitForLine(carol, "chat", "anyone in the garden?");
    const carolLines = await lines(carol);
    assert.deepEqual(carolLines, [`carol joined ${otherRoom}.`, "carol: anyone in the garden?"]);

    // The seed page's older forms (a plain name for join/leave, chat without a room) still show.
    const pool = new ClientPool(server.url);
    try {
      const dave = await pool.connect();
      dave.emit("join", "dave");
      await waitForLine(alice, "join", "dave joined.");
      dave.emit("chat", { name: "dave", msg: "hello from the old page" });
      await waitForLine(alice, "chat", "hello from the old page");
      await waitForLine(carol, "chat", "hello from the old page");
      const gone = nextEvent(dave, "disconnect");
      dave.emit("leave", "dave");
      await waitForLine(bob, "leave", "dave left.");
      await gone; // the seed form's leave also disconnects
    } finally {
      pool.closeAll();
    }

    // Bob presses Out: Alice sees him leave; Bob's page says so and is disconnected.
    await bob.click("#out");
    await waitForLine(alice, "leave", `bob left ${room}.`);
    await waitForLine(bob, "system", `You left ${room} and are disconnected.`);
    await waitForTransport(bob, "none");
    assert.equal(await bob.isVisible("#chat-form"), false);
    assert.equal(await alice.textContent("#transport"), "websocket");
    assert.ok(!(await lines(carol)).some((l) => l.includes("bob")), "carol heard of bob");

    await alice.locator("#message").blur();
    await screenshot(alice, "room-page.png");
    assert.deepEqual(problems, []);
  });

  test("a chat the server refuses shows as not delivered", async () => {
    // A room name longer than the server takes (256 bytes): the join is ignored, so the chat is refused.
    const page = await openPage("refused");
    await page.goto(roomUrl("erin", "r".repeat(300)));
    await waitForTransport(page, "websocket");
    await send(page, "will this arrive?");
    await waitForLine(page, "error", "will this arrive?");
    const shown = await page.locator("#messages li.error").last().textContent();
    // The reason is the server's own ({ok: false, error}), e.g. the room being invalid.
    assert.match(shown, /^Not delivered \(invalid chat: room .+\): will this arrive\?$/);
    assert.deepEqual(problems, []);
  });

  test("through fallbench proxy --profile refuse-upgrade, pages stay on polling and still chat", async () => {
    // The proxy answers every WebSocket upgrade request itself with 403 and never forwards it, as a
    // middlebox hostile to WebSocket does; HTTP (the long-polling) passes. The engine's probe fails, so
    // each page keeps polling, through the proxy.
    const proxy = await startCommand(
      serverBinary(),
      ["proxy", "--upstream", server.url, "--profile", "refuse-upgrade"],
      { label: "proxy" },
    );
    const wsOrigin = new URL(proxy.url).origin.replace(/^http/, "ws");
    // Chromium's own report of the refused handshake, one per page; any other console error fails.
    const refusedHandshake = new RegExp(
      `^WebSocket connection to '${escapeRegExp(wsOrigin)}/socket\\.io/\\?EIO=4&transport=websocket&sid=[^']+' ` +
        "failed: Error during WebSocket handshake: Unexpected response code: 403$",
    );
    const opened = [];
    let stopped;
    try {
      const open = async (name) => {
        const consoleErrors = [];
        const page = await openPage(name, { base: proxy.url, consoleErrors });
        opened.push({ name, page, consoleErrors });
        await page.addInitScript(recordTransports);
        const refused = page.waitForEvent("console", {
          predicate: (m) => m.type() === "error" && refusedHandshake.test(m.text()),
          timeout: STEP_MS,
        });
        refused.catch(() => {}); // awaited below; if a step before fails, the page closes under it
        await page.goto(roomUrl(name, "porch", proxy.url));
        await waitForLine(page, "join", `${name} joined porch.`);
        await page.locator('#transport[data-upgrade="failed"]').waitFor({ state: "attached" });
        await refused;
        return page;
      };
      const frank = await open("frank");
      const grace = await open("grace");
      await waitForLine(frank, "join", "grace joined porch.");

      await send(frank, "still here over polling");
      await waitForLine(grace, "chat", "still here over polling");
      await waitForLine(frank, "chat", "still here over polling");
      await send(grace, "me too");
      await waitForLine(frank, "chat", "me too");
      await waitForLine(grace, "chat", "me too");

      for (const { name, page, consoleErrors } of opened) {
        assert.equal(await page.textContent("#transport"), "polling", name);
        assert.match(await page.getAttribute("#transport", "title"), /^polling → websocket failed \(.+\)$/, name);
        // Every value the badge took since the page loaded: polling only, never websocket, no reconnection.
        assert.deepEqual(await page.evaluate(() => window.fallbenchTransports), ["polling"], name);
        assert.equal(consoleErrors.length, 1, `${name}: console errors: ${JSON.stringify(consoleErrors)}`);
        assert.match(consoleErrors[0], refusedHandshake, name);
      }

      await frank.locator("#message").blur();
      await screenshot(frank, "room-page-polling.png");
      assert.deepEqual(problems, []);
    } finally {
      // The pages go first: stopping the proxy under them would fail their pending long-polls.
      for (const { page } of opened) await page.close().catch(() => {});
      stopped = await proxy.stop();
    }
    assert.equal(stopped.code, 0, `proxy exit: ${JSON.stringify(stopped)}`);
  });

  /** Added to a page before its scripts run: records each value the transport badge takes, in order. */
  function recordTransports() {
    window.fallbenchTransports = [];
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.target.id !== "transport") continue;
        const shown = r.target.dataset.transport;
        if (window.fallbenchTransports.at(-1) !== shown) window.fallbenchTransports.push(shown);
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-transport"] });
  }

  const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

  /** Screenshot into the screenshot directory as `file`; room-page.png also refreshes the README's copy. */
  async function screenshot(page, file) {
    const dir = process.env.FALLBENCH_SCREENSHOT_DIR || process.cwd();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, file);
    await page.screenshot({ path });
    process.stderr.write(`browser: screenshot of the room page: ${path}\n`);
    if (file === "room-page.png" && process.env.FALLBENCH_UPDATE_DOCS === "1") {
      mkdirSync(join(DOCS_SCREENSHOT, ".."), { recursive: true });
      await page.screenshot({ path: DOCS_SCREENSHOT });
      const size = statSync(DOCS_SCREENSHOT).size;
      assert.ok(size < 200 * 1024, `docs screenshot is ${size} bytes, over 200 KB`);
      process.stderr.write(`browser: docs screenshot updated: ${DOCS_SCREENSHOT} (${size} bytes)\n`);
    }
  }
});
