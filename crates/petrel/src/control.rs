//! Wiring the control plane to the node: the state a node starts from (the
//! persisted one, or one seeded from the config file on a fresh node), and
//! the adapter through which `petrel-admin` drives the engine.

use std::path::Path;

use anyhow::Context;
use petrel_admin::{
    Bdb, CertificatePair, Certificates, ClusterSettings, ControlState, DataPlane, DatabaseStats,
    Desired, NodeStats, PlaneError, ReplicaSource,
};
use petrel_engine::config::{AdminSettings, ReplicaSourceConfig};
use petrel_engine::{ApplyError, Config, ControlHandle, DatabaseConfig};
use petrel_tls::{RawClientCert, RawNodeTls};

/// The state to serve: what `node.data_dir` holds, else the config's
/// databases and certificates (read into PEM text, so the saved state does
/// not depend on files that may move). The config's databases and TLS
/// settings are replaced by it.
pub fn starting_state(config: &mut Config, admin: &AdminSettings) -> anyhow::Result<ControlState> {
    let data_dir = config
        .node
        .data_dir
        .clone()
        .context("node.data_dir is required with [admin]")?;
    let data_dir = config.base_dir.join(data_dir);
    let state = match petrel_admin::persist::load(&data_dir)
        .context("cannot restore the control state")?
    {
        Some(state) => {
            tracing::info!(
                databases = state.bdbs.len(),
                dir = %data_dir.display(),
                "control state restored; the config file's databases and TLS settings are not used"
            );
            state
        }
        None => seed(config, admin).context("cannot seed the control state from the config")?,
    };
    config.node.tls = state.node_tls();
    config.databases = state
        .desired()
        .databases
        .iter()
        .map(database_config)
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)
        .context("the control state's replica_sources")?;
    config.node.data_dir = Some(data_dir);
    Ok(state)
}

fn seed(config: &Config, admin: &AdminSettings) -> anyhow::Result<ControlState> {
    let base = &config.base_dir;
    let tls = &config.node.tls;
    let pair = |cert: &Option<String>, key: &Option<String>, what: &str| {
        pem_pair(cert.as_deref(), key.as_deref(), base).with_context(|| what.to_string())
    };
    let certificates = Certificates {
        proxy: pair(&tls.proxy_cert, &tls.proxy_key, "node.tls.proxy_cert")?,
        syncer: pair(&tls.syncer_cert, &tls.syncer_key, "node.tls.syncer_cert")?,
        api: pair(&admin.api_cert, &admin.api_key, "admin.api_cert")?,
    };
    let defaults = ClusterSettings::default();
    let cluster = ClusterSettings {
        min_data_tls_version: match &tls.min_data_tls_version {
            Some(text) => text
                .parse()
                .context("node.tls.min_data_TLS_version is invalid")?,
            None => defaults.min_data_tls_version,
        },
        data_cipher_list: tls.data_cipher_list.clone(),
        data_cipher_suites_tls_1_3: tls.data_cipher_suites_tls_1_3.clone(),
        handshake_timeout_ms: tls
            .handshake_timeout_ms
            .unwrap_or(defaults.handshake_timeout_ms),
        ktls: tls.ktls.unwrap_or(defaults.ktls),
        close_revoked_sessions: false,
    };
    let mut bdbs = Vec::new();
    for database in &config.databases {
        let pems = |list: &[RawClientCert], field: &str| -> anyhow::Result<Vec<RawClientCert>> {
            list.iter()
                .map(|entry| {
                    Ok(RawClientCert {
                        client_cert: read_pem(&entry.client_cert, base)
                            .with_context(|| format!("database {}: {field}", database.name))?,
                    })
                })
                .collect()
        };
        bdbs.push(Bdb {
            uid: database.uid,
            name: database.name.clone(),
            port: database.port,
            memory_size: database.memory_size_bytes,
            authentication_redis_pass: database.password.clone(),
            tls_mode: database.tls.tls_mode,
            enforce_client_authentication: database.tls.enforce_client_authentication,
            authentication_ssl_client_certs: pems(
                &database.tls.authentication_ssl_client_certs,
                "authentication_ssl_client_certs",
            )?,
            authentication_ssl_crdt_certs: pems(
                &database.tls.authentication_ssl_crdt_certs,
                "authentication_ssl_crdt_certs",
            )?,
            replica_sources: database
                .replica_sources
                .iter()
                .map(|source| replica_source(source, base))
                .collect::<anyhow::Result<_>>()
                .with_context(|| format!("database {}: replica_sources", database.name))?,
        });
    }
    let mut state = ControlState::empty();
    state.next_uid = bdbs.iter().map(|bdb| bdb.uid).max().unwrap_or(0) + 1;
    state.bdbs = bdbs;
    state.cluster = cluster;
    state.certificates = certificates;
    Ok(state)
}

