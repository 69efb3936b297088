//! A client connection's protocol state and the connection-level commands
//! (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT, COMMAND, CONFIG,
//! INFO, TIME), decided without I/O.
//!
//! The engine owns one [`Session`] per connection and calls [`handle`] for
//! every command whose route is [`crate::Route::Connection`]. When the answer
//! needs state from every data thread (INFO, CLIENT LIST), [`handle`] asks
//! for it with [`Outcome::Gather`]; the engine collects a [`NodeSnapshot`]
//! and calls [`finish_gather`].

use bytes::Bytes;
use petrel_resp::Reply;

/// Per-connection protocol state.
#[derive(Debug, Clone)]
pub struct Session {
    /// Unique across the node, from 1, as CLIENT ID reports it.
    pub id: u64,
    pub name: Option<Bytes>,
    /// 2 or 3, as set by HELLO.
    pub protocol: u8,
    /// Whether AUTH (or HELLO AUTH) succeeded, or no password is set.
    pub authenticated: bool,
    pub lib_name: Option<Bytes>,
    pub lib_version: Option<Bytes>,
    /// Index of the database this connection's port serves.
    pub database: usize,
    pub peer_address: String,
    pub local_address: String,
    pub created_at_ms: u64,
    pub last_command_at_ms: u64,
    /// Lower-case name of the last command (for CLIENT LIST's `cmd=`).
    pub last_command: &'static str,
}

/// What the connection-level command handler needs to know about the node
/// and the connection's database, provided by the engine.
#[derive(Debug, Clone)]
pub struct SessionEnv<'a> {
    pub now_ms: u64,
    /// The database's password (`requirepass`-style), if any.
    pub password: Option<&'a str>,
    pub database_name: &'a str,
    pub port: u16,
    pub proto_max_bulk_len: u64,
    pub maxmemory_bytes: u64,
    /// Data threads (shards) on this node.
    pub shard_count: usize,
}

/// What the engine must do after a connection-level command.
#[derive(Debug)]
pub enum Outcome {
    Reply(Reply),
    /// Send this reply, then close the connection (QUIT).
    ReplyAndClose(Reply),
    /// Collect a [`NodeSnapshot`] from every data thread and call
    /// [`finish_gather`] with it.
    Gather(GatherRequest),
}

/// A request for node-wide state, kept until the snapshot arrives.
#[derive(Debug, Clone)]
pub enum GatherRequest {
    /// INFO with the requested section names (lower-case; empty: default sections).
    Info { sections: Vec<String> },
    /// CLIENT LIST, optionally filtered by `ID id...`.
    ClientList { ids: Option<Vec<u64>> },
    /// CLIENT KILL ... answered after collecting matches.
    ClientInfo,
}

/// Per-database numbers from one shard.
#[derive(Debug, Clone, Default)]
pub struct DatabaseShardStats {
    pub keys: u64,
    pub expires: u64,
    pub used_memory_bytes: u64,
    pub expired_keys_total: u64,
}

/// Per-command call counters, as INFO commandstats reports them.
#[derive(Debug, Clone, Default)]
pub struct CommandStat {
    pub calls: u64,
    pub usec: u64,
    pub rejected_calls: u64,
    pub failed_calls: u64,
}

/// Everything INFO and CLIENT LIST need from one data thread.
#[derive(Debug, Clone, Default)]
pub struct ThreadSnapshot {
    pub databases: Vec<DatabaseShardStats>,
    pub connected_clients: u64,
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub rejected_connections: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
    /// (lower-case command name, counters).
    pub command_stats: Vec<(&'static str, CommandStat)>,
    /// One CLIENT LIST line per connection on this thread (without newline).
    pub client_lines: Vec<(u64, String)>,
}

/// Node-wide state assembled by the engine from every thread.
#[derive(Debug, Clone, Default)]
pub struct NodeSnapshot {
    pub threads: Vec<ThreadSnapshot>,
    pub started_at_ms: u64,
    pub now_ms: u64,
    pub process_id: u32,
    pub tcp_port: u16,
    pub version: &'static str,
    /// (database name, memory limit in bytes; 0 = none).
    pub databases: Vec<(String, u64)>,
    /// Extra INFO sections rendered elsewhere (TLS, replication): (title, body lines).
    pub extra_sections: Vec<(String, String)>,
}
