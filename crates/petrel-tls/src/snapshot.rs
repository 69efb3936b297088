//! The validated, immutable TLS state of a node: node-wide certificates and
//! floors, and per database its mode, trust lists and rustls `ServerConfig`.
//!
//! A [`TlsSnapshot`] is built once from raw settings and never changes; the
//! engine holds it in an `Arc`, reads it when it accepts a connection, and a
//! later reload builds a new one and swaps the `Arc`. Connections keep the
//! snapshot they started with, so a change applies to new handshakes only
//! and drops nothing. Building reads the certificate files the settings name
//! and checks them against `now`; it opens no socket.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::server::NoServerSessionStorage;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ServerConfig, SupportedCipherSuite, SupportedProtocolVersion};

use crate::certs::{load_identity, load_trusted_list, Identity, IdentityFields, IdentityRole};
use crate::error::{Problem, Scope, TlsConfigError};
use crate::policy::{
    ClientAuthentication, KtlsMode, MinTlsVersion, RawDatabaseTls, RawNodeTls, TlsMode,
    DEFAULT_HANDSHAKE_TIMEOUT_MS,
};
use crate::suites::{parse_suite_list, SuiteVersion};
use crate::verify::{PolicyVerifier, TrustLists};

/// Upper bound for `handshake_timeout_ms`: a handshake slower than a
/// minute is a stuck peer, and a huge value would pin connection slots.
const HANDSHAKE_TIMEOUT_MS_MAX: u64 = 60_000;

