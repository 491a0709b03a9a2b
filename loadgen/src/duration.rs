//! Human duration strings (`500ms`, `10s`, `2m`, `1h`, `1.5s`) for flags and profiles.
//! Pure parsing only; never sleeps or reads clocks.

use std::time::Duration;

use crate::error::{Error, Result};

/// Parses `<number><unit>` with unit one of `us`, `ms`, `s`, `m`, `h`. A bare `0` is allowed.
pub fn parse(input: &str) -> Result<Duration> {
    let err = |reason| Error::InvalidDuration {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| err("missing unit"))?;
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(err("missing number"));
    }
    let value: f64 = num.parse().map_err(|_| err("not a number"))?;
    let secs = match unit {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(err("unknown unit")),
    };
    if !secs.is_finite() || secs > 1e9 {
        return Err(err("too large"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_garbage_clearly() {
        for bad in ["", "10", "s", "10x", "1.2.3s", "-1s"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
    }
}
