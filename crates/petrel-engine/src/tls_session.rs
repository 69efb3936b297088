//! The record layer of one server-side TLS session, without I/O: rustls's
//! unbuffered connection and the ciphertext buffers around it.
//!
//! Ciphertext read from the socket lands in `incoming`; rustls deframes and
//! decrypts each record there, in place, and its plaintext is appended once
//! to the caller's buffer. Replies are encrypted straight into `outgoing`,
//! which the caller sends in one write. Handshake messages rustls emits
//! (tickets, key updates, alerts) join `outgoing` in order.
//!
//! What this must not do: touch a socket or wait. The async transport
//! (`tls_stream`) and the sync ring's replica links drive it.

use std::io;

use bytes::{Buf, BytesMut};
use petrel_tls::rustls::server::UnbufferedServerConnection;
use petrel_tls::rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use petrel_tls::rustls::{self, ServerConfig};
use std::sync::Arc;

/// Per-record room beyond the plaintext: header, tag, content type, and the
/// explicit nonce of TLS 1.2 GCM, rounded up.
const RECORD_OVERHEAD_BYTES: usize = 64;
/// Largest plaintext fragment rustls puts in one record.
const MAX_FRAGMENT_BYTES: usize = 16 * 1024;
/// Room for handshake messages queued behind our back (a KeyUpdate).
const QUEUED_MESSAGE_BYTES: usize = 256;
/// How many alert records a failed session may still emit; rustls queues one.
const ALERTS_MAX: usize = 8;

#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("TLS encryption: {0}")]
    Encrypt(#[from] EncryptError),
    #[error("TLS encoding: {0}")]
    Encode(#[from] EncodeError),
    #[error("TLS: the client sent early data, which is not accepted")]
    EarlyData,
    #[error("TLS: cannot send, the session is {0}")]
    NotWritable(&'static str),
    #[error("TLS: unexpected session state {0}")]
    UnexpectedState(String),
}

impl From<SessionError> for io::Error {
    fn from(error: SessionError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, error)
    }
}

/// Where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Progress {
    /// Every complete record was decoded; more ciphertext is needed.
    NeedsData,
    /// The peer sent close_notify; everything before it was delivered.
    PeerClosed,
}

/// What to do once rustls lets us write.
enum Request<'a> {
    Nothing,
    Encrypt(&'a [u8]),
    CloseNotify,
}

/// Ciphertext on its way to the socket. The vector stays initialized to
/// its full length so rustls can write into its tail without a fill per call.
#[derive(Default)]
struct Outgoing {
    buffer: Vec<u8>,
    filled: usize,
}

impl Outgoing {
    fn tail(&mut self) -> &mut [u8] {
        &mut self.buffer[self.filled..]
    }

    fn ensure_tail(&mut self, bytes: usize) {
        let needed = self.filled + bytes;
        if self.buffer.len() < needed {
            self.buffer.resize(needed.max(self.buffer.len() * 2), 0);
        }
    }
}

pub(crate) struct TlsSession {
    conn: UnbufferedServerConnection,
    /// Ciphertext read from the socket; rustls's discards advance its front.
    incoming: BytesMut,
    outgoing: Outgoing,
    /// Plaintext decoded while nobody was reading (during the handshake or a
    /// send); the next read takes it first.
    held: BytesMut,
    peer_closed: bool,
    /// Ciphertext arrived since the last full decode.
    unprocessed: bool,
}

impl TlsSession {
    /// A session starting with `initial` ciphertext already read.
    pub fn new(config: Arc<ServerConfig>, initial: BytesMut) -> Result<TlsSession, rustls::Error> {
        Ok(TlsSession {
            conn: UnbufferedServerConnection::new(config)?,
            unprocessed: !initial.is_empty(),
            incoming: initial,
            outgoing: Outgoing::default(),
            held: BytesMut::new(),
            peer_closed: false,
        })
    }

    pub fn connection(&self) -> &UnbufferedServerConnection {
        &self.conn
    }

    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Ciphertext not yet consumed by rustls.
    pub fn incoming(&self) -> &[u8] {
        &self.incoming
    }

    /// Whether ciphertext arrived since rustls last ran out of records.
    pub fn has_unprocessed(&self) -> bool {
        self.unprocessed
    }

