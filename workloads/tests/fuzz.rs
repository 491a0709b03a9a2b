//! Property fuzzing (issue 20, Must-show 5) of what hostile users type: request paths, object
//! names and ids, query parameters, methods and Host headers through the real router (`app_with`
//! with every workload class, driven by `tower::ServiceExt::oneshot`), and profile TOML, `--set`
//! overrides and duration strings through the real parsers. Properties: never a panic or a 5xx
//! of the front's own making, every refusal a short JSON `{"error"}`, names refused by length,
//! emptiness or UTF-8 exactly as documented, and nothing created for a refused name.
//!
//! Cases per property: `DOBENCH_FUZZ_CASES` (default 2,000, so `cargo test` stays quick); the
//! issue's closing note records runs with 100,000 and more.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use dobench_runtime::{Config, DataDir, FrontConfig, Runtime};
use proptest::prelude::*;
use tower::ServiceExt;

fn cases() -> u32 {
    std::env::var("DOBENCH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

struct Harness {
    rt: tokio::runtime::Runtime,
    router: Router,
    runtime: Runtime,
    /// Decoded names that were valid (1..=limit bytes of UTF-8) in some case.
    valid_names: Mutex<HashSet<String>>,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (router, runtime) = rt.block_on(async {
            let mut cfg = Config::new(DataDir::Memory);
            cfg.ceiling = dobench_runtime::Ceiling::Off;
            let runtime = Runtime::new(cfg, dobench_workloads::registry()).unwrap();
            let router = dobench_runtime::http::app_with(
                runtime.clone(),
                &FrontConfig::default(),
                Some("127.0.0.1:8787".parse().unwrap()),
            );
            (router, runtime)
        });
        Harness {
            rt,
            router,
            runtime,
            valid_names: Mutex::new(HashSet::new()),
        }
    })
}

/// Percent-encodes every byte (so any byte string is a valid path segment).
fn encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

/// Percent-decodes a segment the way the router does (invalid escapes stay literal).
fn decode(seg: &str) -> Vec<u8> {
    let b = seg.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 3 <= b.len() {
            let (hi, lo) = (b[i + 1], b[i + 2]);
            if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// An `{object}` path segment and whether it is *tame*: from a small set, so sending it to a
/// real class creates few objects and memory stays flat over 100,000s of cases. Wild segments
/// go to an unknown class (which creates nothing) when they would be valid names.
fn object_segment() -> impl Strategy<Value = (String, bool)> {
    let tame = prop_oneof![
        // Valid names from a tiny alphabet.
        3 => "[a-c]{1,3}",
        // Around the 2,048-byte limit.
        2 => (2_040usize..2_060).prop_map(|n| "n".repeat(n)),
        // Far over it (still under hyper's own 64 KiB URI limit).
        1 => (2_049usize..20_000).prop_map(|n| "L".repeat(n)),
        // Multi-byte characters near the limit (3 bytes each).
        1 => (680usize..690).prop_map(|n| "%E2%98%83".repeat(n)),
        // idFromString forms, well- and ill-formed.
        2 => "id:[0-9a-fA-F]{0,70}",
        2 => "id:[0-9a-zA-Z%]{0,70}",
        1 => Just(String::new()),
    ];
    let wild = prop_oneof![
        // Any bytes at all, percent-encoded: invalid UTF-8, NUL, `/` inside a name...
        proptest::collection::vec(any::<u8>(), 0..48).prop_map(|b| encode(&b)),
        // Printable path characters, bare, and stray percent signs.
        "[a-zA-Z0-9._~!$&'()*+,;=:@%-]{0,24}",
    ];
    prop_oneof![
        12 => tame.prop_map(|s| (s, true)),
        6 => wild.prop_map(|s| (s, false)),
    ]
}

const CLASSES: [&str; 4] = ["counter", "ratelimit", "chat", "alarm"];

fn class() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(CLASSES.to_vec()).prop_map(String::from),
        1 => prop::sample::select(vec!["_dobench", "nosuch", "COUNTER", "counter%00"]).prop_map(String::from),
        1 => "[a-z_%0-9]{0,10}",
    ]
}

