//! The command table: one row per command, contributed by each family file.
//!
//! The engine reads a row to check arity, to find the keys (and so the shard),
//! to refuse writes at the memory limit, and to decide how to route. A new
//! command is a new row plus its handler; the engine does not change.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;
use petrel_resp::Reply;

use crate::{family, ExecContext, Keyspace};

/// Runs a command on the keyspace of the shard that owns its keys.
/// `args[0]` is the command name as the client sent it.
pub type Handler = fn(&mut Keyspace, &[Bytes], &ExecContext) -> Reply;

/// Command flags, named as in Redis's COMMAND INFO output.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const FAST: u32 = 1 << 10;
    pub const NO_AUTH: u32 = 1 << 11;
    pub const MAY_REPLICATE: u32 = 1 << 12;
    pub const SENTINEL: u32 = 1 << 13;
    /// Replication ("sync") command: only a connection in the sync role may run it.
    pub const SYNC: u32 = 1 << 14;

    /// Names in the order COMMAND INFO lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
    ];
}

/// How the engine routes a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Runs on the connection's thread against its session and server state,
    /// touching no keyspace (PING, AUTH, CLIENT, INFO, ...).
    Connection,
    /// All keys must be on one shard: the whole command goes to the owner of
    /// its first key (commands with no key run on the connection's own shard).
    Key,
    /// Keys may span shards; the engine asks [`crate::route::coordinator`]
    /// for a coordinator whose first step scatters one message per shard and
    /// whose second step gathers. One round: it may be batched in a pipeline.
    Scatter,
    /// Needs several rounds across shards (RENAME, MSETNX, SCAN, ...): the
    /// engine runs everything before it in the pipeline first, then drives
    /// the coordinator to completion.
    Coordinated,
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH: the engine runs them with
    /// [`crate::family::transaction`]'s decisions.
    Transaction,
}

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name, as COMMAND INFO reports it.
    pub name: &'static str,
    /// Redis's convention: N means exactly N arguments including the name,
    /// -N means at least N.
    pub arity: i32,
    pub flags: u32,
    /// Index of the first key in the arguments (0: no keys).
    pub first_key: i32,
    /// Index of the last key; -1 means the last argument.
    pub last_key: i32,
    /// Step between keys (2 for MSET's key value pairs).
    pub key_step: i32,
    pub route: Route,
    /// Shard-side implementation; `None` for [`Route::Connection`] commands
    /// and for coordinated commands that only use [`crate::ShardOp`]s.
    pub handler: Option<Handler>,
    /// COMMAND DOCS group (`string`, `generic`, `connection`, `server`, ...).
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    /// Argument hint as redis-cli shows it, e.g. `key value [NX|XX]`.
    pub arguments: &'static str,
}

impl CommandSpec {
    /// A row as the family files write them: key positions as
    /// `(first, last, step)`, the group shared by the whole family.
    #[allow(clippy::too_many_arguments, reason = "one argument per table column")]
    pub const fn row(
        group: &'static str,
        name: &'static str,
        arity: i32,
        flags: u32,
        keys: (i32, i32, i32),
        route: Route,
        handler: Option<Handler>,
        summary: &'static str,
        since: &'static str,
        arguments: &'static str,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            key_step: keys.2,
            route,
            handler,
            group,
            summary,
            since,
            arguments,
        }
    }

    pub fn has_flag(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` (including the name) satisfies the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Positions of the keys in `args`, as the row declares them.
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let first = self.first_key.max(0) as usize;
        let last = if self.first_key <= 0 {
            0
        } else if self.last_key < 0 {
            (argc as i64 + self.last_key as i64).max(0) as usize
        } else {
            (self.last_key as usize).min(argc.saturating_sub(1))
        };
        let step = self.key_step.max(1) as usize;
        let range = if self.first_key > 0 && first <= last {
            first..last + 1
        } else {
            0..0
        };
        range.step_by(step)
    }
}

/// Every row, in registration order; a command's id is its index here.
static ROWS: LazyLock<Vec<&'static CommandSpec>> = LazyLock::new(|| {
    family::ALL
        .iter()
        .flat_map(|family| family.iter())
        .collect()
});

/// Lower-case name → id and row. Looked up once per request, so it uses a
/// fast hash and is keyed by bytes (no UTF-8 check of the name).
#[allow(clippy::type_complexity)]
static TABLE: LazyLock<
    HashMap<&'static [u8], (usize, &'static CommandSpec), foldhash::fast::FixedState>,
> = LazyLock::new(|| {
    let mut map = HashMap::with_hasher(foldhash::fast::FixedState::default());
    for (id, spec) in ROWS.iter().enumerate() {
        let previous = map.insert(spec.name.as_bytes(), (id, *spec));
        assert!(previous.is_none(), "command {} registered twice", spec.name);
    }
    map
});

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_with_id(name).map(|(_, spec)| spec)
}

/// Finds a command by name, case-insensitively, with its id: a dense index
/// below [`count`] that callers use for per-command counters.
pub fn lookup_with_id(name: &[u8]) -> Option<(usize, &'static CommandSpec)> {
    const NAME_LEN_MAX: usize = 32;
    if name.len() > NAME_LEN_MAX {
        return None;
    }
    let mut buffer = [0u8; NAME_LEN_MAX];
    let lower = &mut buffer[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    TABLE.get(&*lower).copied()
}

/// How many commands the table holds.
pub fn count() -> usize {
    ROWS.len()
}

/// The command with this id.
pub fn by_id(id: usize) -> Option<&'static CommandSpec> {
    ROWS.get(id).copied()
}

/// Every command, in registration order.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    ROWS.iter().copied()
}

/// Redis's reply to an unknown command, quoting the name and the first
/// arguments as Redis 7 does.
pub fn unknown_command_reply(args: &[Bytes]) -> Reply {
    let name = args
        .first()
        .map(|n| String::from_utf8_lossy(n))
        .unwrap_or_default();
    let mut text = format!("ERR unknown command '{name}', with args beginning with: ");
    for arg in args.iter().skip(1) {
        text.push('\'');
        text.push_str(&String::from_utf8_lossy(arg));
        text.push_str("' ");
    }
    // Redis truncates the whole message at 128 bytes of arguments; keep lines sane.
    Reply::error_owned(text.replace(['\r', '\n'], " "))
}

/// Redis's reply to a wrong number of arguments.
pub fn arity_error_reply(name: &[u8]) -> Reply {
    Reply::error_owned(format!(
        "ERR wrong number of arguments for '{}' command",
        String::from_utf8_lossy(name).to_ascii_lowercase()
    ))
}
