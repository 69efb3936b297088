//! The set commands (SADD, SREM, SPOP, SINTER, SSCAN, ...): their semantics
//! on one shard's keyspace, with Redis 7's replies and error texts, and
//! their rows of the command table.
//!
//! Handlers here run on the shard that owns every key they name. The
//! multi-key commands (SINTER, SUNION, SDIFF, their STORE forms,
//! SINTERCARD, SMOVE) also run here when all their keys share a shard;
//! otherwise [`cross_shard`] coordinates them with the set algebra below.
//! Reads go through [`set_at`], writes through `update_set`, which creates
//! the set on demand, re-measures it through [`Keyspace::modify`] and
//! deletes the key when the last member goes.
//!
//! This file also holds what the hash family shares with it: the random
//! sampling behind SPOP, SRANDMEMBER and HRANDFIELD, and the cursor and
//! options of SSCAN and HSCAN. Nothing here reads the clock.

pub mod cross_shard;

use std::cell::Cell;
use std::collections::HashSet;

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::string::{NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};
use crate::glob::glob_match;
use crate::keyspace::{parse_i64, Entry, Value};
use crate::table::{flags, CommandSpec, Handler, Route};
use crate::types;
use crate::types::SetValue;
use crate::{ExecContext, Keyspace};

pub use cross_shard::coordinator;

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const COUNT_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const INVALID_CURSOR: &str = "ERR invalid cursor";
const NUMKEYS_NOT_POSITIVE: &str = "ERR numkeys should be greater than 0";
const NUMKEYS_TOO_MANY: &str = "ERR Number of keys can't be greater than number of args";
const LIMIT_NEGATIVE: &str = "ERR LIMIT can't be negative";

/// Most elements one SRANDMEMBER or HRANDFIELD with a negative count may
/// return. Redis streams such a reply; Petrel builds it in memory first,
/// so a count of billions would exhaust memory rather than a socket.
pub const RANDOM_REPLY_ELEMENTS_MAX: u64 = 1 << 22;
const TOO_MANY_RANDOM: &str = "ERR count is out of range: at most 4194304 random elements per call";

const _: () = assert!(
    RANDOM_REPLY_ELEMENTS_MAX == 4_194_304,
    "the error text names it"
);

/// The set at `key`: `Ok(None)` if there is none, WRONGTYPE if the key
/// holds another type.
pub fn set_at<'a>(
    keyspace: &'a mut Keyspace,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a SetValue>, Reply> {
    types::get(keyspace, key, now_ms).map_err(|_| Reply::error(WRONGTYPE))
}

/// Runs `change` on the set at `key` (see [`types::update`]).
fn update_set<R>(
    keyspace: &mut Keyspace,
    key: &Bytes,
    now_ms: u64,
    create: bool,
    change: impl FnOnce(&mut SetValue) -> R,
) -> Result<Option<R>, Reply> {
    types::update(keyspace, key, now_ms, create, change).map_err(|_| Reply::error(WRONGTYPE))
}

fn bulks<'a>(members: impl Iterator<Item = &'a Bytes>) -> Vec<Reply> {
    members.map(|member| Reply::Bulk(member.clone())).collect()
}

// ---- shared with the hash family: randomness ------------------------------

thread_local! {
    /// Each data thread's generator state; 0 until first used.
    static RANDOM_STATE: Cell<u64> = const { Cell::new(0) };
}

/// A small, fast generator for SPOP, SRANDMEMBER and HRANDFIELD
/// (splitmix64). Each shard thread keeps its own stream, seeded from the
/// first `now_ms` it sees, so no lock is shared. Not for secrets.
pub(crate) struct Random {
    state: u64,
}

