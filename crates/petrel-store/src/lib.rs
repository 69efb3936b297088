//! A shard's keyspace and the semantics of every command.
//!
//! This crate owns: the values and their expiry ([`keyspace`]), the command
//! table with arity, flags and key positions ([`table`]), one file per command
//! family ([`family`]), how a command that spans shards is split and its
//! partial replies merged ([`route`]), and the connection-level commands'
//! semantics on an I/O-free [`session::Session`].
//!
//! It must not do I/O, start threads, read the clock or know about sockets:
//! time comes in as `now_ms` in an [`ExecContext`], and the engine moves the
//! bytes. Everything here is tested by calling functions, without a socket.

#![forbid(unsafe_code)]

pub mod family;
pub mod glob;
pub mod keyspace;
pub mod route;
pub mod session;
pub mod slowlog;
pub mod table;
pub mod types;

pub use keyspace::{Entry, Keyspace, Value, WatchToken};
pub use route::{Coordinator, ShardOp, ShardReply, Step};
pub use table::{CommandSpec, Route};

use petrel_resp::Reply;

/// What a command needs to know about where and when it runs.
#[derive(Debug, Clone, Copy)]
pub struct ExecContext {
    /// Milliseconds since the Unix epoch, read once per batch by the engine.
    pub now_ms: u64,
    pub shard_id: usize,
    pub shard_count: usize,
}

/// One shard: its part of every database's keyspace, indexed by database.
#[derive(Debug, Default)]
pub struct Shard {
    pub databases: Vec<Keyspace>,
}

impl Shard {
    pub fn new(database_count: usize) -> Shard {
        Shard {
            databases: (0..database_count).map(|_| Keyspace::default()).collect(),
        }
    }

    /// Runs one command whose keys all live on this shard.
    pub fn execute(
        &mut self,
        database: usize,
        spec: &'static CommandSpec,
        args: &[bytes::Bytes],
        ctx: &ExecContext,
    ) -> Reply {
        let keyspace = &mut self.databases[database];
        match spec.handler {
            Some(handler) => handler(keyspace, args, ctx),
            None => {
                Reply::error_owned(format!("ERR command '{}' cannot run on a shard", spec.name))
            }
        }
    }

    /// Runs one step of a cross-shard command on this shard.
    pub fn apply(&mut self, database: usize, op: ShardOp, ctx: &ExecContext) -> ShardReply {
        route::apply(&mut self.databases[database], op, ctx)
    }
}
