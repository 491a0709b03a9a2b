//! Shared harness of the front's integration tests: a `room` class (HTTP `GET` answers
//! `{"ok":true}`, a WebSocket upgrade joins, every text frame is broadcast to every member),
//! a real server on 127.0.0.1:0 with a chosen [`FrontConfig`], and raw-TCP helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use dobench_runtime::{
    AnyObject, Config, Context, DataDir, FrontConfig, Object, Registry, Request, Response, Result,
    Runtime, SocketId, WsMessage,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

struct Room;

impl Object for Room {
    async fn fetch(&self, ctx: &mut Context, req: Request) -> Result<Response> {
        if req.is_websocket_upgrade() {
            ctx.accept_websocket(&[])?;
            return Ok(Response::switching_protocols());
        }
        Ok(Response::json(200, &serde_json::json!({ "ok": true })))
    }

    async fn websocket_message(
        &self,
        ctx: &mut Context,
        _ws: SocketId,
        msg: WsMessage,
    ) -> Result<()> {
        let all = ctx.get_websockets(None);
        ctx.broadcast(&all, msg);
        Ok(())
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub runtime: Runtime,
    pub token: String,
    pub stop: CancellationToken,
    pub force: CancellationToken,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(front: FrontConfig) -> Server {
        Self::start_with(Config::new(DataDir::Memory), front).await
    }

    pub async fn start_with(config: Config, front: FrontConfig) -> Server {
        let mut reg = Registry::new();
        reg.register("room", |_| Ok(Box::new(Room) as Box<dyn AnyObject>));
        let runtime = Runtime::new(config, reg).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, force) = (CancellationToken::new(), CancellationToken::new());
        let token = front.admin.token.clone();
        let task = tokio::spawn(dobench_runtime::serve_with(
            listener,
            runtime.clone(),
            front,
            stop.clone().cancelled_owned(),
            force.clone().cancelled_owned(),
        ));
        Server {
            addr,
            runtime,
            token,
            stop,
            force,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// POST to an admin route the way a user with the printed token does.
    pub async fn admin_post(&self, path: &str) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        json(r).await
    }
}

pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    let v = serde_json::from_slice(&body).unwrap_or_else(|_| {
        panic!(
            "status {status}: body is not JSON: {:?}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, v)
}

/// Writes `bytes` on a fresh connection and reads until the server closes it (at most 10 s).
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    read_to_close(&mut tcp, Duration::from_secs(10))
        .await
        .expect("the server kept the connection open")
}

/// Reads until EOF or reset; `None` if still open after `patience`.
pub async fn read_to_close(tcp: &mut TcpStream, patience: Duration) -> Option<String> {
    let mut out = Vec::new();
    let done = tokio::time::timeout(patience, async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    done.ok()
        .map(|_| String::from_utf8_lossy(&out).into_owned())
}

/// The JSON body of a raw HTTP/1.1 response.
pub fn body_json(resp: &str) -> serde_json::Value {
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not a JSON body: {resp:?}"))
}
