// dobench workload protocol as a Cloudflare Worker with real Durable Objects.
//
// The front Worker parses and validates every request, maps `{object}` to a
// Durable Object id with idFromName, and calls the object over RPC (or, for the
// WebSocket upgrade, forwards the request to the object's fetch handler).
// One Durable Object class per workload; every class is SQLite-backed.
//
// Routes (see /work/shared/DESIGN.md, "The workload protocol"):
//   POST /counter/{object}/increment?by=N[&rows=K] -> {"value":n} (K padding rows rewritten)
//   GET  /counter/{object}                       -> {"value":n}
//   POST /ratelimit/{object}/check?key=K&limit=L&window_ms=W
//                                                -> 200 {"allowed":true,"remaining":n}
//                                                   429 {"allowed":false,"retry_after_ms":n}
//   GET  /chat/{object}/ws?user=U                -> WebSocket (hibernation API)
//   GET  /chat/{object}/history?limit=N          -> {"messages":[...]} (the last N)
//   GET  /chat/{object}/history?after_seq=S&limit=N -> the first N after seq S (a page)
//   POST /alarm/{object}/schedule?at_ms=T&fail_times=K -> {"scheduled_ms":T}
//   GET  /alarm/{object}/fired                   -> {"fired":[...]}
//   POST /aggregator/{object}/increment?parent=P&by=N -> {"value":v,"total":t}
//        (the shard calls parent P's add(N) over RPC, then counts N itself)
//   GET  /aggregator/{object}                    -> {"value":v}
//   GET  /aggregator/{object}/total              -> {"total":t}
//   POST /lock/{object}/hold?hold_ms=H&ttl_ms=T  -> {"token","granted_us","released_us","expires_us","waited_us"}
//   GET  /lock/{object}/state                    -> {"grants","violations","held","waiting"}
//   POST /lostupdate/{object}/add?guard=0|1&delay_ms=D -> {"n":n} (read, await helper, write)
//   POST /lostupdate/{object}/pause?delay_ms=D   -> {"ok":true}
//   GET  /lostupdate/{object}                    -> {"n":n}
//   /probe/{object}/...                          -> the conformance probe (class Probe below)
//   GET  /_dobench/health                        -> {"ok":true}

import { DurableObject } from "cloudflare:workers";

// ---------------------------------------------------------------------------
// helpers

const JSON_HEADERS = { "content-type": "application/json" };

function json(body, status = 200, extraHeaders = undefined) {
  return new Response(JSON.stringify(body), {
    status,
    headers: extraHeaders ? { ...JSON_HEADERS, ...extraHeaders } : JSON_HEADERS,
  });
}

class HttpError extends Error {
  constructor(status, message, extraHeaders = undefined) {
    super(message);
    this.status = status;
    this.extraHeaders = extraHeaders;
  }
}

function badParam(name, why) {
  return new HttpError(400, `invalid query parameter '${name}': ${why}`);
}

const DIGITS = /^[0-9]+$/;

// Parses an unsigned decimal integer query parameter. `min` is inclusive.
function intParam(url, name, { required = false, def = undefined, min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const raw = url.searchParams.get(name);
  if (raw === null) {
    if (required || def === undefined) {
      throw badParam(name, "missing (expected an integer)");
    }
    return def;
  }
  // Present but empty (`?by=`) is a mistake, not "use the default": 400, as the reference runtime.
  if (raw === "") {
    throw badParam(name, "empty (expected an integer)");
  }
  if (!DIGITS.test(raw)) {
    throw badParam(name, `expected ${min >= 1 ? "a positive" : "a non-negative"} integer, got '${raw}'`);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n > max) {
    throw badParam(name, `must be at most ${max}`);
  }
  if (n < min) {
    throw badParam(name, `must be at least ${min}`);
  }
  return n;
}

function textParam(url, name, { maxLen = 256 } = {}) {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") {
    throw badParam(name, "missing (expected a non-empty string)");
  }
  if (raw.length > maxLen) {
    throw badParam(name, `longer than ${maxLen} characters`);
  }
  return raw;
}

