//! HTML report: every section present, one SVG per chart with real data points, nothing
//! fetched from the network, user strings escaped; compare groups overlay and mark the best.

mod common;

use common::Sim;
use dobench_reports::html::{self, ReportOptions};
use dobench_reports::Store;

fn svg_count(html: &str) -> usize {
    html.matches("<svg").count()
}

/// No `http://` or `https://` anywhere except in plain `<a href>` links.
fn assert_no_fetches(html: &str) {
    for (i, _) in html.match_indices("://") {
        let before = &html[i.saturating_sub(200)..i];
        let is_link = before
            .rfind("<a href=\"")
            .is_some_and(|a| !before[a..].contains('>'));
        assert!(
            is_link,
            "external reference near: {}",
            &html[i.saturating_sub(80)..(i + 40).min(html.len())]
        );
    }
    for banned in ["<script", "<link", "@import", "url(", "<iframe", "<img"] {
        assert!(!html.contains(banned), "report contains {banned}");
    }
}

fn chart_sections(html: &str) -> Vec<(&'static str, String)> {
    ["throughput", "objects", "latency", "distribution", "errors"]
        .into_iter()
        .map(|id| {
            let start = html
                .find(&format!("<section id=\"{id}\">"))
                .unwrap_or_else(|| panic!("section {id}"));
            let end = start + html[start..].find("</section>").unwrap();
            (id, html[start..end].to_string())
        })
        .collect()
}

#[test]
fn single_run_report_has_every_section_and_a_chart_each() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let id = common::record(&path, &Sim::default(), None);
    let store = Store::open(&path).unwrap();
    let run = store.load(&id).unwrap();
    let out = html::render(&[run], &ReportOptions::default()).unwrap();
    for s in html::SECTIONS {
        assert!(
            out.contains(&format!("<section id=\"{s}\">")),
            "missing section {s}"
        );
    }
    assert_eq!(svg_count(&out), 5, "one svg per chart");
    // The throughput chart ends at the last whole second: a partial last second is no rate.
    let seconds = store.seconds(&id).unwrap();
    let whole = seconds.iter().filter(|s| s.span_s >= 0.999).count();
    let throughput = &chart_sections(&out)[0].1;
    for s in seconds.iter().filter(|s| s.span_s < 0.999) {
        assert!(
            !throughput.contains(&format!("achieved — {} s:", s.second)),
            "partial second {} drawn",
            s.second
        );
    }
    assert!(throughput.contains(&format!("achieved — {} s:", whole - 1)));
    for (id, sec) in chart_sections(&out) {
        assert_eq!(svg_count(&sec), 1, "{id}");
        // Real data: a drawn line with many points, and hover titles with values.
        let pts = sec
            .split("points=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap().split(' ').count())
            .max()
            .unwrap_or(0);
        assert!(pts >= 3, "{id}: polyline with {pts} points");
        assert!(sec.contains("<title>"), "{id}: hover titles");
    }
    // Axis labels with units.
    for label in [
        "time since start (s)",
        "requests per second",
        "latency (ms)",
        "percentile (log scale)",
    ] {
        assert!(out.contains(label), "axis label {label}");
    }
    assert!(out.contains("per-object ceiling"));
    assert!(out.contains("sharded-counter"));
    assert!(out.contains("[thresholds]"), "profile text");
    assert!(out.contains("USD avoided") && out.contains("alarm lag"));
    // User strings are escaped.
    assert!(!out.contains("<script>alert(1)</script>"));
    assert!(out.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!out.contains("xmlns"));
    assert_no_fetches(&out);
}

