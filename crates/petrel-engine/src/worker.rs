//! One data thread: its shard of every database, its listeners, its
//! connections, its inbox of messages from other shards, and the active
//! expiry cycle.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use monoio::net::{ListenerOpts, TcpListener};
use petrel_store::session::{
    self, ClientType, CommandStat, DatabaseShardStats, KillFilter, Session, ThreadSnapshot,
};
use petrel_store::slowlog::{ClientLabel, Slowlog, SlowlogEntry, SlowlogPart, SlowlogRequest};
use petrel_store::{ExecContext, Shard, ShardOp, ShardReply};
use tracing::warn;

use crate::blocking::BlockedClient;
use crate::node::{now_ms, Shared, StartError};
use crate::shard_lock::ShardLock;

/// How often the active expiry cycle runs, and how many keys it may delete
/// per database per run before yielding; a backlog makes it run again soon.
const EXPIRY_INTERVAL: Duration = Duration::from_millis(100);
const EXPIRY_BACKLOG_INTERVAL: Duration = Duration::from_millis(5);
const EXPIRY_KEYS_PER_RUN_MAX: usize = 2000;

/// A message from another data thread.
#[derive(Debug)]
pub(crate) enum Message {
    /// Run these operations, in order, on this shard's part of `database`.
    /// `transaction` names the EXEC they belong to, if any: only its
    /// operations run while it holds the shard.
    Ops {
        database: usize,
        ops: Vec<ShardOp>,
        reply: oneshot::Sender<Vec<ShardReply>>,
        transaction: Option<u64>,
        /// Who sent the commands, for the slow log (none for replication).
        client: Option<Arc<ClientLabel>>,
    },
    /// Report this thread's counters and connections.
    Snapshot {
        reply: oneshot::Sender<ThreadSnapshot>,
    },
    /// SLOWLOG from a connection on another thread: this thread's part of
    /// `database`'s slow log (or its reset).
    Slowlog {
        database: usize,
        request: SlowlogRequest,
        reply: oneshot::Sender<SlowlogPart>,
    },
    /// CLIENT KILL from a connection on another thread: close this
    /// thread's connections to `database` that `filter` matches, answering
    /// how many. (Boxed: every message is as large as the largest.)
    KillClients {
        database: usize,
        filter: Box<KillFilter>,
        caller: u64,
        reply: oneshot::Sender<usize>,
    },
    /// Hold this shard for `transaction`, answering once it is held.
    Lock {
        transaction: u64,
        granted: oneshot::Sender<()>,
    },
    /// `transaction` is done with this shard.
    Unlock { transaction: u64 },
    /// Park a blocked client on some of its keys that live on this shard.
    Block {
        client: Arc<BlockedClient>,
        keys: Vec<bytes::Bytes>,
    },
    /// The blocked client is done (served elsewhere, timed out, gone).
    Unblock {
        client: Arc<BlockedClient>,
        keys: Vec<bytes::Bytes>,
    },
    /// A step of a control-plane change (see `control.rs`).
    Control(crate::control::ControlMessage),
    /// A replication request from the sync ring (snapshot cut and chunks).
    Sync(crate::sync_feed::SyncRequest),
}

/// Counters of one thread, summed over threads by INFO.
#[derive(Debug)]
pub(crate) struct ThreadStats {
    pub connections_received: u64,
    /// Connections refused because `maxclients` were open.
    pub rejected_connections: u64,
    pub commands_processed: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// Indexed by command table id.
    pub command_stats: Vec<CommandStat>,
}

/// Per (database, key): the clients blocked on it, oldest first.
pub(crate) type BlockedQueues = HashMap<(usize, bytes::Bytes), VecDeque<Arc<BlockedClient>>>;