function methodNotAllowed(allowed) {
  return new HttpError(405, `method not allowed; use ${allowed}`, { allow: allowed });
}

function notFound(path) {
  return new HttpError(404, `no such route: ${path}`);
}

// Largest value a counter may reach: u64 on the wire, but JS numbers and the
// SQLite INTEGER are only exact up to 2^53 - 1 here.
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------------------
// front Worker: routing and validation

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      return await route(request, env, url);
    } catch (e) {
      if (e instanceof HttpError) {
        return json({ error: e.message }, e.status, e.extraHeaders);
      }
      if (e && e.overloaded) {
        // The runtime refused the call because the object is overloaded.
        return json({ error: "overloaded", overloaded: true }, 503);
      }
      return json({ error: `internal error: ${e && e.message ? e.message : String(e)}` }, 500);
    }
  },
};

async function route(request, env, url) {
  const path = url.pathname;
  const method = request.method;
  const parts = path.split("/"); // ["", workload, object, action?]

  if (path === "/_dobench/health") {
    if (method !== "GET" && method !== "HEAD") throw methodNotAllowed("GET");
    return json({ ok: true });
  }

  if (parts.length < 3 || parts.length > 4 || parts[0] !== "") throw notFound(path);
  const [, workload, rawObject, action] = parts;
  let object;
  try {
    object = decodeURIComponent(rawObject);
  } catch {
    throw new HttpError(400, "object name is not valid percent-encoding");
  }
  if (object === "") throw notFound(path);

  switch (workload) {
    case "counter": {
      const stub = env.COUNTER.get(env.COUNTER.idFromName(object));
      if (action === undefined) {
        if (method !== "GET") throw methodNotAllowed("GET");
        return json({ value: await stub.read() });
      }
      if (action === "increment") {
        if (method !== "POST") throw methodNotAllowed("POST");
        const by = intParam(url, "by", { def: 1, min: 1 });
        const rows = intParam(url, "rows", { def: 0, min: 0, max: 1000 });
        const r = await stub.increment(by, rows);
        if (r.error) throw new HttpError(r.status, r.error);
        return json({ value: r.value });
      }
      break;
    }
    case "ratelimit": {
      if (action === "check") {
        if (method !== "POST") throw methodNotAllowed("POST");
        const key = textParam(url, "key", { maxLen: 1024 });
        const limit = intParam(url, "limit", { required: true, min: 1 });
        const windowMs = intParam(url, "window_ms", { required: true, min: 1 });
        const stub = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(object));
        const r = await stub.check(key, limit, windowMs);
        if (r.allowed) return json({ allowed: true, remaining: r.remaining });
        return json(
          { allowed: false, retry_after_ms: r.retry_after_ms },
          429,
          { "retry-after": String(Math.max(1, Math.ceil(r.retry_after_ms / 1000))) },
        );
      }
      break;
    }
    case "chat": {
      if (action === "ws") {
        if (method !== "GET") throw methodNotAllowed("GET");
        if ((request.headers.get("upgrade") || "").toLowerCase() !== "websocket") {
          throw new HttpError(426, "expected a WebSocket upgrade (Upgrade: websocket)", { upgrade: "websocket" });
        }
        textParam(url, "user", { maxLen: 256 }); // a hibernation tag is at most 256 chars
        const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(object));
        return stub.fetch(request);
      }
      if (action === "history") {
        if (method !== "GET") throw methodNotAllowed("GET");
        const limit = intParam(url, "limit", { def: 100, min: 1, max: 1000 });
        const stub = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(object));
        if (url.searchParams.has("after_seq")) {
          const after = intParam(url, "after_seq", { min: 0 });
          return json({ messages: await stub.page(after, limit) });
        }
        return json({ messages: await stub.history(limit) });
      }
      break;
    }
    case "aggregator": {
      const stub = env.AGGREGATOR.get(env.AGGREGATOR.idFromName(object));
      if (action === undefined) {
        if (method !== "GET") throw methodNotAllowed("GET");
        return json({ value: await stub.value() });
      }
      if (action === "total") {
        if (method !== "GET") throw methodNotAllowed("GET");
        return json({ total: await stub.total() });
      }
      if (action === "increment") {
        if (method !== "POST") throw methodNotAllowed("POST");
        const parent = textParam(url, "parent", { maxLen: 256 });
        const by = intParam(url, "by", { def: 1, min: 1, max: 1000000 });
        return json(await stub.increment(parent, by));
      }
      break;
    }
    case "lock": {
      const stub = env.LOCK.get(env.LOCK.idFromName(object));
      if (action === "hold") {
        if (method !== "POST") throw methodNotAllowed("POST");
        const holdMs = intParam(url, "hold_ms", { def: 1, min: 0, max: 10000 });
        const ttlMs = intParam(url, "ttl_ms", { def: 1000, min: 1, max: 60000 });
        if (holdMs >= ttlMs) {
          throw new HttpError(400, `hold_ms (${holdMs}) must be shorter than ttl_ms (${ttlMs})`);
        }
        return json(await stub.hold(holdMs, ttlMs));
      }
      if (action === "state") {
        if (method !== "GET") throw methodNotAllowed("GET");
        return json(await stub.state());
      }
      break;
    }
    case "lostupdate": {
      const stub = env.LOST_UPDATE.get(env.LOST_UPDATE.idFromName(object));
      if (action === undefined) {
        if (method !== "GET") throw methodNotAllowed("GET");
        return json({ n: await stub.read() });
      }
      if (action === "add") {
        if (method !== "POST") throw methodNotAllowed("POST");
        const guard = intParam(url, "guard", { def: 0, min: 0, max: 1 });
        const delayMs = intParam(url, "delay_ms", { def: 1, min: 0, max: 1000 });
        return json({ n: await stub.add(guard === 1, delayMs, `${object}~helper`) });
      }
      if (action === "pause") {
        if (method !== "POST") throw methodNotAllowed("POST");
        const delayMs = intParam(url, "delay_ms", { def: 1, min: 0, max: 1000 });
        await stub.pause(delayMs);
        return json({ ok: true });
      }
      break;
    }
    case "probe":
      return env.PROBE.get(env.PROBE.idFromName(object)).fetch(request);
    case "alarm": {
      if (action === "schedule") {
        if (method !== "POST") throw methodNotAllowed("POST");
        const atMs = intParam(url, "at_ms", { required: true, min: 0 });
        const failTimes = intParam(url, "fail_times", { def: 0, min: 0, max: 1000 });
        const stub = env.ALARM.get(env.ALARM.idFromName(object));
        return json({ scheduled_ms: await stub.schedule(atMs, failTimes) });
      }
      if (action === "fired") {
        if (method !== "GET") throw methodNotAllowed("GET");
        const stub = env.ALARM.get(env.ALARM.idFromName(object));
        return json({ fired: await stub.fired() });
      }
      break;
    }
  }
  throw notFound(path);
}

