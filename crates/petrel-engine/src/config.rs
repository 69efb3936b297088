//! The node's configuration: TOML text in, a validated [`Config`] out.
//!
//! Deserialization goes into raw structs that refuse unknown keys, then a
//! conversion checks every value and names the offending key in its error,
//! so a typo stops start-up instead of becoming a silent default.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use petrel_tls::{ClientAuthentication, RawClientCert, RawDatabaseTls, RawNodeTls, TlsMode};
use serde::Deserialize;

/// Redis's default `proto-max-bulk-len`.
pub const PROTO_MAX_BULK_LEN_DEFAULT: u64 = 512 * 1024 * 1024;
/// Ring size when a core has no tuning of its own.
pub const RING_ENTRIES_DEFAULT: u32 = 1024;
pub const DEFAULT_PORT: u16 = 6379;
/// Redis's default `maxclients`.
pub const MAXCLIENTS_DEFAULT: u64 = 10_000;
/// Redis's default `tcp-keepalive`, in seconds.
pub const TCP_KEEPALIVE_DEFAULT_SECS: u64 = 300;
/// The kernel's ceiling for TCP_KEEPIDLE.
const TCP_KEEPALIVE_MAX_SECS: u64 = 32_767;
/// Far past what one node's file descriptors allow; catches a stray digit.
pub const MAXCLIENTS_MAX: u64 = 10_000_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("config key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Which io driver the data threads use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoDriver {
    /// io_uring where the kernel allows it, else epoll (logged once with the reason).
    Auto,
    /// io_uring or refuse to start.
    IoUring,
    /// epoll, e.g. where a container runtime filters io_uring.
    Epoll,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub node: NodeConfig,
    pub cores: Vec<CoreTuning>,
    pub databases: Vec<DatabaseConfig>,
    /// Directory that relative certificate paths are resolved against (the
    /// config file's directory).
    pub base_dir: PathBuf,
    /// `[admin]`: the REST API; absent when the config has no such table.
    pub admin: Option<AdminSettings>,
}

/// The admin REST API's settings (`[admin]`).
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Default 127.0.0.1:9443.
    pub listen: SocketAddr,
    pub username: String,
    pub password: String,
    /// Path or PEM; the proxy certificate serves when absent.
    pub api_cert: Option<String>,
    pub api_key: Option<String>,
    /// Path or PEM of CA certificates: when set, API clients must also
    /// present a certificate one of them signed.
    pub client_ca: Option<String>,
}

/// Where the admin API listens unless `[admin] listen` says otherwise.
pub const ADMIN_LISTEN_DEFAULT: &str = "127.0.0.1:9443";

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub bind: IpAddr,
    /// CPU ids of the data threads, one shard each, in shard order.
    pub data_cores: Vec<usize>,
    /// The sync ring's core (used by replication).
    pub sync_core: Option<usize>,
    pub data_dir: Option<PathBuf>,
    pub proto_max_bulk_len: u64,
    pub io_driver: IoDriver,
    /// `[node.tls]`: certificates, version floor, suites, kTLS; validated by
    /// `petrel-tls` when the node starts.
    pub tls: RawNodeTls,
    /// Replication backlog per database, in bytes: how much of the stream a
    /// replica may miss and still resume with PSYNC, and how far it may fall
    /// behind during a full sync.
    pub repl_backlog_size_bytes: u64,
    /// Client connections the node serves at once, over all databases; one
    /// more is answered `-ERR max number of clients reached` and closed.
    /// `petrel serve` lowers it to fit the open file limit.
    pub maxclients: u64,
    /// Seconds a client connection may be silent before the kernel probes
    /// whether its peer is still there (Redis's `tcp-keepalive`); 0: never.
    /// A peer gone without a FIN would otherwise hold a place for ever.
    pub tcp_keepalive_secs: u64,
    /// A command whose execution on a shard takes at least this many
    /// microseconds goes into the slow log (Redis's
    /// `slowlog-log-slower-than`); 0 logs every command, negative none.
    pub slowlog_log_slower_than_us: i64,
    /// Entries kept per database (Redis's `slowlog-max-len`).
    pub slowlog_max_len: u64,
}

/// Redis's defaults for the slow log.
pub const SLOWLOG_LOG_SLOWER_THAN_DEFAULT_US: i64 = 10_000;
pub const SLOWLOG_MAX_LEN_DEFAULT: u64 = 128;
/// Entries of up to about 4 KiB each, per database and per data thread.
pub const SLOWLOG_MAX_LEN_MAX: u64 = 100_000;

/// `repl_backlog_size` when the config does not say.
pub const REPL_BACKLOG_SIZE_DEFAULT: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreTuning {
    pub id: usize,
    pub ring_entries: u32,
    pub sqpoll: bool,
    pub sqpoll_idle_ms: u32,
    pub task_run: TaskRun,
}

