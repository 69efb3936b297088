//! The string commands (GET, SET, INCR, APPEND, ...): their semantics on one
//! shard's keyspace, with Redis 7's replies and error texts, and their rows
//! of the command table.
//!
//! Handlers get the full arguments, or for MGET and MSET the subset of keys
//! that live on this shard, and must be correct either way. They must not
//! read the clock (time is `ctx.now_ms`) or know about other shards: MSETNX
//! across shards is coordinated in [`crate::route`].

pub(crate) mod long_double;

use bytes::Bytes;
use petrel_resp::Reply;

use crate::keyspace::{parse_i64, Entry, StringValue, Value};
use crate::table::{flags, CommandSpec, Handler, Route};
use crate::{ExecContext, Keyspace};

use long_double::LongDouble;

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX_ERROR: &str = "ERR syntax error";
pub const NOT_AN_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_A_FLOAT: &str = "ERR value is not a valid float";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Redis's default `proto-max-bulk-len`: no string may grow beyond it.
pub const STRING_LEN_MAX_BYTES: u64 = 512 * 1024 * 1024;

/// The string at `key`: `Ok(None)` if there is none, WRONGTYPE if the key
/// holds another type. Every string command reads through this (or
/// [`string_or_wrongtype`]) so that later types are refused the same way.
pub fn string_at<'a>(
    keyspace: &'a mut Keyspace,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a StringValue>, Reply> {
    match keyspace.get(key, now_ms) {
        None => Ok(None),
        Some(entry) => string_or_wrongtype(&entry.value).map(Some),
    }
}

pub fn string_or_wrongtype(value: &Value) -> Result<&StringValue, Reply> {
    value.as_string().ok_or_else(|| Reply::error(WRONGTYPE))
}

/// Redis's `addReplyErrorExpireTime`, naming the command.
fn invalid_expire_time(command: &str) -> Reply {
    Reply::error_owned(format!("ERR invalid expire time in '{command}' command"))
}

fn integer_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(NOT_AN_INTEGER))
}

fn bulk_or_nil(value: Option<&StringValue>) -> Reply {
    value.map_or(Reply::Nil, |string| Reply::Bulk(string.to_bytes()))
}

// ---- SET / GETEX options -------------------------------------------------

/// Option bits as Redis's `parseExtendedStringArgumentsOrReply` keeps them.
mod option {
    pub const NX: u32 = 1 << 0;
    pub const XX: u32 = 1 << 1;
    pub const GET: u32 = 1 << 2;
    pub const KEEPTTL: u32 = 1 << 3;
    pub const PERSIST: u32 = 1 << 4;
    pub const EX: u32 = 1 << 5;
    pub const PX: u32 = 1 << 6;
    pub const EXAT: u32 = 1 << 7;
    pub const PXAT: u32 = 1 << 8;
    pub const ANY_EXPIRE: u32 = EX | PX | EXAT | PXAT;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionsFor {
    Set,
    GetEx,
}

struct StringOptions<'a> {
    flags: u32,
    expire: Option<&'a Bytes>,
}

impl StringOptions<'_> {
    fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// Parses SET's or GETEX's options exactly as Redis does, including which
/// repeats it tolerates (`EX 1 EX 2` is fine, `EX 1 PX 2` is not).
fn parse_string_options(
    options: &[Bytes],
    command: OptionsFor,
) -> Result<StringOptions<'_>, Reply> {
    use option::*;
    let mut parsed = StringOptions {
        flags: 0,
        expire: None,
    };
    let set = command == OptionsFor::Set;
    let mut index = 0;
    while index < options.len() {
        let opt = options[index].as_ref();
        let next = options.get(index + 1);
        let flags = parsed.flags;
        let is = |name: &str| opt.eq_ignore_ascii_case(name.as_bytes());
        let expire_allowed = |own: u32| flags & (KEEPTTL | PERSIST | (ANY_EXPIRE & !own)) == 0;
        if is("nx") && flags & XX == 0 && set {
            parsed.flags |= NX;
        } else if is("xx") && flags & NX == 0 && set {
            parsed.flags |= XX;
        } else if is("get") && set {
            parsed.flags |= GET;
        } else if is("keepttl") && flags & (PERSIST | ANY_EXPIRE) == 0 && set {
            parsed.flags |= KEEPTTL;
        } else if is("persist") && !set && flags & (ANY_EXPIRE | KEEPTTL) == 0 {
            parsed.flags |= PERSIST;
        } else if let (Some(value), Some(unit)) = (next, expire_unit(opt)) {
            if !expire_allowed(unit) {
                return Err(Reply::error(SYNTAX_ERROR));
            }
            parsed.flags |= unit;
            parsed.expire = Some(value);
            index += 1;
        } else {
            return Err(Reply::error(SYNTAX_ERROR));
        }
        index += 1;
    }
    Ok(parsed)
}

