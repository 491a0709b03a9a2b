//! Per-object rows of the dashboard: joins the load generator's per-object stats (req/s,
//! peak, errors, p99) with the target's own (`ServerStats`: queue depth, 503s, live, sockets)
//! by object name, derives req/s from the target's counters when the generator has no
//! per-object labels (e.g. `dobench http`), and sorts. Pure data: no drawing, no I/O.

use std::collections::HashMap;

use dobench_loadgen::server_stats::ServerObject;
use dobench_loadgen::Snapshot;

/// One object as the dashboard shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectRow {
    pub name: String,
    /// req/s over the last second.
    pub rps: f64,
    /// Average req/s since the start.
    pub avg_rps: f64,
    pub peak_rps: f64,
    /// Share of the ceiling, in percent (`None` without a ceiling): the busy share of the
    /// object's service clock over the last second (`rps` × `service_ms`) when the target
    /// reports service time, `rps` over the ceiling (pass-through equivalent) otherwise.
    pub ceiling_pct: Option<f64>,
    /// Mean virtual service time per turn on the target's ceiling clock, ms.
    pub service_ms: Option<f64>,
    pub requests: u64,
    pub errors: u64,
    pub p99_ms: Option<f64>,
    /// From the target's stats (`None` when the target does not report them).
    pub queue_depth: Option<u64>,
    pub overloaded: Option<u64>,
    pub live: Option<bool>,
    pub sockets_open: Option<u64>,
}

/// How the full object list is ordered (`s` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Rps,
    Peak,
    Queue,
    Overloaded,
    Errors,
    Name,
}

impl SortKey {
    pub fn next(self) -> Self {
        match self {
            SortKey::Rps => SortKey::Peak,
            SortKey::Peak => SortKey::Queue,
            SortKey::Queue => SortKey::Overloaded,
            SortKey::Overloaded => SortKey::Errors,
            SortKey::Errors => SortKey::Name,
            SortKey::Name => SortKey::Rps,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Rps => "req/s",
            SortKey::Peak => "peak",
            SortKey::Queue => "queue",
            SortKey::Overloaded => "503s",
            SortKey::Errors => "errors",
            SortKey::Name => "name",
        }
    }
}

/// Sorts `rows` by `key` (numbers descending, names ascending; ties by name).
pub fn sort(rows: &mut [ObjectRow], key: SortKey) {
    let num = |r: &ObjectRow| -> f64 {
        match key {
            SortKey::Rps => r.rps,
            SortKey::Peak => r.peak_rps,
            SortKey::Queue => r.queue_depth.unwrap_or(0) as f64,
            SortKey::Overloaded => r.overloaded.unwrap_or(0) as f64,
            SortKey::Errors => r.errors as f64,
            SortKey::Name => 0.0,
        }
    };
    rows.sort_by(|a, b| num(b).total_cmp(&num(a)).then_with(|| a.name.cmp(&b.name)));
}

/// Remembers the target's per-object request counters between scrapes to turn them into
/// rates.
#[derive(Debug, Default)]
pub struct ServerRates {
    /// Scrape time of the counters in `last`.
    at_s: f64,
    last: HashMap<String, u64>,
    rate: HashMap<String, f64>,
    peak: HashMap<String, f64>,
}

/// The label an object of the target is shown (and matched) by.
fn label(o: &ServerObject) -> String {
    match &o.name {
        Some(n) => n.clone(),
        None => o.id.chars().take(12).collect(),
    }
}

impl ServerRates {
    /// Folds in a scrape taken at `at_s` (seconds on the scraper's clock).
    fn observe(&mut self, at_s: f64, objects: &[ServerObject]) {
        if self.last.is_empty() || at_s < self.at_s {
            self.last = objects.iter().map(|o| (label(o), o.requests)).collect();
            self.at_s = at_s;
            return;
        }
        let dt = at_s - self.at_s;
        // Rates need ≥ ~0.5 s between counters to be steady at 4 Hz scrapes.
        if dt < 0.5 {
            return;
        }
        for o in objects {
            let name = label(o);
            let before = self.last.get(&name).copied().unwrap_or(0);
            let r = o.requests.saturating_sub(before) as f64 / dt;
            self.rate.insert(name.clone(), r);
            let p = self.peak.entry(name.clone()).or_default();
            *p = p.max(r);
            self.last.insert(name, o.requests);
        }
        self.at_s = at_s;
    }
}

/// Builds the rows for `s`: the generator's objects joined with the target's; objects only
/// the target knows (no per-object labels on the generator side) get rates from its counters.
pub fn rows(s: &Snapshot, ceiling: Option<f64>, rates: &mut ServerRates) -> Vec<ObjectRow> {
    let server: &[ServerObject] = s.server.as_ref().map_or(&[], |v| &v.objects);
    if let Some(v) = &s.server {
        rates.observe(v.scraped_at_s, server);
    }
    let by_name: HashMap<String, &ServerObject> = server.iter().map(|o| (label(o), o)).collect();
    let pct = |rps: f64| ceiling.filter(|c| *c > 0.0).map(|c| rps / c * 100.0);
    let with_server = |mut row: ObjectRow, o: Option<&&ServerObject>| {
        if let Some(o) = o {
            if o.service_ms_per_turn > 0.0 {
                row.service_ms = Some(o.service_ms_per_turn);
                if row.ceiling_pct.is_some() {
                    row.ceiling_pct = Some(row.rps * o.service_ms_per_turn / 10.0);
                }
            }
            row.queue_depth = Some(o.queue_depth);
            row.overloaded = Some(o.overloaded);
            row.live = Some(o.live);
            row.sockets_open = Some(o.sockets_open);
        }
        row
    };
    let mut out: Vec<ObjectRow> = s
        .objects
        .iter()
        .map(|o| {
            let row = ObjectRow {
                name: o.name.clone(),
                rps: o.rps_last_s,
                avg_rps: o.rps,
                peak_rps: o.peak_rps,
                ceiling_pct: pct(o.rps_last_s),
                requests: o.requests,
                errors: o.errors,
                p99_ms: Some(o.latency_ms.p99),
                ..ObjectRow::default()
            };
            with_server(row, by_name.get(&o.name))
        })
        .collect();
    if s.objects.is_empty() {
        for o in server {
            let name = label(o);
            let rps = rates.rate.get(&name).copied().unwrap_or(0.0);
            let row = ObjectRow {
                rps,
                avg_rps: rps,
                peak_rps: rates.peak.get(&name).copied().unwrap_or(0.0),
                ceiling_pct: pct(rps),
                requests: o.requests,
                name,
                ..ObjectRow::default()
            };
            out.push(with_server(row, Some(&o)));
        }
    }
    out
}
