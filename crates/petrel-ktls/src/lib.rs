//! Kernel TLS (kTLS) handoff for a socket on which rustls finished a handshake.
//!
//! This crate owns the boundary between rustls and the Linux kernel's TLS
//! record layer, on a raw file descriptor and without an async runtime:
//!
//! 1. [`probe`] (once, at start-up): can this kernel take kTLS at all, and
//!    which versions and ciphers?
//! 2. [`complete_handshake`] or [`RecordFramer`]: run the rustls handshake
//!    reading one record at a time, so nothing the client sent behind its
//!    Finished message is consumed by rustls (a client pipelining its first
//!    command must get its answer).
//! 3. [`offload_connection`] ([`offload_unbuffered`] for rustls's unbuffered
//!    server connection, or [`offload`] with already extracted secrets):
//!    `TCP_ULP "tls"`, then `TLS_TX` and `TLS_RX` with keys, IVs and sequence
//!    numbers. The socket then carries plaintext for the caller.
//! 4. After the handoff, ordinary `read`/`write` (or io_uring recv/send) move
//!    application data. **A plain read fails with `EIO` when the next record is
//!    not application data**: the engine must then call [`recv_record`] with a
//!    buffer of at least 16 KiB, which returns the alert or handshake record
//!    (the record is already queued, so this does not wait). close_notify and
//!    other alerts end the connection cleanly; a TLS 1.3 NewSessionTicket
//!    (only clients receive them) can be ignored; a KeyUpdate must end the
//!    connection, since this crate does not re-key the kernel (Debian 12's
//!    6.1 kernel cannot). [`send_close_notify`] ends our direction cleanly.
//!
//! A blocking server, in outline (the engine does the same with io_uring,
//! driving [`RecordFramer`] itself):
//!
//! ```no_run
//! use std::io::Read;
//! use std::net::TcpStream;
//! use std::os::fd::AsRawFd;
//! use std::sync::Arc;
//!
//! use petrel_ktls::{complete_handshake, offload_connection, recv_record, Record};
//!
//! fn serve(
//!     mut stream: TcpStream,
//!     config: Arc<rustls::ServerConfig>, // with enable_secret_extraction = true
//!     capabilities: &petrel_ktls::Capabilities, // from probe(), at start-up
//! ) -> Result<(), Box<dyn std::error::Error>> {
//!     let mut conn = rustls::ServerConnection::new(config)?;
//!     complete_handshake(&mut conn, &mut stream)?;
//!     let suite = conn.negotiated_cipher_suite().ok_or("no suite")?;
//!     capabilities.check_suite(suite)?; // on Err, stay on userspace rustls
//!     offload_connection(stream.as_raw_fd(), conn)?;
//!     let mut buf = vec![0u8; 16 * 1024 + 256];
//!     loop {
//!         match stream.read(&mut buf) {
//!             Ok(0) => return Ok(()),
//!             Ok(_n) => { /* plaintext in buf[.._n] */ }
//!             Err(e) if e.raw_os_error() == Some(libc::EIO) => {
//!                 match recv_record(stream.as_raw_fd(), &mut buf)? {
//!                     record if record.is_close_notify() => {
//!                         petrel_ktls::send_close_notify(stream.as_raw_fd())?;
//!                         return Ok(());
//!                     }
//!                     Record::Data(_) => {}
//!                     other => return Err(format!("connection ended by {other}").into()),
//!                 }
//!             }
//!             Err(e) => return Err(e.into()),
//!         }
//!     }
//! }
//! ```
//!
//! It also answers [`peer_hung_up`] (a `TCP_INFO` query) and
//! [`shutdown_socket`], which the engine needs on the same raw descriptors,
//! so that the data plane's system calls stay in this crate.
//!
//! What this crate must not do: decide policy (fallback to userspace TLS,
//! counting reasons, closing connections are the engine's), know any async
//! runtime, or log key material. All `unsafe` code is in `sys`, each block with
//! the invariant it relies on.
//!
//! Once secrets are extracted the rustls session is gone: a connection whose
//! offload fails must be closed. Use [`Capabilities::check_suite`] (from
//! [`probe`]) before extracting to keep a connection on userspace rustls when
//! the kernel cannot take its suite.
//!
//! Long-lived connections: the kernel does not count records against the AEAD
//! confidentiality limits (2^24.5 records for AES-GCM in TLS 1.3); the caller
//! must close and reconnect long before (see
//! `rustls::CipherSuiteCommon::confidentiality_limit`).

#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod crypto_info;
mod handshake;
mod record;
#[allow(
    unsafe_code,
    reason = "the one module making system calls with raw pointers"
)]
mod sys;

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use rustls::{Connection, ExtractedSecrets, SupportedCipherSuite};

