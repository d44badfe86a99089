// The chat behaviours every Socket.IO chat server of this project must show to the official
// socket.io-client (docs/design.md section 3), as one suite: socketio_client.test.js runs it against
// `fallbench serve`, peer.test.js against the reference peer (tools/peers/socketio-node), each adding
// what is particular to its server. Every wait is bounded (harness.js), every test has a timeout.

import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ClientPool,
  ackedEmit,
  barrier,
  join,
  nextEvent,
  raceTimeout,
  record,
  uniqueRoom,
  upgraded,
} from "./harness.js";

export const TEST_TIMEOUT_MS = 30000;
// Below the ctest TIMEOUT (120 s), so servers are killed by us, with a message, not by ctest.
export const SUITE_DEADLINE_MS = 110000;

/** Ends the process with a message once the suite's deadline has passed (a hang fails, not stalls). */
export function installWatchdog(name) {
  const watchdog = setTimeout(() => {
    process.stderr.write(`${name}: suite deadline of ${SUITE_DEADLINE_MS} ms exceeded, aborting\n`);
    process.exit(2);
  }, SUITE_DEADLINE_MS);
  watchdog.unref();
}

export const range = (n) => Array.from({ length: n }, (_, i) => i);
export const pause = (ms) => new Promise((res) => setTimeout(res, ms));

/** Asserts that a chat payload carries the given fields (the server may pass extra ones through). */
export function assertChat(payload, expected) {
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(payload?.[key], value, `chat field '${key}' in ${JSON.stringify(payload)}`);
  }
}

/** Join a fresh room, chat with an ack, and receive the own chat back. */
export async function joinChatEcho(socket, label) {
  const room = uniqueRoom(label);
  await join(socket, room, "alice");
  const echoed = nextEvent(socket, "chat", (p) => p?.room === room);
  const ack = await ackedEmit(socket, "chat", { room, name: "alice", msg: `hello over ${label}` });
  assert.deepEqual(ack, { ok: true });
  assertChat(await echoed, { room, name: "alice", msg: `hello over ${label}` });
}

/**
 * The suite `title` against the server `start()` resolves to ({ url, stop(), child }): the shared chat
 * behaviours, then `more(ctx)`'s tests; ctx.server and ctx.pool are set once the server is up.
 */
