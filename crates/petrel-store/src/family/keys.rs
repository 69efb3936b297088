//! The generic key commands (DEL, EXISTS, EXPIRE, TTL, RENAME, KEYS, ...) and
//! the keyspace-wide ones (DBSIZE, FLUSHDB, FLUSHALL): their semantics on
//! one shard's keyspace, with Redis 7's replies and error texts, and their
//! rows of the command table.
//!
//! Multi-key handlers (DEL, UNLINK, EXISTS, TOUCH) are also called with the
//! subset of keys that live on this shard; keyless ones (KEYS, DBSIZE,
//! FLUSHDB, FLUSHALL) run on every shard and the engine merges the replies.
//! RENAME and RENAMENX here handle the case where both keys share a shard;
//! SCAN, RANDOMKEY and cross-shard renames are coordinated in
//! [`crate::route`]. Nothing here reads the clock or knows other shards.

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::connection::help_reply;
use crate::family::string::{NOT_AN_INTEGER, SYNTAX_ERROR};
use crate::glob::glob_match;
use crate::keyspace::parse_i64;
use crate::table::{flags, CommandSpec, Handler, Route};
use crate::{ExecContext, Keyspace};

const NO_SUCH_KEY: &str = "ERR no such key";

fn invalid_expire_time(command: &str) -> Reply {
    Reply::error_owned(format!("ERR invalid expire time in '{command}' command"))
}

/// Quotes client text in an error line, which must not break the line.
fn quoted(text: &[u8]) -> String {
    String::from_utf8_lossy(text).replace(['\r', '\n'], " ")
}

fn del(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let removed = args[1..]
        .iter()
        .filter(|key| keyspace.remove(key, ctx.now_ms).is_some())
        .count();
    Reply::Integer(removed as i64)
}

/// EXISTS and TOUCH: a key named twice counts twice.
fn exists(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let found = args[1..]
        .iter()
        .filter(|key| keyspace.contains(key, ctx.now_ms))
        .count();
    Reply::Integer(found as i64)
}

fn type_of(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let name = keyspace
        .get(&args[1], ctx.now_ms)
        .map_or("none", |entry| entry.value.type_name());
    Reply::simple(name)
}

