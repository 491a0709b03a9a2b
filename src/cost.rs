//! `dobench cost RUN --scale rooms=50000 [--active-hours H]`: projects the monthly Durable
//! Objects bill of the design a stored run measured, at the user's scale, with the one
//! pricing table (`dobench_runtime::pricing`). From the reference runtime's per-object stats
//! recorded with the run it takes, per object-second observed: billed (active) time, idle
//! time in memory, hibernated time, the time hibernation avoided billing, billable requests
//! (HTTP + alarms + incoming WebSocket messages ÷ 20), storage rows (as the runtime counted
//! them; estimated from the workload's code for runs recorded before it did) and stored bytes. Every line carries its
//! formula; the front Worker's own charges are named as not included. [`project`] is pure
//! arithmetic; only [`run`] reads the store.
//!
//! Time, per object: observed = active (work in flight: billed) + idle in memory (no work
//! in flight, able to hibernate or without sockets: not billed) + hibernated (not billed).
//! Without hibernation an object with sockets open is billed for all of it (idle in memory
//! but unable to hibernate): billed = active + avoided, avoided being the socket-open time
//! the runtime did not bill.

use std::process::ExitCode;

use anyhow::{bail, Context};
use dobench_loadgen::server_stats::ServerStats;
use dobench_reports::{Store, StoredRun};
use dobench_runtime::pricing as rates;
use serde::Serialize;

use crate::cli::CostArgs;

/// What a run measured of its objects (sums over the run's objects of its workload's class).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    pub objects: u64,
    /// Work in flight: billed duration, seconds.
    pub active_s: f64,
    /// In memory with no work in flight, seconds.
    pub idle_in_memory_s: f64,
    /// Hibernated (out of memory with sockets open), seconds.
    pub hibernated_s: f64,
    /// Socket-open time not billed: what the same objects would have been billed for
    /// without hibernation, on top of `active_s`.
    pub avoided_s: f64,
    /// HTTP requests (WebSocket upgrades included) and alarm runs.
    pub requests: f64,
    pub ws_messages_in: f64,
    pub rows_read: f64,
    pub rows_written: f64,
    /// Rows as the runtime counted them (false: estimated from the workload's code, for
    /// runs recorded before the runtime counted rows).
    pub rows_measured: bool,
    pub stored_bytes: f64,
}

impl Usage {
    /// Object-seconds observed: active + idle in memory + hibernated.
    pub fn observed_s(&self) -> f64 {
        self.active_s + self.idle_in_memory_s + self.hibernated_s
    }

    /// Billable requests: requests + incoming WebSocket messages ÷ 20.
    pub fn billable_requests(&self) -> f64 {
        self.requests + self.ws_messages_in / rates::WS_MESSAGES_PER_REQUEST as f64
    }
}

/// The scale to project to: `objects` of the design, each as busy as in the run for
/// `hours_per_day` hours a day (out of memory and unbilled the rest of the day).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scale {
    /// What the user called them (`rooms`, `objects`).
    pub noun: String,
    pub objects: f64,
    pub hours_per_day: f64,
}

/// Parses `rooms=50000` / `objects=N`.
pub fn parse_scale(arg: &str, hours_per_day: f64) -> anyhow::Result<Scale> {
    let (noun, n) = arg.split_once('=').with_context(|| {
        format!("--scale {arg}: write NOUN=N, e.g. rooms=50000 or objects=1000000")
    })?;
    let noun = noun.trim();
    if !matches!(
        noun,
        "rooms" | "objects" | "counters" | "limiters" | "shards"
    ) {
        bail!("--scale {arg}: {noun:?} is not one of rooms, objects, counters, limiters, shards");
    }
    let objects: f64 = n
        .trim()
        .replace(['_', ','], "")
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 1.0)
        .with_context(|| format!("--scale {arg}: {n:?} is not a count of at least 1"))?;
    if !(hours_per_day > 0.0 && hours_per_day <= 24.0) {
        bail!("--active-hours {hours_per_day}: give hours a day in (0, 24]");
    }
    Ok(Scale {
        noun: noun.to_string(),
        objects,
        hours_per_day,
    })
}

/// One line of the bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub name: &'static str,
    /// Quantity in a month at the scale.
    pub quantity: f64,
    pub unit: &'static str,
    /// What the plan includes each month.
    pub included: f64,
    pub usd: f64,
    /// How the quantity and price were found.
    pub formula: String,
}

