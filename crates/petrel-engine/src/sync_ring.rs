//! The sync ring: a thread of its own, pinned to `node.sync_core`, with its
//! own monoio runtime, that carries every replication link so a full sync
//! never competes with client requests on a data ring.
//!
//! A replica arrives on a database port like any client: REPLCONF is
//! answered there (its capabilities are kept per connection on the data
//! thread), and PSYNC or SYNC ends the connection's life on the data ring:
//! its socket (and, for userspace TLS, its rustls session) moves here in a
//! [`Handoff`]. Here each database has its replication history
//! (`petrel_sync::ReplicationSource`: id, offset, backlog) fed by the data
//! threads' write queues (`sync_feed`), and each replica link is a task that
//! sends it the snapshot and then the backlog from its offset on. The
//! backlog is the replicas' output buffer: a replica that falls behind it
//! is disconnected and comes back for a full sync.
//!
//! A full sync: every shard marks a cut in its write queue and serializes
//! its keys as of that cut in chunks the ring pulls one at a time. The
//! writes a shard makes between its own cut and the last shard's cut form a
//! short "window" sent after the snapshot; the replica is told the offset
//! such that, once it has the window, it is exactly at the last cut's offset,
//! and the backlog carries it on from there.

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;
use monoio::net::TcpStream;
use petrel_resp::Reply;
use petrel_sync::source::{replid_from_random, Replconf, StreamFramer};
use petrel_sync::{PsyncDecision, ReplicaCapabilities, ReplicationSource};
use tracing::{debug, info, warn};

use crate::node::{now_ms, Shared, StartError};
use crate::sync_feed::{FeedItem, SnapshotChunk, SyncRequest};
use crate::transport::Transport;
use crate::worker::{Message, Worker};

/// How much backlog a link sends per write.
const SEND_CHUNK_BYTES_MAX: usize = 256 * 1024;
/// Redis's repl-ping-replica-period.
const PING_INTERVAL_MS: u64 = 10_000;
/// Newline keepalives while a snapshot is prepared (Redis sends one a second).
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// A connection that asked for replication, on its way from a data thread.
pub(crate) struct Handoff {
    pub database: usize,
    pub transport: Detached,
    pub capabilities: ReplicaCapabilities,
    pub psync: Vec<Bytes>,
    /// Bytes the data thread read behind the PSYNC.
    pub leftover: Vec<u8>,
    pub peer: String,
}

/// A socket detached from its data thread's runtime.
pub(crate) enum Detached {
    Plain(std::net::TcpStream),
    /// Kernel TLS: the kernel keeps the session; reads may meet control records.
    Ktls(std::net::TcpStream),
    /// Userspace TLS: the rustls session travels with the socket.
    Tls(Box<TlsParts>),
}

/// A userspace TLS connection taken apart.
pub(crate) struct TlsParts {
    pub tcp: std::net::TcpStream,
    /// The session, with any ciphertext read but not yet decoded.
    pub session: crate::tls_session::TlsSession,
}

/// Takes a socket out of the runtime that owns it.
pub(crate) fn detach_tcp(tcp: TcpStream) -> std::net::TcpStream {
    let fd = tcp.into_raw_fd();
    // SAFETY: `into_raw_fd` gave up ownership of this open descriptor, so
    // exactly one owner takes it here.
    unsafe { std::net::TcpStream::from_raw_fd(fd) }
}

// ---------------------------------------------------------------------------
// The data thread's side of a replica's arrival.

/// What a replication command on a data connection leads to.
pub(crate) enum DataCommand {
    Reply(Reply),
    /// Nothing to answer (REPLCONF ACK outside a link).
    Silent,
    /// PSYNC or SYNC: the connection moves to the sync ring after this batch.
    HandOff,
}

#[derive(Default)]
struct Arrival {
    capabilities: ReplicaCapabilities,
    psync: Option<Vec<Bytes>>,
}

thread_local! {
    /// Per client id on this data thread: what REPLCONF said so far.
    static ARRIVALS: RefCell<std::collections::HashMap<u64, Arrival>> =
        RefCell::new(std::collections::HashMap::new());
}

