//! The report's page shell: HTML escaping, the inline stylesheet (responsive: two chart
//! columns on wide screens, one on phones), and section/card helpers. Everything a user
//! typed passes through [`esc`]. Never links a stylesheet, script or font from elsewhere.

use std::fmt::Write;

/// The series palette (Okabe–Ito, colour-blind safe), in order of use.
pub const PALETTE: [&str; 7] = [
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#7f7f7f",
];

/// Colour for the `i`th series.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --fg:#1d2330; --muted:#5b6475; --line:#dde2ea; --bg:#f5f7fa; --card:#fff;
        --ok:#1a7f37; --bad:#c62828; --warn:#9a6700; --accent:#0072B2; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header.top { background:#1d2330; color:#fff; padding:20px 24px; }
header.top h1 { margin:0 0 4px; font-size:1.5rem; font-weight:650; overflow-wrap:anywhere; }
header.top p { margin:0; color:#c9d1e0; font-size:.95rem; overflow-wrap:anywhere; }
main { max-width:1240px; margin:0 auto; padding:16px; }
section { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin:0 0 16px; }
section h2 { font-size:1.15rem; margin:0 0 10px; }
section h3 { font-size:1rem; margin:14px 0 6px; color:var(--muted); }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(150px, 1fr)); gap:10px; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 12px; background:#fbfcfe; }
.card .k { font-size:.8rem; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
.card .v { font-size:1.35rem; font-weight:650; font-variant-numeric:tabular-nums; overflow-wrap:anywhere; }
.card.wide { grid-column:span 2; }
.card .v a { color:var(--accent); text-decoration:none; font-size:1.05rem; }
.pass { color:var(--ok); } .fail { color:var(--bad); } .incomplete { color:var(--warn); }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:.8rem; font-weight:600;
         border:1px solid currentColor; }
.grid { display:grid; grid-template-columns:1fr; gap:16px; }
@media (min-width: 1000px) { .grid { grid-template-columns:1fr 1fr; } }
.grid section { margin:0; min-width:0; }
figure { margin:0; }
svg.chart { width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:.9rem; margin-top:6px; }
.legend { display:flex; flex-wrap:wrap; gap:4px 14px; margin:6px 0 0; padding:0; list-style:none; font-size:.9rem; }
.legend li { display:flex; align-items:center; gap:6px; overflow-wrap:anywhere; }
.legend .sw { width:18px; height:4px; border-radius:2px; flex:none; }
.legend .sw.dash { background-image:linear-gradient(90deg, currentColor 60%, transparent 0); background-size:6px 4px; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; font-size:.95rem; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; font-size:.85rem; }
td.n, th.n { text-align:right; white-space:nowrap; }
tr.best td { background:#eaf6ee; }
.bar { height:14px; border-radius:3px; background:var(--accent); min-width:2px; }
.bars td { width:auto; }
.bars td.b { width:60%; }
pre { background:#1d2330; color:#e8edf6; padding:12px 14px; border-radius:8px; overflow-x:auto;
      font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; margin:0; }
.muted { color:var(--muted); }
footer { color:var(--muted); font-size:.85rem; text-align:center; padding:8px 16px 24px; }
@media (max-width: 600px) {
  main { padding:10px; } section { padding:12px; } header.top { padding:14px; }
  header.top h1 { font-size:1.25rem; } .card .v { font-size:1.15rem; }
  th, td { padding:5px 6px; }
}
"#;

/// The whole page around `body`.
pub fn shell(title: &str, subtitle: &str, body: &str, footer: &str) -> String {
    let mut o = String::with_capacity(body.len() + CSS.len() + 1024);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light\">\n<title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <header class=\"top\"><h1>{t}</h1><p>{s}</p></header>\n<main>\n{body}</main>\n<footer>{f}</footer>\n</body>\n</html>\n",
        t = esc(title),
        s = esc(subtitle),
        f = esc(footer),
    );
    o
}

/// A `<section>` with an id and a heading; `inner` is trusted HTML.
pub fn section(id: &str, heading: &str, inner: &str) -> String {
    format!(
        "<section id=\"{}\">\n<h2>{}</h2>\n{inner}</section>\n",
        esc(id),
        esc(heading)
    )
}

/// One headline card; `class` colours the value (`pass`, `fail`, `incomplete` or empty).
pub fn card(key: &str, value: &str, class: &str) -> String {
    format!(
        "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v {}\">{}</div></div>",
        esc(key),
        esc(class),
        esc(value)
    )
}

/// A headline card whose value is already HTML (escaped by the caller).
pub fn card_html(key: &str, value_html: &str, class: &str) -> String {
    let wide = if value_html.len() > 60 { " wide" } else { "" };
    format!(
        "<div class=\"card{wide}\"><div class=\"k\">{}</div><div class=\"v {}\">{value_html}</div></div>",
        esc(key),
        esc(class)
    )
}

/// A target for display: URLs become a plain link whose text omits the scheme (the report
/// then mentions `http://` only inside `href`s); anything else is escaped text.
pub fn target_html(target: &str) -> String {
    match target.split_once("://") {
        Some(("http" | "https" | "ws" | "wss", rest)) => {
            format!("<a href=\"{}\">{}</a>", esc(target), esc(rest))
        }
        _ => esc(target),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }
}
