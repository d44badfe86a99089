// The chat protocol of docs/design.md section 3 on the official `socket.io` server, written to
// behave exactly as fallbench's own server/src/chat_app.cpp does: the same validation, the same
// acks and error strings, the same broadcasts, the same counters.
//
// attachChat(io) installs it on the namespace `/` of a socket.io Server and returns stats().

/** Longest name or room accepted, in UTF-8 bytes (max_name_bytes in chat_app.hpp). */
export const MAX_NAME_BYTES = 256;

// Rooms live in the adapter under this prefix, so a room can never be a socket id room (ids are
// base64, without ':'): `chat` to a room named like one's own id is "not a member", as in C++.
const ROOM_PREFIX = "room:";

const OK = Object.freeze({ ok: true });

/** A non-empty string of at most MAX_NAME_BYTES bytes. */
function validName(value) {
  return typeof value === "string" && value.length > 0 && Buffer.byteLength(value, "utf8") <= MAX_NAME_BYTES;
}

/** A JSON object (not an array, not null, not a binary attachment). */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) &&
    !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer);
}

/**
 * Installs the chat protocol on io.of("/"). Returns { stats() } where stats() answers the same
 * counters as chat_app::stats(): joins, leaves, chats, deliveries, invalid_events, rejected_chats,
 * rooms (rooms with at least one member).
 */
export function attachChat(io) {
  const nsp = io.of("/");
  const adapter = nsp.adapter;
  const c = { joins: 0, leaves: 0, chats: 0, deliveries: 0, invalid_events: 0, rejected_chats: 0 };
  let rooms = 0;
  adapter.on("create-room", (room) => {
    if (room.startsWith(ROOM_PREFIX)) rooms += 1;
  });
  adapter.on("delete-room", (room) => {
    if (room.startsWith(ROOM_PREFIX)) rooms -= 1;
  });

  // Deliveries are counted as C++ counts them: the number of sockets a broadcast was queued to.
  const toEveryone = (event, payload) => {
    c.deliveries += adapter.sids.size;
    nsp.emit(event, payload);
  };
  const toRoom = (key, event, payload) => {
    c.deliveries += adapter.rooms.get(key)?.size ?? 0;
    nsp.to(key).emit(event, payload);
  };

  const reject = (ack, error) => {
    c.rejected_chats += 1;
    c.invalid_events += 1;
    ack?.({ ok: false, error });
  };

  // Join and leave return null when done, or why they were ignored (the negative ack's error).
  function onJoin(socket, arg) {
    if (validName(arg)) {
      // The seed page's form: a bare name, announced to everyone.
      c.joins += 1;
      toEveryone("join", arg);
      return null;
    }
    if (!isObject(arg) || !validName(arg.room) || !validName(arg.name)) {
      c.invalid_events += 1;
      return "invalid join: room and name must be non-empty strings";
    }
    const key = ROOM_PREFIX + arg.room;
    socket.join(key); // synchronous with the in-memory adapter
    c.joins += 1;
    // The whole object goes out, unknown fields included: the harness tags its events.
    toRoom(key, "join", arg);
    return null;
  }

  function onChat(socket, arg, ack) {
    if (!isObject(arg) || !validName(arg.name)) {
      reject(ack, "invalid chat: name must be a non-empty string");
      return;
    }
    if (typeof arg.msg !== "string") {
      reject(ack, "invalid chat: msg must be a string");
      return;
    }
    if (!Object.hasOwn(arg, "room")) {
      // The seed page's form: {name, msg} to everyone.
      c.chats += 1;
      toEveryone("chat", arg);
      ack?.(OK);
      return;
    }
    if (!validName(arg.room)) {
      reject(ack, "invalid chat: room must be a non-empty string");
      return;
    }
    const key = ROOM_PREFIX + arg.room;
    if (!socket.rooms.has(key)) {
      reject(ack, "not a member of room");
      return;
    }
    c.chats += 1;
    toRoom(key, "chat", arg);
    ack?.(OK);
  }

  function onLeave(socket, arg) {
    if (validName(arg)) {
      // The seed page's form: announce to everyone (the leaver included), then disconnect it. The
      // close waits for the engine to flush what is queued, so the leaver still gets its `leave`.
      c.leaves += 1;
      toEveryone("leave", arg);
      socket.disconnect(true);
      return null;
    }
    if (!isObject(arg) || !validName(arg.room) || !validName(arg.name)) {
      c.invalid_events += 1;
      return "invalid leave: room and name must be non-empty strings";
    }
    const key = ROOM_PREFIX + arg.room;
    if (!socket.rooms.has(key)) {
      c.invalid_events += 1;
      return "not a member of room";
    }
    c.leaves += 1;
    toRoom(key, "leave", arg);
    socket.leave(key);
    return null;
  }

  nsp.on("connection", (socket) => {
    // A client may emit an event named "error"; without a listener Node's EventEmitter would throw
    // it from socket.io's dispatch and end the process. The chat handles it below, as unknown.
    socket.on("error", () => {});

    // Every event goes through here, before socket.io's middleware and dispatch, in arrival order.
    // An ack callback, when the client asked for one, is the last argument.
    socket.onAny((event, ...args) => {
      const ack = typeof args.at(-1) === "function" ? args.pop() : undefined;
      const first = args.length > 0 ? args[0] : null;
      if (event === "chat") {
        onChat(socket, first, ack);
        return;
      }
      let error;
      if (event === "join") {
        error = onJoin(socket, first);
      } else if (event === "leave") {
        error = onLeave(socket, first);
      } else {
        c.invalid_events += 1;
        error = "unknown event";
      }
      // As chat_app.cpp: an ack, when asked for, says whether the event was done (after a seed-form
      // leave the socket is closed: no ack goes out).
      ack?.(error === null ? OK : { ok: false, error });
    });
  });

  return {
    stats: () => ({ ...c, rooms }),
  };
}
