//! Certificate and key loading and the checks made at load time: is it a
//! certificate, is it valid now, does the key match, may it serve TLS.
//!
//! This module reads the files a configuration names (through
//! `read_source`) but never opens a socket and never reads the clock: the
//! moment to check validity against comes in as `now`.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{Error as RustlsError, InconsistentKeys};
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Problem, Scope, TlsConfigError};

/// A certificate with the facts the policy needs, parsed once at load.
#[derive(Clone, Debug)]
pub struct CertInfo {
    der: CertificateDer<'static>,
    subject: String,
    subject_der: Vec<u8>,
    issuer_der: Vec<u8>,
    not_before: i64,
    not_after: i64,
    is_ca: bool,
    key_usage: Option<KeyUsageBits>,
    extended_key_usage: Option<Purposes>,
}

/// The key usage bits TLS cares about.
#[derive(Clone, Copy, Debug)]
struct KeyUsageBits {
    digital_signature: bool,
    key_encipherment: bool,
}

/// The extended key usage purposes TLS cares about.
#[derive(Clone, Copy, Debug)]
struct Purposes {
    any: bool,
    server_auth: bool,
    client_auth: bool,
}

impl CertInfo {
    /// Parses DER with x509-parser.
    pub fn parse(der: CertificateDer<'static>) -> Result<Self, Problem> {
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
            .map_err(|error| Problem::NotACertificate(error.to_string()))?;
        let key_usage = cert
            .key_usage()
            .map_err(|error| Problem::NotACertificate(format!("key usage extension: {error}")))?
            .map(|extension| KeyUsageBits {
                digital_signature: extension.value.digital_signature(),
                key_encipherment: extension.value.key_encipherment(),
            });
        let extended_key_usage = cert
            .extended_key_usage()
            .map_err(|error| {
                Problem::NotACertificate(format!("extended key usage extension: {error}"))
            })?
            .map(|extension| Purposes {
                any: extension.value.any,
                server_auth: extension.value.server_auth,
                client_auth: extension.value.client_auth,
            });
        let subject = cert.subject().to_string();
        let subject_der = cert.subject().as_raw().to_vec();
        let issuer_der = cert.issuer().as_raw().to_vec();
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        let is_ca = cert.is_ca();
        Ok(Self {
            der,
            subject,
            subject_der,
            issuer_der,
            not_before,
            not_after,
            is_ca,
            key_usage,
            extended_key_usage,
        })
    }

    /// The certificate as sent on the wire.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The subject, as text (`CN=client1, O=Petrel`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// DER of the subject Name.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// DER of the issuer Name.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// notBefore, Unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// notAfter, Unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether basicConstraints says this is a CA.
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// Fails unless `now` (Unix seconds) lies within the validity period.
    pub fn check_validity(&self, now: i64) -> Result<(), Problem> {
        if now > self.not_after {
            return Err(Problem::Expired {
                not_after: self.not_after,
            });
        }
        if now < self.not_before {
            return Err(Problem::NotYetValid {
                not_before: self.not_before,
            });
        }
        Ok(())
    }

    /// Fails unless the certificate may authenticate a TLS server. Every
    /// suite Petrel offers (ECDHE in TLS 1.2, all of TLS 1.3) signs the
    /// handshake, so a key usage extension must allow digitalSignature;
    /// keyEncipherment alone served only RSA key exchange, which is gone.
    pub fn check_server_usage(&self) -> Result<(), Problem> {
        self.check_usage("by a TLS server", true, false)
    }

    /// Fails unless the certificate may authenticate both ends of a sync
    /// link: it is sent as a server certificate and as a client certificate.
    pub fn check_syncer_usage(&self) -> Result<(), Problem> {
        self.check_usage("for sync links", true, true)
    }