impl Random {
    pub(crate) fn new(now_ms: u64) -> Random {
        let seed = RANDOM_STATE.with(|state| {
            let mut current = state.get();
            if current == 0 {
                current = now_ms | 1;
            }
            let mut stream = Random { state: current };
            let seed = stream.next_u64();
            state.set(stream.state);
            seed
        });
        Random { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A position in `0..len` (0 when `len` is 0).
    pub(crate) fn below(&mut self, len: usize) -> usize {
        ((u128::from(self.next_u64()) * len as u128) >> 64) as usize
    }
}

/// `count` distinct positions of `0..len` in random order; `count` must be
/// below `len`. O(count) when few are wanted, O(len) when many are, as
/// Redis's SRANDMEMBER chooses between drawing and copying.
pub(crate) fn distinct_positions(len: usize, count: usize, random: &mut Random) -> Vec<usize> {
    let count = count.min(len);
    if count * 3 > len {
        let mut positions: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + random.below(len - i);
            positions.swap(i, j);
        }
        positions.truncate(count);
        positions
    } else {
        // At most a third is wanted, so a draw repeats rarely.
        let mut seen = HashSet::with_capacity(count);
        let mut positions = Vec::with_capacity(count);
        while positions.len() < count {
            let position = random.below(len);
            if seen.insert(position) {
                positions.push(position);
            }
        }
        positions
    }
}

/// SRANDMEMBER's and HRANDFIELD's count: how many, and whether they must be
/// distinct (a negative count allows repeats). Redis refuses `i64::MIN`.
pub(crate) fn random_count(arg: &[u8]) -> Result<(u64, bool), Reply> {
    match parse_i64(arg) {
        None => Err(Reply::error(NOT_AN_INTEGER)),
        Some(i64::MIN) => Err(Reply::error(COUNT_RANGE)),
        Some(count) => Ok((count.unsigned_abs(), count >= 0)),
    }
}

/// Refuses a repeating random reply larger than Petrel builds at once.
pub(crate) fn random_reply_len_ok(elements: u64) -> Result<(), Reply> {
    if elements > RANDOM_REPLY_ELEMENTS_MAX {
        return Err(Reply::error(TOO_MANY_RANDOM));
    }
    Ok(())
}

// ---- shared with the hash family: SSCAN and HSCAN --------------------------

/// A scan cursor as Redis's `parseScanCursorOrReply` reads it with
/// `strtoul`: an optional sign (a negative cursor wraps), decimal digits,
/// nothing else; the empty string is cursor 0.
pub(crate) fn parse_scan_cursor(text: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error(INVALID_CURSOR);
    let (negative, digits) = match text {
        [] => return Ok(0),
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return Err(invalid());
        }
        value = value
            .checked_mul(10)
            .and_then(|value| value.checked_add(u64::from(digit - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// SSCAN's and HSCAN's options.
pub(crate) struct ScanOptions {
    /// `None` matches everything (also for MATCH `*`).
    pub pattern: Option<Bytes>,
    pub count: usize,
}

/// Parses `[MATCH pattern] [COUNT count]` in any order, the last of each
/// winning, as Redis's `scanGenericCommand` does for a value's scan.
pub(crate) fn parse_scan_options(options: &[Bytes]) -> Result<ScanOptions, Reply> {
    let mut parsed = ScanOptions {
        pattern: None,
        count: 10,
    };
    let mut index = 0;
    while index < options.len() {
        let (option, value) = (&options[index], options.get(index + 1));
        match (option.to_ascii_lowercase().as_slice(), value) {
            (b"count", Some(count)) => match parse_i64(count) {
                Some(count) if count >= 1 => parsed.count = count as usize,
                Some(_) => return Err(Reply::error(SYNTAX_ERROR)),
                None => return Err(Reply::error(NOT_AN_INTEGER)),
            },
            (b"match", Some(pattern)) => {
                parsed.pattern = (pattern.as_ref() != b"*").then(|| pattern.clone());
            }
            _ => return Err(Reply::error(SYNTAX_ERROR)),
        }
        index += 2;
    }
    Ok(parsed)
}

pub(crate) fn matches(pattern: &Option<Bytes>, text: &[u8]) -> bool {
    pattern
        .as_ref()
        .is_none_or(|pattern| glob_match(pattern, text, false))
}

/// A scan's reply: the next cursor as a bulk string, then the elements.
pub(crate) fn scan_reply(cursor: u64, elements: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(elements),
    ])
}

// ---- set algebra, shared with the cross-shard coordinators -----------------

/// Which combination of sets a command computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Inter,
    Union,
    Diff,
}

/// The members in every set, smallest set first as Redis walks them; stops
/// after `limit` members (0: no limit). A missing key (`None`) is empty.
/// O(N×M): N the smallest set's size, M the number of sets.
pub(crate) fn intersect<'a>(sets: &[Option<&'a SetValue>], limit: usize) -> Vec<&'a Bytes> {
    let Some(mut sets) = sets.iter().copied().collect::<Option<Vec<&SetValue>>>() else {
        return Vec::new();
    };
    sets.sort_by_key(|set| set.len());
    let Some((smallest, others)) = sets.split_first() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for member in smallest.iter() {
        if others.iter().all(|other| other.contains(member)) {
            found.push(member);
            if found.len() == limit {
                break;
            }
        }
    }
    found
}

