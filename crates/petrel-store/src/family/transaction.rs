//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH. Their rows, the
//! per-connection state ([`Transaction`]), what MULTI queues and what it
//! runs at once, Redis 7.0's error texts, and which shards an EXEC must
//! hold ([`shards_to_lock`]).
//!
//! How the engine runs them: MULTI starts queueing; each queued command is
//! checked (lookup, arity, authentication, memory) and answers `+QUEUED`, or
//! its error, which dooms the transaction (EXEC then answers EXECABORT).
//! WATCH asks each key's shard for a [`crate::WatchToken`]. EXEC takes the
//! shards of every queued command and watched key, in shard order, so two
//! transactions can never wait for each other; checks the watched keys;
//! runs the queued commands while no other client can touch those shards;
//! then releases them. This module owns the decisions; it does no I/O.

use bytes::Bytes;
use petrel_resp::Reply;

use crate::keyspace::WatchToken;
use crate::route::shard_of;
use crate::table::{flags, CommandSpec, Route};

pub const NESTED_MULTI: &str = "ERR MULTI calls can not be nested";
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
pub const WATCH_INSIDE_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
pub const EXEC_ABORTED: &str = "EXECABORT Transaction discarded because of previous errors.";
pub const NOT_ALLOWED_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

/// A key one connection watches, with the shard that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedKey {
    pub key: Bytes,
    pub shard: usize,
    pub token: WatchToken,
}

