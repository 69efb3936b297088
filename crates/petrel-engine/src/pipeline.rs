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
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use petrel_resp::Reply;
use petrel_store::route::{self, shard_of};
use petrel_store::session::{self, NodeSnapshot, Outcome, Session, SessionEnv};
use petrel_store::table::{self, flags, CommandSpec, Route};
use petrel_store::{Coordinator, ExecContext, ShardOp, ShardReply, Step};
use smallvec::SmallVec;

use crate::connection::ConnectionSecurity;
use crate::security::TransportKind;
use crate::worker::Worker;

/// What the connection does after a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Continue,
    /// Send what was encoded, then close (QUIT).
    Close,
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

pub(crate) struct Batch<'a> {
    worker: &'a Rc<Worker>,
    session: &'a Rc<RefCell<Session>>,
    security: &'a ConnectionSecurity,
    database: usize,
    ctx: ExecContext,
    /// Replies in request order, each with whether to send it (CLIENT REPLY).
    /// Inline room for one: at pipeline depth 1 a batch allocates nothing.
    slots: SmallVec<[(Slot, bool); 1]>,
    /// Slots pushed since the batch began, flushed or not.
    slots_pushed: usize,
    /// Table id of the command being routed, for its counters.
    command_id: usize,
    /// Operations waiting to be sent, per shard (empty for this shard);
    /// made on the first operation for another shard.
    remote: Vec<Vec<ShardOp>>,
    remote_pending: bool,
}