/// The members of any set. O(N): N the members of all sets.
pub(crate) fn union(sets: &[Option<&SetValue>]) -> SetValue {
    sets.iter()
        .flatten()
        .flat_map(|set| set.iter().cloned())
        .collect()
}

/// The members of the first set that are in no other, by whichever of
/// Redis's two algorithms its estimate says is cheaper: test each member
/// of the first against the others (O(N×M)), or copy the first and remove
/// the others' members (O(N) over all members).
pub(crate) fn difference(sets: &[Option<&SetValue>]) -> SetValue {
    let Some(Some(first)) = sets.first() else {
        return SetValue::default();
    };
    let mut others: Vec<&SetValue> = sets[1..].iter().flatten().copied().collect();
    let test_each_work = first.len() * (others.len() + 1) / 2;
    let remove_work = first.len() + others.iter().map(|set| set.len()).sum::<usize>();
    if test_each_work <= remove_work {
        // Larger sets first: a member found early is dropped sooner.
        others.sort_by_key(|set| std::cmp::Reverse(set.len()));
        first
            .iter()
            .filter(|member| !others.iter().any(|other| other.contains(member)))
            .cloned()
            .collect()
    } else {
        let mut result: SetValue = first.iter().cloned().collect();
        for other in others {
            for member in other.iter() {
                result.remove(member);
            }
            if result.is_empty() {
                break;
            }
        }
        result
    }
}

/// The result of `op` as a new set, for the STORE forms.
pub(crate) fn combine(op: SetOp, sets: &[Option<&SetValue>]) -> SetValue {
    match op {
        SetOp::Inter => intersect(sets, 0).into_iter().cloned().collect(),
        SetOp::Union => union(sets),
        SetOp::Diff => difference(sets),
    }
}

/// The reply of SINTER, SUNION or SDIFF for `sets`.
pub(crate) fn combine_reply(op: SetOp, sets: &[Option<&SetValue>]) -> Reply {
    match op {
        SetOp::Inter => Reply::Set(bulks(intersect(sets, 0).into_iter())),
        SetOp::Union | SetOp::Diff => Reply::Set(bulks(combine(op, sets).iter())),
    }
}

/// SINTERCARD's arguments: the keys' positions in `args` and the limit
/// (0: none), checked in Redis's order and with its texts.
pub(crate) fn parse_sintercard(args: &[Bytes]) -> Result<(std::ops::Range<usize>, usize), Reply> {
    let numkeys = match parse_i64(&args[1]) {
        Some(numkeys) if numkeys >= 1 => numkeys as u64,
        _ => return Err(Reply::error(NUMKEYS_NOT_POSITIVE)),
    };
    if numkeys > (args.len() - 2) as u64 {
        return Err(Reply::error(NUMKEYS_TOO_MANY));
    }
    let keys = 2..2 + numkeys as usize;
    let mut limit = 0;
    let mut index = keys.end;
    while index < args.len() {
        match args.get(index + 1) {
            Some(value) if args[index].eq_ignore_ascii_case(b"limit") => match parse_i64(value) {
                Some(value) if value >= 0 => limit = value as usize,
                _ => return Err(Reply::error(LIMIT_NEGATIVE)),
            },
            _ => return Err(Reply::error(SYNTAX_ERROR)),
        }
        index += 2;
    }
    Ok((keys, limit))
}