/// One connection's transaction state.
#[derive(Debug, Default, Clone)]
pub struct Transaction {
    /// The commands queued since MULTI; `None` outside MULTI.
    queued: Option<Vec<(&'static CommandSpec, Vec<Bytes>)>>,
    /// A command failed to queue: EXEC must refuse the whole transaction.
    doomed: bool,
    pub watched: Vec<WatchedKey>,
}

/// What EXEC finds when it ends the MULTI.
#[derive(Debug)]
pub enum ExecPlan {
    NotInMulti,
    /// A command failed to queue: answer EXECABORT.
    Aborted,
    Run(Vec<(&'static CommandSpec, Vec<Bytes>)>),
}

impl Transaction {
    pub fn in_multi(&self) -> bool {
        self.queued.is_some()
    }

    /// Commands queued since MULTI (CLIENT LIST's `multi=`); `None` outside MULTI.
    pub fn queued_count(&self) -> Option<usize> {
        self.queued.as_ref().map(Vec::len)
    }

    /// MULTI: starts queueing, or Redis's error when already queueing.
    pub fn begin(&mut self) -> Reply {
        if self.in_multi() {
            return Reply::error(NESTED_MULTI);
        }
        self.queued = Some(Vec::new());
        self.doomed = false;
        Reply::ok()
    }

    /// Queues one checked command and answers `+QUEUED`, or refuses one that
    /// may not run inside a transaction (and dooms it).
    pub fn queue(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Reply {
        if spec.has_flag(flags::SYNC) || spec.has_flag(flags::PUBSUB) {
            self.doom();
            return Reply::error(NOT_ALLOWED_IN_MULTI);
        }
        match &mut self.queued {
            Some(queued) => {
                queued.push((spec, args));
                Reply::Simple(Bytes::from_static(b"QUEUED"))
            }
            None => Reply::error("ERR internal: queueing outside MULTI"),
        }
    }

    /// A command failed to queue (unknown, wrong arity, refused).
    pub fn doom(&mut self) {
        if self.in_multi() {
            self.doomed = true;
        }
    }

    /// DISCARD: whether there was a MULTI to discard. Watches are the
    /// caller's to drop.
    pub fn discard(&mut self) -> bool {
        self.doomed = false;
        self.queued.take().is_some()
    }

    /// EXEC: ends the MULTI and says what to run.
    pub fn finish(&mut self) -> ExecPlan {
        let doomed = std::mem::take(&mut self.doomed);
        match self.queued.take() {
            None => ExecPlan::NotInMulti,
            Some(_) if doomed => ExecPlan::Aborted,
            Some(queued) => ExecPlan::Run(queued),
        }
    }

    /// The keys of `keys` this connection does not watch yet, once each.
    pub fn new_watches(&self, keys: &[Bytes]) -> Vec<Bytes> {
        let mut fresh: Vec<Bytes> = Vec::new();
        for key in keys {
            let known =
                self.watched.iter().any(|watched| watched.key == key) || fresh.contains(key);
            if !known {
                fresh.push(key.clone());
            }
        }
        fresh
    }

    /// Forgets every watched key and returns them, to be dropped on their shards.
    pub fn take_watches(&mut self) -> Vec<WatchedKey> {
        std::mem::take(&mut self.watched)
    }
}

/// Whether a command runs at once inside MULTI instead of being queued.
pub fn runs_inside_multi(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// The shards an EXEC must hold, in ascending order: the owners of every
/// queued command's keys and of every watched key. A command that spans
/// shards without naming keys (DBSIZE, FLUSHALL, KEYS, SCAN, RANDOMKEY)
/// needs all of them; connection-level commands need none.
pub fn shards_to_lock(
    queued: &[(&'static CommandSpec, Vec<Bytes>)],
    watched: &[WatchedKey],
    own_shard: usize,
    shard_count: usize,
) -> Vec<usize> {
    let shard_count = shard_count.max(1);
    let mut needed = vec![false; shard_count];
    for watched in watched {
        needed[watched.shard.min(shard_count - 1)] = true;
    }
    for (spec, args) in queued {
        if spec.route == Route::Connection || spec.route == Route::Transaction {
            continue;
        }
        let mut positions = spec.key_positions(args.len()).peekable();
        if positions.peek().is_none() {
            if spec.route == Route::Key {
                needed[own_shard.min(shard_count - 1)] = true;
            } else {
                needed.iter_mut().for_each(|shard| *shard = true);
            }
            continue;
        }
        for position in positions {
            needed[shard_of(&args[position], shard_count)] = true;
        }
    }
    (0..shard_count).filter(|shard| needed[*shard]).collect()
}

const fn row(
    name: &'static str,
    arity: i32,
    extra_flags: u32,
    keys: (i32, i32, i32),
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec::row(
        "transactions",
        name,
        arity,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | extra_flags,
        keys,
        Route::Transaction,
        None,
        summary,
        since,
        arguments,
    )
}

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    row("multi", 1, flags::FAST, (0, 0, 0), "Mark the start of a transaction block", "1.2.0", ""),
    row("exec", 1, 0, (0, 0, 0), "Execute all commands issued after MULTI", "1.2.0", ""),
    row("discard", 1, flags::FAST, (0, 0, 0), "Discard all commands issued after MULTI", "2.0.0", ""),
    row("watch", -2, flags::FAST, (1, -1, 1),
        "Watch the given keys to determine execution of the MULTI/EXEC block", "2.2.0", "key [key ...]"),
    row("unwatch", 1, flags::FAST, (0, 0, 0), "Forget about all watched keys", "2.2.0", ""),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table;

    fn spec(name: &str) -> &'static CommandSpec {
        table::lookup(name.as_bytes()).expect("command in the table")
    }

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    #[test]
    fn queued_commands_run_in_order_at_exec() {
        let mut transaction = Transaction::default();
        assert_eq!(transaction.begin(), Reply::ok());
        assert_eq!(
            transaction.queue(spec("set"), args(&["SET", "a", "1"])),
            Reply::Simple(Bytes::from_static(b"QUEUED"))
        );
        transaction.queue(spec("incr"), args(&["INCR", "a"]));
        match transaction.finish() {
            ExecPlan::Run(queued) => {
                let names: Vec<&str> = queued.iter().map(|(spec, _)| spec.name).collect();
                assert_eq!(names, ["set", "incr"]);
            }
            other => panic!("expected commands to run, got {other:?}"),
        }
        assert!(!transaction.in_multi());
    }

    #[test]
    fn nested_multi_is_refused_without_dooming() {
        let mut transaction = Transaction::default();
        transaction.begin();
        assert_eq!(transaction.begin(), Reply::error(NESTED_MULTI));
        assert!(matches!(transaction.finish(), ExecPlan::Run(queued) if queued.is_empty()));
    }

    #[test]
    fn a_queueing_error_aborts_exec_and_ends_the_multi() {
        let mut transaction = Transaction::default();
        transaction.begin();
        transaction.doom();
        assert!(matches!(transaction.finish(), ExecPlan::Aborted));
        assert!(matches!(transaction.finish(), ExecPlan::NotInMulti));
        // Dooming outside MULTI has no lasting effect.
        transaction.doom();
        transaction.begin();
        assert!(matches!(transaction.finish(), ExecPlan::Run(_)));
    }

    #[test]
    fn replication_commands_cannot_be_queued() {
        let mut transaction = Transaction::default();
        transaction.begin();
        assert_eq!(
            transaction.queue(spec("sync"), args(&["SYNC"])),
            Reply::error(NOT_ALLOWED_IN_MULTI)
        );
        assert!(matches!(transaction.finish(), ExecPlan::Aborted));
    }

    #[test]
    fn discard_ends_the_multi() {
        let mut transaction = Transaction::default();
        assert!(!transaction.discard());
        transaction.begin();
        transaction.queue(spec("set"), args(&["SET", "a", "1"]));
        assert!(transaction.discard());
        assert!(matches!(transaction.finish(), ExecPlan::NotInMulti));
    }

    #[test]
    fn watching_a_key_twice_watches_it_once() {
        let mut transaction = Transaction::default();
        let fresh = transaction.new_watches(&args(&["a", "b", "a"]));
        assert_eq!(fresh, args(&["a", "b"]));
        transaction.watched.push(WatchedKey {
            key: Bytes::from_static(b"a"),
            shard: 0,
            token: WatchToken {
                version: 0,
                existed: false,
            },
        });
        assert_eq!(transaction.new_watches(&args(&["a", "c"])), args(&["c"]));
    }

    #[test]
    fn exec_locks_the_shards_of_keys_and_watches_in_order() {
        let shard_count = 4;
        let key_on = |shard: usize| {
            (0..)
                .map(|n| format!("key{n}"))
                .find(|key| shard_of(key.as_bytes(), shard_count) == shard)
                .expect("some key lands on every shard")
        };
        let (k3, k1, k2) = (key_on(3), key_on(1), key_on(2));
        let queued = vec![
            (spec("set"), args(&["SET", &k3, "v"])),
            (spec("ping"), args(&["PING"])),
            (spec("mget"), args(&["MGET", &k1, &k3])),
        ];
        let watched = vec![WatchedKey {
            key: Bytes::from(k2.clone()),
            shard: 2,
            token: WatchToken {
                version: 0,
                existed: true,
            },
        }];
        assert_eq!(shards_to_lock(&queued, &watched, 0, shard_count), [1, 2, 3]);
        assert!(shards_to_lock(&[(spec("ping"), args(&["PING"]))], &[], 0, shard_count).is_empty());
        assert_eq!(
            shards_to_lock(&[(spec("dbsize"), args(&["DBSIZE"]))], &[], 0, shard_count),
            [0, 1, 2, 3]
        );
    }
}
