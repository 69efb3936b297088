//! Runs a batch of pipelined requests from one connection and encodes their
//! replies in request order.
//!
//! Operations for this thread's shard run at once; operations for other
//! shards collect in one queue per shard and leave as one message per shard
//! when the batch flushes. Per-shard queues keep each key's operations in
//! request order, which is all a client can observe; commands that need
//! several rounds across shards, and connection-level commands, first flush
//! everything before them.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use petrel_resp::{Reply, WireBuffer};
use petrel_store::family::list::blocking_timeout_ms;
use petrel_store::family::transaction::{self, ExecPlan, WatchedKey};
use petrel_store::route::{self, shard_of};
use petrel_store::session::{self, NodeSnapshot, Outcome, Session, SessionEnv};
use petrel_store::slowlog::ClientLabel;
use petrel_store::table::{self, flags, CommandSpec, Route};
use petrel_store::{Coordinator, ExecContext, ShardOp, ShardReply, Step};

use crate::connection::ConnectionSecurity;
use crate::security::TransportKind;
use crate::worker::Worker;

/// What the connection does after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Continue,
    /// Send what was encoded, then close (QUIT).
    Close,
    /// Send what was encoded, then move the connection to the sync ring
    /// (PSYNC, SYNC).
    Sync,
}

enum Slot {
    Ready(Reply),
    /// Waiting for operation `index` of the queue for `shard`.
    Remote {
        shard: usize,
        index: usize,
        counts_hits: bool,
    },
    /// A scattered command waiting for its parts before its coordinator merges them.
    Gather {
        coordinator: Box<dyn Coordinator>,
        parts: Vec<Part>,
    },
}

enum Part {
    Done(Box<ShardReply>),
    Remote { shard: usize, index: usize },
}

/// The reply slots a connection keeps between batches, so that a pipelining
/// client does not allocate and regrow them for every batch.
#[derive(Default)]
pub(crate) struct ReplySlots(Vec<(Slot, bool)>);

/// Slots kept between batches; a deeper batch's are freed after it.
const REPLY_SLOTS_KEPT_MAX: usize = 64;

pub(crate) struct Batch<'a> {
    worker: &'a Rc<Worker>,
    session: &'a Rc<RefCell<Session>>,
    /// The session's address and name, for the slow log of whichever
    /// thread runs its commands; renewed when a connection command changes
    /// the name.
    client: &'a RefCell<Arc<ClientLabel>>,
    security: &'a ConnectionSecurity,
    database: usize,
    ctx: ExecContext,
    /// Replies in request order, each with whether to send it (CLIENT REPLY).
    slots: &'a mut Vec<(Slot, bool)>,
    /// Slots pushed since the batch began, flushed or not.
    slots_pushed: usize,
    /// Table id of the command being routed, for its counters.
    command_id: usize,
    /// Operations waiting to be sent, per shard (empty for this shard);
    /// made on the first operation for another shard.
    remote: Vec<Vec<ShardOp>>,
    remote_pending: bool,
    /// The EXEC this batch runs the queued commands of, holding their shards.
    transaction: Option<u64>,
    /// The argument vector of the last command run here, for the parser to
    /// reuse (see [`Batch::take_spent_arguments`]).
    spent_arguments: Option<Vec<Bytes>>,
}