/// Stores a STORE form's result at `destination`, replacing any value and
/// deadline, or deletes the destination when the result is empty.
fn store_result(
    keyspace: &mut Keyspace,
    destination: &Bytes,
    result: SetValue,
    now_ms: u64,
) -> Reply {
    let len = result.len();
    if len == 0 {
        keyspace.remove(destination, now_ms);
    } else {
        keyspace.insert(destination.clone(), Entry::new(Value::Set(result)), now_ms);
    }
    Reply::Integer(len as i64)
}

/// Checks every key's type in key order, reclaiming expired ones, and then
/// borrows the sets all at once. Redis refuses a wrong type anywhere even
/// when an earlier key is missing.
fn sets_of<'a>(
    keyspace: &'a mut Keyspace,
    keys: &[Bytes],
    now_ms: u64,
) -> Result<Vec<Option<&'a SetValue>>, Reply> {
    for key in keys {
        set_at(keyspace, key, now_ms)?;
    }
    let keyspace: &Keyspace = keyspace;
    Ok(keys
        .iter()
        .map(|key| {
            keyspace
                .peek(key, now_ms)
                .and_then(|entry| entry.value.as_set())
        })
        .collect())
}

// ---- handlers --------------------------------------------------------------

fn sadd(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let members = &args[2..];
    let added = update_set(keyspace, &args[1], ctx.now_ms, true, |set| {
        members.iter().filter(|member| set.insert(member)).count()
    });
    match added {
        Ok(added) => Reply::Integer(added.unwrap_or(0) as i64),
        Err(reply) => reply,
    }
}

fn srem(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let members = &args[2..];
    let removed = update_set(keyspace, &args[1], ctx.now_ms, false, |set| {
        members.iter().filter(|member| set.remove(member)).count()
    });
    match removed {
        Ok(removed) => Reply::Integer(removed.unwrap_or(0) as i64),
        Err(reply) => reply,
    }
}

fn smembers(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match set_at(keyspace, &args[1], ctx.now_ms) {
        Ok(set) => Reply::Set(set.map_or_else(Vec::new, |set| bulks(set.iter()))),
        Err(reply) => reply,
    }
}

fn sismember(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match set_at(keyspace, &args[1], ctx.now_ms) {
        Ok(set) => Reply::Integer(i64::from(set.is_some_and(|set| set.contains(&args[2])))),
        Err(reply) => reply,
    }
}

fn smismember(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match set_at(keyspace, &args[1], ctx.now_ms) {
        Ok(set) => Reply::Array(
            args[2..]
                .iter()
                .map(|member| {
                    Reply::Integer(i64::from(set.is_some_and(|set| set.contains(member))))
                })
                .collect(),
        ),
        Err(reply) => reply,
    }
}

fn scard(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match set_at(keyspace, &args[1], ctx.now_ms) {
        Ok(set) => Reply::Integer(set.map_or(0, SetValue::len) as i64),
        Err(reply) => reply,
    }
}

/// SPOP key [count]: O(1) without a count, O(count) with one.
fn spop(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    if args.len() > 3 {
        return Reply::error(SYNTAX_ERROR);
    }
    let mut random = Random::new(ctx.now_ms);
    if args.len() == 2 {
        let popped = update_set(keyspace, &args[1], ctx.now_ms, false, |set| {
            set.remove_index(random.below(set.len()))
        });
        return match popped {
            Ok(popped) => popped.flatten().map_or(Reply::Nil, Reply::Bulk),
            Err(reply) => reply,
        };
    }
    let count = match parse_i64(&args[2]) {
        Some(count) if count >= 0 => count as u64,
        _ => return Reply::error(NOT_POSITIVE),
    };
    let popped = update_set(keyspace, &args[1], ctx.now_ms, false, |set| {
        if count >= set.len() as u64 {
            // Everything: the key goes.
            return std::mem::take(set).iter().cloned().collect();
        }
        (0..count)
            .filter_map(|_| set.remove_index(random.below(set.len())))
            .collect::<Vec<Bytes>>()
    });
    match popped {
        Ok(popped) => Reply::Set(
            popped
                .unwrap_or_default()
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        ),
        Err(reply) => reply,
    }
}

