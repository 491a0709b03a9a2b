//! Query-parameter parsing shared by the workload classes: every bad value becomes a 400
//! whose message names the parameter and the accepted range. Never panics on user input.

use dobench_runtime::{Request, Response};

/// A required or defaulted whole number in `min..=max`.
pub(crate) fn uint(
    req: &Request,
    name: &str,
    default: Option<u64>,
    min: u64,
    max: u64,
) -> Result<u64, Response> {
    let bad = || {
        Response::error(
            400,
            format!("query parameter `{name}` must be a whole number in {min}..={max}"),
        )
    };
    match req.query(name) {
        None => {
            default.ok_or_else(|| Response::error(400, format!("missing query parameter `{name}`")))
        }
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(bad),
    }
}

/// A required non-empty string of at most `max_len` bytes.
pub(crate) fn text<'r>(req: &'r Request, name: &str, max_len: usize) -> Result<&'r str, Response> {
    match req.query(name) {
        None | Some("") => Err(Response::error(
            400,
            format!("missing query parameter `{name}`"),
        )),
        Some(v) if v.len() > max_len => Err(Response::error(
            400,
            format!(
                "query parameter `{name}` is {} bytes; the limit is {max_len}",
                v.len()
            ),
        )),
        Some(v) => Ok(v),
    }
}

/// 404/405 for a path or method the class does not serve.
pub(crate) fn no_route(req: &Request, allowed: &[(&str, &str)]) -> Response {
    if allowed.iter().any(|(_, p)| *p == req.path) {
        let methods: Vec<&str> = allowed
            .iter()
            .filter(|(_, p)| *p == req.path)
            .map(|(m, _)| *m)
            .collect();
        Response::error(
            405,
            format!(
                "{} {} is not allowed; use {}",
                req.method,
                req.path,
                methods.join(" or ")
            ),
        )
    } else {
        Response::error(404, format!("no route for {} {}", req.method, req.path))
    }
}