fn expire_unit(opt: &[u8]) -> Option<u32> {
    [
        ("ex", option::EX),
        ("px", option::PX),
        ("exat", option::EXAT),
        ("pxat", option::PXAT),
    ]
    .into_iter()
    .find(|(name, _)| opt.eq_ignore_ascii_case(name.as_bytes()))
    .map(|(_, flag)| flag)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline in
/// milliseconds for an EX/PX/EXAT/PXAT argument. It may lie in the past.
fn deadline_ms(arg: &[u8], unit: u32, now_ms: u64, command: &str) -> Result<u64, Reply> {
    let value = integer_arg(arg)?;
    let seconds = unit & (option::EX | option::EXAT) != 0;
    if value <= 0 || (seconds && value > i64::MAX / 1000) {
        return Err(invalid_expire_time(command));
    }
    let mut milliseconds = if seconds { value * 1000 } else { value };
    if unit & (option::EX | option::PX) != 0 {
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        milliseconds = milliseconds
            .checked_add(now)
            .ok_or_else(|| invalid_expire_time(command))?;
    }
    // Positive by the checks above.
    Ok(milliseconds as u64)
}

/// Stores `value` at `key` with `expires_at_ms`; a deadline already passed
/// deletes the key instead, as if it had expired at once.
fn store(
    keyspace: &mut Keyspace,
    key: &Bytes,
    value: StringValue,
    expires_at_ms: Option<u64>,
    now_ms: u64,
) {
    if expires_at_ms.is_some_and(|deadline| deadline <= now_ms) {
        keyspace.remove(key, now_ms);
        return;
    }
    keyspace.insert(
        key.clone(),
        Entry {
            value: Value::String(value),
            expires_at_ms,
        },
        now_ms,
    );
}

// ---- handlers --------------------------------------------------------------

fn get(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match string_at(keyspace, &args[1], ctx.now_ms) {
        Ok(value) => bulk_or_nil(value),
        Err(reply) => reply,
    }
}

/// SET key value [NX|XX] [GET] [EX|PX|EXAT|PXAT time|KEEPTTL]
fn set(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let now = ctx.now_ms;
    let (key, value) = (&args[1], &args[2]);
    if args.len() == 3 {
        // The common case: no option, no lookup beyond the insert.
        store(
            keyspace,
            key,
            StringValue::from_arg(value.clone()),
            None,
            now,
        );
        return Reply::ok();
    }
    let options = match parse_string_options(&args[3..], OptionsFor::Set) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let mut deadline = None;
    if let Some(expire) = options.expire {
        match deadline_ms(expire, options.flags & option::ANY_EXPIRE, now, "set") {
            Ok(ms) => deadline = Some(ms),
            Err(reply) => return reply,
        }
    }
    let (found, old_value, old_deadline) = match keyspace.get(key, now) {
        None => (false, None, None),
        Some(entry) => {
            let old_value = if options.has(option::GET) {
                match string_or_wrongtype(&entry.value) {
                    Ok(string) => Some(string.to_bytes()),
                    Err(reply) => return reply,
                }
            } else {
                None
            };
            (true, old_value, entry.expires_at_ms)
        }
    };
    let reply = if options.has(option::GET) {
        old_value.map_or(Reply::Nil, Reply::Bulk)
    } else {
        Reply::ok()
    };
    if (options.has(option::NX) && found) || (options.has(option::XX) && !found) {
        return if options.has(option::GET) {
            reply
        } else {
            Reply::Nil
        };
    }
    if options.has(option::KEEPTTL) {
        deadline = old_deadline;
    }
    store(
        keyspace,
        key,
        StringValue::from_arg(value.clone()),
        deadline,
        now,
    );
    reply
}

fn setnx(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    if keyspace.contains(&args[1], ctx.now_ms) {
        return Reply::Integer(0);
    }
    store(
        keyspace,
        &args[1],
        StringValue::from_arg(args[2].clone()),
        None,
        ctx.now_ms,
    );
    Reply::Integer(1)
}

/// SETEX and PSETEX: `key time value`.
fn set_with_expiry(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    unit: u32,
    command: &str,
) -> Reply {
    match deadline_ms(&args[2], unit, ctx.now_ms, command) {
        Ok(deadline) => {
            let value = StringValue::from_arg(args[3].clone());
            store(keyspace, &args[1], value, Some(deadline), ctx.now_ms);
            Reply::ok()
        }
        Err(reply) => reply,
    }
}

fn setex(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    set_with_expiry(keyspace, args, ctx, option::EX, "setex")
}

fn psetex(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    set_with_expiry(keyspace, args, ctx, option::PX, "psetex")
}

fn getset(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let reply = match string_at(keyspace, &args[1], ctx.now_ms) {
        Ok(old) => bulk_or_nil(old),
        Err(reply) => return reply,
    };
    let value = StringValue::from_arg(args[2].clone());
    store(keyspace, &args[1], value, None, ctx.now_ms);
    reply
}

fn getdel(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let reply = match string_at(keyspace, &args[1], ctx.now_ms) {
        Ok(None) => return Reply::Nil,
        Ok(value) => bulk_or_nil(value),
        Err(reply) => return reply,
    };
    keyspace.remove(&args[1], ctx.now_ms);
    reply
}

/// GETEX key [EX|PX|EXAT|PXAT time|PERSIST]
fn getex(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let now = ctx.now_ms;
    let key = &args[1];
    let options = match parse_string_options(&args[2..], OptionsFor::GetEx) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    // Redis answers a missing key before it looks at the time argument.
    let reply = match string_at(keyspace, key, now) {
        Ok(None) => return Reply::Nil,
        Ok(value) => bulk_or_nil(value),
        Err(reply) => return reply,
    };
    if let Some(expire) = options.expire {
        match deadline_ms(expire, options.flags & option::ANY_EXPIRE, now, "getex") {
            Ok(deadline) if deadline <= now => {
                keyspace.remove(key, now);
            }
            Ok(deadline) => {
                keyspace.set_expiry(key, Some(deadline), now);
            }
            Err(error) => return error,
        }
    } else if options.has(option::PERSIST) {
        keyspace.set_expiry(key, None, now);
    }
    reply
}

/// MGET: a nil for a missing key or a key of another type.
fn mget(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    Reply::Array(
        args[1..]
            .iter()
            .map(|key| match keyspace.get(key, ctx.now_ms) {
                Some(entry) => bulk_or_nil(entry.value.as_string()),
                None => Reply::Nil,
            })
            .collect(),
    )
}

fn pairs_ok(args: &[Bytes]) -> Result<(), Reply> {
    if args.len().is_multiple_of(2) {
        return Err(crate::table::arity_error_reply(
            args[0].to_ascii_lowercase().as_slice(),
        ));
    }
    Ok(())
}

fn mset(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    if let Err(reply) = pairs_ok(args) {
        return reply;
    }
    for pair in args[1..].chunks_exact(2) {
        let value = StringValue::from_arg(pair[1].clone());
        store(keyspace, &pair[0], value, None, ctx.now_ms);
    }
    Reply::ok()
}

/// MSETNX when every key is on this shard: all or nothing, atomically.
fn msetnx(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    if let Err(reply) = pairs_ok(args) {
        return reply;
    }
    if args[1..]
        .iter()
        .step_by(2)
        .any(|key| keyspace.contains(key, ctx.now_ms))
    {
        return Reply::Integer(0);
    }
    mset(keyspace, args, ctx);
    Reply::Integer(1)
}

/// Whether a string of `current + extra` bytes is allowed.
fn length_ok(current: usize, extra: usize) -> Result<(), Reply> {
    if current as u64 + extra as u64 > STRING_LEN_MAX_BYTES {
        return Err(Reply::error(TOO_LONG));
    }
    Ok(())
}

fn append(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let (key, data) = (&args[1], &args[2]);
    let current = match string_at(keyspace, key, ctx.now_ms) {
        Ok(value) => value.map(StringValue::len),
        Err(reply) => return reply,
    };
    let Some(current) = current else {
        let value = StringValue::from_arg(data.clone());
        let len = value.len();
        store(keyspace, key, value, None, ctx.now_ms);
        return Reply::Integer(len as i64);
    };
    if let Err(reply) = length_ok(current, data.len()) {
        return reply;
    }
    let len = keyspace.modify(key, ctx.now_ms, |value| {
        let string = value.as_string_mut()?;
        string.append(data);
        Some(string.len())
    });
    match len.flatten() {
        Some(len) => Reply::Integer(len as i64),
        None => Reply::error(WRONGTYPE),
    }
}

fn strlen(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match string_at(keyspace, &args[1], ctx.now_ms) {
        Ok(value) => Reply::Integer(value.map_or(0, StringValue::len) as i64),
        Err(reply) => reply,
    }
}

/// Stores a new value for a counter, keeping the key's deadline as Redis's
/// `dbReplaceValue` does, or creating the key without one.
fn replace_keeping_ttl(keyspace: &mut Keyspace, key: &Bytes, value: StringValue, now_ms: u64) {
    let mut pending = Some(value);
    keyspace.modify(key, now_ms, |slot| {
        if let Some(value) = pending.take() {
            *slot = Value::String(value);
        }
    });
    if let Some(value) = pending {
        store(keyspace, key, value, None, now_ms);
    }
}

/// INCR, DECR, INCRBY and DECRBY after the increment was parsed.
fn increment_by(keyspace: &mut Keyspace, key: &Bytes, increment: i64, now_ms: u64) -> Reply {
    let current = match string_at(keyspace, key, now_ms) {
        Ok(None) => 0,
        Ok(Some(value)) => match parse_i64(value.as_bytes()) {
            Some(number) => number,
            None => return Reply::error(NOT_AN_INTEGER),
        },
        Err(reply) => return reply,
    };
    let Some(next) = current.checked_add(increment) else {
        return Reply::error(OVERFLOW);
    };
    let text = next.to_string().into_bytes();
    replace_keeping_ttl(keyspace, key, StringValue::from_owned(text), now_ms);
    Reply::Integer(next)
}

fn incr(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    increment_by(keyspace, &args[1], 1, ctx.now_ms)
}

fn decr(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    increment_by(keyspace, &args[1], -1, ctx.now_ms)
}

fn incrby(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match integer_arg(&args[2]) {
        Ok(increment) => increment_by(keyspace, &args[1], increment, ctx.now_ms),
        Err(reply) => reply,
    }
}

fn decrby(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match integer_arg(&args[2]) {
        // Negating the smallest integer would overflow.
        Ok(i64::MIN) => Reply::error("ERR decrement would overflow"),
        Ok(decrement) => increment_by(keyspace, &args[1], -decrement, ctx.now_ms),
        Err(reply) => reply,
    }
}

fn incrbyfloat(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let key = &args[1];
    let current = match string_at(keyspace, key, ctx.now_ms) {
        Ok(None) => LongDouble::parse(b"0"),
        Ok(Some(value)) => LongDouble::parse(value.as_bytes()),
        Err(reply) => return reply,
    };
    let (Some(current), Some(increment)) = (current, LongDouble::parse(&args[2])) else {
        return Reply::error(NOT_A_FLOAT);
    };
    let sum = match current.add(increment) {
        Some(sum) if sum.is_finite() => sum,
        _ => return Reply::error("ERR increment would produce NaN or Infinity"),
    };
    let text = sum.to_human_string();
    let reply = Reply::Bulk(Bytes::from(text.clone()));
    replace_keeping_ttl(
        keyspace,
        key,
        StringValue::from_float_text(text),
        ctx.now_ms,
    );
    reply
}

/// GETRANGE (and its old name SUBSTR): Redis's index arithmetic, where
/// negative indexes count from the end and out-of-range ones are clamped.
fn getrange(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let (start, end) = match (integer_arg(&args[2]), integer_arg(&args[3])) {
        (Ok(start), Ok(end)) => (start, end),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    let value = match string_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(value)) => value,
        Ok(None) => return Reply::Bulk(Bytes::new()),
        Err(reply) => return reply,
    };
    match byte_range(start, end, value.len()) {
        Some(range) => Reply::Bulk(Bytes::copy_from_slice(&value.as_bytes()[range])),
        None => Reply::Bulk(Bytes::new()),
    }
}

