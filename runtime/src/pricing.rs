//! Published Durable Objects prices (Workers Paid plan: requests, duration, SQLite storage
//! rows and stored data, and the monthly allowances the plan includes) and the duration
//! arithmetic behind the hibernation savings figures. Rates, allowances and their date live
//! here and nowhere else (`dobench cost` projects with them); nothing here reads runtime
//! state.

/// The date the rates below were read from the published pricing page.
pub const RATES_AS_OF: &str = "2026-11-01";
/// Memory billed per active object, in GB (128 MB, decimal as the published examples use).
pub const GB_PER_OBJECT: f64 = 0.128;
/// USD per million GB-s of duration.
pub const USD_PER_MILLION_GB_S: f64 = 12.50;
/// USD per million billable requests.
pub const USD_PER_MILLION_REQUESTS: f64 = 0.15;
/// Incoming WebSocket messages per billable request.
pub const WS_MESSAGES_PER_REQUEST: u64 = 20;
/// The plan these rates are for.
pub const PLAN: &str = "Workers Paid";
/// Requests the plan includes each month.
pub const INCLUDED_REQUESTS_PER_MONTH: f64 = 1_000_000.0;
/// Duration the plan includes each month, GB-s.
pub const INCLUDED_GB_S_PER_MONTH: f64 = 400_000.0;
/// USD per million SQLite rows read, and the rows the plan includes each month.
pub const USD_PER_MILLION_ROWS_READ: f64 = 0.001;
pub const INCLUDED_ROWS_READ_PER_MONTH: f64 = 25_000_000_000.0;
/// USD per million SQLite rows written, and the rows the plan includes each month.
pub const USD_PER_MILLION_ROWS_WRITTEN: f64 = 1.00;
pub const INCLUDED_ROWS_WRITTEN_PER_MONTH: f64 = 50_000_000.0;
/// USD per GB-month of SQLite data stored, and the GB-months the plan includes.
pub const USD_PER_GB_MONTH_STORED: f64 = 0.20;
pub const INCLUDED_GB_MONTH_STORED: f64 = 5.0;
/// A billing month as the published examples count it: 30 days.
pub const SECONDS_PER_MONTH: f64 = 30.0 * 86_400.0;

/// GB-s for `seconds` of active duration of one object.
pub fn gb_s(seconds: f64) -> f64 {
    seconds * GB_PER_OBJECT
}

/// USD for `gb_s` of duration.
pub fn duration_usd(gb_s: f64) -> f64 {
    gb_s / 1e6 * USD_PER_MILLION_GB_S
}

/// USD for `requests` billable requests.
pub fn requests_usd(requests: f64) -> f64 {
    requests / 1e6 * USD_PER_MILLION_REQUESTS
}

/// Billable requests: HTTP requests (WebSocket upgrades included), alarm invocations, and
/// incoming WebSocket messages at 20:1. Outgoing messages, pings and auto-responses are free.
pub fn billable_requests(http: u64, alarm_runs: u64, ws_messages_in: u64) -> f64 {
    (http + alarm_runs) as f64 + ws_messages_in as f64 / WS_MESSAGES_PER_REQUEST as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published example: 100 objects, each active 1 s per minute for 30 days.
    #[test]
    fn published_duration_example() {
        let seconds = 100.0 * 60.0 * 24.0 * 30.0;
        assert_eq!(seconds, 4_320_000.0);
        assert!((gb_s(seconds) - 552_960.0).abs() < 1e-6);
        assert!((duration_usd(552_960.0) - 6.912).abs() < 1e-9);
    }

    #[test]
    fn websocket_messages_bill_at_20_to_1() {
        assert_eq!(billable_requests(10, 2, 100), 17.0);
        assert!((requests_usd(1e6) - 0.15).abs() < 1e-12);
    }
}
