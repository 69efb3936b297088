//! The client side of one TLS session, without I/O: rustls's unbuffered
//! connection between a ciphertext receive buffer and a send buffer.
//!
//! Records are decrypted in place in the receive buffer and their plaintext
//! is copied once, to the caller; requests are encrypted straight into the
//! send buffer. (rustls's buffered API copies each byte two more times, which
//! made the generator, not the server, the limit of TLS runs with big values.)
//!
//! It must not touch a socket or wait: `transport` reads into and sends from
//! the buffers it lends.

use std::sync::Arc;

use bytes::Bytes;

use petrel_tls_record::{RecordBuffer, RecordStaging};
use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::ServerName;
use rustls::unbuffered::{ConnectionState, EncodeError, EncryptError};
use rustls::ClientConfig;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Tls(#[from] rustls::Error),
    #[error("TLS encryption: {0}")]
    Encrypt(#[from] EncryptError),
    #[error("TLS encoding: {0}")]
    Encode(#[from] EncodeError),
    #[error("cannot send: the TLS session is {0}")]
    NotWritable(&'static str),
    #[error("unexpected TLS session state {0}")]
    UnexpectedState(String),
    #[error("the TLS session already failed")]
    Failed,
}

/// Where processing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every complete record was processed; more ciphertext is needed.
    NeedsData,
    /// The server sent close_notify; everything before it was delivered.
    PeerClosed,
}

enum Request<'a> {
    Nothing,
    Encrypt(&'a [u8]),
}

pub struct ClientSession {
    conn: UnbufferedClientConnection,
    /// Ciphertext received and not yet consumed, from its first byte.
    incoming: Vec<u8>,
    outgoing: RecordBuffer,
    /// Gathers the bytes of a request's pieces that share a record.
    staging: RecordStaging,
    peer_closed: bool,
    /// A call failed: rustls is not called again.
    failed: bool,
}

impl ClientSession {
    pub fn new(
        config: Arc<ClientConfig>,
        server_name: ServerName<'static>,
        receive_bytes: usize,
    ) -> Result<ClientSession, rustls::Error> {
        Ok(ClientSession {
            conn: UnbufferedClientConnection::new(config, server_name)?,
            incoming: Vec::with_capacity(receive_bytes),
            outgoing: RecordBuffer::default(),
            staging: RecordStaging::default(),
            peer_closed: false,
            failed: false,
        })
    }

    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Takes the receive buffer for a read that owns it (io_uring); its
    /// spare capacity is where new ciphertext goes.
    pub fn take_incoming(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.incoming)
    }

    /// Puts back the buffer `take_incoming` lent, with what the read added.
    pub fn restore_incoming(&mut self, incoming: Vec<u8>) {
        self.incoming = incoming;
    }

    /// Appends ciphertext (for tests and callers that read elsewhere).
    pub fn push_ciphertext(&mut self, ciphertext: &[u8]) {
        self.incoming.extend_from_slice(ciphertext);
    }

    /// The ciphertext to send and how much of the buffer it fills; hand the
    /// buffer back with `sent`.
    pub fn take_outgoing(&mut self) -> Option<(Vec<u8>, usize)> {
        self.outgoing.take()
    }

    /// Returns the buffer `take_outgoing` lent, to be reused.
    pub fn sent(&mut self, buffer: Vec<u8>) {
        self.outgoing.give_back(buffer);
    }

    /// Processes every complete record received: handshake messages (whose
    /// answers join the send buffer) and application data, whose plaintext
    /// is appended to `plaintext`.
    pub fn process(&mut self, plaintext: &mut Vec<u8>) -> Result<Progress, SessionError> {
        self.drive(plaintext, Request::Nothing)
    }

    /// Encrypts `data` into the send buffer. Plaintext that arrives on the
    /// way (rustls first processes what was received) goes to `plaintext`.
    pub fn encrypt(&mut self, data: &[u8], plaintext: &mut Vec<u8>) -> Result<(), SessionError> {
        if data.is_empty() {
            return Ok(());
        }
        self.outgoing.reserve_for_plaintext(data.len());
        self.drive(plaintext, Request::Encrypt(data)).map(|_| ())
    }

    /// Encrypts `pieces` into the records one contiguous buffer of them
    /// would make, copying only the bytes that share a record.
    pub fn encrypt_pieces(
        &mut self,
        pieces: &[Bytes],
        plaintext: &mut Vec<u8>,
    ) -> Result<(), SessionError> {
        let mut staging = std::mem::take(&mut self.staging);
        let result = staging.encrypt_pieces(pieces, |run| self.encrypt(run, plaintext));
        self.staging = staging;
        result
    }

    fn drive(
        &mut self,
        plaintext: &mut Vec<u8>,
        request: Request<'_>,
    ) -> Result<Progress, SessionError> {
        if self.failed {
            return Err(SessionError::Failed);
        }
        let mut consumed = 0;
        let result = self.step(plaintext, request, &mut consumed);
        // Keep only the incomplete record at the front.
        if consumed > 0 {
            self.incoming.copy_within(consumed.., 0);
            self.incoming.truncate(self.incoming.len() - consumed);
        }
        self.failed = result.is_err();
        result
    }

    fn step(
        &mut self,
        plaintext: &mut Vec<u8>,
        mut request: Request<'_>,
        consumed: &mut usize,
    ) -> Result<Progress, SessionError> {
        let ClientSession {
            conn,
            incoming,
            outgoing,
            peer_closed,
            failed: _,
            staging: _,
        } = self;
        loop {
            let status = conn.process_tls_records(&mut incoming[*consumed..]);
            let mut discard = status.discard;
            let state = match status.state {
                Ok(state) => state,
                Err(error) => {
                    *consumed += discard;
                    // Send the alert rustls queued, so the server learns why.
                    let status = conn.process_tls_records(&mut incoming[*consumed..]);
                    if let Ok(ConnectionState::EncodeTlsData(mut encode)) = status.state {
                        let _ = outgoing.append_encoded(|tail| encode.encode(tail));
                    }
                    return Err(error.into());
                }
            };
            let mut failure = None;
            let mut done = None;
            match state {
                ConnectionState::ReadTraffic(mut traffic) => {
                    while let Some(record) = traffic.next_record() {
                        match record {
                            Ok(record) => {
                                plaintext.extend_from_slice(record.payload);
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
                // before it waits for the server; order is kept.
                ConnectionState::TransmitTlsData(transmit) => transmit.done(),
                ConnectionState::BlockedHandshake => {
                    if matches!(request, Request::Encrypt(_)) {
                        failure = Some(SessionError::NotWritable("handshaking"));
                    }
                    done = Some(Progress::NeedsData);
                }
                ConnectionState::WriteTraffic(mut traffic) => {
                    done = Some(if *peer_closed {
                        Progress::PeerClosed
                    } else {
                        Progress::NeedsData
                    });
                    if let Request::Encrypt(data) =
                        std::mem::replace(&mut request, Request::Nothing)
                    {
                        if let Err(error) =
                            outgoing.append_encrypted(|tail| traffic.encrypt(data, tail))
                        {
                            failure = Some(SessionError::Encrypt(error));
                        }
                    }
                }
                ConnectionState::PeerClosed => *peer_closed = true,
                ConnectionState::Closed => {
                    *peer_closed = true;
                    if matches!(request, Request::Encrypt(_)) {
                        failure = Some(SessionError::NotWritable("closed"));
                    }
                    done = Some(Progress::PeerClosed);
                }
                other => failure = Some(SessionError::UnexpectedState(format!("{other:?}"))),
            }
            *consumed += discard;
            if let Some(error) = failure {
                return Err(error);
            }
            if let Some(progress) = done {
                return Ok(progress);
            }
        }
    }
}

/// A self-signed server certificate and a client that trusts it, on
/// `versions`: for tests that run a real rustls peer against this crate.
#[cfg(test)]
pub(crate) fn test_configs(
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (Arc<rustls::ServerConfig>, Arc<ClientConfig>) {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let cert_der = CertificateDer::from(cert.der().to_vec());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert_der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).expect("root");
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

#[cfg(test)]
mod tests {
    //! A real rustls server against the session, through byte buffers.

    use std::io::{Read, Write};

    use rustls::ServerConnection;

    use super::*;

    fn server_bytes(server: &mut ServerConnection) -> Vec<u8> {
        let mut out = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut out).expect("write_tls");
        }
        out
    }

    fn send_to_server(session: &mut ClientSession, server: &mut ServerConnection) -> Vec<u8> {
        let mut plaintext = Vec::new();
        if let Some((buffer, filled)) = session.take_outgoing() {
            let mut bytes = &buffer[..filled];
            while !bytes.is_empty() {
                server.read_tls(&mut bytes).expect("read_tls");
                server.process_new_packets().expect("server processes");
                match server.reader().read_to_end(&mut plaintext) {
                    Ok(_) => {}
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(error) => panic!("server read: {error}"),
                }
            }
            session.sent(buffer);
        }
        plaintext
    }

    fn connect(
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> (ClientSession, ServerConnection) {
        let (server_config, client_config) = test_configs(versions);
        let name = ServerName::try_from("localhost").expect("name");
        let mut session = ClientSession::new(client_config, name, 4096).expect("session");
        let mut server = ServerConnection::new(server_config).expect("server");
        server.set_buffer_limit(None);
        let mut sink = Vec::new();
        for _ in 0..16 {
            session.process(&mut sink).expect("client handshake");
            send_to_server(&mut session, &mut server);
            let to_client = server_bytes(&mut server);
            session.push_ciphertext(&to_client);
            if !session.is_handshaking() && !server.is_handshaking() && to_client.is_empty() {
                break;
            }
        }
        session.process(&mut sink).expect("client settles");
        send_to_server(&mut session, &mut server);
        assert!(!session.is_handshaking() && !server.is_handshaking());
        assert!(sink.is_empty());
        (session, server)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn requests_and_multi_record_replies_cross_intact_on_both_versions() {
        for versions in [
            &[&rustls::version::TLS13][..],
            &[&rustls::version::TLS12][..],
        ] {
            let (mut session, mut server) = connect(versions);
            let request = pattern(100 * 1024 + 7);
            let mut plaintext = Vec::new();
            session.encrypt(&request, &mut plaintext).expect("encrypt");
            assert_eq!(send_to_server(&mut session, &mut server), request);

            // A reply of several records, delivered in odd-sized pieces that
            // split records, arrives whole and in order.
            let reply = pattern(64 * 1024 + 13);
            server.writer().write_all(&reply).expect("server write");
            let ciphertext = server_bytes(&mut server);
            for piece in ciphertext.chunks(997) {
                session.push_ciphertext(piece);
                assert_eq!(
                    session.process(&mut plaintext).expect("decrypt"),
                    Progress::NeedsData
                );
            }
            assert_eq!(plaintext, reply);
            assert!(session.incoming.is_empty(), "no ciphertext left behind");
        }
    }

    #[test]
    fn close_notify_delivers_what_came_before_then_reports_the_close() {
        let (mut session, mut server) = connect(&[&rustls::version::TLS13]);
        server.writer().write_all(b"last words").expect("write");
        server.send_close_notify();
        let ciphertext = server_bytes(&mut server);
        session.push_ciphertext(&ciphertext);
        let mut plaintext = Vec::new();
        assert_eq!(
            session.process(&mut plaintext).expect("process"),
            Progress::PeerClosed
        );
        assert_eq!(plaintext, b"last words");
    }

    #[test]
    fn a_tampered_record_is_an_error_and_the_session_stays_failed() {
        let (mut session, mut server) = connect(&[&rustls::version::TLS13]);
        server.writer().write_all(b"+OK\r\n").expect("write");
        let mut ciphertext = server_bytes(&mut server);
        let last = ciphertext.len() - 1;
        ciphertext[last] ^= 0x01;
        session.push_ciphertext(&ciphertext);
        let mut plaintext = Vec::new();
        assert!(session.process(&mut plaintext).is_err());
        assert!(plaintext.is_empty());
        assert!(matches!(
            session.process(&mut plaintext),
            Err(SessionError::Failed)
        ));
    }
}
