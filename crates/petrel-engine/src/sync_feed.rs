//! The data threads' side of replication: each shard's write stream and its
//! part of a full-sync snapshot, handed to the sync ring.
//!
//! Writes: once a database has had a replica, every write a shard executes
//! goes to the sync ring as its arguments through a bounded queue per shard
//! (`try_send`: a data thread never waits for the sync ring). A full queue
//! loses the write; the shard then sends an `Overflow` marker as soon as
//! there is room, and the sync ring starts a new replication history, so
//! every replica resyncs fully instead of missing a write.
//!
//! Snapshots: on `Start`, a shard puts a `Cut` marker in its queue; the
//! snapshot holds each key as it was at that cut. The sync ring then pulls
//! the keys in chunks (`Chunk`), each a bounded amount of work on the data
//! thread. The bookkeeping (old values of keys written before the chunks
//! reach them, keys already serialized) is `petrel_sync::snapshot`'s, tested
//! there without threads. Commands that write without naming keys
//! (FLUSHDB, FLUSHALL) abort the snapshot; the sync ring starts another.
//!
//! This module must not block or await: it runs inside command execution.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use futures_channel::oneshot;
use petrel_resp::Reply;
use petrel_store::table::{flags, CommandSpec};
use petrel_store::{ShardOp, ShardReply};

use crate::worker::Worker;

/// Writes a shard may queue for the sync ring before it counts as behind.
pub(crate) const FEED_QUEUE_ITEMS_MAX: usize = 64 * 1024;
/// Work per snapshot chunk on a data thread.
const CHUNK_KEYS_MAX: usize = 256;
const CHUNK_BYTES_MAX: usize = 256 * 1024;

/// What a shard tells the sync ring, in execution order.
#[derive(Debug)]
pub(crate) enum FeedItem {
    /// An executed write, as the stream must carry it.
    Write { database: usize, args: Vec<Bytes> },
    /// The snapshot of job `job` starts here on this shard.
    Cut { database: usize, job: u64 },
    /// Writes of this shard were lost: the stream has a gap.
    Overflow { database: usize },
}

/// A request from the sync ring to a data thread.
#[derive(Debug)]
pub(crate) enum SyncRequest {
    /// Start job `job`'s snapshot of `database` on this shard.
    Start { database: usize, job: u64 },
    /// The next part of that snapshot.
    Chunk {
        database: usize,
        job: u64,
        reply: oneshot::Sender<SnapshotChunk>,
    },
}

/// Encoded RDB entries (see `petrel_sync::rdb::encode_entry`).
#[derive(Debug, Default)]
pub(crate) struct SnapshotChunk {
    pub entries: Vec<u8>,
    pub keys: u64,
    /// The shard has no more keys for this snapshot.
    pub done: bool,
    /// The snapshot cannot go on (FLUSHDB ran, or no such job); start over.
    pub aborted: bool,
}

/// A database's replication status as the sync ring last published it.
#[derive(Debug, Default)]
struct PublishedStatus {
    /// INFO's Replication section.
    info: String,
    /// ROLE's answer.
    role: Option<petrel_store::session::ReplicationRole>,
}

/// What the threads share for replication.
#[derive(Debug)]
pub(crate) struct SyncShared {
    pub feeds: Vec<flume::Sender<FeedItem>>,
    pub feed_receivers: Mutex<Vec<flume::Receiver<FeedItem>>>,
    pub handoffs: flume::Sender<crate::sync_ring::Handoff>,
    pub handoff_receiver: Mutex<Option<flume::Receiver<crate::sync_ring::Handoff>>>,
    /// The control plane changed a database's Replica Of sources, or a
    /// CLIENT KILL closes replication links.
    pub replica_changes: flume::Sender<crate::sync_replica::RingControl>,
    pub replica_change_receiver: Mutex<Option<flume::Receiver<crate::sync_replica::RingControl>>>,
    /// Per database: writes feed the stream (a replica attached once).
    pub feeding: Vec<AtomicBool>,
    /// Per database: INFO's Replication section and the role ROLE reports,
    /// as the sync ring last wrote them (together, so they always agree).
    status: Vec<Mutex<PublishedStatus>>,
    /// Per database: PSYNC/SYNC refused because they came over plaintext on
    /// a `replica_ssl` or `enabled` port, or over TLS without a syncer
    /// certificate.
    pub refused_plaintext: Vec<AtomicU64>,
    pub refused_not_syncer: Vec<AtomicU64>,
    /// Per database: a replica is loading its source's snapshot; commands
    /// without the `loading` flag answer `-LOADING` meanwhile, as Redis's do.
    pub loading: Vec<AtomicBool>,
}

