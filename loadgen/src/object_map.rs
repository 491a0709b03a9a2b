//! [`ObjectMap`]: a map keyed by object name that grows without a pause. A run's books hold
//! an entry for every object it touched (hundreds of thousands at Durable Object scale), and
//! one hash table doubling at that size moves every entry and faults in tens of megabytes at
//! once: at 229,376 objects that held the generator's send path for tens of milliseconds
//! and showed as the slowest seconds of a per-key run over a million keys. Split into
//! [`SHARDS`] tables by the key's hash, each doubling moves 1/64th of the entries.
//!
//! Owns only the entries: never decides what is kept, never locks (its owner does).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::ops::Index;
use std::sync::Arc;

use foldhash::fast::RandomState;

/// Tables a map is split into.
pub const SHARDS: usize = 64;

/// A map from object name to `V`, in [`SHARDS`] tables hashed with foldhash.
#[derive(Debug, Clone)]
pub struct ObjectMap<V> {
    /// Picks the table (the tables hash with their own seeds, so a table's keys still
    /// spread over all its buckets).
    pick: RandomState,
    shards: Vec<HashMap<Arc<str>, V, RandomState>>,
    len: usize,
}

impl<V> Default for ObjectMap<V> {
    fn default() -> Self {
        ObjectMap {
            pick: RandomState::default(),
            shards: (0..SHARDS).map(|_| HashMap::default()).collect(),
            len: 0,
        }
    }
}

impl<V> ObjectMap<V> {
    pub fn new() -> Self {
        Self::default()
    }

    fn shard_of(&self, key: &str) -> usize {
        (self.pick.hash_one(key) >> 58) as usize % SHARDS
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.shards[self.shard_of(key)].get(key)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let s = self.shard_of(key);
        self.shards[s].get_mut(key)
    }

    /// Inserts `value` for `key`, returning the value it replaced.
    pub fn insert(&mut self, key: Arc<str>, value: V) -> Option<V> {
        let s = self.shard_of(&key);
        let old = self.shards[s].insert(key, value);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// The entry of `key`, created with `V::default()` if absent (the key is cloned, a
    /// reference count, only then).
    pub fn get_or_default(&mut self, key: &Arc<str>) -> &mut V
    where
        V: Default,
    {
        let s = self.shard_of(key);
        let shard = &mut self.shards[s];
        if !shard.contains_key(&**key) {
            shard.insert(key.clone(), V::default());
            self.len += 1;
        }
        shard.get_mut(&**key).expect("present: inserted above")
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &V)> + '_ {
        self.shards.iter().flat_map(|s| s.iter())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&Arc<str>, &mut V)> + '_ {
        self.shards.iter_mut().flat_map(|s| s.iter_mut())
    }

    pub fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Takes every entry out, keeping the tables' capacity.
    pub fn drain(&mut self) -> impl Iterator<Item = (Arc<str>, V)> + '_ {
        self.len = 0;
        self.shards.iter_mut().flat_map(|s| s.drain())
    }
}

impl<V> Index<&str> for ObjectMap<V> {
    type Output = V;

    fn index(&self, key: &str) -> &V {
        self.get(key).expect("no entry for this object")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_one_map_and_spreads_over_every_shard() {
        let mut m: ObjectMap<u64> = ObjectMap::new();
        let keys: Vec<Arc<str>> = (0..10_000).map(|i| Arc::from(format!("obj-{i}"))).collect();
        for (i, k) in keys.iter().enumerate() {
            *m.get_or_default(k) += i as u64;
            *m.get_or_default(k) += 1;
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m["obj-777"], 778);
        assert_eq!(m.get("nope"), None);
        assert_eq!(m.insert(keys[5].clone(), 1), Some(6));
        assert_eq!(m.len(), 10_000, "replacing is not a new entry");
        assert_eq!(m.iter().count(), 10_000);
        let busy = m.shards.iter().filter(|s| s.len() > 100).count();
        assert_eq!(busy, SHARDS, "every shard holds a share");
        // The largest table holds a small multiple of its share, not everything.
        let most = m.shards.iter().map(HashMap::len).max().unwrap();
        assert!(most < 3 * 10_000 / SHARDS, "{most}");
        let drained: u64 = m.drain().map(|(_, v)| v).sum();
        assert_eq!(drained, (0..10_000u64).map(|i| i + 1).sum::<u64>() - 6 + 1);
        assert!(m.is_empty());
    }
}
