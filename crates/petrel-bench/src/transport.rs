//! A client connection's byte stream: plain TCP, or TLS (the I/O-free
//! `tls_session` over monoio's TCP stream, with owned-buffer reads and
//! writes into and out of the session's own buffers).
//!
//! This module moves bytes and nothing else: it knows neither RESP nor the
//! benchmark. Its buffers are reused for the life of the connection, so the
//! steady state allocates nothing.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use monoio::buf::{IoBuf, IoBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::TcpStream;

use petrel_resp::WireBuffer;

use crate::tls::TlsContext;
use crate::tls_session::{ClientSession, Progress, SessionError};

/// Ciphertext read per receive: one full TLS record and its header.
const CIPHERTEXT_READ_BYTES: usize = 18 * 1024;
/// How long a TLS handshake may take. A plaintext server never answers a
/// ClientHello (it waits for a newline), so without a limit the run would hang.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("connection to {addr} failed: {source}")]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("TLS error: {0}")]
    Tls(#[from] rustls::Error),
    #[error("TLS error: {0}")]
    Session(#[from] SessionError),
    #[error("server closed the connection during the TLS handshake")]
    ClosedInHandshake,
    #[error("TLS handshake with {addr} timed out after {} s (is the server speaking TLS on that port?)", HANDSHAKE_TIMEOUT.as_secs())]
    HandshakeTimeout { addr: SocketAddr },
}

impl StreamError {
    pub fn is_tls(&self) -> bool {
        matches!(
            self,
            StreamError::Tls(_)
                | StreamError::Session(_)
                | StreamError::ClosedInHandshake
                | StreamError::HandshakeTimeout { .. }
        )
    }
}

/// The server's addresses, and which of them answered last, so that
/// reconnects go straight to the address that works.
#[derive(Debug)]
pub struct Target {
    pub addrs: Vec<SocketAddr>,
    preferred: AtomicUsize,
    pub tls: Option<TlsContext>,
}

impl Target {
    pub fn new(addrs: Vec<SocketAddr>, tls: Option<TlsContext>) -> Target {
        Target {
            addrs,
            preferred: AtomicUsize::new(0),
            tls,
        }
    }
}

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

pub struct TlsStream {
    tcp: TcpStream,
    session: ClientSession,
    /// Plaintext that arrived while sending, for the next read.
    held: Vec<u8>,
}

impl Transport {
    /// Opens TCP (trying each address, preferred first) and, for TLS,
    /// completes the handshake before returning.
    pub async fn connect(target: &Target) -> Result<Transport, StreamError> {
        let count = target.addrs.len();
        let first = target.preferred.load(Ordering::Relaxed);
        let mut last_error = None;
        for attempt in 0..count {
            let index = (first + attempt) % count;
            let addr = target.addrs[index];
            match TcpStream::connect_addr(addr).await {
                Ok(tcp) => {
                    if index != first {
                        target.preferred.store(index, Ordering::Relaxed);
                    }
                    // Requests are small and latency-bound; Nagle would hold them back.
                    tcp.set_nodelay(true)?;
                    return match &target.tls {
                        None => Ok(Transport::Plain(tcp)),
                        Some(tls) => match monoio::time::timeout(
                            HANDSHAKE_TIMEOUT,
                            TlsStream::handshake(tcp, tls),
                        )
                        .await
                        {
                            Ok(stream) => Ok(Transport::Tls(Box::new(stream?))),
                            Err(_elapsed) => Err(StreamError::HandshakeTimeout { addr }),
                        },
                    };
                }
                Err(source) => last_error = Some(StreamError::Connect { addr, source }),
            }
        }
        Err(last_error.unwrap_or_else(|| {
            StreamError::Io(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                "no address to connect to",
            ))
        }))
    }

    /// Sends all of `buf`; returns it (cleared) for reuse.
    pub async fn write_all(&mut self, buf: BytesMut) -> (Result<(), StreamError>, BytesMut) {
        match self {
            Transport::Plain(tcp) => {
                let (result, mut buf) = tcp.write_all(buf).await;
                buf.clear();
                (result.map(|_| ()).map_err(StreamError::from), buf)
            }
            Transport::Tls(stream) => {
                let result = stream.write_plaintext(&buf).await;
                let mut buf = buf;
                buf.clear();
                (result, buf)
            }
        }
    }

    /// Sends everything in `out` (one write, or one vectored write when big
    /// values are pieces of their own) and leaves it empty for reuse.
    pub async fn send(&mut self, out: &mut WireBuffer) -> Result<(), StreamError> {
        if out.is_contiguous() {
            let (result, buffer) = self.write_all(out.take_contiguous()).await;
            out.restore_contiguous(buffer);
            return result;
        }
        let pieces = out.take_pieces();
        let (result, pieces) = match self {
            Transport::Plain(tcp) => {
                let (result, pieces) = petrel_iovec::write_pieces(tcp, pieces).await;
                (result.map_err(StreamError::from), pieces)
            }
            Transport::Tls(stream) => {
                let encrypted = stream.session.encrypt_pieces(&pieces, &mut stream.held);
                (stream.send_encrypted(encrypted).await, pieces)
            }
        };
        out.restore_pieces(pieces);
        result
    }

    /// Appends received bytes to `buf` (which must have spare capacity) and
    /// returns how many arrived; 0 means the server closed the connection.
    pub async fn read(&mut self, buf: Vec<u8>) -> (Result<usize, StreamError>, Vec<u8>) {
        match self {
            Transport::Plain(tcp) => {
                let start = buf.len();
                let end = buf.capacity();
                debug_assert!(end > start, "read needs spare capacity");
                let (result, slice) = tcp.read(buf.slice_mut(start..end)).await;
                (result.map_err(StreamError::from), slice.into_inner())
            }
            Transport::Tls(stream) => {
                let mut buf = buf;
                let result = stream.read_plaintext(&mut buf).await;
                (result, buf)
            }
        }
    }
}

