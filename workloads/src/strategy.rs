//! Sharding strategies: which object (shard) a logical key's write goes to, and which shards
//! a read of that key must fan in over. `single` (one object for everything), `hash:N`
//! (a fixed hash of the key mod N), `jump:N` (jump consistent hash: growing N to N+1 moves
//! only ~1/(N+1) of the keys), `random:N` (writes anywhere, reads fan in over all N) and
//! `per-key` (one object per key). Pure mapping: never does I/O; only `random` draws
//! randomness.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Largest shard count accepted (keeps object names and fan-in reads bounded).
pub const MAX_SHARDS: u32 = 65_536;

/// A sharding strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Strategy {
    /// Every key on one object.
    Single,
    /// Key → `hash(key) % n`.
    Hash(u32),
    /// Key → jump consistent hash of the key over `n` buckets.
    Jump(u32),
    /// Writes to a random one of `n`; reads fan in over all `n`.
    Random(u32),
    /// Each key its own object.
    PerKey,
}

impl Strategy {
    /// Number of shards used for a keyspace of `keys` keys (`per-key`: one per key).
    pub fn shards(&self, keys: u64) -> u64 {
        match self {
            Strategy::Single => 1,
            Strategy::Hash(n) | Strategy::Jump(n) | Strategy::Random(n) => u64::from(*n),
            Strategy::PerKey => keys.max(1),
        }
    }

    /// Shard of a write of `key`. Deterministic for every strategy but `random`.
    pub fn write_shard(&self, key: u64) -> u64 {
        match self {
            Strategy::Single => 0,
            Strategy::Hash(n) => mix64(key) % u64::from(*n),
            Strategy::Jump(n) => u64::from(jump_hash(mix64(key), *n)),
            Strategy::Random(n) => rand::random_range(0..u64::from(*n)),
            Strategy::PerKey => key,
        }
    }

    /// Shards a read of `key` must read and sum.
    pub fn read_shards(&self, key: u64) -> Vec<u64> {
        match self {
            Strategy::Random(n) => (0..u64::from(*n)).collect(),
            other => vec![other.write_shard(key)],
        }
    }

    /// Requests one logical read costs.
    pub fn read_fan_in(&self) -> u64 {
        match self {
            Strategy::Random(n) => u64::from(*n),
            _ => 1,
        }
    }

    /// True when one key's writes may land on several objects.
    pub fn scatters_keys(&self) -> bool {
        matches!(self, Strategy::Random(n) if *n > 1)
    }

    /// The object name of `shard` under `prefix` (per-key names carry the key).
    pub fn object_name(&self, prefix: &str, shard: u64) -> String {
        match self {
            Strategy::PerKey => format!("{prefix}-k{shard}"),
            _ => format!("{prefix}-{shard}"),
        }
    }
}

impl FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Strategy {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        match s.trim() {
            "single" => return Ok(Strategy::Single),
            "per-key" | "per_key" | "perkey" => return Ok(Strategy::PerKey),
            _ => {}
        }
        let (kind, n) = s
            .trim()
            .split_once(':')
            .ok_or_else(|| bad("unknown strategy"))?;
        let n: u32 = n
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=MAX_SHARDS).contains(n))
            .ok_or_else(|| bad(&format!("N must be a whole number in 1..={MAX_SHARDS}")))?;
        match kind.trim() {
            "hash" => Ok(Strategy::Hash(n)),
            "jump" => Ok(Strategy::Jump(n)),
            "random" => Ok(Strategy::Random(n)),
            _ => Err(bad("unknown strategy")),
        }
    }
}

impl TryFrom<String> for Strategy {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Strategy::Single => f.write_str("single"),
            Strategy::Hash(n) => write!(f, "hash:{n}"),
            Strategy::Jump(n) => write!(f, "jump:{n}"),
            Strategy::Random(n) => write!(f, "random:{n}"),
            Strategy::PerKey => f.write_str("per-key"),
        }
    }
}

/// Parses a comma-separated strategy list (`single,hash:16`).
pub fn parse_list(s: &str) -> Result<Vec<Strategy>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// SplitMix64's finalizer: a fixed, well-mixed 64-bit hash of a 64-bit key.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Jump consistent hash (Lamping & Veach, 2014): bucket in `0..buckets` for `key`.
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["single", "hash:16", "jump:3", "random:16", "per-key"] {
            assert_eq!(s.parse::<Strategy>().unwrap().to_string(), s);
        }
        for bad in ["", "hash", "hash:0", "hash:x", "ring:4", "jump:99999999"] {
            assert!(bad.parse::<Strategy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn jump_hash_known_values() {
        // From the paper's reference implementation.
        assert_eq!(jump_hash(0, 1), 0);
        assert_eq!(jump_hash(1, 1), 0);
        assert!((0..1000).all(|k| jump_hash(k, 7) < 7));
    }
}
