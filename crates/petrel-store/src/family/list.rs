//! The list commands (LPUSH, LPOP, LRANGE, LMOVE, BLPOP, ...): their
//! semantics on one shard's keyspace, with Redis 7.0's replies and error
//! texts, the coordinators that run LMOVE, RPOPLPUSH, BLMOVE, BLPOP and
//! BRPOP across shards, and their rows of the command table.
//!
//! Handlers must not read the clock (time is `ctx.now_ms`) or know other
//! shards. A list that becomes empty is deleted at once, so no command ever
//! sees an empty list.
//!
//! # Blocking commands
//!
//! BLPOP, BRPOP and BLMOVE are rows with the BLOCKING flag whose handlers
//! never wait: they *try*. When an element is available they answer exactly
//! what the blocking command answers (`[key, element]` for BLPOP and BRPOP,
//! the element for BLMOVE) and have popped it. When none is, they change
//! nothing and answer [`Reply::NilArray`], which means "would block". Their
//! arguments are checked first (timeout, `LEFT`/`RIGHT`), so an error is
//! always an error, never a reason to block. The waiting is the engine's:
//!
//! 1. Run the command as usual (its handler on one shard, or its
//!    coordinator from [`crate::route::coordinator`] when the keys span
//!    shards: the coordinator tries each key in order and answers NilArray
//!    only if none had an element).
//! 2. On any reply but NilArray, send it. On NilArray, if the client may not
//!    block (inside MULTI/EXEC, or from a script), send the would-block
//!    reply as it is, except that Redis answers a non-blocking BLMOVE with a
//!    nil bulk string ([`Reply::Nil`]) rather than a nil array.
//! 3. Otherwise park the client: remember the command's arguments, its
//!    deadline from [`blocking_timeout_ms`] (`None`: wait forever) added to
//!    the time of the call, and register it as a waiter on every key it
//!    names (for BLMOVE, the source only), on the shard that owns the key.
//!    Waiters on one key form a FIFO queue in arrival order.
//! 4. After any write command (or [`crate::ShardOp`] such as a cross-shard
//!    RENAME's `Put`) has run on a shard, for each key it wrote that has
//!    waiters, re-run the oldest waiter's command with the same arguments
//!    (restricted, for BLPOP over several shards, to the keys on this shard,
//!    in the client's order). If it answers anything but NilArray, send that
//!    reply, unpark the client from every key and repeat with the next
//!    waiter; stop at the first NilArray. As in Redis, the write's own
//!    client gets its reply first and a waiter sees the list after the whole
//!    write; a BLMOVE served this way pushes to its destination, which may
//!    in turn serve waiters on that key.
//! 5. When the deadline passes, unpark the client and send [`Reply::NilArray`]
//!    (Redis 7.0 answers a timed-out BLMOVE with a nil array too). A client
//!    that disconnects is unparked from every key, leaving no trace.

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::string::{NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};
use crate::family::zset::{parse_timeout_ms, TimeoutError};
use crate::keyspace::{parse_i64, Entry, Value};
use crate::route::{shard_of, Coordinator, ShardOp, ShardReply, Step};
use crate::table::{self, flags, CommandSpec, Handler, Route};
use crate::types;
use crate::types::list::{owned_element, End, ListValue};
use crate::{ExecContext, Keyspace};

const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
const NO_SUCH_KEY: &str = "ERR no such key";
const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";

/// The list at `key`: `Ok(None)` if there is none, WRONGTYPE if the key
/// holds another type.
pub fn list_at<'a>(
    keyspace: &'a mut Keyspace,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a ListValue>, Reply> {
    types::get(keyspace, key, now_ms).map_err(|_| Reply::error(WRONGTYPE))
}

/// Changes the list at `key` in place, then deletes the key if the list
/// became empty. `Ok(None)` if there is no key.
fn with_list<R>(
    keyspace: &mut Keyspace,
    key: &[u8],
    now_ms: u64,
    change: impl FnOnce(&mut ListValue) -> R,
) -> Result<Option<R>, Reply> {
    types::update(keyspace, key, now_ms, false, change).map_err(|_| Reply::error(WRONGTYPE))
}