impl TlsStream {
    async fn handshake(tcp: TcpStream, tls: &TlsContext) -> Result<TlsStream, StreamError> {
        let session = ClientSession::new(
            tls.config.clone(),
            tls.server_name.clone(),
            CIPHERTEXT_READ_BYTES,
        )?;
        let mut stream = TlsStream {
            tcp,
            session,
            held: Vec::new(),
        };
        let mut plaintext = Vec::new();
        loop {
            stream
                .session
                .process(&mut plaintext)
                .map_err(StreamError::from)?;
            stream.flush().await?;
            if !stream.session.is_handshaking() {
                break;
            }
            if stream.receive().await? == 0 {
                return Err(StreamError::ClosedInHandshake);
            }
        }
        stream.held = plaintext;
        Ok(stream)
    }

    async fn write_plaintext(&mut self, plaintext: &[u8]) -> Result<(), StreamError> {
        let encrypted = self.session.encrypt(plaintext, &mut self.held);
        self.send_encrypted(encrypted).await
    }

    /// Sends what was just encrypted; after a failed encryption, the alert
    /// rustls may have queued, and then the error.
    async fn send_encrypted(
        &mut self,
        encrypted: Result<(), SessionError>,
    ) -> Result<(), StreamError> {
        if let Err(error) = encrypted {
            let _ = self.flush().await;
            return Err(error.into());
        }
        self.flush().await
    }

    /// Sends every record the session has ready, in one write.
    async fn flush(&mut self) -> Result<(), StreamError> {
        let Some((buffer, filled)) = self.session.take_outgoing() else {
            return Ok(());
        };
        let (result, slice) = self.tcp.write_all(buffer.slice(0..filled)).await;
        self.session.sent(slice.into_inner());
        result.map(|_| ()).map_err(StreamError::from)
    }

    /// Reads ciphertext into the session's receive buffer; 0 at end of stream.
    async fn receive(&mut self) -> Result<usize, StreamError> {
        let mut incoming = self.session.take_incoming();
        ensure_spare(&mut incoming, CIPHERTEXT_READ_BYTES);
        let start = incoming.len();
        let end = incoming.capacity();
        let (result, slice) = self.tcp.read(incoming.slice_mut(start..end)).await;
        self.session.restore_incoming(slice.into_inner());
        result.map_err(StreamError::from)
    }

