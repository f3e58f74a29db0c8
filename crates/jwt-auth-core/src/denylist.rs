//! The revocations of a [`MemoryStore`](crate::MemoryStore): denied token
//! ids and revoked families, checked on every authenticated request.
//!
//! Revocations are rare and lookups are constant, so this is a plain hash
//! map behind a read-write lock: a lookup takes the read lock once for both
//! ids, reads the clock once, and hashes each id with a seeded fast hash
//! (foldhash), without building a key string. Entries expire with their
//! tokens; expired ones are swept every 1,024 insertions. A capacity, when
//! set, evicts the entries that expire first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

type Map = HashMap<Box<str>, Instant, foldhash::quality::RandomState>;

const SWEEP_EVERY: u64 = 1024;

#[derive(Default)]
struct Maps {
    tokens: Map,
    families: Map,
}

impl Maps {
    fn len(&self) -> usize {
        self.tokens.len() + self.families.len()
    }
}

/// Which list an id belongs to.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Token,
    Family,
}

#[derive(Default)]
pub(crate) struct DenyList {
    maps: RwLock<Maps>,
    /// Set (Release, under the write lock) once anything was ever denied:
    /// until then a lookup takes no lock at all.
    used: AtomicBool,
    capacity: Option<usize>,
    inserts: AtomicU64,
}

impl DenyList {
    pub(crate) fn with_capacity(capacity: Option<u64>) -> Self {
        Self {
            capacity: capacity.map(|c| usize::try_from(c).unwrap_or(usize::MAX)),
            ..Self::default()
        }
    }

    /// Whether the token `jti`, or its `family`, is denied now.
    pub(crate) fn contains(&self, jti: Option<&str>, family: Option<&str>) -> bool {
        // A revocation that completed before this lookup set `used` first.
        if !self.used.load(Ordering::Acquire) {
            return false;
        }
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        if maps.len() == 0 {
            return false;
        }
        let now = Instant::now();
        let live = |map: &Map, id: Option<&str>| {
            id.and_then(|id| map.get(id))
                .is_some_and(|&until| until > now)
        };
        live(&maps.tokens, jti) || live(&maps.families, family)
    }

    /// Denies `id` until `until` (a later deadline wins over an earlier one).
    pub(crate) fn insert(&self, kind: Kind, id: &str, until: Instant) {
        let mut maps = self.maps.write().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            maps.tokens.retain(|_, until| *until > now);
            maps.families.retain(|_, until| *until > now);
        }
        if let Some(capacity) = self.capacity {
            while maps.len() >= capacity.max(1) {
                maps.tokens.retain(|_, until| *until > now);
                maps.families.retain(|_, until| *until > now);
                if maps.len() < capacity.max(1) || !evict_first_to_expire(&mut maps) {
                    break;
                }
            }
        }
        let map = match kind {
            Kind::Token => &mut maps.tokens,
            Kind::Family => &mut maps.families,
        };
        let entry = map.entry(id.into()).or_insert(until);
        *entry = (*entry).max(until);
        self.used.store(true, Ordering::Release);
    }

    /// How many ids are held (expired ones included until swept).
    pub(crate) fn len(&self) -> usize {
        self.maps
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Removes the entry that expires first; `false` when there is none.
fn evict_first_to_expire(maps: &mut Maps) -> bool {
    let first = |map: &Map| {
        map.iter()
            .min_by_key(|(_, until)| **until)
            .map(|(id, until)| (id.clone(), *until))
    };
    match (first(&maps.tokens), first(&maps.families)) {
        (Some((id, a)), Some((_, b))) if a <= b => maps.tokens.remove(&id).is_some(),
        (_, Some((id, _))) => maps.families.remove(&id).is_some(),
        (Some((id, _)), None) => maps.tokens.remove(&id).is_some(),
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ids_expire_and_lists_are_apart() {
        let list = DenyList::default();
        let now = Instant::now();
        assert!(!list.contains(Some("a"), Some("a")));
        list.insert(Kind::Token, "a", now + Duration::from_secs(60));
        list.insert(Kind::Family, "f", now + Duration::from_secs(60));
        list.insert(Kind::Token, "gone", now);
        assert!(list.contains(Some("a"), None));
        assert!(list.contains(None, Some("f")));
        assert!(
            !list.contains(Some("f"), Some("a")),
            "a token id is not a family"
        );
        assert!(!list.contains(Some("gone"), None), "expired");
        // A shorter deadline never shortens a revocation.
        list.insert(Kind::Token, "a", now);
        assert!(list.contains(Some("a"), None));
    }

    #[test]
    fn a_capacity_evicts_what_expires_first() {
        let list = DenyList::with_capacity(Some(2));
        let now = Instant::now();
        list.insert(Kind::Token, "late", now + Duration::from_secs(300));
        list.insert(Kind::Family, "soon", now + Duration::from_secs(60));
        list.insert(Kind::Token, "new", now + Duration::from_secs(120));
        assert_eq!(list.len(), 2);
        assert!(list.contains(Some("late"), None));
        assert!(list.contains(Some("new"), None));
        assert!(!list.contains(None, Some("soon")), "evicted first");
    }
}