static TLS12_AND_13: &[&SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Validated TLS state for the whole node. `Send + Sync`; share it in an `Arc`.
#[derive(Debug)]
pub struct TlsSnapshot {
    node: NodeTls,
    databases: Vec<DatabaseTls>,
    expiries: Vec<CertificateExpiry>,
}

impl TlsSnapshot {
    /// Validates the node settings and every database's policy and builds
    /// the rustls configurations. `databases` is in config order; the index
    /// of a database here is its index in [`TlsSnapshot::database`].
    /// Relative certificate paths are resolved against `base_dir`;
    /// validity is checked at `now`. The first problem found is returned.
    pub fn build(
        node: &RawNodeTls,
        databases: &[(String, RawDatabaseTls)],
        base_dir: &Path,
        now: SystemTime,
    ) -> Result<Self, TlsConfigError> {
        let now_seconds = unix_seconds(now);
        let node = NodeTls::build(node, base_dir, now_seconds)?;
        let mut expiries = Vec::new();
        for (field, identity) in [("proxy_cert", &node.proxy), ("syncer_cert", &node.syncer)] {
            if let Some(identity) = identity {
                expiries.push(CertificateExpiry::new(Scope::Node, field, identity.leaf()));
            }
        }
        let mut built = Vec::with_capacity(databases.len());
        for (name, raw) in databases {
            let (database, database_expiries) =
                DatabaseTls::build(&node, name, raw, base_dir, now_seconds)?;
            built.push(database);
            expiries.extend(database_expiries);
        }
        Ok(Self {
            node,
            databases: built,
            expiries,
        })
    }

    /// The database at `index` (config order).
    ///
    /// # Panics
    /// If `index` is not below `databases().len()`: the engine creates its
    /// listeners from the same list, so a bad index is a bug, not input.
    pub fn database(&self, index: usize) -> &DatabaseTls {
        &self.databases[index]
    }

    /// Every database, in config order.
    pub fn databases(&self) -> &[DatabaseTls] {
        &self.databases
    }

    /// The database called `name` and its index.
    pub fn database_named(&self, name: &str) -> Option<(usize, &DatabaseTls)> {
        self.databases
            .iter()
            .enumerate()
            .find(|(_, database)| database.name == name)
    }

    /// Node-wide settings.
    pub fn node(&self) -> &NodeTls {
        &self.node
    }

    /// Every configured certificate's expiry, for metrics.
    pub fn certificate_expiries(&self) -> &[CertificateExpiry] {
        &self.expiries
    }
}

/// Validated node-wide settings.
#[derive(Debug)]
pub struct NodeTls {
    proxy: Option<Identity>,
    syncer: Option<Identity>,
    min_version: MinTlsVersion,
    handshake_timeout: Duration,
    ktls: KtlsMode,
    provider: Arc<CryptoProvider>,
}

impl NodeTls {
    fn build(raw: &RawNodeTls, base_dir: &Path, now: i64) -> Result<Self, TlsConfigError> {
        let scope = Scope::Node;
        let node_error = |field: &str, problem| TlsConfigError::new(&scope, field, problem);

        let min_version = match &raw.min_data_tls_version {
            None => MinTlsVersion::default(),
            Some(text) => text
                .parse::<MinTlsVersion>()
                .map_err(|error| node_error("min_data_TLS_version", error.into()))?,
        };
        let tls12 = parse_suite_list(raw.data_cipher_list.as_deref(), SuiteVersion::Tls12)
            .map_err(|problem| node_error("data_cipher_list", problem))?;
        let tls13 = parse_suite_list(
            raw.data_cipher_suites_tls_1_3.as_deref(),
            SuiteVersion::Tls13,
        )
        .map_err(|problem| node_error("data_cipher_suites_tls_1_3", problem))?;
        let timeout_ms = raw
            .handshake_timeout_ms
            .unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT_MS);
        if !(1..=HANDSHAKE_TIMEOUT_MS_MAX).contains(&timeout_ms) {
            return Err(node_error(
                "handshake_timeout_ms",
                Problem::InvalidValue(format!(
                    "{timeout_ms} is out of range; use 1 to {HANDSHAKE_TIMEOUT_MS_MAX}"
                )),
            ));
        }

        let mut cipher_suites: Vec<SupportedCipherSuite> = tls13;
        if min_version == MinTlsVersion::V1_2 {
            cipher_suites.extend(&tls12);
        }
        let provider = Arc::new(CryptoProvider {
            cipher_suites,
            ..rustls::crypto::aws_lc_rs::default_provider()
        });

        let proxy = load_pair(
            &scope,
            IdentityRole::Server,
            ("proxy_cert", raw.proxy_cert.as_deref()),
            ("proxy_key", raw.proxy_key.as_deref()),
            base_dir,
            now,
            &provider,
        )?;
        let syncer = load_pair(
            &scope,
            IdentityRole::Syncer,
            ("syncer_cert", raw.syncer_cert.as_deref()),
            ("syncer_key", raw.syncer_key.as_deref()),
            base_dir,
            now,
            &provider,
        )?;
        if let (Some(proxy), MinTlsVersion::V1_2) = (&proxy, min_version) {
            let algorithm = proxy.certified_key.key.algorithm();
            if !tls12
                .iter()
                .any(|suite| suite.usable_for_signature_algorithm(algorithm))
            {
                return Err(node_error(
                    "data_cipher_list",
                    Problem::NoSuiteForKey {
                        key: format!("{algorithm:?}"),
                    },
                ));
            }
        }
        Ok(Self {
            proxy,
            syncer,
            min_version,
            handshake_timeout: Duration::from_millis(timeout_ms),
            ktls: raw.ktls.unwrap_or_default(),
            provider,
        })
    }

    /// The lowest TLS version accepted.
    pub fn min_tls_version(&self) -> MinTlsVersion {
        self.min_version
    }

    /// How long a handshake may take.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Whether records move to the kernel after the handshake.
    pub fn ktls_mode(&self) -> KtlsMode {
        self.ktls
    }

    /// The proxy certificate chain and key, when configured.
    pub fn proxy_key(&self) -> Option<&Arc<CertifiedKey>> {
        self.proxy.as_ref().map(|identity| &identity.certified_key)
    }

    /// The syncer certificate chain and key, for outgoing sync links.
    pub fn syncer_key(&self) -> Option<&Arc<CertifiedKey>> {
        self.syncer.as_ref().map(|identity| &identity.certified_key)
    }

    /// The crypto provider restricted to the configured suites; outgoing
    /// sync links build their client configs from it.
    pub fn provider(&self) -> &Arc<CryptoProvider> {
        &self.provider
    }

    /// The protocol versions the floor allows, newest first.
    pub fn protocol_versions(&self) -> &'static [&'static SupportedProtocolVersion] {
        match self.min_version {
            MinTlsVersion::V1_2 => TLS12_AND_13,
            MinTlsVersion::V1_3 => TLS13_ONLY,
        }
    }
}

