//! What a run's own use of the target costs, and what each of its objects' turns cost on the
//! target's ceiling clock, both read from the reference runtime's stats: [`of_run`] prices the
//! difference between the scrapes before and after the run at the published rates (the one
//! table, `dobench_runtime::pricing`), line by line with no allowance taken off;
//! [`work_by_name`] gives the summary each object's service time per turn and rows. Pure
//! arithmetic on scraped figures: never fetches, never projects to a month (`dobench cost`
//! does that).

use std::collections::HashMap;

use dobench_loadgen::server_stats::ServerStats;
use dobench_loadgen::summary::{ObjectWork, RunBill};
use dobench_runtime::pricing as rates;

/// Each listed object of `class` by name: its mean service time per turn and its rows.
pub fn work_by_name(stats: &ServerStats, class: &str) -> HashMap<String, ObjectWork> {
    stats
        .objects
        .iter()
        .filter(|o| o.class == class)
        .filter_map(|o| {
            let name = o.name.clone()?;
            Some((
                name,
                ObjectWork {
                    service_ms_per_turn: o.service_ms_per_turn,
                    rows_read: o.rows_read,
                    rows_written: o.rows_written,
                },
            ))
        })
        .collect()
}

/// The run's usage (`last` minus `first`, the scrapes after and before it; everything in
/// `last` when there was no first) priced at the published rates. Stored bytes are the
/// state at the end.
pub fn of_run(first: Option<&ServerStats>, last: &ServerStats) -> RunBill {
    let (a, b) = (first.map(|f| &f.hibernation), &last.hibernation);
    let billable_requests = (b.billable_requests - a.map_or(0.0, |a| a.billable_requests)).max(0.0);
    let billed_s = (b.billed_ms - a.map_or(0.0, |a| a.billed_ms)).max(0.0) / 1000.0;
    let rows_read = b.rows_read.saturating_sub(a.map_or(0, |a| a.rows_read));
    let rows_written = b
        .rows_written
        .saturating_sub(a.map_or(0, |a| a.rows_written));
    let per_million = |n: f64, usd: f64| n / 1e6 * usd;
    let gb_s = rates::gb_s(billed_s);
    let requests_usd = rates::requests_usd(billable_requests);
    let duration_usd = rates::duration_usd(gb_s);
    let rows_read_usd = per_million(rows_read as f64, rates::USD_PER_MILLION_ROWS_READ);
    let rows_written_usd = per_million(rows_written as f64, rates::USD_PER_MILLION_ROWS_WRITTEN);
    RunBill {
        plan: rates::PLAN.to_string(),
        rates_as_of: rates::RATES_AS_OF.to_string(),
        billable_requests,
        requests_usd,
        gb_s,
        duration_usd,
        rows_read,
        rows_read_usd,
        rows_written,
        rows_written_usd,
        stored_bytes: b.stored_bytes,
        stored_usd_per_month: b.stored_bytes as f64 / 1e9 * rates::USD_PER_GB_MONTH_STORED,
        total_usd: requests_usd + duration_usd + rows_read_usd + rows_written_usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dobench_loadgen::server_stats::{ServerHibernation, ServerObject};

    fn stats(requests: f64, billed_ms: f64, read: u64, written: u64, bytes: u64) -> ServerStats {
        ServerStats {
            hibernation: ServerHibernation {
                billable_requests: requests,
                billed_ms,
                rows_read: read,
                rows_written: written,
                stored_bytes: bytes,
                ..ServerHibernation::default()
            },
            ..ServerStats::default()
        }
    }

    /// A run that served 2,000,000 billable requests, billed 500 s of duration, read
    /// 30,000,000 rows and wrote 4,000,000, on a target that had done some work before it;
    /// by hand from the published rates (Workers Paid, `pricing::RATES_AS_OF`).
    #[test]
    fn a_runs_bill_matches_a_hand_calculation() {
        let before = stats(1_000.0, 20_000.0, 5_000, 1_000, 4_096);
        let after = stats(2_001_000.0, 520_000.0, 30_005_000, 4_001_000, 2_500_000_000);
        let bill = of_run(Some(&before), &after);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
        assert_eq!(bill.rates_as_of, "2026-11-01");
        // Requests: 2,000,000 × $0.15 per million = $0.30.
        assert!(close(bill.billable_requests, 2_000_000.0));
        assert!(close(bill.requests_usd, 0.30));
        // Duration: 500 s × 0.128 GB = 64 GB-s × $12.50 per million GB-s = $0.0008.
        assert!(close(bill.gb_s, 64.0));
        assert!(close(bill.duration_usd, 0.0008));
        // Rows read: 30,000,000 × $0.001 per million = $0.03.
        assert_eq!(bill.rows_read, 30_000_000);
        assert!(close(bill.rows_read_usd, 0.03));
        // Rows written: 4,000,000 × $1.00 per million = $4.00.
        assert_eq!(bill.rows_written, 4_000_000);
        assert!(close(bill.rows_written_usd, 4.00));
        // Stored at the end: 2.5 GB × $0.20 per GB-month = $0.50 a month, apart.
        assert_eq!(bill.stored_bytes, 2_500_000_000);
        assert!(close(bill.stored_usd_per_month, 0.50));
        // Total: 0.30 + 0.0008 + 0.03 + 4.00 = $4.3308.
        assert!(close(bill.total_usd, 4.3308));
    }

    #[test]
    fn without_a_first_scrape_everything_so_far_is_the_runs() {
        let bill = of_run(None, &stats(10.0, 1_000.0, 3, 2, 0));
        assert!((bill.billable_requests - 10.0).abs() < 1e-12);
        assert_eq!((bill.rows_read, bill.rows_written), (3, 2));
    }

    #[test]
    fn work_is_keyed_by_the_names_of_the_runs_class_only() {
        let object = |class: &str, name: &str, ms: f64| ServerObject {
            class: class.into(),
            name: Some(name.into()),
            service_ms_per_turn: ms,
            rows_written: 20,
            ..ServerObject::default()
        };
        let s = ServerStats {
            objects: vec![
                object("counter", "ctr-a", 2.5),
                object("chat", "ctr-a", 9.0),
                ServerObject {
                    name: None,
                    ..object("counter", "", 1.0)
                },
            ],
            ..ServerStats::default()
        };
        let w = work_by_name(&s, "counter");
        assert_eq!(w.len(), 1);
        assert_eq!(w["ctr-a"].service_ms_per_turn, 2.5);
        assert_eq!(w["ctr-a"].turns_per_s(), Some(400.0));
    }
}
