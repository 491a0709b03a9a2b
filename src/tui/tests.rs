//! Render and key tests of the dashboard: a fixed `App` drawn on ratatui's `TestBackend`,
//! asserting on what the buffer shows (ceiling line, bars and their colours, savings, errors,
//! thresholds) at 80×24, large and tiny sizes; and on what each key does. Never touches a
//! real terminal.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use dobench_loadgen::server_stats::{ServerAlarms, ServerHibernation, ServerObject, ServerStats};
use dobench_loadgen::{ObjectSnapshot, Percentiles, Snapshot};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use ratatui::Terminal;

use super::app::{Action, App, Mode, View};
use super::objects::SortKey;
use super::render::render;
use super::widgets::bars::CEILING_MARK;
use super::RunInfo;

fn info(workload: &str) -> RunInfo {
    RunInfo {
        profile: "chat-fanout".into(),
        target: "embedded".into(),
        strategy: "hash:16".into(),
        ceiling_rps: Some(1000.0),
        planned_s: 20.0,
        thresholds: vec![
            "p99_ms < 50".into(),
            "error_rate < 0.1%".into(),
            "max_object_rps < 900".into(),
            "correctness = true".into(),
        ],
        workload: workload.into(),
    }
}

fn pct(p50: f64, p99: f64) -> Percentiles {
    Percentiles {
        p50,
        p90: p50 * 2.0,
        p99,
        p999: p99 * 2.0,
        max: p99 * 3.0,
    }
}

fn object(name: &str, rps: f64) -> ObjectSnapshot {
    ObjectSnapshot {
        name: name.into(),
        requests: (rps * 10.0) as u64,
        errors: 0,
        rps: rps * 0.9,
        rps_last_s: rps,
        peak_rps: rps * 1.05,
        served: (rps * 10.0) as u64,
        peak_served_rps: rps * 1.05,
        latency_ms: pct(1.0, 4.0),
    }
}

fn server_object(name: &str, queue: u64, overloaded: u64, live: bool) -> ServerObject {
    ServerObject {
        class: "chat".into(),
        name: Some(name.into()),
        live,
        queue_depth: queue,
        overloaded,
        sockets_open: 30,
        constructions: 2,
        hibernations: 1,
        ..ServerObject::default()
    }
}

fn snapshot(elapsed_s: f64) -> Snapshot {
    let mut status = BTreeMap::new();
    status.insert("500".to_string(), 2);
    let mut s = Snapshot {
        elapsed_s,
        planned_s: 20.0,
        offered_rps: 2100.0,
        achieved_rps: 2000.0,
        achieved_rps_last_s: 2060.0,
        requests: 20_000,
        sent: 20_010,
        missed: 7,
        in_flight: 10,
        latency_ms: pct(1.2, 6.0),
        latency_ms_last_s: pct(1.1, 5.0),
        objects: vec![
            object("room-0", 950.0),
            object("room-1", 800.0),
            object("room-2", 300.0),
            object("room-3", 10.0),
        ],
        ..Snapshot::default()
    };
    s.errors.total = 17;
    s.errors.overloaded = 12;
    s.errors.timeout = 3;
    s.errors.status = status;
    s.server = Some(ServerStats {
        scraped_at_s: elapsed_s,
        ceiling_rps: Some(1000),
        live_objects: 2,
        alarms: ServerAlarms {
            pending: 5,
            set: 40,
            fired: 35,
            retried: 4,
            given_up: 0,
        },
        hibernation: ServerHibernation {
            sockets_open: 120,
            sockets_hibernated: 60,
            objects_hibernated: 2,
            gb_s_billed: 1.5,
            gb_s_avoided: 4.5,
            usd_avoided: 0.000_056,
            saved_pct: 75.0,
            ..ServerHibernation::default()
        },
        objects: vec![
            server_object("room-0", 40, 12, true),
            server_object("room-1", 3, 0, true),
            server_object("room-2", 0, 0, false),
            server_object("room-3", 77, 0, false),
        ],
        ..ServerStats::default()
    });
    s
}