/// The projected month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Projection {
    pub scale: Scale,
    pub plan: &'static str,
    pub rates_as_of: &'static str,
    /// Object-seconds in the month at the scale: objects × hours a day × 3,600 × 30.
    pub object_seconds: f64,
    pub requests: Item,
    pub duration_with_hibernation: Item,
    pub duration_without_hibernation: Item,
    pub rows_read: Item,
    pub rows_written: Item,
    pub stored: Item,
    pub total_usd: f64,
    pub total_without_hibernation_usd: f64,
    pub saving_usd: f64,
    /// Per object in the month: active, idle in memory and hibernated seconds (they add up
    /// to the month's active hours).
    pub month_active_s: f64,
    pub month_idle_in_memory_s: f64,
    pub month_hibernated_s: f64,
    pub not_included: &'static str,
}

/// What the projection leaves out.
pub const NOT_INCLUDED: &str = "the front Worker's own requests and CPU time (Workers pricing), the Workers Paid plan's $5 monthly minimum, and data transfer";

fn item(
    name: &'static str,
    quantity: f64,
    unit: &'static str,
    included: f64,
    per: f64,
    usd_per: f64,
    how: String,
) -> Item {
    let billable = (quantity - included).max(0.0);
    let usd = billable / per * usd_per;
    let per_word = if per == 1.0 {
        unit.to_string()
    } else {
        format!("million {unit}")
    };
    Item {
        name,
        quantity,
        unit,
        included,
        usd,
        formula: format!(
            "{how} = {quantity:.4e} {unit}; ({quantity:.4e} − {included:.4e} included) × ${usd_per} per {per_word} = ${usd:.2}"
        ),
    }
}

/// Projects `u` to a month at `s`. Pure arithmetic on the published rates.
pub fn project(u: &Usage, s: &Scale) -> Projection {
    let observed = u.observed_s().max(f64::MIN_POSITIVE);
    let month_s = s.hours_per_day * 3600.0 * (rates::SECONDS_PER_MONTH / 86_400.0);
    let m = s.objects * month_s;
    let per = |x: f64| x / observed;
    let scaled = |what: &str| format!("{m:.4e} object-s × {what} per object-s",);
    let requests = item(
        "requests",
        m * per(u.billable_requests()),
        "requests",
        rates::INCLUDED_REQUESTS_PER_MONTH,
        1e6,
        rates::USD_PER_MILLION_REQUESTS,
        scaled(&format!(
            "{:.4e} billable (requests + WebSocket messages ÷ 20)",
            per(u.billable_requests())
        )),
    );
    let gb_s = |share: f64| m * share * rates::GB_PER_OBJECT;
    let with = item(
        "duration (with hibernation)",
        gb_s(per(u.active_s)),
        "GB-s",
        rates::INCLUDED_GB_S_PER_MONTH,
        1e6,
        rates::USD_PER_MILLION_GB_S,
        format!(
            "{} × {} GB",
            scaled(&format!("{:.4e} active s", per(u.active_s))),
            rates::GB_PER_OBJECT
        ),
    );
    let without = item(
        "duration (without hibernation)",
        gb_s(per(u.active_s + u.avoided_s)),
        "GB-s",
        rates::INCLUDED_GB_S_PER_MONTH,
        1e6,
        rates::USD_PER_MILLION_GB_S,
        format!(
            "{} × {} GB",
            scaled(&format!(
                "{:.4e} (active + avoided) s",
                per(u.active_s + u.avoided_s)
            )),
            rates::GB_PER_OBJECT
        ),
    );
    let rows_read = item(
        "rows read",
        m * per(u.rows_read),
        "rows",
        rates::INCLUDED_ROWS_READ_PER_MONTH,
        1e6,
        rates::USD_PER_MILLION_ROWS_READ,
        scaled(&format!("{:.4e} rows read", per(u.rows_read))),
    );
    let rows_written = item(
        "rows written",
        m * per(u.rows_written),
        "rows",
        rates::INCLUDED_ROWS_WRITTEN_PER_MONTH,
        1e6,
        rates::USD_PER_MILLION_ROWS_WRITTEN,
        scaled(&format!("{:.4e} rows written", per(u.rows_written))),
    );
    let per_object_bytes = u.stored_bytes / u.objects.max(1) as f64;
    let stored = item(
        "stored data",
        s.objects * per_object_bytes / 1e9,
        "GB-month",
        rates::INCLUDED_GB_MONTH_STORED,
        1.0,
        rates::USD_PER_GB_MONTH_STORED,
        format!(
            "{:.4e} objects × {per_object_bytes:.0} bytes per object ÷ 1e9, all month",
            s.objects
        ),
    );
    let rest = requests.usd + rows_read.usd + rows_written.usd + stored.usd;
    let total = rest + with.usd;
    let total_without = rest + without.usd;
    Projection {
        scale: s.clone(),
        plan: rates::PLAN,
        rates_as_of: rates::RATES_AS_OF,
        object_seconds: m,
        month_active_s: month_s * per(u.active_s),
        month_idle_in_memory_s: month_s * per(u.idle_in_memory_s),
        month_hibernated_s: month_s * per(u.hibernated_s),
        requests,
        duration_with_hibernation: with,
        duration_without_hibernation: without,
        rows_read,
        rows_written,
        stored,
        total_usd: total,
        total_without_hibernation_usd: total_without,
        saving_usd: total_without - total,
        not_included: NOT_INCLUDED,
    }
}

