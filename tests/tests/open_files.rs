//! Proves that the server holds more connections than the open-file soft
//! limit it was started with: shells and service managers often start a
//! process at 1,024, and Redis raises its own limit towards maxclients, so
//! Petrel must too. Each client here is a plain socket that sends PING and
//! must read +PONG; a server stuck at its starting limit leaves the extra
//! connections in the listen backlog, unanswered.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use petrel_e2e::{skip_under_redis, Config, Server};

/// The soft limit the server starts with, far below the connections opened.
const STARTING_SOFT_LIMIT: u64 = 128;
const CLIENTS: usize = 400;

/// Opens `count` connections to `port`, sends PING on each and reads every
/// answer; panics naming the first connection that got none.
fn ping_from_many_connections(port: u16, count: usize) {
    let mut connections = Vec::with_capacity(count);
    for index in 0..count {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .unwrap_or_else(|error| panic!("connection {index}: connect: {error}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("set a read timeout");
        connections.push(stream);
    }
    for (index, stream) in connections.iter_mut().enumerate() {
        stream
            .write_all(b"*1\r\n$4\r\nPING\r\n")
            .unwrap_or_else(|error| panic!("connection {index}: send PING: {error}"));
    }
    for (index, stream) in connections.iter_mut().enumerate() {
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).unwrap_or_else(|error| {
            panic!("connection {index} of {count}: no answer to PING: {error}")
        });
        assert_eq!(&reply, b"+PONG\r\n", "connection {index}");
    }
}

/// This test process holds every client socket itself.
fn raise_own_limit() {
    rlimit::increase_nofile_limit(4096).expect("raise this test's open file limit");
}

/// The hard limit this process may hand down, capped at `at_most`.
fn own_hard_limit(at_most: u64) -> u64 {
    let (_, hard) = rlimit::Resource::NOFILE
        .get()
        .expect("read this test's open file limit");
    hard.min(at_most)
}

// Started at a soft limit of 128 with room above it, the server answers
// 400 connections at once (both Petrel and redis-server raise the limit).
#[test]
fn serves_more_connections_than_its_starting_soft_limit() {
    raise_own_limit();
    let hard = own_hard_limit(16384);
    if hard < 1024 {
        eprintln!("skipped: this process's hard open-file limit ({hard}) leaves no room to test");
        return;
    }
    let server = Server::start(Config::default().open_file_limit(STARTING_SOFT_LIMIT, hard));
    ping_from_many_connections(server.port(), CLIENTS);
}

// With a hard limit below maxclients + 32, Petrel still raises the soft limit
// as far as it may, serves what fits, and says in its log how many
// connections that leaves room for.
#[test]
fn a_hard_limit_below_maxclients_is_used_whole_and_reported() {
    if skip_under_redis("checks Petrel's own log lines") {
        return;
    }
    raise_own_limit();
    if own_hard_limit(1024) < 1024 {
        eprintln!("skipped: this process's hard open-file limit is below 1024");
        return;
    }
    let server = Server::start(Config::default().open_file_limit(STARTING_SOFT_LIMIT, 1024));
    ping_from_many_connections(server.port(), CLIENTS);
    let logs = server.logs();
    assert!(
        logs.contains("raised the open file limit") && logs.contains("to=1024"),
        "no line about raising the limit to 1024:\n{logs}"
    );
    assert!(
        logs.contains("connections=992") && logs.contains("maxclients=10000"),
        "no warning that 1024 leaves room for 992 of maxclients' 10000:\n{logs}"
    );
}
