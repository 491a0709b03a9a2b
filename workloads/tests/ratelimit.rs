//! The rate limiter through the real runtime: a burst at one key admits exactly the limit.

mod common;

use common::{client, config, json, Server};
use dobench_runtime::Ceiling;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn burst_of_1000_admits_exactly_100_in_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.ceiling = Ceiling::Off;
    cfg.mailbox = 2000;
    let s = Server::start(cfg).await;
    let c = client();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(1000));
    let url = s.url("/ratelimit/limiter-a/check?key=alice&limit=100&window_ms=1000");
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (c, url, b) = (c.clone(), url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            json(c.post(&url).send().await.unwrap()).await
        }));
    }
    let (mut allowed, mut refused) = (0, 0);
    for t in tasks {
        let (status, v) = t.await.unwrap();
        match status {
            200 => {
                assert_eq!(v["allowed"], true);
                allowed += 1;
            }
            429 => {
                assert_eq!(v["allowed"], false);
                let ra = v["retry_after_ms"].as_u64().unwrap();
                assert!((1..=1000).contains(&ra), "{v}");
                refused += 1;
            }
            other => panic!("status {other}: {v}"),
        }
    }
    // A sliding log admits at most 100 in any 1,000 ms; the burst fits in one window.
    assert!(started.elapsed().as_millis() < 1000, "burst took longer than the window");
    assert_eq!(allowed, 100);
    assert_eq!(refused, 900);
    // Another key in the same limiter is independent.
    let (status, v) = json(
        c.post(s.url("/ratelimit/limiter-a/check?key=bob&limit=100&window_ms=1000"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, v["remaining"].as_u64()), (200, Some(99)));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admissions_return_after_the_window_slides() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    let url = s.url("/ratelimit/l/check?key=k&limit=2&window_ms=300");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(c.post(&url).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
    let r = c.post(&url).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    assert_eq!(c.post(&url).send().await.unwrap().status(), 200);
    s.stop().await;
}