/// The projection as printed.
pub fn text(u: &Usage, p: &Projection) -> String {
    let s = &p.scale;
    let mut o = format!(
        "projected monthly Durable Objects bill: {} {}, each as busy as in the run {} h a day, 30-day month; {} plan rates as of {}\n",
        s.objects, s.noun, s.hours_per_day, p.plan, p.rates_as_of
    );
    let n = u.objects.max(1) as f64;
    o.push_str(&format!(
        "  measured, per object ({} objects): active {:.3} s + idle in memory {:.3} s + hibernated {:.3} s = observed {:.3} s\n",
        u.objects,
        u.active_s / n,
        u.idle_in_memory_s / n,
        u.hibernated_s / n,
        u.observed_s() / n
    ));
    o.push_str(&format!(
        "  projected, per object per month: active {:.0} s + idle in memory {:.0} s + hibernated {:.0} s = {:.0} s ({} h × 30 days)\n",
        p.month_active_s,
        p.month_idle_in_memory_s,
        p.month_hibernated_s,
        p.month_active_s + p.month_idle_in_memory_s + p.month_hibernated_s,
        s.hours_per_day
    ));
    o.push_str("  billed: active time, and idle time in memory that cannot hibernate (sockets open without the hibernation API: the `without hibernation` line); not billed: hibernated time, and idle time that can hibernate\n");
    for i in [
        &p.requests,
        &p.duration_with_hibernation,
        &p.duration_without_hibernation,
        &p.rows_read,
        &p.rows_written,
        &p.stored,
    ] {
        o.push_str(&format!(
            "  {:<31} ${:>14.2}   {}\n",
            i.name, i.usd, i.formula
        ));
    }
    o.push_str(&format!(
        "  total with hibernation          ${:>14.2}   requests + duration (with) + rows + storage\n",
        p.total_usd
    ));
    o.push_str(&format!(
        "  total without hibernation       ${:>14.2}   the same with duration (without)\n",
        p.total_without_hibernation_usd
    ));
    o.push_str(&format!(
        "  saving from hibernation         ${:>14.2}   ({:.1} % of the bill without it)\n",
        p.saving_usd,
        if p.total_without_hibernation_usd > 0.0 {
            p.saving_usd / p.total_without_hibernation_usd * 100.0
        } else {
            0.0
        }
    ));
    if u.rows_measured {
        o.push_str("  storage rows as the runtime counted them (rows a call returned plus full-scan steps read; puts, removing deletes and changed SQL rows written)\n");
    } else {
        o.push_str("  storage rows are estimated from the workload's code (this run's runtime did not count rows): an answered counter increment writes 1, a chat message writes 1, a rate-limit check reads 1 and writes 1, an alarm schedule or run writes 1, a construction reads 1\n");
    }
    o.push_str(&format!("  not included: {}\n", p.not_included));
    o
}