/// Runs REPLCONF, PSYNC or SYNC for a data connection that passed the
/// role checks.
pub(crate) fn data_command(worker: &Worker, client: u64, args: &[Bytes]) -> DataCommand {
    ARRIVALS.with(|arrivals| {
        let mut arrivals = arrivals.borrow_mut();
        // Connections that sent REPLCONF and left: forget them.
        if arrivals.len() > 64 {
            let sessions = worker.sessions.borrow();
            arrivals.retain(|id, _| sessions.contains_key(id));
        }
        let arrival = arrivals.entry(client).or_default();
        let name = args[0].to_ascii_lowercase();
        if name == b"replconf" {
            return match arrival.capabilities.replconf(args) {
                Replconf::Reply(reply) => DataCommand::Reply(raw_reply(&reply)),
                Replconf::Ack(_) | Replconf::GetAck => DataCommand::Silent,
            };
        }
        arrival.psync = Some(args.to_vec());
        DataCommand::HandOff
    })
}

fn raw_reply(reply: &[u8]) -> Reply {
    let text = reply.strip_suffix(b"\r\n").unwrap_or(reply);
    match text.split_first() {
        Some((b'-', error)) => Reply::error_owned(String::from_utf8_lossy(error).into_owned()),
        _ => Reply::ok(),
    }
}

/// Moves a connection that sent PSYNC or SYNC to the sync ring.
pub(crate) async fn hand_off<T: Transport>(
    worker: &Worker,
    client: u64,
    database: usize,
    stream: T,
    leftover: BytesMut,
    peer: &str,
) {
    let arrival = ARRIVALS.with(|arrivals| arrivals.borrow_mut().remove(&client));
    let Some(Arrival {
        capabilities,
        psync: Some(psync),
    }) = arrival
    else {
        return;
    };
    match stream.detach() {
        Ok(transport) => {
            let handoff = Handoff {
                database,
                transport,
                capabilities,
                psync,
                leftover: leftover.to_vec(),
                peer: peer.to_string(),
            };
            if worker.shared.sync.handoffs.send(handoff).is_err() {
                warn!(%peer, "the sync ring is gone; dropping a replica");
            }
        }
        Err(mut stream) => {
            warn!(%peer, "this transport cannot move to the sync ring; closing the replica");
            stream.close().await;
        }
    }
}

// ---------------------------------------------------------------------------
// The sync thread.

/// Starts the sync thread, pinned to `node.sync_core` when set.
pub(crate) fn start(shared: Arc<Shared>, use_io_uring: bool) -> Result<JoinHandle<()>, StartError> {
    let core = shared.config.node.sync_core;
    std::thread::Builder::new()
        .name("petrel-sync".to_string())
        .spawn(move || {
            if let Some(core) = core {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                    warn!(core, "could not pin the sync thread to its core");
                }
            }
            // The sync ring takes its core's [[cores]] tuning, or the
            // defaults when it floats.
            let tuning = shared.config.tuning_for(core.unwrap_or(usize::MAX));
            let serve = serve(shared);
            let built = crate::ring::block_on("sync", &tuning, use_io_uring, serve);
            if let Err(error) = built {
                warn!(%error, "cannot build the sync ring's runtime; replication is off");
            }
        })
        .map_err(|error| StartError::Thread {
            core: core.unwrap_or(0),
            reason: format!("sync thread: {error}"),
        })
}

/// A replication link to one replica, as the ring sees it.
struct Link {
    id: u64,
    address: String,
    listening_port: Option<u16>,
    sender: flume::Sender<LinkInput>,
    online: Cell<bool>,
    /// Stream bytes sent to it (its offset once it has read them).
    sent_offset: Cell<u64>,
    ack_offset: Cell<u64>,
    last_ack_ms: Cell<u64>,
    /// A StreamReady is on its way; don't queue another.
    notified: Cell<bool>,
    /// It asked with PSYNC, so a full resync starts with `+FULLRESYNC`
    /// (after the old SYNC, the snapshot comes first).
    announces_full_resync: bool,
    /// It wants the snapshot and nothing after it (`redis-cli --rdb`).
    rdb_only: bool,
}

impl Link {
    fn tell(&self, input: LinkInput) {
        let _ = self.sender.send(input);
    }

    fn notify(&self) {
        if self.online.get() && !self.notified.replace(true) {
            self.tell(LinkInput::StreamReady);
        }
    }
}

