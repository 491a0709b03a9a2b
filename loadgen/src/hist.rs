//! Histogram conventions shared by recorder, snapshot and summary: microseconds, 3
//! significant digits, 1 µs..60 s (larger values saturate at 60 s), percentiles in ms, and
//! HdrHistogram V2 (de)serialization so runs recorded apart merge exactly. Pure functions.

use std::time::Duration;

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Highest trackable value in µs (60 s).
pub const MAX_US: u64 = 60_000_000;

/// An empty latency histogram (µs, 3 significant digits, up to 60 s).
pub fn new_histogram() -> Histogram<u64> {
    // Bounds are constants known to be valid.
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds")
}

/// Records a duration in µs, clamped to 1 µs..60 s.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_US);
    h.saturating_record(us);
}

/// The percentiles every report shows, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// Percentiles of `h` (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// Serializes in the HdrHistogram V2 format (uncompressed).
pub fn to_v2(h: &Histogram<u64>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    V2Serializer::new()
        .serialize(h, &mut out)
        .map_err(|e| Error::Histogram(format!("{e:?}")))?;
    Ok(out)
}

/// Reads a V2 (or V2-deflate) histogram back.
pub fn from_v2(bytes: &[u8]) -> Result<Histogram<u64>> {
    let mut cursor = std::io::Cursor::new(bytes);
    Deserializer::new()
        .deserialize(&mut cursor)
        .map_err(|e| Error::Histogram(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_round_trip_merges_exactly() {
        let (mut a, mut b) = (new_histogram(), new_histogram());
        for i in 1..1000u64 {
            record(&mut a, Duration::from_micros(i * 7));
            record(&mut b, Duration::from_millis(i));
        }
        let mut merged = from_v2(&to_v2(&a).unwrap()).unwrap();
        merged.add(from_v2(&to_v2(&b).unwrap()).unwrap()).unwrap();
        let mut direct = a.clone();
        direct.add(&b).unwrap();
        assert_eq!(merged, direct);
    }

    #[test]
    fn saturates_instead_of_failing() {
        let mut h = new_histogram();
        record(&mut h, Duration::from_secs(3600));
        record(&mut h, Duration::ZERO);
        assert_eq!(h.len(), 2);
        assert!(Percentiles::of(&h).max >= 59_000.0);
    }
}