impl SyncShared {
    pub fn new(shard_count: usize, database_count: usize) -> SyncShared {
        let (feeds, feed_receivers): (Vec<_>, Vec<_>) = (0..shard_count)
            .map(|_| flume::bounded(FEED_QUEUE_ITEMS_MAX))
            .unzip();
        let (handoffs, handoff_receiver) = flume::unbounded();
        let (replica_changes, replica_change_receiver) = flume::unbounded();
        SyncShared {
            replica_changes,
            replica_change_receiver: Mutex::new(Some(replica_change_receiver)),
            feeds,
            feed_receivers: Mutex::new(feed_receivers),
            handoffs,
            handoff_receiver: Mutex::new(Some(handoff_receiver)),
            feeding: (0..database_count)
                .map(|_| AtomicBool::new(false))
                .collect(),
            status: (0..database_count)
                .map(|_| Mutex::new(PublishedStatus::default()))
                .collect(),
            refused_plaintext: (0..database_count).map(|_| AtomicU64::new(0)).collect(),
            refused_not_syncer: (0..database_count).map(|_| AtomicU64::new(0)).collect(),
            loading: (0..database_count)
                .map(|_| AtomicBool::new(false))
                .collect(),
        }
    }

    /// INFO's Replication section for `database`, if the sync ring wrote one.
    pub fn info_section(&self, database: usize) -> Option<String> {
        let mut text = self.status.get(database)?.lock().ok()?.info.clone();
        if text.is_empty() {
            return None;
        }
        text.push_str(&format!(
            "sync_refused_plaintext:{}\r\nsync_refused_without_syncer_certificate:{}\r\n",
            self.refused_plaintext[database].load(Ordering::Relaxed),
            self.refused_not_syncer[database].load(Ordering::Relaxed),
        ));
        Some(text)
    }

    /// ROLE's answer for `database`, if the sync ring published one.
    pub fn role(&self, database: usize) -> Option<petrel_store::session::ReplicationRole> {
        self.status.get(database)?.lock().ok()?.role.clone()
    }

    /// Publishes INFO's Replication section and ROLE's answer together.
    pub fn publish(
        &self,
        database: usize,
        info: String,
        role: petrel_store::session::ReplicationRole,
    ) {
        if let Some(slot) = self.status.get(database) {
            if let Ok(mut published) = slot.lock() {
                *published = PublishedStatus {
                    info,
                    role: Some(role),
                };
            }
        }
    }

    pub fn is_loading(&self, database: usize) -> bool {
        self.loading[database].load(Ordering::Acquire)
    }

    /// Counts and logs a refused PSYNC or SYNC.
    pub fn refused(&self, database: usize, refusal: petrel_tls::SyncRefusal, peer: &str) {
        let counter = match refusal {
            petrel_tls::SyncRefusal::Plaintext => &self.refused_plaintext[database],
            petrel_tls::SyncRefusal::NotSyncer => &self.refused_not_syncer[database],
        };
        counter.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%peer, %refusal, "replication refused");
    }
}

/// One shard's snapshot in progress, for sync job `job`.
#[derive(Debug)]
struct Snapshot {
    job: u64,
    state: petrel_sync::snapshot::ShardSnapshot,
}

#[derive(Debug, Default)]
struct ThreadState {
    /// Per database: a write was lost and the marker is not sent yet.
    overflowed: HashMap<usize, bool>,
    snapshots: HashMap<usize, Snapshot>,
}

thread_local! {
    static STATE: RefCell<ThreadState> = RefCell::new(ThreadState::default());
}

/// What a write will send to the stream once it has run.
pub(crate) enum Pending {
    /// A command, with the time it ran at (relative expiries become absolute).
    Command {
        args: Vec<Bytes>,
        now_ms: u64,
    },
    Take(Bytes),
    Put(Vec<Bytes>),
}

