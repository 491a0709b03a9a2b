// likes-worker: a small Worker with a REST API of its own (not dobench's protocol), used by
// dobench's examples and CI to show custom workloads on real workerd.
//
//   GET  /healthz                               -> 200 "ok"
//   POST /v1/sessions                           -> 201 {"session": "s-<32 hex>"}
//   POST /v1/tenants/:tenant/likes              body {"post": "...", "by": n}
//        (header authorization: Bearer <session> optional; a malformed one is 401)
//                                               -> 200 {"tenant": t, "total": n}
//   GET  /v1/tenants/:tenant/likes              -> 200 {"tenant": t, "total": n}
//   GET  /v1/rooms/:room/presence?member=M      -> WebSocket (a presence room), JSON frames:
//        a member sends   {"type": "say", "id": "...", "sent": n, "text": "..."}
//        every member (the sender too) gets
//                         {"type": "said", "member": M, "id": ..., "sent": ..., "text": ...,
//                          "at": ms, "online": n}
//        and, as members come and go,
//                         {"type": "join"|"leave", "member": M, "at": ms, "online": n}
//        anything else a member sends is answered, to it alone, with
//                         {"type": "error", "error": "..."}
//        (`id` and `sent` are the client's own: the room passes them on untouched.)
//
// Each tenant is one Durable Object (TenantLikes, idFromName(tenant)); the sharding of a
// hot tenant over several names is the load profile's business. Errors are JSON
// {"error": "..."} with a fitting status.

const json = (status, value) =>
  new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });

export class TenantLikes {
  constructor(ctx) {
    this.ctx = ctx;
  }

  async total() {
    return (await this.ctx.storage.get("total")) ?? 0;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const tenant = url.searchParams.get("tenant");
    if (request.method === "GET") {
      return json(200, { tenant, total: await this.total() });
    }
    let body;
    try {
      body = await request.json();
    } catch {
      return json(400, { error: "body must be JSON" });
    }
    const by = body.by === undefined ? 1 : body.by;
    if (!Number.isInteger(by) || by < 1 || by > 100) {
      return json(400, { error: "by must be a whole number in 1..100" });
    }
    if (typeof body.post !== "string" || body.post.length === 0) {
      return json(400, { error: "post must be a non-empty string" });
    }
    // The input gate stays closed across storage calls: no other event of this object
    // runs between the read and the write.
    const total = (await this.total()) + by;
    await this.ctx.storage.put("total", total);
    return json(200, { tenant, total });
  }
}

export class PresenceRoom {
  constructor(ctx) {
    this.ctx = ctx;
  }

  broadcast(frame) {
    const text = JSON.stringify({ ...frame, at: Date.now(), online: this.ctx.getWebSockets().length });
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {}
    }
  }

  async fetch(request) {
    const member = new URL(request.url).searchParams.get("member");
    if (!member) return json(400, { error: "member is required" });
    if (request.headers.get("upgrade") !== "websocket") {
      return json(426, { error: "expected a WebSocket upgrade" });
    }
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server, [member]);
    server.serializeAttachment({ member });
    this.broadcast({ type: "join", member });
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(ws, message) {
    const { member } = ws.deserializeAttachment();
    let said;
    try {
      said = JSON.parse(String(message));
    } catch {
      said = null;
    }
    if (said === null || typeof said !== "object" || said.type !== "say") {
      ws.send(JSON.stringify({ type: "error", error: 'send {"type": "say", "id": ..., "text": ...}' }));
      return;
    }
    const { id = null, sent = null, text = "" } = said;
    this.broadcast({ type: "said", member, id, sent, text: String(text) });
  }

  webSocketClose(ws) {
    const { member } = ws.deserializeAttachment();
    try {
      ws.close();
    } catch {}
    this.broadcast({ type: "leave", member });
  }
}

const SESSION = /^s-[0-9a-f]{32}$/;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    if (url.pathname === "/healthz") return new Response("ok");
    if (parts[0] !== "v1") return json(404, { error: "no such route" });
    if (parts[1] === "sessions" && parts.length === 2 && request.method === "POST") {
      const id = crypto.randomUUID().replaceAll("-", "");
      return json(201, { session: `s-${id}` });
    }
    if (parts[1] === "tenants" && parts[3] === "likes" && parts.length === 4) {
      const auth = request.headers.get("authorization");
      if (auth !== null && !SESSION.test(auth.replace(/^Bearer /, ""))) {
        return json(401, { error: "bad session" });
      }
      if (request.method !== "GET" && request.method !== "POST") {
        return json(405, { error: "GET or POST" });
      }
      const tenant = parts[2];
      const stub = env.TENANT_LIKES.get(env.TENANT_LIKES.idFromName(tenant));
      const inner = new URL(`https://likes/?tenant=${encodeURIComponent(tenant)}`);
      return stub.fetch(new Request(inner, request));
    }
    if (parts[1] === "rooms" && parts[3] === "presence" && parts.length === 4) {
      const stub = env.PRESENCE.get(env.PRESENCE.idFromName(parts[2]));
      return stub.fetch(request);
    }
    return json(404, { error: "no such route" });
  },
};