fn rest() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "", "/increment", "/check", "/ws", "/history", "/schedule", "/fired", "/", "//",
            "/increment/extra", "/%FF", "/..", "/../../etc/passwd",
        ])
        .prop_map(String::from),
        1 => "(/[a-z%0-9]{0,6}){0,3}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "by",
        "key",
        "limit",
        "window_ms",
        "user",
        "at_ms",
        "fail_times",
        "ms",
        "class",
        "object",
        "x",
        "",
    ]);
    let value = prop_oneof![
        "-?[0-9]{0,22}",
        prop::sample::select(vec![
            "1e9",
            "NaN",
            "inf",
            "-0",
            "0x10",
            "18446744073709551616",
            "%FF",
            "%",
            "a%20b",
            "",
            "1.5",
        ])
        .prop_map(String::from),
        "[a-zA-Z0-9%._~-]{0,40}",
        (300usize..5_000).prop_map(|n| "q".repeat(n)),
    ];
    proptest::collection::vec((key, value), 0..5).prop_map(|kv| {
        kv.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
    ])
}

fn host() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        2 => prop::sample::select(vec!["127.0.0.1:8787", "localhost", "[::1]:1", "LOCALHOST."])
            .prop_map(|h| Some(h.to_string())),
        1 => "[a-zA-Z0-9.:\\[\\]_-]{0,40}".prop_map(Some),
    ]
}

const ADMIN_ROUTES: [&str; 4] = ["health", "stats", "metrics", "stall"];