impl<'a> Batch<'a> {
    pub fn new(
        worker: &'a Rc<Worker>,
        session: &'a Rc<RefCell<Session>>,
        security: &'a ConnectionSecurity,
        database: usize,
        now_ms: u64,
    ) -> Batch<'a> {
        Batch {
            worker,
            session,
            security,
            database,
            ctx: worker.context(now_ms),
            slots: SmallVec::new(),
            slots_pushed: 0,
            command_id: 0,
            remote: Vec::new(),
            remote_pending: false,
        }
    }

    /// Takes one request. Its reply reaches `out` by the next [`Batch::flush`].
    pub async fn push(&mut self, args: Vec<Bytes>, out: &mut BytesMut) -> Control {
        let slots_before = self.slots_pushed;
        let control = self.route(args, out).await;
        // CLIENT REPLY OFF/SKIP: connection-level commands decided already;
        // every other command left exactly one slot, the last.
        if self.slots_pushed > slots_before && !self.session.borrow_mut().should_reply() {
            if let Some((_, send)) = self.slots.last_mut() {
                *send = false;
            }
        }
        control
    }

    async fn route(&mut self, args: Vec<Bytes>, out: &mut BytesMut) -> Control {
        let Some((id, spec)) = table::lookup_with_id(&args[0]) else {
            self.ready(table::unknown_command_reply(&args));
            return Control::Continue;
        };
        self.command_id = id;
        self.count_call();
        if let Some(rejection) = self.check(spec, &args) {
            self.worker.stats.borrow_mut().command_stats[self.command_id].rejected_calls += 1;
            self.ready(rejection);
            return Control::Continue;
        }
        self.session.borrow_mut().last_command = spec.name;
        match spec.route {
            Route::Connection => return self.connection_command(spec, args, out).await,
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
                    route::coordinator(spec, args, self.ctx.shard_count, random_u64());
                let reply = self.drive(coordinator, Vec::new()).await;
                self.ready(refuse_to_block(spec, reply));
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
                    Err(refusal) => Reply::error_owned(refusal.to_string()),
                    // The role may sync; replication itself comes with Replica Of.
                    Ok(()) => Reply::error("ERR replication is not enabled on this node"),
                },
            );
        }
        if spec.has_flag(flags::DENYOOM) {
            let limit = self.worker.shared.config.databases[self.database].memory_size_bytes;
            if limit > 0 && self.worker.shared.database_memory_bytes(self.database) > limit {
                return Some(Reply::error(
                    "OOM command not allowed when used memory > 'maxmemory'.",
                ));
            }
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
            let started = Instant::now();
            let reply = self.worker.execute(self.database, spec, &args, &self.ctx);
            let mut stats = self.worker.stats.borrow_mut();
            let stat = &mut stats.command_stats[self.command_id];
            stat.usec += started.elapsed().as_micros() as u64;
            if reply.is_error() {
                stat.failed_calls += 1;
            }
            if counts_hits {
                count_hit(&mut stats, &reply);
            }
            drop(stats);
            self.ready(reply);
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
                        parts.push(Part::Done(Box::new(self.worker.apply(
                            self.database,
                            op,
                            &self.ctx,
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
        out: &mut BytesMut,
    ) -> Control {
        self.flush(out).await;
        let shared = &self.worker.shared;
        let database = &shared.config.databases[self.database];
        let env = SessionEnv {
            now_ms: self.ctx.now_ms,
            password: database.password.as_deref(),
            database_name: &database.name,
            port: database.port,
            proto_max_bulk_len: shared.config.node.proto_max_bulk_len,
            maxmemory_bytes: database.memory_size_bytes,
            shard_count: self.ctx.shard_count,
        };
        let outcome = session::handle(&mut self.session.borrow_mut(), spec, &args, &env);
        let (reply, control) = match outcome {
            Outcome::Reply(reply) => (reply, Control::Continue),
            Outcome::ReplyAndClose(reply) => (reply, Control::Close),
            Outcome::Gather(request) => {
                let threads = self.worker.gather_snapshots(self.ctx.now_ms).await;
                let snapshot = NodeSnapshot {
                    threads,
                    started_at_ms: shared.started_at_ms,
                    now_ms: self.ctx.now_ms,
                    process_id: std::process::id(),
                    tcp_port: database.port,
                    version: env!("CARGO_PKG_VERSION"),
                    databases: shared
                        .config
                        .databases
                        .iter()
                        .map(|database| (database.name.clone(), database.memory_size_bytes))
                        .collect(),
                    extra_sections: vec![("TLS".to_string(), self.tls_section())],
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
            petrel_resp::encode(&reply, session.protocol, out);
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
    pub async fn flush(&mut self, out: &mut BytesMut) {
        let mut remote_replies: Vec<Vec<Option<ShardReply>>> = Vec::new();
        if self.remote_pending {
            self.remote_pending = false;
            let mut pending = Vec::new();
            for (shard, ops) in self.remote.iter_mut().enumerate() {
                if !ops.is_empty() {
                    pending.push((
                        shard,
                        self.worker
                            .send_ops(shard, self.database, std::mem::take(ops)),
                    ));
                }
            }
            remote_replies = (0..self.ctx.shard_count).map(|_| Vec::new()).collect();
            for (shard, receiver) in pending {
                remote_replies[shard] = receiver.await.into_iter().map(Some).collect();
            }
        }
        let protocol = self.session.borrow().protocol;
        for (slot, send) in std::mem::take(&mut self.slots) {
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
                petrel_resp::encode(&reply, protocol, out);
            }
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
                Step::Dispatch(ops) => {
                    replies = self.worker.dispatch(self.database, ops, &self.ctx).await
                }
            }
        }
    }

    fn count_call(&self) {
        let mut stats = self.worker.stats.borrow_mut();
        stats.commands_processed += 1;
        stats.command_stats[self.command_id].calls += 1;
    }
}

/// BLPOP, BRPOP and BLMOVE answer at once when an element is there. Waiting
/// for a push is not built yet: rather than pretend the timeout passed, say
/// so, so that a client does not mistake an empty list for a timeout.
fn refuse_to_block(spec: &'static CommandSpec, reply: Reply) -> Reply {
    match reply {
        Reply::NilArray | Reply::Nil => Reply::error_owned(format!(
            "ERR {} found no element and blocking waits are not supported yet; poll with the non-blocking form",
            spec.name.to_ascii_uppercase()
        )),
        other => other,
    }
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
