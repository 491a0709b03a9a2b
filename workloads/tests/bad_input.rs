//! Bad input over HTTP: every mistake gets a precise JSON error and status, never a panic.

mod common;

use common::{client, config, json, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(config(dir.path())).await;
    let c = client();
    let cases: Vec<(&str, &str, u16, &str)> = vec![
        (
            "POST",
            "/nosuchclass/x/increment",
            404,
            "unknown object class `nosuchclass`",
        ),
        (
            "GET",
            "/counter/x/nosuchroute",
            404,
            "no route for GET /nosuchroute",
        ),
        ("GET", "/", 404, "no route"),
        ("DELETE", "/counter/x/increment", 405, "use POST"),
        ("POST", "/counter/x/increment?by=abc", 400, "`by`"),
        ("POST", "/counter/x/increment?by=0", 400, "`by`"),
        ("POST", "/counter/x/increment?by=-3", 400, "`by`"),
        (
            "POST",
            "/counter/x/increment?by=99999999999999999999",
            400,
            "`by`",
        ),
        (
            "POST",
            "/ratelimit/x/check?key=k&limit=zz&window_ms=10",
            400,
            "`limit`",
        ),
        (
            "POST",
            "/ratelimit/x/check?key=k&limit=0&window_ms=10",
            400,
            "`limit`",
        ),
        (
            "POST",
            "/ratelimit/x/check?key=k&limit=5&window_ms=-1",
            400,
            "`window_ms`",
        ),
        (
            "POST",
            "/ratelimit/x/check?key=k&limit=5",
            400,
            "`window_ms`",
        ),
        (
            "POST",
            "/ratelimit/x/check?limit=5&window_ms=10",
            400,
            "`key`",
        ),
        ("GET", "/counter/id:1234", 400, "64 hex"),
        (
            "GET",
            &*Box::leak(format!("/counter/id:{}", "z".repeat(64)).into_boxed_str()),
            400,
            "not a hex digit",
        ),
        (
            "GET",
            &*Box::leak(format!("/counter/id:{}", "ab".repeat(32)).into_boxed_str()),
            400,
            "not made for class `counter`",
        ),
        // Issue 20 defect 10: an empty object name is refused, not an object of its own.
        ("POST", "/counter//increment", 400, "empty"),
        // Issue 20 defect 1: a name over 2,048 bytes is refused before anything is created.
        (
            "GET",
            &*Box::leak(format!("/counter/{}", "n".repeat(2_049)).into_boxed_str()),
            414,
            "limited to 2048 bytes",
        ),
        (
            "POST",
            "/_dobench/stall?class=counter&object=x&ms=soon",
            400,
            "`ms`",
        ),
        (
            "POST",
            "/_dobench/stall?class=counter&ms=5",
            400,
            "`object`",
        ),
    ];
    for (method, path, status, needle) in cases {
        let req = if path.starts_with("/_dobench/stall") {
            s.admin(&c, path)
        } else {
            c.request(method.parse().unwrap(), s.url(path))
        };
        let (got, v) = json(req.send().await.unwrap()).await;
        assert_eq!(got, status, "{method} {path}: {v}");
        let msg = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: {v}"));
        assert!(
            msg.contains(needle),
            "{method} {path}: {msg:?} lacks {needle:?}"
        );
    }
    // An oversized body is refused with 413 on its `Content-Length`, before a byte of it is
    // read. Spoken over a raw socket that sends no body: a client streaming 100 MiB would race
    // the server's early answer and may see a broken pipe instead of the 413.
    let (got, v) = oversized_declared_body(s.addr).await;
    assert_eq!(got, 413, "{v}");
    assert!(v["error"].as_str().unwrap().contains("limit"), "{v}");
    // A valid id string reaches the same object as its name.
    let id = s.runtime.object_by_name("counter", "named").unwrap().id();
    c.post(s.url("/counter/named/increment?by=7"))
        .send()
        .await
        .unwrap();
    let (got, v) = json(
        c.get(s.url(&format!("/counter/id:{}", id.to_hex().to_uppercase())))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((got, v["value"].as_u64()), (200, Some(7)));
    // The server is still healthy after all that.
    let (got, v) = json(c.get(s.url("/_dobench/health")).send().await.unwrap()).await;
    assert_eq!((got, v["ok"].as_bool()), (200, Some(true)));
    let metrics = c
        .get(s.url("/_dobench/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("dobench_object_requests_total{class=\"counter\""),
        "{metrics}"
    );
    s.stop().await;
}

/// Declares a body one byte past the default limit, sends none of it, and returns the status
/// and JSON body of the answer.
async fn oversized_declared_body(addr: std::net::SocketAddr) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /counter/x/increment HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n",
        dobench_runtime::Config::DEFAULT_MAX_BODY + 1
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        sock.read_to_end(&mut answer),
    )
    .await;
    assert!(
        read.is_ok(),
        "no answer within 30 s to an oversized Content-Length"
    );
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let v = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}"));
    (status, v)
}
