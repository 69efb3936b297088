//! Set values: members in insertion order so SSCAN's cursor stays valid.

use bytes::Bytes;
use indexmap::IndexSet;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetValue {
    pub members: IndexSet<Bytes, foldhash::fast::RandomState>,
}

impl SetValue {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn memory_usage(&self) -> usize {
        self.members.iter().map(|member| member.len() + 16).sum()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
