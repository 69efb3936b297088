//! Reading the handshake without reading past it.
//!
//! Whatever bytes rustls has taken from the socket are gone for the kernel. A
//! client may send its first command in the same TCP segment as its Finished
//! message; if rustls swallowed that record, the handoff would lose it (the
//! buffered rustls API offers no way to get undecrypted bytes back). So during
//! the handshake the socket is read one whole TLS record at a time: the 5-byte
//! header, then exactly the body it announces. When rustls reports the
//! handshake complete, nothing behind the peer's last handshake record has
//! left the socket, and the kernel decrypts it after the handoff.
//!
//! [`RecordFramer`] is the I/O-free core (the engine drives it with io_uring
//! reads of exactly [`RecordFramer::needed`] bytes); [`complete_handshake`] is
//! a blocking driver over `std::io` for tests and tools.

use std::io::{self, Read, Write};
use std::ops::DerefMut;

use rustls::ConnectionCommon;

/// Bytes in a TLS record header: type, version, length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Largest record body TLS allows on the wire (2^14 + 2048, RFC 5246 §6.2.3;
/// TLS 1.3 allows less).
pub const MAX_RECORD_BODY_LEN: usize = 16384 + 2048;

/// The peer sent bytes that are not a TLS record header.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    #[error("not a TLS record: content type {0}")]
    ContentType(u8),
    #[error("not a TLS record: protocol version {0:#06x}")]
    Version(u16),
    #[error("TLS record body of {0} bytes exceeds the limit of {MAX_RECORD_BODY_LEN}")]
    TooLong(usize),
    #[error("{given} bytes pushed where the record needed only {needed}")]
    Overrun { given: usize, needed: usize },
}

/// Accumulates exactly one TLS record at a time.
///
/// Usage: read [`needed`](Self::needed) bytes (never more), [`push`](Self::push)
/// them, repeat until `needed` is 0, feed [`record`](Self::record) to rustls,
/// [`clear`](Self::clear), and check whether the handshake is done before
/// reading again.
#[derive(Debug, Default)]
pub struct RecordFramer {
    buf: Vec<u8>,
}

impl RecordFramer {
    pub fn new() -> Self {
        RecordFramer {
            buf: Vec::with_capacity(RECORD_HEADER_LEN),
        }
    }

    /// How many more bytes complete the current record: first the header,
    /// then the body it announces. 0 when a whole record is buffered.
    pub fn needed(&self) -> Result<usize, FramingError> {
        let Some(header) = self.buf.first_chunk::<RECORD_HEADER_LEN>() else {
            return Ok(RECORD_HEADER_LEN - self.buf.len());
        };
        let body = check_header(header)?;
        Ok(RECORD_HEADER_LEN + body - self.buf.len())
    }

    /// Appends bytes just read; more than [`needed`](Self::needed) is an error.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), FramingError> {
        let mut rest = bytes;
        // The header may arrive together with part of the body: take the
        // header first so the body length is known before checking the rest.
        while !rest.is_empty() {
            let needed = self.needed()?;
            if needed == 0 {
                return Err(FramingError::Overrun {
                    given: bytes.len(),
                    needed: bytes.len() - rest.len(),
                });
            }
            let (now, later) = rest.split_at(needed.min(rest.len()));
            self.buf.extend_from_slice(now);
            rest = later;
        }
        self.needed().map(drop)
    }

    /// The whole record (header included) once `needed` is 0.
    pub fn record(&self) -> Option<&[u8]> {
        match self.needed() {
            Ok(0) => Some(&self.buf),
            _ => None,
        }
    }

    /// Forgets the current record, ready for the next header.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Reads exactly one whole record from a blocking reader.
    pub fn read_record<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<&[u8]> {
        self.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let needed = self.needed().map_err(invalid_data)?;
            if needed == 0 {
                return Ok(&self.buf);
            }
            let want = needed.min(chunk.len());
            let n = match reader.read(&mut chunk[..want]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "peer closed the connection during the TLS handshake",
                    ))
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.push(&chunk[..n]).map_err(invalid_data)?;
        }
    }
}