/// Pushes `elements` at `end` of the list at `key`, creating it unless
/// `only_existing`. Returns the new length (0 when nothing was created).
fn push_elements(
    keyspace: &mut Keyspace,
    key: &Bytes,
    elements: &[Bytes],
    end: End,
    only_existing: bool,
    now_ms: u64,
) -> Result<usize, Reply> {
    let pushed = with_list(keyspace, key, now_ms, |list| {
        for element in elements {
            list.push(end, owned_element(element.clone()));
        }
        list.len()
    })?;
    match pushed {
        Some(len) => Ok(len),
        None if only_existing => Ok(0),
        None => {
            let mut list = ListValue::new();
            for element in elements {
                list.push(end, owned_element(element.clone()));
            }
            let len = list.len();
            keyspace.insert(key.clone(), Entry::new(Value::List(list)), now_ms);
            Ok(len)
        }
    }
}

/// Redis's index arithmetic for LRANGE, LTRIM, ZRANGE and ZREMRANGEBYRANK:
/// negative indexes count from the end, `start` is clamped at 0 and `end`
/// at the last element. `None` when the range is empty.
pub fn index_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    // len >= 0, so adding a negative index cannot overflow.
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// A single index (LINDEX, LSET): negative counts from the end.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

fn integer_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(NOT_AN_INTEGER))
}

/// Redis's `getPositiveLongFromObjectOrReply` with its own message for both
/// a non-integer and a negative value.
fn non_negative_arg(arg: &[u8], message: &'static str) -> Result<i64, Reply> {
    match parse_i64(arg) {
        Some(value) if value >= 0 => Ok(value),
        _ => Err(Reply::error(message)),
    }
}

/// The timeout argument of BLPOP, BRPOP and BLMOVE as a duration in
/// milliseconds (`None`: block forever), or Redis's error reply. The engine
/// adds it to the time of the call to get the deadline.
pub fn blocking_timeout_ms(arg: &[u8]) -> Result<Option<u64>, Reply> {
    parse_timeout_ms(arg).map_err(|error: TimeoutError| Reply::error(error.message()))
}

// ---- push and pop --------------------------------------------------------

fn push_command(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    end: End,
    only_existing: bool,
) -> Reply {
    match push_elements(
        keyspace,
        &args[1],
        &args[2..],
        end,
        only_existing,
        ctx.now_ms,
    ) {
        Ok(len) => Reply::Integer(len as i64),
        Err(reply) => reply,
    }
}

fn lpush(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    push_command(keyspace, args, ctx, End::Left, false)
}

fn rpush(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    push_command(keyspace, args, ctx, End::Right, false)
}

fn lpushx(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    push_command(keyspace, args, ctx, End::Left, true)
}

fn rpushx(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    push_command(keyspace, args, ctx, End::Right, true)
}

/// LPOP and RPOP `key [count]`: a bulk string without a count, an array
/// with one; a missing key is a nil of the matching shape.
fn pop_command(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext, end: End) -> Reply {
    if args.len() > 3 {
        return table::arity_error_reply(&args[0]);
    }
    let count = match args.get(2) {
        None => None,
        Some(arg) => match non_negative_arg(arg, NOT_POSITIVE) {
            Ok(count) => Some(count as u64),
            Err(reply) => return reply,
        },
    };
    let key = &args[1];
    match list_at(keyspace, key, ctx.now_ms) {
        Ok(Some(_)) => {}
        Ok(None) if count.is_some() => return Reply::NilArray,
        Ok(None) => return Reply::Nil,
        Err(reply) => return reply,
    }
    if count == Some(0) {
        return Reply::Array(Vec::new());
    }
    let popped = with_list(keyspace, key, ctx.now_ms, |list| match count {
        None => list.pop(end).map_or(Reply::Nil, Reply::Bulk),
        Some(count) => {
            let take = count.min(list.len() as u64) as usize;
            Reply::Array(
                (0..take)
                    .filter_map(|_| list.pop(end))
                    .map(Reply::Bulk)
                    .collect(),
            )
        }
    });
    match popped {
        Ok(Some(reply)) => reply,
        Ok(None) => Reply::Nil,
        Err(reply) => reply,
    }
}