pub(crate) struct Worker {
    pub shard_id: usize,
    pub shared: Arc<Shared>,
    pub shard: RefCell<Shard>,
    pub stats: RefCell<ThreadStats>,
    /// This thread's connections, for CLIENT LIST.
    pub sessions: RefCell<HashMap<u64, Rc<RefCell<Session>>>>,
    /// The commands this thread ran slowly, per database (SLOWLOG).
    pub slowlog: RefCell<Slowlog>,
    /// `node.slowlog_log_slower_than` in nanoseconds; `u64::MAX`: off.
    slowlog_threshold_nanos: u64,
    pub lock: RefCell<ShardLock>,
    /// Clients blocked on keys of this shard, per (database, key), in arrival order.
    pub blocked: RefCell<BlockedQueues>,
    /// Keys written while clients wait on them, to serve once the write is done.
    pub ready_keys: RefCell<VecDeque<(usize, bytes::Bytes)>>,
    pub serving_blocked: Cell<bool>,
    /// The timestamp counter, for timing commands and batches: a read costs
    /// a fraction of `Instant::now()`, and every request takes two.
    pub clock: quanta::Clock,
}

impl ThreadStats {
    fn new() -> ThreadStats {
        ThreadStats {
            connections_received: 0,
            rejected_connections: 0,
            commands_processed: 0,
            keyspace_hits: 0,
            keyspace_misses: 0,
            net_input_bytes: 0,
            net_output_bytes: 0,
            command_stats: vec![CommandStat::default(); petrel_store::table::count()],
        }
    }
}

impl Worker {
    pub fn context(&self, now_ms: u64) -> ExecContext {
        ExecContext {
            now_ms,
            shard_id: self.shard_id,
            shard_count: self.shared.shard_count(),
        }
    }

    /// Runs one message from another thread, or keeps it for later when a
    /// transaction holds this shard.
    pub fn handle_message(&self, message: Message) {
        match message {
            Message::Ops {
                database,
                ops,
                reply,
                transaction,
                client,
            } => {
                if self.held_against(transaction) {
                    self.lock.borrow_mut().deferred.push_back(Message::Ops {
                        database,
                        ops,
                        reply,
                        transaction,
                        client,
                    });
                    return;
                }
                let ctx = self.context(now_ms());
                let replies = ops
                    .into_iter()
                    .map(|op| self.apply(database, op, &ctx, client.as_deref()))
                    .collect();
                let _ = reply.send(replies);
            }
            Message::Slowlog {
                database,
                request,
                reply,
            } => {
                let _ = reply.send(self.slowlog_part(database, request));
            }
            Message::Snapshot { reply } => {
                let _ = reply.send(self.snapshot(now_ms()));
            }
            Message::KillClients {
                database,
                filter,
                caller,
                reply,
            } => {
                let _ = reply.send(self.kill_local(database, &filter, caller).0);
            }
            Message::Lock {
                transaction,
                granted,
            } => self.grant_or_queue(transaction, granted),
            Message::Unlock { transaction } => self.release(transaction),
            message @ (Message::Block { .. } | Message::Unblock { .. })
                if self.held_against(None) =>
            {
                self.lock.borrow_mut().deferred.push_back(message);
            }
            Message::Block { client, keys } => self.park(client, keys),
            Message::Unblock { client, keys } => self.unpark(&client, &keys),
            // A snapshot cut inside a transaction would see half of it.
            Message::Sync(request) if self.held_against(None) => {
                self.lock
                    .borrow_mut()
                    .deferred
                    .push_back(Message::Sync(request));
            }
            Message::Sync(request) => crate::sync_feed::handle(self, request, now_ms()),
            // The inbox loop hands control steps to `control::handle` (they
            // need the worker's `Rc`) and never defers them.
            Message::Control(_) => warn!("a control-plane step was routed to the shard handler"),
        }
    }

