//! Set values: members in insertion order, so that SSCAN's cursor stays
//! valid while members come and go, with a running byte count so that
//! measuring a set after every change is O(1).
//!
//! This module owns the data structure, its memory accounting and what
//! OBJECT ENCODING reports. Every change goes through a method here, so the
//! byte count cannot drift from the members. The commands live in
//! `family/set.rs`; nothing here knows about replies or keys.

use std::mem::size_of;

use bytes::Bytes;
use indexmap::IndexSet;

use crate::keyspace::{parse_i64, Value};
use crate::types::hash::own_small;

/// Redis's `set-max-intset-entries` default: a set of integers with more
/// members is a `hashtable`.
pub const INTSET_ENTRIES_MAX: usize = 512;

/// What one slot of the table costs besides the member's bytes: the
/// `Bytes` handle, the cached hash and the index entry.
const SLOT_BYTES: usize = size_of::<Bytes>() + 2 * size_of::<usize>();

/// Tables at most this large are never shrunk: not worth a rehash.
const SHRINK_CAPACITY_MIN: usize = 64;

type MemberSet = IndexSet<Bytes, foldhash::fast::RandomState>;

#[derive(Debug, Clone, Default)]
pub struct SetValue {
    members: MemberSet,
    /// Sum of the lengths of every member.
    content_bytes: usize,
    /// Whether the set ever held a non-integer or too many members. As in
    /// Redis, a set never converts back to an intset.
    hashtable: bool,
}

impl SetValue {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.contains(member)
    }

    /// The member at `index` in insertion order (as moved by removals), for
    /// random picks and scans.
    pub fn get_index(&self, index: usize) -> Option<&Bytes> {
        self.members.get_index(index)
    }

    /// Every member, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.members.iter()
    }

    /// Adds a copy of the command argument `member` (see [`own_small`]).
    /// Returns true if it is new.
    pub fn insert(&mut self, member: &Bytes) -> bool {
        if self.members.contains(member.as_ref()) {
            return false;
        }
        self.insert_shared(own_small(member))
    }

    /// Adds `member` as given: one already owned by another stored value
    /// (a set operation's result). Returns true if it is new.
    pub fn insert_shared(&mut self, member: Bytes) -> bool {
        let len = member.len();
        if !self.hashtable && (len > 20 || parse_i64(&member).is_none()) {
            self.hashtable = true;
        }
        if !self.members.insert(member) {
            return false;
        }
        self.content_bytes += len;
        if self.members.len() > INTSET_ENTRIES_MAX {
            self.hashtable = true;
        }
        true
    }

    /// Removes `member`; the last member moves into the hole, so members
    /// only ever move towards the front (see [`SetValue::scan`]).
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self.members.swap_take(member) {
            Some(removed) => {
                self.content_bytes -= removed.len();
                self.shrink_if_sparse();
                true
            }
            None => false,
        }
    }

    /// Removes and returns the member at `index` (SPOP).
    pub fn remove_index(&mut self, index: usize) -> Option<Bytes> {
        let removed = self.members.swap_remove_index(index)?;
        self.content_bytes -= removed.len();
        self.shrink_if_sparse();
        Some(removed)
    }

    /// Bytes this set accounts for: its members and its table.
    pub fn memory_usage(&self) -> usize {
        self.content_bytes + self.members.capacity() * SLOT_BYTES
    }

    /// What OBJECT ENCODING reports, as Redis 7.0 decides it with its
    /// default limits: `intset` for a small set of integers.
    pub fn encoding(&self) -> &'static str {
        if self.hashtable {
            "hashtable"
        } else {
            "intset"
        }
    }

    /// Whether Redis would keep this set as an intset, which its scans
    /// return whole in a single call whatever COUNT says.
    pub fn is_compact(&self) -> bool {
        !self.hashtable
    }

    /// Visits up to `count` positions starting at `cursor` and walking
    /// towards the front, as [`crate::Keyspace::scan`] does for keys: cursor
    /// 0 starts, the returned cursor is 0 at the end, and a member present
    /// for the whole scan is visited at least once.
    pub fn scan(&self, cursor: u64, count: usize, mut visit: impl FnMut(&Bytes)) -> u64 {
        let len = self.members.len() as u64;
        let mut next = if cursor == 0 { len } else { cursor.min(len) };
        let mut visited = 0;
        while next > 0 && visited < count.max(1) {
            if let Some(member) = self.members.get_index((next - 1) as usize) {
                visit(member);
            }
            next -= 1;
            visited += 1;
        }
        next
    }

    /// Gives memory back once most of the table is empty, as Redis resizes
    /// a dict that fell below a tenth full. Amortised O(1): a shrink to
    /// twice the length follows at least as many removals.
    fn shrink_if_sparse(&mut self) {
        let capacity = self.members.capacity();
        if capacity > SHRINK_CAPACITY_MIN && self.members.len() * 8 < capacity {
            self.members.shrink_to(self.members.len() * 2);
        }
    }
}

impl PartialEq for SetValue {
    fn eq(&self, other: &SetValue) -> bool {
        self.members == other.members
    }
}

impl FromIterator<Bytes> for SetValue {
    /// A set of members already owned by stored values (see
    /// [`SetValue::insert_shared`]).
    fn from_iter<I: IntoIterator<Item = Bytes>>(members: I) -> SetValue {
        let mut set = SetValue::default();
        for member in members {
            set.insert_shared(member);
        }
        set
    }
}

impl Value {
    /// The set, or `None` if the value is of another type.
    pub fn as_set(&self) -> Option<&SetValue> {
        match self {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }

    pub fn as_set_mut(&mut self) -> Option<&mut SetValue> {
        match self {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }
}