fn lpop(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    pop_command(keyspace, args, ctx, End::Left)
}

fn rpop(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    pop_command(keyspace, args, ctx, End::Right)
}

// ---- reading and editing in place ------------------------------------------

fn llen(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match list_at(keyspace, &args[1], ctx.now_ms) {
        Ok(list) => Reply::Integer(list.map_or(0, ListValue::len) as i64),
        Err(reply) => reply,
    }
}

fn lrange(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let (start, end) = match (integer_arg(&args[2]), integer_arg(&args[3])) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    let list = match list_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(list)) => list,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(reply) => return reply,
    };
    match index_range(start, end, list.len()) {
        Some((first, last)) => Reply::Array(
            list.range(first, last)
                .map(|element| Reply::Bulk(element.clone()))
                .collect(),
        ),
        None => Reply::Array(Vec::new()),
    }
}

/// LINDEX looks the key up before it reads the index, as Redis does.
fn lindex(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let list = match list_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(list)) => list,
        Ok(None) => return Reply::Nil,
        Err(reply) => return reply,
    };
    let index = match integer_arg(&args[2]) {
        Ok(index) => index,
        Err(reply) => return reply,
    };
    resolve_index(index, list.len())
        .and_then(|index| list.get(index))
        .map_or(Reply::Nil, |element| Reply::Bulk(element.clone()))
}

fn lset(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let len = match list_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(list)) => list.len(),
        Ok(None) => return Reply::error(NO_SUCH_KEY),
        Err(reply) => return reply,
    };
    let index = match integer_arg(&args[2]) {
        Ok(index) => index,
        Err(reply) => return reply,
    };
    let Some(index) = resolve_index(index, len) else {
        return Reply::error(INDEX_OUT_OF_RANGE);
    };
    let element = owned_element(args[3].clone());
    match with_list(keyspace, &args[1], ctx.now_ms, |list| {
        list.set(index, element)
    }) {
        Ok(Some(true)) => Reply::ok(),
        Ok(_) => Reply::error(INDEX_OUT_OF_RANGE),
        Err(reply) => reply,
    }
}

/// LREM key count element: count > 0 from the left, < 0 from the right,
/// 0 every occurrence.
fn lrem(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let count = match integer_arg(&args[2]) {
        Ok(count) => count,
        Err(reply) => return reply,
    };
    let (limit, from) = match count {
        0 => (None, End::Left),
        count if count > 0 => (Some(count.unsigned_abs()), End::Left),
        count => (Some(count.unsigned_abs()), End::Right),
    };
    let element = &args[3];
    match with_list(keyspace, &args[1], ctx.now_ms, |list| {
        list.remove_matching(element, limit, from)
    }) {
        Ok(removed) => Reply::Integer(removed.unwrap_or(0) as i64),
        Err(reply) => reply,
    }
}

