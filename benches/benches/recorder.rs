//! Recorder hot paths: the cost of recording one finished request into a shard (ns/record),
//! and of the per-tick merge of a busy shard into the tick delta (what the collector pays
//! ~4 times a second per shard). Measures only; asserts nothing.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dobench_loadgen::recorder::Sample;
use dobench_loadgen::{Outcome, Recorder};

fn sample<'a>(op: &'a Arc<str>, object: Option<&'a Arc<str>>, i: u64) -> Sample<'a> {
    let lat = Duration::from_micros(200 + (i * 7919) % 5000);
    Sample {
        op,
        object,
        lateness: Duration::from_micros(i % 50),
        service: Some(lat),
        latency: lat,
        queue_wait: None,
        outcome: Outcome::Status {
            cold_start: false,
            code: 200,
            overloaded: false,
        },
    }
}

fn record(c: &mut Criterion) {
    let op: Arc<str> = "get".into();
    let objects: Vec<Arc<str>> = (0..16).map(|i| Arc::from(format!("counter-{i}"))).collect();
    let mut g = c.benchmark_group("recorder");
    g.throughput(Throughput::Elements(1));
    let mut rec = Recorder::new();
    let mut i = 0u64;
    g.bench_function("record_one", |b| {
        b.iter(|| {
            i += 1;
            rec.record(black_box(&sample(&op, None, i)));
        })
    });
    let mut rec = Recorder::new();
    g.bench_function("record_one_with_object", |b| {
        b.iter(|| {
            i += 1;
            let obj = &objects[(i % 16) as usize];
            rec.record(black_box(&sample(&op, Some(obj), i)));
        })
    });
    // A shard behind its mutex, as workers use it.
    let shard = std::sync::Mutex::new(Recorder::new());
    g.bench_function("record_one_locked", |b| {
        b.iter(|| {
            i += 1;
            shard
                .lock()
                .unwrap()
                .record(black_box(&sample(&op, None, i)));
        })
    });
    g.finish();
}

fn merge(c: &mut Criterion) {
    let op: Arc<str> = "get".into();
    let objects: Vec<Arc<str>> = (0..16).map(|i| Arc::from(format!("counter-{i}"))).collect();
    // One shard's tick at 25k req/s (6,250 requests over 16 objects).
    let mut shard = Recorder::new();
    for i in 0..6_250u64 {
        shard.record(&sample(&op, Some(&objects[(i % 16) as usize]), i));
    }
    let mut delta = Recorder::new();
    c.bench_function("recorder/tick_merge_16_objects", |b| {
        b.iter(|| {
            delta.reset();
            delta.add(black_box(&shard));
        })
    });
}

criterion_group!(benches, record, merge);
criterion_main!(benches);
