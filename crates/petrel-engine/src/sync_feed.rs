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
//! thread. A write to a key the chunks have not reached yet first
//! serializes that key's old value (as Dragonfly does), and every key
//! serialized is remembered until the snapshot ends, so no key is written
//! twice and none with a value from after the cut. Commands that write
//! without naming keys (FLUSHDB, FLUSHALL) abort the snapshot; the sync
//! ring starts another.
//!
//! This module must not block or await: it runs inside command execution.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
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

/// What the threads share for replication.
#[derive(Debug)]
pub(crate) struct SyncShared {
    pub feeds: Vec<flume::Sender<FeedItem>>,
    pub feed_receivers: Mutex<Vec<flume::Receiver<FeedItem>>>,
    pub handoffs: flume::Sender<crate::sync_ring::Handoff>,
    pub handoff_receiver: Mutex<Option<flume::Receiver<crate::sync_ring::Handoff>>>,
    /// The control plane changed a database's Replica Of sources.
    pub replica_changes: flume::Sender<crate::sync_replica::ReplicaChange>,
    pub replica_change_receiver: Mutex<Option<flume::Receiver<crate::sync_replica::ReplicaChange>>>,
    /// Per database: writes feed the stream (a replica attached once).
    pub feeding: Vec<AtomicBool>,
    /// Per database: INFO's Replication section as the sync ring last wrote it.
    pub info: Vec<Mutex<String>>,
    /// Per database: PSYNC/SYNC refused because they came over plaintext on
    /// a `replica_ssl` or `enabled` port, or over TLS without a syncer
    /// certificate.
    pub refused_plaintext: Vec<AtomicU64>,
    pub refused_not_syncer: Vec<AtomicU64>,
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
            info: (0..database_count)
                .map(|_| Mutex::new(String::new()))
                .collect(),
            refused_plaintext: (0..database_count).map(|_| AtomicU64::new(0)).collect(),
            refused_not_syncer: (0..database_count).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// INFO's Replication section for `database`, if the sync ring wrote one.
    pub fn info_section(&self, database: usize) -> Option<String> {
        let mut text = self.info.get(database)?.lock().ok()?.clone();
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

/// One shard's snapshot in progress.
#[derive(Debug)]
struct Snapshot {
    job: u64,
    cursor: u64,
    scan_started: bool,
    /// Keys serialized so far (or absent at the cut and written since).
    emitted: HashSet<Bytes>,
    /// Old values serialized by writes, waiting for the next chunk.
    pending: Vec<u8>,
    pending_keys: u64,
    aborted: bool,
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
    Command(Vec<Bytes>),
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
    Some(Pending::Command(args.to_vec()))
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
    let Some(Pending::Command(args)) = pending else {
        return;
    };
    if reply.is_error() {
        return;
    }
    let args = deterministic(args, reply);
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
    let Some(pending) = pending else {
        return;
    };
    let args = match (pending, reply) {
        (Pending::Command(args), ShardReply::Reply(reply)) => {
            return commit_command(worker, database, Some(Pending::Command(args)), reply)
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

/// Rewrites commands whose effect depends on chance into their effect, so
/// a replica ends up with the same data (Redis propagates SPOP as SREM).
fn deterministic(args: Vec<Bytes>, reply: &Reply) -> Vec<Bytes> {
    let name = args[0].to_ascii_lowercase();
    match (name.as_slice(), reply) {
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
        if snapshot.aborted {
            return;
        }
        let shard = worker.shard.borrow();
        let keyspace = &shard.databases[database];
        for key in keys {
            if snapshot.emitted.contains(key.as_ref()) {
                continue;
            }
            // Keys arrive as slices of a read buffer: keep a copy.
            let key = Bytes::copy_from_slice(key);
            if let Some(entry) = keyspace.peek(&key, now_ms) {
                petrel_sync::rdb::encode_entry(&mut snapshot.pending, &key, entry);
                snapshot.pending_keys += 1;
            }
            snapshot.emitted.insert(key);
        }
    });
}

fn abort_snapshot(database: usize) {
    STATE.with(|state| {
        if let Some(snapshot) = state.borrow_mut().snapshots.get_mut(&database) {
            snapshot.aborted = true;
            snapshot.emitted.clear();
            snapshot.pending.clear();
        }
    });
}

/// Runs a request of the sync ring on this data thread.
pub(crate) fn handle(worker: &Worker, request: SyncRequest, now_ms: u64) {
    match request {
        SyncRequest::Start { database, job } => {
            STATE.with(|state| {
                state.borrow_mut().snapshots.insert(
                    database,
                    Snapshot {
                        job,
                        cursor: 0,
                        scan_started: false,
                        emitted: HashSet::new(),
                        pending: Vec::new(),
                        pending_keys: 0,
                        aborted: false,
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
        if snapshot.aborted {
            state.snapshots.remove(&database);
            return SnapshotChunk {
                aborted: true,
                ..SnapshotChunk::default()
            };
        }
        let mut chunk = SnapshotChunk {
            entries: std::mem::take(&mut snapshot.pending),
            keys: std::mem::take(&mut snapshot.pending_keys),
            ..SnapshotChunk::default()
        };
        let shard = worker.shard.borrow();
        let keyspace = &shard.databases[database];
        let mut scanned = 0;
        while scanned < CHUNK_KEYS_MAX && chunk.entries.len() < CHUNK_BYTES_MAX {
            if snapshot.scan_started && snapshot.cursor == 0 {
                break;
            }
            snapshot.scan_started = true;
            let budget = CHUNK_KEYS_MAX - scanned;
            let emitted = &mut snapshot.emitted;
            let entries = &mut chunk.entries;
            let keys = &mut chunk.keys;
            snapshot.cursor = keyspace.scan(snapshot.cursor, budget, now_ms, |key, entry| {
                if emitted.insert(key.clone()) {
                    petrel_sync::rdb::encode_entry(entries, key, entry);
                    *keys += 1;
                }
            });
            scanned += budget;
        }
        if snapshot.scan_started && snapshot.cursor == 0 {
            chunk.done = true;
            drop(shard);
            state.snapshots.remove(&database);
        }
        chunk
    })
}
