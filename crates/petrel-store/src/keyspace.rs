//! One database's keys on one shard: values, expiry, memory accounting and a
//! scan cursor that stays valid while keys come and go.
//!
//! Keys live in an insertion-ordered hash map. Removal swaps the last entry
//! into the hole, so an entry only ever moves towards the front; a scan that
//! walks positions from the back to the front therefore returns every key
//! that was present for the whole scan at least once (Redis's guarantee).
//! Deadlines live in a second, ordered index so the active expiry cycle
//! deletes exactly the keys that are due, oldest first, in bounded steps.
//!
//! Every change to a value goes through [`Keyspace::insert`],
//! [`Keyspace::modify`], [`Keyspace::remove`], [`Keyspace::set_expiry`] or
//! [`Keyspace::clear`], so the memory counter and the deadline index can
//! never drift from the map. This module knows nothing of commands.
//!
//! # Expiry
//!
//! Expired keys disappear in two ways, as in Redis:
//! - lazily: every lookup by key deletes the key first if its deadline is at
//!   or before `now_ms`, so no command ever sees an expired value;
//! - actively: the engine's timer calls [`Keyspace::expire_due`] on every
//!   database of its shard, about ten times a second, with a budget of keys
//!   (e.g. 200), and calls it again while it returned the whole budget and
//!   the tick's time slice (e.g. a quarter of the tick) is not used up.
//!   [`Keyspace::next_deadline_ms`] tells when the next key falls due, so an
//!   idle shard can sleep until then instead of polling.
//!
//! # Watched keys
//!
//! WATCH asks the shard for a [`WatchToken`] per key. Every change through
//! the methods above (and expiry) touches the key, so a command that
//! changes nothing (DEL of a missing key, a failed write) leaves watches
//! alone. A token stays valid while
//! its key was not touched and, if the key existed when watched, has not
//! expired since (Redis 7.0's rule). Only watched keys are tracked, so a
//! keyspace nobody watches pays one `is_empty` check per write.

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use indexmap::IndexMap;

/// Values shorter than this are copied out of the connection's read buffer
/// when stored, so a small value never pins a whole buffer; longer values
/// keep the slice (the buffer is mostly theirs anyway).
pub const SMALL_VALUE_BYTES_MAX: usize = 16 * 1024;

/// Redis's `SDS_MAX_PREALLOC`: a growing string doubles its room up to this
/// size, then grows by this much at a time.
const GROWTH_STEP_BYTES_MAX: usize = 1024 * 1024;

/// Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`: OBJECT ENCODING says `embstr` up
/// to this length, `raw` above.
const EMBSTR_BYTES_MAX: usize = 44;

/// A stored value. Later families add their variants here; code outside this
/// module reaches a variant through an accessor such as
/// [`Value::as_string`], so that a key of another type answers WRONGTYPE.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(StringValue),
    Hash(crate::types::HashValue),
    List(crate::types::ListValue),
    Set(crate::types::SetValue),
    ZSet(crate::types::ZSetValue),
    /// Stands in for the families not written yet, so that the WRONGTYPE
    /// paths can be tested. Never exists outside this crate's unit tests.
    #[cfg(test)]
    Other {
        type_name: &'static str,
    },
}

impl Value {
    /// A string value from a command argument (see [`StringValue::from_arg`]).
    pub fn string(bytes: Bytes) -> Value {
        Value::String(StringValue::from_arg(bytes))
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            #[cfg(test)]
            Value::Other { type_name } => type_name,
        }
    }

    /// Bytes this value accounts for in the memory limit.
    pub fn memory_usage(&self) -> usize {
        match self {
            Value::String(string) => string.memory_usage(),
            Value::Hash(hash) => hash.memory_usage(),
            Value::List(list) => list.memory_usage(),
            Value::Set(set) => set.memory_usage(),
            Value::ZSet(zset) => zset.memory_usage(),
            #[cfg(test)]
            Value::Other { .. } => 0,
        }
    }

    /// What OBJECT ENCODING reports.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::String(string) => string.encoding(),
            Value::Hash(hash) => hash.encoding(),
            Value::List(list) => list.encoding(),
            Value::Set(set) => set.encoding(),
            Value::ZSet(zset) => zset.encoding(),
            #[cfg(test)]
            Value::Other { .. } => "listpack",
        }
    }

    /// The string, or `None` if the value is of another type.
    pub fn as_string(&self) -> Option<&StringValue> {
        match self {
            Value::String(string) => Some(string),
            _ => None,
        }
    }

    pub fn as_string_mut(&mut self) -> Option<&mut StringValue> {
        match self {
            Value::String(string) => Some(string),
            _ => None,
        }
    }
}