/// A config file's source as the API keeps it: certificates read into PEM.
fn replica_source(source: &ReplicaSourceConfig, base: &Path) -> anyhow::Result<ReplicaSource> {
    let pem = |value: &Option<String>, field: &str| -> anyhow::Result<Option<String>> {
        value
            .as_deref()
            .map(|value| read_pem(value, base).with_context(|| field.to_string()))
            .transpose()
    };
    Ok(ReplicaSource {
        uri: source.uri.clone(),
        encryption: source.encryption,
        server_cert: pem(&source.server_cert, "server_cert")?,
        client_cert: pem(&source.client_cert, "client_cert")?,
        client_key: pem(&source.client_key, "client_key")?,
        replication_tls_sni: source.replication_tls_sni.clone(),
    })
}

fn read_pem(value: &str, base: &Path) -> anyhow::Result<String> {
    let bytes = petrel_tls::certs::read_source(value, base)?;
    String::from_utf8(bytes).context("not PEM text")
}

fn pem_pair(
    cert: Option<&str>,
    key: Option<&str>,
    base: &Path,
) -> anyhow::Result<Option<CertificatePair>> {
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(CertificatePair {
            certificate: read_pem(cert, base)?,
            key: read_pem(key, base)?,
        })),
        _ => Ok(None),
    }
}

/// The engine's settings for a database the control plane serves; an
/// error only for a source URI that does not parse (the API validated it,
/// so a hand-edited state file).
fn database_config(spec: &petrel_admin::DatabaseSpec) -> Result<DatabaseConfig, String> {
    let replica_sources = spec
        .replica_sources
        .iter()
        .map(|source| {
            let parsed = petrel_sync::SourceUri::parse(&source.uri)
                .map_err(|reason| format!("database {}: uri: {reason}", spec.uid))?;
            Ok(ReplicaSourceConfig {
                uri: source.uri.clone(),
                source: parsed,
                encryption: source.encryption,
                server_cert: source.server_cert.clone(),
                client_cert: source.client_cert.clone(),
                client_key: source.client_key.clone(),
                replication_tls_sni: source.replication_tls_sni.clone(),
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(DatabaseConfig {
        uid: spec.uid,
        name: spec.name.clone(),
        port: spec.port,
        memory_size_bytes: spec.memory_size_bytes,
        password: spec.password.clone(),
        tls: spec.tls.clone(),
        replica_sources,
    })
}

fn error_text(error: &ApplyError) -> String {
    error.to_string()
}

/// The engine as the control plane's data plane.
pub struct EnginePlane(pub ControlHandle);

impl DataPlane for EnginePlane {
    fn apply(&self, desired: &Desired) -> Result<(), PlaneError> {
        let databases: Vec<DatabaseConfig> = desired
            .databases
            .iter()
            .map(database_config)
            .collect::<Result<_, _>>()
            .map_err(|reason| PlaneError::Refused {
                field: "replica_sources",
                reason,
            })?;
        let node_tls: &RawNodeTls = &desired.node_tls;
        self.0
            .apply(node_tls, &databases, desired.close_revoked_sessions)
            .map_err(|error| match error {
                ApplyError::Listen {
                    uid,
                    address,
                    source,
                } => PlaneError::Listen {
                    uid,
                    port: address.port(),
                    reason: source.to_string(),
                },
                ApplyError::Tls(error) => PlaneError::Tls(error),
                ApplyError::KtlsUnavailable => PlaneError::Refused {
                    field: "ktls",
                    reason: error_text(&ApplyError::KtlsUnavailable),
                },
                ApplyError::TooManyDatabases => PlaneError::Refused {
                    field: "uid",
                    reason: error_text(&ApplyError::TooManyDatabases),
                },
                other => PlaneError::Unavailable(other.to_string()),
            })
    }

    fn stats(&self) -> Result<NodeStats, PlaneError> {
        let stats = self
            .0
            .stats()
            .map_err(|error| PlaneError::Unavailable(error.to_string()))?;
        Ok(NodeStats {
            databases: stats
                .databases
                .into_iter()
                .map(|(uid, counters)| {
                    (
                        uid,
                        DatabaseStats {
                            connections: counters.connections,
                            requests_total: counters.requests_total,
                            keys: counters.keys,
                            used_memory_bytes: counters.used_memory_bytes,
                            latency_us: counters.latency_us,
                        },
                    )
                })
                .collect(),
            connections_by_transport: stats.connections_by_transport,
            handshake_failures: stats.handshake_failures,
            handshakes_completed: stats.handshakes_completed,
        })
    }
}