export function chatSuite(title, start, more = () => {}) {
  describe(title, { timeout: SUITE_DEADLINE_MS }, () => {
    const ctx = { server: null, pool: null };

    before(async () => {
      ctx.server = await start();
      ctx.pool = new ClientPool(ctx.server.url);
    }, { timeout: 15000 });

    afterEach(() => {
      ctx.pool?.closeAll();
    });

    after(async () => {
      ctx.pool?.closeAll();
      await ctx.server?.stop();
    });

    test("polling only: connect, join, chat with ack, own chat received", { timeout: TEST_TIMEOUT_MS }, async () => {
      const socket = await ctx.pool.connect({ transports: ["polling"] });
      assert.equal(socket.io.engine.transport.name, "polling");
      await joinChatEcho(socket, "polling");
      assert.equal(socket.io.engine.transport.name, "polling");
    });

    test("WebSocket only: connect, join, chat with ack, own chat received", { timeout: TEST_TIMEOUT_MS }, async () => {
      const socket = await ctx.pool.connect({ transports: ["websocket"] });
      assert.equal(socket.io.engine.transport.name, "websocket");
      await joinChatEcho(socket, "websocket");
    });

    test("default transports: opens on polling and upgrades to WebSocket", { timeout: TEST_TIMEOUT_MS }, async () => {
      const socket = await ctx.pool.connect();
      await upgraded(socket);
      assert.equal(socket.io.engine.transport.name, "websocket");
      await joinChatEcho(socket, "upgraded");
    });

    test("rooms are isolated: a chat reaches its room's members only", { timeout: TEST_TIMEOUT_MS }, async () => {
      const r1 = uniqueRoom("r1");
      const r2 = uniqueRoom("r2");
      const [a, b, c] = await Promise.all([ctx.pool.connect(), ctx.pool.connect(), ctx.pool.connect()]);
      await join(a, r1, "a");
      await join(b, r1, "b");
      await join(c, r2, "c");
      const seenByC = record(c, "chat");

      const toA = nextEvent(a, "chat", (p) => p?.room === r1 && p?.msg === "for r1");
      const toB = nextEvent(b, "chat", (p) => p?.room === r1 && p?.msg === "for r1");
      const ack = await ackedEmit(a, "chat", { room: r1, name: "a", msg: "for r1" });
      assert.deepEqual(ack, { ok: true });
      assertChat(await toA, { room: r1, name: "a", msg: "for r1" });
      assertChat(await toB, { room: r1, name: "a", msg: "for r1" });

      await barrier(c, r2, "c");
      assert.deepEqual(
        seenByC.filter((p) => p?.room !== r2),
        [],
        "C (room r2) received chats of another room",
      );
    });

    test("leave: the leaver gets the leave event and no further chats", { timeout: TEST_TIMEOUT_MS }, async () => {
      const room = uniqueRoom("leave");
      const [a, b] = await Promise.all([ctx.pool.connect(), ctx.pool.connect()]);
      await join(a, room, "a");
      await join(b, room, "b");

      const beforeAtB = nextEvent(b, "chat", (p) => p?.room === room && p?.msg === "before");
      assert.deepEqual(await ackedEmit(a, "chat", { room, name: "a", msg: "before" }), { ok: true });
      await beforeAtB;

      const leaveAtA = nextEvent(a, "leave", (p) => p?.room === room && p?.name === "b");
      const leaveAtB = nextEvent(b, "leave", (p) => p?.room === room && p?.name === "b");
      b.emit("leave", { room, name: "b" });
      await Promise.all([leaveAtA, leaveAtB]);
      assert.equal(b.connected, true, "the room-form leave must not disconnect");

      const seenByB = record(b, "chat");
      const afterAtA = nextEvent(a, "chat", (p) => p?.room === room && p?.msg === "after");
      assert.deepEqual(await ackedEmit(a, "chat", { room, name: "a", msg: "after" }), { ok: true });
      await afterAtA;
      assert.deepEqual(await ackedEmit(b, "chat", { room, name: "b", msg: "gone" }), {
        ok: false,
        error: "not a member of room",
      });

      const own = uniqueRoom("b-alone");
      await join(b, own, "b");
      await barrier(b, own, "b");
      assert.deepEqual(seenByB.filter((p) => p?.room === room), [], "B received a chat of the room it had left");
    });

    test("legacy form: string join/leave and {name, msg} chat go to everyone; leave disconnects", { timeout: TEST_TIMEOUT_MS }, async () => {
      const [l1, l2] = await Promise.all([ctx.pool.connect(), ctx.pool.connect()]);

      const joinedAt = (s, name) => nextEvent(s, "join", (p) => p === name);
      let seen = [joinedAt(l1, "alice"), joinedAt(l2, "alice")];
      l1.emit("join", "alice");
      await Promise.all(seen);

      seen = [joinedAt(l1, "bob"), joinedAt(l2, "bob")];
      l2.emit("join", "bob");
      await Promise.all(seen);

      const chatAt = (s) => nextEvent(s, "chat", (p) => p?.name === "alice" && p?.msg === "hi, legacy");
      seen = [chatAt(l1), chatAt(l2)];
      assert.deepEqual(await ackedEmit(l1, "chat", { name: "alice", msg: "hi, legacy" }), { ok: true });
      for (const payload of await Promise.all(seen)) {
        assert.deepEqual(payload, { name: "alice", msg: "hi, legacy" }, "the legacy chat goes out as sent");
      }

      const disconnected = nextEvent(l1, "disconnect");
      const leaveEvents = record(l1, "leave");
      seen = [nextEvent(l2, "leave", (p) => p === "alice")];
      l1.emit("leave", "alice");
      await Promise.all(seen);
      assert.equal(await disconnected, "io server disconnect");
      assert.deepEqual(leaveEvents, ["alice"], "the leaver gets its own leave before the disconnect");
      assert.equal(l2.connected, true, "only the leaver is disconnected");
    });

    test("burst across the upgrade: every chat delivered once, in order per sender", { timeout: 60000 }, async (t) => {
      const SENDERS = 4;
      const PER_SENDER = 60;
      const TOTAL = SENDERS * PER_SENDER;
      const room = uniqueRoom("burst");
      const names = range(SENDERS).map((i) => `sender-${i}`);

      // deliveries(socket) -> Map sender name -> seqs in arrival order, for this room's burst chats.
      const deliveries = (socket) => {
        const bySender = new Map(names.map((n) => [n, []]));
        socket.on("chat", (p) => {
          if (p?.room === room && bySender.has(p?.sender)) bySender.get(p.sender).push(p.seq);
        });
        return bySender;
      };

      const receiver = await ctx.pool.connect({ transports: ["websocket"] });
      await join(receiver, room, "receiver");
      const atReceiver = deliveries(receiver);
      let allIn;
      const allReceived = new Promise((res) => (allIn = res));
      receiver.on("chat", () => {
        const n = [...atReceiver.values()].reduce((sum, seqs) => sum + seqs.length, 0);
        if (n >= TOTAL) allIn();
      });

      // Each sender opens on polling (the default) and, without waiting for anything, emits its join
      // and then its chats one per event-loop turn: the first ones leave on polling right after the
      // handshake, later ones while the WebSocket probe is in flight, the rest on the WebSocket.
      const atSenders = new Map();
      const senders = new Map();
      const sendAll = async (name) => {
        const { socket, connected } = ctx.pool.open();
        senders.set(name, socket);
        atSenders.set(name, deliveries(socket));
        let upgradedYet = false;
        socket.io.engine.once("upgrade", () => (upgradedYet = true));
        let beforeUpgrade = 0;
        socket.emit("join", { room, name });
        const acks = [];
        for (const seq of range(PER_SENDER)) {
          if (!upgradedYet) beforeUpgrade += 1;
          acks.push(ackedEmit(socket, "chat", { room, name, msg: `m${seq}`, sender: name, seq }, 20000));
          await pause(1);
        }
        await connected;
        const results = await Promise.all(acks);
        results.forEach((ack, seq) => assert.deepEqual(ack, { ok: true }, `${name} chat ${seq}`));
        await upgraded(socket);
        assert.equal(socket.io.engine.transport.name, "websocket", `${name} did not end on WebSocket`);
        return beforeUpgrade;
      };
      const sentBeforeUpgrade = await Promise.all(names.map(sendAll));
      t.diagnostic(`chats emitted before each sender's upgrade: ${sentBeforeUpgrade.join(", ")} of ${PER_SENDER}`);

      try {
        await raceTimeout(allReceived, 20000, `${TOTAL} chats at the receiver`);
      } catch (err) {
        const counts = [...atReceiver].map(([s, seqs]) => `${s}: ${seqs.length}`).join(", ");
        throw new Error(`${err.message}; received ${counts}`);
      }
      // A duplicate or a stray late copy would have been queued before the barrier's echo. Each sender
      // passes a barrier of its own too: the receiver having everything says nothing of what is still
      // on its way to a sender (a sender's copy of another's last chat could be checked before it came).
      await barrier(receiver, room, "receiver");
      await Promise.all(names.map((name) => barrier(senders.get(name), room, name)));
      for (const [sender, seqs] of atReceiver) {
        assert.deepEqual(seqs, range(PER_SENDER), `receiver: deliveries from ${sender}`);
      }

      // The senders received across their own upgrades too. Each got all of its own chats (it joined
      // before sending them) and, from each other sender, an unbroken run ending at the last chat:
      // it is a member from its join on, so nothing after the first delivery may be missing.
      for (const [name, bySender] of atSenders) {
        for (const [sender, seqs] of bySender) {
          const first = sender === name ? 0 : (seqs[0] ?? PER_SENDER);
          assert.deepEqual(seqs, range(PER_SENDER - first).map((i) => first + i), `${name}: deliveries from ${sender}`);
        }
      }
    });

    more(ctx);
  });
}
