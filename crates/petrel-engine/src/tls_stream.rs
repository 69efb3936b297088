//! Userspace TLS over a monoio socket: rustls's handshake, then record
//! protection in userspace for connections the kernel cannot take.
//!
//! The session (`tls_session`) is rustls's unbuffered connection: ciphertext
//! is read into the session's own buffer and decrypted there, its plaintext
//! appended once to the connection's read buffer. Replies are encrypted in
//! one piece per batch straight into one outgoing buffer, which goes to the
//! socket in one write.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use monoio::buf::IoBuf;
use monoio::io::{AsyncReadRent, AsyncReadRentExt, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use petrel_tls::rustls::server::UnbufferedServerConnection;
use petrel_tls::rustls::{self, ServerConfig};

use crate::tls_session::{Progress, SessionError, TlsSession};
use crate::transport::Transport;

const CIPHERTEXT_BUFFER_BYTES: usize = 32 * 1024;

/// How long, and how much, a refused handshake reads before it closes.
const ABORT_DRAIN_TIME_MAX: Duration = Duration::from_millis(500);
const ABORT_DRAIN_BYTES_MAX: usize = 64 * 1024;

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

impl From<SessionError> for HandshakeError {
    /// rustls's own errors stay visible, so handshake failures are counted by reason.
    fn from(error: SessionError) -> HandshakeError {
        match error {
            SessionError::Tls(error) => HandshakeError::Tls(error),
            other => HandshakeError::Io(other.into()),
        }
    }
}

pub(crate) struct TlsStream {
    tcp: TcpStream,
    session: TlsSession,
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
        let session = match TlsSession::new(config, initial) {
            Ok(session) => session,
            Err(error) => return Err((HandshakeError::Tls(error), None)),
        };
        let mut stream = TlsStream { tcp, session };
        match monoio::time::timeout(timeout, stream.handshake()).await {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(error)) => Err((error, Some(stream))),
            Err(_) => Err((HandshakeError::Timeout, Some(stream))),
        }
    }

    /// Sends whatever alert rustls queued for a failed handshake, then closes.
    ///
    /// A TLS 1.3 client learns that its certificate was refused only after
    /// its Finished, and may already have sent its first command. Closing
    /// with those bytes unread makes the kernel send a reset, which can
    /// destroy the alert before the client reads it; so read and drop what
    /// arrives until the client closes, for a short while at most.
    pub async fn abort(&mut self) {
        let _ = self.flush().await;
        let _ = AsyncWriteRent::shutdown(&mut self.tcp).await;
        let drain = async {
            let mut buffer = vec![0u8; 4096];
            let mut drained = 0;
            while drained < ABORT_DRAIN_BYTES_MAX {
                let (result, returned) = AsyncReadRent::read(&mut self.tcp, buffer).await;
                buffer = returned;
                match result {
                    Ok(read) if read > 0 => drained += read,
                    _ => break,
                }
            }
        };
        let _ = monoio::time::timeout(ABORT_DRAIN_TIME_MAX, drain).await;
    }

    pub fn connection(&self) -> &UnbufferedServerConnection {
        self.session.connection()
    }

    async fn handshake(&mut self) -> Result<(), HandshakeError> {
        // `incoming` may start with part of the first record (the bytes read
        // to tell TLS from RESP): complete it before rustls sees it.
        while self.session.is_handshaking() {
            self.read_record().await?;
            let stepped = self.session.handshake();
            // An alert for a failed handshake goes out before the error returns.
            self.flush().await?;
            stepped?;
        }
        Ok(())
    }

    /// Reads exactly one more TLS record into the session. During the
    /// handshake nothing beyond the record is read, so bytes a client sends
    /// right behind its Finished stay in the socket for whoever reads next
    /// (the kernel, after a kTLS handoff). Records rustls keeps (the first
    /// parts of a handshake message split across records) stay in place.
    async fn read_record(&mut self) -> Result<(), HandshakeError> {
        loop {
            let missing = missing_bytes(self.session.incoming())?;
            if missing == 0 && self.session.has_unprocessed() {
                return Ok(());
            }
            let wanted = if missing == 0 {
                petrel_ktls::RECORD_HEADER_LEN
            } else {
                missing
            };
            let (result, buffer) = self.tcp.read_exact(vec![0u8; wanted]).await;
            match result {
                Ok(_) => self.session.push_ciphertext(&buffer),
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(HandshakeError::Closed)
                }
                Err(error) => return Err(HandshakeError::Io(error)),
            }
        }
    }

    /// Appends what the socket delivers to the session's ciphertext buffer.
    async fn read_ciphertext(&mut self) -> io::Result<usize> {
        let mut incoming = self.session.take_incoming();
        // Room for at least one record of the largest size, so a record
        // bigger than what is left always completes.
        if incoming.capacity() - incoming.len() < CIPHERTEXT_BUFFER_BYTES / 4 {
            incoming.reserve(CIPHERTEXT_BUFFER_BYTES);
        }
        let (result, incoming) = self.tcp.read_into(incoming).await;
        self.session.restore_incoming(incoming);
        result
    }

    /// Sends what was just encrypted; after a failed encryption, the alert
    /// rustls may have queued, and then the error.
    async fn send_encrypted(&mut self, encrypted: Result<(), SessionError>) -> io::Result<()> {
        match encrypted {
            Ok(()) => self.flush().await,
            Err(error) => {
                let _ = self.flush().await;
                Err(error.into())
            }
        }
    }

    /// Sends every record the session has ready, in one write.
    async fn flush(&mut self) -> io::Result<()> {
        let Some((buffer, filled)) = self.session.take_outgoing() else {
            return Ok(());
        };
        let (result, slice) =
            AsyncWriteRentExt::write_all(&mut self.tcp, buffer.slice(0..filled)).await;
        self.session.sent(slice.into_inner());
        result.map(|_| ())
    }
}