// ---------------------------------------------------------------------------
// Counter: one row in a SQLite table.

export class Counter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 0), value INTEGER NOT NULL)",
    );
  }

  read() {
    const row = this.sql.exec("SELECT value FROM counter WHERE id = 0").toArray()[0];
    return row ? row.value : 0;
  }

  increment(by, rows = 0) {
    const current = this.read();
    if (current + by > MAX_COUNTER) {
      return { status: 400, error: `by=${by} would overflow the counter (value ${current}, max ${MAX_COUNTER})` };
    }
    const row = this.sql
      .exec(
        "INSERT INTO counter (id, value) VALUES (0, ?) " +
          "ON CONFLICT (id) DO UPDATE SET value = value + excluded.value RETURNING value",
        by,
      )
      .one();
    if (rows > 0) {
      this.sql.exec("CREATE TABLE IF NOT EXISTS pad (i INTEGER PRIMARY KEY, v INTEGER NOT NULL)");
      for (let i = 0; i < rows; i++) {
        this.sql.exec("INSERT OR REPLACE INTO pad (i, v) VALUES (?, ?)", i, row.value);
      }
    }
    // The write is part of this turn's implicit transaction; the output gate
    // holds the RPC result until it is durable.
    return { value: row.value };
  }
}

// ---------------------------------------------------------------------------
// RateLimiter: sliding log of admissions per key, in SQLite.

