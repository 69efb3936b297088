//! Starting a node: checks, one pinned thread per data core, and the state
//! those threads share (immutable configuration and atomic gauges).

use std::net::{IpAddr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{info, warn};

use crate::config::{Config, DatabaseConfig, IoDriver};
use crate::security::{KernelTls, Security, TlsCounters};
use crate::worker::{self, Message};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database `{database}`: cannot listen on {address}")]
    Listen {
        database: String,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("io_uring is required by node.io_driver but unavailable: {0}")]
    IoUringUnavailable(String),
    #[error("TLS configuration")]
    Tls(#[from] petrel_tls::TlsConfigError),
    #[error("ktls = \"required\" but {0}")]
    KtlsRequired(String),
    #[error("data thread for core {core}: {reason}")]
    Thread { core: usize, reason: String },
    #[error("database `{database}`: replica_sources[0]: {reason}")]
    ReplicaSource { database: String, reason: String },
}

/// State shared by every data thread: read-only after start, except atomics.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    pub inboxes: Vec<flume::Sender<Message>>,
    /// Used memory per database per shard, published by each shard's thread.
    pub memory_bytes: Vec<Vec<AtomicU64>>,
    pub next_client_id: AtomicU64,
    /// The next slow log entry's id, node-wide, so that every thread's
    /// entries merge in order.
    pub slowlog_ids: AtomicU64,
    pub started_at_ms: u64,
    pub security: Security,
    /// Each slot's database settings, swapped whole by the control plane.
    pub catalog: arc_swap::ArcSwap<crate::control::Catalog>,
    /// Replication: the shards' write queues and what the sync ring publishes.
    pub sync: crate::sync_feed::SyncShared,
    /// Client connections open on every database, counted against
    /// `node.maxclients` (see [`Place::client`]).
    pub open_clients: AtomicU64,
    /// Refused connections being read before they close ([`Place::lingering_refusal`]).
    pub lingering_refusals: AtomicU64,
}

impl Shared {
    pub fn shard_count(&self) -> usize {
        self.inboxes.len()
    }

    /// Client connections open on the node, as [`Place::client`] counts them.
    pub fn open_clients(&self) -> u64 {
        self.open_clients.load(Ordering::Relaxed)
    }

    /// A database's used memory over all shards.
    pub fn database_memory_bytes(&self, database: usize) -> u64 {
        self.memory_bytes[database]
            .iter()
            .map(|gauge| gauge.load(Ordering::Relaxed))
            .sum()
    }
}

/// A place in one of the node's bounded counts (see [`Shared`]), given back
/// when dropped.
#[derive(Debug)]
pub(crate) struct Place {
    shared: Arc<Shared>,
    count: fn(&Shared) -> &AtomicU64,
}

/// Refused connections that may linger at once, node-wide, so that refusals
/// never use up the descriptors kept beyond maxclients (see `connection::refuse`).
const LINGERING_REFUSALS_MAX: u64 = 8;

impl Place {
    /// A client connection's place, from accept until its task ends, or
    /// `None` when `node.maxclients` are open. The count is node-wide, as
    /// the open file limit is.
    pub fn client(shared: &Arc<Shared>) -> Option<Place> {
        Place::take(
            shared,
            |shared| &shared.open_clients,
            shared.config.node.maxclients,
        )
    }

    /// A refused connection's place while it lingers to be read.
    pub fn lingering_refusal(shared: &Arc<Shared>) -> Option<Place> {
        Place::take(
            shared,
            |shared| &shared.lingering_refusals,
            LINGERING_REFUSALS_MAX,
        )
    }

