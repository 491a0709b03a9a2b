//! The send–parse–record path of one plain HTTP/1.1 request: (a) without a socket,
//! serializing the request, parsing a canned response head and recording the sample; (b) a
//! whole request on one loopback keep-alive connection (`HttpConn::send` + record) against a
//! canned-answer server thread, through the fast path and through the general hyper client,
//! so their per-request cost shows side by side. Measures only; asserts nothing.

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dobench_loadgen::client::h1;
use dobench_loadgen::client::http::{ClientConfig, HttpConn};
use dobench_loadgen::http::Method;
use dobench_loadgen::recorder::Sample;
use dobench_loadgen::{Outcome, Recorder, RequestSpec};

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";

/// A server thread per connection that answers every request head with [`ANSWER`].
fn canned_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let _ = s.set_nodelay(true);
                let mut buf = vec![0u8; 16 * 1024];
                let mut have = 0;
                loop {
                    let Ok(n) = s.read(&mut buf[have..]) else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    let heads = buf[..have].windows(4).filter(|w| w == b"\r\n\r\n").count();
                    if heads > 0 {
                        let tail = buf[..have]
                            .windows(4)
                            .rposition(|w| w == b"\r\n\r\n")
                            .unwrap_or(0)
                            + 4;
                        buf.copy_within(tail..have, 0);
                        have -= tail;
                        for _ in 0..heads {
                            if s.write_all(ANSWER).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    url
}

fn sample<'a>(op: &'a Arc<str>, service: Duration, code: u16) -> Sample<'a> {
    Sample {
        op,
        object: None,
        lateness: Duration::from_micros(1),
        service: Some(service),
        latency: service,
        queue_wait: None,
        outcome: Outcome::Status {
            code,
            overloaded: false,
            cold_start: false,
        },
    }
}

fn without_socket(c: &mut Criterion) {
    let spec = RequestSpec::new("GET", Method::GET, "http://127.0.0.1:8080/").expect("spec");
    let op = spec.op.clone();
    let mut rec = Recorder::new();
    let mut out = Vec::with_capacity(256);
    let mut g = c.benchmark_group("request_path");
    g.throughput(Throughput::Elements(1));
    g.bench_function("serialize_parse_record", |b| {
        b.iter(|| {
            h1::serialize(black_box(&spec), "127.0.0.1:8080", &mut out);
            let head = h1::parse_head(black_box(ANSWER), false)
                .expect("valid")
                .expect("complete");
            rec.record(&sample(&op, Duration::from_micros(40), head.status));
            black_box(out.len())
        })
    });
    g.finish();
}

fn loopback(c: &mut Criterion) {
    let url = canned_server();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let spec = RequestSpec::new("GET", Method::GET, &url).expect("spec");
    let mut g = c.benchmark_group("request_path");
    g.throughput(Throughput::Elements(1));
    for (name, fast) in [("loopback_fast_h1", true), ("loopback_hyper", false)] {
        let mut conn = HttpConn::new(ClientConfig {
            fast_h1: fast,
            ..ClientConfig::default()
        });
        let mut rec = Recorder::new();
        let op = spec.op.clone();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        let sent = Instant::now();
                        let resp = conn.send(&spec).await.expect("answer");
                        rec.record(&sample(&op, sent.elapsed(), resp.status));
                    }
                    t0.elapsed()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, without_socket, loopback);
criterion_main!(benches);