fn app(workload: &str) -> App {
    let mut app = App::new(info(workload));
    for t in 1..=5 {
        app.update(&snapshot(f64::from(t)));
    }
    app
}

fn draw(app: &App, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| render(app, f)).unwrap();
    term.backend().buffer().clone()
}

fn lines(buf: &Buffer) -> Vec<String> {
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

fn text(buf: &Buffer) -> String {
    lines(buf).join("\n")
}

fn assert_shows(buf: &Buffer, needles: &[&str]) {
    let t = text(buf);
    for n in needles {
        assert!(t.contains(n), "screen lacks {n:?}:\n{t}");
    }
}

/// (row index, line) of the bar of `name` (the line holding it and a bar cell).
fn bar_row(buf: &Buffer, name: &str) -> (u16, String) {
    let ls = lines(buf);
    let y = ls
        .iter()
        .position(|l| l.contains(name) && (l.contains('█') || l.contains('·')))
        .unwrap_or_else(|| panic!("no bar for {name}:\n{}", ls.join("\n")));
    (y as u16, ls[y].clone())
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn ceiling_line_crosses_every_bar_at_one_column() {
    let app = app("chat");
    let buf = draw(&app, 160, 48);
    assert_shows(&buf, &["ceiling 1000/s", "1000┐"]);
    let mut columns = Vec::new();
    for name in ["room-0", "room-1", "room-2", "room-3"] {
        let (y, line) = bar_row(&buf, name);
        let cols: Vec<u16> = (0..buf.area.width)
            .filter(|x| buf[(*x, y)].symbol() == CEILING_MARK && *x > 5)
            .collect();
        assert!(!cols.is_empty(), "no ceiling mark in {line:?}");
        columns.push(cols[0]);
    }
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{columns:?}");
}

#[test]
fn bars_show_rates_and_colour_by_load() {
    let app = app("chat");
    let buf = draw(&app, 160, 48);
    let expect = [
        ("room-0", "950/s  95%", Color::Red),
        ("room-1", "800/s  80%", Color::Yellow),
        ("room-2", "300/s  30%", Color::Green),
    ];
    for (name, value, color) in expect {
        let (y, line) = bar_row(&buf, name);
        assert!(line.contains(value), "{line:?} lacks {value:?}");
        let x = (0..buf.area.width)
            .find(|x| buf[(*x, y)].symbol() == "█")
            .unwrap();
        assert_eq!(buf[(x, y)].fg, color, "{name}");
    }
    // room-0 at 95 % is longer than room-2 at 30 %.
    let filled = |name| bar_row(&buf, name).1.matches('█').count();
    assert!(filled("room-0") > 2 * filled("room-2"));
    assert_shows(&buf, &["1 ≥90%", "1 at 70–90%", "4 objects"]);
}

#[test]
fn header_shows_run_rates_and_thresholds_so_far() {
    let app = app("chat");
    let buf = draw(&app, 160, 48);
    assert_shows(
        &buf,
        &[
            "chat-fanout",
            "embedded",
            "hash:16",
            "5.0 / 20 s",
            "offered 2100 req/s",
            "achieved 2000 req/s · now 2060 req/s",
            "✓ p99_ms < 50 (6.0)",
            "✓ error_rate < 0.1% (0.000",
            "✗ max_object_rps < 900 (99",
            "… correctness = true",
            "FAILING 1/4",
        ],
    );
}

#[test]
fn chat_shows_messages_and_deliveries_each_in_its_own_unit() {
    let mut app = App::new(info("chat"));
    let mut s = snapshot(5.0);
    s.rate_unit = Some("msg/s".into());
    s.offered_rps = 80.0;
    s.achieved_rps = 79.0;
    s.achieved_rps_last_s = 81.0;
    s.deliveries = 3_160;
    s.offered_deliveries_per_s = 640.0;
    s.deliveries_per_s = 632.0;
    s.deliveries_per_s_last_s = 648.0;
    s.delivery_latency_ms.p99 = 4.25;
    app.update(&s);
    let buf = draw(&app, 200, 48);
    assert_shows(
        &buf,
        &[
            "offered 80 msg/s",
            "achieved 79 msg/s · now 81 msg/s",
            "deliveries 632/s of 640/s offered · now 648/s (p99 4.2 ms)",
            "Throughput msg/s",
        ],
    );
    assert!(!text(&buf).contains("req/s achieved"), "{}", text(&buf));
}

#[test]
fn large_terminal_shows_charts_savings_and_errors() {
    let app = app("chat");
    let buf = draw(&app, 160, 48);
    assert_shows(
        &buf,
        &[
            "Throughput req/s",
            "Latency ms (per second)",
            "p99.9",
            "saved 75.0%",
            "$0.000056",
            "4.500 GB-s avoided",
            "sockets 120 open · 60 hibernated",
            "overloaded (503)",
            "status 500",
            "missed sends 7",
        ],
    );
    // The percentile table: now and total rows.
    let t = text(&buf);
    let total = t.lines().find(|l| l.contains("total")).unwrap();
    assert!(total.contains("1.20") && total.contains("6.00"), "{total}");
}

#[test]
fn small_terminal_degrades_but_keeps_key_figures() {
    let app = app("chat");
    let buf = draw(&app, 80, 24);
    assert_shows(
        &buf,
        &[
            "chat-fanout",
            "ceiling 1000/s",
            "room-0",
            "95%",
            "1 ≥90%",
            "errors 17",
            "503 12",
            "missed 7",
            "saved 75.0%",
            "total",
        ],
    );
    // The ceiling line is still there.
    let (y, _) = bar_row(&buf, "room-0");
    assert!((0..80).any(|x| buf[(x, y)].symbol() == CEILING_MARK));
    for (w, h) in [(40, 10), (20, 5), (1, 1), (200, 8)] {
        for view in View::ALL {
            let mut a = self::app("alarm");
            a.view = view;
            a.mode = Mode::Help;
            draw(&a, w, h);
        }
    }
}

#[test]
fn objects_view_lists_every_object_with_queue_and_503s() {
    let mut app = app("chat");
    app.handle_key(key(KeyCode::Tab));
    assert_eq!(app.view, View::Objects);
    let buf = draw(&app, 120, 30);
    assert_shows(
        &buf,
        &["All objects · 4", "sorted by req/s", "queue", "503s"],
    );
    let row = lines(&buf)
        .into_iter()
        .find(|l| l.contains("room-0"))
        .unwrap();
    assert!(
        row.contains("950") && row.contains("40") && row.contains("12"),
        "{row}"
    );
    assert!(row.contains('▶'), "first row selected: {row}");
}

#[test]
fn hibernation_view_shows_billed_vs_avoided_and_alarms() {
    let mut app = app("alarm");
    app.handle_key(key(KeyCode::Char('4')));
    assert_eq!(app.view, View::Hibernation);
    let buf = draw(&app, 120, 30);
    assert_shows(
        &buf,
        &[
            "2 in memory · 2 hibernated",
            "1.500 GB-s",
            "4.500 GB-s",
            "saved 75.0%",
            "Alarms",
            "scheduled",
            "40",
            "retried",
        ],
    );
}

#[test]
fn latency_view_shows_ops_table() {
    let mut s = snapshot(3.0);
    s.ops.insert(
        "send".into(),
        dobench_loadgen::OpSnapshot {
            requests: 1234,
            errors: 5,
            latency_ms: pct(2.0, 9.5),
        },
    );
    s.generator_limited = true;
    let mut app = App::new(info("chat"));
    app.update(&s);
    assert_shows(
        &draw(&app, 80, 24),
        &["GENERATOR-LIMITED", "offered 2100 req/s"],
    );
    app.view = View::Latency;
    let buf = draw(&app, 120, 30);
    assert_shows(&buf, &["Operations", "send", "1234", "9.50"]);
}

#[test]
fn keys_stop_switch_scroll_sort_and_help() {
    let mut app = app("chat");
    assert_eq!(app.handle_key(key(KeyCode::Char('q'))), Some(Action::Stop));
    assert!(app.stopping);
    let mut app = self::app("chat");
    assert_eq!(
        app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Action::Stop)
    );

    let mut app = self::app("chat");
    for expected in [
        View::Objects,
        View::Latency,
        View::Hibernation,
        View::Overview,
    ] {
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.view, expected);
    }
    app.handle_key(key(KeyCode::BackTab));
    assert_eq!(app.view, View::Hibernation);

    app.handle_key(key(KeyCode::Char('j')));
    app.handle_key(key(KeyCode::Down));
    assert_eq!(app.selected, 2);
    app.handle_key(key(KeyCode::Char('k')));
    assert_eq!(app.selected, 1);
    for _ in 0..10 {
        app.handle_key(key(KeyCode::Down));
    }
    assert_eq!(app.selected, 3, "stops at the last object");
    app.handle_key(key(KeyCode::Up));
    assert_eq!(app.selected, 2);

    assert_eq!(app.objects[0].name, "room-0");
    app.handle_key(key(KeyCode::Char('s')));
    assert_eq!(app.sort, SortKey::Peak);
    app.handle_key(key(KeyCode::Char('s')));
    assert_eq!(app.sort, SortKey::Queue);
    assert_eq!(app.objects[0].name, "room-3", "deepest queue first");
    app.handle_key(key(KeyCode::Char('s')));
    assert_eq!(app.objects[0].name, "room-0", "most 503s first");

    app.handle_key(key(KeyCode::Char('?')));
    assert_eq!(app.mode, Mode::Help);
    let buf = draw(&app, 100, 30);
    assert_shows(
        &buf,
        &[
            "help",
            "stop the run early",
            "change the object list's sort",
        ],
    );
    assert_eq!(
        app.handle_key(key(KeyCode::Tab)),
        None,
        "help swallows keys"
    );
    app.handle_key(key(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn history_keeps_one_point_per_second() {
    let mut app = App::new(info("chat"));
    for t in [0.25, 0.5, 1.0, 1.25, 2.0, 3.5] {
        app.update(&snapshot(t));
    }
    let xs: Vec<f64> = app.achieved.points().iter().map(|p| p.0).collect();
    assert_eq!(xs, [0.0, 1.0, 2.0, 3.0]);
    assert_eq!(app.p99.points()[0].1, 5.0);
}

#[test]
fn rates_come_from_target_counters_without_object_labels() {
    // `dobench http`: no per-object labels; the target's counters give the rates.
    let mut app = App::new(RunInfo {
        ceiling_rps: None,
        ..info("")
    });
    for (t, reqs) in [(1.0, 100), (2.0, 1100), (3.0, 2050)] {
        let mut s = snapshot(t);
        s.objects.clear();
        let v = s.server.as_mut().unwrap();
        v.objects = vec![ServerObject {
            name: Some("x".into()),
            requests: reqs,
            ..ServerObject::default()
        }];
        app.update(&s);
    }
    assert_eq!(app.ceiling, Some(1000.0), "from the target's stats");
    assert_eq!(app.hot[0].name, "x");
    assert!((app.hot[0].rps - 950.0).abs() < 1e-6, "{}", app.hot[0].rps);
    assert!((app.hot[0].peak_rps - 1000.0).abs() < 1e-6);
    assert_eq!(app.over_90, 1);
}

#[test]
fn without_target_stats_panels_say_so() {
    let mut app = App::new(info("counter"));
    let mut s = snapshot(2.0);
    s.server = None;
    app.update(&s);
    assert!(app.hibernation.is_none() && app.alarms.is_none());
    let buf = draw(&app, 160, 48);
    assert_shows(&buf, &["No target stats", "room-0"]);
}

#[test]
fn queued_sends_show_apart_from_missed() {
    let mut s = snapshot(3.0);
    s.queued = 412;
    s.queue_wait_ms = pct(120.0, 870.0);
    let mut app = App::new(info("counter"));
    app.update(&s);
    assert_shows(
        &draw(&app, 160, 30),
        &["missed 7", "queued 412 (wait p99 870 ms)"],
    );
}