impl<'a> Batch<'a> {
    pub fn new(
        worker: &'a Rc<Worker>,
        session: &'a Rc<RefCell<Session>>,
        client: &'a RefCell<Arc<ClientLabel>>,
        security: &'a ConnectionSecurity,
        slots: &'a mut ReplySlots,
        database: usize,
        now_ms: u64,
    ) -> Batch<'a> {
        Batch {
            worker,
            session,
            client,
            security,
            database,
            ctx: worker.context(now_ms),
            slots: &mut slots.0,
            slots_pushed: 0,
            command_id: 0,
            remote: Vec::new(),
            remote_pending: false,
            transaction: None,
            spent_arguments: None,
        }
    }

    /// Sends `ops` to their shards for this connection (under
    /// `transaction`'s hold, if any) and waits for the replies, in order.
    async fn dispatch(
        &self,
        ops: Vec<(usize, ShardOp)>,
        transaction: Option<u64>,
    ) -> Vec<ShardReply> {
        self.worker
            .dispatch(
                self.database,
                ops,
                &self.ctx,
                transaction,
                Some(&self.client_label()),
            )
            .await
    }

    /// A copy of the connection's label for a command that leaves this
    /// task (another shard's slow log may need it).
    fn client_label(&self) -> Arc<ClientLabel> {
        self.client.borrow().clone()
    }

    /// The argument vector of a command that ran on this thread, for the
    /// parser's `recycle`; the parser drops its contents.
    pub fn take_spent_arguments(&mut self) -> Option<Vec<Bytes>> {
        self.spent_arguments.take()
    }

    /// Takes one request. Its reply reaches `out` by the next [`Batch::flush`].
    pub async fn push(&mut self, args: Vec<Bytes>, out: &mut WireBuffer) -> Control {
        let slots_before = self.slots_pushed;
        let control = self.route(args, out).await;
        // CLIENT REPLY OFF/SKIP: connection-level commands decided already;
        // every other command left exactly one slot, the last. Inside EXEC
        // the EXEC itself was the command that counted.
        if self.slots_pushed > slots_before
            && self.transaction.is_none()
            && !self.session.borrow_mut().should_reply()
        {
            if let Some((_, send)) = self.slots.last_mut() {
                *send = false;
            }
        }
        control
    }

    async fn route(&mut self, args: Vec<Bytes>, out: &mut WireBuffer) -> Control {
        // An EXEC on another thread may hold this shard: nothing runs here until it ends.
        self.worker.wait_until_free(self.transaction).await;
        let Some((id, spec)) = table::lookup_with_id(&args[0]) else {
            self.session.borrow_mut().transaction.doom();
            self.ready(table::unknown_command_reply(&args));
            return Control::Continue;
        };
        self.command_id = id;
        let queueing =
            self.session.borrow().transaction.in_multi() && !transaction::runs_inside_multi(spec);
        if !queueing {
            self.count_call();
        }
        if let Some(rejection) = self.check(spec, &args) {
            self.worker.stats.borrow_mut().command_stats[self.command_id].rejected_calls += 1;
            self.session.borrow_mut().transaction.doom();
            self.ready(rejection);
            return Control::Continue;
        }
        if queueing {
            let reply = self.session.borrow_mut().transaction.queue(spec, args);
            self.ready(reply);
            return Control::Continue;
        }
        self.session.borrow_mut().last_command = spec.name;
        match spec.route {
            Route::Transaction => self.transaction_command(spec, args, out).await,
            Route::Connection if spec.has_flag(flags::SYNC) => {
                self.flush(out).await;
                let client = self.session.borrow().id;
                match crate::sync_ring::data_command(self.worker, client, &args) {
                    crate::sync_ring::DataCommand::Reply(reply) => self.ready(reply),
                    crate::sync_ring::DataCommand::Silent => {}
                    crate::sync_ring::DataCommand::HandOff => return Control::Sync,
                }
            }
            Route::Connection => {
                if spec.name == "reset" {
                    // RESET also discards the MULTI and drops every watch.
                    self.session.borrow_mut().transaction.discard();
                    self.unwatch_all().await;
                }
                return self.connection_command(spec, args, out).await;
            }
            Route::Key => {
                let shard = spec
                    .key_positions(args.len())
                    .next()
                    .map(|position| self.shard_of(&args[position]))
                    .unwrap_or(self.ctx.shard_id);
                self.run_on(shard, spec, args);
            }
            Route::Coordinated if spec.has_flag(flags::BLOCKING) => {
                self.flush(out).await;
                let coordinator =
                    route::coordinator(spec, args.clone(), self.ctx.shard_count, random_u64());
                let reply = match self.drive(coordinator, Vec::new()).await {
                    Reply::NilArray if self.transaction.is_some() => {
                        // Inside EXEC nothing waits: the command answers as if it timed out,
                        // and BLMOVE as LMOVE would.
                        if spec.name == "blmove" {
                            Reply::Nil
                        } else {
                            Reply::NilArray
                        }
                    }
                    Reply::NilArray => match self.block(spec, args).await {
                        Some(reply) => reply,
                        None => return Control::Close,
                    },
                    reply => reply,
                };
                self.ready(reply);
            }
            Route::Scatter | Route::Coordinated => match self.single_shard(spec, &args) {
                Some(shard) if spec.handler.is_some() => self.run_on(shard, spec, args),
                _ if spec.route == Route::Scatter => self.scatter(spec, args),
                _ => {
                    self.flush(out).await;
                    let coordinator =
                        route::coordinator(spec, args, self.ctx.shard_count, random_u64());
                    let reply = self.drive(coordinator, Vec::new()).await;
                    self.ready(reply);
                }
            },
        }
        Control::Continue
    }

    /// Redis's checks before a command runs, in Redis's order (after the
    /// lookup): arity, authentication, memory limit.
    fn check(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Option<Reply> {
        if !spec.arity_ok(args.len()) {
            return Some(table::arity_error_reply(&args[0]));
        }
        if !spec.has_flag(flags::NO_AUTH) && !self.session.borrow().authenticated {
            return Some(Reply::error("NOAUTH Authentication required."));
        }
        if spec.has_flag(flags::SYNC) {
            let is_tls = self.security.transport != TransportKind::Plain;
            return Some(
                match petrel_tls::sync_allowed(self.security.mode, is_tls, self.security.role) {
                    Err(refusal) => {
                        let name = args[0].to_ascii_lowercase();
                        if name == b"psync" || name == b"sync" {
                            let peer = self.session.borrow().peer_address.clone();
                            self.worker
                                .shared
                                .sync
                                .refused(self.database, refusal, &peer);
                        }
                        Reply::error_owned(refusal.to_string())
                    }
                    Ok(()) => return None,
                },
            );
        }
        if spec.has_flag(flags::DENYOOM) {
            let limit = self.worker.shared.memory_limit_bytes(self.database);
            if limit > 0 && self.worker.shared.database_memory_bytes(self.database) > limit {
                return Some(Reply::error(
                    "OOM command not allowed when used memory > 'maxmemory'.",
                ));
            }
        }
        if !spec.has_flag(flags::LOADING) && self.worker.shared.sync.is_loading(self.database) {
            return Some(Reply::error(
                "LOADING Redis is loading the dataset in memory",
            ));
        }
        if spec.has_flag(flags::WRITE)
            && !self
                .worker
                .shared
                .database(self.database)
                .replica_sources
                .is_empty()
        {
            return Some(Reply::error(
                "READONLY You can't write against a read only replica.",
            ));
        }
        None
    }

    /// The shard that owns every key of the command, if there is one such shard.
    fn single_shard(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Option<usize> {
        if self.ctx.shard_count == 1 {
            return Some(0);
        }
        let mut positions = spec.key_positions(args.len());
        let first = shard_of(&args[positions.next()?], self.ctx.shard_count);
        positions
            .all(|position| shard_of(&args[position], self.ctx.shard_count) == first)
            .then_some(first)
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        // One shard owns everything: skip the hash.
        if self.ctx.shard_count == 1 {
            0
        } else {
            shard_of(key, self.ctx.shard_count)
        }
    }

    fn run_on(&mut self, shard: usize, spec: &'static CommandSpec, args: Vec<Bytes>) {
        let counts_hits = spec.has_flag(flags::READONLY) && spec.first_key > 0;
        if shard == self.ctx.shard_id {
            let clock = &self.worker.clock;
            let started = clock.raw();
            let reply = self.worker.execute(self.database, spec, &args, &self.ctx);
            let took_nanos = clock.delta_as_nanos(started, clock.raw());
            if self.worker.is_slow(took_nanos) {
                let client = self.client.borrow();
                self.worker
                    .log_slow(self.database, &args, took_nanos, Some(&client));
            }
            let mut stats = self.worker.stats.borrow_mut();
            let stat = &mut stats.command_stats[self.command_id];
            stat.nanos += took_nanos;
            if reply.is_error() {
                stat.failed_calls += 1;
            }
            if counts_hits {
                count_hit(&mut stats, &reply);
            }
            drop(stats);
            self.ready(reply);
            self.spent_arguments = Some(args);
        } else {
            let index = self.queue(shard, ShardOp::Command { spec, args });
            self.slots.push((
                Slot::Remote {
                    shard,
                    index,
                    counts_hits,
                },
                true,
            ));
            self.slots_pushed += 1;
        }
    }

    fn scatter(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) {
        let mut coordinator = route::coordinator(spec, args, self.ctx.shard_count, random_u64());
        match coordinator.step(Vec::new()) {
            Step::Done(reply) => self.ready(reply),
            Step::Dispatch(ops) => {
                let mut parts = Vec::with_capacity(ops.len());
                for (shard, op) in ops {
                    if shard == self.ctx.shard_id {
                        let client = self.client.borrow();
                        parts.push(Part::Done(Box::new(self.worker.apply(
                            self.database,
                            op,
                            &self.ctx,
                            Some(&client),
                        ))));
                    } else {
                        let index = self.queue(shard, op);
                        parts.push(Part::Remote { shard, index });
                    }
                }
                self.slots.push((Slot::Gather { coordinator, parts }, true));
                self.slots_pushed += 1;
            }
        }
    }

    fn queue(&mut self, shard: usize, op: ShardOp) -> usize {
        if self.remote.is_empty() {
            self.remote = (0..self.ctx.shard_count).map(|_| Vec::new()).collect();
        }
        self.remote_pending = true;
        self.remote[shard].push(op);
        self.remote[shard].len() - 1
    }

    fn ready(&mut self, reply: Reply) {
        self.slots.push((Slot::Ready(reply), true));
        self.slots_pushed += 1;
    }

    async fn connection_command(
        &mut self,
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
        out: &mut WireBuffer,
    ) -> Control {
        self.flush(out).await;
        let shared = &self.worker.shared;
        let database = shared.database(self.database);
        let env = SessionEnv {
            now_ms: self.ctx.now_ms,
            password: database.password.as_deref(),
            database_name: &database.name,
            port: database.port,
            proto_max_bulk_len: shared.config.node.proto_max_bulk_len,
            maxmemory_bytes: database.memory_size_bytes,
            maxclients: shared.config.node.maxclients,
            tcp_keepalive_secs: shared.config.node.tcp_keepalive_secs,
            slowlog_log_slower_than_us: shared.config.node.slowlog_log_slower_than_us,
            slowlog_max_len: shared.config.node.slowlog_max_len,
            shard_count: self.ctx.shard_count,
        };
        let outcome = session::handle(&mut self.session.borrow_mut(), spec, &args, &env);
        refresh_label(&mut self.client.borrow_mut(), &self.session.borrow());
        let (reply, control) = match outcome {
            Outcome::Reply(reply) => (reply, Control::Continue),
            Outcome::ReplyAndClose(reply) => (reply, Control::Close),
            Outcome::Slowlog(request) => {
                let parts = self.worker.slowlog(self.database, request).await;
                let max_len =
                    usize::try_from(shared.config.node.slowlog_max_len).unwrap_or(usize::MAX);
                (
                    petrel_store::slowlog::answer(request, parts, max_len),
                    Control::Continue,
                )
            }
            Outcome::Kill(filter) => {
                let caller = self.session.borrow().id;
                let (killed, caller_killed) = self
                    .worker
                    .kill_clients(self.database, &filter, caller)
                    .await;
                let control = if caller_killed {
                    Control::Close
                } else {
                    Control::Continue
                };
                (filter.reply(killed), control)
            }
            Outcome::Gather(request) => {
                let threads = self.worker.gather_snapshots(self.ctx.now_ms).await;
                let snapshot = NodeSnapshot {
                    role: shared.sync.role(self.database),
                    threads,
                    connected_clients: shared.open_clients(),
                    started_at_ms: shared.started_at_ms,
                    now_ms: self.ctx.now_ms,
                    process_id: std::process::id(),
                    tcp_port: database.port,
                    version: env!("CARGO_PKG_VERSION"),
                    databases: shared
                        .live_databases()
                        .into_iter()
                        .map(|(_, name, memory_size_bytes)| (name, memory_size_bytes))
                        .collect(),
                    extra_sections: [("TLS".to_string(), self.tls_section())]
                        .into_iter()
                        .chain(
                            shared
                                .sync
                                .info_section(self.database)
                                .map(|text| ("Replication".to_string(), text)),
                        )
                        .collect(),
                };
                (
                    session::finish_gather(&self.session.borrow(), &request, &snapshot, &env),
                    Control::Continue,
                )
            }
        };
        if reply.is_error() {
            self.worker.stats.borrow_mut().command_stats[self.command_id].failed_calls += 1;
        }
        let mut session = self.session.borrow_mut();
        if session.should_reply() {
            out.encode(reply, session.protocol);
        }
        control
    }

    fn tls_section(&self) -> String {
        let security = &self.worker.shared.security;
        let ktls_mode = security.snapshot.load().node().ktls_mode();
        security.counters.render(ktls_mode, &security.kernel_tls)
    }

    /// Sends the queued operations, waits for their replies, and encodes
    /// every reply so far into `out`, in request order.
    pub async fn flush(&mut self, out: &mut WireBuffer) {
        let mut remote_replies: Vec<Vec<Option<ShardReply>>> = Vec::new();
        if self.remote_pending {
            self.remote_pending = false;
            let mut pending = Vec::new();
            let client = self.client_label();
            for (shard, ops) in self.remote.iter_mut().enumerate() {
                if !ops.is_empty() {
                    pending.push((
                        shard,
                        self.worker.send_ops(
                            shard,
                            self.database,
                            std::mem::take(ops),
                            self.transaction,
                            Some(client.clone()),
                        ),
                    ));
                }
            }
            remote_replies = (0..self.ctx.shard_count).map(|_| Vec::new()).collect();
            for (shard, receiver) in pending {
                remote_replies[shard] = receiver.await.into_iter().map(Some).collect();
            }
        }
        let protocol = self.session.borrow().protocol;
        let mut slots = std::mem::take(self.slots);
        for (slot, send) in slots.drain(..) {
            let reply = match slot {
                Slot::Ready(reply) => reply,
                Slot::Remote {
                    shard,
                    index,
                    counts_hits,
                } => {
                    let reply = take_reply(&mut remote_replies, shard, index);
                    let reply = match reply {
                        ShardReply::Reply(reply) => reply,
                        _ => Reply::error("ERR internal: unexpected shard reply"),
                    };
                    if counts_hits {
                        count_hit(&mut self.worker.stats.borrow_mut(), &reply);
                    }
                    reply
                }
                Slot::Gather { coordinator, parts } => {
                    let replies = parts
                        .into_iter()
                        .map(|part| match part {
                            Part::Done(reply) => *reply,
                            Part::Remote { shard, index } => {
                                take_reply(&mut remote_replies, shard, index)
                            }
                        })
                        .collect();
                    self.drive(coordinator, replies).await
                }
            };
            if send {
                out.encode(reply, protocol);
            }
        }
        if slots.capacity() <= REPLY_SLOTS_KEPT_MAX {
            *self.slots = slots;
        }
    }

    /// Runs a coordinator to completion, one round of messages at a time.
    async fn drive(
        &self,
        mut coordinator: Box<dyn Coordinator>,
        mut replies: Vec<ShardReply>,
    ) -> Reply {
        loop {
            match coordinator.step(replies) {
                Step::Done(reply) => return reply,
                Step::Dispatch(ops) => replies = self.dispatch(ops, self.transaction).await,
            }
        }
    }

    fn count_call(&self) {
        let mut stats = self.worker.stats.borrow_mut();
        stats.commands_processed += 1;
        stats.command_stats[self.command_id].calls += 1;
    }
}

/// MULTI, EXEC, DISCARD, WATCH, UNWATCH, and the blocking wait.
impl Batch<'_> {
    async fn transaction_command(
        &mut self,
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
        out: &mut WireBuffer,
    ) {
        let reply = match spec.name {
            "multi" => self.session.borrow_mut().transaction.begin(),
            "discard" => {
                let discarded = self.session.borrow_mut().transaction.discard();
                if discarded {
                    self.unwatch_all().await;
                    Reply::ok()
                } else {
                    Reply::error(transaction::DISCARD_WITHOUT_MULTI)
                }
            }
            "watch" if self.session.borrow().transaction.in_multi() => {
                Reply::error(transaction::WATCH_INSIDE_MULTI)
            }
            "watch" => {
                self.flush(out).await;
                self.watch(&args[1..]).await
            }
            "unwatch" => {
                // Inside EXEC the watches are already spent; they go at its end.
                if self.transaction.is_none() {
                    self.unwatch_all().await;
                }
                Reply::ok()
            }
            "exec" => {
                self.flush(out).await;
                self.exec(out).await;
                return;
            }
            other => Reply::error_owned(format!(
                "ERR internal: '{other}' is not a transaction command"
            )),
        };
        if reply.is_error() {
            self.worker.stats.borrow_mut().command_stats[self.command_id].failed_calls += 1;
        }
        self.ready(reply);
    }

    /// WATCH: asks each key's shard for its token.
    async fn watch(&mut self, keys: &[Bytes]) -> Reply {
        let fresh = self.session.borrow().transaction.new_watches(keys);
        if fresh.is_empty() {
            return Reply::ok();
        }
        let groups = self.group_by_shard(fresh);
        let ops = groups
            .iter()
            .map(|(shard, keys)| (*shard, ShardOp::Watch { keys: keys.clone() }))
            .collect();
        let replies = self.dispatch(ops, self.transaction).await;
        let mut session = self.session.borrow_mut();
        for ((shard, keys), reply) in groups.into_iter().zip(replies) {
            let ShardReply::Watched(tokens) = reply else {
                return Reply::error("ERR shard unavailable");
            };
            for (key, token) in keys.into_iter().zip(tokens) {
                session
                    .transaction
                    .watched
                    .push(WatchedKey { key, shard, token });
            }
        }
        Reply::ok()
    }

    /// Drops every key this connection watches, on their shards.
    async fn unwatch_all(&mut self) {
        let watched = self.session.borrow_mut().transaction.take_watches();
        if watched.is_empty() {
            return;
        }
        let ops = unwatch_ops(watched);
        self.dispatch(ops, self.transaction).await;
    }

    fn group_by_shard(&self, keys: Vec<Bytes>) -> Vec<(usize, Vec<Bytes>)> {
        group_by_shard(keys.into_iter().map(|key| (self.shard_of(&key), key)))
    }

    /// EXEC: takes the shards it needs in shard order, checks the watched
    /// keys, runs the queued commands with no other client in between, and
    /// encodes the array of their replies into `out`.
    async fn exec(&mut self, out: &mut WireBuffer) {
        let plan = self.session.borrow_mut().transaction.finish();
        let queued = match plan {
            ExecPlan::NotInMulti => {
                self.worker.stats.borrow_mut().command_stats[self.command_id].failed_calls += 1;
                self.ready(Reply::error(transaction::EXEC_WITHOUT_MULTI));
                return;
            }
            ExecPlan::Aborted => {
                self.unwatch_all().await;
                self.worker.stats.borrow_mut().command_stats[self.command_id].failed_calls += 1;
                self.ready(Reply::error(transaction::EXEC_ABORTED));
                return;
            }
            ExecPlan::Run(queued) => queued,
        };
        let watched = self.session.borrow_mut().transaction.take_watches();
        let shards =
            transaction::shards_to_lock(&queued, &watched, self.ctx.shard_id, self.ctx.shard_count);
        let holder = self.session.borrow().id;
        let needed = shards.len();
        let mut held = Vec::with_capacity(needed);
        for shard in shards {
            if self.worker.hold_shard(shard, holder).await {
                held.push(shard);
            } else {
                break;
            }
        }
        let send = self.session.borrow_mut().should_reply();
        let mut scratch = WireBuffer::default();
        let target: &mut WireBuffer = if send { out } else { &mut scratch };
        let protocol = self.session.borrow().protocol;
        if held.len() < needed {
            target.encode(Reply::error("ERR shard unavailable"), protocol);
        } else if !self.watches_hold(&watched, holder).await {
            target.encode(Reply::NilArray, protocol);
        } else {
            // The queued commands run now, under the held shards, with a fresh clock.
            let mut inner_slots = ReplySlots::default();
            let mut inner = Batch::new(
                self.worker,
                self.session,
                self.client,
                self.security,
                &mut inner_slots,
                self.database,
                crate::node::now_ms(),
            );
            inner.transaction = Some(holder);
            target.extend_from_slice(format!("*{}\r\n", queued.len()).as_bytes());
            for (_, args) in queued {
                if Box::pin(inner.push(args, target)).await == Control::Close {
                    break;
                }
            }
            Box::pin(inner.flush(target)).await;
        }
        if !watched.is_empty() {
            let ops = unwatch_ops(watched);
            self.dispatch(ops, Some(holder)).await;
        }
        for shard in held.into_iter().rev() {
            self.worker.free_shard(shard, holder).await;
        }
    }

    /// Whether every watched key is unchanged, asked of the shards EXEC holds.
    async fn watches_hold(&self, watched: &[WatchedKey], holder: u64) -> bool {
        if watched.is_empty() {
            return true;
        }
        let groups = group_by_shard(
            watched
                .iter()
                .map(|watched| (watched.shard, (watched.key.clone(), watched.token))),
        );
        let ops = groups
            .into_iter()
            .map(|(shard, keys)| (shard, ShardOp::CheckWatches { keys }))
            .collect();
        self.dispatch(ops, Some(holder))
            .await
            .into_iter()
            .all(|reply| matches!(reply, ShardReply::Reply(Reply::Integer(1))))
    }

    /// Parks the client until an element arrives for it, its timeout passes,
    /// or its peer hangs up (`None`: close the connection).
    async fn block(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Option<Reply> {
        use crate::blocking::{BlockedClient, Served};
        let timeout_ms = match blocking_timeout_ms(&args[args.len() - 1]) {
            Ok(timeout_ms) => timeout_ms,
            Err(reply) => return Some(reply),
        };
        let deadline = timeout_ms.map(|ms| Instant::now() + std::time::Duration::from_millis(ms));
        let fd = self.session.borrow().fd;
        self.session.borrow_mut().blocked = true;
        let reply = loop {
            let (client, mut served) =
                BlockedClient::new(self.database, spec, args.clone(), self.ctx.shard_count);
            let groups = client.keys_by_shard();
            for (shard, keys) in &groups {
                self.worker
                    .park_on(*shard, client.clone(), keys.clone())
                    .await;
            }
            let outcome = loop {
                let wait = deadline
                    .map(|deadline| deadline.saturating_duration_since(Instant::now()))
                    .unwrap_or(BLOCKED_PEER_CHECK_INTERVAL)
                    .min(BLOCKED_PEER_CHECK_INTERVAL);
                if let Ok(result) = monoio::time::timeout(wait, &mut served).await {
                    break result.ok();
                }
                let timed_out = deadline.is_some_and(|deadline| Instant::now() >= deadline);
                let hung_up = fd >= 0 && petrel_ktls::peer_hung_up(fd).unwrap_or(true);
                if (timed_out || hung_up) && client.claim() {
                    break if hung_up {
                        None
                    } else {
                        Some(Served::Reply(Reply::NilArray))
                    };
                }
                // Claimed by a shard: its answer is on the way.
            };
            for (shard, keys) in groups {
                self.worker.unpark_on(shard, client.clone(), keys).await;
            }
            match outcome {
                None => break None,
                Some(Served::Reply(reply)) => break Some(reply),
                Some(Served::Retry) => {
                    // The source has an element: move it as LMOVE would, types checked first.
                    let coordinator =
                        route::coordinator(spec, args.clone(), self.ctx.shard_count, random_u64());
                    match self.drive(coordinator, Vec::new()).await {
                        Reply::NilArray => continue,
                        reply => break Some(reply),
                    }
                }
            }
        };
        self.session.borrow_mut().blocked = false;
        reply
    }
}

/// Keeps the label the slow log names a connection by in step with its
/// name, which only connection commands change (CLIENT SETNAME, HELLO
/// SETNAME, RESET); a new label only when it did change, since every
/// cross-shard message carries a copy.
pub(crate) fn refresh_label(label: &mut Arc<ClientLabel>, session: &Session) {
    if label.name != session.name {
        *label = Arc::new(ClientLabel {
            addr: session.peer_address.clone(),
            name: session.name.clone(),
        });
    }
}

/// How often a blocked client's socket is checked for a hang-up.
const BLOCKED_PEER_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// Items grouped by shard, groups in order of first appearance, each
/// group's items in their original order.
pub(crate) fn group_by_shard<T>(
    items: impl IntoIterator<Item = (usize, T)>,
) -> Vec<(usize, Vec<T>)> {
    let mut groups: Vec<(usize, Vec<T>)> = Vec::new();
    for (shard, item) in items {
        match groups.iter_mut().find(|(owner, _)| *owner == shard) {
            Some((_, group)) => group.push(item),
            None => groups.push((shard, vec![item])),
        }
    }
    groups
}

/// One UNWATCH operation per shard for `watched`.
pub(crate) fn unwatch_ops(watched: Vec<WatchedKey>) -> Vec<(usize, ShardOp)> {
    group_by_shard(
        watched
            .into_iter()
            .map(|watched| (watched.shard, watched.key)),
    )
    .into_iter()
    .map(|(shard, keys)| (shard, ShardOp::Unwatch { keys }))
    .collect()
}

fn take_reply(replies: &mut [Vec<Option<ShardReply>>], shard: usize, index: usize) -> ShardReply {
    replies
        .get_mut(shard)
        .and_then(|shard_replies| shard_replies.get_mut(index))
        .and_then(Option::take)
        .unwrap_or(ShardReply::Reply(Reply::error("ERR shard unavailable")))
}

fn count_hit(stats: &mut crate::worker::ThreadStats, reply: &Reply) {
    match reply {
        Reply::Nil | Reply::NilArray => stats.keyspace_misses += 1,
        Reply::Error(_) => {}
        _ => stats.keyspace_hits += 1,
    }
}

/// A cheap random number for RANDOMKEY; quality hardly matters.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(crate::node::now_ms());
    hasher.finish()
}