/// One database's validated TLS policy.
#[derive(Debug)]
pub struct DatabaseTls {
    name: String,
    mode: TlsMode,
    client_authentication: ClientAuthentication,
    server_config: Option<Arc<ServerConfig>>,
    handshake_timeout: Duration,
    ktls: KtlsMode,
    trust: Arc<TrustLists>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl DatabaseTls {
    fn build(
        node: &NodeTls,
        name: &str,
        raw: &RawDatabaseTls,
        base_dir: &Path,
        now: i64,
    ) -> Result<(Self, Vec<CertificateExpiry>), TlsConfigError> {
        let scope = Scope::Database(name.to_owned());
        let client_certs = load_trusted_list(
            &scope,
            "authentication_ssl_client_certs",
            &raw.authentication_ssl_client_certs,
            base_dir,
            now,
        )?;
        let crdt_certs = load_trusted_list(
            &scope,
            "authentication_ssl_crdt_certs",
            &raw.authentication_ssl_crdt_certs,
            base_dir,
            now,
        )?;
        let mut expiries = Vec::new();
        for (list, entries) in [
            ("authentication_ssl_client_certs", &client_certs),
            ("authentication_ssl_crdt_certs", &crdt_certs),
        ] {
            for (index, certs) in entries.iter().enumerate() {
                let field = format!("{list}[{index}]");
                for cert in certs {
                    expiries.push(CertificateExpiry::new(scope.clone(), &field, cert));
                }
            }
        }
        let client_certs: Vec<_> = client_certs.into_iter().flatten().collect();
        let crdt_certs: Vec<_> = crdt_certs.into_iter().flatten().collect();

        let mut syncer_certs = crdt_certs;
        if let Some(own) = &node.syncer {
            syncer_certs.push(own.leaf().clone());
        }
        let enforced = raw.enforce_client_authentication.is_enforced();
        if raw.tls_mode != TlsMode::Disabled
            && enforced
            && client_certs.is_empty()
            && syncer_certs.is_empty()
        {
            return Err(TlsConfigError::new(
                &scope,
                "authentication_ssl_client_certs",
                Problem::NothingTrusted,
            ));
        }
        let trust = Arc::new(TrustLists::new(client_certs, syncer_certs, enforced));

        let server_config = match raw.tls_mode {
            TlsMode::Disabled => None,
            TlsMode::ReplicaSsl | TlsMode::Enabled => {
                let proxy = node.proxy.as_ref().ok_or_else(|| {
                    TlsConfigError::new(
                        &Scope::Node,
                        "proxy_cert",
                        Problem::Missing(format!(
                            "because database {name:?} has tls_mode = \"{}\"",
                            raw.tls_mode
                        )),
                    )
                })?;
                let verifier = Arc::new(PolicyVerifier::new(
                    trust.clone(),
                    node.provider.signature_verification_algorithms,
                ));
                let config = server_config(node, proxy, verifier).map_err(|error| {
                    TlsConfigError::new(&scope, "tls_mode", Problem::Rustls(error))
                })?;
                Some(Arc::new(config))
            }
        };
        Ok((
            Self {
                name: name.to_owned(),
                mode: raw.tls_mode,
                client_authentication: raw.enforce_client_authentication,
                server_config,
                handshake_timeout: node.handshake_timeout,
                ktls: node.ktls,
                trust,
                algorithms: node.provider.signature_verification_algorithms,
            },
            expiries,
        ))
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the port speaks.
    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// Whether a client certificate is mandatory.
    pub fn client_authentication(&self) -> ClientAuthentication {
        self.client_authentication
    }

    /// The rustls configuration for TLS connections; `None` when `tls_mode`
    /// is `disabled`. In `replica_ssl` it serves connections whose first
    /// byte is 0x16.
    pub fn server_config(&self) -> Option<Arc<ServerConfig>> {
        self.server_config.clone()
    }

    /// How long a handshake may take (node-wide).
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Whether records move to the kernel after the handshake (node-wide).
    pub fn ktls_mode(&self) -> KtlsMode {
        self.ktls
    }

    /// Whether a session that presented `chain` (leaf first) would still
    /// be let in by this policy at `now`. A session without a certificate
    /// is not judged here: only certificates can be revoked.
    pub fn trusts_chain(
        &self,
        chain: &[rustls_pki_types::CertificateDer<'_>],
        now: SystemTime,
    ) -> bool {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return true;
        };
        if self.mode == TlsMode::Disabled {
            return false;
        }
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        PolicyVerifier::new(self.trust.clone(), self.algorithms).accepts(
            leaf,
            intermediates,
            rustls_pki_types::UnixTime::since_unix_epoch(since_epoch),
        )
    }

    pub(crate) fn trust(&self) -> &TrustLists {
        &self.trust
    }
}

/// A configured certificate's expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateExpiry {
    /// The node or the database it belongs to.
    pub scope: Scope,
    /// The field, e.g. `proxy_cert` or `authentication_ssl_client_certs[0]`.
    pub field: String,
    /// The certificate's subject.
    pub subject: String,
    /// notAfter.
    pub not_after: SystemTime,
}

/// How long before a configured certificate expires the node starts to
/// warn: 30 days, when ACME clients renew.
pub const EXPIRY_WARNING_WINDOW: Duration = Duration::from_secs(30 * 86_400);

/// What to tell an operator about a certificate's expiry at `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryOutlook {
    /// More than [`EXPIRY_WARNING_WINDOW`] left.
    Fine,
    /// Expires within the window, in this many whole days (0: today).
    Soon { days_left: u64 },
    /// Already past notAfter: peers refuse it.
    Expired { days_ago: u64 },
}

