//! Sharding strategies, by property: every strategy but `random` maps a key to the same
//! shard every time, every shard is in 0..N and a keyspace covers all N, and jump consistent
//! hash moves only ~1/(N+1) of the keys (all to the new bucket) when N grows by one.

use dobench_workloads::strategy::{jump_hash, mix64, Strategy};
use proptest::prelude::*;

fn strategies(n: u32) -> Vec<Strategy> {
    vec![
        Strategy::Single,
        Strategy::Hash(n),
        Strategy::Jump(n),
        Strategy::Random(n),
        Strategy::PerKey,
    ]
}

proptest! {
    #[test]
    fn deterministic_except_random(n in 1u32..512, key in any::<u64>()) {
        for s in strategies(n) {
            if matches!(s, Strategy::Random(_)) { continue; }
            prop_assert_eq!(s.write_shard(key), s.write_shard(key));
            prop_assert_eq!(s.read_shards(key), vec![s.write_shard(key)]);
        }
    }

    #[test]
    fn shards_stay_in_range(n in 1u32..512, key in 0u64..1_000_000) {
        for s in strategies(n) {
            let shards = s.shards(1_000_000);
            prop_assert!(s.write_shard(key) < shards, "{} put {} outside 0..{}", s, key, shards);
        }
        prop_assert_eq!(Strategy::Random(n).read_shards(key).len(), n as usize);
    }

    #[test]
    fn a_keyspace_covers_every_shard(n in 1u32..64) {
        for s in [Strategy::Hash(n), Strategy::Jump(n), Strategy::Random(n)] {
            let mut seen = vec![false; n as usize];
            for key in 0..(200 * u64::from(n)) {
                seen[s.write_shard(key) as usize] = true;
            }
            prop_assert!(seen.iter().all(|&x| x), "{} left a shard unused", s);
        }
    }

    #[test]
    fn jump_moves_about_one_in_n_plus_one(n in 1u32..200, seed in any::<u64>()) {
        let keys = 20_000u64;
        let mut moved = 0u64;
        for k in 0..keys {
            let h = mix64(seed ^ k);
            let (a, b) = (jump_hash(h, n), jump_hash(h, n + 1));
            if a != b {
                prop_assert_eq!(b, n, "a moved key goes to the new bucket");
                moved += 1;
            }
        }
        let share = moved as f64 / keys as f64;
        let want = 1.0 / f64::from(n + 1);
        prop_assert!((share - want).abs() < 0.25 * want + 0.01, "moved {} want {}", share, want);
    }
}

#[test]
fn random_scatters_writes() {
    let s = Strategy::Random(16);
    let shards: std::collections::HashSet<u64> = (0..200).map(|_| s.write_shard(7)).collect();
    assert!(shards.len() > 8, "{shards:?}");
    assert_eq!(s.read_fan_in(), 16);
    assert_eq!(Strategy::Hash(16).read_fan_in(), 1);
}