pub use crate::crypto_info::{
    Aes128GcmInfo, Aes256GcmInfo, Chacha20Poly1305Info, Cipher, CryptoInfo, TlsCryptoInfo,
    TlsVersion, TLS_1_2_VERSION, TLS_1_3_VERSION, TLS_CIPHER_AES_GCM_128, TLS_CIPHER_AES_GCM_256,
    TLS_CIPHER_CHACHA20_POLY1305,
};
pub use crate::handshake::{
    complete_handshake, FramingError, RecordFramer, MAX_RECORD_BODY_LEN, RECORD_HEADER_LEN,
};
pub use crate::record::{
    recv_record, send_alert, send_close_notify, send_record, Record, TlsStat, ALERT_CLOSE_NOTIFY,
    ALERT_LEVEL_FATAL, ALERT_LEVEL_WARNING, CONTENT_ALERT, CONTENT_APPLICATION_DATA,
    CONTENT_CHANGE_CIPHER_SPEC, CONTENT_HANDSHAKE, HANDSHAKE_KEY_UPDATE,
    HANDSHAKE_NEW_SESSION_TICKET,
};

/// Whether the peer of a TCP socket has closed its side (FIN or reset),
/// without reading anything: a server that is not reading (a client blocked
/// in BLPOP) learns this way that nobody waits for the answer any more.
pub fn peer_hung_up(fd: RawFd) -> io::Result<bool> {
    // Linux's TCP states (include/net/tcp_states.h).
    const TCP_CLOSE: u8 = 7;
    const TCP_CLOSE_WAIT: u8 = 8;
    const TCP_LAST_ACK: u8 = 9;
    let state = sys::tcp_state(fd)?;
    Ok(matches!(state, TCP_CLOSE | TCP_CLOSE_WAIT | TCP_LAST_ACK))
}

/// Shuts a socket down in both directions without closing it: the task
/// that owns the descriptor sees end of stream and closes it as usual.
pub fn shutdown_socket(fd: RawFd) -> io::Result<()> {
    sys::shutdown_both(fd)
}

/// Why a connection cannot move to kernel TLS.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// `setsockopt(TCP_ULP, "tls")` failed with `ENOENT`: the kernel was built
    /// without `CONFIG_TLS` or cannot load the `tls` module.
    #[error(
        "kernel TLS is unavailable: this kernel has no \"tls\" upper-layer protocol \
         (setsockopt TCP_ULP failed with ENOENT; CONFIG_TLS is off or the tls module cannot be loaded)"
    )]
    KernelLacksTls,
    /// The kernel (or this crate) cannot take the negotiated version and cipher.
    #[error("kernel TLS cannot take this session: {0}")]
    CipherNotSupported(String),
    /// rustls would not hand over the session's secrets, or the connection
    /// was not in a state to hand over (handshake running, unsent records,
    /// decrypted data still buffered).
    #[error("the TLS session cannot be handed to the kernel: {0}")]
    SecretsNotExtractable(String),
    /// Any other failure of the system calls.
    #[error("kernel TLS setup failed: {0}")]
    Os(#[source] io::Error),
}

impl Unavailable {
    /// A short stable label for counting fallbacks by reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Unavailable::KernelLacksTls => "kernel_lacks_tls",
            Unavailable::CipherNotSupported(_) => "cipher_not_supported",
            Unavailable::SecretsNotExtractable(_) => "secrets_not_extractable",
            Unavailable::Os(_) => "os_error",
        }
    }
}

/// A socket whose record layer now runs in the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offloaded {
    pub version: TlsVersion,
    pub cipher: Cipher,
    /// Sequence number of the first record the kernel sends.
    pub tx_seq: u64,
    /// Sequence number of the first record the kernel receives.
    pub rx_seq: u64,
}

/// Versions and ciphers for which this kernel accepted both `TLS_TX` and
/// `TLS_RX`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Capabilities {
    supported: Vec<(TlsVersion, Cipher)>,
}

impl Capabilities {
    pub fn supports(&self, version: TlsVersion, cipher: Cipher) -> bool {
        self.supported.contains(&(version, cipher))
    }

    /// Whether a negotiated rustls suite can go to this kernel; call before
    /// extracting secrets, so a refused session can stay on rustls.
    pub fn check_suite(&self, suite: SupportedCipherSuite) -> Result<(), Unavailable> {
        let (version, cipher) = suite_parts(suite)?;
        if self.supports(version, cipher) {
            Ok(())
        } else {
            Err(Unavailable::CipherNotSupported(format!(
                "the kernel refused {version} {cipher} when probed"
            )))
        }
    }