    /// Runs one shard operation on this thread's shard; a command that
    /// runs slowly enough goes into the slow log under `client`.
    pub fn apply(
        &self,
        database: usize,
        op: ShardOp,
        ctx: &ExecContext,
        client: Option<&ClientLabel>,
    ) -> ShardReply {
        let written = self.keys_with_waiters(database, &op);
        let replicated = crate::sync_feed::prepare_op(self, database, &op, ctx.now_ms);
        let reply = match op {
            ShardOp::Command { spec, args } if self.slowlog_on() => {
                let started = self.clock.raw();
                let reply = self.shard.borrow_mut().execute(database, spec, &args, ctx);
                let took_nanos = self.clock.delta_as_nanos(started, self.clock.raw());
                if self.is_slow(took_nanos) {
                    self.log_slow(database, &args, took_nanos, client);
                }
                ShardReply::Reply(reply)
            }
            op => self.shard.borrow_mut().apply(database, op, ctx),
        };
        crate::sync_feed::commit_op(self, database, replicated, &reply);
        self.publish_memory(database);
        if let Some(keys) = written {
            self.keys_written(database, keys);
        }
        reply
    }

    /// Runs one command whose keys live on this shard.
    pub fn execute(
        &self,
        database: usize,
        spec: &'static petrel_store::CommandSpec,
        args: &[bytes::Bytes],
        ctx: &ExecContext,
    ) -> petrel_resp::Reply {
        let replicated = crate::sync_feed::prepare_command(self, database, spec, args, ctx.now_ms);
        let reply = self.shard.borrow_mut().execute(database, spec, args, ctx);
        crate::sync_feed::commit_command(self, database, replicated, &reply);
        if spec.has_flag(petrel_store::table::flags::WRITE) {
            self.publish_memory(database);
            if !self.blocked.borrow().is_empty() {
                let keys = spec
                    .key_positions(args.len())
                    .map(|i| args[i].clone())
                    .collect();
                self.keys_written(database, keys);
            }
        }
        reply
    }

    pub fn publish_memory(&self, database: usize) {
        let used = self.shard.borrow().databases[database].used_memory_bytes() as u64;
        self.shared.memory_bytes[database][self.shard_id].store(used, Ordering::Relaxed);
    }

    /// Sends operations to their shards (running this shard's part at once)
    /// and returns the replies in the order of `ops`.
    pub async fn dispatch(
        &self,
        database: usize,
        ops: Vec<(usize, ShardOp)>,
        ctx: &ExecContext,
        transaction: Option<u64>,
        client: Option<&Arc<ClientLabel>>,
    ) -> Vec<ShardReply> {
        if ops.iter().any(|(shard, _)| *shard == self.shard_id) {
            self.wait_until_free(transaction).await;
        }
        let mut replies: Vec<Option<ShardReply>> = Vec::with_capacity(ops.len());
        let mut remote: HashMap<usize, (Vec<usize>, Vec<ShardOp>)> = HashMap::new();
        for (index, (shard, op)) in ops.into_iter().enumerate() {
            if shard == self.shard_id {
                replies.push(Some(self.apply(database, op, ctx, client.map(|c| &**c))));
            } else {
                replies.push(None);
                let (indexes, shard_ops) = remote.entry(shard).or_default();
                indexes.push(index);
                shard_ops.push(op);
            }
        }
        let mut pending = Vec::new();
        for (shard, (indexes, shard_ops)) in remote {
            pending.push((
                indexes,
                self.send_ops(shard, database, shard_ops, transaction, client.cloned()),
            ));
        }
        for (indexes, receiver) in pending {
            let shard_replies = receiver.await;
            for (index, reply) in indexes.into_iter().zip(shard_replies) {
                replies[index] = Some(reply);
            }
        }
        replies
            .into_iter()
            .map(|reply| {
                reply.unwrap_or(ShardReply::Reply(petrel_resp::Reply::error(
                    "ERR shard unavailable",
                )))
            })
            .collect()
    }

