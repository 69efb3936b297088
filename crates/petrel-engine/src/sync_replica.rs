//! Replica Of, the destination side, on the sync ring: a database with a
//! `replica_sources` entry pulls from its source (a redis-server or another
//! Petrel) with the Redis replication protocol.
//!
//! One task per such database: connect (TLS when `encryption` is set,
//! trusting `server_cert` and presenting `client_cert`, else the node's
//! syncer certificate), run `petrel_sync::ReplicaLink`, load a full sync's
//! RDB into the shards (FLUSHDB, then every key to its shard), then apply
//! the stream; acknowledge the offset every second; after a lost link,
//! reconnect and resume with PSYNC from the offset reached.
//!
//! The control plane starts and stops these tasks while the node runs
//! ([`Replicas::follow`], on a [`ReplicaChange`]): a stopped task drops its
//! link at once, and the database keeps the keys it has.
//!
//! Commands reach the shards as messages through their inboxes, the same
//! FIFO as every other message from this thread, so each key's writes stay
//! in stream order. Clients of the database get `-READONLY` for writes (the
//! pipeline checks `replica_sources`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::Shutdown;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_channel::oneshot;
use monoio::net::TcpStream;
use petrel_store::route::{self, shard_of};
use petrel_store::table::{self, Route};
use petrel_store::{Entry, ShardOp, ShardReply, Step};
use petrel_sync::{RdbItem, RdbReader, ReplicaConfig, ReplicaEvent, ReplicaLink};
use tracing::{debug, info, warn};

use crate::config::ReplicaSourceConfig;
use crate::node::{now_ms, Shared};
use crate::sync_ring::{detach_tcp, read_loop, split, LinkInput, Writer};
use crate::worker::Message;

/// Wait before reconnecting after a failed attempt.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A link without a byte from the source for this long is dead (Redis's repl-timeout).
const SOURCE_SILENCE_MAX_MS: u64 = 60_000;
/// Operations per message when loading a snapshot.
const LOAD_BATCH_OPS: usize = 512;

/// What INFO shows about this replica.
#[derive(Debug, Default)]
struct Status {
    link_up: bool,
    loading: bool,
    last_io_ms: u64,
    replid: Option<String>,
    offset: u64,
    last_error: Option<String>,
}

/// Asks the sync ring to bring `database`'s Replica Of link in line with
/// the catalog's `replica_sources`; `done` is sent once it has.
#[derive(Debug)]
pub(crate) struct ReplicaChange {
    pub database: usize,
    pub done: flume::Sender<()>,
}

/// What the data threads and the control plane ask of the sync ring's
/// replication links.
#[derive(Debug)]
pub(crate) enum RingControl {
    /// Follow the catalog's `replica_sources` (a control-plane change).
    Follow(ReplicaChange),
    /// CLIENT KILL TYPE master: close `database`'s connection to its
    /// source, as a network failure would; the link reconnects and resumes
    /// with PSYNC. Answers how many were closed (0 or 1).
    CloseSourceLink {
        database: usize,
        closed: flume::Sender<usize>,
    },
    /// CLIENT KILL TYPE replica: close `database`'s replica links; each
    /// replica reconnects by itself. Answers how many.
    CloseReplicaLinks {
        database: usize,
        closed: flume::Sender<usize>,
    },
}

/// The Replica Of tasks running on the sync ring, by database slot.
#[derive(Default)]
pub(crate) struct Replicas {
    running: HashMap<usize, Running>,
}

struct Running {
    source: ReplicaSourceConfig,
    /// A duplicate of the connected socket while an attempt holds one.
    socket: ConnectedSocket,
    /// Sending (or dropping) it ends the task.
    stop: oneshot::Sender<()>,
    /// Resolves once the task has ended.
    finished: oneshot::Receiver<()>,
}