fn feeding(worker: &Worker, database: usize) -> bool {
    worker.shared.sync.feeding[database].load(Ordering::Acquire)
}

/// Before a command runs on this shard: snapshot bookkeeping, and the
/// arguments to stream if it writes.
pub(crate) fn prepare_command(
    worker: &Worker,
    database: usize,
    spec: &'static CommandSpec,
    args: &[Bytes],
    now_ms: u64,
) -> Option<Pending> {
    if !spec.has_flag(flags::WRITE) || !feeding(worker, database) {
        return None;
    }
    let mut positions = spec.key_positions(args.len()).peekable();
    if positions.peek().is_none() {
        abort_snapshot(database);
    } else {
        before_write(
            worker,
            database,
            positions.map(|position| &args[position]),
            now_ms,
        );
    }
    Some(Pending::Command {
        args: args.to_vec(),
        now_ms,
    })
}

/// The same for one step of a cross-shard command.
pub(crate) fn prepare_op(
    worker: &Worker,
    database: usize,
    op: &ShardOp,
    now_ms: u64,
) -> Option<Pending> {
    match op {
        ShardOp::Command { spec, args } => prepare_command(worker, database, spec, args, now_ms),
        ShardOp::Take { key } if feeding(worker, database) => {
            before_write(worker, database, std::iter::once(key), now_ms);
            Some(Pending::Take(key.clone()))
        }
        ShardOp::Put { key, entry } | ShardOp::PutIfAbsent { key, entry }
            if feeding(worker, database) =>
        {
            before_write(worker, database, std::iter::once(key), now_ms);
            // RESTORE with an absolute deadline carries any value exactly.
            let payload = petrel_sync::rdb::dump_payload(&entry.value);
            let deadline = entry.expires_at_ms.unwrap_or(0).to_string();
            let mut args = vec![
                Bytes::from_static(b"RESTORE"),
                key.clone(),
                Bytes::from(deadline),
                Bytes::from(payload),
                Bytes::from_static(b"REPLACE"),
            ];
            if entry.expires_at_ms.is_some() {
                args.push(Bytes::from_static(b"ABSTTL"));
            }
            Some(Pending::Put(args))
        }
        _ => None,
    }
}

/// After a command ran: streams it unless it failed.
pub(crate) fn commit_command(
    worker: &Worker,
    database: usize,
    pending: Option<Pending>,
    reply: &Reply,
) {
    // Keys the command found expired go first: they died before it ran.
    stream_expired(worker, database);
    let Some(Pending::Command { args, now_ms }) = pending else {
        return;
    };
    if reply.is_error() {
        return;
    }
    let args = deterministic(args, reply, now_ms);
    if !args.is_empty() {
        send(worker, database, FeedItem::Write { database, args });
    }
}

/// After a cross-shard step ran.
pub(crate) fn commit_op(
    worker: &Worker,
    database: usize,
    pending: Option<Pending>,
    reply: &ShardReply,
) {
    stream_expired(worker, database);
    let Some(pending) = pending else {
        return;
    };
    let args = match (pending, reply) {
        (Pending::Command { args, now_ms }, ShardReply::Reply(reply)) => {
            return commit_command(
                worker,
                database,
                Some(Pending::Command { args, now_ms }),
                reply,
            )
        }
        (Pending::Take(key), ShardReply::Entry(Some(_))) => {
            vec![Bytes::from_static(b"DEL"), key]
        }
        // Put answers OK; PutIfAbsent answers Entry(None) when it stored.
        (Pending::Put(args), ShardReply::Reply(reply)) if !reply.is_error() => args,
        (Pending::Put(args), ShardReply::Entry(None)) => args,
        _ => return,
    };
    send(worker, database, FeedItem::Write { database, args });
}

/// The active expiry cycle's step for `database`: deletes due keys and
/// streams a DEL for each.
pub(crate) fn expire_due(worker: &Worker, database: usize, now_ms: u64, budget: usize) -> usize {
    let deleted = worker.shard.borrow_mut().databases[database].expire_due(now_ms, budget);
    if deleted > 0 {
        stream_expired(worker, database);
    }
    deleted
}

