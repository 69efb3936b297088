//! The control state as it is persisted and served, and the request bodies
//! the API accepts, with Redis Enterprise's field names.
//!
//! Request bodies refuse unknown fields, so a typo is a 400 naming it
//! rather than a silently ignored setting. Nothing here does I/O.

use petrel_tls::{ClientAuthentication, KtlsMode, MinTlsVersion, RawClientCert, TlsMode};
use serde::{Deserialize, Serialize};

/// Version of the persisted file's layout.
pub const STATE_FORMAT_VERSION: u32 = 1;

/// Everything the control plane owns: databases, node-wide TLS settings
/// and certificates. Persisted whole; a restart restores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlState {
    pub format_version: u32,
    /// The uid the next created database gets.
    pub next_uid: u64,
    pub cluster: ClusterSettings,
    pub certificates: Certificates,
    pub bdbs: Vec<Bdb>,
}

/// Node-wide TLS settings (`/v1/cluster`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSettings {
    /// `"1.2"` or `"1.3"`.
    #[serde(rename = "min_data_TLS_version")]
    pub min_data_tls_version: MinTlsVersion,
    /// TLS 1.2 suites, colon separated; `None` for every supported suite.
    pub data_cipher_list: Option<String>,
    /// TLS 1.3 suites, colon separated; `None` for all three.
    pub data_cipher_suites_tls_1_3: Option<String>,
    /// How long a data-port handshake may take.
    pub handshake_timeout_ms: u64,
    /// `auto`, `required` or `off`.
    pub ktls: KtlsMode,
    /// Close open sessions whose client certificate a trust-list change
    /// no longer accepts (off by default, as Redis Enterprise behaves).
    pub close_revoked_sessions: bool,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            min_data_tls_version: MinTlsVersion::default(),
            data_cipher_list: None,
            data_cipher_suites_tls_1_3: None,
            handshake_timeout_ms: petrel_tls::DEFAULT_HANDSHAKE_TIMEOUT_MS,
            ktls: KtlsMode::default(),
            close_revoked_sessions: false,
        }
    }
}

/// A certificate chain and its private key, both PEM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatePair {
    pub certificate: String,
    pub key: String,
}

/// The node's certificates by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificates {
    /// Sent to clients on data ports.
    pub proxy: Option<CertificatePair>,
    /// Sent on sync links; peers presenting it may sync.
    pub syncer: Option<CertificatePair>,
    /// Served by this API; the proxy pair when absent.
    pub api: Option<CertificatePair>,
}

/// Which certificate of the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateName {
    Proxy,
    Syncer,
    Api,
}

impl CertificateName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proxy => "proxy",
            Self::Syncer => "syncer",
            Self::Api => "api",
        }
    }
}

/// A database (`bdb`) as persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bdb {
    pub uid: u64,
    pub name: String,
    pub port: u16,
    /// Memory limit in bytes; 0 for none.
    pub memory_size: u64,
    pub authentication_redis_pass: Option<String>,
    pub tls_mode: TlsMode,
    pub enforce_client_authentication: ClientAuthentication,
    pub authentication_ssl_client_certs: Vec<RawClientCert>,
    pub authentication_ssl_crdt_certs: Vec<RawClientCert>,
    /// Replica Of: the source this database pulls from (at most one);
    /// empty for a writable database. Absent in files written before it
    /// existed.
    #[serde(default)]
    pub replica_sources: Vec<ReplicaSource>,
}

/// One Replica Of source (`replica_sources[]`), with Redis Enterprise's
/// field names. Certificates and the key are PEM text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSource {
    /// `redis://[[user]:password@]host:port`.
    pub uri: String,
    /// Connect to the source with TLS.
    #[serde(default)]
    pub encryption: bool,
    /// The source's certificate or its CA, trusted for the link; required
    /// with `encryption`.
    pub server_cert: Option<String>,
    /// Presented to the source with `client_key`; the node's syncer
    /// certificate when absent.
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    /// SNI sent to the source; its host by default.
    pub replication_tls_sni: Option<String>,
}

/// `POST /v1/bdbs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BdbCreate {
    /// Ignored when absent; refused when taken.
    pub uid: Option<u64>,
    pub name: String,
    pub port: u16,
    #[serde(default)]
    pub memory_size: u64,
    pub authentication_redis_pass: Option<String>,
    #[serde(default)]
    pub tls_mode: TlsMode,
    #[serde(default)]
    pub enforce_client_authentication: ClientAuthentication,
    #[serde(default)]
    pub authentication_ssl_client_certs: Vec<RawClientCert>,
    #[serde(default)]
    pub authentication_ssl_crdt_certs: Vec<RawClientCert>,
    #[serde(default)]
    pub replica_sources: Vec<ReplicaSource>,
}

/// `PUT /v1/bdbs/{uid}`: every field optional; absent fields keep their value.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BdbUpdate {
    pub name: Option<String>,
    pub port: Option<u16>,
    pub memory_size: Option<u64>,
    /// `""` removes the password.
    pub authentication_redis_pass: Option<String>,
    pub tls_mode: Option<TlsMode>,
    pub enforce_client_authentication: Option<ClientAuthentication>,
    pub authentication_ssl_client_certs: Option<Vec<RawClientCert>>,
    pub authentication_ssl_crdt_certs: Option<Vec<RawClientCert>>,
    /// Replaces the sources; `[]` stops replicating and makes the database
    /// writable, keeping its keys.
    pub replica_sources: Option<Vec<ReplicaSource>>,
}

/// `PUT /v1/cluster`: every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterUpdate {
    #[serde(rename = "min_data_TLS_version")]
    pub min_data_tls_version: Option<String>,
    /// `""` restores the default list.
    pub data_cipher_list: Option<String>,
    /// `""` restores the default list.
    pub data_cipher_suites_tls_1_3: Option<String>,
    pub handshake_timeout_ms: Option<u64>,
    pub ktls: Option<KtlsMode>,
    pub close_revoked_sessions: Option<bool>,
}

/// `PUT /v1/cluster/certificates`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatesUpdate {
    pub certificates: Vec<CertificateUpload>,
}

/// One certificate of a `PUT /v1/cluster/certificates`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateUpload {
    pub name: CertificateName,
    pub certificate: String,
    pub key: String,
}
