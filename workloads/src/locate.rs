//! Where a field sits in a profile's TOML text: walks the document parsed with spans
//! (`toml::de::DeTable`) along a field path (`http.requests[1].path`) and turns a byte
//! position into line and column, so a compile error of a template or check names file,
//! line and field. Never guesses from text search; a field it cannot find (e.g. one set by
//! an override) is reported at line 1.

use toml::de::{DeTable, DeValue};

use crate::error::Error;
use crate::http_spec::CompileError;

/// True when the document's top level sets `key`.
pub fn has_key(text: &str, key: &str) -> bool {
    DeTable::parse(text).is_ok_and(|t| t.get_ref().contains_key(key))
}

/// The byte span of the value at `path` (table keys and array indices as text).
fn span_of(text: &str, path: &[String]) -> Option<std::ops::Range<usize>> {
    let doc = DeTable::parse(text).ok()?;
    let (first, rest) = path.split_first()?;
    let mut value = doc.get_ref().get(first.as_str())?;
    let mut last = value.span();
    for p in rest {
        let next = match value.get_ref() {
            DeValue::Table(t) => t.get(p.as_str()),
            DeValue::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        match next {
            Some(v) => {
                value = v;
                last = v.span();
            }
            // The deepest part that exists (e.g. the request whose field is missing).
            None => break,
        }
    }
    Some(last)
}

/// 1-based (line, column) of byte `pos` in `text`.
fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let pos = (0..=pos)
        .rev()
        .find(|p| text.is_char_boundary(*p))
        .unwrap_or(0);
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// A compile error of the `[http]` section as a located profile error.
pub fn compile_error(file: &str, text: &str, e: &CompileError) -> Error {
    let (line, column) = match span_of(text, &e.path) {
        Some(span) => {
            // Inside a one-line string: skip its opening quote(s) to the offset.
            let quote = text[span.start..]
                .chars()
                .take_while(|c| *c == '"' || *c == '\'')
                .count()
                .min(3);
            let inner = e.offset.map_or(0, |o| o + quote);
            line_col(text, span.start + inner)
        }
        None => (1, 1),
    };
    Error::Profile {
        file: file.to_string(),
        line,
        column,
        field: Some(e.field()),
        message: e.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_array_fields() {
        let text =
            "a = 1\n[[http.requests]]\npath = \"/x\"\n[[http.requests]]\npath = \"/{bad}\"\n";
        let path: Vec<String> = ["http", "requests", "1", "path"].map(String::from).to_vec();
        let span = span_of(text, &path).unwrap();
        assert_eq!(line_col(text, span.start), (5, 8));
        let e = CompileError {
            path,
            offset: Some(1),
            message: "m".into(),
        };
        let Error::Profile {
            line,
            column,
            field,
            ..
        } = compile_error("f.toml", text, &e)
        else {
            panic!()
        };
        assert_eq!(
            (line, column, field.as_deref()),
            (5, 10, Some("http.requests[1].path"))
        );
    }
}