/// Rows (read, written) a run's requests cost, from the workload's code.
fn estimated_rows(run: &StoredRun, constructions: f64, ws_in: f64, alarm_runs: f64) -> (f64, f64) {
    // Refused and failed requests wrote nothing: count only the answered share.
    let s = &run.summary;
    let answered = 1.0 - s.errors.total as f64 / s.requests.max(1) as f64;
    let op = |name: &str| s.ops.get(name).map_or(0.0, |o| o.requests as f64) * answered;
    let written = match s.workload.as_deref() {
        Some("counter") => op("increment"),
        Some("chat") => ws_in,
        Some("ratelimit") => op("check") + op("burst"),
        Some("alarm") => op("schedule") + alarm_runs,
        _ => 0.0,
    };
    let read = constructions
        + match s.workload.as_deref() {
            Some("ratelimit") => op("check") + op("burst"),
            _ => 0.0,
        };
    (read, written)
}

/// The usage a stored run measured, from the last stats scrape recorded with it.
pub fn usage_of(run: &StoredRun) -> anyhow::Result<Usage> {
    let Some(last) = run.server_stats.last() else {
        bail!(
            "run {} has no per-object stats from the reference runtime (it ran against a target that does not serve /_dobench/stats): nothing to project",
            run.row.id
        );
    };
    let stats: ServerStats =
        serde_json::from_value(last.stats.clone()).context("reading the recorded stats")?;
    let class = run.summary.workload.clone().unwrap_or_default();
    let objs: Vec<_> = stats.objects.iter().filter(|o| o.class == class).collect();
    if objs.is_empty() {
        bail!(
            "run {}: the recorded stats list no {class} objects",
            run.row.id
        );
    }
    let sum = |f: &dyn Fn(&dobench_loadgen::server_stats::ServerObject) -> f64| {
        objs.iter().map(|o| f(o)).sum::<f64>()
    };
    let ws_in = sum(&|o| o.ws_messages_in as f64);
    let alarm_runs = sum(&|o| o.alarms_fired as f64);
    // Rows as the runtime counted them; runs recorded before it counted rows are estimated.
    let measured = (
        sum(&|o| o.rows_read as f64),
        sum(&|o| o.rows_written as f64),
    );
    let rows_measured = measured.0 + measured.1 > 0.0;
    let (rows_read, rows_written) = if rows_measured {
        measured
    } else {
        estimated_rows(run, sum(&|o| o.constructions as f64), ws_in, alarm_runs)
    };
    Ok(Usage {
        objects: objs.len() as u64,
        active_s: sum(&|o| o.billed_ms) / 1000.0,
        idle_in_memory_s: sum(&|o| (o.active_ms - o.billed_ms).max(0.0)) / 1000.0,
        hibernated_s: sum(&|o| o.hibernated_ms) / 1000.0,
        avoided_s: sum(&|o| o.avoided_ms) / 1000.0,
        // Refused (overloaded) requests are not billed.
        requests: sum(&|o| o.requests.saturating_sub(o.overloaded) as f64) + alarm_runs,
        ws_messages_in: ws_in,
        rows_read,
        rows_written,
        rows_measured,
        stored_bytes: sum(&|o| o.storage_bytes as f64),
    })
}