    fn check_usage(
        &self,
        role: &'static str,
        server_auth: bool,
        client_auth: bool,
    ) -> Result<(), Problem> {
        if let Some(bits) = self.key_usage {
            if !bits.digital_signature {
                let reason = if bits.key_encipherment {
                    "key usage allows keyEncipherment but not digitalSignature, which every \
                     supported suite needs to sign the handshake"
                } else {
                    "key usage allows neither digitalSignature nor keyEncipherment"
                };
                return Err(Problem::KeyUsage {
                    role,
                    reason: reason.into(),
                });
            }
        }
        if let Some(purposes) = self.extended_key_usage {
            if !purposes.any {
                let mut missing = Vec::new();
                if server_auth && !purposes.server_auth {
                    missing.push("serverAuth");
                }
                if client_auth && !purposes.client_auth {
                    missing.push("clientAuth");
                }
                if !missing.is_empty() {
                    return Err(Problem::KeyUsage {
                        role,
                        reason: format!("extended key usage lacks {}", missing.join(" and ")),
                    });
                }
            }
        }
        Ok(())
    }
}

/// A certificate chain with its loaded private key.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The chain, leaf first; never empty (`parse_certificates` refuses
    /// input without a certificate).
    pub chain: Vec<CertInfo>,
    /// The chain and signing key in the form rustls serves.
    pub certified_key: Arc<CertifiedKey>,
}

impl Identity {
    /// The leaf certificate.
    pub fn leaf(&self) -> &CertInfo {
        // `chain` is never empty; see its field comment.
        &self.chain[0]
    }
}

/// Which checks an identity gets beyond parsing and validity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdentityRole {
    /// `proxy_cert`: sent to clients.
    Server,
    /// `syncer_cert`: sent in both directions on sync links.
    Syncer,
}

/// The bytes a certificate or key field stands for: the PEM text itself
/// when it starts with `-----BEGIN`, else the file at that path, relative
/// to `base_dir`.
pub fn read_source(value: &str, base_dir: &Path) -> Result<Vec<u8>, Problem> {
    if value.trim_start().starts_with("-----BEGIN") {
        return Ok(value.as_bytes().to_vec());
    }
    let path = base_dir.join(value.trim());
    std::fs::read(&path).map_err(|source| Problem::Read { path, source })
}

/// Every certificate in PEM text (or one DER certificate), parsed.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<CertInfo>, Problem> {
    let mut ders = Vec::new();
    let mut other_kinds = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(pem_problem)?;
        if kind == SectionKind::Certificate {
            ders.push(CertificateDer::from(der));
        } else {
            other_kinds.push(kind);
        }
    }
    if ders.is_empty() {
        if let Some(kind) = other_kinds.first() {
            return Err(Problem::NotACertificate(format!(
                "found a {} block, not a CERTIFICATE",
                pem_label(*kind)
            )));
        }
        // A DER file (binary, starting with a SEQUENCE) is accepted as one certificate.
        if bytes.first() == Some(&0x30) {
            ders.push(CertificateDer::from(bytes.to_vec()));
        } else {
            return Err(Problem::NoPem {
                expected: "CERTIFICATE",
            });
        }
    }
    ders.into_iter().map(CertInfo::parse).collect()
}

/// The first private key in PEM text (PKCS#8, PKCS#1 or SEC1).
pub fn parse_private_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>, Problem> {
    let mut other_kinds = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        let (kind, der) = section.map_err(pem_problem)?;
        match kind {
            SectionKind::PrivateKey => return Ok(PrivateKeyDer::Pkcs8(der.into())),
            SectionKind::RsaPrivateKey => return Ok(PrivateKeyDer::Pkcs1(der.into())),
            SectionKind::EcPrivateKey => return Ok(PrivateKeyDer::Sec1(der.into())),
            other => other_kinds.push(other),
        }
    }
    let text = String::from_utf8_lossy(bytes);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY") {
        return Err(Problem::UnparsableKey(
            "the key is encrypted; give it unencrypted (openssl pkey -in KEY -out PLAIN)".into(),
        ));
    }
    if let Some(kind) = other_kinds.first() {
        return Err(Problem::UnparsableKey(format!(
            "found a {} block, not a PRIVATE KEY",
            pem_label(*kind)
        )));
    }
    Err(Problem::NoPem {
        expected: "PRIVATE KEY",
    })
}