pub(crate) enum LinkInput {
    /// Bytes from the replica (ciphertext for userspace TLS).
    Received(Vec<u8>),
    /// The replica closed or the socket failed.
    ReadClosed,
    /// Send these bytes now.
    Send(Vec<u8>),
    /// Snapshot delivered: stream the backlog from this offset on.
    Online { next_offset: u64 },
    /// The backlog grew.
    StreamReady,
    /// The ring ends this link.
    Drop(&'static str),
}

struct Job {
    id: u64,
    cut_seen: Vec<bool>,
    cuts_left: usize,
    window: Vec<u8>,
    framer: StreamFramer,
    /// The stream offset at the last cut.
    end_offset: Option<u64>,
    links: Vec<Rc<Link>>,
    cuts_done: Option<oneshot::Sender<()>>,
}

struct DatabaseSync {
    source: ReplicationSource,
    links: Vec<Rc<Link>>,
    job: Option<Job>,
    /// Replicas waiting for the next full sync.
    queued: Vec<Rc<Link>>,
}

struct Ring {
    shared: Arc<Shared>,
    databases: Vec<RefCell<DatabaseSync>>,
    next_id: Cell<u64>,
}

fn random_replid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut random = [0u8; 20];
    for (index, chunk) in random.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(now_ms() ^ index as u64);
        let bytes = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    replid_from_random(random)
}

async fn serve(shared: Arc<Shared>) {
    let receivers = shared
        .sync
        .feed_receivers
        .lock()
        .map(|mut receivers| std::mem::take(&mut *receivers))
        .unwrap_or_default();
    let handoffs = shared
        .sync
        .handoff_receiver
        .lock()
        .ok()
        .and_then(|mut receiver| receiver.take());
    // The backlog is the replicas' output buffer too (see the module docs).
    let backlog_bytes =
        usize::try_from(shared.config.node.repl_backlog_size_bytes).unwrap_or(usize::MAX);
    let ring = Rc::new(Ring {
        // Every slot a database may get while the node runs (the control
        // plane adds databases); a source's backlog allocates as it fills.
        databases: (0..crate::control::DATABASE_SLOTS_MAX)
            .map(|_| {
                RefCell::new(DatabaseSync {
                    source: ReplicationSource::new(random_replid(), backlog_bytes),
                    links: Vec::new(),
                    job: None,
                    queued: Vec::new(),
                })
            })
            .collect(),
        shared,
        next_id: Cell::new(1),
    });
    for (shard, receiver) in receivers.into_iter().enumerate() {
        monoio::spawn(feed_loop(ring.clone(), shard, receiver));
    }
    monoio::spawn(housekeeping(ring.clone()));
    let mut replicas = crate::sync_replica::Replicas::default();
    for database in 0..ring.shared.config.databases.len() {
        if !replicas.follow(&ring.shared, database).await {
            ring.publish_info(database);
        }
    }
    let changes = ring
        .shared
        .sync
        .replica_change_receiver
        .lock()
        .ok()
        .and_then(|mut receiver| receiver.take());
    if let Some(changes) = changes {
        monoio::spawn(follow_replica_changes(ring.clone(), replicas, changes));
    }
    let Some(handoffs) = handoffs else {
        return;
    };
    while let Ok(handoff) = handoffs.recv_async().await {
        monoio::spawn(source_link(ring.clone(), handoff));
    }
}

async fn feed_loop(ring: Rc<Ring>, shard: usize, receiver: flume::Receiver<FeedItem>) {
    while let Ok(item) = receiver.recv_async().await {
        ring.apply_feed(shard, item);
        // Take what else is queued without yielding per item.
        for item in receiver.drain() {
            ring.apply_feed(shard, item);
        }
    }
}

/// Stops, starts or replaces Replica Of links as the control plane changes
/// databases' sources, one change at a time.
async fn follow_replica_changes(
    ring: Rc<Ring>,
    mut replicas: crate::sync_replica::Replicas,
    requests: flume::Receiver<crate::sync_replica::RingControl>,
) {
    use crate::sync_replica::RingControl;
    while let Ok(request) = requests.recv_async().await {
        match request {
            RingControl::Follow(change) => {
                if !replicas.follow(&ring.shared, change.database).await {
                    ring.publish_info(change.database);
                }
                let _ = change.done.send(());
            }
            RingControl::CloseSourceLink { database, closed } => {
                let _ = closed.send(replicas.close_source_link(database));
            }
            RingControl::CloseReplicaLinks { database, closed } => {
                let links = ring.databases[database].borrow().links.clone();
                for link in &links {
                    link.tell(LinkInput::Drop("closed by CLIENT KILL TYPE replica"));
                }
                let _ = closed.send(links.len());
            }
        }
    }
}