    /// Every accepted pair, in probe order.
    pub fn supported(&self) -> &[(TlsVersion, Cipher)] {
        &self.supported
    }
}

/// Asks the kernel whether it does kTLS: sets `TCP_ULP "tls"` on a loopback
/// TCP connection, then for each version and cipher installs zeroed keys for
/// `TLS_TX` on one end and `TLS_RX` on the other. Costs a few loopback
/// connections; call it once at start-up.
///
/// Returns `KernelLacksTls` where the kernel has no TLS module (this is the
/// answer on kernels built without `CONFIG_TLS`), `CipherNotSupported` when it
/// has the module but took no cipher at all, and `Os` when loopback TCP fails.
pub fn probe() -> Result<Capabilities, Unavailable> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(Unavailable::Os)?;
    let address = listener.local_addr().map_err(Unavailable::Os)?;
    let mut supported = Vec::new();
    let mut refusals = Vec::new();
    for version in TlsVersion::ALL {
        for cipher in Cipher::ALL {
            let sender = TcpStream::connect(address).map_err(Unavailable::Os)?;
            let (receiver, _) = listener.accept().map_err(Unavailable::Os)?;
            set_ulp(sender.as_raw_fd())?;
            set_ulp(receiver.as_raw_fd())?;
            let keys = CryptoInfo::zeroed(version, cipher);
            let result = sys::set_crypto_info(sender.as_raw_fd(), sys::TLS_TX, &keys)
                .map_err(|e| ("TLS_TX", e))
                .and_then(|()| {
                    sys::set_crypto_info(receiver.as_raw_fd(), sys::TLS_RX, &keys)
                        .map_err(|e| ("TLS_RX", e))
                });
            match result {
                Ok(()) => supported.push((version, cipher)),
                Err((direction, e)) => {
                    refusals.push(format!("{version} {cipher} ({direction}: {e})"));
                }
            }
        }
    }
    if supported.is_empty() {
        return Err(Unavailable::CipherNotSupported(format!(
            "the kernel has the tls module but refused every cipher: {}",
            refusals.join(", ")
        )));
    }
    Ok(Capabilities { supported })
}

/// Moves record protection of an established session to the kernel:
/// `TCP_ULP "tls"`, then `TLS_TX` and `TLS_RX` with the keys, IVs and
/// sequence numbers in `secrets`.
///
/// Preconditions, which the caller guarantees: every TLS record rustls
/// produced has been written to the socket (the kernel continues the
/// sequence numbers rustls counted), and no byte after the peer's last
/// handshake record has been read from the socket, or any such bytes were
/// processed by rustls and their plaintext is held by the caller. Reading the
/// handshake with [`complete_handshake`] or [`RecordFramer`] guarantees both.
///
/// `fd` must be a connected TCP socket the caller owns for the duration of
/// the call; a wrong descriptor number affects that descriptor's socket
/// options, never memory. On `Err` other than `KernelLacksTls` the socket may
/// be half configured: close it.
pub fn offload(
    fd: RawFd,
    suite: SupportedCipherSuite,
    secrets: ExtractedSecrets,
) -> Result<Offloaded, Unavailable> {
    let (version, cipher) = suite_parts(suite)?;
    let (tx_seq, tx_secrets) = &secrets.tx;
    let (rx_seq, rx_secrets) = &secrets.rx;
    let tx = CryptoInfo::new(version, *tx_seq, tx_secrets)?;
    let rx = CryptoInfo::new(version, *rx_seq, rx_secrets)?;
    if tx.cipher() != cipher || rx.cipher() != cipher {
        return Err(Unavailable::SecretsNotExtractable(format!(
            "rustls negotiated {cipher} but extracted {} / {} secrets",
            tx.cipher(),
            rx.cipher()
        )));
    }
    set_ulp(fd)?;
    sys::set_crypto_info(fd, sys::TLS_TX, &tx)
        .map_err(|e| refused(version, cipher, "TLS_TX", e))?;
    sys::set_crypto_info(fd, sys::TLS_RX, &rx)
        .map_err(|e| refused(version, cipher, "TLS_RX", e))?;
    Ok(Offloaded {
        version,
        cipher,
        tx_seq: *tx_seq,
        rx_seq: *rx_seq,
    })
}

