//! The outgoing side of rustls's unbuffered API: the caller owns the buffer
//! that records are written into, and grows it when rustls says how much
//! room it needs. The server's TLS sessions and the load generator's client
//! sessions both send from a [`RecordBuffer`], and encrypt replies or
//! requests made of several pieces through a [`RecordStaging`].
//!
//! It must not do I/O or drive a connection's state machine; it only holds
//! ciphertext until the caller sends it.

#![forbid(unsafe_code)]

use rustls::unbuffered::{EncodeError, EncryptError};

/// Largest plaintext rustls puts in one record.
pub const MAX_FRAGMENT_BYTES: usize = 16 * 1024;
/// Per-record room beyond the plaintext: header, tag, content type and
/// TLS 1.2's explicit nonce, rounded up.
const RECORD_OVERHEAD_BYTES: usize = 64;
/// Room for handshake messages rustls queues on its own (a KeyUpdate).
const QUEUED_MESSAGE_BYTES: usize = 256;

/// Ciphertext on its way to the socket. The vector stays initialised to its
/// full length, so rustls writes into its tail without a fill per call.
#[derive(Debug, Default)]
pub struct RecordBuffer {
    buffer: Vec<u8>,
    filled: usize,
}

impl RecordBuffer {
    /// Makes room for the records of `plaintext_len` bytes, so encrypting
    /// them takes one call.
    pub fn reserve_for_plaintext(&mut self, plaintext_len: usize) {
        let records = plaintext_len / MAX_FRAGMENT_BYTES + 1;
        self.ensure_tail(plaintext_len + records * RECORD_OVERHEAD_BYTES + QUEUED_MESSAGE_BYTES);
    }

    /// Lets rustls encode a handshake message or alert into the tail.
    pub fn append_encoded(
        &mut self,
        encode: impl FnMut(&mut [u8]) -> Result<usize, EncodeError>,
    ) -> Result<(), EncodeError> {
        self.append_with(encode, |error| match error {
            EncodeError::InsufficientSize(size) => Some(size.required_size),
            _ => None,
        })
    }

    /// Lets rustls encrypt records (or a close_notify) into the tail.
    pub fn append_encrypted(
        &mut self,
        encrypt: impl FnMut(&mut [u8]) -> Result<usize, EncryptError>,
    ) -> Result<(), EncryptError> {
        self.append_with(encrypt, |error| match error {
            EncryptError::InsufficientSize(size) => Some(size.required_size),
            _ => None,
        })
    }

    /// Bytes waiting to be sent.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// The ciphertext to send, as a buffer and its filled length; hand the
    /// buffer back with [`RecordBuffer::give_back`] once it went out.
    pub fn take(&mut self) -> Option<(Vec<u8>, usize)> {
        if self.filled == 0 {
            return None;
        }
        let filled = std::mem::replace(&mut self.filled, 0);
        Some((std::mem::take(&mut self.buffer), filled))
    }

    /// Returns the buffer [`RecordBuffer::take`] lent, to be reused.
    pub fn give_back(&mut self, buffer: Vec<u8>) {
        if self.buffer.is_empty() {
            self.buffer = buffer;
        }
    }

    fn ensure_tail(&mut self, bytes: usize) {
        let needed = self.filled + bytes;
        if self.buffer.len() < needed {
            self.buffer.resize(needed.max(self.buffer.len() * 2), 0);
        }
    }

    /// Lets rustls write into the tail, growing it whenever rustls says how
    /// much room it needs (`required` reads that from its error, counted
    /// from the tail's start), then keeps what it wrote.
    fn append_with<E>(
        &mut self,
        mut write: impl FnMut(&mut [u8]) -> Result<usize, E>,
        required: impl Fn(&E) -> Option<usize>,
    ) -> Result<(), E> {
        loop {
            match write(&mut self.buffer[self.filled..]) {
                Ok(written) => {
                    self.filled += written;
                    return Ok(());
                }
                Err(error) => match required(&error) {
                    Some(bytes) => self.ensure_tail(bytes),
                    None => return Err(error),
                },
            }
        }
    }
}

