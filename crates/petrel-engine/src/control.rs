//! The data plane's side of the control plane: databases added and removed
//! while the node runs, TLS settings published for new handshakes, and the
//! counters the REST API reads.
//!
//! A database lives in a *slot*: its index in every per-database vector
//! (keyspaces, memory gauges, the TLS snapshot). Slots are handed out in
//! order and never reused while the process runs, so a message or a
//! connection that still names a removed slot finds an empty keyspace, never
//! another database's keys. The catalog (slot → settings) and the TLS
//! snapshot are immutable values swapped whole; data threads read them at
//! accept and per batch and take no lock.
//!
//! Per data thread (thread-local, so no lock either): the stop signal of
//! each listener, the open connections by socket (database, peer
//! certificate chain) so a database's connections can be closed and revoked
//! certificates found, and a request counter per slot.
//!
//! This module must not decide policy: validation belongs to the control
//! plane and to `petrel-tls`; here changes are only carried out.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use futures_channel::oneshot;
use monoio::net::{ListenerOpts, TcpListener, TcpStream};
use petrel_tls::pki_types::CertificateDer;
use petrel_tls::{KtlsMode, RawDatabaseTls, RawNodeTls, TlsSnapshot};
use tracing::{debug, error, info, warn};

use crate::config::DatabaseConfig;
use crate::node::{Place, Shared};
use crate::security::{KernelTls, TransportKind};
use crate::worker::{Message, Worker};