/// SRANDMEMBER key [count]: distinct members for a positive count, with
/// repeats for a negative one.
fn srandmember(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    if args.len() > 3 {
        return Reply::error(SYNTAX_ERROR);
    }
    let mut random = Random::new(ctx.now_ms);
    if args.len() == 2 {
        return match set_at(keyspace, &args[1], ctx.now_ms) {
            Ok(set) => set
                .and_then(|set| set.get_index(random.below(set.len())))
                .map_or(Reply::Nil, |member| Reply::Bulk(member.clone())),
            Err(reply) => reply,
        };
    }
    let (count, distinct) = match random_count(&args[2]) {
        Ok(count) => count,
        Err(reply) => return reply,
    };
    let set = match set_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(set)) => set,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(reply) => return reply,
    };
    let len = set.len();
    if count == 0 {
        return Reply::Array(Vec::new());
    }
    if !distinct || count == 1 {
        if let Err(reply) = random_reply_len_ok(count) {
            return reply;
        }
        return Reply::Array(
            (0..count)
                .filter_map(|_| set.get_index(random.below(len)))
                .map(|member| Reply::Bulk(member.clone()))
                .collect(),
        );
    }
    if count >= len as u64 {
        return Reply::Array(bulks(set.iter()));
    }
    Reply::Array(
        distinct_positions(len, count as usize, &mut random)
            .into_iter()
            .filter_map(|position| set.get_index(position))
            .map(|member| Reply::Bulk(member.clone()))
            .collect(),
    )
}

/// SMOVE source destination member, when both keys share a shard.
fn smove(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let now = ctx.now_ms;
    let (source, destination, member) = (&args[1], &args[2], &args[3]);
    // A missing source answers 0 before the destination's type is checked.
    let is_member = match set_at(keyspace, source, now) {
        Ok(None) => return Reply::Integer(0),
        Ok(Some(set)) => set.contains(member),
        Err(reply) => return reply,
    };
    if let Err(reply) = set_at(keyspace, destination, now) {
        return reply;
    }
    if source == destination || !is_member {
        return Reply::Integer(i64::from(is_member));
    }
    if let Err(reply) = update_set(keyspace, source, now, false, |set| set.remove(member)) {
        return reply;
    }
    match update_set(keyspace, destination, now, true, |set| set.insert(member)) {
        Ok(_) => Reply::Integer(1),
        Err(reply) => reply,
    }
}

fn algebra(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext, op: SetOp) -> Reply {
    match sets_of(keyspace, &args[1..], ctx.now_ms) {
        Ok(sets) => combine_reply(op, &sets),
        Err(reply) => reply,
    }
}

fn algebra_store(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext, op: SetOp) -> Reply {
    let result = match sets_of(keyspace, &args[2..], ctx.now_ms) {
        Ok(sets) => combine(op, &sets),
        Err(reply) => return reply,
    };
    store_result(keyspace, &args[1], result, ctx.now_ms)
}

fn sinter(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    algebra(keyspace, args, ctx, SetOp::Inter)
}

fn sunion(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    algebra(keyspace, args, ctx, SetOp::Union)
}

fn sdiff(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    algebra(keyspace, args, ctx, SetOp::Diff)
}

fn sinterstore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    algebra_store(keyspace, args, ctx, SetOp::Inter)
}

fn sunionstore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    algebra_store(keyspace, args, ctx, SetOp::Union)
}

fn sdiffstore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    algebra_store(keyspace, args, ctx, SetOp::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let (keys, limit) = match parse_sintercard(args) {
        Ok(parsed) => parsed,
        Err(reply) => return reply,
    };
    match sets_of(keyspace, &args[keys], ctx.now_ms) {
        Ok(sets) => Reply::Integer(intersect(&sets, limit).len() as i64),
        Err(reply) => reply,
    }
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]. An intset comes back
/// whole in one call, as in Redis.
fn sscan(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let cursor = match parse_scan_cursor(&args[2]) {
        Ok(cursor) => cursor,
        Err(reply) => return reply,
    };
    let set = match set_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(set)) => set,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(reply) => return reply,
    };
    let options = match parse_scan_options(&args[3..]) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let (cursor, count) = if set.is_compact() {
        (0, set.len())
    } else {
        (cursor, options.count)
    };
    let mut found = Vec::new();
    let next = set.scan(cursor, count, |member| {
        if matches(&options.pattern, member) {
            found.push(Reply::Bulk(member.clone()));
        }
    });
    scan_reply(next, found)
}

