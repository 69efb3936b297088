//! The TLS client configuration a run uses: rustls with its default
//! aws-lc-rs provider, the versions from --tls-protocols, trust from
//! --cacert (or the system bundle), a client certificate from --cert/--key,
//! the server name from --sni or the host, and --tls-skip-verify.
//!
//! This module reads the certificate files once, before the run; it does no
//! network I/O (the record layer over the socket lives in `transport`).
//! Session resumption is off, as memtier's OpenSSL client does not resume:
//! every connection, and every --reconnect-interval reconnect, is a full
//! handshake, which is what a handshake-load measurement needs.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::{TlsOptions, TlsVersion};

/// Where Debian-style systems keep the trusted CA bundle, used when no
/// --cacert is given and verification is on.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("failed to load certificate file {path}: {message}")]
    Certificate { path: PathBuf, message: String },
    #[error("failed to load private key file {path}: {message}")]
    PrivateKey { path: PathBuf, message: String },
    #[error("failed to load CA certificate file {path}: {message}")]
    CaCertificate { path: PathBuf, message: String },
    #[error("no --cacert given and no system CA bundle at {SYSTEM_CA_BUNDLE}; pass --cacert or --tls-skip-verify")]
    NoTrustAnchors,
    #[error("invalid server name '{0}' for TLS (use --sni)")]
    ServerName(String),
    #[error("TLS configuration rejected: {0}")]
    Rustls(#[from] rustls::Error),
}

/// What every connection of a run needs to start a TLS session.
#[derive(Debug, Clone)]
pub struct TlsContext {
    pub config: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

impl TlsContext {
    /// Builds the context for connections to `host`.
    pub fn new(options: &TlsOptions, host: &str) -> Result<TlsContext, TlsSetupError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let versions: Vec<&'static rustls::SupportedProtocolVersion> = options
            .versions
            .iter()
            .map(|version| match version {
                TlsVersion::V1_2 => &rustls::version::TLS12,
                TlsVersion::V1_3 => &rustls::version::TLS13,
            })
            .collect();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)?;
        let builder = if options.skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(SkipServerVerification { provider }))
        } else {
            builder.with_root_certificates(root_store(options.cacert.as_deref())?)
        };
        let mut config = match (&options.cert, &options.key) {
            (Some(cert), key) => {
                let key_path = key.as_deref().unwrap_or(cert);
                builder
                    .with_client_auth_cert(load_certificates(cert)?, load_private_key(key_path)?)?
            }
            (None, _) => builder.with_no_client_auth(),
        };
        config.resumption = Resumption::disabled();
        let name = options.sni.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|_| TlsSetupError::ServerName(name.to_string()))?;
        Ok(TlsContext {
            config: Arc::new(config),
            server_name,
        })
    }
}

fn load_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let error = |message: String| TlsSetupError::Certificate {
        path: path.to_path_buf(),
        message,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certificates.is_empty() {
        return Err(error("no certificate in file".to_string()));
    }
    Ok(certificates)
}

fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsSetupError::PrivateKey {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn root_store(cacert: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    match cacert {
        Some(path) => {
            let error = |message: String| TlsSetupError::CaCertificate {
                path: path.to_path_buf(),
                message,
            };
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|e| error(e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| error(e.to_string()))?;
            let (added, _ignored) = store.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(error("no usable CA certificate in file".to_string()));
            }
        }
        None => {
            let certificates = CertificateDer::pem_file_iter(SYSTEM_CA_BUNDLE)
                .map_err(|_| TlsSetupError::NoTrustAnchors)?
                .filter_map(Result::ok);
            let (added, _ignored) = store.add_parsable_certificates(certificates);
            if added == 0 {
                return Err(TlsSetupError::NoTrustAnchors);
            }
        }
    }
    Ok(store)
}

/// --tls-skip-verify: accepts any server certificate, but still checks that
/// the handshake signatures are made with the certificate's key, so the
/// handshake costs the server what a verifying client would.
#[derive(Debug)]
struct SkipServerVerification {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for SkipServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TlsOptions {
        TlsOptions {
            cert: None,
            key: None,
            cacert: None,
            skip_verify: true,
            sni: None,
            versions: vec![TlsVersion::V1_2, TlsVersion::V1_3],
        }
    }

    #[test]
    fn ip_host_becomes_an_ip_server_name_and_sni_overrides_it() {
        let context = TlsContext::new(&options(), "127.0.0.1").unwrap();
        assert!(matches!(context.server_name, ServerName::IpAddress(_)));
        let mut with_sni = options();
        with_sni.sni = Some("db.example".into());
        let context = TlsContext::new(&with_sni, "127.0.0.1").unwrap();
        assert!(matches!(context.server_name, ServerName::DnsName(_)));
    }

    #[test]
    fn missing_files_name_the_file() {
        let mut bad = options();
        bad.skip_verify = false;
        bad.cacert = Some("/nonexistent/ca.pem".into());
        let error = TlsContext::new(&bad, "localhost").unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
        let mut bad = options();
        bad.cert = Some("/nonexistent/client.pem".into());
        let error = TlsContext::new(&bad, "localhost").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("certificate file /nonexistent/client.pem"),
            "{error}"
        );
    }

    #[test]
    fn resumption_is_off_so_every_connection_is_a_full_handshake() {
        let context = TlsContext::new(&options(), "localhost").unwrap();
        let resumption = format!("{:?}", context.config.resumption);
        let disabled = format!("{:?}", Resumption::disabled());
        assert_eq!(resumption, disabled);
    }
}