/// Pings replicas and refreshes INFO once a second.
async fn housekeeping(ring: Rc<Ring>) {
    let mut last_ping_ms = now_ms();
    loop {
        monoio::time::sleep(Duration::from_secs(1)).await;
        let now = now_ms();
        let ping = now.saturating_sub(last_ping_ms) >= PING_INTERVAL_MS;
        if ping {
            last_ping_ms = now;
        }
        for database in 0..ring.databases.len() {
            if !ring.shared.is_live(database) {
                continue;
            }
            if ping {
                let mut sync = ring.databases[database].borrow_mut();
                if sync.links.iter().any(|link| link.online.get()) {
                    sync.source.feed_ping();
                    for link in &sync.links {
                        link.notify();
                    }
                }
            }
            ring.publish_info(database);
        }
    }
}

impl Ring {
    fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    fn apply_feed(&self, shard: usize, item: FeedItem) {
        match item {
            FeedItem::Write { database, args } => {
                let mut sync = self.databases[database].borrow_mut();
                let sync = &mut *sync;
                sync.source.feed(0, &args);
                if let Some(job) = &mut sync.job {
                    if job.cut_seen[shard] && job.end_offset.is_none() {
                        job.framer.frame(0, &args, &mut job.window);
                    }
                }
                for link in &sync.links {
                    link.notify();
                }
            }
            FeedItem::Cut { database, job: id } => {
                let mut sync = self.databases[database].borrow_mut();
                let sync = &mut *sync;
                let Some(job) = sync.job.as_mut().filter(|job| job.id == id) else {
                    return;
                };
                if job.cut_seen[shard] {
                    return;
                }
                job.cut_seen[shard] = true;
                job.cuts_left -= 1;
                if job.cuts_left == 0 {
                    let end = sync.source.offset();
                    job.end_offset = Some(end);
                    // The backlog after this point must not rely on a SELECT
                    // the replica never saw.
                    sync.source.forget_stream_db();
                    let start = end - job.window.len() as u64;
                    let reply = sync.source.fullresync_reply(start);
                    for link in job.links.iter().filter(|link| link.announces_full_resync) {
                        link.tell(LinkInput::Send(reply.clone()));
                    }
                    if let Some(done) = job.cuts_done.take() {
                        let _ = done.send(());
                    }
                }
            }
            FeedItem::Overflow { database } => {
                warn!(
                    database = %self.shared.database(database).name,
                    "a shard's replication queue overflowed; starting a new replication history (replicas resync fully)"
                );
                let mut sync = self.databases[database].borrow_mut();
                sync.source.new_history(random_replid());
                for link in sync.links.drain(..) {
                    link.tell(LinkInput::Drop("the replication stream lost writes"));
                }
                sync.queued.clear();
                sync.job = None;
            }
        }
    }

    /// Adds `link` to the next full sync of `database`, starting one if
    /// none runs.
    fn request_full_sync(self: &Rc<Ring>, database: usize, link: Rc<Link>) {
        let mut sync = self.databases[database].borrow_mut();
        sync.queued.push(link);
        if sync.job.is_none() {
            drop(sync);
            self.start_job(database);
        }
    }

    fn start_job(self: &Rc<Ring>, database: usize) {
        let mut sync = self.databases[database].borrow_mut();
        if sync.job.is_some() || sync.queued.is_empty() {
            return;
        }
        let shard_count = self.shared.shard_count();
        let (done, done_receiver) = oneshot::channel();
        let id = self.next_id();
        let links = std::mem::take(&mut sync.queued);
        sync.job = Some(Job {
            id,
            cut_seen: vec![false; shard_count],
            cuts_left: shard_count,
            window: Vec::new(),
            framer: StreamFramer::default(),
            end_offset: None,
            links,
            cuts_done: Some(done),
        });
        drop(sync);
        monoio::spawn(run_job(self.clone(), database, id, done_receiver));
    }

