//! What the control plane asks of the data plane, and what it reads back.
//!
//! The engine implements [`DataPlane`]; this crate never sees its threads or
//! its runtime. Every change is described whole ([`Desired`]): the data
//! plane opens the ports of new databases, closes those of removed ones,
//! and publishes one new TLS snapshot that new connections read at accept.

use petrel_tls::{RawDatabaseTls, RawNodeTls};

use crate::model::ReplicaSource;

/// A database as the data plane serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseSpec {
    /// Stable identity across changes (the bdb uid).
    pub uid: u64,
    pub name: String,
    pub port: u16,
    /// 0 for no limit.
    pub memory_size_bytes: u64,
    pub password: Option<String>,
    pub tls: RawDatabaseTls,
    /// Replica Of sources, already validated; empty for a writable database.
    pub replica_sources: Vec<ReplicaSource>,
}

/// The whole state the data plane should serve after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// Certificates are PEM text here, never paths.
    pub node_tls: RawNodeTls,
    pub databases: Vec<DatabaseSpec>,
    /// Close sessions whose client certificate the new trust lists refuse.
    pub close_revoked_sessions: bool,
}

/// Why the data plane could not apply a change. It is left as it was.
#[derive(Debug, thiserror::Error)]
pub enum PlaneError {
    /// A new database's port cannot be bound.
    #[error("database {uid}: cannot listen on port {port}: {reason}")]
    Listen { uid: u64, port: u16, reason: String },
    /// The TLS settings do not build (checked before, so a race or a bug).
    #[error("TLS configuration: {0}")]
    Tls(#[from] petrel_tls::TlsConfigError),
    /// The data plane cannot serve this setting (e.g. `ktls = "required"`
    /// on a kernel without TLS).
    #[error("{field}: {reason}")]
    Refused { field: &'static str, reason: String },
    /// A data thread did not answer.
    #[error("data plane: {0}")]
    Unavailable(String),
}

/// Counters of one database, summed over the data threads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatabaseStats {
    pub connections: u64,
    /// Requests run since the database was created.
    pub requests_total: u64,
    pub keys: u64,
    pub used_memory_bytes: u64,
    /// (quantile, microseconds) of the requests' service time since the
    /// database was created: p50, p99, p99.9; empty before the first request.
    pub latency_us: Vec<(f64, u64)>,
}

/// The node's counters, for stats and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeStats {
    /// By uid.
    pub databases: Vec<(u64, DatabaseStats)>,
    /// Open connections by transport: `plain`, `ktls`, `tls` (userspace).
    pub connections_by_transport: Vec<(&'static str, i64)>,
    /// Failed handshakes by reason.
    pub handshake_failures: Vec<(&'static str, u64)>,
    pub handshakes_completed: u64,
}

/// The data plane as the control plane sees it.
pub trait DataPlane: Send + Sync + 'static {
    /// Makes the node serve `desired`, all or nothing: new databases' ports
    /// open on every data thread, removed databases' listeners and
    /// connections close and their keys are freed, and the TLS settings are
    /// published for new handshakes. Open connections keep theirs.
    fn apply(&self, desired: &Desired) -> Result<(), PlaneError>;

    /// Current counters.
    fn stats(&self) -> Result<NodeStats, PlaneError>;
}
