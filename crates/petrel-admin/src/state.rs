//! Changes to the control state, each checked whole before anything is
//! applied: a request produces a complete candidate state, the candidate is
//! validated (names, ports, and every certificate and TLS setting built
//! exactly as the data plane will build them), and only a valid candidate
//! goes on to the data plane and to disk.
//!
//! Pure: no I/O, and time enters as `now`.

use std::path::Path;
use std::time::SystemTime;

use petrel_tls::{RawDatabaseTls, RawNodeTls, Scope, TlsMode, TlsSnapshot};

use crate::error::ApiError;
use crate::model::{
    Bdb, BdbCreate, BdbUpdate, CertificateName, CertificatePair, Certificates, CertificatesUpdate,
    ClusterSettings, ClusterUpdate, ControlState, STATE_FORMAT_VERSION,
};
use crate::plane::{DatabaseSpec, Desired};

/// Longest database name accepted.
const NAME_BYTES_MAX: usize = 63;

impl ControlState {
    /// A state with no database and no certificate.
    pub fn empty() -> Self {
        Self {
            format_version: STATE_FORMAT_VERSION,
            next_uid: 1,
            cluster: ClusterSettings::default(),
            certificates: Certificates::default(),
            bdbs: Vec::new(),
        }
    }

    pub fn bdb(&self, uid: u64) -> Option<&Bdb> {
        self.bdbs.iter().find(|bdb| bdb.uid == uid)
    }

    /// The candidate state after creating a database, and its uid.
    pub fn with_bdb_created(&self, request: BdbCreate) -> Result<(Self, u64), ApiError> {
        let mut next = self.clone();
        let uid = match request.uid {
            Some(0) => return Err(ApiError::invalid("uid", "must be at least 1")),
            Some(uid) if self.bdb(uid).is_some() => {
                return Err(ApiError::new(
                    409,
                    "uid_taken",
                    format!("uid: database {uid} already exists"),
                ))
            }
            Some(uid) => uid,
            None => self.next_uid,
        };
        next.next_uid = next.next_uid.max(uid + 1);
        next.bdbs.push(Bdb {
            uid,
            name: request.name,
            port: request.port,
            memory_size: request.memory_size,
            authentication_redis_pass: request.authentication_redis_pass,
            tls_mode: request.tls_mode,
            enforce_client_authentication: request.enforce_client_authentication,
            authentication_ssl_client_certs: request.authentication_ssl_client_certs,
            authentication_ssl_crdt_certs: request.authentication_ssl_crdt_certs,
            replica_sources: request.replica_sources,
        });
        Ok((next, uid))
    }

    /// The candidate state after changing database `uid`.
    pub fn with_bdb_updated(&self, uid: u64, request: BdbUpdate) -> Result<Self, ApiError> {
        let mut next = self.clone();
        let bdb = next
            .bdbs
            .iter_mut()
            .find(|bdb| bdb.uid == uid)
            .ok_or_else(|| ApiError::not_found(format!("database {uid}")))?;
        if let Some(name) = request.name {
            bdb.name = name;
        }
        if let Some(port) = request.port {
            bdb.port = port;
        }
        if let Some(memory_size) = request.memory_size {
            bdb.memory_size = memory_size;
        }
        if let Some(password) = request.authentication_redis_pass {
            bdb.authentication_redis_pass = (!password.is_empty()).then_some(password);
        }
        if let Some(mode) = request.tls_mode {
            bdb.tls_mode = mode;
        }
        if let Some(enforce) = request.enforce_client_authentication {
            bdb.enforce_client_authentication = enforce;
        }
        if let Some(certs) = request.authentication_ssl_client_certs {
            bdb.authentication_ssl_client_certs = certs;
        }
        if let Some(certs) = request.authentication_ssl_crdt_certs {
            bdb.authentication_ssl_crdt_certs = certs;
        }
        if let Some(sources) = request.replica_sources {
            bdb.replica_sources = sources;
        }
        Ok(next)
    }

