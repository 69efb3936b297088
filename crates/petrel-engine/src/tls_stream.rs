//! Userspace TLS over a monoio socket: rustls's handshake, then record
//! protection in userspace for connections the kernel cannot take.
//!
//! Ciphertext is read into one buffer and fed to rustls; plaintext comes out
//! of rustls straight into the connection's read buffer. Replies are handed
//! to rustls in one piece per batch, so a pipeline's replies leave in as few
//! records as their size allows.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use rustls::{ServerConfig, ServerConnection};

use crate::transport::Transport;

const CIPHERTEXT_BUFFER_BYTES: usize = 32 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("TLS handshake timed out")]
    Timeout,
    #[error("peer closed during the TLS handshake")]
    Closed,
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("socket: {0}")]
    Io(#[from] io::Error),
}

pub(crate) struct TlsStream {
    tcp: TcpStream,
    tls: ServerConnection,
    /// Ciphertext read from the socket, not yet given to rustls.
    incoming: BytesMut,
    /// Ciphertext rustls produced, on its way to the socket.
    outgoing: Vec<u8>,
}

impl TlsStream {
    /// Runs the server side of a handshake. `initial` holds bytes already
    /// read from the socket (the first bytes used to tell TLS from RESP).
    pub async fn accept(
        tcp: TcpStream,
        config: Arc<ServerConfig>,
        initial: BytesMut,
        timeout: Duration,
    ) -> Result<TlsStream, (HandshakeError, Option<TlsStream>)> {
        let tls = match ServerConnection::new(config) {
            Ok(tls) => tls,
            Err(error) => return Err((HandshakeError::Tls(error), None)),
        };
        let mut stream = TlsStream {
            tcp,
            tls,
            incoming: initial,
            outgoing: Vec::new(),
        };
        stream.tls.set_buffer_limit(None);
        match monoio::time::timeout(timeout, stream.handshake()).await {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(error)) => Err((error, Some(stream))),
            Err(_) => Err((HandshakeError::Timeout, Some(stream))),
        }
    }

    pub fn connection(&self) -> &ServerConnection {
        &self.tls
    }

    async fn handshake(&mut self) -> Result<(), HandshakeError> {
        loop {
            let fed = self.feed();
            // An alert for a failed handshake goes out before the error returns.
            self.flush().await?;
            fed?;
            if !self.tls.is_handshaking() {
                return Ok(());
            }
            if self.read_ciphertext().await? == 0 {
                return Err(HandshakeError::Closed);
            }
        }
    }

    /// Gives buffered ciphertext to rustls and lets it process the records.
    fn feed(&mut self) -> Result<(), rustls::Error> {
        while !self.incoming.is_empty() {
            let mut reader = &self.incoming[..];
            let taken = match self.tls.read_tls(&mut reader) {
                Ok(taken) => taken,
                // rustls's buffer is full: process what it has, then go on.
                Err(_) => 0,
            };
            self.incoming.advance(taken);
            self.tls.process_new_packets()?;
            if taken == 0 {
                break;
            }
        }
        Ok(())
    }

    async fn read_ciphertext(&mut self) -> io::Result<usize> {
        if self.incoming.capacity() - self.incoming.len() < CIPHERTEXT_BUFFER_BYTES / 4 {
            self.incoming.reserve(CIPHERTEXT_BUFFER_BYTES);
        }
        let buffer = std::mem::take(&mut self.incoming);
        let (result, buffer) = self.tcp.read_into(buffer).await;
        self.incoming = buffer;
        result
    }

    /// Sends every record rustls has ready.
    async fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            self.outgoing.clear();
            self.tls.write_tls(&mut self.outgoing)?;
            let buffer = std::mem::take(&mut self.outgoing);
            let (result, buffer) = self.tcp.write_all(buffer).await;
            self.outgoing = buffer;
            result?;
        }
        Ok(())
    }
}

impl Transport for TlsStream {
    async fn read_into(&mut self, mut buffer: BytesMut) -> (io::Result<usize>, BytesMut) {
        loop {
            let state = match self.tls.process_new_packets() {
                Ok(state) => state,
                Err(error) => {
                    let _ = self.flush().await;
                    return (
                        Err(io::Error::new(io::ErrorKind::InvalidData, error)),
                        buffer,
                    );
                }
            };
            let available = state.plaintext_bytes_to_read();
            let peer_closed = state.peer_has_closed();
            if available > 0 {
                let filled = buffer.len();
                buffer.resize(filled + available, 0);
                let read = self.tls.reader().read(&mut buffer[filled..]).unwrap_or(0);
                buffer.truncate(filled + read);
                return (Ok(read), buffer);
            }
            if peer_closed {
                return (Ok(0), buffer);
            }
            // Key updates and other post-handshake messages may need an answer.
            if let Err(error) = self.flush().await {
                return (Err(error), buffer);
            }
            if self.incoming.is_empty() {
                match self.read_ciphertext().await {
                    Ok(0) => return (Ok(0), buffer),
                    Ok(_) => {}
                    Err(error) => return (Err(error), buffer),
                }
            }
            if let Err(error) = self.feed() {
                let _ = self.flush().await;
                return (
                    Err(io::Error::new(io::ErrorKind::InvalidData, error)),
                    buffer,
                );
            }
        }
    }

    async fn write_all(&mut self, buffer: BytesMut) -> (io::Result<()>, BytesMut) {
        let written = self.tls.writer().write_all(&buffer);
        let result = match written {
            Ok(()) => self.flush().await,
            Err(error) => Err(error),
        };
        (result, buffer)
    }

    async fn close(&mut self) {
        self.tls.send_close_notify();
        let _ = self.flush().await;
        let _ = self.tcp.shutdown().await;
    }
}