#[test]
fn compare_group_overlays_runs_and_marks_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let store = Store::open(&path).unwrap();
    let group = store.create_compare_group("sharded-counter").unwrap();
    for (i, (strategy, objects)) in [("single", 1), ("hash:4", 4), ("hash:16", 16)]
        .into_iter()
        .enumerate()
    {
        let sim = Sim {
            strategy,
            objects,
            seconds: 6,
            seed: i as u64,
            extras: false,
            ..Sim::default()
        };
        common::record(&path, &sim, Some(&group));
    }
    let runs: Vec<_> = store
        .resolve(&group)
        .unwrap()
        .iter()
        .map(|id| store.load(id).unwrap())
        .collect();
    let best = html::best_run(&runs, None, 90.0).expect("a best run");
    // `single` puts 2400 req/s on one object with a 1000 req/s ceiling: never the best.
    assert_ne!(runs[best].meta.strategy.as_deref(), Some("single"));
    let out = html::render(&runs, &ReportOptions::default()).unwrap();
    // Two runs failed: every chart is drawn twice, the passing runs on their own scale and
    // the failing ones apart, so their overload does not flatten the others (issue 16).
    let passed: Vec<bool> = runs.iter().map(|r| r.summary.passed()).collect();
    assert_eq!(
        passed,
        [false, false, true],
        "single and hash:4 fail, hash:16 passes"
    );
    assert_eq!(svg_count(&out), 10);
    for (id, sec) in chart_sections(&out) {
        let (pass, fail) = sec
            .split_once("<h3 class=\"panel\">Runs that failed (own scale)</h3>")
            .unwrap_or_else(|| panic!("{id}: no failing panel"));
        assert!(pass.contains("Runs that passed"), "{id}");
        assert!(
            !pass.contains("single"),
            "{id}: single is not drawn with the passing runs"
        );
        assert!(pass.contains("hash:16"), "{id}");
        assert!(fail.contains("single") && !fail.contains("hash:16"), "{id}");
    }
    assert!(out.contains("★ best"));
    assert_eq!(out.matches("class=\"best\"").count(), 1);
    for s in ["single", "hash:4", "hash:16"] {
        assert!(
            out.contains(&format!("{s} achieved")),
            "overlay series for {s}"
        );
    }
    assert!(
        !out.contains("<section id=\"hibernation\">"),
        "no hibernation data, no panel"
    );
    assert_no_fetches(&out);
    // A recorded best wins over the computed one.
    let out = html::render(
        &runs,
        &ReportOptions {
            best_strategy: Some("hash:4".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let best_row = out.split("<tr class=\"best\">").nth(1).unwrap();
    assert!(best_row.starts_with("<td>hash:4"), "{}", &best_row[..60]);
}

#[test]
fn an_incomplete_run_still_renders() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let sim = Sim {
        seconds: 4,
        ..Sim::default()
    };
    let mut writer = Store::open(&path)
        .unwrap()
        .begin_run(&common::meta(&sim))
        .unwrap();
    let id = writer.id().to_string();
    let _ = common::drive(&mut writer, &sim, |_, _| {});
    writer.abandon().unwrap();
    let store = Store::open(&path).unwrap();
    let out = html::render(&[store.load(&id).unwrap()], &ReportOptions::default()).unwrap();
    assert!(out.contains("did not finish"));
    assert_eq!(svg_count(&out), 5);
    assert_no_fetches(&out);
}

#[test]
fn chat_runs_show_messages_and_deliveries_each_in_its_own_unit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let id = common::record(&path, &Sim::default(), None);
    let store = Store::open(&path).unwrap();
    let mut run = store.load(&id).unwrap();
    let s = &mut run.summary;
    s.rate_unit = Some("msg/s".into());
    s.offered_rps = 80.0;
    s.achieved_rps = 79.5;
    s.deliveries = 5_000;
    s.offered_deliveries_per_s = 640.0;
    s.achieved_deliveries_per_s = 636.0;
    s.delivery_latency_ms.p99 = 4.25;
    let out = html::render(&[run], &ReportOptions::default()).unwrap();
    for needle in [
        "80.0 msg/s",
        "79.5 msg/s",
        "640.0 deliveries/s",
        "636.0 deliveries/s",
        "4.25 ms",
        "messages sent per second",
    ] {
        assert!(out.contains(needle), "report lacks {needle:?}");
    }
    let text = dobench_reports::text::summary(&store.load(&id).unwrap().summary);
    assert!(text.contains("req/s achieved"), "{text}");
}
