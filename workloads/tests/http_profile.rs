//! `workload = "http"` profiles as the loader reads them (issue 15): a wrong template or
//! check is a profile error naming the file, the line and the field; a good one compiles.
//! No network.

use dobench_workloads::profile;
use dobench_workloads::Error;

const HEAD: &str = r#"name = "t"
workload = "http"
strategy = "hash:4"

[load]
rate = 10
duration = "1s"

[[http.requests]]
name = "a"
"#;

/// Parses `HEAD` + `tail` and returns (line, field, message) of the error.
fn error_of(head: &str, tail: &str) -> (usize, String, String) {
    let text = format!("{head}{tail}");
    match profile::parse("my.toml", &text, &[]) {
        Err(Error::Profile {
            file,
            line,
            field,
            message,
            ..
        }) => {
            assert_eq!(file, "my.toml");
            (line, field.unwrap_or_default(), message)
        }
        other => panic!("expected a profile error for {tail:?}, got {other:?}"),
    }
}

#[test]
fn a_good_http_profile_loads() {
    let p = profile::parse(
        "my.toml",
        &format!(
            "{HEAD}method = \"POST\"\npath = \"/v1/{{object}}/x?k={{key}}\"\nbody = '{{\"n\": {{seq}}}}'\nexpect_status = [200, 429]\ncapture = {{ tok = \"/t\" }}\nheaders = {{ authorization = \"Bearer {{tok}}\" }}\n"
        ),
        &[],
    )
    .unwrap();
    assert_eq!(p.http.requests.len(), 1);
    assert!(p.strategy_given);
}

#[test]
fn an_unknown_placeholder_names_line_column_and_field() {
    let text = format!("{HEAD}path = \"/v1/{{tenant}}/likes\"\n");
    let e = profile::parse("my.toml", &text, &[]).unwrap_err();
    let shown = e.to_string();
    // line 11 is the `path = ...` line; the column points at `{tenant}`.
    assert!(
        shown.starts_with("my.toml:11:13: unknown placeholder {tenant}"),
        "{shown}"
    );
    assert!(shown.contains("(field `http.requests[0].path`)"), "{shown}");
}

#[test]
fn a_bad_json_pointer_names_the_check() {
    let (line, field, message) = error_of(
        HEAD,
        "path = \"/x\"\n\n[[http.requests.checks]]\npointer = \"value\"\nis = \"number\"\n",
    );
    assert_eq!(line, 14, "{message}");
    assert_eq!(field, "http.requests[0].checks[0].pointer");
    assert!(
        message.contains("must be empty or start with `/`"),
        "{message}"
    );
}

#[test]
fn an_object_path_without_a_strategy_says_so() {
    let head = HEAD.replace("strategy = \"hash:4\"\n", "");
    let (line, field, message) = error_of(&head, "path = \"/v1/{object}\"\n");
    assert_eq!(line, 10);
    assert_eq!(field, "http.requests[0].path");
    assert!(message.contains("needs a sharding strategy"), "{message}");
    // The same profile with `--strategy` (an override) loads.
    let text = format!("{head}path = \"/v1/{{object}}\"\n");
    assert!(profile::parse("my.toml", &text, &["strategy=\"hash:2\"".into()]).is_ok());
}

#[test]
fn other_mistakes_name_their_field() {
    for (tail, want_field, want) in [
        (
            "path = \"x\"\n",
            "http.requests[0].path",
            "must start with `/`",
        ),
        (
            "path = \"/x\"\nchecks = [{ pointer = \"/a\", matches = \"(\" }]\n",
            "http.requests[0].checks[0].matches",
            "bad regex",
        ),
        (
            "path = \"/x\"\nchecks = [{ pointer = \"/a\" }]\n",
            "http.requests[0].checks[0]",
            "exactly one of",
        ),
        (
            "path = \"/x\"\nexpect_status = [42]\n",
            "http.requests[0].expect_status",
            "not an HTTP status",
        ),
        (
            "path = \"/{seq}\"\nheaders = { \"x-a\" = \"{rand:5-1}\" }\n",
            "http.requests[0].headers.x-a",
            "LO ≤ HI",
        ),
        (
            "path = \"/x/{token}\"\n",
            "http.requests[0].path",
            "unknown placeholder {token}",
        ),
    ] {
        let (_, field, message) = error_of(HEAD, tail);
        assert_eq!(field, want_field, "{tail}: {message}");
        assert!(message.contains(want), "{tail}: {message}");
    }
}

#[test]
fn invariants_need_an_increment_and_one_per_object_read() {
    let tail = "path = \"/c/{object}\"\nrole = \"read\"\n\n[http.invariants]\nvalue = \"/v\"\n";
    let (_, field, message) = error_of(HEAD, tail);
    assert_eq!(field, "http.invariants");
    assert!(message.contains("role = \"increment\""), "{message}");
    let tail = "path = \"/c/{object}?k={key}\"\nrole = \"read\"\n\n[[http.requests]]\nname = \"b\"\npath = \"/i/{object}\"\nrole = \"increment\"\n\n[http.invariants]\nvalue = \"/v\"\n";
    let (_, field, message) = error_of(HEAD, tail);
    assert_eq!(field, "http.requests[0].path");
    assert!(message.contains("once per object"), "{message}");
}

#[test]
fn a_typo_in_the_second_request_names_its_index() {
    let tail = "path = \"/x\"\n\n[[http.requests]]\nname = \"b\"\npth = \"/y\"\n";
    let (line, field, message) = error_of(HEAD, tail);
    assert_eq!(line, 15, "{message}");
    assert_eq!(field, "http.requests[1].pth");
    assert!(message.contains("unknown field `pth`"), "{message}");
}
