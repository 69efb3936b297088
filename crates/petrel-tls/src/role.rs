//! Decisions after a handshake: which role a peer has, whether it may run
//! sync commands on this transport, and how a failed handshake is counted.
//!
//! The sync role is carried by [`SyncerVerified`], a proof token only this
//! crate can make, and only from a certificate that matched a syncer
//! certificate of the database's snapshot. Nothing here performs I/O.

use std::fmt;

use rustls::{AlertDescription, CertificateError, PeerIncompatible};
use rustls_pki_types::CertificateDer;

use crate::policy::TlsMode;
use crate::snapshot::DatabaseTls;

/// Proof that the peer's certificate is exactly a syncer certificate this
/// database trusts (the node's own, or one on
/// `authentication_ssl_crdt_certs`), and that the handshake's verifier
/// accepted it. Only this crate can construct it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncerVerified(());

/// What a connection may do, decided once after its handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRole {
    /// Data commands only: plaintext connections, unauthenticated TLS
    /// clients and clients with a certificate from the client list.
    Client,
    /// A syncer: may run replication (sync) commands.
    Sync(SyncerVerified),
}

impl PeerRole {
    /// Whether the peer proved a syncer certificate.
    pub fn is_sync(self) -> bool {
        matches!(self, Self::Sync(_))
    }
}

/// The role of a connection on database `db`.
///
/// `peer_certs` is `ServerConnection::peer_certificates()` after a completed
/// handshake made with `db.server_config()` of the same snapshot (so the
/// verifier has already checked the certificate and its validity), or `None`
/// for a plaintext connection.
pub fn classify_peer(db: &DatabaseTls, peer_certs: Option<&[CertificateDer<'_>]>) -> PeerRole {
    match peer_certs.and_then(<[_]>::first) {
        Some(leaf) if db.trust().is_syncer(leaf) => PeerRole::Sync(SyncerVerified(())),
        _ => PeerRole::Client,
    }
}

/// Why a sync command (SYNC, PSYNC, REPLCONF, ...) is refused. `Display`
/// is the exact error reply, without the leading `-` and trailing CRLF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncRefusal {
    /// The connection is plaintext on a port whose sync traffic must use TLS.
    #[error("NOPERM this database requires TLS with a syncer certificate for replication (sync) commands")]
    Plaintext,
    /// The connection is TLS but its certificate is not a syncer certificate.
    #[error(
        "NOPERM this connection did not present a syncer certificate; replication (sync) commands need one"
    )]
    NotSyncer,
}

/// Whether a connection may run sync commands.
///
/// `disabled`: the port has no TLS, so sync runs over plaintext as in Redis
/// and this always allows it. `replica_ssl` and `enabled`: only over TLS,
/// and only with the sync role.
pub fn sync_allowed(
    mode: TlsMode,
    transport_is_tls: bool,
    role: PeerRole,
) -> Result<(), SyncRefusal> {
    match mode {
        TlsMode::Disabled => Ok(()),
        TlsMode::ReplicaSsl | TlsMode::Enabled => {
            if !transport_is_tls {
                Err(SyncRefusal::Plaintext)
            } else if role.is_sync() {
                Ok(())
            } else {
                Err(SyncRefusal::NotSyncer)
            }
        }
    }
}

/// Why a handshake failed, as counted in INFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HandshakeFailure {
    /// Client authentication is enforced and the client sent no certificate.
    NoCertificate,
    /// The certificate is not trusted (unknown issuer, not on the list,
    /// wrong purpose, bad signature, undecodable).
    UnknownCertificate,
    /// The certificate is expired or not yet valid.
    Expired,
    /// No TLS version, cipher suite or key exchange group in common
    /// (TLS 1.0/1.1 clients, a 1.2-only client against a 1.3 floor).
    ProtocolVersion,
    /// The handshake did not finish within `handshake_timeout_ms`
    /// (decided by the engine; rustls never reports it).
    Timeout,
    /// Anything else: malformed records, a plaintext client on a TLS-only
    /// port, an alert from the client.
    Other,
}