/// How an EXPIRE-family command reads its time argument.
#[derive(Clone, Copy)]
struct ExpireKind {
    command: &'static str,
    /// Milliseconds per unit of the argument.
    unit_ms: i64,
    /// Absolute Unix time (…AT) rather than relative to now.
    absolute: bool,
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT with NX, XX, GT and LT, as
/// Redis's `expireGenericCommand`: a deadline at or before now deletes the
/// key and still answers 1.
fn expire_generic(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    kind: ExpireKind,
) -> Reply {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in &args[3..] {
        match option.to_ascii_lowercase().as_slice() {
            b"nx" => nx = true,
            b"xx" => xx = true,
            b"gt" => gt = true,
            b"lt" => lt = true,
            _ => return Reply::error_owned(format!("ERR Unsupported option {}", quoted(option))),
        }
    }
    if nx && (xx || gt || lt) {
        return Reply::error("ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return Reply::error("ERR GT and LT options at the same time are not compatible");
    }
    let Some(mut when) = parse_i64(&args[2]) else {
        return Reply::error(NOT_AN_INTEGER);
    };
    if kind.unit_ms != 1 {
        if when > i64::MAX / kind.unit_ms || when < i64::MIN / kind.unit_ms {
            return invalid_expire_time(kind.command);
        }
        when *= kind.unit_ms;
    }
    if !kind.absolute {
        let now = i64::try_from(ctx.now_ms).unwrap_or(i64::MAX);
        match when.checked_add(now) {
            Some(sum) => when = sum,
            None => return invalid_expire_time(kind.command),
        }
    }
    let key = &args[1];
    let Some(entry) = keyspace.get(key, ctx.now_ms) else {
        return Reply::Integer(0);
    };
    // Deadlines are stored from positive i64 values, so this cannot wrap.
    let current = entry.expires_at_ms.map(|deadline| deadline as i64);
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        // No deadline counts as an infinite one: never greater, never less.
        || (gt && current.is_none_or(|current| when <= current))
        || (lt && current.is_some_and(|current| when >= current));
    if refused {
        return Reply::Integer(0);
    }
    if when <= 0 || when as u64 <= ctx.now_ms {
        keyspace.remove(key, ctx.now_ms);
    } else {
        keyspace.set_expiry(key, Some(when as u64), ctx.now_ms);
    }
    Reply::Integer(1)
}

fn expire(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let kind = ExpireKind {
        command: "expire",
        unit_ms: 1000,
        absolute: false,
    };
    expire_generic(keyspace, args, ctx, kind)
}

fn pexpire(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let kind = ExpireKind {
        command: "pexpire",
        unit_ms: 1,
        absolute: false,
    };
    expire_generic(keyspace, args, ctx, kind)
}

fn expireat(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let kind = ExpireKind {
        command: "expireat",
        unit_ms: 1000,
        absolute: true,
    };
    expire_generic(keyspace, args, ctx, kind)
}

fn pexpireat(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let kind = ExpireKind {
        command: "pexpireat",
        unit_ms: 1,
        absolute: true,
    };
    expire_generic(keyspace, args, ctx, kind)
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME: -2 for no key, -1 for no
/// deadline; seconds are rounded to the nearest, as Redis does.
fn ttl_generic(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    milliseconds: bool,
    absolute: bool,
) -> Reply {
    let Some(entry) = keyspace.get(&args[1], ctx.now_ms) else {
        return Reply::Integer(-2);
    };
    let Some(deadline) = entry.expires_at_ms else {
        return Reply::Integer(-1);
    };
    let value = if absolute {
        deadline
    } else {
        deadline.saturating_sub(ctx.now_ms)
    };
    let value = if milliseconds {
        value
    } else {
        (value + 500) / 1000
    };
    Reply::Integer(value as i64)
}

fn ttl(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    ttl_generic(keyspace, args, ctx, false, false)
}

fn pttl(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    ttl_generic(keyspace, args, ctx, true, false)
}

fn expiretime(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    ttl_generic(keyspace, args, ctx, false, true)
}

fn pexpiretime(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    ttl_generic(keyspace, args, ctx, true, true)
}

fn persist(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let has_deadline = keyspace
        .get(&args[1], ctx.now_ms)
        .is_some_and(|entry| entry.expires_at_ms.is_some());
    if has_deadline {
        keyspace.set_expiry(&args[1], None, ctx.now_ms);
    }
    Reply::Integer(i64::from(has_deadline))
}

/// RENAME and RENAMENX when both keys live on this shard. The entry moves
/// with its deadline; a replaced destination loses its own.
fn rename_generic(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    only_if_absent: bool,
) -> Reply {
    let (source, destination) = (&args[1], &args[2]);
    let now = ctx.now_ms;
    if !keyspace.contains(source, now) {
        return Reply::error(NO_SUCH_KEY);
    }
    let done = |renamed: bool| {
        if only_if_absent {
            Reply::Integer(i64::from(renamed))
        } else {
            Reply::ok()
        }
    };
    if source == destination {
        return done(false);
    }
    if only_if_absent && keyspace.contains(destination, now) {
        return done(false);
    }
    let Some(entry) = keyspace.remove(source, now) else {
        return Reply::error(NO_SUCH_KEY);
    };
    keyspace.insert(destination.clone(), entry, now);
    done(true)
}

fn rename(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    rename_generic(keyspace, args, ctx, false)
}

fn renamenx(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    rename_generic(keyspace, args, ctx, true)
}

/// This shard's keys matching the pattern; the engine concatenates shards.
fn keys(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let pattern = &args[1];
    let everything = pattern.as_ref() == b"*";
    Reply::Array(
        keyspace
            .iter_live(ctx.now_ms)
            .filter(|(key, _)| everything || glob_match(pattern, key, false))
            .map(|(key, _)| Reply::Bulk(key.clone()))
            .collect(),
    )
}

/// This shard's key count, expired keys not yet reclaimed included (as
/// Redis counts them); the engine adds up the shards.
fn dbsize(keyspace: &mut Keyspace, _args: &[Bytes], _ctx: &ExecContext) -> Reply {
    Reply::Integer(keyspace.len() as i64)
}

/// FLUSHDB and FLUSHALL [ASYNC|SYNC]. Each database is separate, so
/// FLUSHALL clears the connection's database, like FLUSHDB.
fn flush(keyspace: &mut Keyspace, args: &[Bytes], _ctx: &ExecContext) -> Reply {
    match args {
        [_] => {}
        [_, mode] if mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async") => {}
        _ => return Reply::error(SYNTAX_ERROR),
    }
    keyspace.clear();
    Reply::ok()
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "HELP",
    "    Prints this help.",
];

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value, as counted against the",
    "    database's memory_size (every element counted: SAMPLES is accepted and",
    "    not needed).",
    "HELP",
    "    Prints this help.",
];

/// MEMORY USAGE key [SAMPLES count] and MEMORY HELP: what `redis-cli
/// --memkeys` asks for each key. Options are checked as Redis 7.0 checks
/// them; the answer counts the whole value, never a sample.
fn memory(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let subcommand = args[1].to_ascii_lowercase();
    match (subcommand.as_slice(), args.len()) {
        (b"usage", 3..) => {
            let mut options = args[3..].iter();
            while let Some(option) = options.next() {
                let count = match options.next() {
                    Some(count) if option.eq_ignore_ascii_case(b"SAMPLES") => count,
                    _ => return Reply::error(SYNTAX_ERROR),
                };
                match parse_i64(count) {
                    None => return Reply::error(NOT_AN_INTEGER),
                    Some(count) if count < 0 => return Reply::error(SYNTAX_ERROR),
                    Some(_) => {}
                }
            }
            match keyspace.memory_usage_of(&args[2], ctx.now_ms) {
                Some(bytes) => Reply::Integer(bytes as i64),
                None => Reply::Nil,
            }
        }
        (b"help", 2) => help_reply(MEMORY_HELP),
        (b"usage" | b"help", _) => subcommand_arity_error("memory", &subcommand),
        _ => unknown_subcommand("MEMORY", &args[1]),
    }
}

/// OBJECT ENCODING and OBJECT HELP.
fn object(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let subcommand = args[1].to_ascii_lowercase();
    match (subcommand.as_slice(), args.len()) {
        (b"encoding", 3) => match keyspace.get(&args[2], ctx.now_ms) {
            Some(entry) => Reply::bulk(entry.value.encoding()),
            None => Reply::Nil,
        },
        (b"help", 2) => help_reply(OBJECT_HELP),
        (b"encoding" | b"help", _) => subcommand_arity_error("object", &subcommand),
        _ => unknown_subcommand("OBJECT", &args[1]),
    }
}

/// A keyed container's (OBJECT, MEMORY) subcommand with the wrong number
/// of arguments, in Redis's words.
fn subcommand_arity_error(container: &str, subcommand: &[u8]) -> Reply {
    Reply::error_owned(format!(
        "ERR wrong number of arguments for '{container}|{}' command",
        quoted(subcommand)
    ))
}

fn unknown_subcommand(container: &str, given: &[u8]) -> Reply {
    Reply::error_owned(format!(
        "ERR unknown subcommand '{}'. Try {container} HELP.",
        quoted(given)
    ))
}

// ---- table rows ------------------------------------------------------------

#[allow(clippy::too_many_arguments, reason = "one argument per table column")]
const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    route: Route,
    handler: Option<Handler>,
    group: &'static str,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec::row(
        group, name, arity, flags, keys, route, handler, summary, since, arguments,
    )
}

