//! One shard's part of a full-sync snapshot, taken in chunks while writes
//! go on, holding every key exactly once as it was at the cut.
//!
//! The cut is the moment [`ShardSnapshot::new`] is called (the engine puts
//! a marker in the shard's write stream at the same point). After it:
//! - [`ShardSnapshot::before_write`] must run before every write, with the
//!   keys the write touches: a key the chunks have not reached yet is
//!   serialized first with its value from before the write (Dragonfly's
//!   scheme), or remembered as absent at the cut;
//! - [`ShardSnapshot::next_chunk`] serializes a bounded number of keys,
//!   walking the keyspace with its scan cursor and skipping every key
//!   already serialized or written since the cut.
//!
//! Every key serialized is remembered until the snapshot ends, so a key
//! the scan visits twice (entries move when others are removed) is written
//! once. A write that names no keys (FLUSHDB) cannot be tracked:
//! [`ShardSnapshot::abort`] and start again.

use std::collections::HashSet;

use bytes::Bytes;
use petrel_store::Keyspace;

use crate::rdb::encode_entry;

/// Encoded RDB entries (see [`encode_entry`]) and how many keys they hold.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    pub entries: Vec<u8>,
    pub keys: u64,
    /// No key is left: the snapshot is complete.
    pub done: bool,
}

#[derive(Debug, Default)]
pub struct ShardSnapshot {
    cursor: u64,
    scan_started: bool,
    emitted: HashSet<Bytes>,
    pending: Vec<u8>,
    pending_keys: u64,
    aborted: bool,
}

impl ShardSnapshot {
    /// A snapshot cut now.
    pub fn new() -> ShardSnapshot {
        ShardSnapshot::default()
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// Gives up: a write the snapshot cannot follow ran.
    pub fn abort(&mut self) {
        self.aborted = true;
        self.emitted = HashSet::new();
        self.pending = Vec::new();
        self.pending_keys = 0;
    }

    /// Call before a write touching `keys` runs on `keyspace`.
    pub fn before_write<'a>(
        &mut self,
        keyspace: &Keyspace,
        keys: impl IntoIterator<Item = &'a [u8]>,
        now_ms: u64,
    ) {
        if self.aborted {
            return;
        }
        for key in keys {
            if self.emitted.contains(key) {
                continue;
            }
            // Keys arrive as slices of a read buffer: keep a copy.
            let key = Bytes::copy_from_slice(key);
            if let Some(entry) = keyspace.peek(&key, now_ms) {
                encode_entry(&mut self.pending, &key, entry);
                self.pending_keys += 1;
            }
            self.emitted.insert(key);
        }
    }

    /// The next part: old values saved by writes, then up to `keys_max`
    /// positions of the keyspace (fewer once `bytes_max` is reached).
    pub fn next_chunk(
        &mut self,
        keyspace: &Keyspace,
        now_ms: u64,
        keys_max: usize,
        bytes_max: usize,
    ) -> Chunk {
        let mut chunk = Chunk {
            entries: std::mem::take(&mut self.pending),
            keys: std::mem::take(&mut self.pending_keys),
            done: false,
        };
        if self.aborted {
            return chunk;
        }
        let mut visited = 0;
        while visited < keys_max && chunk.entries.len() < bytes_max {
            if self.scan_started && self.cursor == 0 {
                break;
            }
            self.scan_started = true;
            let budget = (keys_max - visited).min(64);
            let emitted = &mut self.emitted;
            let entries = &mut chunk.entries;
            let keys = &mut chunk.keys;
            self.cursor = keyspace.scan(self.cursor, budget, now_ms, |key, entry| {
                if emitted.insert(key.clone()) {
                    encode_entry(entries, key, entry);
                    *keys += 1;
                }
            });
            visited += budget;
        }
        chunk.done = self.scan_started && self.cursor == 0;
        chunk
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use petrel_store::keyspace::StringValue;
    use petrel_store::{Entry, Value};

    use super::*;
    use crate::rdb::RdbWriter;
    use crate::{RdbItem, RdbReader};

    fn string(text: &str) -> Entry {
        Entry::new(Value::String(StringValue::from_owned(
            text.as_bytes().to_vec(),
        )))
    }

    fn state(keyspace: &Keyspace) -> BTreeMap<Vec<u8>, Vec<u8>> {
        keyspace
            .iter_live(0)
            .map(|(key, entry)| {
                let value = entry
                    .value
                    .as_string()
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default();
                (key.to_vec(), value)
            })
            .collect()
    }

    fn decode(entries: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut writer = RdbWriter::new();
        writer.put_encoded(entries);
        let payload = writer.finish();
        let mut reader = RdbReader::new(&payload).expect("header");
        let mut out = Vec::new();
        while let Some(item) = reader.next_item().expect("valid") {
            if let RdbItem::Entry { key, entry, .. } = item {
                let value = entry
                    .value
                    .as_string()
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default();
                out.push((key.to_vec(), value));
            }
        }
        out
    }

    // Writes interleaved with chunks (overwrites of keys before and after
    // the scan reached them, deletes that move entries around, new keys):
    // the snapshot holds exactly the keyspace as it was at the cut, each
    // key once.
    #[test]
    fn chunks_with_writes_in_between_give_the_state_at_the_cut() {
        let mut keyspace = Keyspace::default();
        for i in 0..1000 {
            keyspace.insert(Bytes::from(format!("k{i}")), string(&format!("v{i}")), 0);
        }
        let at_cut = state(&keyspace);
        let mut snapshot = ShardSnapshot::new();
        let mut serialized = Vec::new();
        let mut step = 0u64;
        loop {
            let chunk = snapshot.next_chunk(&keyspace, 0, 37, usize::MAX);
            serialized.extend(decode(&chunk.entries));
            if chunk.done {
                break;
            }
            // Some writes between chunks, as clients would make them.
            for _ in 0..11 {
                step += 1;
                let key = format!("k{}", (step * 7919) % 1200);
                snapshot.before_write(&keyspace, [key.as_bytes()], 0);
                if step.is_multiple_of(3) {
                    keyspace.remove(key.as_bytes(), 0);
                } else {
                    keyspace.insert(Bytes::from(key), string(&format!("new{step}")), 0);
                }
            }
        }
        let final_chunk = snapshot.next_chunk(&keyspace, 0, 37, usize::MAX);
        assert!(final_chunk.done && final_chunk.keys == 0);
        let mut seen = BTreeMap::new();
        for (key, value) in serialized {
            assert!(
                seen.insert(key.clone(), value).is_none(),
                "{key:?} serialized twice"
            );
        }
        assert_eq!(seen, at_cut);
    }

    // A keyless write aborts; the next chunk says nothing more will come
    // from this snapshot and keeps nothing.
    #[test]
    fn abort_drops_the_snapshot() {
        let mut keyspace = Keyspace::default();
        keyspace.insert(Bytes::from("a"), string("1"), 0);
        let mut snapshot = ShardSnapshot::new();
        snapshot.before_write(&keyspace, [&b"a"[..]], 0);
        snapshot.abort();
        assert!(snapshot.is_aborted());
        let chunk = snapshot.next_chunk(&keyspace, 0, 100, usize::MAX);
        assert_eq!(chunk, Chunk::default());
    }
}