fn ltrim(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let (start, end) = match (integer_arg(&args[2]), integer_arg(&args[3])) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    let trimmed = with_list(keyspace, &args[1], ctx.now_ms, |list| {
        match index_range(start, end, list.len()) {
            Some((first, last)) => list.keep_range(first, last),
            None => list.keep_range(1, 0),
        }
    });
    match trimmed {
        Ok(_) => Reply::ok(),
        Err(reply) => reply,
    }
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, 0 without the
/// key, -1 without the pivot.
fn linsert(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let after = if args[2].eq_ignore_ascii_case(b"after") {
        true
    } else if args[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Reply::error(SYNTAX_ERROR);
    };
    let (pivot, element) = (&args[3], &args[4]);
    let inserted = with_list(keyspace, &args[1], ctx.now_ms, |list| {
        let position = list.iter().position(|item| item == pivot)?;
        list.insert(
            position + usize::from(after),
            owned_element(element.clone()),
        );
        Some(list.len())
    });
    match inserted {
        Ok(Some(Some(len))) => Reply::Integer(len as i64),
        Ok(Some(None)) => Reply::Integer(-1),
        Ok(None) => Reply::Integer(0),
        Err(reply) => reply,
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
fn lpos(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let element = &args[2];
    let mut rank: i64 = 1;
    // -1: no COUNT option; 0: every match.
    let mut count: i64 = -1;
    let mut maxlen: i64 = 0;
    let mut index = 3;
    while index < args.len() {
        let option = &args[index];
        let value = args.get(index + 1);
        match value {
            Some(value) if option.eq_ignore_ascii_case(b"rank") => match integer_arg(value) {
                Ok(0) => return Reply::error(RANK_ZERO),
                Ok(parsed) => rank = parsed,
                Err(reply) => return reply,
            },
            Some(value) if option.eq_ignore_ascii_case(b"count") => {
                match non_negative_arg(value, COUNT_NEGATIVE) {
                    Ok(parsed) => count = parsed,
                    Err(reply) => return reply,
                }
            }
            Some(value) if option.eq_ignore_ascii_case(b"maxlen") => {
                match non_negative_arg(value, MAXLEN_NEGATIVE) {
                    Ok(parsed) => maxlen = parsed,
                    Err(reply) => return reply,
                }
            }
            _ => return Reply::error(SYNTAX_ERROR),
        }
        index += 2;
    }
    let from_right = rank < 0;
    // Redis negates with C's wrap-around, so a RANK of i64::MIN stays
    // negative and then matches from the first hit: keep that.
    if from_right {
        rank = rank.wrapping_neg();
    }
    let list = match list_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(list)) => list,
        Ok(None) if count != -1 => return Reply::Array(Vec::new()),
        Ok(None) => return Reply::Nil,
        Err(reply) => return reply,
    };
    let len = list.len();
    let scanned = if maxlen == 0 {
        len
    } else {
        len.min(maxlen as usize)
    };
    let candidates: Box<dyn Iterator<Item = (usize, &Bytes)>> = if from_right {
        Box::new(list.iter().rev().enumerate().take(scanned))
    } else {
        Box::new(list.iter().enumerate().take(scanned))
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for (offset, item) in candidates {
        if item != element {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let position = if from_right { len - offset - 1 } else { offset };
        found.push(Reply::Integer(position as i64));
        if count == -1 {
            break;
        }
        if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
            break;
        }
    }
    if count != -1 {
        Reply::Array(found)
    } else {
        found.pop().unwrap_or(Reply::Nil)
    }
}

// ---- moving between lists --------------------------------------------------

/// What a move answers when the source has no element: LMOVE a nil bulk
/// string, BLMOVE's try a nil array ("would block").
#[derive(Clone, Copy, PartialEq, Eq)]
enum WhenEmpty {
    Nil,
    WouldBlock,
}

impl WhenEmpty {
    fn reply(self) -> Reply {
        match self {
            WhenEmpty::Nil => Reply::Nil,
            WhenEmpty::WouldBlock => Reply::NilArray,
        }
    }
}

/// Pops from `source` at `from` and pushes to `destination` at `to`, both on
/// this shard, atomically; the same key rotates the list. Errors and the
/// order of checks follow Redis's `lmoveGenericCommand`.
fn move_element(
    keyspace: &mut Keyspace,
    source: &Bytes,
    destination: &Bytes,
    (from, to): (End, End),
    when_empty: WhenEmpty,
    now_ms: u64,
) -> Reply {
    match list_at(keyspace, source, now_ms) {
        Ok(Some(_)) => {}
        Ok(None) => return when_empty.reply(),
        Err(reply) => return reply,
    }
    if let Err(reply) = list_at(keyspace, destination, now_ms) {
        return reply;
    }
    let popped = if source == destination {
        // Rotate in one step so the list never looks empty (and is never deleted).
        keyspace.modify(source, now_ms, |value| match value {
            Value::List(list) => {
                let element = list.pop(from)?;
                list.push(to, element.clone());
                Some(element)
            }
            _ => None,
        })
    } else {
        with_list(keyspace, source, now_ms, |list| list.pop(from))
            .ok()
            .flatten()
    };
    let Some(Some(element)) = popped else {
        return when_empty.reply();
    };
    if source != destination {
        if let Err(reply) = push_elements(
            keyspace,
            destination,
            std::slice::from_ref(&element),
            to,
            false,
            now_ms,
        ) {
            return reply;
        }
    }
    Reply::Bulk(element)
}

fn sides(args: &[Bytes]) -> Result<(End, End), Reply> {
    match (End::parse(&args[3]), End::parse(&args[4])) {
        (Some(from), Some(to)) => Ok((from, to)),
        _ => Err(Reply::error(SYNTAX_ERROR)),
    }
}

fn lmove(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match sides(args) {
        Ok(sides) => move_element(
            keyspace,
            &args[1],
            &args[2],
            sides,
            WhenEmpty::Nil,
            ctx.now_ms,
        ),
        Err(reply) => reply,
    }
}

fn rpoplpush(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    move_element(
        keyspace,
        &args[1],
        &args[2],
        (End::Right, End::Left),
        WhenEmpty::Nil,
        ctx.now_ms,
    )
}

/// BLMOVE's try (see the module documentation): the element if the source
/// has one, NilArray if it would block.
fn blmove(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let sides = match sides(args) {
        Ok(sides) => sides,
        Err(reply) => return reply,
    };
    if let Err(reply) = blocking_timeout_ms(&args[5]) {
        return reply;
    }
    move_element(
        keyspace,
        &args[1],
        &args[2],
        sides,
        WhenEmpty::WouldBlock,
        ctx.now_ms,
    )
}

/// BLPOP and BRPOP's try: pops from the first key in order that has an
/// element and answers `[key, element]`; NilArray if it would block. A key
/// of another type met on the way is an error, as in Redis.
fn blocking_pop(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext, end: End) -> Reply {
    let Some((timeout, keys)) = args[1..].split_last() else {
        return table::arity_error_reply(&args[0]);
    };
    if let Err(reply) = blocking_timeout_ms(timeout) {
        return reply;
    }
    for key in keys {
        match with_list(keyspace, key, ctx.now_ms, |list| list.pop(end)) {
            Ok(None) | Ok(Some(None)) => continue,
            Ok(Some(Some(element))) => {
                return Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(element)])
            }
            Err(reply) => return reply,
        }
    }
    Reply::NilArray
}