export class RateLimiter extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS admissions (key TEXT NOT NULL, at_ms INTEGER NOT NULL);" +
        "CREATE INDEX IF NOT EXISTS admissions_key_at ON admissions (key, at_ms);",
    );
  }

  check(key, limit, windowMs) {
    const now = Date.now();
    const horizon = now - windowMs; // admissions at or before this have left the window
    this.sql.exec("DELETE FROM admissions WHERE key = ? AND at_ms <= ?", key, horizon);
    // The window's admissions, oldest first, as far as the limit (the rows a decision needs).
    const window = this.sql
      .exec("SELECT at_ms FROM admissions WHERE key = ? ORDER BY at_ms LIMIT ?", key, limit)
      .toArray();
    const n = window.length;
    const oldest = n > 0 ? window[0].at_ms : now;
    if (n < limit) {
      this.sql.exec("INSERT INTO admissions (key, at_ms) VALUES (?, ?)", key, now);
      return { allowed: true, remaining: limit - n - 1 };
    }
    // The oldest admission leaves the window at oldest + windowMs.
    return { allowed: false, retry_after_ms: Math.max(1, oldest + windowMs - now) };
  }
}

// ---------------------------------------------------------------------------
// ChatRoom: WebSocket Hibernation API; messages stored in SQLite.

export class ChatRoom extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS messages (" +
        "seq INTEGER PRIMARY KEY, from_user TEXT NOT NULL, sent_at_us INTEGER NOT NULL, body TEXT NOT NULL)",
    );
    // Answered by the runtime without waking (or even constructing) the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
    // History retention: the room keeps its last CHAT_HISTORY messages (as the reference
    // runtime's default, 100,000), deleting older ones as it stores new ones.
    const keep = Number(env && env.CHAT_HISTORY);
    this.keep = Number.isSafeInteger(keep) && keep >= 1 ? keep : 100000;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const user = url.searchParams.get("user");
    if ((request.headers.get("upgrade") || "").toLowerCase() !== "websocket" || !user) {
      return json({ error: "expected a WebSocket upgrade with ?user=U" }, 400);
    }
    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair);
    this.ctx.acceptWebSocket(server, [user]);
    server.serializeAttachment({ user });
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws, message) {
    if (typeof message !== "string") {
      // The protocol carries text frames only: tell the sender (as the reference runtime
      // does), store and broadcast nothing.
      ws.send(JSON.stringify({ error: "send text frames" }));
      return;
    }
    const att = ws.deserializeAttachment();
    const from = att && att.user ? att.user : "";
    const sentAtUs = Date.now() * 1000;
    let seq;
    try {
      ({ seq } = this.sql
        .exec(
          "INSERT INTO messages (from_user, sent_at_us, body) VALUES (?, ?, ?) RETURNING seq",
          from,
          sentAtUs,
          message,
        )
        .one());
    } catch (e) {
      // e.g. a body over SQLite's value-size limit: tell the sender only, broadcast nothing.
      try {
        ws.send(JSON.stringify({ error: `message not stored: ${e && e.message ? e.message : String(e)}` }));
      } catch {
        // sender already gone
      }
      return;
    }
    if (seq > this.keep) {
      this.sql.exec("DELETE FROM messages WHERE seq <= ?", seq - this.keep);
    }
    const frame = JSON.stringify({ seq, from, sent_at_us: sentAtUs, body: message });
    for (const peer of this.ctx.getWebSockets()) {
      try {
        peer.send(frame);
      } catch {
        // closing / closed socket: it gets no more frames
      }
    }
  }

  async webSocketClose(ws, code, reason, _wasClean) {
    // Complete the closing handshake. 1005/1006 are reserved and may not be sent.
    const sendCode = code === 1005 || code === 1006 || code === 1015 ? 1000 : code;
    try {
      ws.close(sendCode, reason);
    } catch {
      // already closed
    }
  }

  async webSocketError(ws, _error) {
    try {
      ws.close(1011, "websocket error");
    } catch {
      // already closed
    }
  }

  // A page: the first `limit` messages after seq `after`, oldest first.
  page(after, limit) {
    return this.sql
      .exec("SELECT seq, from_user, sent_at_us, body FROM messages WHERE seq > ? ORDER BY seq ASC LIMIT ?", after, limit)
      .toArray()
      .map((r) => ({ seq: r.seq, from: r.from_user, sent_at_us: r.sent_at_us, body: r.body }));
  }

  history(limit) {
    return this.sql
      .exec(
        "SELECT seq, from_user, sent_at_us, body FROM " +
          "(SELECT * FROM messages ORDER BY seq DESC LIMIT ?) ORDER BY seq ASC",
        limit,
      )
      .toArray()
      .map((r) => ({ seq: r.seq, from: r.from_user, sent_at_us: r.sent_at_us, body: r.body }));
  }
}

