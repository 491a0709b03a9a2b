//! Prometheus text exposition of the stats report (`/_dobench/metrics`). Pure formatting of
//! a [`StatsReport`]; never reads runtime state itself.

use std::fmt::Write;

use crate::stats::{ObjectStatsView, StatsReport};

/// Renders `report` in the Prometheus text format (version 0.0.4).
pub fn render(report: &StatsReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP dobench_uptime_seconds Seconds since the runtime started."
    );
    let _ = writeln!(out, "# TYPE dobench_uptime_seconds gauge");
    let _ = writeln!(out, "dobench_uptime_seconds {}", report.uptime_ms / 1000.0);
    let _ = writeln!(out, "# HELP dobench_live_objects Objects in memory.");
    let _ = writeln!(out, "# TYPE dobench_live_objects gauge");
    let _ = writeln!(out, "dobench_live_objects {}", report.live_objects);
    if let Some(c) = report.ceiling_rps {
        let _ = writeln!(
            out,
            "# HELP dobench_ceiling_rps Emulated per-object turns/s."
        );
        let _ = writeln!(out, "# TYPE dobench_ceiling_rps gauge");
        let _ = writeln!(out, "dobench_ceiling_rps {c}");
    }
    type Field = fn(&ObjectStatsView) -> f64;
    let a = &report.alarms;
    for (name, kind, value) in [
        ("alarms_pending", "gauge", a.pending),
        ("alarms_set_total", "counter", a.set),
        ("alarms_fired_total", "counter", a.fired),
        ("alarms_retried_total", "counter", a.retried),
        ("alarms_given_up_total", "counter", a.given_up),
    ] {
        let _ = writeln!(out, "# TYPE dobench_{name} {kind}");
        let _ = writeln!(out, "dobench_{name} {value}");
    }
    let h = &report.hibernation;
    for (name, kind, value) in [
        ("sockets_open", "gauge", h.sockets_open as f64),
        ("sockets_hibernated", "gauge", h.sockets_hibernated as f64),
        ("objects_hibernated", "gauge", h.objects_hibernated as f64),
        ("gb_s_billed_total", "counter", h.gb_s_billed),
        ("gb_s_avoided_total", "counter", h.gb_s_avoided),
        ("usd_billed_total", "counter", h.usd_billed),
        ("usd_avoided_total", "counter", h.usd_avoided),
        ("billable_requests_total", "counter", h.billable_requests),
        ("ws_messages_in_total", "counter", h.messages_in as f64),
        ("ws_messages_out_total", "counter", h.messages_out as f64),
        (
            "ws_auto_responses_total",
            "counter",
            h.auto_responses as f64,
        ),
        ("ws_fell_behind_total", "counter", h.fell_behind as f64),
    ] {
        let _ = writeln!(out, "# TYPE dobench_{name} {kind}");
        let _ = writeln!(out, "dobench_{name} {value}");
    }
    let series: [(&str, &str, &str, Field); 21] = [
        (
            "requests_total",
            "counter",
            "Requests routed to the object.",
            |o| o.requests as f64,
        ),
        ("turns_total", "counter", "Turns run.", |o| o.turns as f64),
        (
            "overloaded_total",
            "counter",
            "Requests refused with 503 overloaded.",
            |o| o.overloaded as f64,
        ),
        (
            "constructions_total",
            "counter",
            "Instance constructions.",
            |o| o.constructions as f64,
        ),
        (
            "evictions_total",
            "counter",
            "Evictions from memory.",
            |o| o.evictions as f64,
        ),
        ("commits_total", "counter", "Transactions committed.", |o| {
            o.commits as f64
        }),
        (
            "resets_total",
            "counter",
            "Resets after failed commits.",
            |o| o.resets as f64,
        ),
        (
            "active_seconds_total",
            "counter",
            "Wall-clock seconds in memory.",
            |o| o.active_ms / 1000.0,
        ),
        (
            "queue_depth",
            "gauge",
            "Requests waiting in the mailbox.",
            |o| o.queue_depth as f64,
        ),
        ("storage_bytes", "gauge", "Database size.", |o| {
            o.storage_bytes as f64
        }),
        ("live", "gauge", "1 while in memory.", |o| {
            f64::from(u8::from(o.live))
        }),
        (
            "alarms_fired_total",
            "counter",
            "Alarm handler runs.",
            |o| o.alarms_fired as f64,
        ),
        ("alarms_retried_total", "counter", "Alarm retries.", |o| {
            o.alarms_retried as f64
        }),
        (
            "billed_seconds_total",
            "counter",
            "Billed duration (work in flight).",
            |o| o.billed_ms / 1000.0,
        ),
        (
            "hibernated_seconds_total",
            "counter",
            "Hibernated with sockets open.",
            |o| o.hibernated_ms / 1000.0,
        ),
        ("sockets_open", "gauge", "Open WebSockets.", |o| {
            o.sockets_open as f64
        }),
        ("hibernations_total", "counter", "Times hibernated.", |o| {
            o.hibernations as f64
        }),
        (
            "billable_requests_total",
            "counter",
            "Billable requests.",
            |o| o.billable_requests,
        ),
        ("rows_read_total", "counter", "Storage rows read.", |o| {
            o.rows_read as f64
        }),
        (
            "rows_written_total",
            "counter",
            "Storage rows written.",
            |o| o.rows_written as f64,
        ),
        (
            "service_seconds_per_turn",
            "gauge",
            "Mean virtual service time per turn on the ceiling's clock.",
            |o| o.service_ms_per_turn / 1000.0,
        ),
    ];
    for (name, kind, help, get) in series {
        let _ = writeln!(out, "# HELP dobench_object_{name} {help}");
        let _ = writeln!(out, "# TYPE dobench_object_{name} {kind}");
        for o in &report.objects {
            let _ = writeln!(
                out,
                "dobench_object_{name}{{class=\"{}\",id=\"{}\",name=\"{}\"}} {}",
                escape(&o.class),
                o.id,
                escape(o.name.as_deref().unwrap_or("")),
                get(o)
            );
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_labels_escaped_and_values() {
        let report = StatsReport {
            version: "0".into(),
            uptime_ms: 1500.0,
            ceiling_rps: Some(1000),
            mailbox: 4,
            live_objects: 1,
            objects_total: 1,
            open_databases: 1,
            memory_estimate_bytes: 0,
            memory_budget_bytes: 1 << 30,
            page: None,
            objects: vec![ObjectStatsView {
                class: "counter".into(),
                id: "ab".into(),
                name: Some("a\"b".into()),
                live: true,
                requests: 7,
                turns: 7,
                queue_depth: 0,
                overloaded: 2,
                active_ms: 250.0,
                constructions: 1,
                evictions: 0,
                commits: 3,
                resets: 0,
                storage_bytes: 4096,
                alarms_set: 0,
                alarms_fired: 0,
                alarms_retried: 0,
                alarms_given_up: 0,
                billed_ms: 0.0,
                hibernated_ms: 0.0,
                avoided_ms: 0.0,
                sockets_open: 0,
                socket_open_ms: 0.0,
                hibernations: 0,
                ws_messages_in: 0,
                billable_requests: 7.0,
                rows_read: 3,
                rows_written: 2,
                service_ms_per_turn: 1.25,
                calls_in: 0,
                calls_out: 0,
            }],
            alarms: Default::default(),
            hibernation: Default::default(),
        };
        let text = render(&report);
        assert!(text.contains("dobench_uptime_seconds 1.5"));
        assert!(text.contains(
            "dobench_object_requests_total{class=\"counter\",id=\"ab\",name=\"a\\\"b\"} 7"
        ));
        assert!(text.contains(
            "dobench_object_active_seconds_total{class=\"counter\",id=\"ab\",name=\"a\\\"b\"} 0.25"
        ));
        assert!(text.contains("# TYPE dobench_object_queue_depth gauge"));
        assert!(text.contains(
            "dobench_object_rows_written_total{class=\"counter\",id=\"ab\",name=\"a\\\"b\"} 2"
        ));
    }
}
