//! The per-event CPU budget through a real server: a handler that loops over storage calls
//! past a short budget (100 ms here; production's is 30 s) is stopped with production's
//! error, its writes are thrown away, the object's WebSocket clients see close code 1011,
//! and the object keeps serving afterwards from what storage holds.

use std::time::Duration;

use dobench_runtime::{
    AnyObject, Config, Context, DataDir, Object, Registry, Request, Response, Result, Runtime,
    SocketId, WsMessage,
};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// `GET /ws` accepts a socket; `POST /spin` writes `spun` then reads storage until stopped;
/// `POST /inc` adds one to `n`; `GET /` answers `n` and whether `spun` exists.
struct Spinner;

impl Object for Spinner {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        match req.path.as_str() {
            "/ws" => {
                ctx.accept_websocket(&[])?;
                Ok(Response::switching_protocols())
            }
            "/spin" => {
                let mut s = ctx.storage();
                s.put("spun", b"1")?;
                loop {
                    s.get("n")?;
                }
            }
            "/inc" => {
                let n = read_n(ctx)? + 1;
                ctx.storage().put("n", &n.to_le_bytes())?;
                Ok(Response::json(200, &serde_json::json!({ "n": n })))
            }
            _ => {
                let n = read_n(ctx)?;
                let spun = ctx.storage().get("spun")?.is_some();
                Ok(Response::json(
                    200,
                    &serde_json::json!({ "n": n, "spun": spun }),
                ))
            }
        }
    }

    async fn websocket_message(&self, _: &mut Context, _: SocketId, _: WsMessage) -> Result<()> {
        Ok(())
    }
}

fn read_n(ctx: &mut Context) -> Result<u64> {
    Ok(ctx
        .storage()
        .get("n")?
        .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_le_bytes))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_past_its_cpu_budget_is_stopped_and_the_object_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut reg = Registry::new();
    reg.register("spin", |_| Ok(Box::new(Spinner) as Box<dyn AnyObject>));
    let mut config = Config::new(DataDir::Path(dir.path().to_path_buf()));
    config.cpu_budget = Some(Duration::from_millis(100));
    config.ceiling = dobench_runtime::Ceiling::Off;
    let rt = Runtime::new(config, reg).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let s = stop.clone();
    tokio::spawn(dobench_runtime::serve(listener, rt, async move {
        s.cancelled().await
    }));
    let base = format!("http://{addr}/spin/o");
    // A budget that is not enforced would spin forever: fail instead of hanging.
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let inc = c.post(format!("{base}/inc")).send().await.unwrap();
    assert_eq!(inc.status(), 200);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/spin/o/ws"))
        .await
        .unwrap();

    let t0 = std::time::Instant::now();
    let spin = c.post(format!("{base}/spin")).send().await.unwrap();
    assert_eq!(spin.status(), 500);
    let body: serde_json::Value = spin.json().await.unwrap();
    let err = body["error"].as_str().unwrap();
    assert!(
        err.contains("exceeded its CPU time limit (100 ms per event) and was reset"),
        "{err}"
    );
    // Stopped near the budget (CPU time ≤ wall time, so never before it), not left to run.
    assert!(t0.elapsed() >= Duration::from_millis(100));

    // The socket of the reset object is closed with the stated code.
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = ws.next().await {
            if let Ok(Message::Close(Some(f))) = frame {
                return Some(u16::from(f.code));
            }
        }
        None
    })
    .await
    .unwrap();
    assert_eq!(closed, Some(1011));

    // It serves again, from storage: the earlier write kept, the spinning turn's write gone.
    let v: serde_json::Value = c.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(v["n"], 1, "{v}");
    assert_eq!(v["spun"], false, "{v}");
    let inc: serde_json::Value = c
        .post(format!("{base}/inc"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inc["n"], 2);
    let stats: serde_json::Value = c
        .get(format!("http://{addr}/_dobench/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats["objects"][0]["resets"].as_u64().unwrap() >= 1,
        "{stats}"
    );
    stop.cancel();
}
