// Test harness for the interop suite: starts `fallbench serve` (or the reference peer,
// tools/peers/socketio-node) as a child process and wraps the official socket.io-client in promise
// helpers that always end, with a result or a timeout error.
// Loopback only: the server is started on 127.0.0.1 with an ephemeral port (--port 0).

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

/** Default bound for one awaited step (connect, an event, an ack). */
export const STEP_TIMEOUT_MS = 5000;

/** Resolves the server binary: first CLI argument, else FALLBENCH_BIN. */
export function serverBinary() {
  const arg = process.argv.slice(2).find((a) => !a.startsWith("-"));
  const bin = arg ?? process.env.FALLBENCH_BIN;
  if (!bin) {
    throw new Error(
      "no server binary: pass its path as an argument or set FALLBENCH_BIN",
    );
  }
  return isAbsolute(bin) ? bin : resolve(bin);
}

/**
 * Starts `BIN serve --host 127.0.0.1 --port 0 --threads 2 ...extra` and waits for the first stdout
 * line, which must be the URL it listens on. The server's stderr is forwarded, prefixed.
 * Returns { url, child, stop(), exited } where `exited` resolves to { code, signal }.
 */
export function startServer(bin, extra = [], timeoutMs = 10000) {
  return startCommand(bin, ["serve", "--host", "127.0.0.1", "--port", "0", "--threads", "2", ...extra], {
    timeoutMs,
  });
}

/** The reference peer's entry point: tools/peers/socketio-node/server.js (run with this Node). */
export const PEER_SCRIPT = fileURLToPath(new URL("../../tools/peers/socketio-node/server.js", import.meta.url));

/**
 * Starts the reference peer (the chat protocol on the official socket.io server) with
 * `--host 127.0.0.1 --port 0 ...extra`, as startServer() does `fallbench serve`; same result.
 */
export function startPeer(extra = [], timeoutMs = 10000) {
  return startCommand(process.execPath, [PEER_SCRIPT, "--host", "127.0.0.1", "--port", "0", ...extra], {
    timeoutMs,
    label: "peer",
  });
}

/**
 * Starts `command ...args`, a server that prints its loopback URL as the first line of stdout, and
 * waits for that line (at most `timeoutMs`; http or, for a TLS listener, https). Its stderr is forwarded, each line prefixed with
 * `[label]`. Returns { url, child, stop(), exited } where `exited` resolves to { code, signal } and
 * stop(graceMs) sends SIGTERM, then SIGKILL after `graceMs`, and resolves to the same.
 */
export async function startCommand(command, args, { timeoutMs = 10000, label = "server" } = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });

  const exited = new Promise((res) => {
    child.once("exit", (code, signal) => {
      // A grandchild (e.g. under a wrapper script) may hold the pipes open: do not wait for it.
      child.stdout.destroy();
      child.stderr.destroy();
      res({ code, signal });
    });
  });
  // A failed spawn (ENOENT, EACCES) emits 'error' and possibly no 'exit'.
  const spawnFailed = new Promise((_, rej) => {
    child.once("error", (err) => rej(new Error(`cannot start ${command}: ${err.message}`)));
  });
  spawnFailed.catch(() => {});

  createInterface({ input: child.stderr }).on("line", (line) => {
    process.stderr.write(`[${label}] ${line}\n`);
  });
  const stdoutLines = createInterface({ input: child.stdout });
  const firstLine = new Promise((res) => stdoutLines.once("line", res));
  // Keep draining stdout so the server never blocks on a full pipe.
  stdoutLines.on("line", () => {});

  const stop = async (graceMs = 5000) => {
    if (child.pid === undefined) return { code: null, signal: null }; // never started
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  // Never leave the server behind, whatever way this process ends (one listener per live server).
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  exited.then(() => process.off("exit", killOnExit));

  let url;
  try {
    url = await raceTimeout(
      Promise.race([
        firstLine,
        spawnFailed,
        exited.then(({ code, signal }) => {
          throw new Error(`server exited before printing its URL (code ${code}, signal ${signal})`);
        }),
      ]),
      timeoutMs,
      "the server's first stdout line (its URL)",
    );
  } catch (err) {
    await stop(1000);
    throw err;
  }
  url = url.trim();
  if (!isLoopbackUrl(url)) {
    await stop(1000);
    throw new Error(`first stdout line is not a loopback http(s) URL with a port: ${JSON.stringify(url)}`);
  }
  return { url, child, stop, exited };
}

function isLoopbackUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  const loopback = /^127\.\d+\.\d+\.\d+$/.test(url.hostname) || ["localhost", "[::1]"].includes(url.hostname);
  return (url.protocol === "http:" || url.protocol === "https:") && loopback && url.port !== "";
}

