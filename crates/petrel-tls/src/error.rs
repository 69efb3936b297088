//! Typed configuration errors. Each one says where the mistake is (the node
//! or a named database, and the field) and what is wrong, so that start-up
//! and the REST API can show it as is:
//! `database "orders": authentication_ssl_client_certs[1].client_cert: certificate expired on 2024-01-01`.

use std::fmt;
use std::path::PathBuf;

/// Where a setting lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `[node.tls]`.
    Node,
    /// A database, by name.
    Database(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Node => f.write_str("node"),
            Self::Database(name) => write!(f, "database {name:?}"),
        }
    }
}

/// A TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{scope}: {field}: {problem}")]
pub struct TlsConfigError {
    /// The node or the database the field belongs to.
    pub scope: Scope,
    /// The field, with list positions: `authentication_ssl_client_certs[1].client_cert`.
    pub field: String,
    /// What is wrong with it.
    pub problem: Problem,
}

impl TlsConfigError {
    pub(crate) fn new(scope: &Scope, field: impl Into<String>, problem: Problem) -> Self {
        Self {
            scope: scope.clone(),
            field: field.into(),
            problem,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// A path could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path after resolving it against the config's directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The value holds no PEM block of the expected kind.
    #[error(
        "no PEM {expected} found (give a file path, or PEM text starting with \"-----BEGIN\")"
    )]
    NoPem {
        /// `CERTIFICATE` or `PRIVATE KEY`.
        expected: &'static str,
    },
    /// The PEM text is damaged.
    #[error("malformed PEM: {0}")]
    BadPem(String),
    /// A certificate was expected.
    #[error("not a certificate: {0}")]
    NotACertificate(String),
    /// The certificate's notAfter is in the past.
    #[error("certificate expired on {}", day(*not_after))]
    Expired {
        /// notAfter, seconds since the Unix epoch.
        not_after: i64,
    },
    /// The certificate's notBefore is in the future.
    #[error("certificate is not valid before {}", day(*not_before))]
    NotYetValid {
        /// notBefore, seconds since the Unix epoch.
        not_before: i64,
    },
    /// One certificate of a chain is unusable.
    #[error("certificate {position} of the chain: {problem}")]
    InChain {
        /// 1-based position in the chain (1 is the leaf).
        position: usize,
        /// What is wrong with it.
        problem: Box<Problem>,
    },
    /// The private key cannot be parsed or loaded.
    #[error("not a usable private key: {0}")]
    UnparsableKey(String),
    /// The private key belongs to another certificate.
    #[error("private key does not match the certificate in {cert_field}")]
    KeyMismatch {
        /// The certificate field it was checked against.
        cert_field: &'static str,
    },
    /// The certificate's key usage or extended key usage forbids its role.
    #[error("certificate cannot be used {role}: {reason}")]
    KeyUsage {
        /// "by a TLS server", "for sync links".
        role: &'static str,
        /// Which usage bit or purpose is missing.
        reason: String,
    },
    /// A field that must be set is not.
    #[error("required {0}")]
    Missing(String),
    /// TLS 1.0/1.1 or a string that is no version.
    #[error("{0}")]
    ProtocolVersion(#[from] crate::policy::ParseTlsVersionError),
    /// A CBC, RC4, 3DES or NULL suite: only AEAD suites are allowed.
    #[error(
        "{0} is not an AEAD cipher suite; only AES-GCM and ChaCha20-Poly1305 suites are allowed"
    )]
    NonAeadSuite(String),
    /// An AEAD suite rustls does not implement (DHE, RSA key exchange, CCM, ARIA...).
    #[error("cipher suite {name} is not supported; supported: {supported}")]
    UnsupportedSuite {
        /// As written.
        name: String,
        /// The names that would work in this field.
        supported: String,
    },
    /// A name no TLS library uses.
    #[error("unknown cipher suite {name:?}; supported: {supported}")]
    UnknownSuite {
        /// As written.
        name: String,
        /// The names that would work in this field.
        supported: String,
    },
    /// An OpenSSL cipher string keyword (`HIGH`, `!aNULL`, `DEFAULT`).
    #[error("{0:?} is an OpenSSL cipher-string keyword; list suites by name")]
    CipherString(String),
    /// A suite of the other TLS version.
    #[error("{name} is a TLS {version} suite; list it in {field}")]
    WrongVersionSuite {
        /// As written.
        name: String,
        /// "1.2" or "1.3".
        version: &'static str,
        /// The field it belongs in.
        field: &'static str,
    },
    /// The list is empty.
    #[error("lists no cipher suites (leave the field out for the defaults)")]
    NoSuites,
    /// No listed suite can sign with the proxy key.
    #[error("none of the listed TLS 1.2 suites can be used with the {key} key of proxy_cert")]
    NoSuiteForKey {
        /// The key's algorithm, e.g. "ECDSA".
        key: String,
    },
    /// Client authentication is enforced and nothing is trusted.
    #[error(
        "enforce_client_authentication is \"enabled\" but no certificate is trusted: add a \
         certificate here, set node.tls.syncer_cert, or set enforce_client_authentication = \"disabled\""
    )]
    NothingTrusted,
    /// A value out of range.
    #[error("{0}")]
    InvalidValue(String),
    /// rustls refused the assembled configuration.
    #[error("rustls refused the configuration: {0}")]
    Rustls(rustls::Error),
}

/// Formats Unix seconds as a calendar day, `2024-01-01`, in UTC.
pub(crate) fn day(unix_seconds: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix_seconds) {
        Ok(moment) => moment.date().to_string(),
        Err(_) => format!("{unix_seconds} seconds after the epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages carry the database, the field and the reason in that order.
    #[test]
    fn display_names_scope_field_and_reason() {
        let error = TlsConfigError::new(
            &Scope::Database("orders".into()),
            "authentication_ssl_client_certs[1].client_cert",
            Problem::Expired {
                not_after: 1_704_067_200,
            },
        );
        assert_eq!(
            error.to_string(),
            "database \"orders\": authentication_ssl_client_certs[1].client_cert: \
             certificate expired on 2024-01-01"
        );
        let error = TlsConfigError::new(
            &Scope::Node,
            "proxy_key",
            Problem::KeyMismatch {
                cert_field: "proxy_cert",
            },
        );
        assert_eq!(
            error.to_string(),
            "node: proxy_key: private key does not match the certificate in proxy_cert"
        );
    }
}
