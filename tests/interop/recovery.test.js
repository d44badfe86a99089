// Interop: connection state recovery (docs/recovery.md). The official socket.io-client 4.8, whose
// recovery needs nothing but the server's `pid` and offsets, against `fallbench serve
// --recovery-window`: a client whose connection is lost while its room chats comes back with
// `socket.recovered === true`, the same socket id, and every missed chat once, in order, with the
// offset still last among the arguments (the official client remembers it but leaves it there); a client
// that disconnected itself gets a fresh session.
//
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/interop/recovery.test.js

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { ClientPool, ackedEmit, join, nextEvent, raceTimeout, serverBinary, startServer, uniqueRoom } from "./harness.js";
import { TEST_TIMEOUT_MS, installWatchdog } from "./chat_suite.js";

installWatchdog("interop.recovery");

let server;
let pool;

before(async () => {
  server = await startServer(serverBinary(), ["--recovery-window", "120000"]);
  pool = new ClientPool(server.url);
});

after(async () => {
  pool?.closeAll();
  if (server) await server.stop(5000);
});

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

/** Every argument list `socket` gets for `event`, to check the offset is not among them. */
function recordArgs(socket, event) {
  const seen = [];
  socket.on(event, (...args) => seen.push(args));
  return seen;
}

test("a lost connection is recovered: same id, socket.recovered, every missed chat once", { timeout: TEST_TIMEOUT_MS }, async () => {
  const room = uniqueRoom("recover");
  // Reconnection after 1.5 s, no jitter: the room chats for about a second while the client is away.
  const victim = await pool.connect({
    transports: ["websocket"],
    reconnection: true,
    reconnectionDelay: 1500,
    reconnectionDelayMax: 1500,
    randomizationFactor: 0,
  });
  const other = await pool.connect({ transports: ["websocket"] });
  assert.equal(victim.recovered, false);
  await join(victim, room, "victim");
  await join(other, room, "other");
  const firstId = victim.id;
  const chats = recordArgs(victim, "chat");

  const lost = nextEvent(victim, "disconnect");
  victim.io.engine.close(); // the transport goes away without a Socket.IO DISCONNECT
  const reason = await lost;
  assert.notEqual(reason, "io client disconnect", "a lost connection, not a goodbye");
  const reconnected = nextEvent(victim, "connect", () => true, 10000);

  const missed = 20;
  for (let i = 0; i < missed; i += 1) {
    const ack = await ackedEmit(other, "chat", { room, name: "other", msg: `m${i}`, seq: i });
    assert.equal(ack?.ok, true);
    await sleep(50);
  }
  await reconnected;
  assert.equal(victim.recovered, true, "socket.recovered");
  assert.equal(victim.id, firstId, "the same socket id");

  await raceTimeout(
    (async () => {
      while (chats.length < missed) await sleep(20);
    })(),
    5000,
    `${missed} missed chats (got ${chats.length})`,
  );
  // Still in the room (no new join): a live chat follows the missed ones.
  const live = nextEvent(victim, "chat", (p) => p?.msg === "live");
  await ackedEmit(other, "chat", { room, name: "other", msg: "live", seq: missed });
  await live;
  await sleep(100);
  // socket.io-client 4.8 does not take the offset off: listeners get it as one more argument, and the
  // client remembers the last one it saw (`_lastOffset`) for its next CONNECT.
  assert.deepEqual(
    chats.map((args) => args.length === 2 && typeof args[1] === "string"),
    new Array(missed + 1).fill(true),
    "each chat is its payload and the offset",
  );
  const offsets = chats.map((args) => Number(args[1]));
  assert.ok(offsets.every((o, i) => i === 0 || o > offsets[i - 1]), `offsets increase: ${offsets}`);
  assert.equal(victim._lastOffset, chats.at(-1)[1], "the client remembers the last offset");
  assert.deepEqual(
    chats.map(([p]) => p.seq),
    [...Array(missed + 1).keys()],
    "every missed chat once, in order, then the live one",
  );
});

test("a client that disconnected itself is not recovered", { timeout: TEST_TIMEOUT_MS }, async () => {
  const room = uniqueRoom("goodbye");
  const socket = await pool.connect({ transports: ["websocket"], reconnection: true });
  await join(socket, room, "leaver");
  const firstId = socket.id;
  socket.disconnect();
  await sleep(200);
  const again = nextEvent(socket, "connect");
  socket.connect();
  await again;
  assert.equal(socket.recovered, false, "socket.recovered after a client-side disconnect");
  assert.notEqual(socket.id, firstId);
});