impl Replicas {
    /// Makes `database`'s link match its live settings: stops the running
    /// task when the source changed or went away (and waits until it has),
    /// starts one for a new source. True when the database is a replica.
    pub(crate) async fn follow(&mut self, shared: &Arc<Shared>, database: usize) -> bool {
        let wanted = shared.database(database).replica_sources.first().cloned();
        if let Some(running) = self.running.get(&database) {
            if wanted.as_ref() == Some(&running.source) {
                return true;
            }
        }
        if let Some(running) = self.running.remove(&database) {
            let _ = running.stop.send(());
            let _ = running.finished.await;
            info!(
                database = %shared.database(database).name,
                source = %format!("{}:{}", running.source.source.host, running.source.source.port),
                "replication from the source stopped"
            );
        }
        let Some(source) = wanted else {
            return false;
        };
        let (stop, stopped) = oneshot::channel();
        let (finished_sender, finished) = oneshot::channel::<()>();
        let task_source = source.clone();
        let task_shared = shared.clone();
        let socket = ConnectedSocket::default();
        let task_socket = socket.clone();
        monoio::spawn(async move {
            run(task_shared, database, task_source, task_socket, stopped).await;
            drop(finished_sender);
        });
        self.running.insert(
            database,
            Running {
                source,
                socket,
                stop,
                finished,
            },
        );
        true
    }

    /// Closes `database`'s connection to its source, if it has one; the
    /// link's task sees the end as it would a network failure, at a point
    /// where what it applied and the offset it resumes from agree.
    pub(crate) fn close_source_link(&self, database: usize) -> usize {
        let Some(running) = self.running.get(&database) else {
            return 0;
        };
        match running.socket.0.borrow().as_ref() {
            Some(socket) => usize::from(socket.shutdown(Shutdown::Both).is_ok()),
            None => 0,
        }
    }
}

/// The socket of a link's current attempt, shared with the sync ring's
/// control task so that CLIENT KILL TYPE master can close it.
#[derive(Clone, Default)]
pub(crate) struct ConnectedSocket(Rc<RefCell<Option<std::net::TcpStream>>>);

/// Runs the replica side of `database` until `stop` fires (or its sender
/// is dropped).
pub(crate) async fn run(
    shared: Arc<Shared>,
    database: usize,
    source: ReplicaSourceConfig,
    socket: ConnectedSocket,
    mut stop: oneshot::Receiver<()>,
) {
    let status = Rc::new(RefCell::new(Status::default()));
    let mut resume: Option<(String, u64)> = None;
    let name = shared.database(database).name.clone();
    loop {
        publish(&shared, database, &source, &status.borrow());
        // Stopping drops the attempt where it waits; its socket is shut
        // down on the way (see `Hangup`).
        let outcome = monoio::select! {
            _ = &mut stop => {
                // Stopped mid-load: the database serves what it has, not LOADING forever.
                shared.sync.loading[database].store(false, std::sync::atomic::Ordering::Release);
                return;
            }
            outcome = attempt(&shared, database, &source, &socket, &status, &mut resume) => outcome,
        };
        match outcome {
            Ok(()) => info!(database = %name, "link to the source closed; reconnecting"),
            Err(error) => {
                warn!(database = %name, source = %format!("{}:{}", source.source.host, source.source.port), %error, "replication link failed; retrying");
                status.borrow_mut().last_error = Some(error);
            }
        }
        {
            let mut status = status.borrow_mut();
            status.link_up = false;
            status.loading = false;
        }
        publish(&shared, database, &source, &status.borrow());
        monoio::select! {
            _ = &mut stop => return,
            _ = monoio::time::sleep(RETRY_INTERVAL) => {}
        }
    }
}

/// Shuts a link's socket down when the attempt ends, however it ends, so
/// its reader task (on a duplicate of the socket) sees the end too, and
/// takes it out of the link's [`ConnectedSocket`].
struct Hangup(std::net::TcpStream, ConnectedSocket);

impl Drop for Hangup {
    fn drop(&mut self) {
        let _ = self.0.shutdown(Shutdown::Both);
        self.1 .0.borrow_mut().take();
    }
}

type Connected = (TcpStream, Option<Box<petrel_tls::rustls::Connection>>);

