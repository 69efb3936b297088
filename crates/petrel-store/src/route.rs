//! Which shard owns a key, and how a command that spans shards is split into
//! per-shard operations and its partial replies merged.
//!
//! A [`Coordinator`] is a small state machine: the engine calls
//! [`Coordinator::step`] with no replies to get the first round of
//! [`ShardOp`]s, sends each to its shard, and calls `step` again with the
//! replies in the same order, until it returns [`Step::Done`]. Nothing here
//! knows how messages travel.

use bytes::Bytes;
use petrel_resp::Reply;

use crate::glob::glob_match;
use crate::keyspace::{Entry, Keyspace, WatchToken};
use crate::table::{self, CommandSpec};
use crate::ExecContext;

/// Redis Cluster's slot count; shards own slots `slot % shard_count`.
pub const SLOT_COUNT: u16 = 16384;

const CRC16_XMODEM: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_XMODEM);

/// The part of `key` that is hashed: the text of the first non-empty
/// `{...}` hashtag, or the whole key, as Redis Cluster defines it.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(close) = key[open + 1..].iter().position(|&b| b == b'}') {
            if close > 0 {
                return &key[open + 1..open + 1 + close];
            }
        }
    }
    key
}

/// Redis Cluster's hash slot of `key`.
pub fn slot_of(key: &[u8]) -> u16 {
    CRC16_XMODEM.checksum(hash_tag(key)) & (SLOT_COUNT - 1)
}

/// The shard that owns `key`.
pub fn shard_of(key: &[u8], shard_count: usize) -> usize {
    slot_of(key) as usize % shard_count.max(1)
}

/// One shard's part of a command that spans shards.
#[derive(Debug)]
pub enum ShardOp {
    /// Run a command (or the shard's subset of one) through its handler.
    Command {
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
    },
    /// Remove a key and hand back its entry (RENAME's first half).
    Take { key: Bytes },
    /// Store an entry, replacing what was there (RENAME's second half).
    Put { key: Bytes, entry: Entry },
    /// Store an entry only if the key is absent (RENAMENX's second half).
    /// Answers `Entry(None)` when stored, `Entry(Some(entry))` with the
    /// entry handed back when the key exists.
    PutIfAbsent { key: Bytes, entry: Entry },
    /// One page of this shard's part of a SCAN.
    Scan {
        cursor: u64,
        count: usize,
        pattern: Option<Bytes>,
        type_name: Option<Bytes>,
    },
    /// A random live key of this shard.
    RandomKey { random: u64 },
    /// WATCH these keys (all on this shard); answers [`ShardReply::Watched`].
    Watch { keys: Vec<Bytes> },
    /// Drop one connection's watch of these keys; answers OK.
    Unwatch { keys: Vec<Bytes> },
    /// Whether every key is unchanged since its token was given; answers
    /// integer 1 (unchanged) or 0.
    CheckWatches { keys: Vec<(Bytes, WatchToken)> },
}

#[derive(Debug)]
pub enum ShardReply {
    Reply(Reply),
    Entry(Option<Entry>),
    Scan { cursor: u64, keys: Vec<Bytes> },
    Key(Option<Bytes>),
    Watched(Vec<WatchToken>),
}

impl ShardReply {
    fn into_reply(self) -> Reply {
        match self {
            ShardReply::Reply(reply) => reply,
            other => Reply::error_owned(format!("ERR internal: unexpected shard reply {other:?}")),
        }
    }
}

#[derive(Debug)]
pub enum Step {
    /// Send each operation to its shard; call `step` again with the replies
    /// in the same order.
    Dispatch(Vec<(usize, ShardOp)>),
    Done(Reply),
}

pub trait Coordinator: Send {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step;
}