/// Databases a process can create over its life; slots are not reused, so
/// a node that reaches this must restart (which renumbers from 0).
pub const DATABASE_SLOTS_MAX: usize = 1024;
/// Service-time histograms: microseconds, up to a minute, 2 significant digits.
const LATENCY_MAX_US: u64 = 60_000_000;
const LATENCY_SIGNIFICANT_DIGITS: u8 = 2;
/// How long the control plane waits for a data thread to carry out a step.
const THREAD_ANSWER_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a data thread may log a repeating condition (connections
/// refused past maxclients, accept failing).
const LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Slot → settings; `None` for a removed database.
pub(crate) type Catalog = Vec<Option<Arc<DatabaseConfig>>>;

/// A step a data thread carries out for the control plane.
#[derive(Debug)]
pub(crate) enum ControlMessage {
    /// Make room for a new database's keyspace.
    Prepare {
        slot: usize,
        reply: flume::Sender<()>,
    },
    /// Listen on `address` for `slot`, replacing its listener if it has one.
    Listen {
        slot: usize,
        address: SocketAddr,
        reply: flume::Sender<std::io::Result<()>>,
    },
    /// Stop listening for `slot`, close its connections, free its keys.
    Remove {
        slot: usize,
        reply: flume::Sender<()>,
    },
    /// Close TLS sessions whose certificate the current snapshot refuses;
    /// answers how many were closed.
    CloseRevoked { reply: flume::Sender<usize> },
    /// Counters per slot.
    Stats {
        reply: flume::Sender<Vec<SlotCounters>>,
    },
}

/// One thread's counters for one slot.
#[derive(Debug, Default, Clone)]
pub(crate) struct SlotCounters {
    pub connections: u64,
    pub requests: u64,
    pub keys: u64,
    pub used_memory_bytes: u64,
    pub latency_us: Option<hdrhistogram::Histogram<u64>>,
}

/// Why a change could not be carried out; the node serves what it did before.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("database {uid}: cannot listen on {address}")]
    Listen {
        uid: u64,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS configuration")]
    Tls(#[from] petrel_tls::TlsConfigError),
    #[error("ktls = \"required\" but this kernel cannot take TLS connections")]
    KtlsUnavailable,
    #[error("{DATABASE_SLOTS_MAX} databases were created since the node started; restart it to create more")]
    TooManyDatabases,
    #[error("a data thread did not answer: {0}")]
    Unavailable(&'static str),
}

/// Counters of one database, summed over the data threads.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DatabaseCounters {
    pub connections: u64,
    pub requests_total: u64,
    pub keys: u64,
    pub used_memory_bytes: u64,
    /// Service time of requests since the database was created, in
    /// microseconds: (quantile, value) for p50, p99 and p99.9. Empty before
    /// the first request.
    pub latency_us: Vec<(f64, u64)>,
}

/// The quantiles reported from the data threads' histograms.
pub const LATENCY_QUANTILES: [f64; 3] = [0.5, 0.99, 0.999];

/// The node's counters for the control plane.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct EngineStats {
    /// By database uid.
    pub databases: Vec<(u64, DatabaseCounters)>,
    /// Open connections by transport (`plain`, `ktls`, `tls`).
    pub connections_by_transport: Vec<(&'static str, i64)>,
    pub handshakes_completed: u64,
    /// Failed handshakes by reason.
    pub handshake_failures: Vec<(&'static str, u64)>,
}

/// The control plane's handle on a running node. Cheap to clone; changes
/// through clones apply one at a time.
#[derive(Clone)]
pub struct ControlHandle {
    shared: Arc<Shared>,
    applying: Arc<Mutex<()>>,
}

impl ControlHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            applying: Arc::new(Mutex::new(())),
        }
    }

    /// Makes the node serve exactly `databases` (matched to running ones by
    /// `uid`) with `node_tls`: opens new databases' ports on every data
    /// thread, moves a changed port, closes removed databases (listeners,
    /// connections, keys), and publishes the new TLS snapshot for new
    /// handshakes. Open connections keep the settings they started with,
    /// unless `close_revoked_sessions` is set: then TLS sessions whose
    /// certificate the new trust lists refuse are closed. A database whose
    /// `replica_sources` changed has its Replica Of link stopped (before
    /// this returns) and the new one started; without a source it is
    /// writable at once and keeps its keys.
    ///
    /// All or nothing: on an error the node serves what it served before.
    pub fn apply(
        &self,
        node_tls: &RawNodeTls,
        databases: &[DatabaseConfig],
        close_revoked_sessions: bool,
    ) -> Result<(), ApplyError> {
        let _one_at_a_time = self
            .applying
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let shared = &self.shared;
        let old_catalog = shared.catalog.load_full();
        let old_snapshot = shared.security.snapshot.load_full();

        let mut catalog: Catalog = old_catalog
            .iter()
            .map(|entry| {
                entry.as_ref().and_then(|old| {
                    databases
                        .iter()
                        .find(|wanted| wanted.uid == old.uid)
                        .map(|wanted| Arc::new(wanted.clone()))
                })
            })
            .collect();
        let removed: Vec<usize> = (0..old_catalog.len())
            .filter(|&slot| old_catalog[slot].is_some() && catalog[slot].is_none())
            .collect();
        let moved: Vec<(usize, u16)> = (0..old_catalog.len())
            .filter_map(|slot| match (&old_catalog[slot], &catalog[slot]) {
                (Some(old), Some(new)) if old.port != new.port => Some((slot, old.port)),
                _ => None,
            })
            .collect();
        let mut added = Vec::new();
        for wanted in databases {
            let known = old_catalog
                .iter()
                .flatten()
                .any(|running| running.uid == wanted.uid);
            if !known {
                if catalog.len() >= DATABASE_SLOTS_MAX {
                    return Err(ApplyError::TooManyDatabases);
                }
                added.push(catalog.len());
                catalog.push(Some(Arc::new(wanted.clone())));
            }
        }

        let snapshot = build_snapshot(shared, node_tls, &catalog)?;
        if snapshot.node().ktls_mode() == KtlsMode::Required
            && !matches!(shared.security.kernel_tls, KernelTls::Available(_))
        {
            return Err(ApplyError::KtlsUnavailable);
        }
        // A port another process holds must fail the change before anything
        // moves; binding once without SO_REUSEPORT finds out.
        let opening: Vec<usize> = added
            .iter()
            .copied()
            .chain(moved.iter().map(|(slot, _)| *slot))
            .collect();
        for &slot in &opening {
            let database = entry(&catalog, slot);
            let address = SocketAddr::new(shared.config.node.bind, database.port);
            crate::node::probe_port(address).map_err(|source| ApplyError::Listen {
                uid: database.uid,
                address,
                source,
            })?;
        }

        for &slot in &added {
            self.every_thread(|reply| ControlMessage::Prepare { slot, reply })?;
            for gauge in &shared.memory_bytes[slot] {
                gauge.store(0, Ordering::Relaxed);
            }
        }
        // Settings first, listeners after: a connection accepted on a new
        // port must find its database in both.
        shared.catalog.store(Arc::new(catalog.clone()));
        shared.security.snapshot.store(Arc::new(snapshot));

        if let Err(error) = self.listen_all(&catalog, &opening) {
            // Undo: close what was opened, move ports back, restore settings.
            for &slot in &added {
                let _ = self.every_thread(|reply| ControlMessage::Remove { slot, reply });
            }
            shared.catalog.store(old_catalog.clone());
            shared.security.snapshot.store(old_snapshot);
            let _ = self.listen_all(
                &old_catalog,
                &moved.iter().map(|(slot, _)| *slot).collect::<Vec<_>>(),
            );
            return Err(error);
        }
        // Replica Of links follow the new catalog (before removed slots
        // free their keys, so no link writes into them afterwards).
        for slot in 0..catalog.len() {
            let sources = |catalog: &Catalog| {
                catalog
                    .get(slot)
                    .cloned()
                    .flatten()
                    .map(|database| database.replica_sources.clone())
                    .unwrap_or_default()
            };
            if sources(&old_catalog) != sources(&catalog) {
                self.relink(slot);
            }
        }
        for &slot in &removed {
            self.every_thread(|reply| ControlMessage::Remove { slot, reply })?;
            for gauge in &shared.memory_bytes[slot] {
                gauge.store(0, Ordering::Relaxed);
            }
            if let Some(old) = &old_catalog[slot] {
                info!(database = %old.name, port = old.port, "database removed");
            }
        }
        for &slot in &added {
            let database = entry(&catalog, slot);
            info!(database = %database.name, port = database.port, "database created");
        }
        // Said when a database becomes open, whether it was created so or
        // a change took its password or its client certificates away.
        let bind = shared.config.node.bind;
        let snapshot = shared.security.snapshot.load();
        for (slot, database) in catalog.iter().enumerate() {
            let Some(database) = database else { continue };
            let was_open = old_catalog
                .get(slot)
                .and_then(Option::as_ref)
                .is_some_and(|old| {
                    crate::node::is_reachable_without_credentials(
                        bind,
                        old,
                        old_snapshot.database(slot),
                    )
                });
            if !was_open
                && crate::node::is_reachable_without_credentials(
                    bind,
                    database,
                    snapshot.database(slot),
                )
            {
                crate::node::warn_open_to_the_network(bind, database);
            }
        }
        crate::node::log_expiring_certificates(&snapshot, SystemTime::now());
        if close_revoked_sessions {
            let closed: usize = self
                .every_thread(|reply| ControlMessage::CloseRevoked { reply })?
                .into_iter()
                .sum();
            if closed > 0 {
                info!(
                    closed,
                    "closed sessions whose certificate is no longer trusted"
                );
            }
        }
        Ok(())
    }

    /// Logs the configured certificates that expire within 30 days or
    /// have expired.
    pub fn log_expiring_certificates(&self) {
        let snapshot = self.shared.security.snapshot.load();
        crate::node::log_expiring_certificates(&snapshot, SystemTime::now());
    }

    /// Counters per database and per transport.
    pub fn stats(&self) -> Result<EngineStats, ApplyError> {
        let catalog = self.shared.catalog.load_full();
        let per_thread = self.every_thread(|reply| ControlMessage::Stats { reply })?;
        let mut databases = Vec::new();
        for (slot, entry) in catalog.iter().enumerate() {
            let Some(database) = entry else { continue };
            let mut total = DatabaseCounters::default();
            let mut latency: Option<hdrhistogram::Histogram<u64>> = None;
            for thread in &per_thread {
                if let Some(counters) = thread.get(slot) {
                    total.connections += counters.connections;
                    total.requests_total += counters.requests;
                    total.keys += counters.keys;
                    total.used_memory_bytes += counters.used_memory_bytes;
                    if let Some(histogram) = &counters.latency_us {
                        match &mut latency {
                            None => latency = Some(histogram.clone()),
                            // Same bounds on every thread, so adding cannot fail.
                            Some(sum) => {
                                let _ = sum.add(histogram);
                            }
                        }
                    }
                }
            }
            if let Some(latency) = latency.filter(|histogram| !histogram.is_empty()) {
                total.latency_us = LATENCY_QUANTILES
                    .iter()
                    .map(|&quantile| (quantile, latency.value_at_quantile(quantile)))
                    .collect();
            }
            databases.push((database.uid, total));
        }
        let counters = &self.shared.security.counters;
        Ok(EngineStats {
            databases,
            connections_by_transport: [
                TransportKind::Plain,
                TransportKind::Ktls,
                TransportKind::UserspaceTls,
            ]
            .into_iter()
            .map(|kind| (kind.as_str(), counters.connections(kind)))
            .collect(),
            handshakes_completed: counters.handshakes_completed.load(Ordering::Relaxed),
            handshake_failures: counters.handshake_failures(),
        })
    }

    fn listen_all(&self, catalog: &Catalog, slots: &[usize]) -> Result<(), ApplyError> {
        for &slot in slots {
            let database = entry(catalog, slot);
            let address = SocketAddr::new(self.shared.config.node.bind, database.port);
            for result in self.every_thread(|reply| ControlMessage::Listen {
                slot,
                address,
                reply,
            })? {
                result.map_err(|source| ApplyError::Listen {
                    uid: database.uid,
                    address,
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// Has the sync ring stop `slot`'s Replica Of link if its source
    /// changed or went away, and start the new one; waits until the old
    /// link has stopped, so a database the change made writable gets no
    /// more writes from its former source.
    fn relink(&self, slot: usize) {
        let (done, finished) = flume::bounded(1);
        let change = crate::sync_replica::RingControl::Follow(crate::sync_replica::ReplicaChange {
            database: slot,
            done,
        });
        if self.shared.sync.replica_changes.send(change).is_err() {
            warn!(
                slot,
                "the sync ring is gone; Replica Of links cannot change"
            );
            return;
        }
        if finished.recv_timeout(THREAD_ANSWER_TIMEOUT).is_err() {
            warn!(
                slot,
                "the sync ring did not confirm the Replica Of change within 5 seconds; it applies it when it can"
            );
        }
    }

    /// Sends a step to every data thread and waits for every answer.
    fn every_thread<T>(
        &self,
        message: impl Fn(flume::Sender<T>) -> ControlMessage,
    ) -> Result<Vec<T>, ApplyError> {
        let mut receivers = Vec::new();
        for inbox in &self.shared.inboxes {
            let (reply, receiver) = flume::bounded(1);
            inbox
                .send(Message::Control(message(reply)))
                .map_err(|_| ApplyError::Unavailable("its inbox is closed"))?;
            receivers.push(receiver);
        }
        receivers
            .into_iter()
            .map(|receiver| {
                receiver
                    .recv_timeout(THREAD_ANSWER_TIMEOUT)
                    .map_err(|_| ApplyError::Unavailable("no answer within 5 seconds"))
            })
            .collect()
    }
}

/// The live settings of `slot` in a catalog being built.
fn entry(catalog: &Catalog, slot: usize) -> Arc<DatabaseConfig> {
    catalog
        .get(slot)
        .cloned()
        .flatten()
        .unwrap_or_else(removed_database)
}

/// What a removed slot reads as: no password, no limit, no port.
fn removed_database() -> Arc<DatabaseConfig> {
    Arc::new(DatabaseConfig {
        uid: 0,
        name: String::new(),
        port: 0,
        memory_size_bytes: 0,
        password: None,
        tls: RawDatabaseTls::default(),
        replica_sources: Vec::new(),
    })
}

/// A TLS snapshot indexed by slot; a removed slot gets a plaintext policy
/// (its listener is closed; a late connection is closed when tracked).
fn build_snapshot(
    shared: &Shared,
    node_tls: &RawNodeTls,
    catalog: &Catalog,
) -> Result<TlsSnapshot, petrel_tls::TlsConfigError> {
    let databases: Vec<(String, RawDatabaseTls)> = catalog
        .iter()
        .enumerate()
        .map(|(slot, entry)| match entry {
            Some(database) => (database.name.clone(), database.tls.clone()),
            None => (format!("(removed {slot})"), RawDatabaseTls::default()),
        })
        .collect();
    TlsSnapshot::build(
        node_tls,
        &databases,
        &shared.config.base_dir,
        SystemTime::now(),
    )
}

/// The catalog a node starts with: its config's databases in slots 0...
pub(crate) fn initial_catalog(databases: &[DatabaseConfig]) -> ArcSwap<Catalog> {
    ArcSwap::from_pointee(
        databases
            .iter()
            .map(|database| Some(Arc::new(database.clone())))
            .collect(),
    )
}

impl Shared {
    /// The settings of the database in `slot` (a removed slot reads as a
    /// database without password or limit).
    pub fn database(&self, slot: usize) -> Arc<DatabaseConfig> {
        entry(&self.catalog.load(), slot)
    }

    /// The memory limit of `slot` in bytes; 0 for none. Read per write
    /// command, so it clones nothing.
    pub fn memory_limit_bytes(&self, slot: usize) -> u64 {
        self.catalog
            .load()
            .get(slot)
            .and_then(Option::as_ref)
            .map_or(0, |database| database.memory_size_bytes)
    }

    /// Whether `slot` holds a database that was not removed.
    pub fn is_live(&self, slot: usize) -> bool {
        self.catalog.load().get(slot).is_some_and(Option::is_some)
    }

    /// (name, memory limit) of every live database, in slot order, for INFO.
    pub fn live_databases(&self) -> Vec<(usize, String, u64)> {
        self.catalog
            .load()
            .iter()
            .enumerate()
            .filter_map(|(slot, entry)| {
                entry
                    .as_ref()
                    .map(|database| (slot, database.name.clone(), database.memory_size_bytes))
            })
            .collect()
    }
}

/// What this data thread knows of its listeners and connections.
#[derive(Default)]
struct Local {
    /// Dropping a sender stops that slot's accept loop.
    listeners: HashMap<usize, oneshot::Sender<()>>,
    connections: HashMap<RawFd, Tracked>,
    /// Requests run, by slot.
    requests: Vec<u64>,
    /// Service time per request in microseconds, by slot.
    latency_us: Vec<Option<hdrhistogram::Histogram<u64>>>,
    /// When this thread last logged that it refuses connections.
    maxclients_warned_at: Option<std::time::Instant>,
    /// When this thread last logged a failed accept, and failures since.
    accept_failure_logged_at: Option<std::time::Instant>,
    accept_failures: u64,
}

struct Tracked {
    slot: usize,
    /// The client's certificate chain, leaf first, for TLS sessions that
    /// presented one.
    chain: Option<Vec<CertificateDer<'static>>>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

/// Keeps a connection known to its thread while it lives.
pub(crate) struct TrackedConnection {
    fd: RawFd,
}

impl Drop for TrackedConnection {
    fn drop(&mut self) {
        LOCAL.with(|local| {
            local.borrow_mut().connections.remove(&self.fd);
        });
    }
}

/// Registers a connection about to be served on `slot`; `None` when the
/// database was removed meanwhile (the caller closes the connection).
pub(crate) fn track(
    worker: &Worker,
    slot: usize,
    fd: RawFd,
    chain: Option<Vec<CertificateDer<'static>>>,
) -> Option<TrackedConnection> {
    if !worker.shared.is_live(slot) {
        debug!(slot, "closing a connection accepted for a removed database");
        return None;
    }
    LOCAL.with(|local| {
        local
            .borrow_mut()
            .connections
            .insert(fd, Tracked { slot, chain });
    });
    Some(TrackedConnection { fd })
}

/// Counts a batch of `requests` run on `slot` that took `elapsed` from
/// being read to their replies being encoded; each request is counted with
/// the batch's time (what a pipelining client waits for).
pub(crate) fn count_requests(slot: usize, requests: usize, elapsed: Duration) {
    if requests == 0 {
        return;
    }
    LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        if local.requests.len() <= slot {
            local.requests.resize(slot + 1, 0);
            local.latency_us.resize(slot + 1, None);
        }
        local.requests[slot] += requests as u64;
        let histogram = &mut local.latency_us[slot];
        if histogram.is_none() {
            *histogram = hdrhistogram::Histogram::new_with_bounds(
                1,
                LATENCY_MAX_US,
                LATENCY_SIGNIFICANT_DIGITS,
            )
            .ok();
        }
        if let Some(histogram) = histogram {
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(LATENCY_MAX_US);
            histogram.saturating_record_n(micros.clamp(1, LATENCY_MAX_US), requests as u64);
        }
    });
}

/// Ends a connection from outside its task: the pending read returns end
/// of stream and the task finishes as if the client had closed. The task
/// still owns (and closes) the descriptor.
pub(crate) fn shut_down(fd: RawFd) {
    // `fd` is registered only while its connection task owns the open
    // socket (the registration is dropped before the socket).
    if let Err(error) = petrel_ktls::shutdown_socket(fd) {
        tracing::debug!(fd, %error, "shutdown of a connection failed");
    }
}

/// Serves `slot` on `listener` until the slot's listener is replaced or removed.
pub(crate) fn spawn_accept_loop(worker: &Rc<Worker>, slot: usize, listener: TcpListener) {
    let (stop, stopped) = oneshot::channel();
    LOCAL.with(|local| {
        // Replacing the sender stops the loop of a listener this replaces.
        local.borrow_mut().listeners.insert(slot, stop);
    });
    monoio::spawn(accept_loop(worker.clone(), slot, listener, stopped));
}

async fn accept_loop(
    worker: Rc<Worker>,
    slot: usize,
    listener: TcpListener,
    mut stopped: oneshot::Receiver<()>,
) {
    loop {
        monoio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match Place::client(&worker.shared) {
                    Some(place) => {
                        worker.stats.borrow_mut().connections_received += 1;
                        if let Err(error) = stream.set_nodelay(true) {
                            debug!(%peer, %error, "cannot set TCP_NODELAY");
                        }
                        set_keepalive(worker.shared.config.node.tcp_keepalive_secs, &stream, peer);
                        monoio::spawn(crate::connection::accept(
                            worker.clone(),
                            slot,
                            stream,
                            peer,
                            place,
                        ));
                    }
                    None => {
                        worker.stats.borrow_mut().rejected_connections += 1;
                        warn_maxclients_reached(&worker);
                        monoio::spawn(crate::connection::refuse(worker.clone(), slot, stream, peer));
                    }
                },
                Err(error) => {
                    // Out of file descriptors or a transient failure: back off, don't spin.
                    log_accept_failure(&error);
                    monoio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Probes a silent peer after `node.tcp_keepalive` seconds, then every
/// third of that, and drops it after three unanswered probes (Redis's
/// scheme), so that a client whose host vanished frees its place, and a
/// replica notices a source that vanished.
pub(crate) fn set_keepalive(idle_secs: u64, stream: &TcpStream, peer: SocketAddr) {
    if idle_secs == 0 {
        return;
    }
    let idle = Duration::from_secs(idle_secs);
    let interval = Duration::from_secs((idle_secs / 3).max(1));
    if let Err(error) = stream.set_tcp_keepalive(Some(idle), Some(interval), Some(3)) {
        debug!(%peer, %error, "cannot set TCP keepalive");
    }
}

/// Says once a minute at most, per data thread, that connections are being
/// refused; INFO's `rejected_connections` counts every one.
fn warn_maxclients_reached(worker: &Worker) {
    if !LOCAL.with(|local| due(&mut local.borrow_mut().maxclients_warned_at)) {
        return;
    }
    warn!(
        maxclients = worker.shared.config.node.maxclients,
        rejected_on_this_thread = worker.stats.borrow().rejected_connections,
        "refusing connections: maxclients are open (node.maxclients)"
    );
}

/// Logs a failed accept once a minute at most per data thread, with how
/// many failed since: out of file descriptors, the loop retries every 50 ms.
fn log_accept_failure(error: &std::io::Error) {
    let (log, failures) = LOCAL.with(|local| {
        let mut local = local.borrow_mut();
        local.accept_failures += 1;
        let failures = local.accept_failures;
        let log = due(&mut local.accept_failure_logged_at);
        if log {
            local.accept_failures = 0;
        }
        (log, failures)
    });
    if log {
        error!(%error, failures, "accept failed (retrying every 50 ms)");
    }
}

/// Whether a rate-limited log line is due, noting it as written if so.
fn due(last_logged_at: &mut Option<std::time::Instant>) -> bool {
    let now = std::time::Instant::now();
    if last_logged_at.is_some_and(|at| now.duration_since(at) < LOG_INTERVAL) {
        return false;
    }
    *last_logged_at = Some(now);
    true
}

/// Carries out a control step on this data thread.
pub(crate) fn handle(worker: &Rc<Worker>, message: ControlMessage) {
    match message {
        ControlMessage::Prepare { slot, reply } => {
            let mut shard = worker.shard.borrow_mut();
            while shard.databases.len() <= slot {
                shard.databases.push(petrel_store::Keyspace::default());
            }
            let _ = reply.send(());
        }
        ControlMessage::Listen {
            slot,
            address,
            reply,
        } => {
            let options = ListenerOpts::new()
                .reuse_port(true)
                .reuse_addr(true)
                .backlog(1024);
            let result = TcpListener::bind_with_config(address, &options)
                .map(|listener| spawn_accept_loop(worker, slot, listener));
            let _ = reply.send(result);
        }
        ControlMessage::Remove { slot, reply } => {
            let closing: Vec<RawFd> = LOCAL.with(|local| {
                let mut local = local.borrow_mut();
                local.listeners.remove(&slot);
                if let Some(count) = local.requests.get_mut(slot) {
                    *count = 0;
                }
                if let Some(histogram) = local.latency_us.get_mut(slot) {
                    *histogram = None;
                }
                local
                    .connections
                    .iter()
                    .filter(|(_, tracked)| tracked.slot == slot)
                    .map(|(fd, _)| *fd)
                    .collect()
            });
            for fd in closing {
                shut_down(fd);
            }
            if let Some(keyspace) = worker.shard.borrow_mut().databases.get_mut(slot) {
                // Frees the keys now, not when the last connection notices.
                *keyspace = petrel_store::Keyspace::default();
            }
            let _ = reply.send(());
        }
        ControlMessage::CloseRevoked { reply } => {
            let snapshot = worker.shared.security.snapshot.load_full();
            let now = SystemTime::now();
            let revoked: Vec<RawFd> = LOCAL.with(|local| {
                local
                    .borrow()
                    .connections
                    .iter()
                    .filter(|(_, tracked)| {
                        tracked.chain.as_ref().is_some_and(|chain| {
                            snapshot
                                .databases()
                                .get(tracked.slot)
                                .is_some_and(|policy| !policy.trusts_chain(chain, now))
                        })
                    })
                    .map(|(fd, _)| *fd)
                    .collect()
            });
            for &fd in &revoked {
                shut_down(fd);
            }
            let _ = reply.send(revoked.len());
        }
        ControlMessage::Stats { reply } => {
            let shard = worker.shard.borrow();
            let mut counters = vec![SlotCounters::default(); shard.databases.len()];
            for (slot, keyspace) in shard.databases.iter().enumerate() {
                counters[slot].keys = keyspace.len() as u64;
                counters[slot].used_memory_bytes = keyspace.used_memory_bytes() as u64;
            }
            LOCAL.with(|local| {
                let local = local.borrow();
                for tracked in local.connections.values() {
                    if let Some(slot) = counters.get_mut(tracked.slot) {
                        slot.connections += 1;
                    }
                }
                for (slot, requests) in local.requests.iter().enumerate() {
                    if let Some(counters) = counters.get_mut(slot) {
                        counters.requests = *requests;
                        counters.latency_us = local.latency_us.get(slot).cloned().flatten();
                    }
                }
            });
            let _ = reply.send(counters);
        }
    }
}