async fn connect(shared: &Shared, source: &ReplicaSourceConfig) -> Result<Connected, String> {
    let address = (source.source.host.as_str(), source.source.port);
    let tcp = match monoio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(address)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(error)) => return Err(format!("cannot connect: {error}")),
        Err(_) => return Err("connecting timed out".to_string()),
    };
    let _ = tcp.set_nodelay(true);
    if let Ok(peer) = tcp.peer_addr() {
        crate::control::set_keepalive(shared.config.node.tcp_keepalive_secs, &tcp, peer);
    }
    if !source.encryption {
        return Ok((tcp, None));
    }
    let provider = shared.security.snapshot.load().node().provider().clone();
    let config = crate::sync_tls::client_config(&shared.config, provider, source)?;
    let server_name = source
        .replication_tls_sni
        .clone()
        .unwrap_or_else(|| source.source.host.clone());
    crate::sync_tls::connect(tcp, config, &server_name).await
}

async fn attempt(
    shared: &Arc<Shared>,
    database: usize,
    source: &ReplicaSourceConfig,
    socket: &ConnectedSocket,
    status: &Rc<RefCell<Status>>,
    resume: &mut Option<(String, u64)>,
) -> Result<(), String> {
    let (tcp, tls) = connect(shared, source).await?;
    let tcp = detach_tcp(tcp);
    let duplicate = |tcp: &std::net::TcpStream| {
        tcp.try_clone()
            .map_err(|error| format!("cannot split the socket: {error}"))
    };
    let _hangup = Hangup(duplicate(&tcp)?, socket.clone());
    *socket.0.borrow_mut() = Some(duplicate(&tcp)?);
    let (tcp, reader) = split(tcp).map_err(|error| format!("cannot split the socket: {error}"))?;
    let mut writer = match tls {
        None => Writer::Plain(tcp),
        Some(tls) => Writer::Tls { tcp, tls },
    };
    let (sender, receiver) = flume::unbounded();
    monoio::spawn(read_loop(reader, sender));
    let result = drive(
        shared,
        database,
        source,
        status,
        resume,
        &mut writer,
        receiver,
    )
    .await;
    writer.close().await;
    result
}

async fn drive(
    shared: &Arc<Shared>,
    database: usize,
    source: &ReplicaSourceConfig,
    status: &Rc<RefCell<Status>>,
    resume: &mut Option<(String, u64)>,
    writer: &mut Writer,
    receiver: flume::Receiver<LinkInput>,
) -> Result<(), String> {
    let mut link = ReplicaLink::new(ReplicaConfig {
        username: source.source.username.clone().map(Bytes::from),
        password: source.source.password.clone().map(Bytes::from),
        listening_port: shared.database(database).port,
        resume: resume.clone(),
    });
    let mut applier = Applier::new(shared.clone(), database);
    status.borrow_mut().last_io_ms = now_ms();
    // Plaintext rustls may already hold (the handshake's tail).
    let (early, _) = writer
        .receive(Vec::new())
        .map_err(|error| error.to_string())?;
    if !early.is_empty() {
        link.handle_input(&early)
            .map_err(|error| error.to_string())?;
    }
    loop {
        while let Some(bytes) = link.poll_transmit() {
            writer
                .send(bytes)
                .await
                .map_err(|error| format!("send: {error}"))?;
        }
        while let Some(event) = link.poll_event() {
            applier.apply_event(event, status).await?;
        }
        applier.flush().await;
        {
            let mut status = status.borrow_mut();
            status.loading = link.is_loading();
            status.link_up = link.is_streaming();
            status.offset = link.offset();
            status.replid = link.replid().map(str::to_string);
        }
        if let Some(replid) = link.replid() {
            *resume = Some((replid.to_string(), link.offset()));
        }
        publish(shared, database, source, &status.borrow());
        let now = now_ms();
        if now.saturating_sub(status.borrow().last_io_ms) > SOURCE_SILENCE_MAX_MS {
            return Err("no data from the source for 60 s".to_string());
        }
        let wait = link
            .poll_timeout()
            .map(|deadline| Duration::from_millis(deadline.saturating_sub(now).clamp(1, 1000)))
            .unwrap_or(Duration::from_secs(1));
        match monoio::time::timeout(wait, receiver.recv_async()).await {
            Err(_) => link.handle_timeout(now_ms()),
            Ok(Err(_)) | Ok(Ok(LinkInput::ReadClosed)) => return Ok(()),
            Ok(Ok(LinkInput::Received(data))) => {
                status.borrow_mut().last_io_ms = now_ms();
                let (plaintext, reply) = writer.receive(data).map_err(|error| error.to_string())?;
                writer
                    .send_raw(reply)
                    .await
                    .map_err(|error| format!("send: {error}"))?;
                link.handle_input(&plaintext)
                    .map_err(|error| error.to_string())?;
                link.handle_timeout(now_ms());
            }
            Ok(Ok(_)) => {}
        }
    }
}