fn blpop(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    blocking_pop(keyspace, args, ctx, End::Left)
}

fn brpop(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    blocking_pop(keyspace, args, ctx, End::Right)
}

// ---- coordinators ------------------------------------------------------------

fn command_spec(name: &str) -> &'static CommandSpec {
    // Every name passed here is a row of this crate's table.
    table::lookup(name.as_bytes()).expect("command is in the table")
}

fn unexpected(reply: Option<ShardReply>) -> Step {
    Step::Done(match reply {
        Some(ShardReply::Reply(reply)) => reply,
        other => Reply::error_owned(format!("ERR internal: unexpected shard reply {other:?}")),
    })
}

/// The coordinator for LMOVE, RPOPLPUSH and BLMOVE (see
/// [`crate::route::coordinator`]).
pub fn move_coordinator(
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    shard_count: usize,
) -> Box<dyn Coordinator> {
    Box::new(MoveAcross::new(spec, args, shard_count))
}

/// LMOVE, RPOPLPUSH and BLMOVE between lists on two shards: look at both
/// keys' types (so that errors come in Redis's order and nothing is popped
/// that cannot be pushed), pop on the source's shard, push on the
/// destination's. Should the destination have changed type in between, the
/// element goes back where it came from and the client gets WRONGTYPE.
/// Between the pop and the push another client sees the element in neither
/// list; the cross-shard transaction mechanism will close that window.
struct MoveAcross {
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    shard_count: usize,
    sides: (End, End),
    when_empty: WhenEmpty,
    state: MoveState,
    element: Option<Bytes>,
    /// The push's error, answered once the element is back in the source.
    error: Option<Reply>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MoveState {
    Start,
    /// Whole command sent to the one shard owning both keys.
    Local,
    Typed,
    Popped,
    Pushed,
    PutBack,
}

impl MoveAcross {
    fn new(spec: &'static CommandSpec, args: Vec<Bytes>, shard_count: usize) -> MoveAcross {
        let when_empty = if spec.has_flag(flags::BLOCKING) {
            WhenEmpty::WouldBlock
        } else {
            WhenEmpty::Nil
        };
        MoveAcross {
            spec,
            args,
            shard_count: shard_count.max(1),
            sides: (End::Right, End::Left),
            when_empty,
            state: MoveState::Start,
            element: None,
            error: None,
        }
    }

