//! The hash commands (HSET, HGET, HINCRBY, HRANDFIELD, HSCAN, ...): their
//! semantics on one shard's keyspace, with Redis 7's replies and error
//! texts, and their rows of the command table.
//!
//! Every hash command names one key, so each runs whole on the key's shard.
//! Reads go through [`hash_at`], writes through `update_hash`, which
//! creates the hash on demand, re-measures it through [`Keyspace::modify`]
//! and deletes the key when the last field goes. HINCRBYFLOAT shares
//! INCRBYFLOAT's exact long double arithmetic; HRANDFIELD and HSCAN share
//! the set family's sampling and scan helpers. Nothing here reads the clock.

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::set::{
    distinct_positions, matches, parse_scan_cursor, parse_scan_options, random_count,
    random_reply_len_ok, scan_reply, Random,
};
use crate::family::string::long_double::LongDouble;
use crate::family::string::{NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};
use crate::keyspace::parse_i64;
use crate::table::{self, flags, CommandSpec, Handler, Route};
use crate::types;
use crate::types::HashValue;
use crate::{ExecContext, Keyspace};

const HASH_VALUE_NOT_INTEGER: &str = "ERR hash value is not an integer";
const HASH_VALUE_NOT_FLOAT: &str = "ERR hash value is not a float";
const NOT_A_FLOAT: &str = "ERR value is not a valid float";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const INCREMENT_NAN_OR_INFINITY: &str = "ERR value is NaN or Infinity";
const RESULT_NAN_OR_INFINITY: &str = "ERR increment would produce NaN or Infinity";
const OUT_OF_RANGE: &str = "ERR value is out of range";

/// The hash at `key`: `Ok(None)` if there is none, WRONGTYPE if the key
/// holds another type.
pub fn hash_at<'a>(
    keyspace: &'a mut Keyspace,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a HashValue>, Reply> {
    types::get(keyspace, key, now_ms).map_err(|_| Reply::error(WRONGTYPE))
}

/// Runs `change` on the hash at `key` (see [`types::update`]).
fn update_hash<R>(
    keyspace: &mut Keyspace,
    key: &Bytes,
    now_ms: u64,
    create: bool,
    change: impl FnOnce(&mut HashValue) -> R,
) -> Result<Option<R>, Reply> {
    types::update(keyspace, key, now_ms, create, change).map_err(|_| Reply::error(WRONGTYPE))
}

/// A write that creates the hash and may fail inside (HINCRBY): the
/// closure's error and a WRONGTYPE come out the same way.
fn update_or_create<R>(
    keyspace: &mut Keyspace,
    key: &Bytes,
    now_ms: u64,
    change: impl FnOnce(&mut HashValue) -> Result<R, Reply>,
) -> Result<R, Reply> {
    match update_hash(keyspace, key, now_ms, true, change)? {
        Some(result) => result,
        None => Err(Reply::error("ERR internal: hash not created")),
    }
}

fn bulk_or_nil(value: Option<&Bytes>) -> Reply {
    value.map_or(Reply::Nil, |value| Reply::Bulk(value.clone()))
}

// ---- handlers --------------------------------------------------------------

/// HSET and HMSET: field value pairs; HSET answers how many fields are
/// new, HMSET answers OK.
fn hset(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    if !args.len().is_multiple_of(2) {
        return table::arity_error_reply(&args[0]);
    }
    let pairs = &args[2..];
    let added = update_hash(keyspace, &args[1], ctx.now_ms, true, |hash| {
        pairs
            .chunks_exact(2)
            .filter(|pair| hash.insert(&pair[0], &pair[1]))
            .count()
    });
    match added {
        Err(reply) => reply,
        Ok(_) if args[0].eq_ignore_ascii_case(b"hmset") => Reply::ok(),
        Ok(added) => Reply::Integer(added.unwrap_or(0) as i64),
    }
}

fn hsetnx(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let (field, value) = (&args[2], &args[3]);
    let added = update_hash(keyspace, &args[1], ctx.now_ms, true, |hash| {
        !hash.contains(field) && hash.insert(field, value)
    });
    match added {
        Ok(added) => Reply::Integer(i64::from(added.unwrap_or(false))),
        Err(reply) => reply,
    }
}

fn hget(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => bulk_or_nil(hash.and_then(|hash| hash.get(&args[2]))),
        Err(reply) => reply,
    }
}

fn hmget(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => Reply::Array(
            args[2..]
                .iter()
                .map(|field| bulk_or_nil(hash.and_then(|hash| hash.get(field))))
                .collect(),
        ),
        Err(reply) => reply,
    }
}