/// Turns replication events into shard operations.
struct Applier {
    shared: Arc<Shared>,
    database: usize,
    /// The source's selected database; only its database 0 is applied.
    selected_db: u64,
    pending: Vec<Vec<ShardOp>>,
    skipped_other_db_warned: bool,
}

impl Applier {
    fn new(shared: Arc<Shared>, database: usize) -> Applier {
        let shards = shared.shard_count();
        Applier {
            shared,
            database,
            selected_db: 0,
            pending: (0..shards).map(|_| Vec::new()).collect(),
            skipped_other_db_warned: false,
        }
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        shard_of(key, self.shared.shard_count())
    }

    fn push(&mut self, shard: usize, op: ShardOp) {
        self.pending[shard].push(op);
    }

    /// Sends what is queued, one message per shard, without waiting.
    async fn flush(&mut self) {
        for shard in 0..self.pending.len() {
            if self.pending[shard].is_empty() {
                continue;
            }
            let ops = std::mem::take(&mut self.pending[shard]);
            let (reply, _ignored) = oneshot::channel();
            let message = Message::Ops {
                transaction: None,
                database: self.database,
                ops,
                reply,
                client: None,
            };
            let _ = self.shared.inboxes[shard].send_async(message).await;
        }
    }

    /// Sends operations and waits for their replies, in order.
    async fn dispatch(&mut self, ops: Vec<(usize, ShardOp)>) -> Vec<ShardReply> {
        self.flush().await;
        let mut receivers = Vec::new();
        for (shard, op) in ops {
            let (reply, receiver) = oneshot::channel();
            let message = Message::Ops {
                transaction: None,
                database: self.database,
                ops: vec![op],
                reply,
                client: None,
            };
            let _ = self.shared.inboxes[shard].send_async(message).await;
            receivers.push(receiver);
        }
        let mut replies = Vec::new();
        for receiver in receivers {
            let reply = receiver
                .await
                .ok()
                .and_then(|mut replies| replies.pop())
                .unwrap_or(ShardReply::Reply(petrel_resp::Reply::error(
                    "ERR shard unavailable",
                )));
            replies.push(reply);
        }
        replies
    }

    async fn flush_all_shards(&mut self) {
        let Some(spec) = table::lookup(b"flushdb") else {
            return;
        };
        for shard in 0..self.pending.len() {
            self.push(
                shard,
                ShardOp::Command {
                    spec,
                    args: vec![Bytes::from_static(b"FLUSHDB")],
                },
            );
        }
        self.flush().await;
    }

    async fn apply_event(
        &mut self,
        event: ReplicaEvent,
        status: &Rc<RefCell<Status>>,
    ) -> Result<(), String> {
        match event {
            ReplicaEvent::FullSync {
                replid,
                offset,
                rdb,
            } => {
                status.borrow_mut().loading = true;
                self.load(&rdb).await?;
                info!(database = self.database, %replid, offset, bytes = rdb.len(), "loaded the source's snapshot");
                self.selected_db = 0;
            }
            ReplicaEvent::Continue { replid } => {
                info!(database = self.database, %replid, "source continued the stream (partial resync)");
            }
            ReplicaEvent::Command(args) => self.command(args).await,
        }
        Ok(())
    }