// ---------------------------------------------------------------------------
// Alarm: one alarm per object; the handler records every attempt and fails the
// first `fail_times` of them.

export class Alarm extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS alarm_state (" +
        "id INTEGER PRIMARY KEY CHECK (id = 0), scheduled_ms INTEGER NOT NULL, fail_times INTEGER NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS fired (" +
        "n INTEGER PRIMARY KEY, scheduled_ms INTEGER NOT NULL, fired_ms INTEGER NOT NULL, attempt INTEGER NOT NULL);",
    );
  }

  async schedule(atMs, failTimes) {
    this.sql.exec(
      "INSERT INTO alarm_state (id, scheduled_ms, fail_times) VALUES (0, ?, ?) " +
        "ON CONFLICT (id) DO UPDATE SET scheduled_ms = excluded.scheduled_ms, fail_times = excluded.fail_times",
      atMs,
      failTimes,
    );
    await this.ctx.storage.setAlarm(atMs); // replaces any alarm already set
    return atMs;
  }

  fired() {
    return this.sql
      .exec("SELECT scheduled_ms, fired_ms, attempt FROM fired ORDER BY n")
      .toArray()
      .map((r) => ({ scheduled_ms: r.scheduled_ms, fired_ms: r.fired_ms, attempt: r.attempt }));
  }

  async alarm(info) {
    const firedMs = Date.now();
    const attempt = info && typeof info.retryCount === "number" ? info.retryCount : 0;
    const state = this.sql.exec("SELECT scheduled_ms, fail_times FROM alarm_state WHERE id = 0").toArray()[0];
    const scheduledMs = state ? state.scheduled_ms : firedMs;
    const failTimes = state ? state.fail_times : 0;
    this.sql.exec(
      "INSERT INTO fired (scheduled_ms, fired_ms, attempt) VALUES (?, ?, ?)",
      scheduledMs,
      firedMs,
      attempt,
    );
    if (attempt < failTimes) {
      // workerd keeps the row above even without this (writes made before a throw
      // are committed; checked across a restart, see README). Waiting for the flush
      // makes the record independent of how a runtime treats a failed handler's turn.
      await this.ctx.storage.sync();
      throw new Error(`dobench: alarm attempt ${attempt} fails on purpose (fail_times=${failTimes})`);
    }
  }
}

// ---------------------------------------------------------------------------
// A small key → integer table, shared by the classes below.

