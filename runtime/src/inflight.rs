//! Bytes in flight: request bodies and incoming WebSocket messages that have been read but
//! whose turn has not run yet, per object and runtime-wide, each under a bound, so that
//! large bodies and frames (production allows 100 MiB bodies and 32 MiB messages) cannot
//! exhaust memory however many arrive at once. A [`Reservation`] holds its bytes until it is
//! dropped (when the turn starts or the request is answered). One reservation always fits
//! an object with nothing in flight, so a single body or message at the size limit is never
//! refused for being large. Never reads a socket and never decides what a refusal looks like.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::id::ObjectId;

/// Ledger shards (by the id's first byte).
const SHARDS: usize = 64;

/// The bounds on bytes in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InflightLimits {
    /// Per object.
    pub per_object: u64,
    /// Over the whole runtime.
    pub total: u64,
}

/// Who holds how many bytes in flight.
#[derive(Debug)]
pub struct Inflight {
    limits: InflightLimits,
    total: AtomicU64,
    /// Only objects with bytes in flight have an entry.
    shards: Vec<Mutex<HashMap<ObjectId, u64>>>,
}

/// Bytes held in flight for one object until dropped.
#[derive(Debug)]
pub struct Reservation {
    ledger: Arc<Inflight>,
    object: ObjectId,
    bytes: u64,
}

impl Inflight {
    /// An empty ledger under `limits`.
    pub fn new(limits: InflightLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            total: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        })
    }

    /// The bounds.
    pub fn limits(&self) -> InflightLimits {
        self.limits
    }

    /// Bytes in flight over the runtime.
    pub fn total(&self) -> u64 {
        self.total.load(Relaxed)
    }

    fn shard(&self, id: &ObjectId) -> &Mutex<HashMap<ObjectId, u64>> {
        &self.shards[usize::from(id.as_bytes()[0]) % SHARDS]
    }

    /// Holds `bytes` for `object` if they fit both bounds (an object with nothing in flight
    /// always fits its own; the runtime's bound fits one reservation when it is empty).
    /// `None`: over a bound, nothing held.
    pub fn try_reserve(self: &Arc<Self>, object: &ObjectId, bytes: u64) -> Option<Reservation> {
        let mut map = self.shard(object).lock().unwrap_or_else(|e| e.into_inner());
        let held = map.get(object).copied().unwrap_or(0);
        if held > 0 && held.saturating_add(bytes) > self.limits.per_object {
            return None;
        }
        // The runtime-wide bound, checked and taken atomically against other shards.
        let taken = self.total.fetch_update(Relaxed, Relaxed, |t| {
            (t == 0 || t.saturating_add(bytes) <= self.limits.total).then(|| t + bytes)
        });
        if taken.is_err() {
            return None;
        }
        *map.entry(*object).or_insert(0) += bytes;
        Some(Reservation {
            ledger: Arc::clone(self),
            object: *object,
            bytes,
        })
    }

    /// Bytes in flight for `object`.
    pub fn held(&self, object: &ObjectId) -> u64 {
        let map = self.shard(object).lock().unwrap_or_else(|e| e.into_inner());
        map.get(object).copied().unwrap_or(0)
    }
}

impl Reservation {
    /// The bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut map = self
            .ledger
            .shard(&self.object)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(held) = map.get_mut(&self.object) {
            *held = held.saturating_sub(self.bytes);
            if *held == 0 {
                map.remove(&self.object);
            }
        }
        self.ledger.total.fetch_sub(self.bytes, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::from_bytes([n; 32])
    }

    #[test]
    fn an_object_holds_up_to_its_bound_and_one_reservation_always_fits() {
        let l = Inflight::new(InflightLimits {
            per_object: 100,
            total: 1_000,
        });
        let big = l.try_reserve(&id(1), 150).expect("alone, any size fits");
        assert!(l.try_reserve(&id(1), 1).is_none(), "past the bound");
        drop(big);
        let a = l.try_reserve(&id(1), 60).unwrap();
        let b = l.try_reserve(&id(1), 40).unwrap();
        assert!(l.try_reserve(&id(1), 1).is_none());
        assert_eq!(l.held(&id(1)), 100);
        drop((a, b));
        assert_eq!((l.held(&id(1)), l.total()), (0, 0));
    }

    #[test]
    fn the_runtime_bound_holds_across_objects() {
        let l = Inflight::new(InflightLimits {
            per_object: 100,
            total: 150,
        });
        let _a = l.try_reserve(&id(1), 100).unwrap();
        assert!(l.try_reserve(&id(2), 100).is_none(), "over the total");
        let _b = l.try_reserve(&id(2), 50).unwrap();
        assert_eq!(l.total(), 150);
    }
}
