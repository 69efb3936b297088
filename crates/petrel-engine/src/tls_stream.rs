//! Userspace TLS over a monoio socket: rustls's handshake, then record
//! protection in userspace for connections the kernel cannot take.
//!
//! Ciphertext is read into one buffer and fed to rustls; plaintext comes out
//! of rustls straight into the connection's read buffer. Replies are handed
//! to rustls in one piece per batch, so a pipeline's replies leave in as few
//! records as their size allows.

use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use monoio::io::{AsyncReadRent, AsyncReadRentExt, AsyncWriteRent, AsyncWriteRentExt};
use monoio::net::TcpStream;
use petrel_ktls::RecordFramer;
use petrel_tls::rustls::{self, ServerConfig, ServerConnection};

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

    pub fn connection(&self) -> &ServerConnection {
        &self.tls
    }

    async fn handshake(&mut self) -> Result<(), HandshakeError> {
        // `incoming` may start with part of the first record (the bytes read
        // to tell TLS from RESP): complete it before rustls sees it.
        while self.tls.is_handshaking() {
            self.read_record().await?;
            let fed = self.feed();
            // An alert for a failed handshake goes out before the error returns.
            self.flush().await?;
            fed?;
        }
        Ok(())
    }

    /// Reads exactly one TLS record into `incoming`. During the handshake
    /// nothing beyond the record is read, so bytes a client sends right
    /// behind its Finished stay in the socket for whoever reads next
    /// (the kernel, after a kTLS handoff).
    async fn read_record(&mut self) -> Result<(), HandshakeError> {
        let malformed = |error: petrel_ktls::FramingError| {
            HandshakeError::Io(io::Error::new(io::ErrorKind::InvalidData, error))
        };
        let mut framer = RecordFramer::new();
        framer.push(&self.incoming).map_err(malformed)?;
        self.incoming.clear();
        loop {
            let needed = framer.needed().map_err(malformed)?;
            if needed == 0 {
                if let Some(record) = framer.record() {
                    self.incoming.extend_from_slice(record);
                }
                return Ok(());
            }
            let (result, buffer) = self.tcp.read_exact(vec![0u8; needed]).await;
            match result {
                Ok(_) => framer.push(&buffer).map_err(malformed)?,
                Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(HandshakeError::Closed)
                }
                Err(error) => return Err(HandshakeError::Io(error)),
            }
        }
    }

    /// Gives buffered ciphertext to rustls and lets it process the records.
    fn feed(&mut self) -> Result<(), rustls::Error> {
        while !self.incoming.is_empty() {
            let mut reader = &self.incoming[..];
            // An error means rustls's buffer is full: process what it has, then go on.
            let taken = self.tls.read_tls(&mut reader).unwrap_or_default();
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

    /// Appends the plaintext rustls holds to `buffer`, straight from its
    /// record buffers. `Some(n)` with the bytes taken, `Some(0)` once the
    /// peer sent close_notify and everything before it was taken, `None`
    /// when rustls needs more ciphertext.
    fn take_plaintext(&mut self, buffer: &mut BytesMut) -> io::Result<Option<usize>> {
        let mut reader = self.tls.reader();
        let mut taken = 0;
        loop {
            match reader.fill_buf() {
                Ok([]) => return Ok(Some(taken)),
                Ok(chunk) => {
                    let len = chunk.len();
                    buffer.extend_from_slice(chunk);
                    reader.consume(len);
                    taken += len;
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                    return Ok((taken > 0).then_some(taken));
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Sends every record rustls has ready.
    async fn flush(&mut self) -> io::Result<()> {
        while self.tls.wants_write() {
            self.outgoing.clear();
            self.tls.write_tls(&mut self.outgoing)?;
            let buffer = std::mem::take(&mut self.outgoing);
            let (result, buffer) = AsyncWriteRentExt::write_all(&mut self.tcp, buffer).await;
            self.outgoing = buffer;
            result?;
        }
        Ok(())
    }
}

impl Transport for TlsStream {
    async fn read_into(&mut self, mut buffer: BytesMut) -> (io::Result<usize>, BytesMut) {
        loop {
            // rustls decrypts in `feed`; between feeds there is nothing new
            // for `process_new_packets` to do, so plaintext is taken as is.
            match self.take_plaintext(&mut buffer) {
                Ok(Some(read)) => return (Ok(read), buffer),
                Ok(None) => {}
                Err(error) => return (Err(error), buffer),
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
        let _ = AsyncWriteRent::shutdown(&mut self.tcp).await;
    }

    /// Every reply was flushed before the handoff, so rustls owes nothing;
    /// `outgoing` only holds records already sent.
    fn detach(self) -> Result<crate::sync_ring::Detached, Self> {
        Ok(crate::sync_ring::Detached::Tls(Box::new(
            crate::sync_ring::TlsParts {
                tcp: crate::sync_ring::detach_tcp(self.tcp),
                tls: self.tls,
                incoming: self.incoming.to_vec(),
            },
        )))
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
        let Some(suite) = self.tls.negotiated_cipher_suite() else {
            return Handoff::Userspace(Box::new(self), KtlsFallback::CipherNotSupported);
        };
        if capabilities.check_suite(suite).is_err() {
            return Handoff::Userspace(Box::new(self), KtlsFallback::CipherNotSupported);
        }
        let buffered = self
            .tls
            .process_new_packets()
            .map(|state| state.plaintext_bytes_to_read())
            .unwrap_or(1);
        if buffered > 0 || !self.incoming.is_empty() {
            return Handoff::Userspace(Box::new(self), KtlsFallback::DataBuffered);
        }
        use std::os::fd::AsRawFd;
        let fd = self.tcp.as_raw_fd();
        match petrel_ktls::offload_connection(fd, self.tls) {
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