impl HandshakeFailure {
    /// Every reason, in INFO order.
    pub const ALL: [Self; 6] = [
        Self::NoCertificate,
        Self::UnknownCertificate,
        Self::Expired,
        Self::ProtocolVersion,
        Self::Timeout,
        Self::Other,
    ];

    /// The label used in INFO and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoCertificate => "no_certificate",
            Self::UnknownCertificate => "unknown_certificate",
            Self::Expired => "expired",
            Self::ProtocolVersion => "protocol_version",
            Self::Timeout => "timeout",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies the error a server-side `process_new_packets` returned.
pub fn classify_handshake_error(error: &rustls::Error) -> HandshakeFailure {
    use rustls::Error as E;
    match error {
        E::NoCertificatesPresented => HandshakeFailure::NoCertificate,
        E::InvalidCertificate(
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. },
        ) => HandshakeFailure::Expired,
        E::InvalidCertificate(_) => HandshakeFailure::UnknownCertificate,
        E::PeerIncompatible(
            PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::NoCipherSuitesInCommon
            | PeerIncompatible::NoKxGroupsInCommon
            // Only pre-1.2 clients leave signature_algorithms out.
            | PeerIncompatible::SignatureAlgorithmsExtensionRequired,
        ) => HandshakeFailure::ProtocolVersion,
        E::AlertReceived(
            AlertDescription::ProtocolVersion | AlertDescription::InsufficientSecurity,
        ) => HandshakeFailure::ProtocolVersion,
        _ => HandshakeFailure::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sync over TLS needs the token; disabled ports allow plaintext sync.
    #[test]
    fn sync_permission_table() {
        let syncer = PeerRole::Sync(SyncerVerified(()));
        assert_eq!(
            sync_allowed(TlsMode::Disabled, false, PeerRole::Client),
            Ok(())
        );
        assert_eq!(
            sync_allowed(TlsMode::ReplicaSsl, false, PeerRole::Client),
            Err(SyncRefusal::Plaintext)
        );
        assert_eq!(
            sync_allowed(TlsMode::ReplicaSsl, true, PeerRole::Client),
            Err(SyncRefusal::NotSyncer)
        );
        assert_eq!(sync_allowed(TlsMode::ReplicaSsl, true, syncer), Ok(()));
        assert_eq!(sync_allowed(TlsMode::Enabled, true, syncer), Ok(()));
        assert_eq!(
            sync_allowed(TlsMode::Enabled, false, syncer),
            Err(SyncRefusal::Plaintext)
        );
        assert_eq!(
            SyncRefusal::Plaintext.to_string(),
            "NOPERM this database requires TLS with a syncer certificate for replication (sync) commands"
        );
    }

    /// rustls errors land in the INFO buckets an operator would look in.
    #[test]
    fn error_buckets() {
        use rustls::Error as E;
        assert_eq!(
            classify_handshake_error(&E::NoCertificatesPresented),
            HandshakeFailure::NoCertificate
        );
        assert_eq!(
            classify_handshake_error(&E::InvalidCertificate(CertificateError::NotValidYet)),
            HandshakeFailure::Expired
        );
        assert_eq!(
            classify_handshake_error(&E::InvalidCertificate(CertificateError::UnknownIssuer)),
            HandshakeFailure::UnknownCertificate
        );
        assert_eq!(
            classify_handshake_error(&E::PeerIncompatible(PeerIncompatible::Tls12NotOffered)),
            HandshakeFailure::ProtocolVersion
        );
        assert_eq!(
            classify_handshake_error(&E::DecryptError),
            HandshakeFailure::Other
        );
        let labels: Vec<_> = HandshakeFailure::ALL
            .iter()
            .map(|reason| reason.as_str())
            .collect();
        assert_eq!(
            labels,
            [
                "no_certificate",
                "unknown_certificate",
                "expired",
                "protocol_version",
                "timeout",
                "other"
            ]
        );
    }
}