/// Object routes: never a panic or 5xx from the front; refusals are short JSON; names are
/// refused by emptiness, UTF-8 and length exactly as documented; foreign Hosts get 421. Then:
/// every object the runtime knows has a valid name — nothing was created for a refused one.
#[test]
fn router_survives_any_path_name_query_method_and_host() {
    let strategy = (class(), object_segment(), rest(), query(), method(), host());
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let result = runner.run(
        &strategy,
        |(class, (object, tame), rest, query, method, host)| {
            let h = harness();
            let valid_name = std::str::from_utf8(&decode(&object))
                .is_ok_and(|n| !n.is_empty() && n.len() <= FrontConfig::DEFAULT_MAX_NAME_BYTES);
            let class = if !tame && valid_name && CLASSES.contains(&class.as_str()) {
                "nosuch".to_string()
            } else {
                class
            };
            let path = if query.is_empty() {
                format!("/{class}/{object}{rest}")
            } else {
                format!("/{class}/{object}{rest}?{query}")
            };
            let Ok(uri) = path.parse::<axum::http::Uri>() else {
                return Ok(());
            };
            let mut req = Request::builder().method(method.clone()).uri(uri);
            if let Some(host) = &host {
                req = req.header("host", host.as_str());
            }
            let Ok(req) = req.body(Body::empty()) else {
                return Ok(());
            };
            let resp = h.rt.block_on(h.router.clone().oneshot(req)).unwrap();
            let status = resp.status();
            let body =
                h.rt.block_on(axum::body::to_bytes(resp.into_body(), 1 << 22))
                    .unwrap();

            let host_ok = host.as_deref().is_none_or(|h| {
                let h = h.trim().to_ascii_lowercase();
                let name = if h.starts_with('[') {
                    h.find(']').map_or(h.as_str(), |e| &h[..=e])
                } else {
                    match h.rsplit_once(':') {
                        Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) => n,
                        _ => h.as_str(),
                    }
                };
                matches!(
                    name.trim_end_matches('.'),
                    "localhost" | "127.0.0.1" | "[::1]"
                )
            });
            if !host_ok {
                prop_assert_eq!(
                    status,
                    StatusCode::MISDIRECTED_REQUEST,
                    "{} Host {:?}",
                    path,
                    host
                );
            }
            prop_assert!(
                !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                "{} {} -> {}: {}",
                method,
                path,
                status,
                String::from_utf8_lossy(&body)
            );
            let metrics = class == "_dobench" && object == "metrics" && rest.is_empty();
            if method != Method::HEAD && !metrics && status != StatusCode::SWITCHING_PROTOCOLS {
                let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
                    TestCaseError::fail(format!(
                        "{method} {path} -> {status}: not JSON: {:?}",
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    ))
                })?;
                if status.is_client_error() || status.is_server_error() {
                    let msg = v["error"].as_str().unwrap_or_default();
                    prop_assert!(!msg.is_empty(), "{} {} -> {}: {}", method, path, status, v);
                    prop_assert!(msg.len() <= 1_000, "{} -> a {}-byte error", path, msg.len());
                }
            }
            // Name rules on the object routes (the front's own routes aside).
            let own_route = class == "_dobench" && ADMIN_ROUTES.contains(&object.as_str());
            if host_ok && !own_route && !class.is_empty() && !class.contains('%') {
                let name = decode(&object);
                let rest_ok = std::str::from_utf8(&decode(&rest)).is_ok();
                match std::str::from_utf8(&name) {
                    _ if object.is_empty() => {
                        prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", path)
                    }
                    // `/{class}/{object}/` matches no route: 404 whatever the name is.
                    _ if rest == "/" => prop_assert_eq!(status, StatusCode::NOT_FOUND, "{}", path),
                    Err(_) => prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", path),
                    Ok(_) if !rest_ok => {
                        prop_assert_eq!(status, StatusCode::BAD_REQUEST, "{}", path)
                    }
                    Ok(n) if n.len() > FrontConfig::DEFAULT_MAX_NAME_BYTES => {
                        prop_assert_eq!(status, StatusCode::URI_TOO_LONG, "{}", path)
                    }
                    Ok(n) => {
                        h.valid_names.lock().unwrap().insert(n.to_string());
                    }
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let h = harness();
    let json = serde_json::to_value(h.runtime.stats()).unwrap();
    let valid = h.valid_names.lock().unwrap();
    let objects = json["objects"].as_array().unwrap();
    for o in objects {
        if let Some(name) = o["name"].as_str() {
            assert!(
                !name.is_empty() && name.len() <= FrontConfig::DEFAULT_MAX_NAME_BYTES,
                "an object exists for a refused name of {} bytes",
                name.len()
            );
            assert!(valid.contains(name), "unexpected object name {name:?}");
        }
    }
    eprintln!(
        "router fuzz: {} cases, {} distinct valid names, {} objects",
        cases(),
        valid.len(),
        objects.len()
    );
}

proptest! {
    #![proptest_config(config())]

    /// Profile TOML: arbitrary text and mutations of the built-ins never panic, and every
    /// error is a message.
    #[test]
    fn profile_parser_survives_any_text(
        base in 0usize..dobench_workloads::profile::BUILTIN.len(),
        cut in any::<prop::sample::Index>(),
        len in 0usize..200,
        insert in prop_oneof![
            prop::sample::select(vec![
                "=", "[", "]", "[[", "\"", "'''", "\n[load]\n", "rate = ", "1e309", "-1", "nan",
                "inf", "0", "18446744073709551616", "duration = \"", "\"1000000h\"", "{", "}",
                "strategy = \"hash:0\"", "strategy = \"jump:99999999999\"", "members = 0",
                "\\u0000", "\u{feff}", "\n", "#", "max_in_flight = -5", "[thresholds]\n",
                "p99_ms < ", "keyspace = ",
            ]).prop_map(String::from),
            any::<String>(),
        ],
        garbage in any::<String>(),
        pure in any::<bool>(),
    ) {
        let (_, text) = dobench_workloads::profile::BUILTIN[base];
        let doc = if pure {
            garbage
        } else {
            let at = cut.index(text.len() + 1);
            let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let end = (at + len).min(text.len());
            let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
            format!("{}{}{}", &text[..at], insert, &text[end..])
        };
        if let Err(e) = dobench_workloads::profile::parse("fuzz.toml", &doc, &[]) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// `--set key=value` overrides on every built-in: never a panic.
    #[test]
    fn profile_overrides_survive_any_assignment(
        base in 0usize..dobench_workloads::profile::BUILTIN.len(),
        sets in proptest::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(vec![
                        "load.rate", "load.duration", "load.model", "strategy", "keyspace.keys",
                        "chat.members", "load.max_in_flight", "thresholds", "workload", "a.b.c",
                        "", "load.", ".", "load..rate",
                    ]).prop_map(String::from),
                    "[a-z._]{0,16}",
                ],
                prop_oneof![
                    "-?[0-9]{1,25}(\\.[0-9]{0,5})?(e[0-9]{1,3})?",
                    prop::sample::select(vec![
                        "\"10s\"", "10s", "true", "[1,2]", "{a=1}", "\"hash:16\"", "nan", "inf",
                        "\"\"", "=", "'", "\"", "0",
                    ]).prop_map(String::from),
                    any::<String>(),
                ],
            ),
            1..4,
        ),
    ) {
        let (_, text) = dobench_workloads::profile::BUILTIN[base];
        let overrides: Vec<String> = sets.iter().map(|(k, v)| format!("{k}={v}")).collect();
        if let Err(e) = dobench_workloads::profile::parse("fuzz.toml", text, &overrides) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Duration strings (flags and profiles): never a panic; a parsed value is finite.
    #[test]
    fn durations_survive_any_string(s in prop_oneof![
        any::<String>(),
        "-?[0-9]{0,30}(\\.[0-9]{0,30})?(us|µs|ms|s|m|h|d|)",
        "[0-9.eE+-]{0,12}(ms|s|m|h)",
    ]) {
        if let Ok(d) = dobench_loadgen::duration::parse(&s) {
            prop_assert!(d.as_secs() < u64::MAX);
        }
    }
}
