//! rustls client and server configurations for the kTLS tests and the
//! `ktls_probe` example: a fresh self-signed ECDSA certificate for
//! "localhost", a server offering everything, and a client pinned to one
//! version and one cipher suite, both with secret extraction on.

#![allow(
    dead_code,
    reason = "shared by several test targets that use different parts"
)]

use std::sync::Arc;

use rustls::crypto::aws_lc_rs::{self as provider, cipher_suite};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};

/// The six suites kTLS and rustls share: three ciphers, TLS 1.2 and 1.3.
pub const SUITES: [SupportedCipherSuite; 6] = [
    cipher_suite::TLS13_AES_128_GCM_SHA256,
    cipher_suite::TLS13_AES_256_GCM_SHA384,
    cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
];

/// A server and client configuration pair for one suite.
pub struct Configs {
    pub server: Arc<ServerConfig>,
    pub client: Arc<ClientConfig>,
}

impl Configs {
    /// Generates a certificate and builds both sides; the client offers only
    /// `suite` (and so only its protocol version).
    pub fn for_suite(suite: SupportedCipherSuite) -> Result<Self, String> {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .map_err(|e| format!("certificate generation: {e}"))?;
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));

        let mut server =
            ServerConfig::builder_with_provider(Arc::new(provider::default_provider()))
                .with_protocol_versions(rustls::ALL_VERSIONS)
                .map_err(|e| format!("server versions: {e}"))?
                .with_no_client_auth()
                .with_single_cert(vec![cert.clone()], key)
                .map_err(|e| format!("server certificate: {e}"))?;
        server.enable_secret_extraction = true;

        let mut roots = RootCertStore::empty();
        roots
            .add(cert)
            .map_err(|e| format!("trusting the server certificate: {e}"))?;
        let client_provider = rustls::crypto::CryptoProvider {
            cipher_suites: vec![suite],
            ..provider::default_provider()
        };
        let mut client = ClientConfig::builder_with_provider(Arc::new(client_provider))
            .with_protocol_versions(&[suite.version()])
            .map_err(|e| format!("client versions: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        client.enable_secret_extraction = true;

        Ok(Configs {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }

    pub fn server_name() -> ServerName<'static> {
        ServerName::try_from("localhost").expect("a valid DNS name")
    }
}

/// A short name for a suite: "TLSv1.3 AES-128-GCM".
pub fn suite_name(suite: SupportedCipherSuite) -> String {
    let version = match suite.version().version {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        _ => "TLS?",
    };
    let cipher = match petrel_ktls::Cipher::of_suite(suite) {
        Some(cipher) => cipher.to_string(),
        None => format!("{:?}", suite.suite()),
    };
    format!("{version} {cipher}")
}
