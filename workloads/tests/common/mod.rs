//! Test harness: starts the real runtime with every workload class on 127.0.0.1:0 and
//! talks to it over HTTP. Shared by the integration tests of this crate.
#![allow(dead_code)]

pub mod targets;

use std::net::SocketAddr;
use std::path::PathBuf;

use dobench_runtime::{Config, DataDir, FrontConfig, Runtime};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Server {
    pub base: String,
    pub addr: SocketAddr,
    pub runtime: Runtime,
    /// The admin token (`dobench serve` prints it at start); `admin` sends it.
    pub admin_token: String,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    pub async fn start(config: Config) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let runtime = Runtime::new(config, dobench_workloads::registry()).unwrap();
        let stop = CancellationToken::new();
        let s = stop.clone();
        let front = FrontConfig::default();
        let admin_token = front.admin.token.clone();
        let task = tokio::spawn(dobench_runtime::serve_with(
            listener,
            runtime.clone(),
            front,
            async move { s.cancelled().await },
            std::future::pending(),
        ));
        Server {
            base: format!("http://{addr}"),
            addr,
            runtime,
            admin_token,
            stop,
            task,
        }
    }

    /// Graceful stop: in-flight turns finish and commit.
    pub async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A POST to an admin route (`/_dobench/stall`) as a user sends it: with the printed
    /// token and a JSON content type.
    pub fn admin(&self, c: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        c.post(self.url(path))
            .bearer_auth(&self.admin_token)
            .header("content-type", "application/json")
    }
}

pub fn config(dir: &std::path::Path) -> Config {
    Config::new(DataDir::Path(PathBuf::from(dir)))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(2000)
        .build()
        .unwrap()
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

pub async fn counter_value(c: &reqwest::Client, s: &Server, name: &str) -> u64 {
    let (status, v) = json(
        c.get(s.url(&format!("/counter/{name}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["value"].as_u64().unwrap()
}

pub async fn stats(c: &reqwest::Client, s: &Server) -> serde_json::Value {
    json(c.get(s.url("/_dobench/stats")).send().await.unwrap())
        .await
        .1
}

/// The stats entry of the object `name` of `class`.
pub fn object_stats<'a>(
    stats: &'a serde_json::Value,
    class: &str,
    name: &str,
) -> &'a serde_json::Value {
    stats["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["class"] == class && o["name"] == name)
        .unwrap_or_else(|| panic!("no stats for {class}/{name}: {stats}"))
}