function kvTable(sql) {
  sql.exec("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
  return {
    get(k) {
      const row = sql.exec("SELECT v FROM kv WHERE k = ?", k).toArray()[0];
      return row ? row.v : 0;
    },
    add(k, by) {
      return sql
        .exec("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = v + excluded.v RETURNING v", k, by)
        .one().v;
    },
    set(k, v) {
      sql.exec("INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, v);
    },
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Aggregator: a shard forwards its increment to its parent (an RPC call to another
// object), and counts it only once the parent has; a parent keeps the total.

export class Aggregator extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.kv = kvTable(ctx.storage.sql);
  }

  async increment(parentName, by) {
    const parent = this.env.AGGREGATOR.get(this.env.AGGREGATOR.idFromName(parentName));
    const total = await parent.add(by);
    return { value: this.kv.add("value", by), total };
  }

  add(by) {
    return this.kv.add("total", by);
  }

  value() {
    return this.kv.get("value");
  }

  total() {
    return this.kv.get("total");
  }
}

// ---------------------------------------------------------------------------
// Lock: one lock taken in arrival order; waiters wait in memory (their events wait with
// the input gate open), the holder holds for hold_ms under a ttl_ms lease.

export class Lock extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.kv = kvTable(ctx.storage.sql);
    this.held = false;
    this.waiters = [];
    this.holders = 0;
  }

  async hold(holdMs, ttlMs) {
    const arrived = Date.now() * 1000;
    if (this.held) {
      await new Promise((resolve) => this.waiters.push(resolve));
    } else {
      this.held = true;
    }
    const overlap = this.holders++ > 0;
    const granted = Date.now() * 1000;
    const token = this.kv.add("token", 1);
    if (overlap) this.kv.add("violations", 1);
    await sleep(holdMs);
    const released = Date.now() * 1000;
    this.holders--;
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
    return { token, granted_us: granted, released_us: released, expires_us: granted + ttlMs * 1000, waited_us: granted - arrived };
  }

  state() {
    return { grants: this.kv.get("token"), violations: this.kv.get("violations"), held: this.held, waiting: this.waiters.length };
  }
}

// ---------------------------------------------------------------------------
// LostUpdate: read, await another object, write. Unguarded, other events run during the
// await and overwrite each other's increments; inside blockConcurrencyWhile none do.

export class LostUpdate extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.kv = kvTable(ctx.storage.sql);
  }

  read() {
    return this.kv.get("n");
  }

  async add(guard, delayMs, helperName) {
    const run = async () => {
      const n = this.read();
      const helper = this.env.LOST_UPDATE.get(this.env.LOST_UPDATE.idFromName(helperName));
      await helper.pause(delayMs);
      this.kv.set("n", n + 1);
      return n + 1;
    };
    return guard ? await this.ctx.blockConcurrencyWhile(run) : await run();
  }

  async pause(delayMs) {
    await sleep(delayMs);
    return true;
  }
}

// ---------------------------------------------------------------------------
// Probe: the conformance probe, the same routes as workloads/src/probe.rs (see there).