    async fn read_plaintext(&mut self, buf: &mut Vec<u8>) -> Result<usize, StreamError> {
        let start = buf.len();
        if !self.held.is_empty() {
            buf.append(&mut self.held);
            return Ok(buf.len() - start);
        }
        loop {
            let processed = self.session.process(buf);
            // Key updates need an answer, and a fatal error its alert.
            let flushed = self.flush().await;
            let progress = processed?;
            flushed?;
            if buf.len() > start || progress == Progress::PeerClosed {
                return Ok(buf.len() - start);
            }
            if self.receive().await? == 0 {
                return Ok(0);
            }
        }
    }
}

/// Reserves spare capacity in a receive buffer so a read has room: at least
/// `minimum` bytes, doubling when the buffer is full of an incomplete reply.
pub fn ensure_spare(buf: &mut Vec<u8>, minimum: usize) {
    let spare = buf.capacity() - buf.len();
    if spare < minimum {
        buf.reserve(minimum.max(buf.len()));
    }
}

/// The first bytes of `buf` as text for an error message.
pub fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.trim_end_matches(['\r', '\n'])
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn ensure_spare_grows_a_full_buffer() {
        let mut buf = Vec::with_capacity(8);
        buf.extend_from_slice(&[1; 8]);
        ensure_spare(&mut buf, 4);
        assert!(buf.capacity() - buf.len() >= 8, "doubles when full");
        let mut roomy: Vec<u8> = Vec::with_capacity(64);
        ensure_spare(&mut roomy, 16);
        assert_eq!(roomy.capacity(), 64, "no growth when there is room");
    }

    /// A rustls server on a std thread that reads `expected` plaintext
    /// bytes, answers with one byte, and returns what it read.
    fn counting_tls_server(
        expected: usize,
    ) -> (SocketAddr, TlsContext, std::thread::JoinHandle<Vec<u8>>) {
        use rustls::pki_types::ServerName;
        let (server_config, client_config) =
            crate::tls_session::test_configs(rustls::DEFAULT_VERSIONS);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().expect("accept");
            let session = rustls::ServerConnection::new(server_config).expect("session");
            let mut stream = rustls::StreamOwned::new(session, tcp);
            let mut received = vec![0u8; expected];
            stream
                .read_exact(&mut received)
                .expect("every byte arrives");
            stream.write_all(b"k").expect("answer");
            stream.flush().expect("answer sent");
            received
        });
        let context = TlsContext {
            config: client_config,
            server_name: ServerName::try_from("localhost").expect("name"),
        };
        (addr, context, server)
    }

    #[test]
    fn tls_write_of_more_than_rustls_buffers_arrives_whole() {
        // 16 pipelined SETs of 64 KiB values: 1 MiB of plaintext in one
        // write, far beyond rustls's 64 KiB send queue.
        const BYTES: usize = 16 * (64 * 1024 + 40);
        let (addr, context, server) = counting_tls_server(BYTES);
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let target = Target::new(vec![addr], Some(context));
            let mut transport = Transport::connect(&target).await.expect("handshake");
            let mut payload = BytesMut::with_capacity(BYTES);
            payload.resize(BYTES, b'x');
            let (result, returned) = transport.write_all(payload).await;
            result.expect("the whole buffer is sent");
            assert!(returned.is_empty(), "the buffer comes back cleared");
            let (result, answer) = transport.read(Vec::with_capacity(16)).await;
            assert_eq!(result.expect("answer"), 1);
            assert_eq!(answer, b"k");
        });
        let received = server.join().expect("server thread");
        assert_eq!(received.len(), BYTES);
        assert!(
            received.iter().all(|&byte| byte == b'x'),
            "bytes arrive intact"
        );
    }

    #[test]
    fn printable_trims_crlf_and_bounds_length() {
        assert_eq!(printable(b"ERR wrong\r\n"), "ERR wrong");
        assert_eq!(printable(&[b'a'; 500]).len(), 200);
    }
}