fn hdel(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let fields = &args[2..];
    let removed = update_hash(keyspace, &args[1], ctx.now_ms, false, |hash| {
        fields
            .iter()
            .filter(|field| hash.remove(field).is_some())
            .count()
    });
    match removed {
        Ok(removed) => Reply::Integer(removed.unwrap_or(0) as i64),
        Err(reply) => reply,
    }
}

fn hexists(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => Reply::Integer(i64::from(hash.is_some_and(|hash| hash.contains(&args[2])))),
        Err(reply) => reply,
    }
}

/// HGETALL: a map, which RESP2 clients receive as a flat array.
fn hgetall(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => Reply::Map(hash.map_or_else(Vec::new, |hash| {
            hash.iter()
                .map(|(field, value)| (Reply::Bulk(field.clone()), Reply::Bulk(value.clone())))
                .collect()
        })),
        Err(reply) => reply,
    }
}

fn hkeys(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => Reply::Array(hash.map_or_else(Vec::new, |hash| {
            hash.iter()
                .map(|(field, _)| Reply::Bulk(field.clone()))
                .collect()
        })),
        Err(reply) => reply,
    }
}

fn hvals(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => Reply::Array(hash.map_or_else(Vec::new, |hash| {
            hash.iter()
                .map(|(_, value)| Reply::Bulk(value.clone()))
                .collect()
        })),
        Err(reply) => reply,
    }
}

fn hlen(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => Reply::Integer(hash.map_or(0, HashValue::len) as i64),
        Err(reply) => reply,
    }
}

fn hstrlen(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(hash) => Reply::Integer(
            hash.and_then(|hash| hash.get(&args[2]))
                .map_or(0, Bytes::len) as i64,
        ),
        Err(reply) => reply,
    }
}

/// HINCRBY key field increment: the field must hold an integer; a missing
/// field counts as 0.
fn hincrby(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let Some(increment) = parse_i64(&args[3]) else {
        return Reply::error(NOT_AN_INTEGER);
    };
    let field = &args[2];
    let result = update_or_create(keyspace, &args[1], ctx.now_ms, |hash| {
        let current = match hash.get(field) {
            None => 0,
            Some(value) => parse_i64(value).ok_or(Reply::error(HASH_VALUE_NOT_INTEGER))?,
        };
        let next = current
            .checked_add(increment)
            .ok_or(Reply::error(OVERFLOW))?;
        hash.insert_owned(field, Bytes::from(next.to_string()));
        Ok(next)
    });
    match result {
        Ok(next) => Reply::Integer(next),
        Err(reply) => reply,
    }
}

/// HINCRBYFLOAT key field increment, in INCRBYFLOAT's exact long double
/// arithmetic and formatting.
fn hincrbyfloat(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let increment = match LongDouble::parse(&args[3]) {
        Some(increment) if increment.is_finite() => increment,
        Some(_) => return Reply::error(INCREMENT_NAN_OR_INFINITY),
        None => return Reply::error(NOT_A_FLOAT),
    };
    let field = &args[2];
    let result = update_or_create(keyspace, &args[1], ctx.now_ms, |hash| {
        let current = match hash.get(field) {
            None => LongDouble::parse(b"0"),
            Some(value) => LongDouble::parse(value),
        };
        let current = current.ok_or(Reply::error(HASH_VALUE_NOT_FLOAT))?;
        let sum = match current.add(increment) {
            Some(sum) if sum.is_finite() => sum,
            _ => return Err(Reply::error(RESULT_NAN_OR_INFINITY)),
        };
        let text = Bytes::from(sum.to_human_string());
        hash.insert_owned(field, text.clone());
        Ok(text)
    });
    match result {
        Ok(text) => Reply::Bulk(text),
        Err(reply) => reply,
    }
}