    /// The candidate state without database `uid`.
    pub fn with_bdb_deleted(&self, uid: u64) -> Result<Self, ApiError> {
        let mut next = self.clone();
        let before = next.bdbs.len();
        next.bdbs.retain(|bdb| bdb.uid != uid);
        if next.bdbs.len() == before {
            return Err(ApiError::not_found(format!("database {uid}")));
        }
        Ok(next)
    }

    /// The candidate state with new node-wide settings.
    pub fn with_cluster(&self, request: ClusterUpdate) -> Result<Self, ApiError> {
        let mut next = self.clone();
        let cluster = &mut next.cluster;
        if let Some(text) = request.min_data_tls_version {
            cluster.min_data_tls_version = text
                .parse()
                .map_err(|error| ApiError::invalid("min_data_TLS_version", error))?;
        }
        if let Some(list) = request.data_cipher_list {
            cluster.data_cipher_list = (!list.is_empty()).then_some(list);
        }
        if let Some(list) = request.data_cipher_suites_tls_1_3 {
            cluster.data_cipher_suites_tls_1_3 = (!list.is_empty()).then_some(list);
        }
        if let Some(timeout) = request.handshake_timeout_ms {
            cluster.handshake_timeout_ms = timeout;
        }
        if let Some(ktls) = request.ktls {
            cluster.ktls = ktls;
        }
        if let Some(close) = request.close_revoked_sessions {
            cluster.close_revoked_sessions = close;
        }
        Ok(next)
    }

    /// The candidate state with replaced certificates.
    pub fn with_certificates(&self, request: CertificatesUpdate) -> Result<Self, ApiError> {
        if request.certificates.is_empty() {
            return Err(ApiError::invalid("certificates", "lists no certificate"));
        }
        let mut next = self.clone();
        let mut seen = Vec::new();
        for (index, upload) in request.certificates.into_iter().enumerate() {
            if seen.contains(&upload.name) {
                return Err(ApiError::invalid(
                    &format!("certificates[{index}].name"),
                    format!("{} is listed twice", upload.name.as_str()),
                ));
            }
            seen.push(upload.name);
            let pair = Some(CertificatePair {
                certificate: upload.certificate,
                key: upload.key,
            });
            match upload.name {
                CertificateName::Proxy => next.certificates.proxy = pair,
                CertificateName::Syncer => next.certificates.syncer = pair,
                CertificateName::Api => next.certificates.api = pair,
            }
        }
        Ok(next)
    }