/// Streams a DEL for every key of `database` that expired since the last
/// call (lazily inside a command, or in the active cycle), as Redis does,
/// so a replica's memory does not keep what the source expired. Recording
/// starts with the database's first snapshot, before any replica streams.
fn stream_expired(worker: &Worker, database: usize) {
    if !feeding(worker, database) {
        return;
    }
    let expired = worker.shard.borrow_mut().databases[database].take_expired();
    for key in expired {
        send(
            worker,
            database,
            FeedItem::Write {
                database,
                args: vec![Bytes::from_static(b"DEL"), key],
            },
        );
    }
}

/// Rewrites commands whose effect depends on chance or on the time into
/// their effect, so a replica ends up with the same data whenever it
/// applies them (Redis propagates SPOP as SREM and relative expiries as
/// absolute ones). An empty result streams nothing (nothing changed).
fn deterministic(args: Vec<Bytes>, reply: &Reply, now_ms: u64) -> Vec<Bytes> {
    let name = args[0].to_ascii_lowercase();
    let deadline = |amount: &[u8], unit_ms: u64| -> Option<Bytes> {
        let amount: i64 = std::str::from_utf8(amount).ok()?.parse().ok()?;
        let at = i64::try_from(now_ms)
            .ok()?
            .checked_add(amount.checked_mul(unit_ms as i64)?)?;
        Some(Bytes::from(at.to_string()))
    };
    match (name.as_slice(), reply) {
        (b"expire" | b"pexpire", Reply::Integer(0)) => Vec::new(),
        (b"expire" | b"pexpire", _) => {
            let unit = if name == b"expire" { 1000 } else { 1 };
            match deadline(&args[2], unit) {
                Some(at) => vec![Bytes::from_static(b"PEXPIREAT"), args[1].clone(), at],
                None => args,
            }
        }
        (b"getex", Reply::Nil) => Vec::new(),
        (b"getex", _) if args.len() >= 3 => {
            let option = args[2].to_ascii_uppercase();
            let unit = match option.as_slice() {
                b"EX" => 1000,
                b"PX" => 1,
                b"PERSIST" => return vec![Bytes::from_static(b"PERSIST"), args[1].clone()],
                b"EXAT" => {
                    return vec![
                        Bytes::from_static(b"EXPIREAT"),
                        args[1].clone(),
                        args[3].clone(),
                    ]
                }
                b"PXAT" => {
                    return vec![
                        Bytes::from_static(b"PEXPIREAT"),
                        args[1].clone(),
                        args[3].clone(),
                    ]
                }
                _ => return Vec::new(),
            };
            match args.get(3).and_then(|amount| deadline(amount, unit)) {
                Some(at) => vec![Bytes::from_static(b"PEXPIREAT"), args[1].clone(), at],
                None => Vec::new(),
            }
        }
        // GETEX without an option changes nothing.
        (b"getex", _) => Vec::new(),
        (b"setex" | b"psetex", _) => {
            let unit = if name == b"setex" { 1000 } else { 1 };
            match deadline(&args[2], unit) {
                Some(at) => vec![
                    Bytes::from_static(b"SET"),
                    args[1].clone(),
                    args[3].clone(),
                    Bytes::from_static(b"PXAT"),
                    at,
                ],
                None => args,
            }
        }
        (b"set", _) => {
            let has_get = args[3..].iter().any(|arg| arg.eq_ignore_ascii_case(b"GET"));
            if matches!(reply, Reply::Nil) && !has_get {
                return Vec::new();
            }
            let mut rewritten = args.clone();
            for index in 3..rewritten.len().saturating_sub(1) {
                let unit = if rewritten[index].eq_ignore_ascii_case(b"EX") {
                    1000
                } else if rewritten[index].eq_ignore_ascii_case(b"PX") {
                    1
                } else {
                    continue;
                };
                if let Some(at) = deadline(&rewritten[index + 1], unit) {
                    rewritten[index] = Bytes::from_static(b"PXAT");
                    rewritten[index + 1] = at;
                }
            }
            rewritten
        }
        (b"spop", Reply::Bulk(member)) => {
            vec![Bytes::from_static(b"SREM"), args[1].clone(), member.clone()]
        }
        (b"spop", Reply::Array(members) | Reply::Set(members)) => {
            let mut rewritten = vec![Bytes::from_static(b"SREM"), args[1].clone()];
            for member in members {
                if let Reply::Bulk(member) = member {
                    rewritten.push(member.clone());
                }
            }
            if rewritten.len() == 2 {
                return Vec::new();
            }
            rewritten
        }
        (b"spop", _) => Vec::new(),
        // A served blocking pop streams as the pop it was; one that would
        // have blocked changed nothing.
        (b"blpop" | b"brpop", Reply::Array(served)) => match served.first() {
            Some(Reply::Bulk(key)) => {
                let pop: &'static [u8] = if name.as_slice() == b"blpop" {
                    b"LPOP"
                } else {
                    b"RPOP"
                };
                vec![Bytes::from_static(pop), key.clone()]
            }
            _ => Vec::new(),
        },
        (b"blmove", Reply::Bulk(_)) => {
            let mut rewritten = args;
            rewritten[0] = Bytes::from_static(b"LMOVE");
            rewritten.truncate(5);
            rewritten
        }
        (b"blpop" | b"brpop" | b"blmove", _) => Vec::new(),
        (b"incrbyfloat", Reply::Bulk(value)) => vec![
            Bytes::from_static(b"SET"),
            args[1].clone(),
            value.clone(),
            Bytes::from_static(b"KEEPTTL"),
        ],
        _ => args,
    }
}

