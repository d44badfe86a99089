#!/usr/bin/env node
// The reference peer: the chat protocol of docs/design.md section 3 on the official `socket.io`
// server (the version pinned in the repository's package-lock.json), with the command line of
// `fallbench serve`. Studies run it beside our server as the yardstick. See README.md here.
//
//   node tools/peers/socketio-node/server.js --port 0
//
// Prints its URL as the first line of stdout; everything else goes to stderr. GET /metrics answers
// the chat counters (the keys of `fallbench serve`'s /metrics `chat` object) and process figures.

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as createTlsServer } from "node:https";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import { Server } from "socket.io";
import { attachChat } from "./chat.js";
import { attachCustom, requireStickyCookie } from "./custom.js";

const NAME = "socketio-node";
const require = createRequire(import.meta.url);
const SOCKET_IO_VERSION = require("socket.io/package.json").version;

class UsageError extends Error {}

// name -> [meta, help, default]; the defaults are those of `fallbench serve`, which are also
// socket.io's own (pingInterval 25 s, pingTimeout 20 s, maxHttpBufferSize 1e6, connectTimeout 45 s).
const FLAGS = {
  host: ["ADDR", "Address to listen on", "127.0.0.1"],
  port: ["PORT", "Port to listen on; 0 picks a free one", "3000"],
  transports: ["LIST", "Transports offered: polling, websocket or both, comma-separated", "polling,websocket"],
  "ping-interval": ["MS", "Heartbeat interval in milliseconds (pingInterval)", "25000"],
  "ping-timeout": ["MS", "How long a pong may take, in milliseconds (pingTimeout)", "20000"],
  "max-payload": ["BYTES", "Largest polling body or WebSocket message accepted (maxHttpBufferSize)", "1000000"],
  "connect-timeout": ["MS", "Close sessions that join no namespace within this time (connectTimeout)", "45000"],
  "recovery-window": ["MS", "connectionStateRecovery's maxDisconnectionDuration (skipMiddlewares on); 0: off, as `fallbench serve --recovery-window`", "0"],
  "cors-origin": ["ORIGIN", "Origin allowed cross-origin requests (repeatable; * for any). Default: none", undefined],
  protocol: ["NAME", "chat (docs/design.md) or custom (another dialect on /custom, see custom.js)", "chat"],
  "require-header": ["'NAME: VALUE'", "custom: refuse a CONNECT without this header. Default: none", undefined],
  "require-cookie": ["NAME=VALUE", "custom: refuse a CONNECT without this cookie. Default: none", undefined],
  "require-token": ["TOKEN", "custom: refuse a CONNECT whose auth.token is not this. Default: none", undefined],
  "sticky-cookie": ["NAME=VALUE", "Set this cookie on each handshake and refuse later requests without it. Default: none", undefined],
  redis: ["URL", "Join a cluster through this Redis (redis://HOST:PORT) with @socket.io/redis-adapter. Default: none", undefined],
  "redis-channel": ["NAME", "The adapter's channel prefix (its `key` option)", "socket.io"],
  "tls-cert": ["PEM", "Serve https and wss with this certificate chain (leaf first), as `fallbench serve --tls-cert`. Default: plain", undefined],
  "tls-key": ["PEM", "The private key of --tls-cert", undefined],
};

function help() {
  const lines = [
    `usage: node tools/peers/socketio-node/server.js [flags]`,
    ``,
    `The chat protocol of docs/design.md on socket.io ${SOCKET_IO_VERSION} (Node.js ${process.version}),`,
    `the reference peer studies run beside \`fallbench serve\`. Prints its URL as the first line.`,
    ``,
    `flags:`,
  ];
  for (const [name, [meta, text, fallback]] of Object.entries(FLAGS)) {
    const left = `  --${name} ${meta}`;
    lines.push(`${left.length >= 28 ? `${left}  ` : left.padEnd(28)}${text}${fallback !== undefined ? ` (default ${fallback})` : ""}`);
  }
  lines.push(`  --help                    This text`);
  return lines.join("\n") + "\n";
}