export class Probe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS lists (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    this.push("constructions", Date.now());
    // Answered by the runtime without waking (or constructing) the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  list(k) {
    const row = this.sql.exec("SELECT v FROM lists WHERE k = ?", k).toArray()[0];
    return row ? JSON.parse(row.v) : [];
  }

  push(k, item) {
    const items = this.list(k);
    items.push(item);
    this.sql.exec("INSERT INTO lists (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", k, JSON.stringify(items));
  }

  append(i) {
    this.push("list", i);
  }

  getList() {
    return this.list("list");
  }

  noop() {
    return true;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const action = url.pathname.split("/")[3] || "";
    const route = `${request.method} ${action}`;
    switch (route) {
      case "POST eorder": {
        const to = textParam(url, "to", { maxLen: 256 });
        const n = intParam(url, "n", { def: 10, min: 0, max: 1000 });
        const callee = this.env.PROBE.get(this.env.PROBE.idFromName(to));
        await Promise.all([...Array(n).keys()].map((i) => callee.append(i)));
        return json({ list: await callee.getList() });
      }
      case "GET list":
        return json({ list: this.list("list") });
      case "GET noop":
        return json({ ok: true });
      case "GET aba": {
        // A -> B -> A: this object calls B, which calls this object back.
        const via = textParam(url, "via", { maxLen: 256 });
        const me = textParam(url, "me", { maxLen: 256 });
        const b = this.env.PROBE.get(this.env.PROBE.idFromName(via));
        const r = await b.fetch(`https://probe/probe/${encodeURIComponent(via)}/back?to=${encodeURIComponent(me)}`);
        return json({ back: await r.json() }, r.status);
      }
      case "GET back": {
        const to = textParam(url, "to", { maxLen: 256 });
        return this.env.PROBE.get(this.env.PROBE.idFromName(to)).fetch(`https://probe/probe/${encodeURIComponent(to)}/noop`);
      }
      case "GET hop": {
        const to = textParam(url, "to", { maxLen: 256 });
        const n = intParam(url, "n", { def: 1, min: 0, max: 1000 });
        const callee = this.env.PROBE.get(this.env.PROBE.idFromName(to));
        for (let i = 0; i < n; i++) await callee.noop();
        return json({ calls: n });
      }
      case "GET throw":
        throw new Error("the probe throws on purpose");
      case "POST put": {
        const keyBytes = intParam(url, "key_bytes", { def: 1, min: 0, max: 1 << 20 });
        const valueBytes = intParam(url, "value_bytes", { def: 1, min: 0, max: 8 << 20 });
        try {
          await this.ctx.storage.put("k".repeat(keyBytes), "v".repeat(valueBytes));
          return json({ ok: true });
        } catch (e) {
          return json({ ok: false, error: String(e && e.message ? e.message : e) });
        }
      }
      case "GET constructions":
        return json({ constructions: this.list("constructions") });
      case "GET ws": {
        if ((request.headers.get("upgrade") || "").toLowerCase() !== "websocket") {
          return json({ error: "this route needs a WebSocket upgrade" }, 426);
        }
        const [client, server] = Object.values(new WebSocketPair());
        this.ctx.acceptWebSocket(server);
        return new Response(null, { status: 101, webSocket: client });
      }
      case "GET closes":
        return json({ closes: this.list("closes") });
      case "POST alarm": {
        const at = intParam(url, "at_ms", { required: true, min: 0 });
        const mode = url.searchParams.get("mode") || "inspect";
        if (mode !== "inspect" && mode !== "fail") return json({ error: `mode '${mode}': use inspect or fail` }, 400);
        this.sql.exec("INSERT INTO lists (k, v) VALUES ('mode', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", JSON.stringify(mode));
        await this.ctx.storage.setAlarm(at);
        return json({ scheduled_ms: at });
      }
      case "GET alarms":
        return json({ alarms: this.list("alarms") });
    }
    return json({ error: `no route for ${request.method} ${url.pathname}` }, 404);
  }

  async alarm(info) {
    const retryCount = info && typeof info.retryCount === "number" ? info.retryCount : 0;
    const row = this.sql.exec("SELECT v FROM lists WHERE k = 'mode'").toArray()[0];
    if (row && JSON.parse(row.v) === "fail") {
      this.push("alarms", { retry_count: retryCount, at_ms: Date.now() });
      await this.ctx.storage.sync();
      throw new Error("the probe's alarm fails on purpose");
    }
    const onEntry = await this.ctx.storage.getAlarm();
    await this.ctx.storage.setAlarm(Date.now() + 60000);
    const afterSet = await this.ctx.storage.getAlarm();
    await this.ctx.storage.deleteAlarm();
    const afterDelete = await this.ctx.storage.getAlarm();
    this.push("alarms", { retry_count: retryCount, on_entry: onEntry, after_set_is_set: afterSet !== null, after_delete: afterDelete });
  }

  webSocketMessage(ws, message) {
    if (typeof message !== "string") return;
    if (message.startsWith("close:")) {
      const [code, ...reason] = message.slice(6).split(":");
      ws.close(Number(code) || 1000, reason.join(":"));
      return;
    }
    ws.send(`echo:${message}`);
  }

  webSocketClose(ws, code, reason, _wasClean) {
    this.push("closes", { code, reason });
    const sendCode = code === 1005 || code === 1006 || code === 1015 ? 1000 : code;
    try {
      ws.close(sendCode, reason);
    } catch {
      // already closed
    }
  }
}
