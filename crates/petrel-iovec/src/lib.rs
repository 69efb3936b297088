//! Vectored writes of a list of `Bytes` pieces on monoio's io_uring (or
//! epoll) streams: the iovec list a `writev` reads, owned together with the
//! pieces it points into, and the loop that resumes after partial writes.
//!
//! monoio 0.2.4's `write_vectored_all` resends a partly written iovec from
//! its start (and passes the kernel the wrong count), so big replies and
//! requests sent as pieces go through here instead. This crate moves bytes
//! it is given; it must not know what they mean (RESP, TLS).

use std::io;

use bytes::Bytes;
use monoio::buf::IoVecBuf;
use monoio::io::AsyncWriteRent;

/// Sends every piece, in order, with as few `writev` calls as the kernel
/// allows, and hands the vector back (the pieces still in it).
pub async fn write_pieces<W: AsyncWriteRent + ?Sized>(
    writer: &mut W,
    pieces: Vec<Bytes>,
) -> (io::Result<()>, Vec<Bytes>) {
    let mut vectors = IoPieces::new(pieces);
    while vectors.select_next() {
        while !vectors.window_sent() {
            let (result, returned) = writer.writev(vectors).await;
            vectors = returned;
            match result {
                Ok(0) => {
                    let error = io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the socket took none of the bytes",
                    );
                    return (Err(error), vectors.into_pieces());
                }
                Ok(written) => vectors.advance(written),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return (Err(error), vectors.into_pieces()),
            }
        }
    }
    (Ok(()), vectors.into_pieces())
}

/// Pieces as an iovec array for vectored writes: a window of at
/// most `IOV_MAX` pieces at a time, advanced past what each write took.
struct IoPieces {
    pieces: Vec<Bytes>,
    /// The window's iovecs; those before `first` were sent whole.
    iovecs: Vec<libc::iovec>,
    first: usize,
    /// Pieces covered by this or an earlier window.
    next: usize,
}

/// The kernel refuses a writev of more vectors than this.
const IOV_MAX: usize = 1024;

impl IoPieces {
    fn new(pieces: Vec<Bytes>) -> IoPieces {
        IoPieces {
            iovecs: Vec::with_capacity(pieces.len().min(IOV_MAX)),
            pieces,
            first: 0,
            next: 0,
        }
    }

    /// Points the window at the next pieces not yet sent; false when none are left.
    fn select_next(&mut self) -> bool {
        self.iovecs.clear();
        self.first = 0;
        let end = self.pieces.len().min(self.next + IOV_MAX);
        for piece in &self.pieces[self.next..end] {
            self.iovecs.push(libc::iovec {
                iov_base: piece.as_ptr() as *mut libc::c_void,
                iov_len: piece.len(),
            });
        }
        self.next = end;
        !self.iovecs.is_empty()
    }

    fn window_sent(&self) -> bool {
        self.first == self.iovecs.len()
    }

    /// Moves the window past `written` bytes.
    fn advance(&mut self, mut written: usize) {
        while self.first < self.iovecs.len() {
            let iovec = &mut self.iovecs[self.first];
            if written < iovec.iov_len {
                // SAFETY: `written` is inside this piece, so the pointer stays in it.
                iovec.iov_base = unsafe { iovec.iov_base.cast::<u8>().add(written) }.cast();
                iovec.iov_len -= written;
                return;
            }
            written -= iovec.iov_len;
            self.first += 1;
        }
    }

    fn into_pieces(self) -> Vec<Bytes> {
        self.pieces
    }
}

// SAFETY: the iovecs point into `pieces`, whose heap bytes neither move nor
// change while `Bytes` handles hold them; neither vector is touched while the
// runtime owns the value, and exactly `read_iovec_len` iovecs follow the
// pointer.
unsafe impl IoVecBuf for IoPieces {
    fn read_iovec_ptr(&self) -> *const libc::iovec {
        self.iovecs[self.first..].as_ptr()
    }

    fn read_iovec_len(&self) -> usize {
        self.iovecs.len() - self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(vectors: &IoPieces) -> Vec<u8> {
        vectors.iovecs[vectors.first..]
            .iter()
            .flat_map(|iovec| {
                // SAFETY: each iovec points into a live piece (see IoVecBuf above).
                unsafe { std::slice::from_raw_parts(iovec.iov_base as *const u8, iovec.iov_len) }
                    .to_vec()
            })
            .collect()
    }

    #[test]
    fn partial_writes_resume_mid_piece_and_windows_cover_every_piece() {
        let pieces: Vec<Bytes> = (0..IOV_MAX + 3)
            .map(|index| Bytes::from(format!("piece-{index};")))
            .collect();
        let whole: Vec<u8> = pieces.concat();
        let mut vectors = IoPieces::new(pieces);
        let mut sent = Vec::new();
        let mut windows = 0;
        while vectors.select_next() {
            windows += 1;
            assert!(vectors.read_iovec_len() <= IOV_MAX);
            while !vectors.window_sent() {
                // A socket that takes 7 bytes at a time splits pieces anywhere.
                let remaining = window(&vectors);
                let take = remaining.len().min(7);
                sent.extend_from_slice(&remaining[..take]);
                vectors.advance(take);
            }
        }
        assert_eq!(windows, 2);
        assert_eq!(sent, whole);
        assert_eq!(vectors.into_pieces().len(), IOV_MAX + 3);
    }
}