fn send(worker: &Worker, database: usize, item: FeedItem) {
    let sender = &worker.shared.sync.feeds[worker.shard_id];
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let overflowed = state.overflowed.entry(database).or_insert(false);
        if *overflowed {
            if sender.try_send(FeedItem::Overflow { database }).is_err() {
                return;
            }
            *overflowed = false;
        }
        if let Err(flume::TrySendError::Full(_)) = sender.try_send(item) {
            *overflowed = true;
        }
    });
}

/// Serializes the old value of every key about to be written that the
/// snapshot of `database` has not reached yet.
fn before_write<'a>(
    worker: &Worker,
    database: usize,
    keys: impl Iterator<Item = &'a Bytes>,
    now_ms: u64,
) {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let Some(snapshot) = state.snapshots.get_mut(&database) else {
            return;
        };
        let shard = worker.shard.borrow();
        snapshot.state.before_write(
            &shard.databases[database],
            keys.map(|key| key.as_ref()),
            now_ms,
        );
    });
}

fn abort_snapshot(database: usize) {
    STATE.with(|state| {
        if let Some(snapshot) = state.borrow_mut().snapshots.get_mut(&database) {
            snapshot.state.abort();
        }
    });
}

/// Runs a request of the sync ring on this data thread.
pub(crate) fn handle(worker: &Worker, request: SyncRequest, now_ms: u64) {
    match request {
        SyncRequest::Start { database, job } => {
            worker.shard.borrow_mut().databases[database].record_expired(true);
            STATE.with(|state| {
                state.borrow_mut().snapshots.insert(
                    database,
                    Snapshot {
                        job,
                        state: petrel_sync::snapshot::ShardSnapshot::new(),
                    },
                );
            });
            send(worker, database, FeedItem::Cut { database, job });
        }
        SyncRequest::Chunk {
            database,
            job,
            reply,
        } => {
            let _ = reply.send(next_chunk(worker, database, job, now_ms));
        }
    }
}

fn next_chunk(worker: &Worker, database: usize, job: u64, now_ms: u64) -> SnapshotChunk {
    STATE.with(|state| {
        let mut state = state.borrow_mut();
        let Some(snapshot) = state.snapshots.get_mut(&database).filter(|s| s.job == job) else {
            return SnapshotChunk {
                aborted: true,
                ..SnapshotChunk::default()
            };
        };
        if snapshot.state.is_aborted() {
            state.snapshots.remove(&database);
            return SnapshotChunk {
                aborted: true,
                ..SnapshotChunk::default()
            };
        }
        let shard = worker.shard.borrow();
        let chunk = snapshot.state.next_chunk(
            &shard.databases[database],
            now_ms,
            CHUNK_KEYS_MAX,
            CHUNK_BYTES_MAX,
        );
        drop(shard);
        if chunk.done {
            state.snapshots.remove(&database);
        }
        SnapshotChunk {
            entries: chunk.entries,
            keys: chunk.keys,
            done: chunk.done,
            aborted: false,
        }
    })
}