/// Drives a rustls connection (client or server) to the end of its handshake
/// over a blocking stream, reading one record at a time so that nothing the
/// peer sent after its last handshake record is consumed, and flushing
/// everything rustls queued, including TLS 1.3 session tickets. On return the
/// connection is ready for `offload_connection`.
///
/// On a TLS error, the alert rustls queued is sent (best effort) and the
/// error comes back as `InvalidData` with the rustls error as its source.
pub fn complete_handshake<C, D, S>(conn: &mut C, stream: &mut S) -> io::Result<()>
where
    C: DerefMut<Target = ConnectionCommon<D>>,
    S: Read + Write,
{
    let mut framer = RecordFramer::new();
    loop {
        while conn.wants_write() {
            conn.write_tls(stream)?;
        }
        stream.flush()?;
        if !conn.is_handshaking() {
            return Ok(());
        }
        let mut record = framer.read_record(stream)?;
        // read_tls may take less than a record per call; the whole record is
        // fed before asking for more, and nothing else is ever fed.
        while !record.is_empty() {
            conn.read_tls(&mut record)?;
            if let Err(error) = conn.process_new_packets() {
                while conn.wants_write() {
                    if conn.write_tls(stream).is_err() {
                        break;
                    }
                }
                return Err(io::Error::new(io::ErrorKind::InvalidData, error));
            }
        }
    }
}

/// Validates a record header and returns its body length.
fn check_header(header: &[u8; RECORD_HEADER_LEN]) -> Result<usize, FramingError> {
    let [content_type, major, minor, len_hi, len_lo] = *header;
    if !(20..=24).contains(&content_type) {
        return Err(FramingError::ContentType(content_type));
    }
    // The record-layer version is 0x0301 in some ClientHellos and 0x0303
    // afterwards; any 3.x passes here and rustls judges the rest.
    if major != 3 {
        return Err(FramingError::Version(u16::from_be_bytes([major, minor])));
    }
    let body = usize::from(u16::from_be_bytes([len_hi, len_lo]));
    if body > MAX_RECORD_BODY_LEN {
        return Err(FramingError::TooLong(body));
    }
    Ok(body)
}

fn invalid_data(error: FramingError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Proves the framer asks for the header, then exactly the announced body,
    // and refuses a byte more: the guarantee the handoff depends on.
    #[test]
    fn framer_asks_for_exactly_one_record() {
        let mut framer = RecordFramer::new();
        assert_eq!(framer.needed(), Ok(5));
        framer.push(&[22, 3, 3]).expect("partial header");
        assert_eq!(framer.needed(), Ok(2));
        framer
            .push(&[0, 4, 0xaa])
            .expect("rest of header and a body byte");
        assert_eq!(framer.needed(), Ok(3));
        assert_eq!(framer.record(), None);
        assert_eq!(
            framer.push(&[1, 2, 3, 4]),
            Err(FramingError::Overrun {
                given: 4,
                needed: 3
            })
        );
        framer.clear();
        framer
            .push(&[23, 3, 3, 0, 2, 9, 9])
            .expect("whole record at once");
        assert_eq!(framer.needed(), Ok(0));
        assert_eq!(framer.record(), Some(&[23, 3, 3, 0, 2, 9, 9][..]));
    }

    // Proves garbage (e.g. a RESP command on a TLS-only port) is refused at the
    // header, before any body is awaited.
    #[test]
    fn framer_refuses_what_is_not_tls() {
        let mut framer = RecordFramer::new();
        assert_eq!(
            framer.push(b"*1\r\n$4\r\nPING\r\n"),
            Err(FramingError::ContentType(b'*'))
        );
        let mut framer = RecordFramer::new();
        assert_eq!(
            framer.push(&[22, 3, 3, 0xff, 0xff]),
            Err(FramingError::TooLong(0xffff))
        );
        let mut framer = RecordFramer::new();
        assert_eq!(
            framer.push(&[22, 2, 0, 0, 1]),
            Err(FramingError::Version(0x0200))
        );
    }

    // Proves read_record stops at the record boundary even when the reader
    // holds more bytes right behind it.
    #[test]
    fn read_record_leaves_the_next_record_unread() {
        let wire = [22, 3, 3, 0, 3, 1, 2, 3, 23, 3, 3, 0, 1, 7];
        let mut reader = &wire[..];
        let mut framer = RecordFramer::new();
        let record = framer.read_record(&mut reader).expect("first record");
        assert_eq!(record, &wire[..8]);
        assert_eq!(reader, &wire[8..]);
    }
}
