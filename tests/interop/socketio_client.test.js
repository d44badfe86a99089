// Interop: the official socket.io-client (npm, pinned in package-lock.json) against `fallbench serve`,
// over each transport strategy, speaking the chat protocol of docs/design.md section 3: the shared
// chat suite (chat_suite.js, also run against the reference peer by peer.test.js) and what is
// particular to our server.
//
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/interop/     (what ctest runs)
//   node tests/interop/socketio_client.test.js build/ci/fallbench    (the same, by hand)
//
// Every wait is bounded (harness.js), every test has a timeout, and a watchdog ends the process
// before ctest's own TIMEOUT, so a broken server fails the suite instead of hanging it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ackedEmit, barrier, join, record, serverBinary, startServer, uniqueRoom } from "./harness.js";
import { TEST_TIMEOUT_MS, chatSuite, installWatchdog } from "./chat_suite.js";

installWatchdog("interop");

chatSuite("fallbench serve with the official socket.io-client", () => startServer(serverBinary()), (ctx) => {
  test("acks: negative for a room not joined and for a malformed chat", { timeout: TEST_TIMEOUT_MS }, async () => {
    const socket = await ctx.pool.connect({ transports: ["websocket"] });
    const mine = uniqueRoom("mine");
    const other = uniqueRoom("other");
    await join(socket, mine, "alice");
    const seen = record(socket, "chat");

    const notMember = await ackedEmit(socket, "chat", { room: other, name: "alice", msg: "hi" });
    assert.equal(notMember?.ok, false, `ack ${JSON.stringify(notMember)}`);
    assert.equal(typeof notMember.error, "string", `ack ${JSON.stringify(notMember)}`);

    const malformed = await ackedEmit(socket, "chat", { room: mine, name: "alice", msg: 42 });
    assert.equal(malformed?.ok, false, `ack ${JSON.stringify(malformed)}`);
    if ("error" in malformed) assert.equal(typeof malformed.error, "string");

    // Neither refused chat was delivered, not even to the sender (a member of `mine`).
    await barrier(socket, mine, "alice");
    assert.deepEqual(
      seen.filter((p) => p?.room === other || p?.msg === 42),
      [],
      "a refused chat was delivered",
    );
  });

  test("stops cleanly on SIGTERM", { timeout: TEST_TIMEOUT_MS }, async () => {
    ctx.pool.closeAll();
    assert.equal(ctx.server.child.exitCode, null, `the server exited during the tests (code ${ctx.server.child.exitCode})`);
    assert.equal(ctx.server.child.signalCode, null, `the server was killed during the tests (${ctx.server.child.signalCode})`);
    const { code, signal } = await ctx.server.stop(5000);
    assert.equal(signal, null, `the server did not exit by itself within 5 s of SIGTERM (${signal})`);
    assert.equal(code, 0, "exit code after SIGTERM");
  });
});
