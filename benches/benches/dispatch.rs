//! Criterion: in-process dispatch of a no-op turn (no HTTP, ceiling off), to one object and
//! spread over 1,000 objects; and counter increments with storage, group commit vs one
//! commit per turn. Each iteration sends a wave of concurrent fetches and waits for all.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dobench_runtime::{
    AnyObject, Ceiling, Config, Context, DataDir, Method, Object, ObjectRef, Registry, Request,
    Response, Result, Runtime,
};
use futures_util::future::join_all;

struct Noop;

impl Object for Noop {
    async fn fetch(&self, _ctx: &mut Context, _req: Request) -> Result<Response> {
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            body: Default::default(),
        })
    }
}

const WAVE: usize = 1000;

fn runtime(rt: &tokio::runtime::Runtime, data: DataDir, max_batch: usize) -> Runtime {
    let mut reg = Registry::new();
    reg.register("noop", |_ctx| Ok(Box::new(Noop) as Box<dyn AnyObject>));
    dobench_workloads::register_all(&mut reg);
    let mut cfg = Config::new(data);
    cfg.ceiling = Ceiling::Off;
    cfg.mailbox = WAVE * 2;
    cfg.max_batch = max_batch;
    let _guard = rt.enter();
    Runtime::new(cfg, reg).unwrap()
}

/// Sends `WAVE` fetches (spread over `objects`) concurrently, `iters` times.
fn waves(
    rt: &tokio::runtime::Runtime,
    runtime: &Runtime,
    objects: &[ObjectRef],
    req: &Request,
    iters: u64,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let calls = (0..WAVE).map(|i| runtime.fetch(&objects[i % objects.len()], req.clone()));
            for r in join_all(calls).await {
                assert_eq!(r.unwrap().status, 200);
            }
        }
        start.elapsed()
    })
}

fn noop_dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = runtime(&rt, DataDir::Memory, Config::DEFAULT_MAX_BATCH);
    let mut g = c.benchmark_group("noop_turn");
    g.throughput(Throughput::Elements(WAVE as u64));
    for n in [1usize, 1000] {
        let objects: Vec<_> = (0..n)
            .map(|i| runtime.object_by_name("noop", &format!("o{i}")).unwrap())
            .collect();
        let req = Request::new(Method::GET, "/");
        g.bench_with_input(BenchmarkId::new("objects", n), &n, |b, _| {
            b.iter_custom(|iters| waves(&rt, &runtime, &objects, &req, iters))
        });
    }
    g.finish();
}

fn counter_commit(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("counter_increment_one_object");
    g.throughput(Throughput::Elements(WAVE as u64));
    g.sample_size(20);
    for (label, max_batch) in [
        ("group_commit", Config::DEFAULT_MAX_BATCH),
        ("commit_per_turn", 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let runtime = runtime(&rt, DataDir::Path(dir.path().to_path_buf()), max_batch);
        let objects = vec![runtime.object_by_name("counter", "bench").unwrap()];
        let req = Request::new(Method::POST, "/increment");
        g.bench_function(label, |b| {
            b.iter_custom(|iters| waves(&rt, &runtime, &objects, &req, iters))
        });
        rt.block_on(runtime.shutdown());
    }
    g.finish();
}

criterion_group!(benches, noop_dispatch, counter_commit);
criterion_main!(benches);
