//! The replication backlog: the last bytes of the command stream, with their
//! offsets, so a replica that lost its link for a short while resumes with
//! `+CONTINUE` instead of a full sync.
//!
//! Offsets follow Redis: the stream's bytes are numbered from 1, the
//! "master offset" is the number of bytes produced so far, and a replica's
//! PSYNC names the offset of the next byte it needs (its own offset + 1).

use std::collections::VecDeque;

/// A ring of the newest `capacity_bytes` bytes of the stream.
#[derive(Debug, Clone)]
pub struct Backlog {
    bytes: VecDeque<u8>,
    capacity_bytes: usize,
    /// Bytes produced since the stream began (Redis's master_repl_offset).
    offset: u64,
}

impl Backlog {
    /// An empty backlog holding at most `capacity_bytes`, whose stream
    /// continues after `offset` bytes.
    pub fn new(capacity_bytes: usize, offset: u64) -> Backlog {
        Backlog {
            bytes: VecDeque::new(),
            capacity_bytes: capacity_bytes.max(1),
            offset,
        }
    }

    /// Bytes produced so far (the offset of the newest byte).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The offset of the oldest byte held (`offset() + 1` when empty).
    pub fn first_offset(&self) -> u64 {
        self.offset + 1 - self.bytes.len() as u64
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }

    /// Appends stream bytes, dropping the oldest beyond the capacity.
    pub fn append(&mut self, data: &[u8]) {
        self.offset += data.len() as u64;
        if data.len() >= self.capacity_bytes {
            self.bytes.clear();
            self.bytes.extend(&data[data.len() - self.capacity_bytes..]);
            return;
        }
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.capacity_bytes);
        self.bytes.drain(..overflow);
        self.bytes.extend(data);
    }

    /// Whether a replica asking for the byte at `next_offset` can continue
    /// from here: every byte from there on is still held.
    pub fn covers(&self, next_offset: u64) -> bool {
        next_offset >= self.first_offset() && next_offset <= self.offset + 1
    }

    /// The bytes from `next_offset` to the newest, at most `max_bytes` of
    /// them, or `None` if they are no longer (or not yet) held.
    pub fn read_from(&self, next_offset: u64, max_bytes: usize) -> Option<Vec<u8>> {
        if !self.covers(next_offset) {
            return None;
        }
        let skip = (next_offset - self.first_offset()) as usize;
        Some(
            self.bytes
                .iter()
                .skip(skip)
                .take(max_bytes)
                .copied()
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Offsets count every byte ever appended; once the ring overflows, the
    // oldest bytes are gone and asking for them fails, while the newest
    // can still be read from any offset still held.
    #[test]
    fn offsets_and_overflow() {
        let mut backlog = Backlog::new(8, 100);
        assert!(backlog.covers(101));
        assert_eq!(backlog.read_from(101, 100), Some(Vec::new()));
        backlog.append(b"abcdef");
        assert_eq!(backlog.offset(), 106);
        assert_eq!(backlog.read_from(101, 100).as_deref(), Some(&b"abcdef"[..]));
        assert_eq!(backlog.read_from(104, 2).as_deref(), Some(&b"de"[..]));
        backlog.append(b"ghij");
        assert_eq!(backlog.offset(), 110);
        assert_eq!(backlog.first_offset(), 103);
        assert!(!backlog.covers(102));
        assert_eq!(backlog.read_from(102, 100), None);
        assert_eq!(
            backlog.read_from(103, 100).as_deref(),
            Some(&b"cdefghij"[..])
        );
        assert_eq!(backlog.read_from(112, 100), None);
        backlog.append(b"0123456789");
        assert_eq!(
            backlog.read_from(113, 100).as_deref(),
            Some(&b"23456789"[..])
        );
    }
}