impl CertificateExpiry {
    /// This certificate's outlook at `now`.
    pub fn outlook(&self, now: SystemTime) -> ExpiryOutlook {
        const DAY_SECS: u64 = 86_400;
        match self.not_after.duration_since(now) {
            Ok(left) if left > EXPIRY_WARNING_WINDOW => ExpiryOutlook::Fine,
            Ok(left) => ExpiryOutlook::Soon {
                days_left: left.as_secs() / DAY_SECS,
            },
            Err(past) => ExpiryOutlook::Expired {
                days_ago: past.duration().as_secs() / DAY_SECS,
            },
        }
    }

    fn new(scope: Scope, field: &str, cert: &crate::certs::CertInfo) -> Self {
        let not_after = u64::try_from(cert.not_after()).unwrap_or(0);
        Self {
            scope,
            field: field.to_owned(),
            subject: cert.subject().to_owned(),
            not_after: UNIX_EPOCH + Duration::from_secs(not_after),
        }
    }
}

/// Loads a certificate and key that must be given together (or not at all).
fn load_pair(
    scope: &Scope,
    role: IdentityRole,
    (cert_field, cert_value): (&'static str, Option<&str>),
    (key_field, key_value): (&'static str, Option<&str>),
    base_dir: &Path,
    now: i64,
    provider: &CryptoProvider,
) -> Result<Option<Identity>, TlsConfigError> {
    match (cert_value, key_value) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(TlsConfigError::new(
            scope,
            key_field,
            Problem::Missing(format!("when {cert_field} is set")),
        )),
        (None, Some(_)) => Err(TlsConfigError::new(
            scope,
            cert_field,
            Problem::Missing(format!("when {key_field} is set")),
        )),
        (Some(cert_value), Some(key_value)) => {
            let fields = IdentityFields {
                cert_field,
                cert_value,
                key_field,
                key_value,
            };
            load_identity(scope, &fields, role, base_dir, now, provider).map(Some)
        }
    }
}

fn server_config(
    node: &NodeTls,
    proxy: &Identity,
    verifier: Arc<PolicyVerifier>,
) -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(node.provider.clone())
        .with_protocol_versions(node.protocol_versions())?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(
            proxy.certified_key.clone(),
        )));
    // The kernel handoff cannot carry TLS 1.3 tickets, and a resumed session
    // would skip today's client-certificate check: no resumption at all.
    config.send_tls13_tickets = 0;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    // kTLS needs the traffic secrets after the handshake.
    config.enable_secret_extraction = true;
    config.alpn_protocols = Vec::new();
    config.max_early_data_size = 0;
    Ok(config)
}

fn unix_seconds(now: SystemTime) -> i64 {
    match now.duration_since(UNIX_EPOCH) {
        Ok(elapsed) => i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

// The engine shares snapshots between ring threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TlsSnapshot>();
    assert_send_sync::<DatabaseTls>();
};

#[cfg(test)]
mod tests {
    use super::*;

    fn expiring_at(not_after: SystemTime) -> CertificateExpiry {
        CertificateExpiry {
            scope: Scope::Node,
            field: "proxy_cert".into(),
            subject: "CN=localhost".into(),
            not_after,
        }
    }

    #[test]
    fn outlook_warns_within_thirty_days_and_after_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            expiring_at(now + day * 31).outlook(now),
            ExpiryOutlook::Fine
        );
        assert_eq!(
            expiring_at(now + day * 30).outlook(now),
            ExpiryOutlook::Soon { days_left: 30 }
        );
        assert_eq!(
            expiring_at(now + day * 5 + Duration::from_secs(60)).outlook(now),
            ExpiryOutlook::Soon { days_left: 5 }
        );
        assert_eq!(
            expiring_at(now + Duration::from_secs(3600)).outlook(now),
            ExpiryOutlook::Soon { days_left: 0 }
        );
        assert_eq!(
            expiring_at(now - day * 2).outlook(now),
            ExpiryOutlook::Expired { days_ago: 2 }
        );
    }
}