    fn source(&self) -> &Bytes {
        &self.args[1]
    }

    fn destination(&self) -> &Bytes {
        &self.args[2]
    }

    fn shard(&self, key: &[u8]) -> usize {
        shard_of(key, self.shard_count)
    }

    fn start(&mut self) -> Step {
        if self.spec.name != "rpoplpush" {
            match sides(&self.args) {
                Ok(sides) => self.sides = sides,
                Err(reply) => return Step::Done(reply),
            }
        }
        if self.spec.name == "blmove" {
            if let Err(reply) = blocking_timeout_ms(&self.args[5]) {
                return Step::Done(reply);
            }
        }
        let source_shard = self.shard(self.source());
        let destination_shard = self.shard(self.destination());
        if source_shard == destination_shard {
            self.state = MoveState::Local;
            return Step::Dispatch(vec![(
                source_shard,
                ShardOp::Command {
                    spec: self.spec,
                    args: self.args.clone(),
                },
            )]);
        }
        self.state = MoveState::Typed;
        let type_of = |key: &Bytes| ShardOp::Command {
            spec: command_spec("type"),
            args: vec![Bytes::from_static(b"TYPE"), key.clone()],
        };
        Step::Dispatch(vec![
            (source_shard, type_of(self.source())),
            (destination_shard, type_of(self.destination())),
        ])
    }

    fn pop(&mut self) -> Step {
        self.state = MoveState::Popped;
        let (name, command) = match self.sides.0 {
            End::Left => ("lpop", "LPOP"),
            End::Right => ("rpop", "RPOP"),
        };
        Step::Dispatch(vec![(
            self.shard(self.source()),
            ShardOp::Command {
                spec: command_spec(name),
                args: vec![
                    Bytes::from_static(command.as_bytes()),
                    self.source().clone(),
                ],
            },
        )])
    }