    /// Renders INFO's Replication section for `database` (a replica's
    /// comes from its own task).
    fn publish_info(&self, database: usize) {
        if !self.shared.database(database).replica_sources.is_empty() {
            return;
        }
        let sync = self.databases[database].borrow();
        let now = now_ms();
        let mut text = String::from("role:master\r\n");
        text.push_str(&format!("connected_slaves:{}\r\n", sync.links.len()));
        for (index, link) in sync.links.iter().enumerate() {
            let state = if link.online.get() {
                "online"
            } else {
                "wait_bgsave"
            };
            let lag = now.saturating_sub(link.last_ack_ms.get()) / 1000;
            text.push_str(&format!(
                "slave{index}:ip={},port={},state={state},offset={},lag={lag}\r\n",
                link.address,
                link.listening_port.unwrap_or(0),
                link.ack_offset.get(),
            ));
        }
        let backlog = sync.source.backlog();
        text.push_str("master_failover_state:no-failover\r\n");
        text.push_str(&format!("master_replid:{}\r\n", sync.source.replid()));
        text.push_str(&format!("master_replid2:{}\r\n", "0".repeat(40)));
        text.push_str(&format!("master_repl_offset:{}\r\n", sync.source.offset()));
        text.push_str("second_repl_offset:-1\r\n");
        let active = self.shared.sync.feeding[database].load(Ordering::Relaxed);
        text.push_str(&format!("repl_backlog_active:{}\r\n", u8::from(active)));
        text.push_str(&format!(
            "repl_backlog_size:{}\r\n",
            backlog.capacity_bytes()
        ));
        text.push_str(&format!(
            "repl_backlog_first_byte_offset:{}\r\n",
            backlog.first_offset()
        ));
        text.push_str(&format!("repl_backlog_histlen:{}\r\n", backlog.len()));
        let role = petrel_store::session::ReplicationRole::Master {
            offset: sync.source.offset(),
            replicas: sync
                .links
                .iter()
                .filter(|link| link.online.get())
                .map(|link| {
                    (
                        link.address.clone(),
                        link.listening_port.unwrap_or(0),
                        link.ack_offset.get(),
                    )
                })
                .collect(),
        };
        self.shared.sync.publish(database, text, role);
    }
}

/// Builds the snapshot of one full sync and delivers it to its replicas.
async fn run_job(ring: Rc<Ring>, database: usize, id: u64, cuts_done: oneshot::Receiver<()>) {
    let shard_count = ring.shared.shard_count();
    for shard in 0..shard_count {
        let request = Message::Sync(SyncRequest::Start { database, job: id });
        if ring.shared.inboxes[shard]
            .send_async(request)
            .await
            .is_err()
        {
            return abort_job(&ring, database, id, "a data thread is gone");
        }
    }
    let mut writer = {
        let sync = ring.databases[database].borrow();
        sync.source.snapshot_writer(
            sync.source.offset(),
            now_ms(),
            ring.shared.database_memory_bytes(database),
        )
    };
    writer.select_db(0, 0, 0);
    let mut payload = writer.take();
    let mut keys = 0u64;
    for shard in 0..shard_count {
        loop {
            let (reply, receiver) = oneshot::channel();
            let request = Message::Sync(SyncRequest::Chunk {
                database,
                job: id,
                reply,
            });
            if ring.shared.inboxes[shard]
                .send_async(request)
                .await
                .is_err()
            {
                return abort_job(&ring, database, id, "a data thread is gone");
            }
            let chunk: SnapshotChunk = match receiver.await {
                Ok(chunk) => chunk,
                Err(_) => return abort_job(&ring, database, id, "a data thread is gone"),
            };
            if chunk.aborted {
                debug!(
                    database,
                    "snapshot aborted by a keyless write; starting over"
                );
                return restart_job(&ring, database, id);
            }
            keys += chunk.keys;
            writer.put_encoded(&chunk.entries);
            payload.extend(writer.take());
            if chunk.done {
                break;
            }
        }
    }
    payload.extend(writer.finish());
    if cuts_done.await.is_err() {
        return restart_job(&ring, database, id);
    }
    let Some(job) = ring.databases[database]
        .borrow_mut()
        .job
        .take()
        .filter(|job| job.id == id)
    else {
        return;
    };
    let Some(end_offset) = job.end_offset else {
        return;
    };
    info!(
        database = %ring.shared.database(database).name,
        keys,
        bytes = payload.len(),
        replicas = job.links.len(),
        "full sync snapshot ready"
    );
    let mut snapshot = format!("${}\r\n", payload.len()).into_bytes();
    snapshot.extend_from_slice(&payload);
    let mut bulk = snapshot.clone();
    bulk.extend_from_slice(&job.window);
    for link in &job.links {
        if link.rdb_only {
            // As Redis does: the snapshot, then the link closes.
            link.tell(LinkInput::Send(snapshot.clone()));
            link.tell(LinkInput::Drop(
                "it asked for the snapshot only (REPLCONF rdb-only)",
            ));
            continue;
        }
        link.tell(LinkInput::Send(bulk.clone()));
        link.tell(LinkInput::Online {
            next_offset: end_offset + 1,
        });
    }
    ring.start_job(database);
}