/// A string value. It is kept as an immutable shared buffer until APPEND or
/// SETRANGE changes it; from then on it is a growable buffer with spare room,
/// so repeated appends cost amortised O(appended bytes).
#[derive(Debug, Clone)]
pub struct StringValue {
    repr: StringRepr,
}

#[derive(Debug, Clone)]
enum StringRepr {
    /// As a command stored it (SET, MSET, INCR, ...): OBJECT ENCODING decides
    /// from the content, as Redis's `tryObjectEncoding` does.
    Whole(Bytes),
    /// INCRBYFLOAT's result, which Redis never int-encodes.
    Float(Bytes),
    /// Changed in place by APPEND or SETRANGE (Redis's `raw`).
    Growable(Vec<u8>),
}

impl StringValue {
    /// A value from a command argument, which may be a slice of a
    /// connection's read buffer: small values are copied into their own
    /// allocation (see [`SMALL_VALUE_BYTES_MAX`]).
    pub fn from_arg(bytes: Bytes) -> StringValue {
        StringValue {
            repr: StringRepr::Whole(own_small(bytes)),
        }
    }

    /// A value the server formatted itself (an integer, say).
    pub fn from_owned(bytes: Vec<u8>) -> StringValue {
        StringValue {
            repr: StringRepr::Whole(Bytes::from(bytes)),
        }
    }

    /// INCRBYFLOAT's formatted result.
    pub fn from_float_text(text: String) -> StringValue {
        StringValue {
            repr: StringRepr::Float(Bytes::from(text)),
        }
    }

    /// A value of `len` zero bytes, ready to be changed in place (SETRANGE on
    /// a missing key).
    pub fn zeroed(len: usize) -> StringValue {
        StringValue {
            repr: StringRepr::Growable(vec![0; len]),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.repr {
            StringRepr::Whole(bytes) | StringRepr::Float(bytes) => bytes,
            StringRepr::Growable(buffer) => buffer,
        }
    }

    /// The value for a reply: free for a stored value, a copy for one that
    /// APPEND or SETRANGE changed.
    pub fn to_bytes(&self) -> Bytes {
        match &self.repr {
            StringRepr::Whole(bytes) | StringRepr::Float(bytes) => bytes.clone(),
            StringRepr::Growable(buffer) => Bytes::copy_from_slice(buffer),
        }
    }

    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held: the length, or the capacity of a growable buffer.
    pub fn memory_usage(&self) -> usize {
        match &self.repr {
            StringRepr::Whole(bytes) | StringRepr::Float(bytes) => bytes.len(),
            StringRepr::Growable(buffer) => buffer.capacity(),
        }
    }

    /// Appends `data` (APPEND).
    pub fn append(&mut self, data: &[u8]) {
        let buffer = self.make_growable(self.len() + data.len());
        buffer.extend_from_slice(data);
    }

    /// Writes `data` at `offset`, padding with zero bytes (SETRANGE).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        let end = offset + data.len();
        let buffer = self.make_growable(end);
        if buffer.len() < end {
            buffer.resize(end, 0);
        }
        buffer[offset..end].copy_from_slice(data);
    }