/// Executes one shard operation on this shard's keyspace.
pub fn apply(keyspace: &mut Keyspace, op: ShardOp, ctx: &ExecContext) -> ShardReply {
    match op {
        ShardOp::Command { spec, args } => match spec.handler {
            Some(handler) => ShardReply::Reply(handler(keyspace, &args, ctx)),
            None => ShardReply::Reply(Reply::error("ERR internal: command has no shard handler")),
        },
        ShardOp::Take { key } => ShardReply::Entry(keyspace.remove(&key, ctx.now_ms)),
        ShardOp::Put { key, entry } => {
            keyspace.insert(key, entry, ctx.now_ms);
            ShardReply::Reply(Reply::ok())
        }
        ShardOp::PutIfAbsent { key, entry } => {
            if keyspace.contains(&key, ctx.now_ms) {
                ShardReply::Entry(Some(entry))
            } else {
                keyspace.insert(key, entry, ctx.now_ms);
                ShardReply::Entry(None)
            }
        }
        ShardOp::Watch { keys } => ShardReply::Watched(
            keys.iter()
                .map(|key| keyspace.watch(key, ctx.now_ms))
                .collect(),
        ),
        ShardOp::Unwatch { keys } => {
            for key in &keys {
                keyspace.unwatch(key);
            }
            ShardReply::Reply(Reply::ok())
        }
        ShardOp::CheckWatches { keys } => {
            let holds = keys
                .iter()
                .all(|(key, token)| keyspace.watch_holds(key, *token, ctx.now_ms));
            ShardReply::Reply(Reply::Integer(holds as i64))
        }
        ShardOp::Scan {
            cursor,
            count,
            pattern,
            type_name,
        } => {
            let mut keys = Vec::new();
            let cursor = keyspace.scan(cursor, count, ctx.now_ms, |key, entry| {
                let pattern_ok = pattern.as_ref().is_none_or(|p| glob_match(p, key, false));
                let type_ok = type_name
                    .as_ref()
                    .is_none_or(|t| t.eq_ignore_ascii_case(entry.value.type_name().as_bytes()));
                if pattern_ok && type_ok {
                    keys.push(key.clone());
                }
            });
            ShardReply::Scan { cursor, keys }
        }
        ShardOp::RandomKey { random } => {
            // A few tries skip keys that expired but were not reclaimed yet.
            for attempt in 0..16u64 {
                let candidate = keyspace
                    .key_at_random(random.wrapping_add(attempt.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
                    .cloned();
                match candidate {
                    None => return ShardReply::Key(None),
                    Some(key) if keyspace.contains(&key, ctx.now_ms) => {
                        return ShardReply::Key(Some(key))
                    }
                    Some(_) => continue,
                }
            }
            ShardReply::Key(
                keyspace
                    .iter_live(ctx.now_ms)
                    .next()
                    .map(|(key, _)| key.clone()),
            )
        }
    }
}

/// How per-shard replies of a scattered command combine.
#[derive(Debug, Clone, Copy)]
enum Merge {
    /// DEL, EXISTS, TOUCH, UNLINK, DBSIZE: add the integers.
    SumIntegers,
    /// MGET: put each element back at its key's position.
    ArrayInKeyOrder,
    /// MSET, FLUSHDB: `OK` unless a shard failed.
    AllOk,
    /// KEYS: concatenate the arrays.
    Concatenate,
}

/// Builds the coordinator for a [`crate::Route::Scatter`] or
/// [`crate::Route::Coordinated`] command. `random` seeds RANDOMKEY.
pub fn coordinator(
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    shard_count: usize,
    random: u64,
) -> Box<dyn Coordinator> {
    let shard_count = shard_count.max(1);
    // Key-value commands with a key lacking its value would write on some
    // shards and fail on one: refuse them whole before scattering.
    if spec.key_step == 2 && args.len().is_multiple_of(2) {
        return Box::new(Failed(Some(table::arity_error_reply(spec.name.as_bytes()))));
    }
    match spec.name {
        "del" | "unlink" | "exists" | "touch" => {
            Box::new(Scatter::by_key(spec, args, shard_count, Merge::SumIntegers))
        }
        "mget" => Box::new(Scatter::by_key(
            spec,
            args,
            shard_count,
            Merge::ArrayInKeyOrder,
        )),
        "mset" => Box::new(Scatter::by_key(spec, args, shard_count, Merge::AllOk)),
        "dbsize" => Box::new(Scatter::every_shard(
            spec,
            args,
            shard_count,
            Merge::SumIntegers,
        )),
        "flushdb" | "flushall" => {
            Box::new(Scatter::every_shard(spec, args, shard_count, Merge::AllOk))
        }
        "keys" => Box::new(Scatter::every_shard(
            spec,
            args,
            shard_count,
            Merge::Concatenate,
        )),
        "rename" | "renamenx" => Box::new(Rename::new(spec, args, shard_count)),
        "msetnx" => Box::new(MsetNx::new(args, shard_count)),
        "scan" => Box::new(Scan::new(args, shard_count)),
        "randomkey" => Box::new(RandomKey::new(shard_count, random)),
        "lmove" | "rpoplpush" | "blmove" => {
            crate::family::list::move_coordinator(spec, args, shard_count)
        }
        "blpop" | "brpop" => crate::family::list::blocking_pop_coordinator(spec, args, shard_count),
        "zunionstore" | "zinterstore" => crate::family::zset::store_coordinator(args, shard_count),
        "sinter" | "sunion" | "sdiff" | "sinterstore" | "sunionstore" | "sdiffstore"
        | "sintercard" | "smove" => crate::family::set::coordinator(spec, args, shard_count),
        _ => Box::new(Failed(Some(Reply::error_owned(format!(
            "ERR internal: no coordinator for '{}'",
            spec.name
        ))))),
    }
}

struct Failed(Option<Reply>);

impl Coordinator for Failed {
    fn step(&mut self, _: Vec<ShardReply>) -> Step {
        Step::Done(self.0.take().unwrap_or(Reply::Nil))
    }
}

/// One round: a sub-command per shard, then a merge.
struct Scatter {
    ops: Option<Vec<(usize, ShardOp)>>,
    /// For each dispatched op, the key indexes (0-based, in key order) it covers.
    key_indexes: Vec<Vec<usize>>,
    key_count: usize,
    merge: Merge,
}

impl Scatter {
    fn by_key(
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
        shard_count: usize,
        merge: Merge,
    ) -> Scatter {
        let step = spec.key_step.max(1) as usize;
        let mut per_shard: Vec<Option<(Vec<Bytes>, Vec<usize>)>> =
            (0..shard_count).map(|_| None).collect();
        let mut key_count = 0;
        for position in spec.key_positions(args.len()) {
            let shard = shard_of(&args[position], shard_count);
            let (sub_args, indexes) =
                per_shard[shard].get_or_insert_with(|| (vec![args[0].clone()], Vec::new()));
            sub_args.extend(
                args[position..(position + step).min(args.len())]
                    .iter()
                    .cloned(),
            );
            indexes.push(key_count);
            key_count += 1;
        }
        let mut ops = Vec::new();
        let mut key_indexes = Vec::new();
        for (shard, part) in per_shard.into_iter().enumerate() {
            if let Some((sub_args, indexes)) = part {
                ops.push((
                    shard,
                    ShardOp::Command {
                        spec,
                        args: sub_args,
                    },
                ));
                key_indexes.push(indexes);
            }
        }
        Scatter {
            ops: Some(ops),
            key_indexes,
            key_count,
            merge,
        }
    }

    fn every_shard(
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
        shard_count: usize,
        merge: Merge,
    ) -> Scatter {
        let ops = (0..shard_count)
            .map(|shard| {
                (
                    shard,
                    ShardOp::Command {
                        spec,
                        args: args.clone(),
                    },
                )
            })
            .collect();
        Scatter {
            ops: Some(ops),
            key_indexes: Vec::new(),
            key_count: 0,
            merge,
        }
    }
}

impl Coordinator for Scatter {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        if let Some(ops) = self.ops.take() {
            return Step::Dispatch(ops);
        }
        let replies: Vec<Reply> = replies.into_iter().map(ShardReply::into_reply).collect();
        if let Some(error) = replies.iter().find(|reply| reply.is_error()) {
            return Step::Done(error.clone());
        }
        Step::Done(match self.merge {
            Merge::SumIntegers => Reply::Integer(
                replies
                    .iter()
                    .map(|reply| if let Reply::Integer(n) = reply { *n } else { 0 })
                    .sum(),
            ),
            Merge::AllOk => Reply::ok(),
            Merge::Concatenate => Reply::Array(
                replies
                    .into_iter()
                    .flat_map(|reply| {
                        if let Reply::Array(items) = reply {
                            items
                        } else {
                            Vec::new()
                        }
                    })
                    .collect(),
            ),
            Merge::ArrayInKeyOrder => {
                let mut merged = vec![Reply::Nil; self.key_count];
                for (reply, indexes) in replies.into_iter().zip(&self.key_indexes) {
                    if let Reply::Array(items) = reply {
                        for (item, &index) in items.into_iter().zip(indexes) {
                            merged[index] = item;
                        }
                    }
                }
                Reply::Array(merged)
            }
        })
    }
}

/// RENAME and RENAMENX across shards. RENAME takes the source entry (with
/// its deadline) and puts it at the destination. RENAMENX first asks both
/// shards whether the keys exist, so that a missing source is an error even
/// when the destination exists, as in Redis; then it takes the source and
/// puts it only if the destination is still absent, putting the entry back
/// where it came from if another client created the destination meanwhile.
///
/// Between the take and the put, another client sees neither key; the
/// cross-shard transaction mechanism will close that window.
struct Rename {
    source: Bytes,
    destination: Bytes,
    only_if_absent: bool,
    shard_count: usize,
    state: RenameState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RenameState {
    Start,
    Checked,
    Took,
    Put,
    PutBack,
}

impl Rename {
    fn new(spec: &'static CommandSpec, args: Vec<Bytes>, shard_count: usize) -> Rename {
        Rename {
            source: args[1].clone(),
            destination: args[2].clone(),
            only_if_absent: spec.name == "renamenx",
            shard_count,
            state: RenameState::Start,
        }
    }

    fn exists_op(&self, key: &Bytes) -> (usize, ShardOp) {
        let exists = table::lookup(b"exists").expect("EXISTS is in the table");
        (
            shard_of(key, self.shard_count),
            ShardOp::Command {
                spec: exists,
                args: vec![Bytes::from_static(b"EXISTS"), key.clone()],
            },
        )
    }

    fn take_source(&mut self) -> Step {
        self.state = RenameState::Took;
        Step::Dispatch(vec![(
            shard_of(&self.source, self.shard_count),
            ShardOp::Take {
                key: self.source.clone(),
            },
        )])
    }

    fn put(&mut self, entry: Entry) -> Step {
        self.state = RenameState::Put;
        let key = self.destination.clone();
        let op = if self.only_if_absent {
            ShardOp::PutIfAbsent { key, entry }
        } else {
            ShardOp::Put { key, entry }
        };
        Step::Dispatch(vec![(shard_of(&self.destination, self.shard_count), op)])
    }

    fn renamed(&self) -> Reply {
        if self.only_if_absent {
            Reply::Integer(1)
        } else {
            Reply::ok()
        }
    }
}

fn missing_reply() -> Step {
    Step::Done(Reply::error("ERR internal: missing shard reply"))
}

impl Coordinator for Rename {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        let mut replies = replies.into_iter();
        match self.state {
            RenameState::Start if self.only_if_absent => {
                self.state = RenameState::Checked;
                Step::Dispatch(vec![
                    self.exists_op(&self.source),
                    self.exists_op(&self.destination),
                ])
            }
            RenameState::Start => self.take_source(),
            RenameState::Checked => match (replies.next(), replies.next()) {
                (
                    Some(ShardReply::Reply(Reply::Integer(source))),
                    Some(ShardReply::Reply(Reply::Integer(destination))),
                ) => {
                    if source == 0 {
                        Step::Done(Reply::error("ERR no such key"))
                    } else if destination != 0 {
                        Step::Done(Reply::Integer(0))
                    } else {
                        self.take_source()
                    }
                }
                (Some(other @ ShardReply::Reply(_)), _) | (_, Some(other)) => {
                    Step::Done(other.into_reply())
                }
                _ => missing_reply(),
            },
            RenameState::Took => match replies.next() {
                Some(ShardReply::Entry(Some(entry))) => self.put(entry),
                Some(ShardReply::Entry(None)) => Step::Done(Reply::error("ERR no such key")),
                Some(other) => Step::Done(other.into_reply()),
                None => missing_reply(),
            },
            RenameState::Put => match replies.next() {
                // PutIfAbsent refused: the destination appeared meanwhile.
                Some(ShardReply::Entry(Some(entry))) => {
                    self.state = RenameState::PutBack;
                    Step::Dispatch(vec![(
                        shard_of(&self.source, self.shard_count),
                        ShardOp::Put {
                            key: self.source.clone(),
                            entry,
                        },
                    )])
                }
                Some(ShardReply::Entry(None)) | Some(ShardReply::Reply(Reply::Simple(_))) => {
                    Step::Done(self.renamed())
                }
                Some(other) => Step::Done(other.into_reply()),
                None => missing_reply(),
            },
            RenameState::PutBack => Step::Done(Reply::Integer(0)),
        }
    }
}

/// MSETNX across shards: count existing keys everywhere, then set them all.
struct MsetNx {
    args: Vec<Bytes>,
    shard_count: usize,
    checked: bool,
    done: bool,
}

impl MsetNx {
    fn new(args: Vec<Bytes>, shard_count: usize) -> MsetNx {
        MsetNx {
            args,
            shard_count,
            checked: false,
            done: false,
        }
    }
}

impl Coordinator for MsetNx {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        if !self.checked {
            self.checked = true;
            let exists = table::lookup(b"exists").expect("EXISTS is in the table");
            let mut keys = vec![Bytes::from_static(b"EXISTS")];
            keys.extend(self.args.iter().skip(1).step_by(2).cloned());
            return Scatter::by_key(exists, keys, self.shard_count, Merge::SumIntegers)
                .step(Vec::new());
        }
        if !self.done {
            self.done = true;
            let existing: i64 = replies
                .into_iter()
                .map(|reply| {
                    if let ShardReply::Reply(Reply::Integer(n)) = reply {
                        n
                    } else {
                        1
                    }
                })
                .sum();
            if existing > 0 {
                return Step::Done(Reply::Integer(0));
            }
            let mset = table::lookup(b"mset").expect("MSET is in the table");
            let mut args = std::mem::take(&mut self.args);
            args[0] = Bytes::from_static(b"MSET");
            return Scatter::by_key(mset, args, self.shard_count, Merge::AllOk).step(Vec::new());
        }
        match replies
            .into_iter()
            .map(ShardReply::into_reply)
            .find(Reply::is_error)
        {
            Some(error) => Step::Done(error),
            None => Step::Done(Reply::Integer(1)),
        }
    }
}