const W: u32 = flags::WRITE;
const R: u32 = flags::READONLY;
const F: u32 = flags::FAST;
const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const ONE_KEY: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);
const G: &str = "generic";

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    row("del", -2, W, ALL_KEYS, Route::Scatter, Some(del), G,
        "Delete a key", "1.0.0", "key [key ...]"),
    row("unlink", -2, W | F, ALL_KEYS, Route::Scatter, Some(del), G,
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
        "4.0.0", "key [key ...]"),
    row("exists", -2, R | F, ALL_KEYS, Route::Scatter, Some(exists), G,
        "Determine if a key exists", "1.0.0", "key [key ...]"),
    row("touch", -2, R | F, ALL_KEYS, Route::Scatter, Some(exists), G,
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        "3.2.1", "key [key ...]"),
    row("type", 2, R | F, ONE_KEY, Route::Key, Some(type_of), G,
        "Determine the type stored at key", "1.0.0", "key"),
    row("expire", -3, W | F, ONE_KEY, Route::Key, Some(expire), G,
        "Set a key's time to live in seconds", "1.0.0", "key seconds [NX|XX|GT|LT]"),
    row("pexpire", -3, W | F, ONE_KEY, Route::Key, Some(pexpire), G,
        "Set a key's time to live in milliseconds", "2.6.0", "key milliseconds [NX|XX|GT|LT]"),
    row("expireat", -3, W | F, ONE_KEY, Route::Key, Some(expireat), G,
        "Set the expiration for a key as a UNIX timestamp", "1.2.0",
        "key unix-time-seconds [NX|XX|GT|LT]"),
    row("pexpireat", -3, W | F, ONE_KEY, Route::Key, Some(pexpireat), G,
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0",
        "key unix-time-milliseconds [NX|XX|GT|LT]"),
    row("ttl", 2, R | F, ONE_KEY, Route::Key, Some(ttl), G,
        "Get the time to live for a key in seconds", "1.0.0", "key"),
    row("pttl", 2, R | F, ONE_KEY, Route::Key, Some(pttl), G,
        "Get the time to live for a key in milliseconds", "2.6.0", "key"),
    row("expiretime", 2, R | F, ONE_KEY, Route::Key, Some(expiretime), G,
        "Get the expiration Unix timestamp for a key", "7.0.0", "key"),
    row("pexpiretime", 2, R | F, ONE_KEY, Route::Key, Some(pexpiretime), G,
        "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0", "key"),
    row("persist", 2, W | F, ONE_KEY, Route::Key, Some(persist), G,
        "Remove the expiration from a key", "2.2.0", "key"),
    row("rename", 3, W, TWO_KEYS, Route::Coordinated, Some(rename), G,
        "Rename a key", "1.0.0", "key newkey"),
    row("renamenx", 3, W | F, TWO_KEYS, Route::Coordinated, Some(renamenx), G,
        "Rename a key, only if the new key does not exist", "1.0.0", "key newkey"),
    row("keys", 2, R, NO_KEYS, Route::Scatter, Some(keys), G,
        "Find all keys matching the given pattern", "1.0.0", "pattern"),
    row("scan", -2, R, NO_KEYS, Route::Coordinated, None, G,
        "Incrementally iterate the keys space", "2.8.0",
        "cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    row("randomkey", 1, R, NO_KEYS, Route::Coordinated, None, G,
        "Return a random key from the keyspace", "1.0.0", ""),
    row("dbsize", 1, R | F, NO_KEYS, Route::Scatter, Some(dbsize), "server",
        "Return the number of keys in the selected database", "1.0.0", ""),
    row("flushdb", -1, W, NO_KEYS, Route::Scatter, Some(flush), "server",
        "Remove all keys from the current database", "1.0.0", "[ASYNC|SYNC]"),
    row("flushall", -1, W, NO_KEYS, Route::Scatter, Some(flush), "server",
        "Remove all keys from all databases", "1.0.0", "[ASYNC|SYNC]"),
    row("object", -2, R, (2, 2, 1), Route::Key, Some(object), G,
        "A container for object introspection commands", "2.2.3", "ENCODING key"),
    row("memory", -2, R, (2, 2, 1), Route::Key, Some(memory), "server",
        "Estimate the memory usage of a key", "4.0.0", "USAGE key [SAMPLES count]"),
];

#[cfg(test)]
mod tests;
