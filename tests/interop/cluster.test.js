// Clusters sharing rooms through a real redis-server (docs/cluster.md), driven by the official
// socket.io-client: two nodes of the reference peer (tools/peers/socketio-node with
// @socket.io/redis-adapter), and, when FALLBENCH_BIN names our server, two `fallbench serve --redis`
// nodes. A member on node 2 hears a chat sent on node 1, once, with its fields as sent.
//
//   node --test tests/interop/cluster.test.js
//   FALLBENCH_BIN=build/ci/fallbench node --test tests/interop/cluster.test.js   (what ctest runs)
//
// Needs redis-server on PATH: without it the suite exits 77 (ctest: skipped) saying so. Loopback
// only; redis-server on a port found free (it cannot bind port 0), the nodes on port 0.

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createServer, connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import {
  ClientPool,
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
import { TEST_TIMEOUT_MS, installWatchdog } from "./chat_suite.js";

if (spawnSync("redis-server", ["--version"]).error) {
  process.stderr.write("cluster: SKIP: redis-server is not installed (Debian package redis-server)\n");
  process.exit(77);
}
installWatchdog("cluster");

/** A port free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** INFO server's process_id of the Redis on `port`, or null. */
function redisPid(port) {
  return new Promise((res) => {
    const sock = connect(port, "127.0.0.1");
    let text = "";
    const done = (v) => {
      sock.destroy();
      res(v);
    };
    sock.setTimeout(500, () => done(null));
    sock.on("error", () => done(null));
    sock.on("connect", () => sock.write("INFO server\r\n"));
    sock.on("data", (d) => {
      text += d;
      const m = /process_id:(\d+)/.exec(text);
      if (m) done(Number(m[1]));
    });
  });
}

/** Starts redis-server on a free port (retrying on a collision); { url, stop() }. */
async function startRedis() {
  const dir = mkdtempSync(joinPath(tmpdir(), "fallbench-redis-"));
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const port = await freePort();
    const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                         "--dir", dir, "--loglevel", "warning"], { stdio: "ignore" });
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && child.exitCode === null) {
      if ((await redisPid(port)) === child.pid) {
        return {
          url: `redis://127.0.0.1:${port}`,
          stop: async () => {
            process.off("exit", killOnExit);
            child.kill("SIGTERM");
            await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
  }
  throw new Error("redis-server did not start on a free port in 5 attempts");
}

/** Node 1 and node 2 of a cluster, a member joined on each; a chat on node 1 reaches node 2. */
async function crossNodeChat(urls, transports) {
  const pools = urls.map((u) => new ClientPool(u));
  try {
    const room = uniqueRoom("cluster");
    const [a, b] = await Promise.all(pools.map((p) => p.connect({ transports })));
    await join(b, room, "bob");
    // Bob's node has him in the room; alice's node has her: the room spans both nodes.
    const aliceHeard = nextEvent(b, "join", (p) => p?.name === "alice");
    await join(a, room, "alice");
    await aliceHeard;  // alice's join crossed to node 2 too
    const seenByBob = record(b, "chat");
    const got = nextEvent(b, "chat", (p) => p?.msg === "over the wire");
    const ack = await ackedEmit(a, "chat", { room, name: "alice", msg: "over the wire", extra: { n: [1, 2] } });
    assert.deepEqual(ack, { ok: true });
    const payload = await got;
    assert.equal(payload.room, room);
    assert.equal(payload.name, "alice");
    assert.deepEqual(payload.extra, { n: [1, 2] }, "unknown fields travel across nodes untouched");
    // Once: a round trip of bob's own after it proves no second copy was on its way.
    await barrier(b, room, "bob");
    assert.equal(seenByBob.filter((p) => p?.msg === "over the wire").length, 1, "delivered exactly once");
  } finally {
    for (const p of pools) p.closeAll();
  }
}

describe("2-node clusters through redis-server", { timeout: TEST_TIMEOUT_MS * 2 }, () => {
  let redis;
  const nodes = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    if (redis) await redis.stop();
  });

  test("the reference peer with @socket.io/redis-adapter delivers across nodes", { timeout: TEST_TIMEOUT_MS }, async () => {
    redis ??= await startRedis();
    const peers = [await startPeer(["--redis", redis.url]), await startPeer(["--redis", redis.url])];
    nodes.push(...peers);
    await crossNodeChat(peers.map((p) => p.url), ["websocket"]);
    await crossNodeChat(peers.map((p) => p.url), ["polling"]);
  });

  test("fallbench serve --redis delivers across nodes", { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const bin = process.env.FALLBENCH_BIN;
    if (!bin) {
      t.skip("FALLBENCH_BIN not set");
      return;
    }
    redis ??= await startRedis();
    const servers = [
      await startServer(bin, ["--redis", redis.url, "--node-id", "n1"]),
      await startServer(bin, ["--redis", redis.url, "--node-id", "n2"]),
    ];
    nodes.push(...servers);
    await crossNodeChat(servers.map((s) => s.url), ["websocket"]);
    await crossNodeChat(servers.map((s) => s.url), ["polling"]);
    const metrics = await Promise.all(
      servers.map(async (s) => (await fetch(new URL("/metrics", s.url), { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) })).json()),
    );
    for (const m of metrics) {
      assert.ok(m.cluster.published > 0, `published: ${JSON.stringify(m.cluster)}`);
      assert.ok(m.cluster.relayed_deliveries > 0, `relayed: ${JSON.stringify(m.cluster)}`);
      assert.equal(m.cluster.dropped, 0);
      assert.equal(m.cluster.malformed, 0);
      // Each node hears its own messages back from Redis and skips them: never echoed to its members.
      assert.equal(m.cluster.own_skipped, m.cluster.published);
    }
  });
});
