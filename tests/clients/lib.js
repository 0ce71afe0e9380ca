// What the Node bot scenarios share: their settings from the environment, REST calls as
// another user, a second socket that watches the room over raw DDP (so that it sees the
// frames as sent, not as a client library reshapes them), deadlines, and the one JSON line
// each script prints for tests/system/realtime_clients.rs.
"use strict";

const WebSocket = require("ws");

/** A required environment variable (the Rust test sets them all). */
function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The scenario's settings: see tests/system/realtime_clients.rs. */
function settings() {
  const url = env("RCPUSH_URL");
  return {
    url,
    ws: url.replace(/^http/, "ws") + "/websocket",
    host: url.replace(/^https?:\/\//, ""),
    bot: { username: env("BOT_USERNAME"), password: env("BOT_PASSWORD") },
    poster: { id: env("POSTER_ID"), token: env("POSTER_TOKEN") },
    watcher: { token: env("WATCHER_TOKEN") },
    room: { id: env("ROOM_ID"), name: env("ROOM_NAME") },
    nonce: env("NONCE"),
    timeoutMs: Number(process.env.STEP_TIMEOUT_MS || 20000),
  };
}

/** `promise`, or a rejection naming `what` after `ms`. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A REST call as `who` (`{id, token}`); the parsed answer, or an error with the body. */
async function rest(base, method, path, who, body) {
  const headers = { "X-User-Id": who.id, "X-Auth-Token": who.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/** `{"$date": ms}`, as DDP sends dates (EJSON). */
function isEjsonDate(v) {
  return v !== null && typeof v === "object" && Number.isFinite(v.$date) && Object.keys(v).length === 1;
}

/**
 * A second user's socket on the room's `stream-room-messages`, in plain DDP over `ws`:
 * connect, resume with a login token, subscribe; keeps every message the stream sends.
 */
class Watcher {
  constructor(wsUrl) {
    this.wsUrl = wsUrl;
    this.messages = [];
    this.waiters = [];
    this.pending = new Map();
    this.nextId = 0;
  }

  async start(token, rid, ms) {
    this.socket = new WebSocket(this.wsUrl);
    this.socket.on("message", (data) => this.onFrame(String(data)));
    this.closed = new Promise((resolve) => this.socket.on("close", (code) => resolve(code)));
    await within(ms, "the watcher's WebSocket to open", new Promise((resolve, reject) => {
      this.socket.once("open", resolve);
      this.socket.once("error", reject);
      this.socket.once("unexpected-response", (_req, res) =>
        reject(new Error(`GET /websocket answered ${res.statusCode}, not an upgrade`)));
    }));
    const connected = new Promise((resolve) => (this.onConnected = resolve));
    this.send({ msg: "connect", version: "1", support: ["1", "pre2", "pre1"] });
    await within(ms, "the watcher's `connected`", connected);
    const login = await within(ms, "the watcher's resume login", this.request({ msg: "method", method: "login", params: [{ resume: token }] }));
    if (login.error) throw new Error(`watcher login: ${JSON.stringify(login.error)}`);
    this.userId = login.result.id;
    const sub = await within(ms, "the watcher's `ready`", this.request({
      msg: "sub", name: "stream-room-messages", params: [rid, { useCollection: false, args: [] }],
    }));
    if (sub.msg !== "ready") throw new Error(`watcher sub: ${JSON.stringify(sub)}`);
  }

  send(frame) {
    this.socket.send(JSON.stringify(frame));
  }

  /** Sends `frame` with a fresh id; resolves with the `result`, `ready` or `nosub` for it. */
  request(frame) {
    const id = String(this.nextId++);
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.send({ ...frame, id });
    });
  }

  onFrame(text) {
    const frame = JSON.parse(text);
    const settle = (id) => {
      const resolve = this.pending.get(id);
      if (resolve) {
        this.pending.delete(id);
        resolve(frame);
      }
    };
    switch (frame.msg) {
      case "connected":
        this.onConnected && this.onConnected(frame);
        break;
      case "ping":
        this.send(frame.id === undefined ? { msg: "pong" } : { msg: "pong", id: frame.id });
        break;
      case "result":
      case "nosub":
        settle(frame.id);
        break;
      case "ready":
        frame.subs.forEach(settle);
        break;
      case "changed":
        if (frame.collection === "stream-room-messages" && Array.isArray(frame.fields.args)) {
          this.messages.push(frame.fields.args[0]);
          this.waiters = this.waiters.filter((w) => !w());
        }
        break;
      default:
        break;
    }
  }

  /** The first message (already seen or still to come) for which `pred` holds. */
  waitFor(what, ms, pred) {
    return within(ms, `the watcher to see ${what}`, new Promise((resolve) => {
      const check = () => {
        const found = this.messages.find(pred);
        if (found) resolve(found);
        return Boolean(found);
      };
      if (!check()) this.waiters.push(check);
    }));
  }

  close() {
    if (this.socket) this.socket.close();
  }
}

/**
 * The scenario's middle, alike for every client once its bot listens to the room: the
 * watcher starts, the poster posts the trigger over REST, and the bot's client hands it over
 * (`trigger`, resolved with `{message, meta}`). Records both in `observed`; returns the
 * watcher and the message.
 */
async function postTrigger(s, observed, triggerText, trigger) {
  const watcher = new Watcher(s.ws);
  await watcher.start(s.watcher.token, s.room.id, s.timeoutMs);
  const posted = await rest(s.url, "POST", "/api/v1/chat.postMessage", s.poster, { roomId: s.room.id, text: triggerText });
  observed.trigger_id = posted.message._id;
  const { message, meta } = await within(s.timeoutMs, "the bot to receive the message", trigger);
  observed.received = { _id: message._id, rid: message.rid, msg: message.msg, u: message.u, ts_is_date: isEjsonDate(message.ts), meta };
  return { watcher, message };
}

/**
 * What the watcher saw of the bot's reply, reaction and edit, shaped alike for every client
 * (tests/system/realtime_clients.rs asserts on it).
 */
async function watchOutcome(watcher, s, triggerId, botId, replyText, editedText) {
  const reply = await watcher.waitFor("the bot's reply", s.timeoutMs, (m) => m.u && m.u._id === botId && m.msg === replyText);
  const reaction = await watcher.waitFor("the reaction on the trigger", s.timeoutMs, (m) => m._id === triggerId && m.reactions);
  const edit = await watcher.waitFor("the edited reply", s.timeoutMs, (m) => m._id === reply._id && m.msg === editedText);
  return {
    reply: { _id: reply._id, msg: reply.msg, rid: reply.rid, u: reply.u, ts_is_date: isEjsonDate(reply.ts) },
    reaction: { _id: reaction._id, reactions: reaction.reactions },
    edit: { _id: edit._id, msg: edit.msg, editedAt_is_date: isEjsonDate(edit.editedAt), editedBy: edit.editedBy },
  };
}

/** Prints the observations as one JSON line and ends the process. */
function finish(observed) {
  process.stdout.write(JSON.stringify(observed) + "\n");
  process.exit(0);
}

/** Prints what failed as one JSON line (with what was observed so far) and fails. */
function fail(err, observed) {
  // A DDP error arrives as a plain object (Meteor's error fields): kept as JSON.
  const error = err instanceof Error ? String(err.stack || err) : JSON.stringify(err);
  process.stdout.write(JSON.stringify({ ...observed, error }) + "\n");
  process.exit(1);
}

module.exports = { settings, within, postTrigger, watchOutcome, finish, fail };