/// The fields naming an identity's certificate and key.
pub(crate) struct IdentityFields<'a> {
    pub cert_field: &'static str,
    pub cert_value: &'a str,
    pub key_field: &'static str,
    pub key_value: &'a str,
}

/// Loads a certificate chain and its key, and checks validity at `now`,
/// the key against the leaf, and the leaf's usage for `role`.
pub(crate) fn load_identity(
    scope: &Scope,
    fields: &IdentityFields<'_>,
    role: IdentityRole,
    base_dir: &Path,
    now: i64,
    provider: &CryptoProvider,
) -> Result<Identity, TlsConfigError> {
    let cert_error = |problem| TlsConfigError::new(scope, fields.cert_field, problem);
    let key_error = |problem| TlsConfigError::new(scope, fields.key_field, problem);

    let chain = read_source(fields.cert_value, base_dir)
        .and_then(|bytes| parse_certificates(&bytes))
        .map_err(cert_error)?;
    for (index, cert) in chain.iter().enumerate() {
        cert.check_validity(now).map_err(|problem| {
            cert_error(if index == 0 {
                problem
            } else {
                Problem::InChain {
                    position: index + 1,
                    problem: Box::new(problem),
                }
            })
        })?;
    }
    // parse_certificates returns at least one certificate or an error.
    let leaf = &chain[0];
    match role {
        IdentityRole::Server => leaf.check_server_usage(),
        IdentityRole::Syncer => leaf.check_syncer_usage(),
    }
    .map_err(cert_error)?;

    let key = read_source(fields.key_value, base_dir)
        .and_then(|bytes| parse_private_key(&bytes))
        .map_err(key_error)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|error| key_error(Problem::UnparsableKey(error.to_string())))?;
    let certified_key = CertifiedKey::new(
        chain.iter().map(|cert| cert.der().clone()).collect(),
        signing_key,
    );
    match certified_key.keys_match() {
        // rustls cannot compare some key types; it serves them anyway, and so do we.
        Ok(()) | Err(RustlsError::InconsistentKeys(InconsistentKeys::Unknown)) => {}
        Err(RustlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            return Err(key_error(Problem::KeyMismatch {
                cert_field: fields.cert_field,
            }));
        }
        Err(other) => return Err(cert_error(Problem::NotACertificate(other.to_string()))),
    }
    Ok(Identity {
        chain,
        certified_key: Arc::new(certified_key),
    })
}

/// Loads one list of trusted certificates (`authentication_ssl_*_certs`),
/// checking each is parsable and valid at `now`. Returns each entry's
/// certificates (an entry may hold several) in list order.
pub(crate) fn load_trusted_list(
    scope: &Scope,
    list_field: &str,
    entries: &[crate::policy::RawClientCert],
    base_dir: &Path,
    now: i64,
) -> Result<Vec<Vec<CertInfo>>, TlsConfigError> {
    let mut trusted = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let field = format!("{list_field}[{index}].client_cert");
        let certs = read_source(&entry.client_cert, base_dir)
            .and_then(|bytes| parse_certificates(&bytes))
            .map_err(|problem| TlsConfigError::new(scope, field.clone(), problem))?;
        for (position, cert) in certs.iter().enumerate() {
            cert.check_validity(now).map_err(|problem| {
                let problem = if certs.len() == 1 {
                    problem
                } else {
                    Problem::InChain {
                        position: position + 1,
                        problem: Box::new(problem),
                    }
                };
                TlsConfigError::new(scope, field.clone(), problem)
            })?;
        }
        trusted.push(certs);
    }
    Ok(trusted)
}

fn pem_problem(error: pem::Error) -> Problem {
    Problem::BadPem(error.to_string())
}

fn pem_label(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "CERTIFICATE",
        SectionKind::PublicKey => "PUBLIC KEY",
        SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
        SectionKind::PrivateKey => "PRIVATE KEY",
        SectionKind::EcPrivateKey => "EC PRIVATE KEY",
        SectionKind::Crl => "X509 CRL",
        SectionKind::Csr => "CERTIFICATE REQUEST",
        _ => "non-certificate",
    }
}