// ---- table rows ------------------------------------------------------------

#[allow(clippy::too_many_arguments, reason = "one argument per table column")]
const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    route: Route,
    handler: Handler,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec::row(
        "set",
        name,
        arity,
        flags,
        keys,
        route,
        Some(handler),
        summary,
        since,
        arguments,
    )
}

const W: u32 = flags::WRITE;
const R: u32 = flags::READONLY;
const M: u32 = flags::DENYOOM;
const F: u32 = flags::FAST;
const ONE_KEY: (i32, i32, i32) = (1, 1, 1);
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
/// SINTERCARD's keys follow a count (Redis's movable keys): the table
/// cannot say where, so the handler and coordinator find them.
const COUNTED_KEYS: (i32, i32, i32) = (0, 0, 0);
const C: Route = Route::Coordinated;

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    row("sadd", -3, W | M | F, ONE_KEY, Route::Key, sadd,
        "Add one or more members to a set", "1.0.0", "key member [member ...]"),
    row("srem", -3, W | F, ONE_KEY, Route::Key, srem,
        "Remove one or more members from a set", "1.0.0", "key member [member ...]"),
    row("smembers", 2, R, ONE_KEY, Route::Key, smembers,
        "Get all the members in a set", "1.0.0", "key"),
    row("sismember", 3, R | F, ONE_KEY, Route::Key, sismember,
        "Determine if a given value is a member of a set", "1.0.0", "key member"),
    row("smismember", -3, R | F, ONE_KEY, Route::Key, smismember,
        "Returns the membership associated with the given elements for a set", "6.2.0",
        "key member [member ...]"),
    row("scard", 2, R | F, ONE_KEY, Route::Key, scard,
        "Get the number of members in a set", "1.0.0", "key"),
    row("spop", -2, W | F, ONE_KEY, Route::Key, spop,
        "Remove and return one or multiple random members from a set", "1.0.0", "key [count]"),
    row("srandmember", -2, R, ONE_KEY, Route::Key, srandmember,
        "Get one or multiple random members from a set", "1.0.0", "key [count]"),
    row("smove", 4, W | F, TWO_KEYS, C, smove,
        "Move a member from one set to another", "1.0.0", "source destination member"),
    row("sinter", -2, R, ALL_KEYS, C, sinter,
        "Intersect multiple sets", "1.0.0", "key [key ...]"),
    row("sunion", -2, R, ALL_KEYS, C, sunion,
        "Add multiple sets", "1.0.0", "key [key ...]"),
    row("sdiff", -2, R, ALL_KEYS, C, sdiff,
        "Subtract multiple sets", "1.0.0", "key [key ...]"),
    row("sinterstore", -3, W | M, ALL_KEYS, C, sinterstore,
        "Intersect multiple sets and store the resulting set in a key", "1.0.0",
        "destination key [key ...]"),
    row("sunionstore", -3, W | M, ALL_KEYS, C, sunionstore,
        "Add multiple sets and store the resulting set in a key", "1.0.0",
        "destination key [key ...]"),
    row("sdiffstore", -3, W | M, ALL_KEYS, C, sdiffstore,
        "Subtract multiple sets and store the resulting set in a key", "1.0.0",
        "destination key [key ...]"),
    row("sintercard", -3, R, COUNTED_KEYS, C, sintercard,
        "Intersect multiple sets and return the cardinality of the result", "7.0.0",
        "numkeys key [key ...] [LIMIT limit]"),
    row("sscan", -3, R, ONE_KEY, Route::Key, sscan,
        "Incrementally iterate Set elements", "2.8.0",
        "key cursor [MATCH pattern] [COUNT count]"),
];

#[cfg(test)]
mod tests;