    fn push(&mut self, key: Bytes, end: End, element: Bytes) -> Step {
        let (name, command) = match end {
            End::Left => ("lpush", "LPUSH"),
            End::Right => ("rpush", "RPUSH"),
        };
        Step::Dispatch(vec![(
            self.shard(&key),
            ShardOp::Command {
                spec: command_spec(name),
                args: vec![Bytes::from_static(command.as_bytes()), key, element],
            },
        )])
    }
}

impl Coordinator for MoveAcross {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        let mut replies = replies.into_iter();
        match self.state {
            MoveState::Start => self.start(),
            MoveState::Local => unexpected(replies.next()),
            MoveState::Typed => match (replies.next(), replies.next()) {
                (
                    Some(ShardReply::Reply(Reply::Simple(source))),
                    Some(ShardReply::Reply(Reply::Simple(destination))),
                ) => {
                    if source.as_ref() == b"none" {
                        Step::Done(self.when_empty.reply())
                    } else if source.as_ref() != b"list"
                        || !matches!(destination.as_ref(), b"none" | b"list")
                    {
                        Step::Done(Reply::error(WRONGTYPE))
                    } else {
                        self.pop()
                    }
                }
                (Some(ShardReply::Reply(Reply::Simple(_))), other) | (other, _) => {
                    unexpected(other)
                }
            },
            MoveState::Popped => match replies.next() {
                Some(ShardReply::Reply(Reply::Bulk(element))) => {
                    self.state = MoveState::Pushed;
                    self.element = Some(element.clone());
                    let destination = self.destination().clone();
                    self.push(destination, self.sides.1, element)
                }
                // Emptied by another client since the type check.
                Some(ShardReply::Reply(Reply::Nil)) => Step::Done(self.when_empty.reply()),
                other => unexpected(other),
            },
            MoveState::Pushed => match (replies.next(), self.element.take()) {
                (Some(ShardReply::Reply(Reply::Integer(_))), Some(element)) => {
                    Step::Done(Reply::Bulk(element))
                }
                (Some(ShardReply::Reply(error @ Reply::Error(_))), Some(element)) => {
                    // The destination changed type meanwhile: undo the pop.
                    self.state = MoveState::PutBack;
                    self.error = Some(error);
                    let source = self.source().clone();
                    self.push(source, self.sides.0, element)
                }
                (other, _) => unexpected(other),
            },
            MoveState::PutBack => {
                Step::Done(self.error.take().unwrap_or_else(|| Reply::error(WRONGTYPE)))
            }
        }
    }
}

/// The coordinator for BLPOP and BRPOP whose keys span shards (see
/// [`crate::route::coordinator`]).
pub fn blocking_pop_coordinator(
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    shard_count: usize,
) -> Box<dyn Coordinator> {
    Box::new(PopAcross::new(spec, args, shard_count))
}

/// BLPOP and BRPOP's try across shards: the keys are cut into runs of
/// consecutive keys on one shard, and each run is tried in the client's
/// order until one pops. Answers NilArray ("would block") if none did.
struct PopAcross {
    spec: &'static CommandSpec,
    name: Bytes,
    timeout: Bytes,
    /// (shard, keys) in the client's order.
    runs: Vec<(usize, Vec<Bytes>)>,
    next_run: usize,
}

impl PopAcross {
    fn new(spec: &'static CommandSpec, args: Vec<Bytes>, shard_count: usize) -> PopAcross {
        let mut runs: Vec<(usize, Vec<Bytes>)> = Vec::new();
        let keys = &args[1..args.len().saturating_sub(1).max(1)];
        for key in keys {
            let shard = shard_of(key, shard_count.max(1));
            match runs.last_mut() {
                Some((last, run)) if *last == shard => run.push(key.clone()),
                _ => runs.push((shard, vec![key.clone()])),
            }
        }
        PopAcross {
            spec,
            name: args[0].clone(),
            timeout: args.last().cloned().unwrap_or_default(),
            runs,
            next_run: 0,
        }
    }

    fn try_next(&mut self) -> Step {
        let Some((shard, keys)) = self.runs.get(self.next_run) else {
            return Step::Done(Reply::NilArray);
        };
        self.next_run += 1;
        let mut args = Vec::with_capacity(keys.len() + 2);
        args.push(self.name.clone());
        args.extend(keys.iter().cloned());
        args.push(self.timeout.clone());
        Step::Dispatch(vec![(
            *shard,
            ShardOp::Command {
                spec: self.spec,
                args,
            },
        )])
    }
}