/// HRANDFIELD key [count [WITHVALUES]]: distinct fields for a positive
/// count, with repeats for a negative one. WITHVALUES replies with field
/// value pairs flattened into one array (RESP2's shape).
fn hrandfield(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let mut random = Random::new(ctx.now_ms);
    if args.len() == 2 {
        return match hash_at(keyspace, &args[1], ctx.now_ms) {
            Ok(hash) => bulk_or_nil(
                hash.and_then(|hash| hash.get_index(random.below(hash.len())))
                    .map(|(field, _)| field),
            ),
            Err(reply) => reply,
        };
    }
    let (count, distinct) = match random_count(&args[2]) {
        Ok(count) => count,
        Err(reply) => return reply,
    };
    let with_values = match args.get(3) {
        None => false,
        Some(option) if args.len() == 4 && option.eq_ignore_ascii_case(b"withvalues") => true,
        Some(_) => return Reply::error(SYNTAX_ERROR),
    };
    // Redis refuses a count whose doubled reply length would overflow.
    if with_values && count > i64::MAX as u64 / 2 {
        return Reply::error(OUT_OF_RANGE);
    }
    let hash = match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(hash)) => hash,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(reply) => return reply,
    };
    let len = hash.len();
    let push = |items: &mut Vec<Reply>, (field, value): (&Bytes, &Bytes)| {
        items.push(Reply::Bulk(field.clone()));
        if with_values {
            items.push(Reply::Bulk(value.clone()));
        }
    };
    let mut items = Vec::new();
    if count == 0 {
        return Reply::Array(items);
    }
    if !distinct || count == 1 {
        if let Err(reply) = random_reply_len_ok(count) {
            return reply;
        }
        for _ in 0..count {
            if let Some(pair) = hash.get_index(random.below(len)) {
                push(&mut items, pair);
            }
        }
    } else if count >= len as u64 {
        for pair in hash.iter() {
            push(&mut items, pair);
        }
    } else {
        for position in distinct_positions(len, count as usize, &mut random) {
            if let Some(pair) = hash.get_index(position) {
                push(&mut items, pair);
            }
        }
    }
    if with_values {
        // RESP3 sends field-value pairs as two-element arrays.
        let mut flat = items.into_iter();
        let mut pairs = Vec::new();
        while let (Some(field), Some(value)) = (flat.next(), flat.next()) {
            pairs.push((field, value));
        }
        return Reply::Pairs(pairs);
    }
    Reply::Array(items)
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: field value pairs,
/// MATCH applying to fields. A listpack-sized hash comes back whole in one
/// call, as in Redis.
fn hscan(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let cursor = match parse_scan_cursor(&args[2]) {
        Ok(cursor) => cursor,
        Err(reply) => return reply,
    };
    let hash = match hash_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(hash)) => hash,
        Ok(None) => return scan_reply(0, Vec::new()),
        Err(reply) => return reply,
    };
    let options = match parse_scan_options(&args[3..]) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let (cursor, count) = if hash.is_compact() {
        (0, hash.len())
    } else {
        (cursor, options.count)
    };
    let mut found = Vec::new();
    let next = hash.scan(cursor, count, |field, value| {
        if matches(&options.pattern, field) {
            found.push(Reply::Bulk(field.clone()));
            found.push(Reply::Bulk(value.clone()));
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
    handler: Handler,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec::row(
        "hash",
        name,
        arity,
        flags,
        (1, 1, 1),
        Route::Key,
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

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    row("hset", -4, W | M | F, hset,
        "Set the string value of a hash field", "2.0.0", "key field value [field value ...]"),
    row("hsetnx", 4, W | M | F, hsetnx,
        "Set the value of a hash field, only if the field does not exist", "2.0.0",
        "key field value"),
    row("hget", 3, R | F, hget,
        "Get the value of a hash field", "2.0.0", "key field"),
    row("hmget", -3, R | F, hmget,
        "Get the values of all the given hash fields", "2.0.0", "key field [field ...]"),
    row("hmset", -4, W | M | F, hset,
        "Set multiple hash fields to multiple values", "2.0.0",
        "key field value [field value ...]"),
    row("hdel", -3, W | F, hdel,
        "Delete one or more hash fields", "2.0.0", "key field [field ...]"),
    row("hexists", 3, R | F, hexists,
        "Determine if a hash field exists", "2.0.0", "key field"),
    row("hgetall", 2, R, hgetall,
        "Get all the fields and values in a hash", "2.0.0", "key"),
    row("hkeys", 2, R, hkeys,
        "Get all the fields in a hash", "2.0.0", "key"),
    row("hvals", 2, R, hvals,
        "Get all the values in a hash", "2.0.0", "key"),
    row("hlen", 2, R | F, hlen,
        "Get the number of fields in a hash", "2.0.0", "key"),
    row("hstrlen", 3, R | F, hstrlen,
        "Get the length of the value of a hash field", "3.2.0", "key field"),
    row("hincrby", 4, W | M | F, hincrby,
        "Increment the integer value of a hash field by the given number", "2.0.0",
        "key field increment"),
    row("hincrbyfloat", 4, W | M | F, hincrbyfloat,
        "Increment the float value of a hash field by the given amount", "2.6.0",
        "key field increment"),
    row("hrandfield", -2, R, hrandfield,
        "Get one or multiple random fields from a hash", "6.2.0",
        "key [count [WITHVALUES]]"),
    row("hscan", -3, R, hscan,
        "Incrementally iterate hash fields and associated values", "2.8.0",
        "key cursor [MATCH pattern] [COUNT count]"),
];

#[cfg(test)]
mod tests;
