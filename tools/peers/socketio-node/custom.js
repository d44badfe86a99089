// A chat in another dialect (`--protocol custom`), to show fallbench against a server that is not
// built for it (docs/targets.md): another namespace, other event names and payloads, no ack for a
// join, a delivery that keeps only who said what, and a door that wants a header, a cookie and an
// auth token. What fallbench's event mapping (bench/scenarios/target-example.json) has to describe.
//
//   namespace /custom
//   enter {channel, user}          -> the channel hears `entered {channel, user}` (the joiner too); no ack
//   say   {channel, user, text}    -> the channel hears `said {user, text}`; acked {status: "sent"}
//   exit  {channel, user}          -> the channel hears `exited {channel, user}`, then it leaves

/**
 * Installs the dialect on io.of(nsp). `require` holds what a CONNECT must bring: `header` ([name,
 * value]), `cookie` ([name, value]) and `token` (auth.token); each unset is not checked. A refused
 * CONNECT gets CONNECT_ERROR {message: "not authorized: <what was missing>"}. Returns { stats() }.
 */
export function attachCustom(io, nsp, require) {
  const ns = io.of(nsp);
  const c = { joins: 0, leaves: 0, chats: 0, deliveries: 0, invalid_events: 0, rejected_chats: 0 };
  const cookieOf = (header, name) => {
    for (const part of (header ?? "").split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
    return undefined;
  };
  ns.use((socket, next) => {
    const h = socket.handshake;
    const missing = [];
    if (require.header && h.headers[require.header[0].toLowerCase()] !== require.header[1]) missing.push(`header ${require.header[0]}`);
    if (require.cookie && cookieOf(h.headers.cookie, require.cookie[0]) !== require.cookie[1]) missing.push(`cookie ${require.cookie[0]}`);
    if (require.token && h.auth?.token !== require.token) missing.push("auth token");
    if (missing.length > 0) return next(new Error(`not authorized: ${missing.join(", ")}`));
    return next();
  });
  const str = (v) => typeof v === "string" && v.length > 0 && v.length <= 256;
  const key = (channel) => `channel:${channel}`;
  const toChannel = (channel, event, payload) => {
    c.deliveries += ns.adapter.rooms.get(key(channel))?.size ?? 0;
    ns.to(key(channel)).emit(event, payload);
  };
  ns.on("connection", (socket) => {
    socket.on("enter", (p) => {
      if (!p || !str(p.channel) || !str(p.user)) return void (c.invalid_events += 1);
      c.joins += 1;
      socket.join(key(p.channel));
      toChannel(p.channel, "entered", { channel: p.channel, user: p.user });
    });
    socket.on("say", (p, ack) => {
      if (!p || !str(p.channel) || !str(p.user) || typeof p.text !== "string" || !socket.rooms.has(key(p.channel))) {
        c.invalid_events += 1;
        c.rejected_chats += 1;
        if (typeof ack === "function") ack({ status: "refused" });
        return;
      }
      c.chats += 1;
      toChannel(p.channel, "said", { user: p.user, text: p.text });
      if (typeof ack === "function") ack({ status: "sent" });
    });
    socket.on("exit", (p) => {
      if (!p || !str(p.channel) || !str(p.user)) return void (c.invalid_events += 1);
      c.leaves += 1;
      toChannel(p.channel, "exited", { channel: p.channel, user: p.user });
      socket.leave(key(p.channel));
    });
  });
  return {
    stats: () => {
      let rooms = 0;
      for (const k of ns.adapter.rooms.keys()) if (k.startsWith("channel:")) rooms += 1;
      return { ...c, rooms };
    },
  };
}

/**
 * A load balancer's stickiness cookie, as haproxy's `cookie NAME insert`: set on every handshake
 * answer, and every later request of a session (polling or the WebSocket upgrade) without it is
 * refused (HTTP 400), so a client that does not keep cookies cannot stay.
 */
export function requireStickyCookie(io, name, value) {
  io.engine.on("initial_headers", (headers) => {
    headers["set-cookie"] = `${name}=${value}; Path=/`;
  });
  io.engine.use((req, res, next) => {
    const sid = new URL(req.url ?? "/", "http://x").searchParams.get("sid");
    if (!sid) return next();
    const has = (req.headers.cookie ?? "").split(";").some((p) => p.trim() === `${name}=${value}`);
    return has ? next() : next(new Error("sticky cookie missing"));
  });
}
