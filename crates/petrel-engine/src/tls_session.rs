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

use bytes::{Buf, Bytes, BytesMut};
use petrel_tls::rustls::server::UnbufferedServerConnection;
use petrel_tls::rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use petrel_tls::rustls::{self, ServerConfig};
use petrel_tls_record::{RecordBuffer, RecordStaging};
use std::sync::Arc;

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
    #[error("TLS: the session already failed")]
    Failed,
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

pub(crate) struct TlsSession {
    conn: UnbufferedServerConnection,
    /// Ciphertext read from the socket; rustls's discards advance its front.
    incoming: BytesMut,
    outgoing: RecordBuffer,
    /// Plaintext decoded while nobody was reading (during the handshake or a
    /// send); the next read takes it first.
    held: BytesMut,
    peer_closed: bool,
    /// Ciphertext arrived since the last full decode.
    unprocessed: bool,
    /// A call failed: rustls is not called again (it does not expect to be,
    /// and would queue a second fatal alert).
    failed: bool,
    /// Plaintext gathered from several pieces into one record (see
    /// [`TlsSession::encrypt_pieces`]); never more than one record's worth.
    staging: RecordStaging,
}

impl TlsSession {
    /// A session starting with `initial` ciphertext already read.
    pub fn new(config: Arc<ServerConfig>, initial: BytesMut) -> Result<TlsSession, rustls::Error> {
        Ok(TlsSession {
            conn: UnbufferedServerConnection::new(config)?,
            unprocessed: !initial.is_empty(),
            incoming: initial,
            outgoing: RecordBuffer::default(),
            held: BytesMut::new(),
            peer_closed: false,
            failed: false,
            staging: RecordStaging::default(),
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
        !self.incoming.is_empty() || !self.held.is_empty() || self.outgoing.filled() > 0
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
        self.outgoing.reserve_for_plaintext(plaintext.len());
        self.drive(None, Request::Encrypt(plaintext)).map(|_| ())
    }

    /// Encrypts `pieces` as if they were one buffer, into the same records:
    /// full ones but the last. A big piece is encrypted where it lies; only
    /// the bytes that share a record with a neighbour are copied, so a 64 KiB
    /// value between small replies costs no tiny records and little copying.
    pub fn encrypt_pieces(&mut self, pieces: &[Bytes]) -> Result<(), SessionError> {
        let mut staging = std::mem::take(&mut self.staging);
        let result = staging.encrypt_pieces(pieces, |run| self.encrypt(run));
        self.staging = staging;
        result
    }

    /// Queues a close_notify alert.
    pub fn close_notify(&mut self) -> Result<(), SessionError> {
        self.drive(None, Request::CloseNotify).map(|_| ())
    }

    /// The ciphertext to send, as a buffer and its filled length; hand the
    /// buffer back with `sent` once it went out.
    pub fn take_outgoing(&mut self) -> Option<(Vec<u8>, usize)> {
        self.outgoing.take()
    }

    /// Returns the buffer `take_outgoing` lent, to be reused.
    pub fn sent(&mut self, buffer: Vec<u8>) {
        self.outgoing.give_back(buffer);
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
        plaintext: Option<&mut BytesMut>,
        request: Request<'_>,
    ) -> Result<Progress, SessionError> {
        if self.failed {
            return Err(SessionError::Failed);
        }
        let result = self.step(plaintext, request);
        self.failed = result.is_err();
        result
    }

    fn step(
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
            failed: _,
            staging: _,
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
                ConnectionState::EncodeTlsData(mut encode) => {
                    if let Err(error) = outgoing.append_encoded(|tail| encode.encode(tail)) {
                        failure = Some(SessionError::Encode(error));
                    }
                }
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
                    let written = match std::mem::replace(&mut request, Request::Nothing) {
                        Request::Nothing => {
                            *unprocessed = false;
                            Ok(())
                        }
                        Request::Encrypt(data) => {
                            outgoing.append_encrypted(|tail| traffic.encrypt(data, tail))
                        }
                        Request::CloseNotify => {
                            outgoing.append_encrypted(|tail| traffic.queue_close_notify(tail))
                        }
                    };
                    if let Err(error) = written {
                        failure = Some(SessionError::Encrypt(error));
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

/// Encodes the alert rustls queued for a fatal error, so the peer learns
/// why. Called once: a second call would deframe what is left of
/// `incoming` on a failed connection.
fn drain_alerts(
    conn: &mut UnbufferedServerConnection,
    incoming: &mut BytesMut,
    outgoing: &mut RecordBuffer,
) {
    let status = conn.process_tls_records(&mut incoming[..]);
    if let Ok(ConnectionState::EncodeTlsData(mut encode)) = status.state {
        let _ = outgoing.append_encoded(|tail| encode.encode(tail));
    }
}

#[cfg(test)]
mod tests {
    //! A real rustls client against the session, through byte buffers.

    use std::io::{Read, Write};
    use std::time::SystemTime;

    use petrel_tls::rustls::client::{ClientConnection, Resumption};
    use petrel_tls::rustls::crypto::aws_lc_rs;
    use petrel_tls::rustls::{
        ClientConfig, HandshakeKind, ProtocolVersion, RootCertStore, SupportedProtocolVersion,
    };
    use petrel_tls::testing::{self, Profile, Validity};

    use super::*;
    use petrel_tls_record::MAX_FRAGMENT_BYTES;

    const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
    const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

    struct Pki {
        server: Arc<ServerConfig>,
        roots: RootCertStore,
    }

    fn pki() -> Pki {
        let now = SystemTime::now();
        let ca = testing::ca("test CA", now).expect("ca");
        let leaf = testing::issue(&ca, "localhost", Profile::Server, Validity::Current, now)
            .expect("leaf");
        let server = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_protocol_versions(&[&rustls::version::TLS12, &rustls::version::TLS13])
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![leaf.cert_der()], leaf.key_der())
            .expect("server config");
        let mut roots = RootCertStore::empty();
        roots.add(ca.cert_der()).expect("root");
        Pki {
            server: Arc::new(server),
            roots,
        }
    }

    fn client_config(
        pki: &Pki,
        versions: &[&'static SupportedProtocolVersion],
    ) -> Arc<ClientConfig> {
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_protocol_versions(versions)
                .expect("versions")
                .with_root_certificates(pki.roots.clone())
                .with_no_client_auth();
        config.resumption = Resumption::in_memory_sessions(16);
        Arc::new(config)
    }

    fn client_bytes(client: &mut ClientConnection) -> Vec<u8> {
        let mut out = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut out).expect("write_tls to a Vec");
        }
        out
    }

    /// Gives `bytes` to the client and returns the plaintext it decoded
    /// (read as it comes: the client holds at most 16 KiB unread).
    fn feed_client(
        client: &mut ClientConnection,
        mut bytes: &[u8],
    ) -> Result<Vec<u8>, rustls::Error> {
        let mut plaintext = Vec::new();
        while !bytes.is_empty() {
            client.read_tls(&mut bytes).expect("read_tls from a slice");
            client.process_new_packets()?;
            match client.reader().read_to_end(&mut plaintext) {
                Ok(_) => {}
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => panic!("client read: {error}"),
            }
        }
        Ok(plaintext)
    }

    /// Handshakes a fresh client with a fresh session.
    fn connect(pki: &Pki, config: Arc<ClientConfig>) -> (ClientConnection, TlsSession) {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let mut client = ClientConnection::new(config, name).expect("client");
        let mut session = TlsSession::new(pki.server.clone(), BytesMut::new()).expect("session");
        for _ in 0..16 {
            let to_server = client_bytes(&mut client);
            session.push_ciphertext(&to_server);
            session.handshake().expect("server handshake");
            let to_client = session.take_outgoing_vec();
            feed_client(&mut client, &to_client).expect("client handshake");
            if to_server.is_empty() && to_client.is_empty() {
                break;
            }
        }
        assert!(!client.is_handshaking() && !session.is_handshaking());
        (client, session)
    }

    /// Delivers `ciphertext` to the session `chunk` bytes at a time, as
    /// reads split it, and collects the plaintext.
    fn deliver(session: &mut TlsSession, ciphertext: &[u8], chunk: usize) -> (Vec<u8>, Progress) {
        let mut plaintext = BytesMut::new();
        let mut progress = Progress::NeedsData;
        for piece in ciphertext.chunks(chunk) {
            session.push_ciphertext(piece);
            progress = session.read(&mut plaintext).expect("server read");
        }
        (plaintext.to_vec(), progress)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn pipelined_requests_and_a_multi_record_reply_cross_intact_on_both_versions() {
        let pki = pki();
        for (versions, expected) in [
            (TLS13, ProtocolVersion::TLSv1_3),
            (TLS12, ProtocolVersion::TLSv1_2),
        ] {
            let (mut client, mut session) = connect(&pki, client_config(&pki, versions));
            assert_eq!(session.connection().protocol_version(), Some(expected));
            // 200 commands, each its own record, arriving in odd-sized pieces
            // that split records and hold several at once.
            let mut sent = Vec::new();
            for i in 0..200 {
                let command = format!("*3\r\n$3\r\nSET\r\n$4\r\nk{i:03}\r\n$1\r\nv\r\n");
                client
                    .writer()
                    .write_all(command.as_bytes())
                    .expect("write");
                sent.extend_from_slice(command.as_bytes());
            }
            let ciphertext = client_bytes(&mut client);
            let (received, progress) = deliver(&mut session, &ciphertext, 997);
            assert_eq!(received, sent);
            assert_eq!(progress, Progress::NeedsData);
            assert!(session.incoming().is_empty());
            // A 64 KiB reply leaves as several records in one buffer.
            let reply = pattern(64 * 1024 + 13);
            session.encrypt(&reply).expect("encrypt");
            let out = session.take_outgoing_vec();
            assert!(out.len() > reply.len());
            assert_eq!(feed_client(&mut client, &out).expect("client reads"), reply);
        }
    }

    /// The plaintext lengths of the application-data records in `ciphertext`.
    fn record_lengths(mut ciphertext: &[u8], overhead: usize) -> Vec<usize> {
        let mut lengths = Vec::new();
        while ciphertext.len() >= 5 {
            let length = u16::from_be_bytes([ciphertext[3], ciphertext[4]]) as usize;
            if ciphertext[0] == 23 {
                lengths.push(length - overhead);
            }
            ciphertext = &ciphertext[5 + length..];
        }
        lengths
    }

    #[test]
    fn pieces_are_encrypted_into_the_records_one_buffer_would_make() {
        let pki = pki();
        let (mut client, mut session) = connect(&pki, client_config(&pki, TLS13));
        let _ = session.take_outgoing_vec();
        let value = Bytes::from(pattern(64 * 1024));
        let pieces = [
            Bytes::from_static(b"+OK\r\n$65536\r\n"),
            value.clone(),
            Bytes::from_static(b"\r\n:1\r\n$65536\r\n"),
            value.clone(),
            Bytes::from(pattern(40 * 1024)),
            Bytes::from_static(b"\r\n"),
        ];
        session.encrypt_pieces(&pieces).expect("encrypt");
        let ciphertext = session.take_outgoing_vec();
        let whole = pieces.concat();
        // TLS 1.3 adds the content type byte and a 16-byte tag to each record.
        let lengths = record_lengths(&ciphertext, 17);
        let full = whole.len() / MAX_FRAGMENT_BYTES;
        assert_eq!(lengths.len(), full + 1, "{lengths:?}");
        assert!(lengths[..full]
            .iter()
            .all(|&length| length == MAX_FRAGMENT_BYTES));
        assert_eq!(lengths[full], whole.len() % MAX_FRAGMENT_BYTES);
        assert_eq!(
            feed_client(&mut client, &ciphertext).expect("client reads"),
            whole
        );

        // Small pieces alone make one record.
        session
            .encrypt_pieces(&[
                Bytes::from_static(b"+OK\r\n"),
                Bytes::from_static(b":2\r\n"),
            ])
            .expect("encrypt");
        let ciphertext = session.take_outgoing_vec();
        assert_eq!(record_lengths(&ciphertext, 17), vec![9]);
        assert_eq!(
            feed_client(&mut client, &ciphertext).expect("client reads"),
            b"+OK\r\n:2\r\n"
        );
    }

    #[test]
    fn a_byte_at_a_time_and_a_maximum_size_record_both_decode() {
        let pki = pki();
        let (mut client, mut session) = connect(&pki, client_config(&pki, TLS13));
        let value = pattern(16 * 1024);
        client.writer().write_all(&value).expect("write");
        let ciphertext = client_bytes(&mut client);
        let (received, _) = deliver(&mut session, &ciphertext, 1);
        assert_eq!(received, value);
    }

    #[test]
    fn tls13_session_tickets_reach_the_client_and_resume() {
        let pki = pki();
        let config = client_config(&pki, TLS13);
        let (mut client, mut session) = connect(&pki, config.clone());
        // The first application data flushes whatever the client still
        // has to process (tickets arrive right after the handshake).
        client.writer().write_all(b"PING\r\n").expect("write");
        let ciphertext = client_bytes(&mut client);
        let (received, _) = deliver(&mut session, &ciphertext, 4096);
        assert_eq!(received, b"PING\r\n");
        let (resumed, _) = connect(&pki, config);
        assert_eq!(resumed.handshake_kind(), Some(HandshakeKind::Resumed));
    }

    #[test]
    fn a_client_key_update_is_answered_and_traffic_goes_on_both_ways() {
        let pki = pki();
        let (mut client, mut session) = connect(&pki, client_config(&pki, TLS13));
        client.refresh_traffic_keys().expect("key update");
        client.writer().write_all(b"after update").expect("write");
        let ciphertext = client_bytes(&mut client);
        let (received, _) = deliver(&mut session, &ciphertext, 4096);
        assert_eq!(received, b"after update");
        // The server's answering KeyUpdate goes out first, then the reply
        // under the new keys.
        session.encrypt(b"reply").expect("encrypt");
        let out = session.take_outgoing_vec();
        let received = feed_client(&mut client, &out).expect("client follows the update");
        assert_eq!(received, b"reply");
        // And the client's next records, under its new keys, still decode.
        client.writer().write_all(b"again").expect("write");
        let ciphertext = client_bytes(&mut client);
        let (received, _) = deliver(&mut session, &ciphertext, 3);
        assert_eq!(received, b"again");
    }

    #[test]
    fn close_notify_delivers_what_came_before_then_reports_the_close() {
        let pki = pki();
        let (mut client, mut session) = connect(&pki, client_config(&pki, TLS12));
        client.writer().write_all(b"last words").expect("write");
        client.send_close_notify();
        let ciphertext = client_bytes(&mut client);
        let (received, progress) = deliver(&mut session, &ciphertext, 4096);
        assert_eq!(received, b"last words");
        assert_eq!(progress, Progress::PeerClosed);
        let mut more = BytesMut::new();
        assert_eq!(session.read(&mut more).expect("read"), Progress::PeerClosed);
        assert!(more.is_empty());
        // Our own close_notify still goes out.
        session.close_notify().expect("close_notify");
        assert!(!session.take_outgoing_vec().is_empty());
    }

    #[test]
    fn a_tampered_record_is_an_error_with_an_alert_not_a_panic() {
        let pki = pki();
        let (mut client, mut session) = connect(&pki, client_config(&pki, TLS13));
        client.writer().write_all(b"GET key\r\n").expect("write");
        let mut ciphertext = client_bytes(&mut client);
        let last = ciphertext.len() - 1;
        ciphertext[last] ^= 0x55;
        session.push_ciphertext(&ciphertext);
        let mut plaintext = BytesMut::new();
        let error = session.read(&mut plaintext).expect_err("tampered record");
        assert!(matches!(
            error,
            SessionError::Tls(rustls::Error::DecryptError)
        ));
        assert!(plaintext.is_empty());
        // The peer is told why (a bad_record_mac alert).
        assert!(!session.take_outgoing_vec().is_empty());
        // The session stays failed instead of serving more.
        session.push_ciphertext(b"\x17\x03\x03\x00\x01x");
        assert!(session.read(&mut plaintext).is_err());
    }

    #[test]
    fn a_garbage_record_after_the_handshake_is_an_error_with_an_alert() {
        let pki = pki();
        for versions in [TLS13, TLS12] {
            let (_client, mut session) = connect(&pki, client_config(&pki, versions));
            let mut garbage = vec![0x17, 0x03, 0x03, 0x00, 0x40];
            garbage.extend(pattern(0x40));
            session.push_ciphertext(&garbage);
            let mut plaintext = BytesMut::new();
            assert!(session.read(&mut plaintext).is_err());
            assert!(!session.take_outgoing_vec().is_empty());
        }
    }

    #[test]
    fn garbage_instead_of_a_client_hello_fails_the_handshake() {
        let pki = pki();
        let mut session = TlsSession::new(
            pki.server,
            BytesMut::from(&b"\x16\x03\x01\x00\x05hello"[..]),
        )
        .expect("session");
        assert!(session.handshake().is_err());
        assert!(session.is_handshaking());
    }

    #[test]
    fn sending_before_the_handshake_is_refused() {
        let pki = pki();
        let mut session = TlsSession::new(pki.server, BytesMut::new()).expect("session");
        assert!(matches!(
            session.encrypt(b"too early"),
            Err(SessionError::NotWritable(_))
        ));
    }
}