fn abort_job(ring: &Rc<Ring>, database: usize, id: u64, why: &'static str) {
    let mut sync = ring.databases[database].borrow_mut();
    if let Some(job) = sync.job.take_if(|job| job.id == id) {
        for link in job.links {
            link.tell(LinkInput::Drop(why));
        }
    }
}

/// Starts the job again with the same replicas (nothing was sent to them
/// beyond +FULLRESYNC, which a new one replaces... so they are dropped and
/// reconnect if it was).
fn restart_job(ring: &Rc<Ring>, database: usize, id: u64) {
    let mut sync = ring.databases[database].borrow_mut();
    let Some(job) = sync.job.take_if(|job| job.id == id) else {
        return;
    };
    if job.end_offset.is_some() {
        // They were told an offset that no longer holds: they reconnect.
        for link in job.links {
            link.tell(LinkInput::Drop("the snapshot was aborted"));
        }
    } else {
        sync.queued.extend(job.links);
    }
    drop(sync);
    ring.start_job(database);
}

// ---------------------------------------------------------------------------
// One replica link on the source side.

/// The write half of a link: plain bytes, or rustls in front of them.
pub(crate) enum Writer {
    Plain(TcpStream),
    Tls {
        tcp: TcpStream,
        tls: Box<petrel_tls::rustls::Connection>,
    },
    /// A replica that connected to us: the session the data thread ran.
    ServerTls {
        tcp: TcpStream,
        session: Box<crate::tls_session::TlsSession>,
    },
}

impl Writer {
    pub(crate) async fn send(&mut self, data: Vec<u8>) -> io::Result<()> {
        match self {
            Writer::Plain(tcp) => write_all(tcp, data).await,
            Writer::Tls { tcp, tls } => {
                use std::io::Write;
                tls.writer().write_all(&data)?;
                let mut ciphertext = Vec::new();
                while tls.wants_write() {
                    tls.write_tls(&mut ciphertext)?;
                }
                write_all(tcp, ciphertext).await
            }
            Writer::ServerTls { tcp, session } => {
                session.encrypt(&data)?;
                let ciphertext = session.take_outgoing_vec();
                write_all(tcp, ciphertext).await
            }
        }
    }

    /// Plaintext out of what the reader delivered, and ciphertext to send
    /// back (alerts, key updates).
    pub(crate) fn receive(&mut self, data: Vec<u8>) -> io::Result<(Vec<u8>, Vec<u8>)> {
        match self {
            Writer::Plain(_) => Ok((data, Vec::new())),
            Writer::Tls { tls, .. } => {
                use std::io::Read;
                let mut input = &data[..];
                while !input.is_empty() {
                    tls.read_tls(&mut input)?;
                    tls.process_new_packets()
                        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                }
                let mut plaintext = Vec::new();
                match tls.reader().read_to_end(&mut plaintext) {
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => return Err(error),
                }
                let mut reply = Vec::new();
                while tls.wants_write() {
                    tls.write_tls(&mut reply)?;
                }
                Ok((plaintext, reply))
            }
            Writer::ServerTls { session, .. } => {
                session.push_ciphertext(&data);
                let mut plaintext = BytesMut::new();
                let decoded = session.read(&mut plaintext);
                // Sent by the caller on success; on failure the alert is lost
                // with the link, as the caller closes it.
                let reply = session.take_outgoing_vec();
                decoded?;
                Ok((plaintext.to_vec(), reply))
            }
        }
    }

    /// Sends bytes as they are (ciphertext rustls produced).
    pub(crate) async fn send_raw(&mut self, raw: Vec<u8>) -> io::Result<()> {
        match self {
            Writer::Plain(tcp) | Writer::Tls { tcp, .. } | Writer::ServerTls { tcp, .. } => {
                write_all(tcp, raw).await
            }
        }
    }

    /// Ends the link: close_notify for TLS, then shuts the socket down in
    /// both directions, which also wakes its reader.
    pub(crate) async fn close(&mut self) {
        let goodbye = self.close_notify();
        let _ = self.send_raw(goodbye).await;
        let _ = shutdown(self.raw_fd());
    }

    fn raw_fd(&self) -> i32 {
        match self {
            Writer::Plain(tcp) | Writer::Tls { tcp, .. } | Writer::ServerTls { tcp, .. } => {
                tcp.as_raw_fd()
            }
        }
    }