    /// What OBJECT ENCODING reports, as Redis 7 decides it.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            StringRepr::Whole(bytes) if bytes.len() <= 20 && parse_i64(bytes).is_some() => "int",
            StringRepr::Whole(bytes) | StringRepr::Float(bytes)
                if bytes.len() <= EMBSTR_BYTES_MAX =>
            {
                "embstr"
            }
            _ => "raw",
        }
    }

    /// Turns the value into a growable buffer with room for `needed` bytes,
    /// growing as Redis's `sdsMakeRoomFor` does.
    fn make_growable(&mut self, needed: usize) -> &mut Vec<u8> {
        if !matches!(self.repr, StringRepr::Growable(_)) {
            let mut buffer = Vec::with_capacity(grown_capacity(needed));
            buffer.extend_from_slice(self.as_bytes());
            self.repr = StringRepr::Growable(buffer);
        }
        let StringRepr::Growable(buffer) = &mut self.repr else {
            unreachable!("the value was made growable above");
        };
        if buffer.capacity() < needed {
            buffer.reserve_exact(grown_capacity(needed) - buffer.len());
        }
        buffer
    }
}

impl PartialEq for StringValue {
    fn eq(&self, other: &StringValue) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

fn grown_capacity(needed: usize) -> usize {
    if needed < GROWTH_STEP_BYTES_MAX {
        needed * 2
    } else {
        needed + GROWTH_STEP_BYTES_MAX
    }
}

fn own_small(bytes: Bytes) -> Bytes {
    if bytes.len() < SMALL_VALUE_BYTES_MAX {
        Bytes::copy_from_slice(&bytes)
    } else {
        bytes
    }
}

/// Parses an integer exactly as Redis's `string2ll`: an optional `-`, no
/// `+`, no spaces, no leading zeros, no `-0`, at most 20 characters.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'0'] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    if text.len() > 20 || digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut magnitude: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Absolute deadline in Unix milliseconds.
    pub expires_at_ms: Option<u64>,
}

impl Entry {
    /// An entry without a deadline.
    pub fn new(value: Value) -> Entry {
        Entry {
            value,
            expires_at_ms: None,
        }
    }

    fn is_live(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_none_or(|deadline| deadline > now_ms)
    }
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
    /// Keys that expired since the last [`Keyspace::take_expired`], while
    /// recording is on (replication streams them as DELs).
    expired_log: Option<Vec<Bytes>>,
    /// Keys some connection watches: their version and how many watch them.
    watched: HashMap<Bytes, WatchSlot>,
    /// Source of versions; bumped on every touch of a watched key.
    watch_clock: u64,
}

#[derive(Debug, Clone, Copy)]
struct WatchSlot {
    version: u64,
    watchers: u32,
}

/// What WATCH remembers of a key, to tell at EXEC whether it changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchToken {
    pub version: u64,
    /// The key was live when watched: its expiry since then counts as a change.
    pub existed: bool,
}

fn entry_cost(key: &[u8], entry: &Entry) -> usize {
    ENTRY_OVERHEAD_BYTES + key.len() + entry.value.memory_usage()
}

impl Keyspace {
    /// Keys stored, including expired keys not yet reclaimed (as DBSIZE
    /// counts them in Redis).
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

    /// What `key` and its value count for in the memory limit (MEMORY
    /// USAGE), or `None` when the key is absent or expired.
    pub fn memory_usage_of(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        self.get(key, now_ms).map(|entry| entry_cost(key, entry))
    }

