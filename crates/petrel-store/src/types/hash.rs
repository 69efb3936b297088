//! Hash values: field → value in insertion order, so that HSCAN's cursor
//! stays valid while fields come and go, with a running byte count so that
//! measuring a hash after every change is O(1).
//!
//! This module owns the data structure, its memory accounting and what
//! OBJECT ENCODING reports. Every change goes through a method here, so the
//! byte count cannot drift from the fields. The commands live in
//! `family/hash.rs`; nothing here knows about replies or keys.

use std::mem::size_of;

use bytes::Bytes;
use indexmap::IndexMap;

use crate::keyspace::{Value, SMALL_VALUE_BYTES_MAX};

/// Redis's `hash-max-listpack-entries` default: a hash with more fields is
/// a `hashtable`.
pub const LISTPACK_ENTRIES_MAX: usize = 128;
/// Redis's `hash-max-listpack-value` default: a hash with a longer field or
/// value is a `hashtable`.
pub const LISTPACK_VALUE_BYTES_MAX: usize = 64;

/// What one slot of the table costs besides the bytes of its field and
/// value: two `Bytes` handles, the cached hash and the index entry.
const SLOT_BYTES: usize = 2 * size_of::<Bytes>() + 2 * size_of::<usize>();

/// Tables at most this large are never shrunk: not worth a rehash.
const SHRINK_CAPACITY_MIN: usize = 64;

type FieldMap = IndexMap<Bytes, Bytes, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Default)]
pub struct HashValue {
    fields: FieldMap,
    /// Sum of the lengths of every field and value.
    content_bytes: usize,
    /// Whether the hash ever outgrew the listpack limits. As in Redis, a
    /// hash never converts back, so this is not recomputed on removal.
    hashtable: bool,
}

impl HashValue {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn get(&self, field: &[u8]) -> Option<&Bytes> {
        self.fields.get(field)
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.fields.contains_key(field)
    }

    /// The field and value at `index` in insertion order (as moved by
    /// removals), for random picks and scans.
    pub fn get_index(&self, index: usize) -> Option<(&Bytes, &Bytes)> {
        self.fields.get_index(index)
    }

    /// Every field and value, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.fields.iter()
    }

    /// Sets `field` to a copy of the command argument `value` (see
    /// [`own_small`]). Returns true if the field is new.
    pub fn insert(&mut self, field: &Bytes, value: &Bytes) -> bool {
        self.insert_owned(field, own_small(value))
    }

    /// Sets `field` to `value` as given: a value the server made itself,
    /// which pins no connection buffer. Returns true if the field is new.
    pub fn insert_owned(&mut self, field: &Bytes, value: Bytes) -> bool {
        self.note_lengths(field.len(), value.len());
        let value_len = value.len();
        if let Some(slot) = self.fields.get_mut(field.as_ref()) {
            self.content_bytes = self.content_bytes - slot.len() + value_len;
            *slot = value;
            return false;
        }
        self.content_bytes += field.len() + value_len;
        self.fields.insert(own_small(field), value);
        if self.fields.len() > LISTPACK_ENTRIES_MAX {
            self.hashtable = true;
        }
        true
    }

    /// Removes `field` and returns its value. The last field moves into
    /// the hole, so fields only ever move towards the front (see
    /// [`HashValue::scan`]).
    pub fn remove(&mut self, field: &[u8]) -> Option<Bytes> {
        let (field, value) = self.fields.swap_remove_entry(field)?;
        self.content_bytes -= field.len() + value.len();
        self.shrink_if_sparse();
        Some(value)
    }

    /// Bytes this hash accounts for: its fields and values and its table.
    pub fn memory_usage(&self) -> usize {
        self.content_bytes + self.fields.capacity() * SLOT_BYTES
    }

    /// What OBJECT ENCODING reports, as Redis 7.0 decides it with its
    /// default limits.
    pub fn encoding(&self) -> &'static str {
        if self.hashtable {
            "hashtable"
        } else {
            "listpack"
        }
    }

    /// Whether Redis would keep this hash as one listpack, which its scans
    /// return whole in a single call whatever COUNT says.
    pub fn is_compact(&self) -> bool {
        !self.hashtable
    }

    /// Visits up to `count` positions starting at `cursor` and walking
    /// towards the front, as [`crate::Keyspace::scan`] does for keys: cursor
    /// 0 starts, the returned cursor is 0 at the end, and a field present
    /// for the whole scan is visited at least once.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&Bytes, &Bytes)) -> u64 {
        let len = self.fields.len() as u64;
        let mut next = if cursor == 0 { len } else { cursor.min(len) };
        let mut visited = 0;
        while next > 0 && visited < count.max(1) {
            if let Some((field, value)) = self.fields.get_index((next - 1) as usize) {
                visit(field, value);
            }
            next -= 1;
            visited += 1;
        }
        next
    }

    fn note_lengths(&mut self, field_len: usize, value_len: usize) {
        if field_len > LISTPACK_VALUE_BYTES_MAX || value_len > LISTPACK_VALUE_BYTES_MAX {
            self.hashtable = true;
        }
    }

    /// Gives memory back once most of the table is empty, as Redis resizes
    /// a dict that fell below a tenth full. Amortised O(1): a shrink to
    /// twice the length follows at least as many removals.
    fn shrink_if_sparse(&mut self) {
        let capacity = self.fields.capacity();
        if capacity > SHRINK_CAPACITY_MIN && self.fields.len() * 8 < capacity {
            self.fields.shrink_to(self.fields.len() * 2);
        }
    }
}

impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.fields == other.fields
    }
}

/// A command argument to keep: small ones are copied out of the
/// connection's read buffer so that a stored field never pins the whole
/// buffer; large ones keep the slice, as string values do.
pub fn own_small(bytes: &Bytes) -> Bytes {
    if bytes.len() < SMALL_VALUE_BYTES_MAX {
        Bytes::copy_from_slice(bytes)
    } else {
        bytes.clone()
    }
}

impl Value {
    /// The hash, or `None` if the value is of another type.
    pub fn as_hash(&self) -> Option<&HashValue> {
        match self {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut HashValue> {
        match self {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }
}