/// SCAN's cursor: the shard in the top 16 bits, the shard's own cursor below.
const SCAN_SHARD_SHIFT: u32 = 48;
const SCAN_POSITION_MASK: u64 = (1 << SCAN_SHARD_SHIFT) - 1;

/// SCAN over every shard with one cursor. Each call visits shards in order
/// until it has COUNT keys' worth of positions or the scan ends.
struct Scan {
    shard: usize,
    position: u64,
    count: usize,
    pattern: Option<Bytes>,
    type_name: Option<Bytes>,
    shard_count: usize,
    keys: Vec<Bytes>,
    error: Option<Reply>,
    started: bool,
}

impl Scan {
    fn new(args: Vec<Bytes>, shard_count: usize) -> Scan {
        let mut scan = Scan {
            shard: 0,
            position: 0,
            count: 10,
            pattern: None,
            type_name: None,
            shard_count,
            keys: Vec::new(),
            error: None,
            started: false,
        };
        let cursor = std::str::from_utf8(&args[1])
            .ok()
            .and_then(|text| text.parse::<u64>().ok());
        match cursor {
            Some(cursor) => {
                scan.shard = (cursor >> SCAN_SHARD_SHIFT) as usize;
                scan.position = cursor & SCAN_POSITION_MASK;
            }
            None => scan.error = Some(Reply::error("ERR invalid cursor")),
        }
        let mut options = args[2..].iter();
        while let Some(option) = options.next() {
            let value = options.next();
            match (option.to_ascii_uppercase().as_slice(), value) {
                (b"MATCH", Some(pattern)) => scan.pattern = Some(pattern.clone()),
                (b"COUNT", Some(count)) => {
                    match std::str::from_utf8(count)
                        .ok()
                        .and_then(|text| text.parse::<i64>().ok())
                    {
                        Some(count) if count >= 1 => scan.count = count as usize,
                        Some(_) => scan.error = Some(Reply::error("ERR syntax error")),
                        None => {
                            scan.error =
                                Some(Reply::error("ERR value is not an integer or out of range"))
                        }
                    }
                }
                (b"TYPE", Some(type_name)) => scan.type_name = Some(type_name.clone()),
                _ => scan.error = Some(Reply::error("ERR syntax error")),
            }
            if scan.error.is_some() {
                break;
            }
        }
        // "*" matches everything: skip the matcher.
        if scan.pattern.as_deref() == Some(b"*") {
            scan.pattern = None;
        }
        if scan.shard >= shard_count {
            // A cursor from a node with more shards: start over rather than fail.
            scan.shard = 0;
            scan.position = 0;
        }
        scan
    }