    /// Puts back the buffer a socket read took with `take_incoming`.
    pub fn restore_incoming(&mut self, incoming: BytesMut) {
        self.incoming = incoming;
        self.unprocessed = true;
    }

    /// Takes the ciphertext buffer for a read that owns it (io_uring).
    pub fn take_incoming(&mut self) -> BytesMut {
        std::mem::take(&mut self.incoming)
    }

    /// Appends ciphertext received elsewhere (the sync ring's reader).
    pub fn push_ciphertext(&mut self, ciphertext: &[u8]) {
        self.incoming.extend_from_slice(ciphertext);
        self.unprocessed = true;
    }

    /// Bytes that would be lost if the session changed hands now: ciphertext
    /// not decoded, plaintext not delivered, records not sent.
    pub fn holds_data(&self) -> bool {
        !self.incoming.is_empty() || !self.held.is_empty() || self.outgoing.filled > 0
    }

    pub fn into_connection(self) -> UnbufferedServerConnection {
        self.conn
    }

    /// Decodes the complete records in `incoming`, appending their plaintext
    /// to `plaintext`.
    pub fn read(&mut self, plaintext: &mut BytesMut) -> Result<Progress, SessionError> {
        if !self.held.is_empty() {
            plaintext.extend_from_slice(&self.held);
            self.held.clear();
        }
        if !self.unprocessed {
            return Ok(self.progress());
        }
        self.drive(Some(plaintext), Request::Nothing)
    }

    /// Runs the handshake as far as the ciphertext at hand allows.
    pub fn handshake(&mut self) -> Result<Progress, SessionError> {
        self.drive(None, Request::Nothing)
    }