/** Parses argv as `fallbench serve` does: `--flag value` or `--flag=value`; the last value wins. */
function parseArgs(argv) {
  const values = new Map();
  for (let i = 0; i < argv.length; i += 1) {
    let a = argv[i];
    if (a === "--help" || a === "-h") return null;
    if (!a.startsWith("--") || a.length < 3) throw new UsageError(`unexpected argument '${a}'`);
    a = a.slice(2);
    let value;
    const eq = a.indexOf("=");
    if (eq >= 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (!Object.hasOwn(FLAGS, a)) {
      throw new UsageError(`unknown flag --${a} (this peer takes ${Object.keys(FLAGS).map((f) => `--${f}`).join(", ")})`);
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`--${a} needs a value (${FLAGS[a][0]})`);
      value = argv[++i];
    }
    if (!values.has(a)) values.set(a, []);
    values.get(a).push(value);
  }
  const str = (name) => values.get(name)?.at(-1) ?? FLAGS[name][2];
  const integer = (name, min, max) => {
    const text = str(name);
    if (!/^-?\d+$/.test(text)) throw new UsageError(`--${name}: not an integer: '${text}'`);
    const v = Number(text);
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new UsageError(`--${name}: ${text} is out of range [${min}, ${max}]`);
    }
    return v;
  };

  const transports = [];
  for (const t of str("transports").split(",")) {
    if (t !== "polling" && t !== "websocket") {
      throw new UsageError(`--transports: unknown transport '${t}' (polling, websocket)`);
    }
    if (!transports.includes(t)) transports.push(t);
  }
  const host = str("host");
  if (!isIP(host)) throw new UsageError(`--host: not an IP address: '${host}'`);
  const protocol = str("protocol");
  if (protocol !== "chat" && protocol !== "custom") throw new UsageError(`--protocol: chat or custom, got '${protocol}'`);
  const pair = (name, sep) => {
    const text = values.get(name)?.at(-1);
    if (text === undefined) return undefined;
    const at = text.indexOf(sep);
    if (at <= 0) throw new UsageError(`--${name}: want NAME${sep}VALUE, got '${text}'`);
    return [text.slice(0, at).trim(), text.slice(at + 1).trim()];
  };
  const require = { header: pair("require-header", ":"), cookie: pair("require-cookie", "="), token: values.get("require-token")?.at(-1) };
  if (protocol !== "custom" && (require.header || require.cookie || require.token)) {
    throw new UsageError("--require-header, --require-cookie and --require-token need --protocol custom");
  }
  const redis = values.get("redis")?.at(-1);
  if (redis !== undefined && !/^redis:\/\/[^/@?]+:\d+\/?$/.test(redis)) {
    throw new UsageError(`--redis: expected redis://HOST:PORT, got '${redis}'`);
  }
  const tlsCert = values.get("tls-cert")?.at(-1);
  const tlsKey = values.get("tls-key")?.at(-1);
  if ((tlsCert === undefined) !== (tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  let tls;
  if (tlsCert !== undefined) {
    const read = (flag, file) => {
      try {
        return readFileSync(file);
      } catch (err) {
        throw new UsageError(`--${flag} '${file}': ${err.message}`);
      }
    };
    tls = { cert: read("tls-cert", tlsCert), key: read("tls-key", tlsKey) };
  }
  return {
    tls,
    redis,
    redisChannel: str("redis-channel"),
    host,
    port: integer("port", 0, 65535),
    transports,
    pingInterval: integer("ping-interval", 1, 3_600_000),
    pingTimeout: integer("ping-timeout", 1, 3_600_000),
    maxPayload: integer("max-payload", 64, 1_000_000_000),
    connectTimeout: integer("connect-timeout", 1, 3_600_000),
    recoveryWindow: integer("recovery-window", 0, 86_400_000),
    corsOrigins: values.get("cors-origin") ?? [],
    protocol,
    require,
    sticky: pair("sticky-cookie", "="),
  };
}

/** The socket.io Server options for parsed flags. */
function serverOptions(opts) {
  const options = {
    transports: opts.transports,
    pingInterval: opts.pingInterval,
    pingTimeout: opts.pingTimeout,
    maxHttpBufferSize: opts.maxPayload,
    connectTimeout: opts.connectTimeout,
  };
  if (opts.recoveryWindow > 0) {
    options.connectionStateRecovery = { maxDisconnectionDuration: opts.recoveryWindow, skipMiddlewares: true };
  }
  if (opts.corsOrigins.length > 0) {
    // As `fallbench serve`: a listed origin (or any, for *) is echoed back, with credentials.
    options.cors = {
      origin: opts.corsOrigins.includes("*") ? true : opts.corsOrigins,
      credentials: true,
    };
  }
  return options;
}

function metrics(chat) {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    chat: chat.stats(),
    process: {
      cpu_user_us: cpu.user,
      cpu_system_us: cpu.system,
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
    },
    peer: { implementation: "socket.io", socket_io: SOCKET_IO_VERSION, node: process.version },
  };
}