    fn close_notify(&mut self) -> Vec<u8> {
        match self {
            Writer::Plain(_) => Vec::new(),
            Writer::Tls { tls, .. } => {
                tls.send_close_notify();
                let mut out = Vec::new();
                while tls.wants_write() {
                    if tls.write_tls(&mut out).is_err() {
                        break;
                    }
                }
                out
            }
            Writer::ServerTls { session, .. } => {
                let _ = session.close_notify();
                session.take_outgoing_vec()
            }
        }
    }
}

async fn write_all(tcp: &mut TcpStream, data: Vec<u8>) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let (result, _) = monoio::io::AsyncWriteRentExt::write_all(tcp, data).await;
    result.map(|_| ())
}

/// Forwards what the socket delivers to the link task until it closes.
pub(crate) async fn read_loop<R: Transport>(mut reader: R, sender: flume::Sender<LinkInput>) {
    loop {
        let buffer = BytesMut::with_capacity(READ_CHUNK_BYTES);
        let (result, buffer) = reader.read_into(buffer).await;
        match result {
            Ok(read) if read > 0 => {
                if sender.send(LinkInput::Received(buffer.to_vec())).is_err() {
                    return;
                }
            }
            _ => {
                let _ = sender.send(LinkInput::ReadClosed);
                return;
            }
        }
    }
}

/// The same socket twice: one for the link task's writes, one for its reader.
pub(crate) fn split(std: std::net::TcpStream) -> io::Result<(TcpStream, TcpStream)> {
    let reader = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, TcpStream::from_std(reader)?))
}

async fn source_link(ring: Rc<Ring>, handoff: Handoff) {
    let Handoff {
        database,
        transport,
        capabilities,
        psync,
        leftover,
        peer,
    } = handoff;
    let (sender, receiver) = flume::unbounded();
    let mut first_input = leftover;
    let writer = match transport {
        Detached::Plain(std) => match split(std) {
            Ok((writer, reader)) => {
                monoio::spawn(read_loop(reader, sender.clone()));
                Writer::Plain(writer)
            }
            Err(error) => return warn!(%peer, %error, "cannot take over a replica's socket"),
        },
        Detached::Ktls(std) => match split(std) {
            Ok((writer, reader)) => {
                monoio::spawn(read_loop(
                    crate::tls_stream::KtlsStream::from_tcp(reader),
                    sender.clone(),
                ));
                Writer::Plain(writer)
            }
            Err(error) => return warn!(%peer, %error, "cannot take over a replica's socket"),
        },
        Detached::Tls(parts) => {
            let TlsParts { tcp, session } = *parts;
            match split(tcp) {
                Ok((writer, reader)) => {
                    monoio::spawn(read_loop(reader, sender.clone()));
                    // The data thread's leftover is plaintext already; the
                    // ciphertext the session has not decoded goes through it now.
                    let mut writer = Writer::ServerTls {
                        tcp: writer,
                        session: Box::new(session),
                    };
                    match writer.receive(Vec::new()) {
                        Ok((plaintext, _)) => first_input.extend(plaintext),
                        Err(error) => return debug!(%peer, %error, "replica's TLS failed"),
                    }
                    writer
                }
                Err(error) => return warn!(%peer, %error, "cannot take over a replica's socket"),
            }
        }
    };
    let address = peer
        .rsplit_once(':')
        .map(|(host, _)| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        })
        .unwrap_or_else(|| peer.clone());
    let link = Rc::new(Link {
        id: ring.next_id(),
        address,
        listening_port: capabilities.listening_port,
        sender,
        online: Cell::new(false),
        sent_offset: Cell::new(0),
        ack_offset: Cell::new(0),
        last_ack_ms: Cell::new(now_ms()),
        notified: Cell::new(false),
        announces_full_resync: petrel_sync::source::ReplicationSource::announces_full_resync(
            &psync,
        ),
        rdb_only: capabilities.rdb_only,
    });
    ring.shared.sync.feeding[database].store(true, Ordering::Release);
    ring.databases[database]
        .borrow_mut()
        .links
        .push(link.clone());
    info!(%peer, database = %ring.shared.database(database).name, "replica attached");
    run_source_link(
        &ring,
        database,
        &link,
        writer,
        receiver,
        &capabilities,
        &psync,
        first_input,
    )
    .await;
    let mut sync = ring.databases[database].borrow_mut();
    sync.links.retain(|other| other.id != link.id);
    sync.queued.retain(|other| other.id != link.id);
    if let Some(job) = &mut sync.job {
        job.links.retain(|other| other.id != link.id);
    }
    drop(sync);
    ring.publish_info(database);
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the parts of a handoff"
)]
async fn run_source_link(
    ring: &Rc<Ring>,
    database: usize,
    link: &Rc<Link>,
    mut writer: Writer,
    receiver: flume::Receiver<LinkInput>,
    capabilities: &ReplicaCapabilities,
    psync: &[Bytes],
    first_input: Vec<u8>,
) {
    let decision = ring.databases[database]
        .borrow()
        .source
        .psync(psync, capabilities);
    match decision {
        PsyncDecision::Continue { reply, next_offset } => {
            debug!(link = link.id, next_offset, "partial resync");
            if writer.send(reply).await.is_err() {
                return;
            }
            link.sent_offset.set(next_offset - 1);
            link.online.set(true);
            link.notify();
        }
        PsyncDecision::FullResync => ring.request_full_sync(database, link.clone()),
    }
    let mut input = BytesMut::from(&first_input[..]);
    loop {
        let event = if link.online.get() {
            receiver.recv_async().await.ok()
        } else {
            match monoio::time::timeout(KEEPALIVE_INTERVAL, receiver.recv_async()).await {
                Ok(event) => event.ok(),
                Err(_) => Some(LinkInput::Send(b"\n".to_vec())),
            }
        };
        let Some(event) = event else {
            break;
        };
        match event {
            LinkInput::Received(data) => match writer.receive(data) {
                Ok((plaintext, reply)) => {
                    if writer.send_raw(reply).await.is_err() {
                        break;
                    }
                    input.extend_from_slice(&plaintext);
                    if !handle_replica_input(link, &mut input) {
                        break;
                    }
                }
                Err(error) => {
                    debug!(link = link.id, %error, "replica link failed");
                    break;
                }
            },
            LinkInput::ReadClosed => {
                debug!(link = link.id, "replica closed the link");
                break;
            }
            LinkInput::Send(data) => {
                if writer.send(data).await.is_err() {
                    break;
                }
            }
            LinkInput::Online { next_offset } => {
                link.sent_offset.set(next_offset - 1);
                link.online.set(true);
                link.notify();
            }
            LinkInput::StreamReady => {
                link.notified.set(false);
                if !pump(ring, database, link, &mut writer).await {
                    break;
                }
            }
            LinkInput::Drop(why) => {
                info!(link = link.id, why, "dropping a replica");
                break;
            }
        }
    }
    writer.close().await;
}

