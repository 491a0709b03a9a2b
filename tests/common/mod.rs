//! Helpers shared by the binary's integration tests: a tiny keep-alive HTTP target on
//! 127.0.0.1:0. Test-only; never used by the product.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// Serves `200 {}` to every request on its own threads; returns the base URL.
pub fn tiny_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut out = conn.try_clone().unwrap();
                let mut reader = BufReader::new(conn);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            let resp = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                            if out.write_all(resp.as_bytes()).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}