/// Checks that a rustls connection can hand over without losing a byte,
/// extracts its secrets (the connection's config must have
/// `enable_secret_extraction = true`) and calls [`offload`].
///
/// Refuses, before touching the socket, a connection that is still
/// handshaking, has TLS records not yet written, or holds decrypted data the
/// caller has not read. Either way the rustls session is consumed.
pub fn offload_connection(
    fd: RawFd,
    connection: impl Into<Connection>,
) -> Result<Offloaded, Unavailable> {
    let mut connection = connection.into();
    if connection.is_handshaking() {
        return Err(Unavailable::SecretsNotExtractable(
            "the handshake has not completed".into(),
        ));
    }
    if connection.wants_write() {
        return Err(Unavailable::SecretsNotExtractable(
            "rustls holds TLS records not yet written to the socket (flush with write_tls first)"
                .into(),
        ));
    }
    let state = connection
        .process_new_packets()
        .map_err(|e| Unavailable::SecretsNotExtractable(e.to_string()))?;
    if state.plaintext_bytes_to_read() > 0 {
        return Err(Unavailable::SecretsNotExtractable(format!(
            "rustls holds {} decrypted bytes the caller has not read",
            state.plaintext_bytes_to_read()
        )));
    }
    let suite = connection.negotiated_cipher_suite().ok_or_else(|| {
        Unavailable::SecretsNotExtractable("no cipher suite was negotiated".into())
    })?;
    let secrets = connection
        .dangerous_extract_secrets()
        .map_err(|e| Unavailable::SecretsNotExtractable(e.to_string()))?;
    offload(fd, suite, secrets)
}

/// [`offload_connection`] for rustls's unbuffered server connection: the
/// same refusals, before touching the socket, for a connection still
/// handshaking, holding TLS records not yet encoded or sent, or holding
/// decrypted data; the caller must also hold no ciphertext it read but did
/// not give to rustls. Either way the rustls session is consumed.
pub fn offload_unbuffered(
    fd: RawFd,
    mut connection: rustls::server::UnbufferedServerConnection,
) -> Result<Offloaded, Unavailable> {
    use rustls::unbuffered::ConnectionState;
    if connection.is_handshaking() {
        return Err(Unavailable::SecretsNotExtractable(
            "the handshake has not completed".into(),
        ));
    }
    // With no new ciphertext, rustls reports first whatever it still holds:
    // plaintext, records to encode or to send. Only a settled connection
    // answers WriteTraffic.
    let held = match connection.process_tls_records(&mut []).state {
        Ok(ConnectionState::WriteTraffic(_)) => None,
        Ok(ConnectionState::ReadTraffic(_)) => {
            Some("rustls holds decrypted bytes the caller has not read".to_string())
        }
        Ok(ConnectionState::EncodeTlsData(_) | ConnectionState::TransmitTlsData(_)) => {
            Some("rustls holds TLS records not yet written to the socket".to_string())
        }
        Ok(other) => Some(format!("the connection is in state {other:?}")),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = held {
        return Err(Unavailable::SecretsNotExtractable(why));
    }
    let suite = connection.negotiated_cipher_suite().ok_or_else(|| {
        Unavailable::SecretsNotExtractable("no cipher suite was negotiated".into())
    })?;
    // The replacement, `dangerous_into_kernel_connection`, exists to follow
    // key updates; the kernel here cannot re-key, so the plain secrets are
    // what it takes, exactly as for the buffered connection.
    #[expect(
        deprecated,
        reason = "the kernel takes secrets, not a rustls kernel connection"
    )]
    let secrets = connection
        .dangerous_extract_secrets()
        .map_err(|e| Unavailable::SecretsNotExtractable(e.to_string()))?;
    offload(fd, suite, secrets)
}

/// Splits a rustls suite into what the kernel needs to know.
fn suite_parts(suite: SupportedCipherSuite) -> Result<(TlsVersion, Cipher), Unavailable> {
    let version = TlsVersion::from_rustls(suite.version().version).ok_or_else(|| {
        Unavailable::CipherNotSupported(format!("{:?} is not TLS 1.2 or 1.3", suite.version()))
    })?;
    let cipher = Cipher::of_suite(suite).ok_or_else(|| {
        Unavailable::CipherNotSupported(format!(
            "{:?} uses no cipher kernel TLS has",
            suite.suite()
        ))
    })?;
    Ok((version, cipher))
}

fn set_ulp(fd: RawFd) -> Result<(), Unavailable> {
    sys::set_ulp_tls(fd).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => Unavailable::KernelLacksTls,
        _ => Unavailable::Os(e),
    })
}

/// Errors the kernel gives for a version or cipher it does not implement (or
/// whose crypto module it cannot load) are a cipher refusal; others are not.
fn refused(version: TlsVersion, cipher: Cipher, direction: &str, e: io::Error) -> Unavailable {
    // 524 is the kernel-internal ENOTSUPP, which setsockopt can leak.
    const ENOTSUPP: i32 = 524;
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOPROTOOPT | ENOTSUPP) => {
            Unavailable::CipherNotSupported(format!(
                "setsockopt {direction} refused {version} {cipher}: {e}"
            ))
        }
        _ => Unavailable::Os(e),
    }
}