    /// Sends a batch of operations to another shard; the returned future
    /// yields one reply per operation.
    pub fn send_ops(
        &self,
        shard: usize,
        database: usize,
        ops: Vec<ShardOp>,
        transaction: Option<u64>,
        client: Option<Arc<ClientLabel>>,
    ) -> impl std::future::Future<Output = Vec<ShardReply>> + 'static {
        let (reply, receiver) = oneshot::channel();
        let count = ops.len();
        let sender = self.shared.inboxes[shard].clone();
        async move {
            if sender
                .send_async(Message::Ops {
                    database,
                    ops,
                    reply,
                    transaction,
                    client,
                })
                .await
                .is_err()
            {
                return unavailable(count);
            }
            receiver.await.unwrap_or_else(|_| unavailable(count))
        }
    }

    /// Counters and connections of this thread.
    pub fn snapshot(&self, now_ms: u64) -> ThreadSnapshot {
        let shard = self.shard.borrow();
        let stats = self.stats.borrow();
        let sessions = self.sessions.borrow();
        ThreadSnapshot {
            // Live databases only, in slot order, as INFO lists them.
            databases: shard
                .databases
                .iter()
                .enumerate()
                .filter(|(slot, _)| self.shared.is_live(*slot))
                .map(|(_, keyspace)| DatabaseShardStats {
                    keys: keyspace.len() as u64,
                    expires: keyspace.expires_count() as u64,
                    used_memory_bytes: keyspace.used_memory_bytes() as u64,
                    expired_keys_total: keyspace.expired_keys_total(),
                })
                .collect(),
            blocked_clients: sessions
                .values()
                .filter(|session| session.borrow().blocked)
                .count() as u64,
            total_connections_received: stats.connections_received,
            total_commands_processed: stats.commands_processed,
            rejected_connections: stats.rejected_connections,
            keyspace_hits: stats.keyspace_hits,
            keyspace_misses: stats.keyspace_misses,
            net_input_bytes: stats.net_input_bytes,
            net_output_bytes: stats.net_output_bytes,
            command_stats: stats
                .command_stats
                .iter()
                .enumerate()
                .filter(|(_, stat)| stat.calls > 0)
                .filter_map(|(id, stat)| Some((petrel_store::table::by_id(id)?.name, stat.clone())))
                .collect(),
            client_lines: sessions
                .iter()
                .map(|(id, session)| (*id, session::client_list_line(&session.borrow(), now_ms)))
                .collect(),
        }
    }

    /// Snapshots of every thread, this one included, in shard order.
    pub async fn gather_snapshots(&self, now_ms: u64) -> Vec<ThreadSnapshot> {
        let others = self
            .ask_other_threads(|reply| Message::Snapshot { reply })
            .await;
        let mut snapshots = vec![ThreadSnapshot::default(); self.shared.shard_count()];
        snapshots[self.shard_id] = self.snapshot(now_ms);
        for (shard, snapshot) in others {
            snapshots[shard] = snapshot;
        }
        snapshots
    }

    /// Sends every other data thread the message `ask` makes and waits for
    /// their answers, by shard; a thread that is gone is left out.
    async fn ask_other_threads<T>(
        &self,
        ask: impl Fn(oneshot::Sender<T>) -> Message,
    ) -> Vec<(usize, T)> {
        let mut receivers = Vec::new();
        for (shard, sender) in self.shared.inboxes.iter().enumerate() {
            if shard == self.shard_id {
                continue;
            }
            let (reply, receiver) = oneshot::channel();
            if sender.send_async(ask(reply)).await.is_ok() {
                receivers.push((shard, receiver));
            }
        }
        let mut answers = Vec::with_capacity(receivers.len());
        for (shard, receiver) in receivers {
            if let Ok(answer) = receiver.await {
                answers.push((shard, answer));
            }
        }
        answers
    }

    /// CLIENT KILL over every thread: closes the connections to `database`
    /// that `filter` matches and returns how many matched, and whether the
    /// caller's own connection is one of them (it is left open, to be
    /// closed once its reply is sent).
    pub async fn kill_clients(
        &self,
        database: usize,
        filter: &KillFilter,
        caller: u64,
    ) -> (usize, bool) {
        let others = self
            .ask_other_threads(|reply| Message::KillClients {
                database,
                filter: Box::new(filter.clone()),
                caller,
                reply,
            })
            .await;
        let (mut killed, caller_killed) = self.kill_local(database, filter, caller);
        killed += others.into_iter().map(|(_, count)| count).sum::<usize>();
        if let Some(kind) = filter.link_type() {
            killed += self.close_replication_links(database, kind).await;
        }
        (killed, caller_killed)
    }

    /// CLIENT KILL TYPE master or replica: has the sync ring close the
    /// database's link to its source, or its replicas' links.
    async fn close_replication_links(&self, database: usize, kind: ClientType) -> usize {
        use crate::sync_replica::RingControl;
        let (closed, count) = flume::bounded(1);
        let request = match kind {
            ClientType::Master => RingControl::CloseSourceLink { database, closed },
            _ => RingControl::CloseReplicaLinks { database, closed },
        };
        if self.shared.sync.replica_changes.send(request).is_err() {
            return 0;
        }
        count.recv_async().await.unwrap_or(0)
    }

    /// Whether commands are timed for the slow log at all.
    pub fn slowlog_on(&self) -> bool {
        self.slowlog_threshold_nanos != u64::MAX
    }

    /// Whether a command that took `took_nanos` goes into the slow log
    /// (`node.slowlog_log_slower_than`). On every command's path: one
    /// comparison.
    #[inline]
    pub fn is_slow(&self, took_nanos: u64) -> bool {
        took_nanos >= self.slowlog_threshold_nanos
    }

    /// Records a slow command (see [`Worker::is_slow`]).
    #[cold]
    pub fn log_slow(
        &self,
        database: usize,
        args: &[bytes::Bytes],
        took_nanos: u64,
        client: Option<&ClientLabel>,
    ) {
        let id = self.shared.slowlog_ids.fetch_add(1, Ordering::Relaxed);
        let entry = SlowlogEntry::new(
            id,
            now_ms() / 1000,
            took_nanos / 1000,
            args,
            client.cloned().unwrap_or_default(),
        );
        let max_len =
            usize::try_from(self.shared.config.node.slowlog_max_len).unwrap_or(usize::MAX);
        self.slowlog.borrow_mut().record(database, entry, max_len);
    }

    /// This thread's part of SLOWLOG for `database`.
    fn slowlog_part(&self, database: usize, request: SlowlogRequest) -> SlowlogPart {
        let mut slowlog = self.slowlog.borrow_mut();
        match request {
            SlowlogRequest::Get { count } => SlowlogPart {
                entries: slowlog.newest(database, count),
                len: slowlog.len(database),
            },
            SlowlogRequest::Len => SlowlogPart {
                entries: Vec::new(),
                len: slowlog.len(database),
            },
            SlowlogRequest::Reset => {
                slowlog.reset(database);
                SlowlogPart::default()
            }
        }
    }

    /// SLOWLOG over every thread: each one's part of `database`'s log.
    pub async fn slowlog(&self, database: usize, request: SlowlogRequest) -> Vec<SlowlogPart> {
        let others = self
            .ask_other_threads(|reply| Message::Slowlog {
                database,
                request,
                reply,
            })
            .await;
        let mut parts = vec![self.slowlog_part(database, request)];
        parts.extend(others.into_iter().map(|(_, part)| part));
        parts
    }

    /// CLIENT KILL on this thread's sessions. A matched connection's socket
    /// is shut down, which ends its task as a hang-up would (a blocked
    /// client's next check of its socket included); the caller's is not.
    fn kill_local(&self, database: usize, filter: &KillFilter, caller: u64) -> (usize, bool) {
        let mut killed = 0;
        let mut caller_killed = false;
        for session in self.sessions.borrow().values() {
            let session = session.borrow();
            if !filter.matches(&session, database, caller) {
                continue;
            }
            killed += 1;
            if session.id == caller {
                caller_killed = true;
            } else if session.fd >= 0 {
                crate::control::shut_down(session.fd);
            }
        }
        (killed, caller_killed)
    }
}