impl Coordinator for PopAcross {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        if self.next_run == 0 {
            if let Err(reply) = blocking_timeout_ms(&self.timeout) {
                return Step::Done(reply);
            }
            return self.try_next();
        }
        match replies.into_iter().next() {
            Some(ShardReply::Reply(Reply::NilArray)) => self.try_next(),
            other => unexpected(other),
        }
    }
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
        "list",
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
const B: u32 = flags::BLOCKING | flags::NOSCRIPT;
const ONE_KEY: (i32, i32, i32) = (1, 1, 1);
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);
const KEYS_THEN_TIMEOUT: (i32, i32, i32) = (1, -2, 1);

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    row("lpush", -3, W | M | F, ONE_KEY, Route::Key, lpush,
        "Prepend one or multiple elements to a list", "1.0.0", "key element [element ...]"),
    row("rpush", -3, W | M | F, ONE_KEY, Route::Key, rpush,
        "Append one or multiple elements to a list", "1.0.0", "key element [element ...]"),
    row("lpushx", -3, W | M | F, ONE_KEY, Route::Key, lpushx,
        "Prepend an element to a list, only if the list exists", "2.2.0",
        "key element [element ...]"),
    row("rpushx", -3, W | M | F, ONE_KEY, Route::Key, rpushx,
        "Append an element to a list, only if the list exists", "2.2.0",
        "key element [element ...]"),
    row("lpop", -2, W | F, ONE_KEY, Route::Key, lpop,
        "Remove and get the first elements in a list", "1.0.0", "key [count]"),
    row("rpop", -2, W | F, ONE_KEY, Route::Key, rpop,
        "Remove and get the last elements in a list", "1.0.0", "key [count]"),
    row("llen", 2, R | F, ONE_KEY, Route::Key, llen,
        "Get the length of a list", "1.0.0", "key"),
    row("lrange", 4, R, ONE_KEY, Route::Key, lrange,
        "Get a range of elements from a list", "1.0.0", "key start stop"),
    row("lindex", 3, R, ONE_KEY, Route::Key, lindex,
        "Get an element from a list by its index", "1.0.0", "key index"),
    row("lset", 4, W | M, ONE_KEY, Route::Key, lset,
        "Set the value of an element in a list by its index", "1.0.0", "key index element"),
    row("lrem", 4, W, ONE_KEY, Route::Key, lrem,
        "Remove elements from a list", "1.0.0", "key count element"),
    row("ltrim", 4, W, ONE_KEY, Route::Key, ltrim,
        "Trim a list to the specified range", "1.0.0", "key start stop"),
    row("linsert", 5, W | M, ONE_KEY, Route::Key, linsert,
        "Insert an element before or after another element in a list", "2.2.0",
        "key BEFORE|AFTER pivot element"),
    row("lpos", -3, R, ONE_KEY, Route::Key, lpos,
        "Return the index of matching elements on a list", "6.0.6",
        "key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    row("lmove", 5, W | M, TWO_KEYS, Route::Coordinated, lmove,
        "Pop an element from a list, push it to another list and return it", "6.2.0",
        "source destination LEFT|RIGHT LEFT|RIGHT"),
    row("rpoplpush", 3, W | M, TWO_KEYS, Route::Coordinated, rpoplpush,
        "Remove the last element in a list, prepend it to another list and return it", "1.2.0",
        "source destination"),
    row("blpop", -3, W | B, KEYS_THEN_TIMEOUT, Route::Coordinated, blpop,
        "Remove and get the first element in a list, or block until one is available", "2.0.0",
        "key [key ...] timeout"),
    row("brpop", -3, W | B, KEYS_THEN_TIMEOUT, Route::Coordinated, brpop,
        "Remove and get the last element in a list, or block until one is available", "2.0.0",
        "key [key ...] timeout"),
    row("blmove", 6, W | M | B, TWO_KEYS, Route::Coordinated, blmove,
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        "6.2.0", "source destination LEFT|RIGHT LEFT|RIGHT timeout"),
];

#[cfg(test)]
pub(crate) mod tests;
