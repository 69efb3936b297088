//! The byte pipe under a connection: a plain socket today, kernel TLS and
//! userspace TLS behind the same two calls.
//!
//! Buffers are owned and handed back, as io_uring requires: the kernel
//! writes into them while the future is pending.

use std::io;

use bytes::{Bytes, BytesMut};
use monoio::buf::{IoVecBuf, SliceMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

pub(crate) trait Transport {
    /// Appends what arrives to `buffer`, using its free capacity. `Ok(0)`
    /// means the peer closed.
    async fn read_into(&mut self, buffer: BytesMut) -> (io::Result<usize>, BytesMut);

    /// As `read_into`, taking at most `limit` bytes where the transport can
    /// say so (a plain socket); TLS transports deliver whole records.
    async fn read_into_at_most(
        &mut self,
        buffer: BytesMut,
        limit: usize,
    ) -> (io::Result<usize>, BytesMut) {
        let _ = limit;
        self.read_into(buffer).await
    }

    /// Sends all of `buffer` and hands it back.
    async fn write_all(&mut self, buffer: BytesMut) -> (io::Result<()>, BytesMut);

    /// Sends every piece, in order, and hands the vector back.
    async fn write_pieces(&mut self, pieces: Vec<Bytes>) -> (io::Result<()>, Vec<Bytes>);

    /// Ends the connection politely (TCP FIN, or TLS close_notify first).
    async fn close(&mut self);

    /// Gives the connection up so the sync ring can carry it, or hands it
    /// back if this transport cannot move.
    fn detach(self) -> Result<crate::sync_ring::Detached, Self>
    where
        Self: Sized,
    {
        Err(self)
    }
}

impl Transport for TcpStream {
    async fn read_into(&mut self, buffer: BytesMut) -> (io::Result<usize>, BytesMut) {
        let filled = buffer.len();
        let capacity = buffer.capacity();
        let (result, slice) = self.read(SliceMut::new(buffer, filled, capacity)).await;
        (result, slice.into_inner())
    }

    async fn read_into_at_most(
        &mut self,
        buffer: BytesMut,
        limit: usize,
    ) -> (io::Result<usize>, BytesMut) {
        let filled = buffer.len();
        let end = buffer.capacity().min(filled.saturating_add(limit));
        let (result, slice) = self.read(SliceMut::new(buffer, filled, end)).await;
        (result, slice.into_inner())
    }

    async fn write_all(&mut self, buffer: BytesMut) -> (io::Result<()>, BytesMut) {
        let (result, buffer) = AsyncWriteRentExt::write_all(self, buffer).await;
        (result.map(|_| ()), buffer)
    }

    async fn write_pieces(&mut self, pieces: Vec<Bytes>) -> (io::Result<()>, Vec<Bytes>) {
        // monoio's `write_vectored_all` resends a partly written iovec from
        // its start (0.2.4), so partial writes are tracked here.
        let mut vectors = IoPieces::new(pieces);
        while vectors.select_next() {
            while !vectors.window_sent() {
                let (result, returned) = AsyncWriteRent::writev(self, vectors).await;
                vectors = returned;
                match result {
                    Ok(0) => {
                        let error = io::Error::new(
                            io::ErrorKind::WriteZero,
                            "the socket took no bytes of the reply",
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

    async fn close(&mut self) {
        let _ = self.shutdown().await;
    }

    fn detach(self) -> Result<crate::sync_ring::Detached, Self> {
        Ok(crate::sync_ring::Detached::Plain(
            crate::sync_ring::detach_tcp(self),
        ))
    }
}

impl<T: Transport> Transport for Box<T> {
    async fn read_into(&mut self, buffer: BytesMut) -> (io::Result<usize>, BytesMut) {
        (**self).read_into(buffer).await
    }

    async fn read_into_at_most(
        &mut self,
        buffer: BytesMut,
        limit: usize,
    ) -> (io::Result<usize>, BytesMut) {
        (**self).read_into_at_most(buffer, limit).await
    }

    async fn write_all(&mut self, buffer: BytesMut) -> (io::Result<()>, BytesMut) {
        (**self).write_all(buffer).await
    }

    async fn write_pieces(&mut self, pieces: Vec<Bytes>) -> (io::Result<()>, Vec<Bytes>) {
        (**self).write_pieces(pieces).await
    }

    async fn close(&mut self) {
        (**self).close().await
    }

    fn detach(self) -> Result<crate::sync_ring::Detached, Self> {
        (*self).detach().map_err(Box::new)
    }
}

/// Pieces of a reply as an iovec array for vectored writes: a window of at
/// most `IOV_MAX` pieces at a time, advanced past what each write took.
pub(crate) struct IoPieces {
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