impl Transport for TlsStream {
    async fn read_into(&mut self, mut buffer: BytesMut) -> (io::Result<usize>, BytesMut) {
        loop {
            let before = buffer.len();
            let decoded = self.session.read(&mut buffer);
            // Key updates and other post-handshake messages may need an
            // answer, and a fatal error its alert.
            let flushed = self.flush().await;
            let progress = match decoded {
                Ok(progress) => progress,
                Err(error) => return (Err(error.into()), buffer),
            };
            if let Err(error) = flushed {
                return (Err(error), buffer);
            }
            let read = buffer.len() - before;
            if read > 0 {
                return (Ok(read), buffer);
            }
            if progress == Progress::PeerClosed {
                return (Ok(0), buffer);
            }
            match self.read_ciphertext().await {
                Ok(0) => return (Ok(0), buffer),
                Ok(_) => {}
                Err(error) => return (Err(error), buffer),
            }
        }
    }

    async fn write_all(&mut self, buffer: BytesMut) -> (io::Result<()>, BytesMut) {
        let encrypted = self.session.encrypt(&buffer);
        (self.send_encrypted(encrypted).await, buffer)
    }

    /// The pieces make the records one buffer would, sent in one write.
    async fn write_pieces(&mut self, pieces: Vec<Bytes>) -> (io::Result<()>, Vec<Bytes>) {
        let encrypted = self.session.encrypt_pieces(&pieces);
        (self.send_encrypted(encrypted).await, pieces)
    }

    async fn close(&mut self) {
        let _ = self.session.close_notify();
        let _ = self.flush().await;
        let _ = AsyncWriteRent::shutdown(&mut self.tcp).await;
    }

    /// Every reply was flushed before the handoff; ciphertext not yet
    /// decoded travels inside the session.
    fn detach(self) -> Result<crate::sync_ring::Detached, Self> {
        Ok(crate::sync_ring::Detached::Tls(Box::new(
            crate::sync_ring::TlsParts {
                tcp: crate::sync_ring::detach_tcp(self.tcp),
                session: self.session,
            },
        )))
    }
}

/// Bytes still missing from the last record in `buffer`; 0 when it ends
/// on a record boundary.
fn missing_bytes(buffer: &[u8]) -> io::Result<usize> {
    use petrel_ktls::{MAX_RECORD_BODY_LEN, RECORD_HEADER_LEN};
    let mut rest = buffer;
    loop {
        if rest.is_empty() {
            return Ok(0);
        }
        let Some(header) = rest.get(..RECORD_HEADER_LEN) else {
            return Ok(RECORD_HEADER_LEN - rest.len());
        };
        let body = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if body > MAX_RECORD_BODY_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("TLS record of {body} bytes exceeds the maximum"),
            ));
        }
        match rest.get(RECORD_HEADER_LEN + body..) {
            Some(next) => rest = next,
            None => return Ok(RECORD_HEADER_LEN + body - rest.len()),
        }
    }
}

/// Why a TLS connection stayed on userspace rustls (or was closed) instead
/// of moving to kernel TLS; counted in INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KtlsFallback {
    /// `ktls = "off"` in the config.
    Disabled,
    /// The kernel has no TLS upper-layer protocol.
    KernelLacksTls,
    /// The kernel refused this version and cipher when probed.
    CipherNotSupported,
    /// rustls held decrypted bytes that the kernel would not see.
    DataBuffered,
    /// The kernel refused the keys; the session is gone and the connection closes.
    OffloadFailed,
}

impl KtlsFallback {
    pub const ALL: [KtlsFallback; 5] = [
        KtlsFallback::Disabled,
        KtlsFallback::KernelLacksTls,
        KtlsFallback::CipherNotSupported,
        KtlsFallback::DataBuffered,
        KtlsFallback::OffloadFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KtlsFallback::Disabled => "disabled",
            KtlsFallback::KernelLacksTls => "kernel_lacks_tls",
            KtlsFallback::CipherNotSupported => "cipher_not_supported",
            KtlsFallback::DataBuffered => "data_buffered",
            KtlsFallback::OffloadFailed => "offload_failed",
        }
    }
}

pub(crate) enum Handoff {
    Kernel(KtlsStream),
    Userspace(Box<TlsStream>, KtlsFallback),
    Failed(KtlsFallback, String),
}

