// End-to-end smoke test of src/worker.js under workerd, over loopback only.
//
//   node test/smoke.mjs                 # starts its own workerd on a free 127.0.0.1 port
//   BASE=http://127.0.0.1:8787 node test/smoke.mjs   # or tests a running instance
//
// Prints one line per check and closes with "N passed, N failed".

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let passed = 0;
let failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${detail ? ` — ${detail}` : ""}`);
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startWorkerd() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "dobench-worker-"));
  const child = spawn(
    join(root, "node_modules", ".bin", "workerd"),
    ["serve", "config.capnp", "--socket-addr", `http=127.0.0.1:${port}`,
      "--directory-path", `do-storage=${dir}`],
    { cwd: root, stdio: ["ignore", "inherit", "inherit"] },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${base}/_dobench/health`);
      if (r.ok) return { base, stop: () => { child.kill("SIGTERM"); rmSync(dir, { recursive: true, force: true }); } };
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  child.kill("SIGTERM");
  throw new Error("workerd did not come up");
}

async function req(base, method, path) {
  const r = await fetch(base + path, { method });
  let body = null;
  try {
    body = await r.json();
  } catch {
    // not JSON
  }
  return { status: r.status, body };
}

function openWs(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const frames = [];
    ws.on("message", (data, isBinary) => frames.push(isBinary ? data : data.toString()));
    ws.once("open", () => resolve({ ws, frames }));
    ws.once("error", reject);
  });
}

async function waitFor(pred, ms = 3000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await sleep(20);
  }
  return pred();
}