fn shutdown(fd: i32) -> io::Result<()> {
    petrel_ktls::shutdown_socket(fd)
}

/// Sends the backlog from the link's offset on. False if the link must end
/// (it fell out of the backlog, or the socket failed).
async fn pump(ring: &Rc<Ring>, database: usize, link: &Rc<Link>, writer: &mut Writer) -> bool {
    loop {
        let chunk = {
            let sync = ring.databases[database].borrow();
            sync.source
                .backlog()
                .read_from(link.sent_offset.get() + 1, SEND_CHUNK_BYTES_MAX)
        };
        let Some(chunk) = chunk else {
            warn!(
                link = link.id,
                "replica fell out of the backlog; it must resync fully"
            );
            return false;
        };
        if chunk.is_empty() {
            return true;
        }
        let length = chunk.len() as u64;
        if writer.send(chunk).await.is_err() {
            return false;
        }
        link.sent_offset.set(link.sent_offset.get() + length);
    }
}

/// Takes REPLCONF ACKs off what a replica sent. False on a protocol error.
fn handle_replica_input(link: &Link, input: &mut BytesMut) -> bool {
    loop {
        match petrel_sync::resp::take_command(input) {
            Ok(Some((args, _))) => {
                if args.len() >= 3
                    && args[0].eq_ignore_ascii_case(b"REPLCONF")
                    && args[1].eq_ignore_ascii_case(b"ACK")
                {
                    if let Some(offset) = std::str::from_utf8(&args[2])
                        .ok()
                        .and_then(|text| text.parse::<u64>().ok())
                    {
                        link.ack_offset.set(offset);
                        link.last_ack_ms.set(now_ms());
                    }
                }
            }
            Ok(None) => return true,
            Err(error) => {
                debug!(link = link.id, %error, "replica sent garbage");
                return false;
            }
        }
    }
}
