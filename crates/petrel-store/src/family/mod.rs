//! One file per command family; each ends in its rows of the command table.

pub mod connection;
pub mod hash;
pub mod keys;
pub mod list;
pub mod replication;
pub mod server;
pub mod set;
pub mod string;
pub mod transaction;
pub mod zset;

use crate::table::CommandSpec;

/// Every family's rows, in the order the table registers them.
pub const ALL: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    hash::COMMANDS,
    keys::COMMANDS,
    list::COMMANDS,
    replication::COMMANDS,
    server::COMMANDS,
    set::COMMANDS,
    string::COMMANDS,
    transaction::COMMANDS,
    zset::COMMANDS,
];
