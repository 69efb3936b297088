//! RESP bytes on their way to a socket, as a list of pieces: a server's
//! replies, or a client's requests.
//!
//! Small items are encoded into one growing buffer, as [`encode`] does. A
//! big bulk string (a 64 KiB GET reply, or a client's 64 KiB SET value) is
//! not copied: the buffer so far is sealed into a piece, the value itself
//! becomes the next piece, and encoding goes on after it. The caller sends
//! the pieces with one vectored write, or encrypts them one after another.
//!
//! It must not do I/O; it only decides where the bytes are.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use crate::encode::{encode, encode_bulk, header};
use crate::reply::Reply;

/// Bulk strings at least this long are sent from the value they came from.
/// Shorter ones are cheaper to copy than to give a piece of their own.
pub const SHARED_BULK_MIN_BYTES: usize = 8 * 1024;

/// Replies in the order they will be sent: finished `pieces`, then `tail`.
#[derive(Debug, Default)]
pub struct WireBuffer {
    pieces: Vec<Bytes>,
    pieces_len: usize,
    tail: BytesMut,
}

impl WireBuffer {
    pub fn with_capacity(bytes: usize) -> WireBuffer {
        WireBuffer {
            pieces: Vec::new(),
            pieces_len: 0,
            tail: BytesMut::with_capacity(bytes),
        }
    }

    /// Appends `reply` in the connection's protocol (see [`encode`]).
    pub fn encode(&mut self, reply: Reply, protocol: u8) {
        match reply {
            Reply::Bulk(data) => self.put_bulk(data),
            reply => encode(&reply, protocol, &mut self.tail),
        }
    }

    /// Appends `data` as a bulk string; a big one as a piece of its own.
    pub fn put_bulk(&mut self, data: Bytes) {
        if data.len() < SHARED_BULK_MIN_BYTES {
            encode_bulk(&data, &mut self.tail);
        } else {
            self.put_shared_bulk(data);
        }
    }

    /// Appends `source[range]` as a bulk string; a big one as a piece of
    /// its own (a slice of `source`, no copy), a small one copied without
    /// touching `source`'s reference count.
    pub fn put_bulk_of(&mut self, source: &Bytes, range: Range<usize>) {
        if range.len() < SHARED_BULK_MIN_BYTES {
            encode_bulk(&source[range], &mut self.tail);
        } else {
            self.put_shared_bulk(source.slice(range));
        }
    }

    fn put_shared_bulk(&mut self, data: Bytes) {
        header(&mut self.tail, b'$', data.len());
        self.seal_tail();
        self.pieces_len += data.len();
        self.pieces.push(data);
        self.tail.put_slice(b"\r\n");
    }

