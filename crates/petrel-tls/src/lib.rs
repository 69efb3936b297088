//! Petrel's TLS policy core: what each database's port accepts, which peers it
//! trusts and in which role, and the rustls server configurations that carry
//! that policy.
//!
//! This crate owns the configuration model (`policy`), certificate and key
//! checks at load time (`certs`, `suites`), the immutable [`TlsSnapshot`] a
//! new connection reads at accept time (`snapshot`), the client-certificate
//! verifier (`verify`), role decisions after a handshake (`role`) and the
//! development PKI (`generate`, `testing`).
//!
//! It must not do socket I/O, know about any runtime, or read the clock:
//! time comes in as an argument (`now`) wherever a decision depends on it,
//! except inside a rustls handshake, where rustls supplies the time. The
//! kernel TLS handoff lives in `petrel-ktls`; the accept loop lives in
//! `petrel-engine`.

#![forbid(unsafe_code)]

pub mod certs;
pub mod error;
pub mod generate;
pub mod policy;
pub mod role;
pub mod snapshot;
pub mod suites;
pub mod testing;
pub mod verify;

pub use error::{Problem, Scope, TlsConfigError};
pub use generate::{generate_dev_pki, DevPki, GenerateError, GeneratedCert, DEV_PKI_FILES};
pub use policy::{
    ClientAuthentication, KtlsMode, MinTlsVersion, RawClientCert, RawDatabaseTls, RawNodeTls,
    TlsMode, DEFAULT_HANDSHAKE_TIMEOUT_MS,
};
pub use role::{
    classify_handshake_error, classify_peer, sync_allowed, HandshakeFailure, PeerRole, SyncRefusal,
    SyncerVerified,
};
pub use snapshot::{
    CertificateExpiry, DatabaseTls, ExpiryOutlook, NodeTls, TlsSnapshot, EXPIRY_WARNING_WINDOW,
};

/// Re-exported so callers name the same rustls types this crate hands out.
pub use rustls;
/// Re-exported for `CertificateDer` and friends in [`classify_peer`].
pub use rustls_pki_types as pki_types;
