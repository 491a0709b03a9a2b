//! Objects that call objects, with production's concurrency, on a real runtime: the lost
//! update a read → await → write handler suffers and its `block_concurrency` guard, timers
//! opening the input gate, A → B → A without deadlock, E-order, a callee's overload and
//! errors as the caller sees them, typed calls, and calls in per-object stats.

use std::time::Duration;

use dobench_runtime::{
    AnyObject, Ceiling, Config, Context, DataDir, Error, Method, Object, Registry, Request,
    Response, Result, Runtime, StatsQuery,
};
use futures_util::future::join_all;
use serde_json::json;

const CLASS: &str = "probe";

/// `POST /add?guard=0|1&via=sleep|call`: read `n`, await (a timer or a call to `helper`),
/// write `n + 1`. `GET /get`: `n`. `/a` → `b` → back to `a`. `/order?to=X&n=N`: N calls in
/// flight at once to X's `/append`; `/fan?to=X&n=N`: N calls to X's `/slow`. `/boom` fails.
struct Probe;

fn read_n(ctx: &mut Context) -> Result<u64> {
    Ok(ctx
        .storage()
        .get("n")?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_le_bytes))
}

async fn add(ctx: &mut Context, via: &str) -> Result<Response> {
    let n = read_n(ctx)?;
    if via == "call" {
        let helper = ctx.namespace(CLASS)?.get_by_name("helper");
        helper.fetch(Request::new(Method::GET, "/get")).await?;
    } else {
        ctx.sleep(Duration::from_millis(5)).await;
    }
    ctx.storage().put("n", &(n + 1).to_le_bytes())?;
    Ok(Response::json(200, &json!({ "n": n + 1 })))
}

impl Object for Probe {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        let ns = ctx.namespace(CLASS)?;
        let to = req.query("to").unwrap_or("callee").to_string();
        let n: usize = req.query("n").and_then(|n| n.parse().ok()).unwrap_or(1);
        match req.path.as_str() {
            "/add" => {
                let via = req.query("via").unwrap_or("sleep").to_string();
                if req.query("guard") == Some("1") {
                    let gate = ctx.input_gate();
                    gate.block_concurrency(add(ctx, &via)).await
                } else {
                    add(ctx, &via).await
                }
            }
            "/get" => Ok(Response::json(200, &json!({ "n": read_n(ctx)? }))),
            "/a" => {
                let me = ctx.name().unwrap_or_default().to_string();
                let b = ns.get_by_name("b");
                let r = b
                    .fetch(Request::new(Method::GET, "/b").with_query("back", me))
                    .await?;
                Ok(Response::json(200, &json!({ "via_b": r.json_body() })))
            }
            "/b" => {
                let back = ns.get_by_name(req.query("back").unwrap_or("a"));
                back.fetch(Request::new(Method::GET, "/get")).await
            }
            "/order" => {
                let callee = ns.get_by_name(&to);
                let calls = (0..n).map(|i| {
                    callee.fetch(Request::new(Method::POST, "/append").with_query("i", i))
                });
                for r in join_all(calls).await {
                    r?;
                }
                callee.fetch(Request::new(Method::GET, "/list")).await
            }
            "/append" => {
                let i: u64 = req.query("i").and_then(|i| i.parse().ok()).unwrap_or(0);
                let mut s = ctx.storage();
                let mut list: Vec<u64> = s
                    .get("list")?
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or_default();
                list.push(i);
                s.put("list", &serde_json::to_vec(&list).unwrap())?;
                Ok(Response::json(200, &json!({ "len": list.len() })))
            }
            "/list" => {
                let list: serde_json::Value = ctx
                    .storage()
                    .get("list")?
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(json!([]));
                Ok(Response::json(200, &list))
            }
            "/slow" => {
                ctx.sleep(Duration::from_millis(50)).await;
                Ok(Response::json(200, &json!({ "slow": true })))
            }
            "/fan" => {
                let callee = ns.get_by_name(&to);
                let calls = (0..n).map(|_| callee.fetch(Request::new(Method::GET, "/slow")));
                let (mut ok, mut overloaded) = (0, 0);
                for r in join_all(calls).await {
                    match r {
                        Ok(r) if r.status == 200 => ok += 1,
                        Err(Error::Overloaded { .. }) => overloaded += 1,
                        other => return Err(Error::Handler(format!("unexpected: {other:?}"))),
                    }
                }
                Ok(Response::json(
                    200,
                    &json!({ "ok": ok, "overloaded": overloaded }),
                ))
            }
            "/forward-slow" => {
                // Passes the callee's refusal on with `?`: the client sees the callee's error.
                ns.get_by_name(&to)
                    .fetch(Request::new(Method::GET, "/slow"))
                    .await
            }
            "/sum" => {
                let callee = ns.get_by_name(&to);
                let first: u64 = callee.call("add", &5u64).await?;
                let second: u64 = callee.call("add", &7u64).await?;
                Ok(Response::json(
                    200,
                    &json!({ "first": first, "second": second }),
                ))
            }
            "/boom" => Err(Error::Handler("boom".into())),
            _ => Ok(Response::error(404, "no route")),
        }
    }

    async fn call(
        &self,
        ctx: &mut Context,
        method: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value> {
        match method {
            "add" => {
                let n = read_n(ctx)? + args.as_u64().unwrap_or(0);
                ctx.storage().put("n", &n.to_le_bytes())?;
                Ok(json!(n))
            }
            other => Err(Error::Handler(format!("no method `{other}`"))),
        }
    }
}

