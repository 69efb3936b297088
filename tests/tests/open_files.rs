//! Proves that the server holds more connections than the open-file soft
//! limit it was started with: shells and service managers often start a
//! process at 1,024, and Redis raises its own limit towards maxclients, so
//! Petrel must too. Each client here is a plain socket that sends PING and
//! must read +PONG; a server stuck at its starting limit leaves the extra
//! connections in the listen backlog, unanswered. Where the hard limit is
//! too low for maxclients, maxclients comes down to fit it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use petrel_e2e::{free_port, petrel_binary, query, run_tool, skip_under_redis, Config, Server};

const REFUSAL: &[u8] = b"-ERR max number of clients reached\r\n";

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

// With a hard limit below maxclients + 32, Petrel raises the soft limit as
// far as it may, lowers maxclients to fit (as Redis does), serves what fits,
// and says so in its log.
#[test]
fn a_hard_limit_below_maxclients_is_used_whole_and_maxclients_fits_it() {
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
        logs.contains("maxclients lowered to fit the open file limit")
            && logs.contains("requested=10000")
            && logs.contains("maxclients=992"),
        "no warning that maxclients came down from 10000 to 992:\n{logs}"
    );
    let limit: Vec<String> = query(&mut server.client(), &["CONFIG", "GET", "maxclients"]);
    assert_eq!(limit, ["maxclients", "992"]);
}

// Where the hard limit is as low as 128, a server that accepted past its file
// descriptors would leave clients connected and unanswered. Both Petrel and
// redis-server instead bring maxclients down to 96 (the limit less 32 kept
// for themselves), serve 96 clients and answer the next one Redis's error.
#[test]
fn past_a_lowered_maxclients_a_client_is_refused_not_left_waiting() {
    raise_own_limit();
    let server = Server::start(Config::default().open_file_limit(128, 128));
    let limit: Vec<String> = query(&mut server.client(), &["CONFIG", "GET", "maxclients"]);
    assert_eq!(limit, ["maxclients", "96"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut served = Vec::new();
    while served.len() < 96 {
        let mut stream = connect(server.port());
        match ping(&mut stream) {
            reply if reply == b"+PONG\r\n" => served.push(stream),
            // The CONFIG GET connection above may not be closed yet.
            reply if reply == REFUSAL && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            reply => panic!(
                "connection {}: {:?}",
                served.len(),
                String::from_utf8_lossy(&reply)
            ),
        }
    }
    let mut extra = connect(server.port());
    assert_eq!(ping(&mut extra), REFUSAL);
    for (index, stream) in served.iter_mut().enumerate() {
        assert_eq!(ping(stream), b"+PONG\r\n", "served connection {index}");
    }
}

// `petrel check-config` says when the hard limit it runs under would make
// `petrel serve` lower maxclients, and by how much; under a limit with
// room it prints maxclients alone.
#[test]
fn check_config_says_when_the_open_file_limit_would_lower_maxclients() {
    if skip_under_redis("petrel check-config") {
        return;
    }
    let path = std::env::temp_dir().join(format!("petrel-open-files-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        Config::new().maxclients(5000).to_toml(&[free_port()]),
    )
    .expect("write the config");
    let binary = petrel_binary();
    let check = |nofile: &str| {
        let limit = format!("--nofile={nofile}");
        let args = [
            limit.as_str(),
            binary.to_str().expect("UTF-8 path"),
            "check-config",
            "--config",
            path.to_str().expect("UTF-8 path"),
        ];
        let out = run_tool("prlimit", &args, None, Duration::from_secs(30));
        assert!(out.status.success(), "check-config under {nofile}: {out:?}");
        out.stdout
    };
    let low = check("1024:1024");
    let roomy = check("8192:8192");
    let _ = std::fs::remove_file(&path);
    assert!(
        low.contains("maxclients: 5000 (the hard open file limit here, 1024, fits 992: serve would lower it)"),
        "{low}"
    );
    assert!(roomy.contains("maxclients: 5000\n"), "{roomy}");
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    stream
}

/// Sends PING and reads one line of answer (empty if the server closed).
fn ping(stream: &mut TcpStream) -> Vec<u8> {
    stream
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .expect("send PING");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => answer.push(byte[0]),
            Ok(_) => break,
            Err(error) => panic!("no answer to PING: {error}"),
        }
    }
    answer
}
