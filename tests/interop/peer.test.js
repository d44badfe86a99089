// The reference peer, tools/peers/socketio-node (the chat protocol on the official socket.io server),
// driven by the official socket.io-client through the shared chat suite (chat_suite.js, also run
// against `fallbench serve` by socketio_client.test.js), plus its error strings, its command line and
// /metrics. When FALLBENCH_BIN
// names our server, one scripted session is also run against both and must give the same acks,
// the same deliveries and the same /metrics `chat` counters.
//
//   node --test tests/interop/peer.test.js                                  (the peer alone)
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/interop/peer.test.js  (what ctest runs)
//
// Every wait is bounded (harness.js), every test has a timeout, and a watchdog ends the process
// before ctest's own TIMEOUT. Loopback only, ports picked by the servers (--port 0).

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import {
  ClientPool,
  PEER_SCRIPT,
  STEP_TIMEOUT_MS,
  ackedEmit,
  barrier,
  join,
  nextEvent,
  record,
  startPeer,
  startServer,
  uniqueRoom,
} from "./harness.js";
import { SUITE_DEADLINE_MS, TEST_TIMEOUT_MS, chatSuite, installWatchdog, joinChatEcho } from "./chat_suite.js";

installWatchdog("peer");

/** GET url + path, bounded; resolves to { status, headers, text }. */
async function get(url, path, headers = {}) {
  const res = await fetch(new URL(path, url), { headers, signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function metrics(url) {
  const { status, headers, text } = await get(url, "/metrics");
  assert.equal(status, 200, `/metrics answered ${status}: ${text}`);
  assert.match(headers.get("content-type") ?? "", /^application\/json/);
  return JSON.parse(text);
}

/** The Engine.IO handshake over polling: the open packet's JSON, or the HTTP answer when refused. */
async function handshake(url, headers = {}) {
  const r = await get(url, "/socket.io/?EIO=4&transport=polling", headers);
  return { ...r, open: r.status === 200 && r.text.startsWith("0") ? JSON.parse(r.text.slice(1)) : null };
}

/** Runs the peer with `args` to completion (bounded): { code, signal, stdout, stderr }. */
function runPeer(args, ms = 10000) {
  return new Promise((res) => {
    execFile(process.execPath, [PEER_SCRIPT, ...args], { timeout: ms, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      res({ code: err ? (err.code ?? null) : 0, signal: err?.signal ?? null, stdout, stderr });
    });
  });
}

chatSuite("reference peer with the official socket.io-client", () => startPeer(), (ctx) => {
  test("acks: negative, with our server's error strings, for a room not joined and malformed chats", { timeout: TEST_TIMEOUT_MS }, async () => {
    const socket = await ctx.pool.connect({ transports: ["websocket"] });
    const mine = uniqueRoom("mine");
    const other = uniqueRoom("other");
    await join(socket, mine, "alice");
    const seen = record(socket, "chat");

    const refused = [
      [{ room: other, name: "alice", msg: "hi" }, "not a member of room"],
      [{ room: mine, name: "alice", msg: 42 }, "invalid chat: msg must be a string"],
      [{ room: mine, name: "alice" }, "invalid chat: msg must be a string"],
      [{ room: mine, name: "", msg: "hi" }, "invalid chat: name must be a non-empty string"],
      [{ room: mine, name: 7, msg: "hi" }, "invalid chat: name must be a non-empty string"],
      [{ room: mine, name: "x".repeat(257), msg: "hi" }, "invalid chat: name must be a non-empty string"],
      // 129 characters, 258 bytes: the limit is in UTF-8 bytes, as in C++.
      [{ room: mine, name: "é".repeat(129), msg: "hi" }, "invalid chat: name must be a non-empty string"],
      [{ room: "", name: "alice", msg: "hi" }, "invalid chat: room must be a non-empty string"],
      [{ room: null, name: "alice", msg: "hi" }, "invalid chat: room must be a non-empty string"],
      ["just a string", "invalid chat: name must be a non-empty string"],
      [["alice", "hi"], "invalid chat: name must be a non-empty string"],
    ];
    for (const [payload, error] of refused) {
      assert.deepEqual(await ackedEmit(socket, "chat", payload), { ok: false, error }, JSON.stringify(payload));
    }
    // 256 bytes is still a name.
    assert.deepEqual(await ackedEmit(socket, "chat", { room: mine, name: "x".repeat(256), msg: "max" }), { ok: true });

    // No refused chat was delivered, not even to the sender (a member of `mine`).
    await barrier(socket, mine, "alice");
    assert.deepEqual(
      seen.filter((p) => p?.msg !== "max" && !String(p?.msg).startsWith("barrier-")),
      [],
      "a refused chat was delivered",
    );
  });

  test("unknown fields pass through join, chat and leave untouched", { timeout: TEST_TIMEOUT_MS }, async () => {
    const socket = await ctx.pool.connect({ transports: ["websocket"] });
    const room = uniqueRoom("fields");
    const tags = { sender: "s-1", seq: 7, sent_at: 1234.5, nested: { a: [1, "two", null] } };

    let echoed = nextEvent(socket, "join", (p) => p?.room === room);
    assert.deepEqual(await ackedEmit(socket, "join", { room, name: "alice", ...tags }), { ok: true });
    assert.deepEqual(await echoed, { room, name: "alice", ...tags });

    echoed = nextEvent(socket, "chat", (p) => p?.room === room);
    assert.deepEqual(await ackedEmit(socket, "chat", { room, name: "alice", msg: "m", ...tags }), { ok: true });
    assert.deepEqual(await echoed, { room, name: "alice", msg: "m", ...tags });

    echoed = nextEvent(socket, "leave", (p) => p?.room === room);
    assert.deepEqual(await ackedEmit(socket, "leave", { room, name: "alice", ...tags }), { ok: true });
    assert.deepEqual(await echoed, { room, name: "alice", ...tags });
  });

  test("unknown events and invalid join/leave are ignored, never a crash", { timeout: TEST_TIMEOUT_MS }, async () => {
    const socket = await ctx.pool.connect({ transports: ["websocket"] });
    const room = uniqueRoom("junk");
    await join(socket, room, "alice");
    const seen = { join: record(socket, "join"), leave: record(socket, "leave") };
    const m0 = (await metrics(ctx.server.url)).chat;

    assert.deepEqual(await ackedEmit(socket, "bogus", { x: 1 }), { ok: false, error: "unknown event" });
    // "error" is no reserved name for the client; with no listener, Node would throw it on the ctx.server.
    assert.deepEqual(await ackedEmit(socket, "error", { x: 1 }), { ok: false, error: "unknown event" });
    socket.emit("bogus"); // no ack asked: counted only
    // As our server: an ignored join or leave answers a negative ack when one is asked for.
    const badJoin = { ok: false, error: "invalid join: room and name must be non-empty strings" };
    for (const payload of [{ room: 5, name: "a" }, { room, name: "" }, "", null, ["a"]]) {
      assert.deepEqual(await ackedEmit(socket, "join", payload), badJoin, `join ${JSON.stringify(payload)}`);
    }
    assert.deepEqual(await ackedEmit(socket, "leave", { room: uniqueRoom("never-joined"), name: "alice" }),
                     { ok: false, error: "not a member of room" });
    assert.deepEqual(await ackedEmit(socket, "leave", { room }),
                     { ok: false, error: "invalid leave: room and name must be non-empty strings" });

    await barrier(socket, room, "alice");
    assert.deepEqual(seen, { join: [], leave: [] }, "an ignored join or leave was delivered");
    assert.equal(socket.connected, true);
    const m1 = (await metrics(ctx.server.url)).chat;
    assert.equal(m1.invalid_events - m0.invalid_events, 3 + 5 + 2);
    assert.equal(m1.rejected_chats, m0.rejected_chats);
    assert.equal(m1.joins - m0.joins, 0);
    assert.equal(m1.leaves - m0.leaves, 0);
  });

  test("GET /metrics: the chat counters of `fallbench serve` and the process figures", { timeout: TEST_TIMEOUT_MS }, async () => {
    const m = await metrics(ctx.server.url);
    assert.deepEqual(
      Object.keys(m.chat).sort(),
      ["chats", "deliveries", "invalid_events", "joins", "leaves", "rejected_chats", "rooms"],
    );
    for (const [key, value] of Object.entries(m.chat)) {
      assert.ok(Number.isInteger(value) && value >= 0, `chat.${key} = ${value}`);
    }
    assert.deepEqual(Object.keys(m.process).sort(), ["cpu_system_us", "cpu_user_us", "heap_used_bytes", "rss_bytes"]);
    for (const [key, value] of Object.entries(m.process)) {
      assert.ok(Number.isInteger(value) && value > 0, `process.${key} = ${value}`);
    }
    assert.equal(m.peer?.implementation, "socket.io");
    assert.equal((await get(ctx.server.url, "/metrics?x=1")).status, 200);
    assert.equal((await get(ctx.server.url, "/nothing-here")).status, 404);
  });

  test("stops cleanly on SIGTERM, disconnecting its clients", { timeout: TEST_TIMEOUT_MS }, async () => {
    const socket = await ctx.pool.connect({ transports: ["websocket"] });
    const disconnected = nextEvent(socket, "disconnect");
    assert.equal(ctx.server.child.exitCode, null, `the peer exited during the tests (code ${ctx.server.child.exitCode})`);
    assert.equal(ctx.server.child.signalCode, null, `the peer was killed during the tests (${ctx.server.child.signalCode})`);
    const { code, signal } = await ctx.server.stop(5000);
    assert.equal(signal, null, `the peer did not exit by itself within 5 s of SIGTERM (${signal})`);
    assert.equal(code, 0, "exit code after SIGTERM");
    // socket.io 4.8's io.close() closes the engine sockets without a Socket.IO DISCONNECT packet.
    assert.match(await disconnected, /^(transport close|io server disconnect)$/);
  });
});


// ---- One scripted session, the same traffic against a fresh server; the transcript must match. ----

/**
 * Drives a fresh server at `url` through join, chat (accepted and refused), unknown events, invalid
 * join/leave, leave, and the seed page's form, each step waiting for its acks and deliveries.
 * Returns { acks, a, b, chat } with every ack, everything each client received, and /metrics `chat`.
 */
async function scriptedSession(url) {
  const pool = new ClientPool(url);
  try {
    const a = await pool.connect({ transports: ["websocket"] });
    const b = await pool.connect({ transports: ["websocket"] });
    const got = { a: [], b: [] };
    a.onAny((event, ...args) => got.a.push([event, ...args]));
    b.onAny((event, ...args) => got.b.push([event, ...args]));
    const acks = [];
    const R = "room-x";
    const arrivals = (event, payload, sockets) =>
      Promise.all(sockets.map((s) => nextEvent(s, event, (p) => isDeepStrictEqual(p, payload))));
    // Emits, waits for the ack (when asked) and for `payload` to arrive at `to` as `event`.
    const step = async (from, event, payload, { ack = true, to = [] } = {}) => {
      const arrived = arrivals(event, payload, to);
      if (ack) acks.push([event, await ackedEmit(from, event, payload)]);
      else from.emit(event, payload);
      await arrived;
    };

    await step(a, "join", { room: R, name: "a", tag: "t1" }, { to: [a] });
    await step(b, "join", { room: R, name: "b" }, { ack: false, to: [a, b] });
    await step(a, "chat", { room: R, name: "a", msg: "hello", seq: 1, meta: { k: [1, 2] } }, { to: [a, b] });
    await step(a, "chat", { room: "elsewhere", name: "a", msg: "x" });
    await step(a, "chat", { room: R, name: "a", msg: 42 });
    await step(a, "chat", { room: R, name: "", msg: "x" });
    await step(a, "chat", { room: "", name: "a", msg: "x" });
    await step(a, "chat", { room: R, name: "n".repeat(257), msg: "x" });
    await step(a, "chat", { room: R, name: "é".repeat(129), msg: "x" });
    await step(a, "chat", { room: R, name: "n".repeat(256), msg: "max" }, { to: [a, b] });
    await step(a, "chat", "just a string");
    await step(a, "chat", { room: null, name: "a", msg: "x" });
    await step(a, "bogus", 1);
    await step(a, "error", {});
    await step(a, "bogus", 2, { ack: false });
    await step(a, "join", { room: 5, name: "a" });
    await step(a, "leave", { room: "elsewhere", name: "a" });
    await step(a, "join", "");
    await step(b, "leave", { room: R, name: "b", tag: "bye" }, { to: [a, b] });
    await step(b, "chat", { room: R, name: "b", msg: "after leave" });
    await step(a, "join", "alice", { ack: false, to: [a, b] });
    await step(a, "chat", { name: "alice", msg: "hi all" }, { to: [a, b] });
    const bGone = nextEvent(b, "disconnect");
    await step(b, "leave", "bob", { ack: false, to: [a, b] });
    acks.push(["b disconnect", await bGone]);
    await step(a, "chat", { room: R, name: "a", msg: "end" }, { to: [a] });

    return { acks, a: got.a, b: got.b, chat: (await metrics(url)).chat };
  } finally {
    pool.closeAll();
  }
}

const OK = { ok: true };
const notChat = (error) => ({ ok: false, error });
const EXPECTED_SESSION = {
  acks: [
    ["join", OK],
    ["chat", OK],
    ["chat", notChat("not a member of room")],
    ["chat", notChat("invalid chat: msg must be a string")],
    ["chat", notChat("invalid chat: name must be a non-empty string")],
    ["chat", notChat("invalid chat: room must be a non-empty string")],
    ["chat", notChat("invalid chat: name must be a non-empty string")],
    ["chat", notChat("invalid chat: name must be a non-empty string")],
    ["chat", OK],
    ["chat", notChat("invalid chat: name must be a non-empty string")],
    ["chat", notChat("invalid chat: room must be a non-empty string")],
    ["bogus", notChat("unknown event")],
    ["error", notChat("unknown event")],
    ["join", notChat("invalid join: room and name must be non-empty strings")],
    ["leave", notChat("not a member of room")],
    ["join", notChat("invalid join: room and name must be non-empty strings")],
    ["leave", OK],
    ["chat", notChat("not a member of room")],
    ["chat", OK],
    ["b disconnect", "io server disconnect"],
    ["chat", OK],
  ],
  a: [
    ["join", { room: "room-x", name: "a", tag: "t1" }],
    ["join", { room: "room-x", name: "b" }],
    ["chat", { room: "room-x", name: "a", msg: "hello", seq: 1, meta: { k: [1, 2] } }],
    ["chat", { room: "room-x", name: "n".repeat(256), msg: "max" }],
    ["leave", { room: "room-x", name: "b", tag: "bye" }],
    ["join", "alice"],
    ["chat", { name: "alice", msg: "hi all" }],
    ["leave", "bob"],
    ["chat", { room: "room-x", name: "a", msg: "end" }],
  ],
  b: [
    ["join", { room: "room-x", name: "b" }],
    ["chat", { room: "room-x", name: "a", msg: "hello", seq: 1, meta: { k: [1, 2] } }],
    ["chat", { room: "room-x", name: "n".repeat(256), msg: "max" }],
    ["leave", { room: "room-x", name: "b", tag: "bye" }],
    ["join", "alice"],
    ["chat", { name: "alice", msg: "hi all" }],
    ["leave", "bob"],
  ],
  chat: { joins: 3, leaves: 2, chats: 4, deliveries: 16, invalid_events: 15, rejected_chats: 9, rooms: 1 },
};

describe("the same scripted session against the peer and `fallbench serve`", { timeout: SUITE_DEADLINE_MS }, () => {
  let peerSession;

  test("the peer: the expected acks, deliveries and counters", { timeout: TEST_TIMEOUT_MS }, async () => {
    const peer = await startPeer();
    try {
      peerSession = await scriptedSession(peer.url);
    } finally {
      await peer.stop();
    }
    assert.deepEqual(peerSession, EXPECTED_SESSION);
  });

  test("fallbench serve (FALLBENCH_BIN): the same acks, deliveries and counters", { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const bin = process.env.FALLBENCH_BIN;
    if (!bin) {
      t.skip("FALLBENCH_BIN is not set");
      return;
    }
    const path = isAbsolute(bin) ? bin : resolve(bin);
    assert.ok(existsSync(path), `FALLBENCH_BIN=${bin} does not exist`);
    const ours = await startServer(path);
    let session;
    try {
      session = await scriptedSession(ours.url);
    } finally {
      await ours.stop();
    }
    assert.deepEqual(session, EXPECTED_SESSION);
  });
});

// ---- The command line ----

describe("the peer's command line", { timeout: SUITE_DEADLINE_MS }, () => {
  test("bad flags: a message on stderr, nothing on stdout, exit 2", { timeout: TEST_TIMEOUT_MS }, async () => {
    const cases = [
      [["--threads", "2"], /unknown flag --threads/],
      [["--port", "70000"], /--port: 70000 is out of range/],
      [["--port", "x"], /--port: not an integer/],
      [["--port"], /--port needs a value/],
      [["--transports", "polling,pigeon"], /--transports: unknown transport 'pigeon'/],
      [["--ping-interval", "0"], /--ping-interval: 0 is out of range/],
      [["--max-payload", "10"], /--max-payload: 10 is out of range/],
      [["--host", "localhost.invalid"], /--host: not an IP address/],
      [["stray"], /unexpected argument 'stray'/],
    ];
    const results = await Promise.all(cases.map(([args]) => runPeer(args)));
    results.forEach(({ code, signal, stdout, stderr }, i) => {
      const [args, message] = cases[i];
      assert.equal(signal, null, `${args.join(" ")}: killed (${signal})`);
      assert.equal(code, 2, `${args.join(" ")}: exit code; stderr ${stderr}`);
      assert.equal(stdout, "", `${args.join(" ")}: stdout`);
      assert.match(stderr, message, args.join(" "));
    });
  });

  test("--help: the flags on stdout, exit 0", { timeout: TEST_TIMEOUT_MS }, async () => {
    const { code, stdout } = await runPeer(["--help"]);
    assert.equal(code, 0);
    for (const flag of ["--host", "--port", "--transports", "--ping-interval", "--ping-timeout", "--max-payload", "--cors-origin"]) {
      assert.ok(stdout.includes(flag), `--help lists ${flag}`);
    }
  });

  test("SIGTERM as soon as the URL is printed: exit 0", { timeout: TEST_TIMEOUT_MS }, async () => {
    const peer = await startPeer();
    const { code, signal } = await peer.stop(5000);
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
  });

  test("a port in use: a message on stderr, exit 1", { timeout: TEST_TIMEOUT_MS }, async () => {
    const peer = await startPeer();
    try {
      const { code, stdout, stderr } = await runPeer(["--port", new URL(peer.url).port]);
      assert.equal(code, 1, `exit code; stderr ${stderr}`);
      assert.equal(stdout, "");
      assert.match(stderr, /cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    } finally {
      await peer.stop();
    }
  });

  test("--transports polling: no WebSocket, no upgrade; chat works over polling", { timeout: TEST_TIMEOUT_MS }, async () => {
    const peer = await startPeer(["--transports", "polling"]);
    const pool = new ClientPool(peer.url);
    try {
      assert.deepEqual((await handshake(peer.url)).open?.upgrades, []);
      await assert.rejects(pool.connect({ transports: ["websocket"] }), /connect_error/);
      const socket = await pool.connect();
      await joinChatEcho(socket, "polling-only");
      assert.equal(socket.io.engine.transport.name, "polling");
    } finally {
      pool.closeAll();
      await peer.stop();
    }
  });

  test("--transports websocket: polling refused; chat works over WebSocket", { timeout: TEST_TIMEOUT_MS }, async () => {
    const peer = await startPeer(["--transports", "websocket"]);
    const pool = new ClientPool(peer.url);
    try {
      const { status, open } = await handshake(peer.url);
      assert.equal(open, null);
      assert.equal(status, 400);
      const socket = await pool.connect({ transports: ["websocket"] });
      await joinChatEcho(socket, "websocket-only");
    } finally {
      pool.closeAll();
      await peer.stop();
    }
  });

  test("--ping-interval, --ping-timeout, --max-payload reach the handshake; a larger message closes the session", { timeout: TEST_TIMEOUT_MS }, async () => {
    const peer = await startPeer(["--ping-interval", "1234", "--ping-timeout", "2345", "--max-payload", "4096"]);
    const pool = new ClientPool(peer.url);
    try {
      const { open } = await handshake(peer.url);
      assert.equal(open?.pingInterval, 1234);
      assert.equal(open?.pingTimeout, 2345);
      assert.equal(open?.maxPayload, 4096);

      const socket = await pool.connect({ transports: ["websocket"] });
      const room = uniqueRoom("payload");
      await join(socket, room, "alice");
      assert.deepEqual(await ackedEmit(socket, "chat", { room, name: "alice", msg: "x".repeat(3000) }), { ok: true });
      const disconnected = nextEvent(socket, "disconnect");
      socket.emit("chat", { room, name: "alice", msg: "x".repeat(5000) });
      assert.equal(await disconnected, "transport close");
      assert.equal(peer.child.exitCode, null, "the peer survived the oversized message");
    } finally {
      pool.closeAll();
      await peer.stop();
    }
  });

  test("CORS: off by default; --cors-origin allows the origins given (repeatable, * for any)", { timeout: TEST_TIMEOUT_MS }, async () => {
    const origin = "http://one.example";
    let peer = await startPeer();
    try {
      const { headers } = await handshake(peer.url, { Origin: origin });
      assert.equal(headers.get("access-control-allow-origin"), null);
    } finally {
      await peer.stop();
    }
    peer = await startPeer(["--cors-origin", origin, "--cors-origin=http://two.example"]);
    try {
      for (const allowed of [origin, "http://two.example"]) {
        const { headers, open } = await handshake(peer.url, { Origin: allowed });
        assert.ok(open, "handshake");
        assert.equal(headers.get("access-control-allow-origin"), allowed);
        assert.equal(headers.get("access-control-allow-credentials"), "true");
      }
      const { headers } = await handshake(peer.url, { Origin: "http://three.example" });
      assert.equal(headers.get("access-control-allow-origin"), null);
    } finally {
      await peer.stop();
    }
    peer = await startPeer(["--cors-origin", "*"]);
    try {
      const { headers } = await handshake(peer.url, { Origin: "http://any.example" });
      assert.equal(headers.get("access-control-allow-origin"), "http://any.example");
    } finally {
      await peer.stop();
    }
  });
});