/// When the kernel finishes a ring's completions (`cores[].ring_task_run`).
///
/// A completion (a receive that found data, say) leaves work for the ring's
/// thread. `Immediate` interrupts the thread to do it at once; `Cooperative`
/// waits for the thread's next kernel entry; `Deferred` also keeps the work
/// until the thread asks for completions, so it is done in one batch on the
/// ring's own core, which suits a thread that owns its ring. The kernel
/// refuses what it does not know (`Deferred` needs Linux 6.1,
/// `Cooperative` 5.19); the ring then falls back a step, and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskRun {
    Deferred,
    Cooperative,
    Immediate,
}

impl TaskRun {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskRun::Deferred => "deferred",
            TaskRun::Cooperative => "cooperative",
            TaskRun::Immediate => "immediate",
        }
    }

    /// The next mode to try when the kernel refuses this one.
    pub fn fallback(self) -> Option<TaskRun> {
        match self {
            TaskRun::Deferred => Some(TaskRun::Cooperative),
            TaskRun::Cooperative => Some(TaskRun::Immediate),
            TaskRun::Immediate => None,
        }
    }

    /// The default: `Deferred`, except under SQPOLL, whose kernel thread
    /// submits for the ring and so cannot wait for the ring's own thread.
    fn default_for(sqpoll: bool) -> TaskRun {
        if sqpoll {
            TaskRun::Cooperative
        } else {
            TaskRun::Deferred
        }
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Identity for the control plane (the REST API's bdb uid); config
    /// files number their databases from 1 in order.
    pub uid: u64,
    pub name: String,
    pub port: u16,
    /// Memory limit in bytes; 0 means none.
    pub memory_size_bytes: u64,
    /// `requirepass`-style password for the default user.
    pub password: Option<String>,
    /// TLS mode, client authentication and trust lists.
    pub tls: RawDatabaseTls,
    /// Replica Of: the source this database pulls from (at most one). A
    /// database with a source answers writes with `-READONLY`.
    pub replica_sources: Vec<ReplicaSourceConfig>,
}

/// One `replica_sources` entry, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSourceConfig {
    /// The `uri` as given (its password included), and its parts.
    pub uri: String,
    pub source: petrel_sync::SourceUri,
    /// Connect with TLS.
    pub encryption: bool,
    /// The source's certificate or its CA, trusted for the link (PEM or path).
    pub server_cert: Option<String>,
    /// The certificate and key presented to the source; the node's syncer
    /// certificate when absent.
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    /// SNI sent to the source; its host by default.
    pub replication_tls_sni: Option<String>,
}

impl Config {
    /// One database `default` on 127.0.0.1:6379, plaintext, on every core.
    pub fn default_single_database() -> Config {
        Config {
            node: NodeConfig {
                bind: IpAddr::from([127, 0, 0, 1]),
                data_cores: (0..available_cores()).collect(),
                sync_core: None,
                data_dir: None,
                proto_max_bulk_len: PROTO_MAX_BULK_LEN_DEFAULT,
                io_driver: IoDriver::Auto,
                tls: RawNodeTls::default(),
                repl_backlog_size_bytes: REPL_BACKLOG_SIZE_DEFAULT,
                maxclients: MAXCLIENTS_DEFAULT,
                tcp_keepalive_secs: TCP_KEEPALIVE_DEFAULT_SECS,
                slowlog_log_slower_than_us: SLOWLOG_LOG_SLOWER_THAN_DEFAULT_US,
                slowlog_max_len: SLOWLOG_MAX_LEN_DEFAULT,
            },
            cores: Vec::new(),
            databases: vec![DatabaseConfig {
                uid: 1,
                name: "default".to_string(),
                port: DEFAULT_PORT,
                memory_size_bytes: 0,
                password: None,
                tls: RawDatabaseTls::default(),
                replica_sources: Vec::new(),
            }],
            base_dir: PathBuf::from("."),
            admin: None,
        }
    }

    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let mut config = Config::parse(&text, &path.display().to_string())?;
        config.base_dir = base_dir;
        Ok(config)
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: origin.to_string(),
            message: error.to_string(),
        })?;
        raw.validate()
    }

    /// Validates every certificate and TLS setting and builds the snapshot
    /// new connections read.
    pub fn tls_snapshot(
        &self,
        now: std::time::SystemTime,
    ) -> Result<petrel_tls::TlsSnapshot, petrel_tls::TlsConfigError> {
        let databases: Vec<(String, RawDatabaseTls)> = self
            .databases
            .iter()
            .map(|database| (database.name.clone(), database.tls.clone()))
            .collect();
        petrel_tls::TlsSnapshot::build(&self.node.tls, &databases, &self.base_dir, now)
    }

    /// The tuning for core `id`, or the defaults.
    pub fn tuning_for(&self, id: usize) -> CoreTuning {
        self.cores
            .iter()
            .find(|tuning| tuning.id == id)
            .cloned()
            .unwrap_or(CoreTuning {
                id,
                ring_entries: RING_ENTRIES_DEFAULT,
                sqpoll: false,
                sqpoll_idle_ms: 0,
                task_run: TaskRun::default_for(false),
            })
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    node: RawNode,
    #[serde(default)]
    cores: Vec<RawCore>,
    #[serde(default)]
    databases: Vec<RawDatabase>,
    admin: Option<RawAdmin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    listen: Option<String>,
    username: Option<String>,
    password: Option<String>,
    api_cert: Option<String>,
    api_key: Option<String>,
    client_ca: Option<String>,
}