    fn take(shared: &Arc<Shared>, count: fn(&Shared) -> &AtomicU64, limit: u64) -> Option<Place> {
        count(shared)
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |taken| {
                (taken < limit).then_some(taken + 1)
            })
            .ok()?;
        Some(Place {
            shared: shared.clone(),
            count,
        })
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        (self.count)(&self.shared).fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether any client that can reach the database may read and write it:
/// a non-loopback address, no password, and no client certificate
/// required. Redis refuses such clients (protected mode); Petrel serves
/// what it is configured to serve, but says so where the operator looks
/// (`warn_open_to_the_network`).
pub(crate) fn is_reachable_without_credentials(
    bind: IpAddr,
    database: &DatabaseConfig,
    tls: &petrel_tls::DatabaseTls,
) -> bool {
    let certificates_required =
        tls.mode() == petrel_tls::TlsMode::Enabled && tls.client_authentication().is_enforced();
    is_open_to_the_network(bind, database.password.is_some(), certificates_required)
}

pub(crate) fn warn_open_to_the_network(bind: IpAddr, database: &DatabaseConfig) {
    warn!(
        database = %database.name,
        address = %SocketAddr::new(bind, database.port),
        "any client that can reach this address can read and write the database: \
         it has no password and does not require client certificates"
    );
}

/// Logs each configured certificate that expires within 30 days (a
/// warning) or has expired (an error: peers refuse it), so that the
/// operator renews it before clients fail. Called at start-up, after every
/// change, and twice a day by `petrel serve`.
pub(crate) fn log_expiring_certificates(snapshot: &petrel_tls::TlsSnapshot, now: SystemTime) {
    use petrel_tls::ExpiryOutlook;
    for expiry in snapshot.certificate_expiries() {
        match expiry.outlook(now) {
            ExpiryOutlook::Fine => {}
            ExpiryOutlook::Soon { days_left } => warn!(
                scope = %expiry.scope,
                field = %expiry.field,
                subject = %expiry.subject,
                days_left,
                "certificate expires soon: replace it, then reload (SIGHUP, or the REST API)"
            ),
            ExpiryOutlook::Expired { days_ago } => tracing::error!(
                scope = %expiry.scope,
                field = %expiry.field,
                subject = %expiry.subject,
                days_ago,
                "certificate has expired and peers refuse it: replace it, then reload \
                 (SIGHUP, or the REST API)"
            ),
        }
    }
}

fn is_open_to_the_network(bind: IpAddr, has_password: bool, certificates_required: bool) -> bool {
    !bind.is_loopback() && !has_password && !certificates_required
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        .unwrap_or(0)
}

/// A running node.
pub struct NodeHandle {
    threads: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl NodeHandle {
    /// The control plane's handle: live database and TLS changes, counters.
    pub fn control(&self) -> crate::control::ControlHandle {
        crate::control::ControlHandle::new(self.shared.clone())
    }

    /// Blocks until every data thread ends (they run until the process exits).
    pub fn wait(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// How long start-up waits for a port that is still being released.
const PORT_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Finds out whether `address` is free. A node that stopped a moment ago
/// may still hold its ports for a few milliseconds while the kernel tears
/// down its rings, so a restart retries for a short while before it
/// reports the port as taken.
pub(crate) fn probe_port(address: SocketAddr) -> std::io::Result<()> {
    let deadline = std::time::Instant::now() + PORT_RELEASE_WAIT;
    loop {
        match StdTcpListener::bind(address) {
            Ok(_) => return Ok(()),
            Err(error)
                if error.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Starts the data threads and returns once every one of them listens on
/// every database port.
pub fn start(config: Config) -> Result<NodeHandle, StartError> {
    // SO_REUSEPORT would let us silently share a port with another process of
    // the same user; bind once without it to find out whether the port is free.
    for database in &config.databases {
        let address = SocketAddr::new(config.node.bind, database.port);
        probe_port(address).map_err(|source| StartError::Listen {
            database: database.name.clone(),
            address,
            source,
        })?;
    }

    let snapshot = config.tls_snapshot(SystemTime::now())?;
    let kernel_tls = decide_kernel_tls(&snapshot)?;
    // A Replica Of source's certificates are checked now, not at the first
    // connection attempt.
    for database in &config.databases {
        for source in database
            .replica_sources
            .iter()
            .filter(|source| source.encryption)
        {
            crate::sync_tls::client_config(&config, snapshot.node().provider().clone(), source)
                .map_err(|reason| StartError::ReplicaSource {
                    database: database.name.clone(),
                    reason,
                })?;
        }
    }
    let use_io_uring = choose_driver(config.node.io_driver)?;
    let shard_count = config.node.data_cores.len();
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..shard_count).map(|_| flume::bounded(4096)).unzip();
    let sync = crate::sync_feed::SyncShared::new(shard_count, crate::control::DATABASE_SLOTS_MAX);
    let shared = Arc::new(Shared {
        // Every slot a database may get while the node runs, so the gauges
        // never move.
        memory_bytes: (0..crate::control::DATABASE_SLOTS_MAX)
            .map(|_| (0..shard_count).map(|_| AtomicU64::new(0)).collect())
            .collect(),
        catalog: crate::control::initial_catalog(&config.databases),
        config,
        inboxes: senders,
        next_client_id: AtomicU64::new(1),
        slowlog_ids: AtomicU64::new(0),
        started_at_ms: now_ms(),
        security: Security {
            snapshot: arc_swap::ArcSwap::from_pointee(snapshot),
            kernel_tls,
            counters: Arc::new(TlsCounters::default()),
        },
        sync,
        open_clients: AtomicU64::new(0),
        lingering_refusals: AtomicU64::new(0),
    });

    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let mut threads = Vec::new();
    for (shard_id, inbox) in receivers.into_iter().enumerate() {
        let core = shared.config.node.data_cores[shard_id];
        let shared = shared.clone();
        let ready = ready_tx.clone();
        let thread = std::thread::Builder::new()
            .name(format!("petrel-data-{shard_id}"))
            .spawn(move || worker::thread_main(shard_id, core, use_io_uring, shared, inbox, ready))
            .map_err(|error| StartError::Thread {
                core,
                reason: error.to_string(),
            })?;
        threads.push(thread);
    }
    drop(ready_tx);
    for _ in 0..shard_count {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => {
                return Err(StartError::Thread {
                    core: 0,
                    reason: "a data thread died during start-up".into(),
                })
            }
        }
    }
    threads.push(crate::sync_ring::start(shared.clone(), use_io_uring)?);
    let snapshot = shared.security.snapshot.load();
    log_expiring_certificates(&snapshot, SystemTime::now());
    for (slot, database) in shared.config.databases.iter().enumerate() {
        let bind = shared.config.node.bind;
        if is_reachable_without_credentials(bind, database, snapshot.database(slot)) {
            warn_open_to_the_network(bind, database);
        }
        info!(
            database = %database.name,
            address = %SocketAddr::new(shared.config.node.bind, database.port),
            shards = shard_count,
            "listening"
        );
    }
    Ok(NodeHandle { threads, shared })
}

/// Decides between io_uring and epoll, logging once why io_uring is not used.
fn choose_driver(wanted: IoDriver) -> Result<bool, StartError> {
    if wanted == IoDriver::Epoll {
        info!("io driver: epoll (node.io_driver = \"epoll\")");
        return Ok(false);
    }
    let unavailable = match io_uring::IoUring::new(8) {
        Err(error) => Some(format!("creating a ring failed: {error}")),
        Ok(_) if !monoio::utils::detect_uring() => {
            Some("the kernel lacks io_uring operations the runtime needs".to_string())
        }
        Ok(_) => None,
    };
    match (unavailable, wanted) {
        (None, _) => {
            info!("io driver: io_uring");
            Ok(true)
        }
        (Some(reason), IoDriver::IoUring) => Err(StartError::IoUringUnavailable(reason)),
        (Some(reason), _) => {
            warn!("io_uring unavailable ({reason}); data threads fall back to epoll");
            Ok(false)
        }
    }
}

/// Probes once whether TLS connections can move to the kernel.
fn decide_kernel_tls(snapshot: &petrel_tls::TlsSnapshot) -> Result<KernelTls, StartError> {
    let mode = snapshot.node().ktls_mode();
    let tls_used = snapshot
        .databases()
        .iter()
        .any(|database| database.mode() != petrel_tls::TlsMode::Disabled);
    if mode == petrel_tls::KtlsMode::Off {
        return Ok(KernelTls::Off);
    }
    match petrel_ktls::probe() {
        Ok(capabilities) => {
            if tls_used {
                info!(
                    "kernel TLS available: TLS connections move to the kernel after the handshake"
                );
            }
            Ok(KernelTls::Available(capabilities))
        }
        Err(reason) if mode == petrel_tls::KtlsMode::Required => {
            Err(StartError::KtlsRequired(reason.to_string()))
        }
        Err(reason) => {
            if tls_used {
                warn!("{reason}; TLS connections stay on userspace rustls (ktls = \"auto\")");
            }
            Ok(KernelTls::Unavailable)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reachable_database_without_password_or_certificates_is_open() {
        let anywhere = IpAddr::from([0, 0, 0, 0]);
        let loopback = IpAddr::from([127, 0, 0, 1]);
        assert!(is_open_to_the_network(anywhere, false, false));
        assert!(is_open_to_the_network(
            IpAddr::from([10, 0, 0, 5]),
            false,
            false
        ));
        assert!(!is_open_to_the_network(loopback, false, false));
        assert!(!is_open_to_the_network(
            std::net::Ipv6Addr::LOCALHOST.into(),
            false,
            false
        ));
        assert!(!is_open_to_the_network(anywhere, true, false));
        assert!(!is_open_to_the_network(anywhere, false, true));
    }
}
