//! The byte pipe under a connection: a plain socket today, kernel TLS and
//! userspace TLS behind the same two calls.
//!
//! Buffers are owned and handed back, as io_uring requires: the kernel
//! writes into them while the future is pending.

use std::io;

use bytes::{Bytes, BytesMut};
use monoio::buf::SliceMut;
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
        petrel_iovec::write_pieces(self, pieces).await
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