impl RawAdmin {
    fn validate(self, data_dir: Option<&PathBuf>) -> Result<AdminSettings, ConfigError> {
        let text = self.listen.as_deref().unwrap_or(ADMIN_LISTEN_DEFAULT);
        let listen = text.parse().map_err(|_| {
            invalid(
                "admin.listen",
                format!("`{text}` is not an address such as 127.0.0.1:9443"),
            )
        })?;
        let username = self
            .username
            .filter(|name| !name.is_empty())
            .ok_or_else(|| invalid("admin.username", "required when [admin] is present"))?;
        let password = self
            .password
            .filter(|password| !password.is_empty())
            .ok_or_else(|| invalid("admin.password", "required when [admin] is present"))?;
        match (&self.api_cert, &self.api_key) {
            (Some(_), None) => return Err(invalid("admin.api_key", "required with api_cert")),
            (None, Some(_)) => return Err(invalid("admin.api_cert", "required with api_key")),
            _ => {}
        }
        if data_dir.is_none() {
            return Err(invalid(
                "node.data_dir",
                "required when [admin] is present: the control state is kept there",
            ));
        }
        Ok(AdminSettings {
            listen,
            username,
            password,
            api_cert: self.api_cert,
            api_key: self.api_key,
            client_ca: self.client_ca,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    bind: Option<String>,
    data_cores: Option<RawCores>,
    sync_core: Option<usize>,
    data_dir: Option<PathBuf>,
    proto_max_bulk_len: Option<RawSize>,
    io_driver: Option<IoDriver>,
    tls: Option<RawNodeTls>,
    repl_backlog_size: Option<RawSize>,
    maxclients: Option<u64>,
    tcp_keepalive: Option<u64>,
    slowlog_log_slower_than: Option<i64>,
    slowlog_max_len: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawCores {
    Count(usize),
    List(Vec<usize>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCore {
    id: usize,
    ring_entries: Option<u32>,
    sqpoll: Option<bool>,
    sqpoll_idle_ms: Option<u32>,
    ring_task_run: Option<TaskRun>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplicaSource {
    uri: String,
    encryption: Option<bool>,
    server_cert: Option<String>,
    client_cert: Option<String>,
    client_key: Option<String>,
    replication_tls_sni: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    name: String,
    port: u16,
    memory_size: Option<RawSize>,
    authentication_redis_pass: Option<String>,
    // The TLS policy's fields, declared here because serde cannot flatten
    // into a struct that refuses unknown keys.
    tls_mode: Option<TlsMode>,
    enforce_client_authentication: Option<ClientAuthentication>,
    authentication_ssl_client_certs: Option<Vec<RawClientCert>>,
    authentication_ssl_crdt_certs: Option<Vec<RawClientCert>>,
    replica_sources: Option<Vec<RawReplicaSource>>,
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let available = available_cores();
        let node = self.node;
        let bind = match node.bind {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(text) => text
                .parse()
                .map_err(|_| invalid("node.bind", format!("`{text}` is not an IP address")))?,
        };
        let data_cores = match node.data_cores {
            None => (0..available).collect(),
            Some(RawCores::Count(0)) => {
                return Err(invalid("node.data_cores", "must be at least 1"))
            }
            Some(RawCores::Count(count)) => {
                if count > available {
                    return Err(invalid(
                        "node.data_cores",
                        format!("{count} data cores requested but this machine has {available}"),
                    ));
                }
                (0..count).collect()
            }
            Some(RawCores::List(list)) => {
                if list.is_empty() {
                    return Err(invalid("node.data_cores", "the list is empty"));
                }
                let mut seen = HashSet::new();
                for &core in &list {
                    if core >= available {
                        return Err(invalid(
                            "node.data_cores",
                            format!(
                                "core {core} does not exist (this machine has cores 0 to {})",
                                available - 1
                            ),
                        ));
                    }
                    if !seen.insert(core) {
                        return Err(invalid(
                            "node.data_cores",
                            format!("core {core} is listed twice"),
                        ));
                    }
                }
                list
            }
        };
        if let Some(core) = node.sync_core {
            if core >= available {
                return Err(invalid(
                    "node.sync_core",
                    format!("core {core} does not exist"),
                ));
            }
        }
        let repl_backlog_size_bytes = match &node.repl_backlog_size {
            None => REPL_BACKLOG_SIZE_DEFAULT,
            Some(size) => {
                parse_size(size).map_err(|reason| invalid("node.repl_backlog_size", reason))?
            }
        };
        if !(16 * 1024..=16 * 1024 * 1024 * 1024).contains(&repl_backlog_size_bytes) {
            return Err(invalid(
                "node.repl_backlog_size",
                "must be between 16kb and 16gb",
            ));
        }
        let maxclients = node.maxclients.unwrap_or(MAXCLIENTS_DEFAULT);
        if !(1..=MAXCLIENTS_MAX).contains(&maxclients) {
            return Err(invalid(
                "node.maxclients",
                format!("must be between 1 and {MAXCLIENTS_MAX}"),
            ));
        }
        let tcp_keepalive_secs = node.tcp_keepalive.unwrap_or(TCP_KEEPALIVE_DEFAULT_SECS);
        if tcp_keepalive_secs > TCP_KEEPALIVE_MAX_SECS {
            return Err(invalid(
                "node.tcp_keepalive",
                format!("must be between 0 (off) and {TCP_KEEPALIVE_MAX_SECS} seconds"),
            ));
        }
        let slowlog_log_slower_than_us = node
            .slowlog_log_slower_than
            .unwrap_or(SLOWLOG_LOG_SLOWER_THAN_DEFAULT_US);
        let slowlog_max_len = node.slowlog_max_len.unwrap_or(SLOWLOG_MAX_LEN_DEFAULT);
        if slowlog_max_len > SLOWLOG_MAX_LEN_MAX {
            return Err(invalid(
                "node.slowlog_max_len",
                format!("must be between 0 and {SLOWLOG_MAX_LEN_MAX}"),
            ));
        }
        let proto_max_bulk_len = match node.proto_max_bulk_len {
            None => PROTO_MAX_BULK_LEN_DEFAULT,
            Some(size) => {
                parse_size(&size).map_err(|reason| invalid("node.proto_max_bulk_len", reason))?
            }
        };
        if proto_max_bulk_len < 1024 * 1024 {
            return Err(invalid(
                "node.proto_max_bulk_len",
                "must be at least 1mb, as in Redis",
            ));
        }

        let mut cores = Vec::new();
        for (index, core) in self.cores.into_iter().enumerate() {
            let key = |field: &str| format!("cores[{index}].{field}");
            if cores.iter().any(|tuning: &CoreTuning| tuning.id == core.id) {
                return Err(invalid(
                    key("id"),
                    format!("core {} is tuned twice", core.id),
                ));
            }
            let ring_entries = core.ring_entries.unwrap_or(RING_ENTRIES_DEFAULT);
            if !ring_entries.is_power_of_two() || !(8..=32768).contains(&ring_entries) {
                return Err(invalid(
                    key("ring_entries"),
                    "must be a power of two from 8 to 32768",
                ));
            }
            let sqpoll = core.sqpoll.unwrap_or(false);
            if core.sqpoll_idle_ms.is_some() && !sqpoll {
                return Err(invalid(
                    key("sqpoll_idle_ms"),
                    "only applies with sqpoll = true",
                ));
            }
            if sqpoll && core.ring_task_run == Some(TaskRun::Deferred) {
                return Err(invalid(
                    key("ring_task_run"),
                    "\"deferred\" needs sqpoll = false (the SQPOLL thread submits for the ring)",
                ));
            }
            cores.push(CoreTuning {
                id: core.id,
                ring_entries,
                sqpoll,
                sqpoll_idle_ms: core.sqpoll_idle_ms.unwrap_or(1000),
                task_run: core.ring_task_run.unwrap_or(TaskRun::default_for(sqpoll)),
            });
        }

        if self.databases.is_empty() {
            return Err(invalid(
                "databases",
                "at least one [[databases]] entry is required",
            ));
        }
        let mut databases: Vec<DatabaseConfig> = Vec::new();
        for (index, database) in self.databases.into_iter().enumerate() {
            let key = |field: &str| format!("databases[{index}].{field}");
            if database.name.is_empty()
                || database
                    .name
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(invalid(key("name"), "must be non-empty, without spaces"));
            }
            if databases.iter().any(|other| other.name == database.name) {
                return Err(invalid(
                    key("name"),
                    format!("`{}` is used by another database", database.name),
                ));
            }
            if database.port == 0 {
                return Err(invalid(
                    key("port"),
                    "must be a port number from 1 to 65535",
                ));
            }
            if let Some(other) = databases.iter().find(|other| other.port == database.port) {
                return Err(invalid(
                    key("port"),
                    format!(
                        "port {} is already used by database `{}`",
                        database.port, other.name
                    ),
                ));
            }
            let memory_size_bytes = match &database.memory_size {
                None => 0,
                Some(size) => {
                    parse_size(size).map_err(|reason| invalid(key("memory_size"), reason))?
                }
            };
            if let Some(password) = &database.authentication_redis_pass {
                if password.is_empty() {
                    return Err(invalid(
                        key("authentication_redis_pass"),
                        "must not be empty (omit it for none)",
                    ));
                }
            }
            let raw_sources = database.replica_sources.unwrap_or_default();
            if raw_sources.len() > 1 {
                return Err(invalid(
                    key("replica_sources"),
                    "at most one source is supported",
                ));
            }
            let mut replica_sources = Vec::new();
            for (index, raw) in raw_sources.into_iter().enumerate() {
                let source = petrel_sync::SourceUri::parse(&raw.uri).map_err(|reason| {
                    invalid(key(&format!("replica_sources[{index}].uri")), reason)
                })?;
                if raw.client_cert.is_some() != raw.client_key.is_some() {
                    return Err(invalid(
                        key(&format!("replica_sources[{index}].client_key")),
                        "client_cert and client_key go together",
                    ));
                }
                replica_sources.push(ReplicaSourceConfig {
                    uri: raw.uri,
                    source,
                    encryption: raw.encryption.unwrap_or(false),
                    server_cert: raw.server_cert,
                    client_cert: raw.client_cert,
                    client_key: raw.client_key,
                    replication_tls_sni: raw.replication_tls_sni,
                });
            }
            databases.push(DatabaseConfig {
                uid: index as u64 + 1,
                replica_sources,
                name: database.name,
                port: database.port,
                memory_size_bytes,
                password: database.authentication_redis_pass,
                tls: RawDatabaseTls {
                    tls_mode: database.tls_mode.unwrap_or_default(),
                    enforce_client_authentication: database
                        .enforce_client_authentication
                        .unwrap_or_default(),
                    authentication_ssl_client_certs: database
                        .authentication_ssl_client_certs
                        .unwrap_or_default(),
                    authentication_ssl_crdt_certs: database
                        .authentication_ssl_crdt_certs
                        .unwrap_or_default(),
                },
            });
        }

        let admin = match self.admin {
            None => None,
            Some(admin) => Some(admin.validate(node.data_dir.as_ref())?),
        };
        Ok(Config {
            admin,
            node: NodeConfig {
                bind,
                data_cores,
                sync_core: node.sync_core,
                data_dir: node.data_dir,
                proto_max_bulk_len,
                io_driver: node.io_driver.unwrap_or(IoDriver::Auto),
                tls: node.tls.unwrap_or_default(),
                repl_backlog_size_bytes,
                maxclients,
                tcp_keepalive_secs,
                slowlog_log_slower_than_us,
                slowlog_max_len,
            },
            cores,
            databases,
            base_dir: PathBuf::from("."),
        })
    }
}

/// Parses a size as Redis's config does: a number of bytes, or a number with
/// `k`/`m`/`g` (powers of 1000) or `kb`/`mb`/`gb` (powers of 1024).
fn parse_size(size: &RawSize) -> Result<u64, String> {
    let text = match size {
        RawSize::Bytes(bytes) => return Ok(*bytes),
        RawSize::Text(text) => text.trim().to_ascii_lowercase(),
    };
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size (examples: 1048576, \"100mb\", \"2gb\")"))?;
    let multiplier: u64 = match unit.trim() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "unknown size unit `{other}` (use k, kb, m, mb, g or gb)"
            ))
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Settings a reloaded config file changed that only a restart applies.
#[derive(Debug, thiserror::Error)]
#[error("{} changed; only a restart applies {}", .0.join(", "), if .0.len() == 1 { "it" } else { "them" })]
pub struct RestartRequired(pub Vec<&'static str>);

impl Config {
    /// Checks that `reloaded` differs from the config the node started
    /// with only in what may change while it runs: its databases (added,
    /// removed, changed) and `[node.tls]`. Everything else shapes threads,
    /// rings, listeners and limits set up at start-up.
    pub fn check_reloadable(&self, reloaded: &Config) -> Result<(), RestartRequired> {
        let (before, after) = (&self.node, &reloaded.node);
        let checks: [(&'static str, bool); 13] = [
            ("node.bind", before.bind != after.bind),
            ("node.data_cores", before.data_cores != after.data_cores),
            ("node.sync_core", before.sync_core != after.sync_core),
            ("node.data_dir", before.data_dir != after.data_dir),
            (
                "node.proto_max_bulk_len",
                before.proto_max_bulk_len != after.proto_max_bulk_len,
            ),
            ("node.io_driver", before.io_driver != after.io_driver),
            (
                "node.repl_backlog_size",
                before.repl_backlog_size_bytes != after.repl_backlog_size_bytes,
            ),
            ("node.maxclients", before.maxclients != after.maxclients),
            (
                "node.tcp_keepalive",
                before.tcp_keepalive_secs != after.tcp_keepalive_secs,
            ),
            (
                "node.slowlog_log_slower_than",
                before.slowlog_log_slower_than_us != after.slowlog_log_slower_than_us,
            ),
            (
                "node.slowlog_max_len",
                before.slowlog_max_len != after.slowlog_max_len,
            ),
            ("[[cores]]", self.cores != reloaded.cores),
            ("[admin]", self.admin.is_some() != reloaded.admin.is_some()),
        ];
        let changed: Vec<&'static str> = checks
            .into_iter()
            .filter_map(|(key, changed)| changed.then_some(key))
            .collect();
        if changed.is_empty() {
            Ok(())
        } else {
            Err(RestartRequired(changed))
        }
    }
}

/// Numbers a reloaded file's databases so that the control plane knows
/// them again: a database keeps the uid of the running one with its name,
/// and a new name gets `next_uid` (then advanced), so a uid is never
/// given to another database while the node runs.
pub fn carry_uids(running: &[DatabaseConfig], reloaded: &mut [DatabaseConfig], next_uid: &mut u64) {
    for database in reloaded {
        match running.iter().find(|old| old.name == database.name) {
            Some(old) => database.uid = old.uid,
            None => {
                database.uid = *next_uid;
                *next_uid += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "test.toml")
    }

    #[test]
    fn minimal_config_gets_sane_defaults() {
        let config = parse("[[databases]]\nname = \"a\"\nport = 7000\n").expect("valid");
        assert_eq!(config.node.bind, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(config.node.data_cores.len(), available_cores());
        assert_eq!(config.node.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(config.node.maxclients, 10_000);
        assert_eq!(config.node.tcp_keepalive_secs, 300);
        assert_eq!(config.databases[0].memory_size_bytes, 0);
        assert_eq!(config.tuning_for(0).ring_entries, RING_ENTRIES_DEFAULT);
    }

    #[test]
    fn maxclients_is_read_from_the_node_table() {
        let config = parse("[node]\nmaxclients = 50\n[[databases]]\nname = \"a\"\nport = 7000\n")
            .expect("valid");
        assert_eq!(config.node.maxclients, 50);
    }

    #[test]
    fn tcp_keepalive_is_read_from_the_node_table_and_zero_turns_it_off() {
        let config = parse("[node]\ntcp_keepalive = 0\n[[databases]]\nname = \"a\"\nport = 7000\n")
            .expect("valid");
        assert_eq!(config.node.tcp_keepalive_secs, 0);
        let config =
            parse("[node]\ntcp_keepalive = 60\n[[databases]]\nname = \"a\"\nport = 7000\n")
                .expect("valid");
        assert_eq!(config.node.tcp_keepalive_secs, 60);
    }

    #[test]
    fn sizes_follow_redis_units() {
        let config = parse(
            "[node]\nproto_max_bulk_len = \"2mb\"\n[[databases]]\nname = \"a\"\nport = 7000\nmemory_size = \"1gb\"\n",
        )
        .expect("valid");
        assert_eq!(config.node.proto_max_bulk_len, 2 * 1024 * 1024);
        assert_eq!(config.databases[0].memory_size_bytes, 1024 * 1024 * 1024);
        assert_eq!(parse_size(&RawSize::Text("100k".into())), Ok(100_000));
        assert_eq!(parse_size(&RawSize::Bytes(42)), Ok(42));
        assert!(parse_size(&RawSize::Text("12 parsecs".into())).is_err());
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let error =
            parse("[node]\nbnid = \"127.0.0.1\"\n[[databases]]\nname = \"a\"\nport = 7000\n")
                .expect_err("typo must fail");
        assert!(error.to_string().contains("bnid"), "{error}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let cases = [
            ("[node]\nbind = \"localhost:1\"\n[[databases]]\nname = \"a\"\nport = 7000\n", "node.bind"),
            ("[node]\ndata_cores = 0\n[[databases]]\nname = \"a\"\nport = 7000\n", "node.data_cores"),
            ("[node]\ndata_cores = [0, 0]\n[[databases]]\nname = \"a\"\nport = 7000\n", "node.data_cores"),
            ("[node]\ndata_cores = [4096]\n[[databases]]\nname = \"a\"\nport = 7000\n", "node.data_cores"),
            ("[[databases]]\nname = \"a\"\nport = 7000\n[[databases]]\nname = \"b\"\nport = 7000\n", "databases[1].port"),
            ("[[databases]]\nname = \"a\"\nport = 7000\n[[databases]]\nname = \"a\"\nport = 7001\n", "databases[1].name"),
            ("[[databases]]\nname = \"a\"\nport = 7000\nmemory_size = \"lots\"\n", "databases[0].memory_size"),
            ("[[cores]]\nid = 0\nring_entries = 1000\n[[databases]]\nname = \"a\"\nport = 7000\n", "cores[0].ring_entries"),
            ("[node]\nproto_max_bulk_len = 10\n[[databases]]\nname = \"a\"\nport = 7000\n", "node.proto_max_bulk_len"),
            ("[node]\nmaxclients = 0\n[[databases]]\nname = \"a\"\nport = 7000\n", "node.maxclients"),
            ("[node]\ntcp_keepalive = 40000\n[[databases]]\nname = \"a\"\nport = 7000\n", "node.tcp_keepalive"),
            ("[node]\nmaxclients = -5\n[[databases]]\nname = \"a\"\nport = 7000\n", "maxclients"),
            ("[node]\n", "databases"),
        ];
        for (text, key) in cases {
            let error = parse(text).expect_err(text);
            assert!(
                error.to_string().contains(key),
                "expected `{key}` in: {error}"
            );
        }
    }

    /// `[admin]` defaults its address, needs credentials and a data
    /// directory, and refuses unknown keys.
    #[test]
    fn admin_table_is_validated() {
        let base = "[node]\ndata_dir = \"/tmp/x\"\n[[databases]]\nname = \"a\"\nport = 7000\n";
        let config = parse(&format!(
            "{base}[admin]\nusername = \"u\"\npassword = \"p\"\n"
        ))
        .expect("valid");
        let admin = config.admin.expect("admin");
        assert_eq!(admin.listen.to_string(), ADMIN_LISTEN_DEFAULT);
        assert_eq!(config.databases[0].uid, 1);
        let cases = [
            (format!("{base}[admin]\npassword = \"p\"\n"), "admin.username"),
            (format!("{base}[admin]\nusername = \"u\"\npassword = \"p\"\nlisten = \"nowhere\"\n"), "admin.listen"),
            (format!("{base}[admin]\nusername = \"u\"\npassword = \"p\"\napi_cert = \"c.pem\"\n"), "admin.api_key"),
            (format!("{base}[admin]\nusername = \"u\"\npassword = \"p\"\nport = 1\n"), "port"),
            ("[[databases]]\nname = \"a\"\nport = 7000\n[admin]\nusername = \"u\"\npassword = \"p\"\n".to_string(), "node.data_dir"),
        ];
        for (text, key) in cases {
            let error = parse(&text).expect_err(&text);
            assert!(
                error.to_string().contains(key),
                "expected `{key}` in: {error}"
            );
        }
    }

    #[test]
    fn core_tuning_is_read_per_core() {
        let config = parse(
            "[[cores]]\nid = 0\nring_entries = 4096\nsqpoll = true\nsqpoll_idle_ms = 50\n[[databases]]\nname = \"a\"\nport = 7000\n",
        )
        .expect("valid");
        assert_eq!(
            config.tuning_for(0),
            CoreTuning {
                id: 0,
                ring_entries: 4096,
                sqpoll: true,
                sqpoll_idle_ms: 50,
                task_run: TaskRun::Cooperative,
            }
        );
        assert!(!config.tuning_for(1).sqpoll);
        assert_eq!(config.tuning_for(1).task_run, TaskRun::Deferred);
    }

    // A ring's task-run mode is read, defaults by SQPOLL, and a mode SQPOLL
    // cannot have, or a word that is no mode, is refused naming the key.
    #[test]
    fn ring_task_run() {
        let base = "[[databases]]\nname = \"a\"\nport = 7000\n";
        let config = parse(&format!(
            "[[cores]]\nid = 0\nring_task_run = \"immediate\"\n{base}"
        ))
        .expect("valid");
        assert_eq!(config.tuning_for(0).task_run, TaskRun::Immediate);
        for (text, key) in [
            (
                "[[cores]]\nid = 0\nsqpoll = true\nring_task_run = \"deferred\"\n",
                "cores[0].ring_task_run",
            ),
            (
                "[[cores]]\nid = 0\nring_task_run = \"later\"\n",
                "ring_task_run",
            ),
        ] {
            let error = parse(&format!("{text}{base}")).expect_err(text).to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }

    // Replica Of settings parse into their parts; a bad URI, two sources,
    // a client certificate without its key and an out-of-range backlog are
    // refused naming the key.
    #[test]
    fn replica_sources_and_backlog() {
        let config = parse(
            "[node]\nrepl_backlog_size = \"1mb\"\n[[databases]]\nname = \"a\"\nport = 7000\nreplica_sources = [ { uri = \"redis://:pw@10.0.0.1:12000\", encryption = true, server_cert = \"ca.pem\", replication_tls_sni = \"db.example\" } ]\n",
        )
        .expect("valid");
        assert_eq!(config.node.repl_backlog_size_bytes, 1024 * 1024);
        let source = &config.databases[0].replica_sources[0];
        assert_eq!(source.source.host, "10.0.0.1");
        assert_eq!(source.source.port, 12000);
        assert_eq!(source.source.password.as_deref(), Some("pw"));
        assert!(source.encryption);
        assert_eq!(source.replication_tls_sni.as_deref(), Some("db.example"));
        let cases = [
            (
                "replica_sources = [ { uri = \"http://h:1\" } ]",
                "databases[0].replica_sources[0].uri",
            ),
            (
                "replica_sources = [ { uri = \"redis://h:1\" }, { uri = \"redis://h:2\" } ]",
                "databases[0].replica_sources",
            ),
            (
                "replica_sources = [ { uri = \"redis://h:1\", client_cert = \"c.pem\" } ]",
                "databases[0].replica_sources[0].client_key",
            ),
        ];
        for (line, key) in cases {
            let error = parse(&format!(
                "[[databases]]\nname = \"a\"\nport = 7000\n{line}\n"
            ))
            .expect_err("must fail");
            assert!(error.to_string().contains(key), "{error}");
        }
        let error =
            parse("[node]\nrepl_backlog_size = 10\n[[databases]]\nname = \"a\"\nport = 7000\n")
                .expect_err("too small");
        assert!(
            error.to_string().contains("node.repl_backlog_size"),
            "{error}"
        );
    }

    #[test]
    fn a_reload_may_change_databases_and_node_tls_only() {
        let started = parse("[node]\nmaxclients = 100\n[[databases]]\nname = \"a\"\nport = 7000\n")
            .expect("valid");
        let same_node = parse(
            "[node]\nmaxclients = 100\n[node.tls]\nmin_data_TLS_version = \"1.3\"\n\
             [[databases]]\nname = \"b\"\nport = 7001\nauthentication_redis_pass = \"pw\"\n",
        )
        .expect("valid");
        assert!(started.check_reloadable(&same_node).is_ok());

        let moved = parse(
            "[node]\nmaxclients = 200\nbind = \"0.0.0.0\"\n[[databases]]\nname = \"a\"\nport = 7000\n",
        )
        .expect("valid");
        let refused = started
            .check_reloadable(&moved)
            .expect_err("restart needed");
        assert_eq!(refused.0, ["node.bind", "node.maxclients"]);
        assert_eq!(
            refused.to_string(),
            "node.bind, node.maxclients changed; only a restart applies them"
        );
    }

    #[test]
    fn reloaded_databases_keep_their_uids_by_name_and_new_ones_get_fresh_uids() {
        let running = parse(
            "[[databases]]\nname = \"a\"\nport = 7000\n[[databases]]\nname = \"b\"\nport = 7001\n",
        )
        .expect("valid")
        .databases;
        // `a` removed, `b` moved up and to another port, `c` new.
        let mut reloaded = parse(
            "[[databases]]\nname = \"b\"\nport = 7002\n[[databases]]\nname = \"c\"\nport = 7000\n",
        )
        .expect("valid")
        .databases;
        let mut next_uid = 3;
        carry_uids(&running, &mut reloaded, &mut next_uid);
        let uids: Vec<(&str, u64)> = reloaded
            .iter()
            .map(|database| (database.name.as_str(), database.uid))
            .collect();
        assert_eq!(uids, [("b", 2), ("c", 3)]);
        assert_eq!(next_uid, 4);
    }

    #[test]
    fn slowlog_settings_default_to_redis_and_are_bounded() {
        let minimal = parse("[[databases]]\nname = \"a\"\nport = 7000\n").expect("valid");
        assert_eq!(minimal.node.slowlog_log_slower_than_us, 10_000);
        assert_eq!(minimal.node.slowlog_max_len, 128);
        let set = parse(
            "[node]\nslowlog_log_slower_than = -1\nslowlog_max_len = 0\n\
             [[databases]]\nname = \"a\"\nport = 7000\n",
        )
        .expect("valid");
        assert_eq!(set.node.slowlog_log_slower_than_us, -1);
        assert_eq!(set.node.slowlog_max_len, 0);
        let error =
            parse("[node]\nslowlog_max_len = 100001\n[[databases]]\nname = \"a\"\nport = 7000\n")
                .expect_err("too long");
        assert!(
            error.to_string().contains("node.slowlog_max_len"),
            "{error}"
        );
    }
}