    fn cursor(&self) -> u64 {
        ((self.shard as u64) << SCAN_SHARD_SHIFT) | self.position
    }

    fn request(&self) -> Step {
        Step::Dispatch(vec![(
            self.shard,
            ShardOp::Scan {
                cursor: self.position,
                count: self.count,
                pattern: self.pattern.clone(),
                type_name: self.type_name.clone(),
            },
        )])
    }

    fn finish(&mut self) -> Step {
        Step::Done(Reply::Array(vec![
            Reply::Bulk(Bytes::from(self.cursor().to_string())),
            Reply::Array(
                std::mem::take(&mut self.keys)
                    .into_iter()
                    .map(Reply::Bulk)
                    .collect(),
            ),
        ]))
    }
}

impl Coordinator for Scan {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        if let Some(error) = self.error.take() {
            return Step::Done(error);
        }
        if !self.started {
            self.started = true;
            return self.request();
        }
        match replies.into_iter().next() {
            Some(ShardReply::Scan { cursor, keys }) => {
                self.keys.extend(keys);
                if cursor != 0 {
                    self.position = cursor;
                    return self.finish();
                }
                // This shard is done: go on to the next, or end the scan.
                self.position = 0;
                if self.shard + 1 >= self.shard_count {
                    self.shard = 0;
                    return self.finish();
                }
                self.shard += 1;
                if self.keys.len() >= self.count {
                    return self.finish();
                }
                self.request()
            }
            other => Step::Done(Reply::error_owned(format!(
                "ERR internal: unexpected scan reply {other:?}"
            ))),
        }
    }
}

/// RANDOMKEY: a random key from a random non-empty shard.
struct RandomKey {
    shard_count: usize,
    random: u64,
    tried: usize,
    started: bool,
}

impl RandomKey {
    fn new(shard_count: usize, random: u64) -> RandomKey {
        RandomKey {
            shard_count,
            random,
            tried: 0,
            started: false,
        }
    }

    fn ask(&mut self) -> Step {
        let shard = (self.random as usize).wrapping_add(self.tried) % self.shard_count;
        self.tried += 1;
        Step::Dispatch(vec![(
            shard,
            ShardOp::RandomKey {
                random: self.random >> 8,
            },
        )])
    }
}

impl Coordinator for RandomKey {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        if !self.started {
            self.started = true;
            return self.ask();
        }
        match replies.into_iter().next() {
            Some(ShardReply::Key(Some(key))) => Step::Done(Reply::Bulk(key)),
            Some(ShardReply::Key(None)) if self.tried < self.shard_count => self.ask(),
            _ => Step::Done(Reply::Nil),
        }
    }
}