    /// Checks the whole state: database names and ports, then every
    /// certificate and TLS setting, built as the data plane builds them.
    pub fn validate(&self, now: SystemTime) -> Result<(), ApiError> {
        for (index, bdb) in self.bdbs.iter().enumerate() {
            if bdb.name.is_empty()
                || bdb.name.len() > NAME_BYTES_MAX
                || bdb
                    .name
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(ApiError::invalid(
                    "name",
                    format!("must be 1 to {NAME_BYTES_MAX} bytes without spaces"),
                ));
            }
            if bdb.port == 0 {
                return Err(ApiError::invalid("port", "must be from 1 to 65535"));
            }
            if let Some(password) = &bdb.authentication_redis_pass {
                if password.is_empty() {
                    return Err(ApiError::invalid(
                        "authentication_redis_pass",
                        "must not be empty (leave it out for none)",
                    ));
                }
            }
            crate::replica::validate(
                &bdb.replica_sources,
                self.certificates.syncer.is_some(),
                now,
            )?;
            for other in &self.bdbs[..index] {
                if other.name == bdb.name {
                    return Err(ApiError::new(
                        409,
                        "name_taken",
                        format!("name: `{}` is used by database {}", bdb.name, other.uid),
                    ));
                }
                if other.port == bdb.port {
                    return Err(ApiError::port_unavailable(
                        "port",
                        format!("port {} is used by database {}", bdb.port, other.uid),
                    ));
                }
            }
        }
        let databases: Vec<(String, RawDatabaseTls)> = self
            .bdbs
            .iter()
            .map(|bdb| (bdb.name.clone(), database_tls(bdb)))
            .collect();
        TlsSnapshot::build(&self.node_tls(), &databases, Path::new("."), now).map_err(|error| {
            ApiError::from_tls(&error, &|scope, field| self.field_name(scope, field))
        })?;
        if let Some(api) = &self.certificates.api {
            // The api pair gets the checks of a server certificate: the same
            // as the proxy's, so build it in that place.
            let as_proxy = RawNodeTls {
                proxy_cert: Some(api.certificate.clone()),
                proxy_key: Some(api.key.clone()),
                ..RawNodeTls::default()
            };
            TlsSnapshot::build(&as_proxy, &[], Path::new("."), now).map_err(|error| {
                ApiError::from_tls(&error, &|_, field| {
                    field
                        .replace("proxy_cert", "certificates[api].certificate")
                        .replace("proxy_key", "certificates[api].key")
                })
            })?;
        }
        Ok(())
    }

    /// The API's name for a field a TLS error names.
    fn field_name(&self, scope: &Scope, field: &str) -> String {
        match scope {
            Scope::Node => match field {
                "proxy_cert" => "certificates[proxy].certificate".to_owned(),
                "proxy_key" => "certificates[proxy].key".to_owned(),
                "syncer_cert" => "certificates[syncer].certificate".to_owned(),
                "syncer_key" => "certificates[syncer].key".to_owned(),
                other => other.to_owned(),
            },
            Scope::Database(name) => {
                let uid = self
                    .bdbs
                    .iter()
                    .find(|bdb| &bdb.name == name)
                    .map(|bdb| bdb.uid)
                    .unwrap_or(0);
                format!("bdb {uid} ({name}) {field}")
            }
        }
    }

    /// `[node.tls]` as the data plane reads it, certificates as PEM text.
    pub fn node_tls(&self) -> RawNodeTls {
        let cluster = &self.cluster;
        RawNodeTls {
            proxy_cert: self
                .certificates
                .proxy
                .as_ref()
                .map(|p| p.certificate.clone()),
            proxy_key: self.certificates.proxy.as_ref().map(|p| p.key.clone()),
            syncer_cert: self
                .certificates
                .syncer
                .as_ref()
                .map(|p| p.certificate.clone()),
            syncer_key: self.certificates.syncer.as_ref().map(|p| p.key.clone()),
            min_data_tls_version: Some(cluster.min_data_tls_version.as_str().to_owned()),
            data_cipher_list: cluster.data_cipher_list.clone(),
            data_cipher_suites_tls_1_3: cluster.data_cipher_suites_tls_1_3.clone(),
            handshake_timeout_ms: Some(cluster.handshake_timeout_ms),
            ktls: Some(cluster.ktls),
        }
    }

    /// The API's own certificate: the api pair, else the proxy pair.
    pub fn api_pair(&self) -> Option<&CertificatePair> {
        self.certificates
            .api
            .as_ref()
            .or(self.certificates.proxy.as_ref())
    }

    /// What the data plane should serve.
    pub fn desired(&self) -> Desired {
        Desired {
            node_tls: self.node_tls(),
            databases: self
                .bdbs
                .iter()
                .map(|bdb| DatabaseSpec {
                    uid: bdb.uid,
                    name: bdb.name.clone(),
                    port: bdb.port,
                    memory_size_bytes: bdb.memory_size,
                    password: bdb.authentication_redis_pass.clone(),
                    tls: database_tls(bdb),
                    replica_sources: bdb.replica_sources.clone(),
                })
                .collect(),
            close_revoked_sessions: self.cluster.close_revoked_sessions,
        }
    }
}

fn database_tls(bdb: &Bdb) -> RawDatabaseTls {
    RawDatabaseTls {
        tls_mode: bdb.tls_mode,
        enforce_client_authentication: bdb.enforce_client_authentication,
        authentication_ssl_client_certs: bdb.authentication_ssl_client_certs.clone(),
        authentication_ssl_crdt_certs: bdb.authentication_ssl_crdt_certs.clone(),
    }
}

/// Whether a database serves TLS at all (for the API's read-only fields).
pub(crate) fn tls_enabled(bdb: &Bdb) -> bool {
    bdb.tls_mode != TlsMode::Disabled
}

#[cfg(test)]
mod tests;
