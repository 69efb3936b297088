//! Replication ("sync") commands. Only a connection in the sync role may run
//! them: the engine checks the role (TLS policy) before anything else, so
//! these rows carry the SYNC flag and no shard handler.

use crate::table::{flags, CommandSpec, Route};

const fn sync_row(
    name: &'static str,
    arity: i32,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags: flags::ADMIN | flags::NOSCRIPT | flags::SYNC,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        route: Route::Connection,
        handler: None,
        group: "server",
        summary,
        since,
        arguments,
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    sync_row(
        "sync",
        1,
        "An internal command used in replication",
        "1.0.0",
        "",
    ),
    sync_row(
        "psync",
        -3,
        "An internal command used in replication",
        "2.8.0",
        "replicationid offset",
    ),
    sync_row(
        "replconf",
        -1,
        "An internal command for configuring the replication stream",
        "3.0.0",
        "",
    ),
];