fn unavailable(count: usize) -> Vec<ShardReply> {
    (0..count)
        .map(|_| ShardReply::Reply(petrel_resp::Reply::error("ERR shard unavailable")))
        .collect()
}

/// The body of a data thread: pin, build the runtime, serve until the process ends.
pub(crate) fn thread_main(
    shard_id: usize,
    core: usize,
    use_io_uring: bool,
    shared: Arc<Shared>,
    inbox: flume::Receiver<Message>,
    ready: std::sync::mpsc::Sender<Result<(), StartError>>,
) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        warn!(
            shard = shard_id,
            core, "could not pin the data thread to its core"
        );
    }
    let tuning = shared.config.tuning_for(core);
    let serve = serve(shard_id, shared, inbox, ready.clone());
    let built = crate::ring::block_on("data", &tuning, use_io_uring, serve);
    if let Err(error) = built {
        let _ = ready.send(Err(StartError::Thread {
            core,
            reason: format!("cannot build the runtime: {error}"),
        }));
    }
}

async fn serve(
    shard_id: usize,
    shared: Arc<Shared>,
    inbox: flume::Receiver<Message>,
    ready: std::sync::mpsc::Sender<Result<(), StartError>>,
) {
    let worker = Rc::new(Worker {
        shard_id,
        shard: RefCell::new(Shard::new(shared.config.databases.len())),
        stats: RefCell::new(ThreadStats::new()),
        sessions: RefCell::new(HashMap::new()),
        slowlog: RefCell::new(Slowlog::default()),
        slowlog_threshold_nanos: u64::try_from(shared.config.node.slowlog_log_slower_than_us)
            .map_or(u64::MAX, |micros| micros.saturating_mul(1000)),
        lock: RefCell::new(ShardLock::default()),
        blocked: RefCell::new(HashMap::new()),
        ready_keys: RefCell::new(VecDeque::new()),
        serving_blocked: Cell::new(false),
        clock: quanta::Clock::new(),
        shared,
    });

    let mut listeners = Vec::new();
    for (database, config) in worker.shared.config.databases.iter().enumerate() {
        let address = SocketAddr::new(worker.shared.config.node.bind, config.port);
        let options = ListenerOpts::new()
            .reuse_port(true)
            .reuse_addr(true)
            .backlog(1024);
        match TcpListener::bind_with_config(address, &options) {
            Ok(listener) => listeners.push((database, listener)),
            Err(source) => {
                let _ = ready.send(Err(StartError::Listen {
                    database: config.name.clone(),
                    address,
                    source,
                }));
                return;
            }
        }
    }
    for (database, listener) in listeners {
        crate::control::spawn_accept_loop(&worker, database, listener);
    }
    monoio::spawn(expiry_loop(worker.clone()));
    let _ = ready.send(Ok(()));
    drop(ready);

    while let Ok(message) = inbox.recv_async().await {
        match message {
            Message::Control(message) => crate::control::handle(&worker, message),
            other => worker.handle_message(other),
        }
    }
}

async fn expiry_loop(worker: Rc<Worker>) {
    loop {
        let started = Instant::now();
        let now = now_ms();
        let mut backlog = false;
        // A transaction holding the shard must see no key vanish under it.
        let database_count = if worker.held_against(None) {
            0
        } else {
            worker.shard.borrow().databases.len()
        };
        for database in 0..database_count {
            let deleted =
                crate::sync_feed::expire_due(&worker, database, now, EXPIRY_KEYS_PER_RUN_MAX);
            if deleted > 0 {
                worker.publish_memory(database);
            }
            backlog |= deleted == EXPIRY_KEYS_PER_RUN_MAX;
        }
        let pause = if backlog {
            EXPIRY_BACKLOG_INTERVAL
        } else {
            EXPIRY_INTERVAL
        };
        monoio::time::sleep(pause.saturating_sub(started.elapsed().min(pause))).await;
    }
}