    /// Appends bytes already in RESP form (an aggregate's header).
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
    }

    /// The buffer after the last piece, for encoders that write RESP into a
    /// `BytesMut` themselves.
    pub fn tail_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Bytes waiting to be sent.
    pub fn len(&self) -> usize {
        self.pieces_len + self.tail.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether everything is in the one contiguous buffer (no big value was
    /// kept aside), so a plain write of [`WireBuffer::take_contiguous`] sends it.
    pub fn is_contiguous(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The contiguous buffer, when [`WireBuffer::is_contiguous`]; hand it
    /// back with [`WireBuffer::restore_contiguous`] once it was sent.
    pub fn take_contiguous(&mut self) -> BytesMut {
        debug_assert!(self.pieces.is_empty());
        std::mem::take(&mut self.tail)
    }

    /// Takes back the buffer [`WireBuffer::take_contiguous`] lent, emptied,
    /// keeping its allocation for the next replies.
    pub fn restore_contiguous(&mut self, mut buffer: BytesMut) {
        buffer.clear();
        self.tail = buffer;
    }

    /// Everything, in order, as pieces; the buffer is sealed into the last.
    /// Hand the vector back with [`WireBuffer::restore_pieces`].
    pub fn take_pieces(&mut self) -> Vec<Bytes> {
        self.seal_tail();
        self.pieces_len = 0;
        std::mem::take(&mut self.pieces)
    }

    /// Takes back the vector [`WireBuffer::take_pieces`] lent. Dropping the
    /// sealed pieces lets the buffer reuse their memory.
    pub fn restore_pieces(&mut self, mut pieces: Vec<Bytes>) {
        pieces.clear();
        if self.pieces.is_empty() {
            self.pieces = pieces;
        }
    }

    /// Drops everything not yet taken.
    pub fn clear(&mut self) {
        self.pieces.clear();
        self.pieces_len = 0;
        self.tail.clear();
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            let sealed = self.tail.split().freeze();
            self.pieces_len += sealed.len();
            self.pieces.push(sealed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(buffer: &mut WireBuffer) -> Vec<u8> {
        if buffer.is_contiguous() {
            let bytes = buffer.take_contiguous();
            let joined = bytes.to_vec();
            buffer.restore_contiguous(bytes);
            return joined;
        }
        let pieces = buffer.take_pieces();
        let joined = pieces.concat();
        buffer.restore_pieces(pieces);
        joined
    }

    fn encoded(replies: &[Reply], protocol: u8) -> Vec<u8> {
        let mut out = BytesMut::new();
        for reply in replies {
            encode(reply, protocol, &mut out);
        }
        out.to_vec()
    }

    #[test]
    fn small_replies_stay_in_one_buffer_byte_for_byte() {
        let replies = [
            Reply::ok(),
            Reply::Bulk(Bytes::from_static(b"value")),
            Reply::Nil,
            Reply::Integer(42),
        ];
        let mut buffer = WireBuffer::with_capacity(64);
        for reply in replies.clone() {
            buffer.encode(reply, 2);
        }
        assert!(buffer.is_contiguous());
        assert_eq!(buffer.len(), encoded(&replies, 2).len());
        assert_eq!(joined(&mut buffer), encoded(&replies, 2));
        assert!(buffer.is_empty());
    }

    #[test]
    fn a_big_value_is_sent_from_where_it_is_stored() {
        let value = Bytes::from(vec![b'v'; 64 * 1024]);
        let replies = [
            Reply::ok(),
            Reply::Bulk(value.clone()),
            Reply::Integer(7),
            Reply::Bulk(value.clone()),
        ];
        let mut buffer = WireBuffer::with_capacity(64);
        for reply in replies.clone() {
            buffer.encode(reply, 3);
        }
        assert!(!buffer.is_contiguous());
        assert_eq!(buffer.len(), encoded(&replies, 3).len());
        let pieces = buffer.take_pieces();
        let shared: Vec<_> = pieces
            .iter()
            .filter(|piece| piece.as_ptr() == value.as_ptr())
            .collect();
        assert_eq!(shared.len(), 2, "both GETs point at the stored value");
        assert_eq!(pieces.concat(), encoded(&replies, 3));
        buffer.restore_pieces(pieces);
        assert!(buffer.is_empty());
        // The buffer goes on encoding after a send.
        buffer.encode(Reply::ok(), 2);
        assert_eq!(joined(&mut buffer), b"+OK\r\n");
    }

    #[test]
    fn a_value_just_under_the_threshold_is_copied() {
        let value = Bytes::from(vec![b'v'; SHARED_BULK_MIN_BYTES - 1]);
        let mut buffer = WireBuffer::default();
        buffer.encode(Reply::Bulk(value.clone()), 2);
        assert!(buffer.is_contiguous());
        assert_eq!(joined(&mut buffer), encoded(&[Reply::Bulk(value)], 2));
    }

    #[test]
    fn a_big_value_inside_an_array_is_encoded_inline() {
        let value = Bytes::from(vec![b'v'; 2 * SHARED_BULK_MIN_BYTES]);
        let reply = Reply::Array(vec![Reply::Bulk(value), Reply::Nil]);
        let mut buffer = WireBuffer::default();
        buffer.extend_from_slice(b"*1\r\n");
        buffer.encode(reply.clone(), 2);
        let mut expected = b"*1\r\n".to_vec();
        expected.extend(encoded(&[reply], 2));
        assert!(buffer.is_contiguous());
        assert_eq!(joined(&mut buffer), expected);
    }
}
