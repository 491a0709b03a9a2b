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
    // The claim is about one window, so the burst must land inside 1,000 ms. On a loaded
    // machine (debug build, 1,000 fresh connections) it may not: then that attempt proves
    // nothing and is repeated with a fresh key, up to 3 times.
    let mut attempts = Vec::new();
    let c = reqwest::Client::builder()
        .pool_max_idle_per_host(1000)
        .build()
        .unwrap();
    for attempt in 0..3 {
        // Open the 1,000 connections first, so the burst itself is requests only.
        let warm = (0..1000).map(|_| c.get(s.url("/_dobench/health")).send());
        for r in futures_util::future::join_all(warm).await {
            assert_eq!(r.unwrap().status(), 200);
        }
        let url = s.url(&format!(
            "/ratelimit/limiter-a/check?key=alice{attempt}&limit=100&window_ms=1000"
        ));
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(1000));
        let mut tasks = Vec::new();
        for _ in 0..1000 {
            let (c, url, b) = (c.clone(), url.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                let t = std::time::Instant::now();
                let r = json(c.post(&url).send().await.unwrap()).await;
                (t, std::time::Instant::now(), r)
            }));
        }
        let (mut allowed, mut refused) = (0, 0);
        let (mut first, mut last) = (None::<std::time::Instant>, None::<std::time::Instant>);
        for t in tasks {
            let (sent, done, (status, v)) = t.await.unwrap();
            first = Some(first.map_or(sent, |f| f.min(sent)));
            last = Some(last.map_or(done, |l| l.max(done)));
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
        let span = last.unwrap() - first.unwrap();
        attempts.push(span);
        if span.as_millis() >= 1000 {
            continue;
        }
        // A sliding log admits at most 100 in any 1,000 ms; the burst fits in one window.
        assert_eq!(allowed, 100);
        assert_eq!(refused, 900);
        break;
    }
    assert!(
        attempts.last().unwrap().as_millis() < 1000,
        "no burst fitted in one window: {attempts:?}"
    );
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