async function main() {
  const server = process.env.BASE ? { base: process.env.BASE, stop: () => {} } : await startWorkerd();
  const base = server.base;
  const run = `t${Date.now()}`; // fresh object names each run
  try {
    // health, unknown routes, methods
    let r = await req(base, "GET", "/_dobench/health");
    check("health", r.status === 200 && r.body.ok === true, JSON.stringify(r.body));
    r = await req(base, "GET", "/nope/x");
    check("unknown route -> 404 json", r.status === 404 && typeof r.body.error === "string");
    r = await req(base, "GET", "/counter/x/increment");
    check("wrong method -> 405", r.status === 405 && typeof r.body.error === "string");

    // counter
    const c = `${run}-c`;
    r = await req(base, "GET", `/counter/${c}`);
    check("fresh counter reads 0", r.status === 200 && r.body.value === 0, JSON.stringify(r.body));
    r = await req(base, "POST", `/counter/${c}/increment`);
    check("increment default by=1", r.body && r.body.value === 1, JSON.stringify(r.body));
    r = await req(base, "POST", `/counter/${c}/increment?by=41`);
    check("increment by=41", r.body && r.body.value === 42, JSON.stringify(r.body));
    for (const bad of ["0", "-1", "1.5", "abc", "99999999999999999999"]) {
      r = await req(base, "POST", `/counter/${c}/increment?by=${bad}`);
      check(`by=${bad} -> 400 naming by`, r.status === 400 && /'by'/.test(r.body.error), r.body && r.body.error);
    }
    const N = 500;
    const results = await Promise.all(
      Array.from({ length: N }, (_, i) => req(base, "POST", `/counter/${c}/increment?by=${(i % 3) + 1}`)),
    );
    const want = 42 + results.reduce((s, _, i) => s + (i % 3) + 1, 0);
    const values = results.map((x) => x.body.value).sort((a, b) => a - b);
    r = await req(base, "GET", `/counter/${c}`);
    check(`${N} concurrent increments sum`, r.body.value === want, `got ${r.body.value}, want ${want}`);
    check("concurrent increments all 200, distinct values",
      results.every((x) => x.status === 200) && new Set(values).size === N && values[N - 1] === want);

    // rate limiter
    const rl = `${run}-rl`;
    const q = "key=k&limit=3&window_ms=1500";
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await req(base, "POST", `/ratelimit/${rl}/check?${q}`));
    check("ratelimit admits 3 with remaining 2,1,0",
      got.slice(0, 3).every((x) => x.status === 200 && x.body.allowed === true) &&
        got.slice(0, 3).map((x) => x.body.remaining).join() === "2,1,0",
      got.map((x) => JSON.stringify(x.body)).join(" "));
    check("ratelimit refuses 4th with 429 retry_after_ms",
      got[3].status === 429 && got[3].body.allowed === false &&
        got[3].body.retry_after_ms > 0 && got[3].body.retry_after_ms <= 1500, JSON.stringify(got[3].body));
    r = await req(base, "POST", `/ratelimit/${rl}/check?key=other&limit=3&window_ms=1500`);
    check("ratelimit keys independent", r.status === 200 && r.body.remaining === 2);
    await sleep(got[3].body.retry_after_ms + 20);
    r = await req(base, "POST", `/ratelimit/${rl}/check?${q}`);
    check("ratelimit admits again after retry_after_ms", r.status === 200 && r.body.allowed === true, JSON.stringify(r.body));
    for (const [p, name] of [["limit=3&window_ms=10", "key"], ["key=k&window_ms=10", "limit"],
      ["key=k&limit=3", "window_ms"], ["key=k&limit=0&window_ms=10", "limit"], ["key=k&limit=3&window_ms=x", "window_ms"]]) {
      r = await req(base, "POST", `/ratelimit/${rl}/check?${p}`);
      check(`ratelimit ${p} -> 400 naming ${name}`, r.status === 400 && r.body.error.includes(`'${name}'`), r.body && r.body.error);
    }

    // chat
    const room = `${run}-room`;
    const wsBase = base.replace(/^http/, "ws");
    const a = await openWs(`${wsBase}/chat/${room}/ws?user=alice`);
    const b = await openWs(`${wsBase}/chat/${room}/ws?user=bob`);
    a.ws.send("hello from alice");
    await waitFor(() => a.frames.length >= 1 && b.frames.length >= 1);
    b.ws.send("hi alice");
    await waitFor(() => a.frames.length >= 2 && b.frames.length >= 2);
    const pa = a.frames.map((f) => JSON.parse(f));
    const pb = b.frames.map((f) => JSON.parse(f));
    check("both members got both messages, in order, same frames",
      pa.length === 2 && JSON.stringify(pa) === JSON.stringify(pb) && pa[0].seq === 1 && pa[1].seq === 2,
      JSON.stringify(pa));
    check("frame fields", pa[0].from === "alice" && pa[0].body === "hello from alice" && pa[1].from === "bob" &&
      Number.isInteger(pa[0].sent_at_us) && Math.abs(pa[0].sent_at_us / 1000 - Date.now()) < 60000);
    const before = a.frames.length;
    a.ws.send("ping");
    await waitFor(() => a.frames.length > before);
    check("ping -> pong auto-response, not broadcast", a.frames[before] === "pong" && b.frames.length === 2,
      JSON.stringify(a.frames.slice(before)));
    r = await req(base, "GET", `/chat/${room}/history?limit=1`);
    check("history limit=1 is the last message", r.body.messages.length === 1 && r.body.messages[0].seq === 2);
    r = await req(base, "GET", `/chat/${room}/history?limit=10`);
    check("history in seq order, same as frames", JSON.stringify(r.body.messages) === JSON.stringify(pa));
    r = await req(base, "GET", `/chat/${room}/ws`);
    check("chat ws without upgrade -> 426", r.status === 426);
    r = await req(base, "GET", `/chat/${room}/history?limit=0`);
    check("history limit=0 -> 400", r.status === 400 && r.body.error.includes("'limit'"));
    let refused = false;
    try {
      const x = await openWs(`${wsBase}/chat/${room}/ws`);
      x.ws.close();
    } catch {
      refused = true;
    }
    check("ws without user refused", refused);
    a.ws.close(1000, "bye");
    b.ws.close(1000, "bye");

    // alarm: fails twice, succeeds on the third attempt
    const al = `${run}-al`;
    const at = Date.now() + 300;
    r = await req(base, "POST", `/alarm/${al}/schedule?at_ms=${at}&fail_times=2`);
    check("alarm schedule", r.status === 200 && r.body.scheduled_ms === at, JSON.stringify(r.body));
    r = await req(base, "POST", `/alarm/${al}/schedule?fail_times=2`);
    check("alarm schedule without at_ms -> 400", r.status === 400 && r.body.error.includes("'at_ms'"));
    let fired = [];
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      fired = (await req(base, "GET", `/alarm/${al}/fired`)).body.fired;
      if (fired.length >= 3) break;
      await sleep(200);
    }
    await sleep(300);
    fired = (await req(base, "GET", `/alarm/${al}/fired`)).body.fired;
    const gaps = fired.slice(1).map((f, i) => f.fired_ms - fired[i].fired_ms);
    check("alarm: 3 attempts recorded (0,1,2), failing ones included",
      fired.length === 3 && fired.map((f) => f.attempt).join() === "0,1,2" &&
        fired.every((f) => f.scheduled_ms === at) && fired[0].fired_ms >= at,
      `${JSON.stringify(fired)} gaps_ms=${gaps.join(",")}`);
  } finally {
    server.stop();
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  console.log(`${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
