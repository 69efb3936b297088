//! Shared test support: a cast of certificates and an in-memory rustls
//! client/server pair pumped through byte buffers (no sockets).

#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use petrel_tls::rustls::client::ClientConnection;
use petrel_tls::rustls::crypto::aws_lc_rs;
use petrel_tls::rustls::crypto::CryptoProvider;
use petrel_tls::rustls::server::ServerConnection;
use petrel_tls::rustls::{
    self, ClientConfig, ConnectionCommon, RootCertStore, ServerConfig, SupportedCipherSuite,
    SupportedProtocolVersion,
};
use petrel_tls::testing::{self, GeneratedCert, Profile, Validity};
use petrel_tls::{
    ClientAuthentication, DevPki, RawClientCert, RawDatabaseTls, RawNodeTls, TlsMode, TlsSnapshot,
};

pub const TLS12: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];
pub const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Every certificate the client-authentication matrix needs.
pub struct Cast {
    pub now: SystemTime,
    /// CA "A" signed proxy, syncer, client1 (pinned) and client2 (not listed).
    pub dev: DevPki,
    /// CA "B" is on authentication_ssl_client_certs: what it signs is trusted.
    pub trusted_ca: GeneratedCert,
    pub ca_signed: GeneratedCert,
    pub ca_signed_server_only: GeneratedCert,
    pub expired: GeneratedCert,
    pub not_yet_valid: GeneratedCert,
    /// A CA nobody configured, and a client it signed.
    pub other_ca: GeneratedCert,
    pub other_ca_client: GeneratedCert,
    pub other_ca_expired: GeneratedCert,
    pub other_ca_server_only: GeneratedCert,
    pub self_signed: GeneratedCert,
    /// The syncer certificate of another Active-Active participant.
    pub crdt: GeneratedCert,
}

impl Cast {
    pub fn new() -> Self {
        Self::at(SystemTime::now())
    }

    /// Certificates valid from an hour before `now`; snapshots are built at `now`.
    pub fn at(now: SystemTime) -> Self {
        let dev = DevPki::generate(now).expect("dev pki");
        let trusted_ca = testing::ca("Trusted client CA", now).expect("ca");
        let client =
            |name, validity| testing::issue(&trusted_ca, name, Profile::Client, validity, now);
        let ca_signed = client("ca-signed client", Validity::Current).expect("cert");
        let expired = client("expired client", Validity::Expired).expect("cert");
        let not_yet_valid = client("future client", Validity::NotYetValid).expect("cert");
        let ca_signed_server_only = testing::issue(
            &trusted_ca,
            "server-only",
            Profile::Server,
            Validity::Current,
            now,
        )
        .expect("cert");
        let other_ca = testing::ca("Somebody else's CA", now).expect("ca");
        let other_ca_client = testing::issue(
            &other_ca,
            "stranger",
            Profile::Client,
            Validity::Current,
            now,
        )
        .expect("cert");
        let other_ca_expired = testing::issue(
            &other_ca,
            "old stranger",
            Profile::Client,
            Validity::Expired,
            now,
        )
        .expect("cert");
        let other_ca_server_only = testing::issue(
            &other_ca,
            "server stranger",
            Profile::Server,
            Validity::Current,
            now,
        )
        .expect("cert");
        let self_signed =
            testing::self_signed("self-made", Profile::Client, Validity::Current, now)
                .expect("cert");
        let crdt =
            testing::self_signed("cluster-b syncer", Profile::Syncer, Validity::Current, now)
                .expect("cert");
        Self {
            now,
            dev,
            trusted_ca,
            ca_signed,
            ca_signed_server_only,
            expired,
            not_yet_valid,
            other_ca,
            other_ca_client,
            other_ca_expired,
            other_ca_server_only,
            self_signed,
            crdt,
        }
    }

    /// `[node.tls]` with the proxy and syncer certificates given inline.
    pub fn node(&self) -> RawNodeTls {
        RawNodeTls {
            proxy_cert: Some(self.dev.proxy.cert_pem()),
            proxy_key: Some(self.dev.proxy.key_pem()),
            syncer_cert: Some(self.dev.syncer.cert_pem()),
            syncer_key: Some(self.dev.syncer.key_pem()),
            ..RawNodeTls::default()
        }
    }

    /// A database trusting client1 (pinned leaf) and CA "B", with the
    /// crdt certificate on its syncer list.
    pub fn database(&self, mode: TlsMode, enforce: ClientAuthentication) -> RawDatabaseTls {
        RawDatabaseTls {
            tls_mode: mode,
            enforce_client_authentication: enforce,
            authentication_ssl_client_certs: vec![
                RawClientCert {
                    client_cert: self.dev.client1.cert_pem(),
                },
                RawClientCert {
                    client_cert: self.trusted_ca.cert_pem(),
                },
            ],
            authentication_ssl_crdt_certs: vec![RawClientCert {
                client_cert: self.crdt.cert_pem(),
            }],
        }
    }