    /// Encrypts `plaintext` into the outgoing records.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<(), SessionError> {
        if plaintext.is_empty() {
            return Ok(());
        }
        let records = plaintext.len() / MAX_FRAGMENT_BYTES + 1;
        self.outgoing
            .ensure_tail(plaintext.len() + records * RECORD_OVERHEAD_BYTES + QUEUED_MESSAGE_BYTES);
        self.drive(None, Request::Encrypt(plaintext)).map(|_| ())
    }

    /// Queues a close_notify alert.
    pub fn close_notify(&mut self) -> Result<(), SessionError> {
        self.drive(None, Request::CloseNotify).map(|_| ())
    }

    /// The ciphertext to send, as a buffer and its filled length; hand the
    /// buffer back with `sent` once it went out.
    pub fn take_outgoing(&mut self) -> Option<(Vec<u8>, usize)> {
        if self.outgoing.filled == 0 {
            return None;
        }
        let filled = std::mem::replace(&mut self.outgoing.filled, 0);
        Some((std::mem::take(&mut self.outgoing.buffer), filled))
    }

    /// Returns the buffer `take_outgoing` lent, to be reused.
    pub fn sent(&mut self, buffer: Vec<u8>) {
        if self.outgoing.buffer.is_empty() {
            self.outgoing.buffer = buffer;
        }
    }

    /// The ciphertext to send as an owned vector of exactly its bytes.
    pub fn take_outgoing_vec(&mut self) -> Vec<u8> {
        match self.take_outgoing() {
            Some((mut buffer, filled)) => {
                buffer.truncate(filled);
                buffer
            }
            None => Vec::new(),
        }
    }

    fn progress(&self) -> Progress {
        if self.peer_closed {
            Progress::PeerClosed
        } else {
            Progress::NeedsData
        }
    }

    /// Steps rustls's state machine until it needs more ciphertext (or, with
    /// a request, until the request is done). Plaintext goes to `plaintext`,
    /// or is held for the next read.
    fn drive(
        &mut self,
        mut plaintext: Option<&mut BytesMut>,
        mut request: Request<'_>,
    ) -> Result<Progress, SessionError> {
        let TlsSession {
            conn,
            incoming,
            outgoing,
            held,
            peer_closed,
            unprocessed,
        } = self;
        loop {
            let status = conn.process_tls_records(&mut incoming[..]);
            let mut discard = status.discard;
            let state = match status.state {
                Ok(state) => state,
                Err(error) => {
                    incoming.advance(discard);
                    drain_alerts(conn, incoming, outgoing);
                    return Err(error.into());
                }
            };
            let mut failure = None;
            let mut done = None;
            match state {
                ConnectionState::ReadTraffic(mut traffic) => {
                    let target: &mut BytesMut = match plaintext.as_deref_mut() {
                        Some(target) => target,
                        None => &mut *held,
                    };
                    while let Some(record) = traffic.next_record() {
                        match record {
                            Ok(record) => {
                                target.extend_from_slice(record.payload);
                                discard += record.discard;
                            }
                            Err(error) => {
                                failure = Some(SessionError::Tls(error));
                                break;
                            }
                        }
                    }
                }
                ConnectionState::EncodeTlsData(mut encode) => loop {
                    match encode.encode(outgoing.tail()) {
                        Ok(written) => {
                            outgoing.filled += written;
                            break;
                        }
                        Err(EncodeError::InsufficientSize(size)) => {
                            outgoing.ensure_tail(size.required_size)
                        }
                        Err(error) => {
                            failure = Some(SessionError::Encode(error));
                            break;
                        }
                    }
                },
                // The records stay in `outgoing`, which the caller sends
                // before it waits for the peer again; order is kept.
                ConnectionState::TransmitTlsData(transmit) => transmit.done(),
                ConnectionState::BlockedHandshake => {
                    if !matches!(request, Request::Nothing) {
                        failure = Some(SessionError::NotWritable("handshaking"));
                    }
                    *unprocessed = false;
                    done = Some(Progress::NeedsData);
                }
                ConnectionState::WriteTraffic(mut traffic) => {
                    let progress = if *peer_closed {
                        Progress::PeerClosed
                    } else {
                        Progress::NeedsData
                    };
                    // Once the request is encoded there is nothing more to do:
                    // rustls put what it had queued in front of it.
                    done = Some(progress);
                    match std::mem::replace(&mut request, Request::Nothing) {
                        Request::Nothing => *unprocessed = false,
                        Request::Encrypt(data) => loop {
                            match traffic.encrypt(data, outgoing.tail()) {
                                Ok(written) => {
                                    outgoing.filled += written;
                                    break;
                                }
                                Err(EncryptError::InsufficientSize(size)) => {
                                    // `required_size` counts from the tail's start.
                                    outgoing.ensure_tail(size.required_size)
                                }
                                Err(error) => {
                                    failure = Some(SessionError::Encrypt(error));
                                    break;
                                }
                            }
                        },
                        Request::CloseNotify => loop {
                            match traffic.queue_close_notify(outgoing.tail()) {
                                Ok(written) => {
                                    outgoing.filled += written;
                                    break;
                                }
                                Err(EncryptError::InsufficientSize(size)) => {
                                    outgoing.ensure_tail(size.required_size)
                                }
                                Err(error) => {
                                    failure = Some(SessionError::Encrypt(error));
                                    break;
                                }
                            }
                        },
                    }
                }
                ConnectionState::PeerClosed => *peer_closed = true,
                ConnectionState::Closed => {
                    *peer_closed = true;
                    *unprocessed = false;
                    if !matches!(request, Request::Nothing) {
                        failure = Some(SessionError::NotWritable("closed"));
                    }
                    done = Some(Progress::PeerClosed);
                }
                // Early data is not enabled in our configs; refuse rather
                // than serve replayable commands.
                ConnectionState::ReadEarlyData(_) => failure = Some(SessionError::EarlyData),
                other => failure = Some(SessionError::UnexpectedState(format!("{other:?}"))),
            }
            incoming.advance(discard);
            if let Some(error) = failure {
                return Err(error);
            }
            if let Some(progress) = done {
                return Ok(progress);
            }
        }
    }
}

/// Encodes the alert rustls queued for a fatal error, so the peer learns why.
fn drain_alerts(
    conn: &mut UnbufferedServerConnection,
    incoming: &mut BytesMut,
    outgoing: &mut Outgoing,
) {
    for _ in 0..ALERTS_MAX {
        let status = conn.process_tls_records(&mut incoming[..]);
        let discard = status.discard;
        let more = match status.state {
            Ok(ConnectionState::EncodeTlsData(mut encode)) => {
                outgoing.ensure_tail(QUEUED_MESSAGE_BYTES);
                match encode.encode(outgoing.tail()) {
                    Ok(written) => {
                        outgoing.filled += written;
                        true
                    }
                    Err(_) => false,
                }
            }
            Ok(ConnectionState::TransmitTlsData(transmit)) => {
                transmit.done();
                true
            }
            _ => false,
        };
        incoming.advance(discard);
        if !more {
            return;
        }
    }
}