async function main(argv) {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${NAME}: ${err.message}\n(see --help)\n`);
    return 2;
  }
  if (opts === null) {
    process.stdout.write(help());
    return 0;
  }

  let chat;
  // Requests outside /socket.io/ (socket.io's engine takes those first) land here.
  const onRequest = (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if ((req.method === "GET" || req.method === "HEAD") && path === "/metrics") {
      const body = JSON.stringify(metrics(chat));
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(req.method === "HEAD" ? undefined : body);
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain; charset=UTF-8" });
    res.end("not found\n");
  };
  let http;
  try {
    // TLS 1.2 and 1.3, as `fallbench serve` offers (docs/tls.md).
    http = opts.tls ? createTlsServer({ ...opts.tls, minVersion: "TLSv1.2" }, onRequest) : createServer(onRequest);
  } catch (err) {
    process.stderr.write(`${NAME}: --tls-cert/--tls-key: ${err.message}\n`);
    return 2;
  }
  // A cluster: the official Redis adapter, as socket.io's documentation sets it up (a publishing and
  // a subscribing client), connected before the URL is printed so no broadcast is lost at startup.
  const options = serverOptions(opts);
  let redisClients = [];
  if (opts.redis !== undefined) {
    const { createClient } = await import("redis");
    const { createAdapter } = await import("@socket.io/redis-adapter");
    const pubClient = createClient({ url: opts.redis, socket: { reconnectStrategy: (n) => Math.min(100 * 2 ** n, 5000) } });
    const subClient = pubClient.duplicate();
    for (const c of [pubClient, subClient]) c.on("error", (err) => process.stderr.write(`${NAME}: redis: ${err.message}\n`));
    redisClients = [pubClient, subClient];
    const timeout = new Promise((_, reject) => {
      setTimeout(() => reject(new Error(`no connection to Redis at ${opts.redis} within 10 s`)), 10_000).unref();
    });
    try {
      await Promise.race([Promise.all(redisClients.map((c) => c.connect())), timeout]);
    } catch (err) {
      process.stderr.write(`${NAME}: --redis: ${err.message}\n`);
      return 1;
    }
    options.adapter = createAdapter(pubClient, subClient, { key: opts.redisChannel });
  }
  const io = new Server(http, options);
  chat = opts.protocol === "custom" ? attachCustom(io, "/custom", opts.require) : attachChat(io);
  if (opts.sticky) requireStickyCookie(io, opts.sticky[0], opts.sticky[1]);

  // Graceful stop: io.close() closes every session and the HTTP server. A bounded wait: a stuck
  // connection must not keep the process alive. Installed before the URL is printed, so a signal
  // sent as soon as the URL is read is handled.
  const stopped = new Promise((resolve) => {
    let stopping = false;
    const stop = (signal) => {
      if (stopping) return;
      stopping = true;
      const forced = setTimeout(() => {
        process.stderr.write(`${NAME}: connections still open 5 s after ${signal}, exiting anyway\n`);
        resolve(0);
      }, 5000);
      forced.unref();
      io.close(() => {
        clearTimeout(forced);
        for (const c of redisClients) c.disconnect().catch(() => {});
        process.stderr.write(`${NAME}: stopped; ${JSON.stringify(metrics(chat))}\n`);
        resolve(0);
      });
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });

  try {
    await new Promise((resolve, reject) => {
      http.once("error", reject);
      http.listen(opts.port, opts.host, () => {
        http.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    process.stderr.write(`${NAME}: cannot listen on ${opts.host}:${opts.port}: ${err.message}\n`);
    return 1;
  }
  const { address, port } = http.address();
  const host = isIP(address) === 6 ? `[${address}]` : address;
  process.stdout.write(`${opts.tls ? "https" : "http"}://${host}:${port}\n`);
  process.stderr.write(
    `${NAME}: socket.io ${SOCKET_IO_VERSION} on Node.js ${process.version}, transports ` +
      `${opts.transports.join(",")}; Ctrl-C stops\n`,
  );
  return stopped;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${NAME}: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