/// Gathers the bytes of several pieces that share a record, so pieces are
/// encrypted into the records one contiguous buffer would make: full ones
/// but the last. Holds at most one record's worth; keep one per session.
#[derive(Debug, Default)]
pub struct RecordStaging {
    staged: Vec<u8>,
}

impl RecordStaging {
    /// Hands `pieces` to `encrypt` as runs of whole records; only the bytes
    /// that share a record with a neighbouring piece are copied, the rest is
    /// passed where it lies.
    pub fn encrypt_pieces<P: AsRef<[u8]>, E>(
        &mut self,
        pieces: &[P],
        mut encrypt: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let staged = &mut self.staged;
        staged.clear();
        for piece in pieces {
            let mut rest = piece.as_ref();
            if staged.len() + rest.len() <= MAX_FRAGMENT_BYTES {
                staged.extend_from_slice(rest);
                continue;
            }
            if !staged.is_empty() {
                let (head, tail) = rest.split_at(MAX_FRAGMENT_BYTES - staged.len());
                staged.extend_from_slice(head);
                encrypt(staged)?;
                staged.clear();
                rest = tail;
            }
            let (whole_records, remainder) =
                rest.split_at(rest.len() - rest.len() % MAX_FRAGMENT_BYTES);
            if !whole_records.is_empty() {
                encrypt(whole_records)?;
            }
            staged.extend_from_slice(remainder);
        }
        if staged.is_empty() {
            return Ok(());
        }
        encrypt(staged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::unbuffered::InsufficientSizeError;

    /// A writer that needs `size` bytes of room, as rustls reports it.
    fn writes(size: usize, byte: u8) -> impl FnMut(&mut [u8]) -> Result<usize, EncryptError> {
        move |tail: &mut [u8]| {
            if tail.len() < size {
                return Err(EncryptError::InsufficientSize(InsufficientSizeError {
                    required_size: size,
                }));
            }
            tail[..size].fill(byte);
            Ok(size)
        }
    }

    #[test]
    fn the_buffer_grows_to_what_rustls_asks_and_keeps_order() {
        let mut records = RecordBuffer::default();
        records.append_encrypted(writes(10, b'a')).expect("first");
        records
            .append_encrypted(writes(40_000, b'b'))
            .expect("grows");
        assert_eq!(records.filled(), 40_010);
        let (buffer, filled) = records.take().expect("something to send");
        assert!(buffer[..10].iter().all(|&byte| byte == b'a'));
        assert!(buffer[10..filled].iter().all(|&byte| byte == b'b'));
        assert!(records.take().is_none(), "taken once");
        records.give_back(buffer);
        records.append_encrypted(writes(5, b'c')).expect("reuses");
        let (buffer, filled) = records.take().expect("again");
        assert_eq!(&buffer[..filled], b"ccccc");
    }

    #[test]
    fn pieces_become_runs_of_whole_records_but_the_last() {
        let pieces: Vec<Vec<u8>> = vec![
            vec![1; 10],
            vec![2; 4 * MAX_FRAGMENT_BYTES],
            vec![3; 20],
            vec![4; MAX_FRAGMENT_BYTES + 5],
        ];
        let mut staging = RecordStaging::default();
        let mut runs: Vec<Vec<u8>> = Vec::new();
        staging
            .encrypt_pieces(&pieces, |run| {
                runs.push(run.to_vec());
                Ok::<(), ()>(())
            })
            .expect("no error");
        assert_eq!(runs.concat(), pieces.concat());
        let last = runs.len() - 1;
        assert!(runs[..last]
            .iter()
            .all(|run| run.len() % MAX_FRAGMENT_BYTES == 0 && !run.is_empty()));
        assert_eq!(runs[last].len(), pieces.concat().len() % MAX_FRAGMENT_BYTES);
    }

    #[test]
    fn other_errors_come_back_unchanged() {
        let mut records = RecordBuffer::default();
        let result = records.append_encrypted(|_| Err(EncryptError::EncryptExhausted));
        assert!(matches!(result, Err(EncryptError::EncryptExhausted)));
        assert_eq!(records.filled(), 0);
    }
}
