//! One database's keys on one shard: values, expiry, memory accounting and a
//! scan cursor that stays valid while keys come and go.
//!
//! Keys live in an insertion-ordered hash map. Removal swaps the last entry
//! into the hole, so an entry only ever moves towards the front; a scan that
//! walks positions from the back to the front therefore returns every key
//! that was present for the whole scan at least once (Redis's guarantee).
//! Deadlines live in a second, ordered index so the active expiry cycle
//! deletes exactly the keys that are due, oldest first, in bounded steps.

use std::collections::BTreeSet;

use bytes::Bytes;
use indexmap::IndexMap;

/// A stored value. Later families add their variants here.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Bytes),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
        }
    }

    /// Bytes this value accounts for in the memory limit.
    pub fn memory_usage(&self) -> usize {
        match self {
            Value::String(bytes) => bytes.len(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute deadline in Unix milliseconds.
    pub expires_at_ms: Option<u64>,
}

/// Fixed per-key cost added to key and value lengths in memory accounting:
/// the map slot, the entry header and the allocator's rounding.
pub const ENTRY_OVERHEAD_BYTES: usize = 64;

type KeyMap = IndexMap<Bytes, Entry, foldhash::fast::RandomState>;

#[derive(Debug, Default)]
pub struct Keyspace {
    entries: KeyMap,
    /// (deadline, key) for every key with a deadline.
    deadlines: BTreeSet<(u64, Bytes)>,
    used_memory_bytes: usize,
    expired_keys_total: u64,
}

fn entry_cost(key: &[u8], entry: &Entry) -> usize {
    ENTRY_OVERHEAD_BYTES + key.len() + entry.value.memory_usage()
}

impl Keyspace {
    /// Keys stored, including expired keys not yet reclaimed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Keys with a deadline.
    pub fn expires_count(&self) -> usize {
        self.deadlines.len()
    }

    pub fn used_memory_bytes(&self) -> usize {
        self.used_memory_bytes
    }

    /// Keys removed because their deadline passed, since start.
    pub fn expired_keys_total(&self) -> u64 {
        self.expired_keys_total
    }

    /// The live entry for `key`; an expired one is deleted on the way (lazy expiry).
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.expire_if_due(key, now_ms);
        self.entries.get(key)
    }

    /// Like [`Keyspace::get`], for changing the value in place. The caller
    /// must call [`Keyspace::recount`] after changing the value's size.
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.expire_if_due(key, now_ms);
        self.entries.get_mut(key)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Stores `entry` under `key`, replacing any value and deadline, and
    /// returns the previous live entry.
    pub fn insert(&mut self, key: Bytes, entry: Entry, now_ms: u64) -> Option<Entry> {
        self.expire_if_due(&key, now_ms);
        // Keys arrive as slices of a connection's read buffer; copy them so a
        // stored key never pins that buffer's memory.
        let key = Bytes::copy_from_slice(&key);
        if let Some(previous) = self.entries.get(&key) {
            let cost = entry_cost(&key, previous);
            let deadline = previous.expires_at_ms;
            self.used_memory_bytes -= cost;
            if let Some(deadline) = deadline {
                self.deadlines.remove(&(deadline, key.clone()));
            }
        }
        self.used_memory_bytes += entry_cost(&key, &entry);
        if let Some(deadline) = entry.expires_at_ms {
            self.deadlines.insert((deadline, key.clone()));
        }
        self.entries.insert(key, entry)
    }

    /// Removes `key` and returns its live entry.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        self.expire_if_due(key, now_ms);
        let (stored_key, entry) = self.entries.swap_remove_entry(key)?;
        self.forget(&stored_key, &entry);
        Some(entry)
    }

    /// Sets or clears `key`'s deadline. Returns false if the key is absent.
    pub fn set_expiry(&mut self, key: &[u8], expires_at_ms: Option<u64>, now_ms: u64) -> bool {
        self.expire_if_due(key, now_ms);
        let Some((_, stored_key, entry)) = self.entries.get_full_mut(key) else {
            return false;
        };
        if let Some(old) = entry.expires_at_ms {
            self.deadlines.remove(&(old, stored_key.clone()));
        }
        entry.expires_at_ms = expires_at_ms;
        if let Some(deadline) = expires_at_ms {
            self.deadlines.insert((deadline, stored_key.clone()));
        }
        true
    }

    /// Re-measures `key` after its value changed size in place.
    pub fn recount(&mut self, key: &[u8], size_before: usize) {
        if let Some(entry) = self.entries.get(key) {
            self.used_memory_bytes =
                self.used_memory_bytes + entry.value.memory_usage() - size_before;
        }
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.entries = KeyMap::default();
        self.deadlines.clear();
        self.used_memory_bytes = 0;
    }

    /// Deletes up to `budget` keys whose deadline is at or before `now_ms`,
    /// earliest first. Returns how many it deleted.
    pub fn expire_due(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut deleted = 0;
        while deleted < budget {
            let Some((deadline, key)) = self.deadlines.first().cloned() else {
                break;
            };
            if deadline > now_ms {
                break;
            }
            self.delete_expired(&key);
            deleted += 1;
        }
        deleted
    }

    /// A uniformly chosen key, from `random` (any 64-bit random number).
    /// May return an expired key that has not been reclaimed yet; callers
    /// check it with [`Keyspace::get`].
    pub fn key_at_random(&self, random: u64) -> Option<&Bytes> {
        if self.entries.is_empty() {
            return None;
        }
        let index = (random % self.entries.len() as u64) as usize;
        self.entries.get_index(index).map(|(key, _)| key)
    }

    /// Visits about `count` positions of the map starting at `cursor` and
    /// walking towards the front. Cursor 0 starts a scan; the returned cursor
    /// is 0 when the scan is complete. Expired keys are skipped.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        now_ms: u64,
        mut visit: impl FnMut(&Bytes, &Entry),
    ) -> u64 {
        let len = self.entries.len() as u64;
        // Position + 1 of the next entry to visit; entries may have been
        // removed since the cursor was issued, so clamp to the current size.
        let mut next = if cursor == 0 { len } else { cursor.min(len) };
        let mut visited = 0;
        while next > 0 && visited < count.max(1) {
            let (key, entry) = self
                .entries
                .get_index((next - 1) as usize)
                .expect("position below len is occupied");
            if entry.expires_at_ms.is_none_or(|deadline| deadline > now_ms) {
                visit(key, entry);
            }
            next -= 1;
            visited += 1;
        }
        next
    }

    /// Every live key, in map order.
    pub fn iter_live(&self, now_ms: u64) -> impl Iterator<Item = (&Bytes, &Entry)> {
        self.entries
            .iter()
            .filter(move |(_, entry)| entry.expires_at_ms.is_none_or(|deadline| deadline > now_ms))
    }

    fn expire_if_due(&mut self, key: &[u8], now_ms: u64) {
        let due = matches!(
            self.entries.get(key),
            Some(Entry { expires_at_ms: Some(deadline), .. }) if *deadline <= now_ms
        );
        if due {
            self.delete_expired(key);
        }
    }

    fn delete_expired(&mut self, key: &[u8]) {
        if let Some((stored_key, entry)) = self.entries.swap_remove_entry(key) {
            self.forget(&stored_key, &entry);
            self.expired_keys_total += 1;
        }
    }

    /// Drops the bookkeeping of an entry that left the map (or was replaced).
    fn forget(&mut self, key: &Bytes, entry: &Entry) {
        self.used_memory_bytes -= entry_cost(key, entry);
        if let Some(deadline) = entry.expires_at_ms {
            self.deadlines.remove(&(deadline, key.clone()));
        }
    }
}