/** Rejects with "timed out waiting for WHAT" unless `promise` settles within `ms`. */
export function raceTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, rej) => {
    timer = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Tracks every client a test opens so that `closeAll()` (in afterEach) closes them even when the
 * test failed halfway.
 */
export class ClientPool {
  constructor(url) {
    this.url = url;
    this.sockets = new Set();
  }

  /**
   * Opens a client (no reconnection, a fresh Manager each time) and waits for `connect`.
   * `options` go to io(), e.g. { transports: ['websocket'] }.
   */
  async connect(options = {}, ms = STEP_TIMEOUT_MS) {
    const { socket, connected } = this.open(options, ms);
    await connected;
    return socket;
  }

  /**
   * Opens a client without waiting: returns { socket, connected } where `connected` settles on
   * `connect` (or rejects on `connect_error` or after `ms`). Emits made before then are buffered by
   * the client and sent, in order, right after the Socket.IO handshake.
   */
  open(options = {}, ms = STEP_TIMEOUT_MS) {
    const socket = io(this.url, {
      forceNew: true,
      reconnection: false,
      timeout: ms,
      ...options,
    });
    this.sockets.add(socket);
    const connected = raceTimeout(
      new Promise((res, rej) => {
        socket.once("connect", res);
        socket.once("connect_error", (err) => rej(new Error(`connect_error: ${err.message}`)));
      }),
      ms,
      `connect (${JSON.stringify(options)})`,
    );
    connected.catch(() => {});
    return { socket, connected };
  }

  closeAll() {
    for (const socket of this.sockets) socket.close();
    this.sockets.clear();
  }
}

/**
 * Waits for the first `event` on `socket` whose arguments satisfy `match` (default: any) and
 * resolves to its first argument.
 * Call it BEFORE the action that causes the event, then await it.
 */
export function nextEvent(socket, event, match = () => true, ms = STEP_TIMEOUT_MS) {
  let handler;
  const got = new Promise((res) => {
    handler = (...args) => {
      if (match(...args)) res(args[0]);
    };
    socket.on(event, handler);
  });
  return raceTimeout(got, ms, `event '${event}' on socket ${socket.id}`).finally(() =>
    socket.off(event, handler),
  );
}

/** Records every `event` on `socket` into an array (for "never received" checks). */
export function record(socket, event) {
  const seen = [];
  socket.on(event, (payload) => seen.push(payload));
  return seen;
}

/** Emits with an acknowledgement and resolves to the ack's argument, bounded by `ms`. */
export function ackedEmit(socket, event, payload, ms = STEP_TIMEOUT_MS) {
  return socket
    .timeout(ms)
    .emitWithAck(event, payload)
    .catch((err) => {
      throw new Error(`no ack for '${event}' within ${ms} ms (${err.message})`);
    });
}

/** Emits `join` {room, name} and waits for the joiner's own `join` echo (the room form). */
export async function join(socket, room, name) {
  const echoed = nextEvent(socket, "join", (p) => p?.room === room && p?.name === name);
  socket.emit("join", { room, name });
  await echoed;
}

/** Waits until the engine of `socket` runs on WebSocket (immediately if it already does). */
export async function upgraded(socket, ms = STEP_TIMEOUT_MS) {
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") return;
  const done = new Promise((res, rej) => {
    engine.once("upgrade", res);
    engine.once("upgradeError", (err) => rej(new Error(`upgradeError: ${err.message}`)));
  });
  await raceTimeout(done, ms, "the engine's 'upgrade' event");
}

/**
 * A round trip through the server on `socket`: chats a marker into `room` (which it must have
 * joined) and waits for its own copy. Deliveries that the server queued for this socket before it
 * handled the marker arrive before the marker's echo, so "X not received" checked after
 * `barrier` means X was not delivered, with no sleep.
 */
export async function barrier(socket, room, name) {
  const marker = `barrier-${Math.random().toString(36).slice(2)}`;
  const echoed = nextEvent(socket, "chat", (p) => p?.room === room && p?.msg === marker);
  const ack = await ackedEmit(socket, "chat", { room, name, msg: marker });
  if (ack?.ok !== true) throw new Error(`barrier chat was refused: ${JSON.stringify(ack)}`);
  await echoed;
}

let roomCounter = 0;
/** A room name unique to this run, so tests sharing one server never see each other's rooms. */
export function uniqueRoom(label) {
  roomCounter += 1;
  return `${label}-${process.pid}-${roomCounter}`;
}