fn runtime(tweak: impl FnOnce(&mut Config)) -> Runtime {
    let mut reg = Registry::new();
    reg.register(CLASS, |_| Ok(Box::new(Probe) as Box<dyn AnyObject>));
    let mut cfg = Config::new(DataDir::Memory);
    cfg.ceiling = Ceiling::Off;
    tweak(&mut cfg);
    Runtime::new(cfg, reg).unwrap()
}

async fn get(rt: &Runtime, name: &str, path: &str, query: &[(&str, &str)]) -> Result<Response> {
    let obj = rt.object_by_name(CLASS, name)?;
    let mut req = Request::new(Method::POST, path);
    for (k, v) in query {
        req = req.with_query(k, v);
    }
    tokio::time::timeout(Duration::from_secs(20), rt.fetch(&obj, req))
        .await
        .expect("the call finished (no deadlock)")
}

/// Fires `n` concurrent adds at one object and answers how many were lost.
async fn lost_updates(rt: &Runtime, name: &str, guard: &str, via: &str, n: u64) -> u64 {
    let query = [("guard", guard), ("via", via)];
    let adds = (0..n).map(|_| get(rt, name, "/add", &query));
    for r in join_all(adds).await {
        assert_eq!(r.unwrap().status, 200);
    }
    let total = get(rt, name, "/get", &[])
        .await
        .unwrap()
        .json_body()
        .unwrap()["n"]
        .as_u64()
        .unwrap();
    n - total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_await_write_loses_updates_and_block_concurrency_loses_none() {
    let rt = runtime(|_| {});
    for via in ["sleep", "call"] {
        let lost = lost_updates(&rt, &format!("open-{via}"), "0", via, 40).await;
        assert!(
            lost >= 1,
            "awaiting a {via} lets other events in: {lost} lost"
        );
        let lost = lost_updates(&rt, &format!("guarded-{via}"), "1", via, 40).await;
        assert_eq!(lost, 0, "block_concurrency around a {via} loses nothing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calls_b_calls_a_without_deadlock() {
    let rt = runtime(|_| {});
    let r = get(&rt, "a", "/a", &[]).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json_body().unwrap()["via_b"]["n"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_from_one_caller_arrive_in_order_and_show_in_stats() {
    let rt = runtime(|_| {});
    let r = get(&rt, "caller", "/order", &[("to", "log"), ("n", "50")])
        .await
        .unwrap();
    let list: Vec<u64> = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(list, (0..50).collect::<Vec<_>>(), "E-order");
    let stats = rt.stats_with(&StatsQuery {
        top: 10,
        ..StatsQuery::default()
    });
    let by_name = |n: &str| {
        stats
            .objects
            .iter()
            .find(|o| o.name.as_deref() == Some(n))
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("log").calls_in, 51);
    assert_eq!(
        by_name("log").requests,
        51,
        "calls are requests of the callee"
    );
    assert_eq!(by_name("caller").calls_out, 51);
    assert_eq!(by_name("caller").calls_in, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overloaded_callee_refuses_calls_as_it_refuses_clients() {
    let rt = runtime(|c| c.mailbox = 4);
    let r = get(&rt, "fan", "/fan", &[("to", "busy"), ("n", "30")])
        .await
        .unwrap();
    let body = r.json_body().unwrap();
    let (ok, overloaded) = (
        body["ok"].as_u64().unwrap(),
        body["overloaded"].as_u64().unwrap(),
    );
    assert_eq!(ok + overloaded, 30);
    assert!(ok >= 1 && overloaded >= 1, "{body}");
    // Passed on with `?`, the refusal reaches the client as the callee's overload.
    let forwards = (0..12).map(|_| get(&rt, "fwd", "/forward-slow", &[("to", "busy2")]));
    let refused = join_all(forwards)
        .await
        .into_iter()
        .filter(|r| matches!(r, Err(Error::Overloaded { .. })))
        .count();
    assert!(refused >= 1, "some forwarded calls met a full callee");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_and_errors_pass_through() {
    let rt = runtime(|_| {});
    let r = get(&rt, "s", "/sum", &[("to", "acc")]).await.unwrap();
    assert_eq!(r.json_body().unwrap(), json!({ "first": 5, "second": 12 }));
    let e = get(&rt, "x", "/boom", &[]).await.unwrap_err();
    assert!(matches!(e, Error::Handler(ref m) if m == "boom"), "{e}");
    assert_eq!(dobench_runtime::http::ApiError::from(e).status(), 500);
}
