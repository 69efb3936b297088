//! Sorted set values: member → score, plus an order by (score, member).

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

/// A score with the total order Redis uses (scores are never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(pub f64);

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSetValue {
    pub scores: HashMap<Bytes, f64>,
    pub order: BTreeSet<(Score, Bytes)>,
}

impl ZSetValue {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub fn memory_usage(&self) -> usize {
        self.scores.keys().map(|member| 2 * member.len() + 48).sum()
    }

    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }
}
