//! Which logical key a planned request touches: `uniform` over `keys` keys, or `zipf(s)`
//! (key 0 hottest). A draw is a pure function of (seed, request index), so a plan is
//! reproducible and any segment of a split schedule draws the same keys. Never keeps
//! per-request state and never reads a clock.

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::strategy::mix64;

/// Largest keyspace accepted (the zipf table holds one `f64` per key).
pub const MAX_KEYS: u64 = 10_000_000;

/// How keys are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    #[default]
    Uniform,
    Zipf,
}

/// The profile's `[keyspace]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyspaceSpec {
    /// Number of logical keys.
    #[serde(default = "default_keys")]
    pub keys: u64,
    #[serde(default)]
    pub distribution: Distribution,
    /// Zipf exponent (ignored for uniform).
    #[serde(default = "default_s")]
    pub s: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_keys() -> u64 {
    1000
}
fn default_s() -> f64 {
    1.0
}
fn default_seed() -> u64 {
    42
}

impl Default for KeyspaceSpec {
    fn default() -> Self {
        KeyspaceSpec {
            keys: default_keys(),
            distribution: Distribution::Uniform,
            s: default_s(),
            seed: default_seed(),
        }
    }
}

/// A ready-to-draw keyspace.
#[derive(Debug, Clone)]
pub struct Keyspace {
    keys: u64,
    seed: u64,
    /// Zipf: cumulative probabilities (last = 1.0); empty for uniform.
    cdf: Vec<f64>,
}

impl Keyspace {
    /// Builds the keyspace (the zipf table is computed once here).
    pub fn new(spec: &KeyspaceSpec) -> Result<Self> {
        if spec.keys == 0 || spec.keys > MAX_KEYS {
            return Err(Error::Invalid(format!(
                "keyspace.keys must be in 1..={MAX_KEYS}"
            )));
        }
        let cdf = match spec.distribution {
            Distribution::Uniform => Vec::new(),
            Distribution::Zipf => {
                if !(spec.s.is_finite() && spec.s > 0.0 && spec.s <= 10.0) {
                    return Err(Error::Invalid(
                        "keyspace.s (zipf exponent) must be in (0, 10]".into(),
                    ));
                }
                let mut acc = 0.0;
                let mut cdf: Vec<f64> = (1..=spec.keys)
                    .map(|k| {
                        acc += (k as f64).powf(-spec.s);
                        acc
                    })
                    .collect();
                let total = acc;
                cdf.iter_mut().for_each(|c| *c /= total);
                if let Some(last) = cdf.last_mut() {
                    *last = 1.0;
                }
                cdf
            }
        };
        Ok(Keyspace {
            keys: spec.keys,
            seed: spec.seed,
            cdf,
        })
    }

    /// Number of keys.
    pub fn len(&self) -> u64 {
        self.keys
    }

    /// Always false (a keyspace has at least one key).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The key of request `index` (in `0..len()`).
    pub fn pick(&self, index: u64) -> u64 {
        let u = unit(mix64(self.seed ^ mix64(index)));
        if self.cdf.is_empty() {
            ((u * self.keys as f64) as u64).min(self.keys - 1)
        } else {
            (self.cdf.partition_point(|&c| c < u) as u64).min(self.keys - 1)
        }
    }

    /// Probability of the hottest key.
    pub fn hottest_share(&self) -> f64 {
        self.cdf.first().copied().unwrap_or(1.0 / self.keys as f64)
    }
}

/// A uniform draw in [0, 1) from 64 random bits.
pub fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(keys: u64, distribution: Distribution, s: f64) -> KeyspaceSpec {
        KeyspaceSpec {
            keys,
            distribution,
            s,
            seed: 7,
        }
    }

    #[test]
    fn uniform_covers_keys_evenly() {
        let ks = Keyspace::new(&spec(10, Distribution::Uniform, 1.0)).unwrap();
        let mut counts = [0u32; 10];
        for i in 0..100_000 {
            counts[ks.pick(i) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn zipf_is_skewed_and_deterministic() {
        let ks = Keyspace::new(&spec(1000, Distribution::Zipf, 1.1)).unwrap();
        let hits = (0..100_000).filter(|&i| ks.pick(i) == 0).count() as f64 / 100_000.0;
        assert!((hits - ks.hottest_share()).abs() < 0.01, "{hits}");
        assert_eq!(ks.pick(12345), ks.pick(12345));
    }
}