/// The bytes GETRANGE returns for `start..=end` of a `len`-byte string.
fn byte_range(start: i64, end: i64, len: usize) -> Option<std::ops::Range<usize>> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = len as i128;
    let resolve = |index: i64| {
        let index = i128::from(index);
        if index < 0 {
            (len + index).max(0)
        } else {
            index
        }
    };
    let start = resolve(start);
    let end = resolve(end).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some(start as usize..end as usize + 1)
}

fn setrange(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let (key, data) = (&args[1], &args[3]);
    let offset = match integer_arg(&args[2]) {
        Ok(offset) if offset < 0 => return Reply::error("ERR offset is out of range"),
        Ok(offset) => offset as u64,
        Err(reply) => return reply,
    };
    let current = match string_at(keyspace, key, ctx.now_ms) {
        Ok(value) => value.map(StringValue::len),
        Err(reply) => return reply,
    };
    if data.is_empty() {
        // Writing nothing changes nothing, and creates no key.
        return Reply::Integer(current.unwrap_or(0) as i64);
    }
    if offset + data.len() as u64 > STRING_LEN_MAX_BYTES {
        return Reply::error(TOO_LONG);
    }
    let offset = offset as usize;
    if current.is_none() {
        let mut value = StringValue::zeroed(0);
        value.write_at(offset, data);
        let len = value.len();
        store(keyspace, key, value, None, ctx.now_ms);
        return Reply::Integer(len as i64);
    }
    let len = keyspace.modify(key, ctx.now_ms, |value| {
        let string = value.as_string_mut()?;
        string.write_at(offset, data);
        Some(string.len())
    });
    match len.flatten() {
        Some(len) => Reply::Integer(len as i64),
        None => Reply::error(WRONGTYPE),
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
        "string",
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
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
const KEY_VALUE_PAIRS: (i32, i32, i32) = (1, -1, 2);

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    row("get", 2, R | F, ONE_KEY, Route::Key, get,
        "Get the value of a key", "1.0.0", "key"),
    row("set", -3, W | M, ONE_KEY, Route::Key, set,
        "Set the string value of a key", "1.0.0",
        "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]"),
    row("setnx", 3, W | M | F, ONE_KEY, Route::Key, setnx,
        "Set the value of a key, only if the key does not exist", "1.0.0", "key value"),
    row("setex", 4, W | M, ONE_KEY, Route::Key, setex,
        "Set the value and expiration of a key", "2.0.0", "key seconds value"),
    row("psetex", 4, W | M, ONE_KEY, Route::Key, psetex,
        "Set the value and expiration in milliseconds of a key", "2.6.0",
        "key milliseconds value"),
    row("getset", 3, W | M | F, ONE_KEY, Route::Key, getset,
        "Set the string value of a key and return its old value", "1.0.0", "key value"),
    row("getdel", 2, W | F, ONE_KEY, Route::Key, getdel,
        "Get the value of a key and delete the key", "6.2.0", "key"),
    row("getex", -2, W | F, ONE_KEY, Route::Key, getex,
        "Get the value of a key and optionally set its expiration", "6.2.0",
        "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]"),
    row("mget", -2, R | F, ALL_KEYS, Route::Scatter, mget,
        "Get the values of all the given keys", "1.0.0", "key [key ...]"),
    row("mset", -3, W | M, KEY_VALUE_PAIRS, Route::Scatter, mset,
        "Set multiple keys to multiple values", "1.0.1", "key value [key value ...]"),
    row("msetnx", -3, W | M, KEY_VALUE_PAIRS, Route::Coordinated, msetnx,
        "Set multiple keys to multiple values, only if none of the keys exist", "1.0.1",
        "key value [key value ...]"),
    row("append", 3, W | M | F, ONE_KEY, Route::Key, append,
        "Append a value to a key", "2.0.0", "key value"),
    row("strlen", 2, R | F, ONE_KEY, Route::Key, strlen,
        "Get the length of the value stored in a key", "2.2.0", "key"),
    row("incr", 2, W | M | F, ONE_KEY, Route::Key, incr,
        "Increment the integer value of a key by one", "1.0.0", "key"),
    row("decr", 2, W | M | F, ONE_KEY, Route::Key, decr,
        "Decrement the integer value of a key by one", "1.0.0", "key"),
    row("incrby", 3, W | M | F, ONE_KEY, Route::Key, incrby,
        "Increment the integer value of a key by the given amount", "1.0.0", "key increment"),
    row("decrby", 3, W | M | F, ONE_KEY, Route::Key, decrby,
        "Decrement the integer value of a key by the given number", "1.0.0", "key decrement"),
    row("incrbyfloat", 3, W | M | F, ONE_KEY, Route::Key, incrbyfloat,
        "Increment the float value of a key by the given amount", "2.6.0", "key increment"),
    row("getrange", 4, R, ONE_KEY, Route::Key, getrange,
        "Get a substring of the string stored at a key", "2.4.0", "key start end"),
    row("substr", 4, R, ONE_KEY, Route::Key, getrange,
        "Get a substring of the string stored at a key", "1.0.0", "key start end"),
    row("setrange", 4, W | M, ONE_KEY, Route::Key, setrange,
        "Overwrite part of a string at key starting at the specified offset", "2.2.0",
        "key offset value"),
];

#[cfg(test)]
pub(crate) mod tests;