    pub fn snapshot(&self, node: &RawNodeTls, database: RawDatabaseTls) -> TlsSnapshot {
        TlsSnapshot::build(
            node,
            &[("orders".to_owned(), database)],
            Path::new("/nonexistent"),
            self.now,
        )
        .unwrap_or_else(|error| panic!("snapshot: {error}"))
    }

    /// A client trusting CA "A" (which signed the proxy certificate).
    pub fn client_config(
        &self,
        identity: Option<&GeneratedCert>,
        versions: &[&'static SupportedProtocolVersion],
        suites: Option<Vec<SupportedCipherSuite>>,
    ) -> Arc<ClientConfig> {
        let mut provider = aws_lc_rs::default_provider();
        if let Some(suites) = suites {
            provider.cipher_suites = suites;
        }
        let mut roots = RootCertStore::empty();
        roots.add(self.dev.ca.cert_der()).expect("root");
        let builder = ClientConfig::builder_with_provider(Arc::new(provider))
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots);
        let config = match identity {
            Some(cert) => builder
                .with_client_auth_cert(vec![cert.cert_der()], cert.key_der())
                .expect("client identity"),
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }
}

/// The result of pumping one handshake to its end.
pub struct Outcome {
    pub client: ClientConnection,
    pub server: ServerConnection,
    pub client_error: Option<rustls::Error>,
    pub server_error: Option<rustls::Error>,
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        self.client_error.is_none()
            && self.server_error.is_none()
            && !self.client.is_handshaking()
            && !self.server.is_handshaking()
    }
}

/// Runs a handshake between in-memory endpoints until neither has bytes
/// to send, delivering the alert of whichever side failed to the other.
pub fn handshake(server_config: Arc<ServerConfig>, client_config: Arc<ClientConfig>) -> Outcome {
    handshake_named(server_config, client_config, "localhost")
}

/// [`handshake`], with the client checking the server certificate for `name`.
pub fn handshake_named(
    server_config: Arc<ServerConfig>,
    client_config: Arc<ClientConfig>,
    name: &str,
) -> Outcome {
    let server_name = rustls::pki_types::ServerName::try_from(name.to_owned()).expect("name");
    let mut client = ClientConnection::new(client_config, server_name).expect("client");
    let mut server = ServerConnection::new(server_config).expect("server");
    let (mut client_error, mut server_error) = (None, None);
    for _ in 0..64 {
        let to_server = drain(&mut client);
        if !to_server.is_empty() && server_error.is_none() {
            server_error = feed(&mut server, &to_server).err();
        }
        let to_client = drain(&mut server);
        if !to_client.is_empty() && client_error.is_none() {
            client_error = feed(&mut client, &to_client).err();
        }
        if to_server.is_empty() && to_client.is_empty() {
            break;
        }
    }
    Outcome {
        client,
        server,
        client_error,
        server_error,
    }
}

/// Sends `request` from client to server over an established pair and
/// returns what the server's application reads.
pub fn round_trip(outcome: &mut Outcome, request: &[u8]) -> Vec<u8> {
    outcome.client.writer().write_all(request).expect("write");
    let bytes = drain(&mut outcome.client);
    feed(&mut outcome.server, &bytes).expect("server reads");
    let mut received = vec![0; request.len()];
    outcome
        .server
        .reader()
        .read_exact(&mut received)
        .expect("read");
    received
}

pub fn drain<D>(conn: &mut ConnectionCommon<D>) -> Vec<u8> {
    let mut out = Vec::new();
    while conn.wants_write() {
        if conn.write_tls(&mut out).expect("write_tls to a Vec") == 0 {
            break;
        }
    }
    out
}

pub fn feed<D>(conn: &mut ConnectionCommon<D>, mut bytes: &[u8]) -> Result<(), rustls::Error> {
    while !bytes.is_empty() {
        if conn.read_tls(&mut bytes).expect("read_tls from a slice") == 0 {
            break;
        }
        conn.process_new_packets()?;
    }
    Ok(())
}

/// The default provider's suites whose names contain `fragment`.
pub fn suites_matching(fragment: &str) -> Vec<SupportedCipherSuite> {
    let provider: CryptoProvider = aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .into_iter()
        .filter(|suite| format!("{:?}", suite.suite()).contains(fragment))
        .collect()
}

pub const DAY: Duration = Duration::from_secs(86_400);
