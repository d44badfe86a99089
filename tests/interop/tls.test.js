// Interop over TLS (docs/tls.md): the official socket.io-client in Node against `fallbench serve
// --tls-cert --tls-key`, over https (polling), wss (websocket) and the upgrade from one to the other,
// trusting the throwaway CA of tests/support/make-test-pki through its `ca` option, with verification
// on (rejectUnauthorized, the default); a client trusting another CA gets a connect_error.
//
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/interop/tls.test.js    (what ctest runs)

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { fileURLToPath } from "node:url";
import { ClientPool, ackedEmit, join, nextEvent, serverBinary, startServer, uniqueRoom, upgraded } from "./harness.js";
import { TEST_TIMEOUT_MS, installWatchdog } from "./chat_suite.js";

installWatchdog("interop-tls");

const MAKE_PKI = fileURLToPath(new URL("../support/make-test-pki", import.meta.url));

/** A throwaway CA and server certificate in a new directory; null (with the reason) without openssl. */
function makePki() {
  const dir = mkdtempSync(joinPath(tmpdir(), "fallbench-tls-"));
  const made = spawnSync(MAKE_PKI, [dir], { encoding: "utf8" });
  if (made.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `make-test-pki exited ${made.status}: ${made.stderr.trim()}` };
  }
  return { dir, ca: readFileSync(joinPath(dir, "ca.pem")) };
}

const pki = makePki();
const other = pki.skip ? pki : makePki();

describe("fallbench serve over TLS with the official socket.io-client", { skip: pki.skip ?? other.skip }, () => {
  let server;
  let pool;

  before(async () => {
    server = await startServer(serverBinary(), [
      "--tls-cert", joinPath(pki.dir, "server.pem"),
      "--tls-key", joinPath(pki.dir, "server-key.pem"),
    ]);
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/, "serve prints its https URL first");
    pool = new ClientPool(server.url);
  });

  after(async () => {
    pool?.closeAll();
    const stopped = await server?.stop();
    if (stopped) assert.equal(stopped.code, 0, `server exit: ${JSON.stringify(stopped)}`);
    for (const p of [pki, other]) if (p.dir) rmSync(p.dir, { recursive: true, force: true });
  });

  const strategies = {
    polling: { transports: ["polling"] },
    websocket: { transports: ["websocket"] },
    upgrade: { transports: ["polling", "websocket"] },
  };

  for (const [name, options] of Object.entries(strategies)) {
    test(`${name}: connect, join, chat with its ack`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const socket = await pool.connect({ ...options, ca: pki.ca });
      if (name === "upgrade") await upgraded(socket);
      assert.equal(socket.io.engine.transport.name, name === "polling" ? "polling" : "websocket");
      const room = uniqueRoom("tls");
      await join(socket, room, "node");
      const own = nextEvent(socket, "chat", (p) => p?.room === room && p?.msg === "over TLS");
      const ack = await ackedEmit(socket, "chat", { room, name: "node", msg: "over TLS" });
      assert.deepEqual(ack, { ok: true });
      await own;
      socket.close();
    });
  }

  for (const name of ["polling", "websocket"]) {
    test(`${name}: a certificate from a CA the client does not trust is refused`, { timeout: TEST_TIMEOUT_MS }, async () => {
      await assert.rejects(pool.connect({ ...strategies[name], ca: other.ca }), /connect_error/);
    });
  }
});
