//! List values: a double-ended queue of elements with a running byte count.
//!
//! Pushes and pops at either end are O(1), reading or replacing an element
//! by index is O(1), and inserting or removing in the middle is O(n), as in
//! Redis's quicklist. [`ListValue::memory_usage`] is O(1): the keyspace calls
//! it after every change, so the count is kept up to date by every mutator
//! here, and the elements are private so nothing can change them behind its
//! back. This module knows nothing of commands or replies.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::keyspace::SMALL_VALUE_BYTES_MAX;

/// Bytes each element costs beyond its own length: the slot in the deque and
/// the shared buffer's header, rounded as the allocator would.
pub const LIST_ELEMENT_OVERHEAD_BYTES: usize = 16;

/// A command argument as it should be stored: small ones are copied out of
/// the connection's read buffer so a stored element never pins that buffer,
/// large ones keep the slice (as [`crate::keyspace::StringValue::from_arg`]).
pub fn owned_element(bytes: Bytes) -> Bytes {
    if bytes.len() < SMALL_VALUE_BYTES_MAX {
        Bytes::copy_from_slice(&bytes)
    } else {
        bytes
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT` or `RIGHT`, in any case, as LMOVE and BLMOVE take them.
    pub fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListValue {
    items: VecDeque<Bytes>,
    /// Sum over the elements of their length plus the per-element overhead.
    memory_bytes: usize,
}

fn element_cost(element: &[u8]) -> usize {
    element.len() + LIST_ELEMENT_OVERHEAD_BYTES
}

impl ListValue {
    pub fn new() -> ListValue {
        ListValue::default()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Bytes this list accounts for; O(1).
    pub fn memory_usage(&self) -> usize {
        self.memory_bytes
    }

    /// What OBJECT ENCODING reports: Redis 7.0 keeps every list in a quicklist.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    pub fn push(&mut self, end: End, element: Bytes) {
        self.memory_bytes += element_cost(&element);
        match end {
            End::Left => self.items.push_front(element),
            End::Right => self.items.push_back(element),
        }
    }

    pub fn pop(&mut self, end: End) -> Option<Bytes> {
        let element = match end {
            End::Left => self.items.pop_front(),
            End::Right => self.items.pop_back(),
        }?;
        self.memory_bytes -= element_cost(&element);
        Some(element)
    }

    /// The element at `index` counted from the left.
    pub fn get(&self, index: usize) -> Option<&Bytes> {
        self.items.get(index)
    }

    /// Replaces the element at `index`; false if there is none.
    pub fn set(&mut self, index: usize, element: Bytes) -> bool {
        let Some(slot) = self.items.get_mut(index) else {
            return false;
        };
        self.memory_bytes = self.memory_bytes - element_cost(slot) + element_cost(&element);
        *slot = element;
        true
    }

    /// Inserts `element` so that it ends up at `index` (0..=len).
    pub fn insert(&mut self, index: usize, element: Bytes) {
        self.memory_bytes += element_cost(&element);
        self.items.insert(index, element);
    }

    /// Elements from the left.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Bytes> + ExactSizeIterator {
        self.items.iter()
    }

    /// Elements `start..=end` (left-based, within bounds).
    pub fn range(&self, start: usize, end: usize) -> impl DoubleEndedIterator<Item = &Bytes> {
        self.items.range(start..=end)
    }

    /// Keeps only the elements `start..=end`; an empty range empties the list.
    pub fn keep_range(&mut self, start: usize, end: usize) {
        if start > end || start >= self.items.len() {
            self.items.clear();
            self.memory_bytes = 0;
            return;
        }
        let end = end.min(self.items.len() - 1);
        for element in self.items.drain(end + 1..) {
            self.memory_bytes -= element_cost(&element);
        }
        for element in self.items.drain(..start) {
            self.memory_bytes -= element_cost(&element);
        }
    }

    /// Removes up to `limit` elements equal to `element` (every one if
    /// `limit` is `None`), scanning from `from`. Returns how many went.
    pub fn remove_matching(&mut self, element: &[u8], limit: Option<u64>, from: End) -> u64 {
        let mut removed = 0u64;
        let mut freed = 0;
        let mut keep = |item: &Bytes| {
            if limit.is_none_or(|limit| removed < limit) && item.as_ref() == element {
                removed += 1;
                freed += element_cost(item);
                false
            } else {
                true
            }
        };
        match from {
            End::Left => self.items.retain(keep),
            End::Right => {
                // retain visits from the left; decide right to left first.
                let verdicts: Vec<bool> = self.items.iter().rev().map(&mut keep).collect();
                let mut verdicts = verdicts.into_iter().rev();
                self.items.retain(|_| verdicts.next().unwrap_or(true));
            }
        }
        self.memory_bytes -= freed;
        removed
    }
}

impl PartialEq for ListValue {
    fn eq(&self, other: &ListValue) -> bool {
        self.items == other.items
    }
}

impl FromIterator<Bytes> for ListValue {
    fn from_iter<I: IntoIterator<Item = Bytes>>(elements: I) -> ListValue {
        let mut list = ListValue::new();
        for element in elements {
            list.push(End::Right, element);
        }
        list
    }
}