    /// Replaces the database's data with the snapshot's. Clients get
    /// `-LOADING` until every shard has stored its part.
    async fn load(&mut self, rdb: &[u8]) -> Result<(), String> {
        let loading = &self.shared.sync.loading[self.database];
        loading.store(true, std::sync::atomic::Ordering::Release);
        let result = self.load_keys(rdb).await;
        // A round trip to every shard: each has applied what was queued.
        let barrier: Vec<(usize, ShardOp)> = (0..self.pending.len())
            .map(|shard| (shard, ShardOp::RandomKey { random: 0 }))
            .collect();
        self.dispatch(barrier).await;
        self.shared.sync.loading[self.database].store(false, std::sync::atomic::Ordering::Release);
        result
    }

    async fn load_keys(&mut self, rdb: &[u8]) -> Result<(), String> {
        let mut reader = RdbReader::new(rdb).map_err(|error| format!("snapshot: {error}"))?;
        self.flush_all_shards().await;
        let mut queued = 0;
        let mut skipped = 0u64;
        loop {
            match reader.next_item() {
                Ok(Some(RdbItem::Entry { db, key, entry })) => {
                    if db != 0 {
                        skipped += 1;
                        continue;
                    }
                    let shard = self.shard_of(&key);
                    self.push(shard, ShardOp::Put { key, entry });
                    queued += 1;
                    if queued % LOAD_BATCH_OPS == 0 {
                        self.flush().await;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error) => return Err(format!("snapshot: {error}")),
            }
        }
        self.flush().await;
        if skipped > 0 {
            warn!(
                database = self.database,
                skipped,
                "the source's snapshot has keys in databases other than 0; they are not loaded"
            );
        }
        Ok(())
    }

    async fn command(&mut self, args: Vec<Bytes>) {
        let name = args[0].to_ascii_lowercase();
        match name.as_slice() {
            b"select" => {
                self.selected_db = std::str::from_utf8(&args[1..].concat())
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .unwrap_or(u64::MAX);
                return;
            }
            // Transactions arrive as their commands; each applies as it comes.
            b"multi" | b"exec" | b"ping" => return,
            _ => {}
        }
        if self.selected_db != 0 {
            if !self.skipped_other_db_warned {
                self.skipped_other_db_warned = true;
                warn!(
                    database = self.database,
                    "the source writes to a database other than 0; those writes are not applied"
                );
            }
            return;
        }
        let shard_count = self.shared.shard_count();
        match name.as_slice() {
            b"restore" => return self.restore(args),
            b"flushdb" | b"flushall" => return self.flush_all_shards().await,
            b"del" | b"unlink" => {
                let Some(spec) = table::lookup(&name) else {
                    return;
                };
                for key in &args[1..] {
                    let shard = self.shard_of(key);
                    self.push(
                        shard,
                        ShardOp::Command {
                            spec,
                            args: vec![args[0].clone(), key.clone()],
                        },
                    );
                }
                return;
            }
            b"mset" if args.len() % 2 == 1 => {
                let Some(spec) = table::lookup(b"set") else {
                    return;
                };
                for pair in args[1..].chunks_exact(2) {
                    let shard = self.shard_of(&pair[0]);
                    self.push(
                        shard,
                        ShardOp::Command {
                            spec,
                            args: vec![
                                Bytes::from_static(b"SET"),
                                pair[0].clone(),
                                pair[1].clone(),
                            ],
                        },
                    );
                }
                return;
            }
            _ => {}
        }
        let Some(spec) = table::lookup(&args[0]) else {
            debug!(command = %String::from_utf8_lossy(&args[0]), "unknown command in the stream; skipped");
            return;
        };
        if !spec.arity_ok(args.len()) {
            return;
        }
        let mut positions = spec.key_positions(args.len());
        let first = positions
            .next()
            .map(|position| shard_of(&args[position], shard_count));
        let single = match first {
            Some(first) => positions
                .all(|position| shard_of(&args[position], shard_count) == first)
                .then_some(first),
            None => None,
        };
        match (spec.route, single) {
            (Route::Key, Some(shard)) => self.push(shard, ShardOp::Command { spec, args }),
            (_, Some(shard)) if spec.handler.is_some() => {
                self.push(shard, ShardOp::Command { spec, args })
            }
            (Route::Coordinated | Route::Scatter, _) => {
                let mut coordinator = route::coordinator(spec, args, shard_count, now_ms());
                let mut replies = Vec::new();
                loop {
                    match coordinator.step(replies) {
                        Step::Done(_) => break,
                        Step::Dispatch(ops) => replies = self.dispatch(ops).await,
                    }
                }
            }
            _ => debug!(
                command = spec.name,
                "command without a place to run in the stream; skipped"
            ),
        }
    }

    /// `RESTORE key ttl payload [REPLACE] [ABSTTL] ...`, as a Petrel source
    /// streams values that moved between its shards.
    fn restore(&mut self, args: Vec<Bytes>) {
        if args.len() < 4 {
            return;
        }
        let Some(ttl) = std::str::from_utf8(&args[2])
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
        else {
            return;
        };
        let absolute = args[4..]
            .iter()
            .any(|arg| arg.eq_ignore_ascii_case(b"ABSTTL"));
        let value = match petrel_sync::rdb::restore_value(&args[3]) {
            Ok(value) => value,
            Err(error) => {
                warn!(%error, "a RESTORE in the stream has a bad payload; skipped");
                return;
            }
        };
        let expires_at_ms = match (ttl, absolute) {
            (0, _) => None,
            (ttl, true) => Some(ttl),
            (ttl, false) => Some(now_ms() + ttl),
        };
        let key = args[1].clone();
        let shard = self.shard_of(&key);
        self.push(
            shard,
            ShardOp::Put {
                key,
                entry: Entry {
                    value,
                    expires_at_ms,
                },
            },
        );
    }
}

fn publish(shared: &Shared, database: usize, source: &ReplicaSourceConfig, status: &Status) {
    let now = now_ms();
    let mut text = String::from("role:slave\r\n");
    text.push_str(&format!("master_host:{}\r\n", source.source.host));
    text.push_str(&format!("master_port:{}\r\n", source.source.port));
    text.push_str(&format!(
        "master_link_status:{}\r\n",
        if status.link_up { "up" } else { "down" }
    ));
    text.push_str(&format!(
        "master_last_io_seconds_ago:{}\r\n",
        if status.last_io_ms == 0 {
            -1
        } else {
            (now.saturating_sub(status.last_io_ms) / 1000) as i64
        }
    ));
    text.push_str(&format!(
        "master_sync_in_progress:{}\r\n",
        u8::from(status.loading)
    ));
    text.push_str(&format!("slave_read_repl_offset:{}\r\n", status.offset));
    text.push_str(&format!("slave_repl_offset:{}\r\n", status.offset));
    text.push_str("slave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\n");
    text.push_str("connected_slaves:0\r\nmaster_failover_state:no-failover\r\n");
    text.push_str(&format!(
        "master_replid:{}\r\n",
        status.replid.clone().unwrap_or_else(|| "0".repeat(40))
    ));
    text.push_str(&format!("master_replid2:{}\r\n", "0".repeat(40)));
    text.push_str(&format!("master_repl_offset:{}\r\n", status.offset));
    text.push_str("second_repl_offset:-1\r\nrepl_backlog_active:0\r\n");
    if let Some(error) = &status.last_error {
        text.push_str(&format!(
            "master_link_last_error:{}\r\n",
            error.replace(['\r', '\n'], " ")
        ));
    }
    let state = if status.loading {
        "sync"
    } else if status.link_up {
        "connected"
    } else {
        "connect"
    };
    let role = petrel_store::session::ReplicationRole::Replica {
        host: source.source.host.clone(),
        port: source.source.port,
        state,
        offset: if status.replid.is_some() {
            i64::try_from(status.offset).unwrap_or(i64::MAX)
        } else {
            -1
        },
    };
    shared.sync.publish(database, text, role);
}
