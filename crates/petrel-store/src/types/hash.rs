//! Hash values: field → value, in insertion order so HSCAN's cursor stays valid.

use bytes::Bytes;
use indexmap::IndexMap;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct HashValue {
    pub fields: IndexMap<Bytes, Bytes, foldhash::fast::RandomState>,
}

impl HashValue {
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn memory_usage(&self) -> usize {
        self.fields.iter().map(|(field, value)| field.len() + value.len() + 16).sum()
    }

    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
}