/// `dobench cost`.
pub fn run(args: CostArgs) -> anyhow::Result<ExitCode> {
    let scale = parse_scale(&args.scale, args.active_hours)?;
    if !args.db.exists() {
        bail!("no results store at {}", args.db.display());
    }
    let store = Store::open_for_reading(&args.db)
        .with_context(|| format!("opening {}", args.db.display()))?;
    let ids = store.resolve(&args.run)?;
    if ids.len() != 1 {
        bail!(
            "{} names {} runs: cost projects one run (give its id)",
            args.run,
            ids.len()
        );
    }
    let run = store.load(&ids[0])?;
    let usage = usage_of(&run)?;
    let p = project(&usage, &scale);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({
                "run_id": run.row.id, "usage": usage, "projection": p,
            }))?
        );
    } else {
        println!(
            "dobench cost {}  ({} {}; {} objects measured)",
            run.row.id,
            run.meta.profile,
            run.meta.strategy.as_deref().unwrap_or("-"),
            usage.objects
        );
        print!("{}", text(&usage, &p));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 8 chat rooms observed 10 s each, projected to 50,000 rooms busy 8 h a day, by hand
    /// from the published rates (Workers Paid, `pricing::RATES_AS_OF`).
    #[test]
    fn projection_matches_a_hand_calculation() {
        let u = Usage {
            objects: 8,
            active_s: 4.0,
            idle_in_memory_s: 12.0,
            hibernated_s: 64.0, // 4 + 12 + 64 = 80 object-s observed
            avoided_s: 72.0,    // 8 s idle with sockets + 64 s hibernated
            requests: 80.0,
            ws_messages_in: 160.0, // 8 billable requests at 20:1
            rows_read: 8.0,
            rows_written: 160.0,
            rows_measured: true,
            stored_bytes: 8.0 * 200_000.0,
        };
        let s = parse_scale("rooms=50000", 8.0).unwrap();
        let p = project(&u, &s);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
        // Object-seconds: 50,000 × 8 h × 3,600 s × 30 days = 4.32e10.
        assert!(close(p.object_seconds, 4.32e10));
        // Requests: (80 + 160 ÷ 20) ÷ 80 = 1.1 per object-s → 4.752e10; less 1e6 included
        // = 47,519,000,000 × $0.15 / 1e6 = $7,127.85.
        assert!(close(p.requests.quantity, 4.752e10));
        assert!(close(p.requests.usd, 7_127.85));
        // Duration with hibernation: 4 ÷ 80 = 0.05 → 2.16e9 s × 0.128 GB = 276,480,000 GB-s;
        // less 400,000 included = 276,080,000 × $12.50 / 1e6 = $3,451.00.
        assert!(close(p.duration_with_hibernation.quantity, 276_480_000.0));
        assert!(close(p.duration_with_hibernation.usd, 3_451.00));
        // Without: (4 + 72) ÷ 80 = 0.95 → 4.104e10 s × 0.128 = 5,253,120,000 GB-s; less
        // 400,000 = 5,252,720,000 × $12.50 / 1e6 = $65,659.00.
        assert!(close(
            p.duration_without_hibernation.quantity,
            5_253_120_000.0
        ));
        assert!(close(p.duration_without_hibernation.usd, 65_659.00));
        // Rows read: 8 ÷ 80 = 0.1 → 4.32e9, under the 25e9 included: $0.
        assert!(close(p.rows_read.quantity, 4.32e9));
        assert_eq!(p.rows_read.usd, 0.0);
        // Rows written: 160 ÷ 80 = 2 → 8.64e10; less 5e7 = 86,350,000,000 × $1 / 1e6
        // = $86,350.00.
        assert!(close(p.rows_written.usd, 86_350.00));
        // Stored: 50,000 × 200,000 B = 10 GB-month; less 5 included = 5 × $0.20 = $1.00.
        assert!(close(p.stored.quantity, 10.0));
        assert!(close(p.stored.usd, 1.00));
        // Totals: 7,127.85 + 3,451 + 0 + 86,350 + 1 = $96,929.85; without hibernation
        // $159,137.85; the saving is the duration difference, $62,208.00.
        assert!(close(p.total_usd, 96_929.85));
        assert!(close(p.total_without_hibernation_usd, 159_137.85));
        assert!(close(p.saving_usd, 62_208.00));
        // Time adds up in both views: per object 0.5 + 1.5 + 8 = 10 s observed; per month
        // 0.05 + 0.15 + 0.8 of 864,000 s.
        assert!(close(u.observed_s(), 80.0));
        assert!(close(
            p.month_active_s + p.month_idle_in_memory_s + p.month_hibernated_s,
            864_000.0
        ));
        let t = text(&u, &p);
        assert!(
            t.contains(
                "active 0.500 s + idle in memory 1.500 s + hibernated 8.000 s = observed 10.000 s"
            ),
            "{t}"
        );
        assert!(t.contains("rates as of 2026-11-01"), "{t}");
        assert!(
            t.contains("not included: the front Worker's own requests"),
            "{t}"
        );
    }

    #[test]
    fn scales_are_checked() {
        assert_eq!(parse_scale("objects=1_000_000", 24.0).unwrap().objects, 1e6);
        for bad in ["rooms", "rooms=0", "rooms=x", "planets=5"] {
            assert!(parse_scale(bad, 24.0).is_err(), "{bad}");
        }
        assert!(parse_scale("rooms=5", 25.0).is_err());
        assert!(parse_scale("rooms=5", 0.0).is_err());
    }
}
