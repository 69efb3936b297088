//! List values: a double-ended queue of elements.

use std::collections::VecDeque;

use bytes::Bytes;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListValue {
    pub items: VecDeque<Bytes>,
}

impl ListValue {
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn memory_usage(&self) -> usize {
        self.items.iter().map(|item| item.len() + 16).sum()
    }

    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
}