impl TlsStream {
    /// Moves record protection to the kernel when it can take this session.
    pub fn hand_to_kernel(mut self, capabilities: &petrel_ktls::Capabilities) -> Handoff {
        let Some(suite) = self.session.connection().negotiated_cipher_suite() else {
            return Handoff::Userspace(Box::new(self), KtlsFallback::CipherNotSupported);
        };
        if capabilities.check_suite(suite).is_err() {
            return Handoff::Userspace(Box::new(self), KtlsFallback::CipherNotSupported);
        }
        // Whatever rustls still holds (plaintext, queued records) surfaces
        // here; the kernel would never see it.
        let settled = self.session.handshake().is_ok();
        if !settled || self.session.holds_data() {
            return Handoff::Userspace(Box::new(self), KtlsFallback::DataBuffered);
        }
        use std::os::fd::AsRawFd;
        let fd = self.tcp.as_raw_fd();
        match petrel_ktls::offload_unbuffered(fd, self.session.into_connection()) {
            Ok(_) => Handoff::Kernel(KtlsStream { tcp: self.tcp }),
            Err(error) => Handoff::Failed(KtlsFallback::OffloadFailed, error.to_string()),
        }
    }
}

/// A socket whose records the kernel encrypts and decrypts: reads and
/// writes are plain, except that a control record makes a read fail with
/// `EIO` and must be fetched with `recvmsg`.
pub(crate) struct KtlsStream {
    tcp: TcpStream,
}

impl KtlsStream {
    /// A kernel-TLS socket another thread handed over.
    pub fn from_tcp(tcp: TcpStream) -> KtlsStream {
        KtlsStream { tcp }
    }
}

/// Room for one TLS record's plaintext.
const RECORD_BUFFER_BYTES: usize = 16 * 1024 + 256;

impl Transport for KtlsStream {
    async fn read_into(&mut self, mut buffer: BytesMut) -> (io::Result<usize>, BytesMut) {
        loop {
            let (result, returned) = self.tcp.read_into(buffer).await;
            buffer = returned;
            match result {
                Err(error) if error.raw_os_error() == Some(libc::EIO) => {}
                other => return (other, buffer),
            }
            use std::os::fd::AsRawFd;
            let mut record = vec![0u8; RECORD_BUFFER_BYTES];
            match petrel_ktls::recv_record(self.tcp.as_raw_fd(), &mut record) {
                Ok(petrel_ktls::Record::Data(n)) => {
                    buffer.extend_from_slice(&record[..n]);
                    return (Ok(n), buffer);
                }
                Ok(petrel_ktls::Record::Eof) => return (Ok(0), buffer),
                Ok(petrel_ktls::Record::Alert { description, .. }) => {
                    if description == petrel_ktls::ALERT_CLOSE_NOTIFY {
                        return (Ok(0), buffer);
                    }
                    let error = io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("peer sent TLS alert {description}"),
                    );
                    return (Err(error), buffer);
                }
                Ok(petrel_ktls::Record::Handshake { msg_type, .. })
                    if msg_type == petrel_ktls::HANDSHAKE_NEW_SESSION_TICKET => {}
                Ok(petrel_ktls::Record::Handshake { msg_type, .. }) => {
                    let error = io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        format!("TLS handshake message {msg_type} after the handoff (a KeyUpdate needs a re-key the kernel cannot do)"),
                    );
                    return (Err(error), buffer);
                }
                Ok(_) => {}
                Err(error) => return (Err(error), buffer),
            }
        }
    }

    async fn write_all(&mut self, buffer: BytesMut) -> (io::Result<()>, BytesMut) {
        Transport::write_all(&mut self.tcp, buffer).await
    }

    async fn write_pieces(&mut self, pieces: Vec<Bytes>) -> (io::Result<()>, Vec<Bytes>) {
        Transport::write_pieces(&mut self.tcp, pieces).await
    }

    async fn close(&mut self) {
        use std::os::fd::AsRawFd;
        let _ = petrel_ktls::send_close_notify(self.tcp.as_raw_fd());
        let _ = AsyncWriteRent::shutdown(&mut self.tcp).await;
    }

    fn detach(self) -> Result<crate::sync_ring::Detached, Self> {
        Ok(crate::sync_ring::Detached::Ktls(
            crate::sync_ring::detach_tcp(self.tcp),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::missing_bytes;

    #[test]
    fn missing_bytes_completes_the_last_record_only() {
        assert_eq!(missing_bytes(b"").expect("empty"), 0);
        assert_eq!(missing_bytes(b"\x16\x03").expect("partial header"), 3);
        assert_eq!(
            missing_bytes(b"\x16\x03\x01\x00\x04ab").expect("partial body"),
            2
        );
        // A complete record kept by rustls, then the start of the next one.
        assert_eq!(
            missing_bytes(b"\x16\x03\x03\x00\x01a\x16\x03").expect("two"),
            3
        );
        assert_eq!(
            missing_bytes(b"\x16\x03\x03\x00\x01a").expect("boundary"),
            0
        );
        assert!(missing_bytes(b"\x16\x03\x03\xff\xff").is_err());
    }
}