    /// Recomputes [`Keyspace::used_memory_bytes`] from scratch by walking
    /// every key. O(keys): for tests and consistency checks.
    pub fn measure_used_memory_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|(key, entry)| entry_cost(key, entry))
            .sum()
    }

    /// Keys removed because their deadline passed, since start.
    pub fn expired_keys_total(&self) -> u64 {
        self.expired_keys_total
    }

    /// The earliest deadline of any key, reclaimed or not.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.deadlines.first().map(|(deadline, _)| *deadline)
    }

    /// The live entry for `key`; an expired one is deleted on the way (lazy expiry).
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let index = self.live_index(key, now_ms)?;
        self.entries.get_index(index).map(|(_, entry)| entry)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.live_index(key, now_ms).is_some()
    }

    /// The live entry for `key` through a shared borrow, so that a command
    /// can read several values at once (SINTER). An expired entry is hidden
    /// but not reclaimed: run [`Keyspace::get`] on each key first for that.
    pub fn peek(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.entries.get(key).filter(|entry| entry.is_live(now_ms))
    }

    /// Changes the live value of `key` in place and re-measures it. The
    /// deadline is left alone (use [`Keyspace::set_expiry`]). Returns `None`
    /// if the key is absent.
    pub fn modify<R>(
        &mut self,
        key: &[u8],
        now_ms: u64,
        change: impl FnOnce(&mut Value) -> R,
    ) -> Option<R> {
        self.modify_if(key, now_ms, |value| Some(change(value)))
            .flatten()
    }

    /// [`Keyspace::modify`] for a change that may decline (answer `None`,
    /// e.g. on a value of another type): a declined change must leave the
    /// value as it was, and touches no watch. `None` if the key is absent,
    /// `Some(None)` if the change declined.
    pub fn modify_if<R>(
        &mut self,
        key: &[u8],
        now_ms: u64,
        change: impl FnOnce(&mut Value) -> Option<R>,
    ) -> Option<Option<R>> {
        let index = self.live_index(key, now_ms)?;
        let (_, entry) = self.entries.get_index_mut(index)?;
        let size_before = entry.value.memory_usage();
        let result = change(&mut entry.value);
        let size_after = entry.value.memory_usage();
        self.used_memory_bytes = self.used_memory_bytes - size_before + size_after;
        if result.is_some() {
            self.touch(key);
        }
        Some(result)
    }

    /// Stores `entry` under `key`, replacing any value and deadline, and
    /// returns the previous live entry.
    pub fn insert(&mut self, key: Bytes, entry: Entry, now_ms: u64) -> Option<Entry> {
        self.touch(&key);
        let new_cost = entry_cost(&key, &entry);
        if let Some(index) = self.live_index(&key, now_ms) {
            let (stored_key, slot) = self
                .entries
                .get_index_mut(index)
                .expect("live_index returned an occupied position");
            let stored_key = stored_key.clone();
            let previous = std::mem::replace(slot, entry);
            let new_deadline = slot.expires_at_ms;
            self.used_memory_bytes =
                self.used_memory_bytes - entry_cost(&stored_key, &previous) + new_cost;
            if previous.expires_at_ms != new_deadline {
                if let Some(old) = previous.expires_at_ms {
                    self.deadlines.remove(&(old, stored_key.clone()));
                }
                if let Some(deadline) = new_deadline {
                    self.deadlines.insert((deadline, stored_key));
                }
            }
            return Some(previous);
        }
        // Keys arrive as slices of a connection's read buffer; copy them so a
        // stored key never pins that buffer's memory.
        let key = Bytes::copy_from_slice(&key);
        self.used_memory_bytes += new_cost;
        if let Some(deadline) = entry.expires_at_ms {
            self.deadlines.insert((deadline, key.clone()));
        }
        self.entries.insert(key, entry);
        None
    }

    /// Removes `key` and returns its live entry.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let index = self.live_index(key, now_ms)?;
        let (stored_key, entry) = self.entries.swap_remove_index(index)?;
        self.forget(&stored_key, &entry);
        self.touch(&stored_key);
        Some(entry)
    }

    /// Sets or clears `key`'s deadline. Returns false if the key is absent.
    /// A deadline at or before `now_ms` is stored as given; the key then
    /// expires on its next access or expiry cycle.
    pub fn set_expiry(&mut self, key: &[u8], expires_at_ms: Option<u64>, now_ms: u64) -> bool {
        let Some(index) = self.live_index(key, now_ms) else {
            return false;
        };
        let Some((stored_key, entry)) = self.entries.get_index_mut(index) else {
            return false;
        };
        if entry.expires_at_ms == expires_at_ms {
            return true;
        }
        if let Some(old) = entry.expires_at_ms {
            self.deadlines.remove(&(old, stored_key.clone()));
        }
        entry.expires_at_ms = expires_at_ms;
        if let Some(deadline) = expires_at_ms {
            self.deadlines.insert((deadline, stored_key.clone()));
        }
        let stored_key = stored_key.clone();
        self.touch(&stored_key);
        true
    }

    /// Starts watching `key` for one more connection.
    pub fn watch(&mut self, key: &Bytes, now_ms: u64) -> WatchToken {
        let existed = self.peek(key, now_ms).is_some();
        let clock = self.watch_clock;
        let slot = self.watched.entry(key.clone()).or_insert(WatchSlot {
            version: clock,
            watchers: 0,
        });
        slot.watchers += 1;
        WatchToken {
            version: slot.version,
            existed,
        }
    }

    /// Stops one connection's watch of `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(slot) = self.watched.get_mut(key) {
            slot.watchers = slot.watchers.saturating_sub(1);
            if slot.watchers == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// Whether `key` is unchanged since WATCH gave `token`.
    pub fn watch_holds(&self, key: &[u8], token: WatchToken, now_ms: u64) -> bool {
        let untouched = self
            .watched
            .get(key)
            .is_some_and(|slot| slot.version == token.version);
        untouched && !(token.existed && self.peek(key, now_ms).is_none())
    }

    /// Records that a command changed `key`, for the connections watching it.
    pub fn touch(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(slot) = self.watched.get_mut(key) {
            self.watch_clock += 1;
            slot.version = self.watch_clock;
        }
    }

    /// Whether any connection watches a key here.
    pub fn has_watchers(&self) -> bool {
        !self.watched.is_empty()
    }

    fn touch_all_watched(&mut self) {
        for slot in self.watched.values_mut() {
            self.watch_clock += 1;
            slot.version = self.watch_clock;
        }
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        self.touch_all_watched();
        self.entries = KeyMap::default();
        self.deadlines.clear();
        self.used_memory_bytes = 0;
    }

    /// Deletes up to `budget` keys whose deadline is at or before `now_ms`,
    /// earliest first. Returns how many it deleted. See the module
    /// documentation for the intended call pattern.
    pub fn expire_due(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut deleted = 0;
        while deleted < budget {
            let Some((deadline, key)) = self.deadlines.first() else {
                break;
            };
            if *deadline > now_ms {
                break;
            }
            let key = key.clone();
            self.delete_expired(&key);
            deleted += 1;
        }
        deleted
    }

    /// Starts (or stops) recording every key that expires, lazily or
    /// actively, for [`Keyspace::take_expired`].
    pub fn record_expired(&mut self, on: bool) {
        self.expired_log = on.then(Vec::new);
    }

    /// The keys that expired since the last call, in order (empty when not
    /// recording).
    pub fn take_expired(&mut self) -> Vec<Bytes> {
        match &mut self.expired_log {
            Some(log) if !log.is_empty() => std::mem::take(log),
            _ => Vec::new(),
        }
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
            if let Some((key, entry)) = self.entries.get_index((next - 1) as usize) {
                if entry.is_live(now_ms) {
                    visit(key, entry);
                }
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
            .filter(move |(_, entry)| entry.is_live(now_ms))
    }

    /// The position of `key` if it is live; an expired key is deleted on the
    /// way. One hash lookup either way.
    fn live_index(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        let (index, _, entry) = self.entries.get_full(key)?;
        if entry.is_live(now_ms) {
            return Some(index);
        }
        if let Some((stored_key, entry)) = self.entries.swap_remove_index(index) {
            self.forget(&stored_key, &entry);
            self.expired_keys_total += 1;
            self.touch(&stored_key);
            if let Some(log) = &mut self.expired_log {
                log.push(stored_key);
            }
        }
        None
    }

    fn delete_expired(&mut self, key: &[u8]) {
        if let Some((stored_key, entry)) = self.entries.swap_remove_entry(key) {
            self.forget(&stored_key, &entry);
            self.expired_keys_total += 1;
            self.touch(&stored_key);
            if let Some(log) = &mut self.expired_log {
                log.push(stored_key);
            }
        }
    }

    /// Drops the bookkeeping of an entry that left the map.
    fn forget(&mut self, key: &Bytes, entry: &Entry) {
        self.used_memory_bytes -= entry_cost(key, entry);
        if let Some(deadline) = entry.expires_at_ms {
            self.deadlines.remove(&(deadline, key.clone()));
        }
    }
}
