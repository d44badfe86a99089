// Two C++ clients (the `fallbench chat` terminal client, on transports/client) and one official
// socket.io-client chat in one room of `fallbench serve`, and in one room of the Node peer: each
// sees the others' chats. Every wait is bounded; the processes are killed at the end.
//
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/interop/mixed_clients.test.js

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { ClientPool, join, nextEvent, raceTimeout, serverBinary, startPeer, startServer, uniqueRoom } from "./harness.js";

const STEP_MS = 10000;

/** Runs `fallbench chat URL ...`, collecting its stdout lines; `waitFor(re)` resolves on a matching line. */
function chatProcess(bin, url, room, name, strategy) {
  const child = spawn(bin, ["chat", url, "--room", room, "--name", name, "--strategy", strategy], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = [];
  const waiters = [];
  let buffered = "";
  child.stdout.on("data", (chunk) => {
    buffered += chunk.toString();
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise((res) => child.once("exit", (code, signal) => res({ code, signal })));
  return {
    lines,
    say: (text) => child.stdin.write(`${text}\n`),
    waitFor(re, what) {
      const found = lines.find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return raceTimeout(new Promise((resolve) => waiters.push({ re, resolve })), STEP_MS, `${name}: ${what}`);
    },
    async stop() {
      child.stdin.end();  // end of input: the client leaves and exits by itself
      const done = await raceTimeout(exited, STEP_MS, `${name} to exit`).catch(() => null);
      if (!done) child.kill("SIGKILL");
      return done;
    },
  };
}

async function mixedRoom(url, bin) {
  const pool = new ClientPool(url);
  const room = uniqueRoom("mixed");
  const cpp = [chatProcess(bin, url, room, "cpp1", "upgrade"), chatProcess(bin, url, room, "cpp2", "polling")];
  try {
    const js = await pool.connect();
    await join(js, room, "js");
    // Both C++ clients are in: the official client sees their joins (or they joined before it).
    for (const c of cpp) await c.waitFor(/\* connected over/, "connected");
    for (const [i, c] of cpp.entries()) await c.waitFor(new RegExp(`\\* cpp${i + 1} joined`), "its own join");
    // Each C++ client chats; the official client and the other C++ client see it.
    for (const [i, c] of cpp.entries()) {
      const name = `cpp${i + 1}`;
      const seen = nextEvent(js, "chat", (p) => p?.room === room && p?.name === name && p?.msg === `hello from ${name}`, STEP_MS);
      c.say(`hello from ${name}`);
      await seen;
      for (const other of cpp) await other.waitFor(new RegExp(`<${name}> hello from ${name}$`), `${name}'s chat`);
    }
    // The official client chats; both C++ clients print it.
    const ack = await js.timeout(STEP_MS).emitWithAck("chat", { room, name: "js", msg: "hello from js" });
    assert.deepEqual(ack, { ok: true });
    for (const c of cpp) await c.waitFor(/<js> hello from js$/, "the official client's chat");
  } finally {
    for (const c of cpp) await c.stop();
    pool.closeAll();
  }
}

const bin = serverBinary();
const servers = [];
after(async () => {
  for (const s of servers) await s.stop();
});

describe("C++ clients and the official client in one room", { timeout: 60000 }, () => {
  test("on fallbench serve", async () => {
    const server = await startServer(bin);
    servers.push(server);
    await mixedRoom(server.url, bin);
  });
  test("on the Node socket.io peer", async () => {
    const peer = await startPeer();
    servers.push(peer);
    await mixedRoom(peer.url, bin);
  });
});

// `printf 'a\nb\n' | fallbench chat URL`: lines typed before the join is confirmed wait for it (sent
// earlier they would be refused as "not a member of room"), and at the end of input the client leaves
// only after every line was answered. The official client in the room sees both lines, in order.
describe("fallbench chat with piped input", { timeout: 60000 }, () => {
  test("holds lines until the join is acknowledged, then sends them all", async () => {
    const server = await startServer(bin);
    servers.push(server);
    const pool = new ClientPool(server.url);
    const room = uniqueRoom("piped");
    try {
      const js = await pool.connect();
      await join(js, room, "js");
      const seen = [];
      js.on("chat", (p) => {
        if (p?.room === room && p?.name === "piper") seen.push(p.msg);
      });
      for (const strategy of ["polling", "websocket"]) {
        const c = chatProcess(bin, server.url, room, "piper", strategy);
        c.say(`first over ${strategy}`);
        c.say(`second over ${strategy}`);
        const done = await c.stop();  // stdin ends at once, before the client has even connected
        assert.deepEqual(done, { code: 0, signal: null }, `${strategy}: exit status`);
        assert.ok(!c.lines.some((l) => /refused|not sent/.test(l)), `${strategy}: ${c.lines.join(" | ")}`);
      }
      // The official client saw every line once, in the order typed.
      const deadline = Date.now() + STEP_MS;
      while (seen.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(seen, ["first over polling", "second over polling", "first over websocket", "second over websocket"]);
    } finally {
      pool.closeAll();
    }
  });
});
