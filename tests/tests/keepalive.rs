//! Proves `tcp_keepalive` (Redis's `tcp-keepalive`) where it matters: a
//! client whose host vanishes (no FIN, no reset) must not hold its place
//! under maxclients for ever. The client connects from a network namespace
//! of the test's own over a veth link, the link goes down, and the server
//! must notice through its keepalive probes, close the connection, and
//! serve a new client. Runs against redis-server too. A replica's link to
//! its source is probed the same way.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use petrel_e2e::netns::Pair;
use petrel_e2e::{
    query, run_tool, skip_under_redis, wait_until, Config, Database, Server, Target, IO_TIMEOUT,
};

const KEEPALIVE_SECS: u64 = 2;
/// Silence (2 s), then three probes a second apart, with room to spare.
const DEAD_PEER_NOTICED_WITHIN: Duration = Duration::from_secs(20);

/// A connection from the far side that PING answered; retried while the
/// server has yet to notice that its readiness probe closed.
fn far_client_served(namespaces: &Pair, port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut stream = namespaces.connect_from_client_side(port);
        stream.write_all(b"PING\r\n").expect("send PING");
        let mut answer = [0u8; 7];
        stream
            .read_exact(&mut answer)
            .expect("read the answer to PING");
        if &answer == b"+PONG\r\n" {
            return stream;
        }
        assert!(
            Instant::now() < deadline,
            "the far client was not served: {:?}",
            String::from_utf8_lossy(&answer)
        );
        thread::sleep(Duration::from_millis(20));
    }
}

// maxclients 1: a client on the far side of a veth link takes the place and
// a second client is refused. The far side's link goes down; within the
// keepalive time and its three probes the server drops the silent client,
// and redis-cli gets PONG again.
#[test]
fn a_client_whose_host_vanished_frees_its_place() {
    let Some(namespaces) = Pair::create() else {
        return;
    };
    namespaces.enter_server_side();
    let server = Server::start(
        Config::new()
            .bind("0.0.0.0")
            .maxclients(1)
            .tcp_keepalive(KEEPALIVE_SECS),
    );
    // Held to the end: the far client never closes, it goes silent.
    let _far_client = far_client_served(&namespaces, server.port());
    let refused = server.redis_cli(&["PING"], None);
    assert!(
        refused.stdout.contains("ERR max number of clients reached"),
        "the far client should hold the only place: {refused:?}"
    );

    namespaces.cut_client_off();
    let cut_at = Instant::now();
    loop {
        let answer = server.redis_cli(&["PING"], None);
        if answer.stdout.trim() == "PONG" {
            break;
        }
        assert!(
            cut_at.elapsed() < DEAD_PEER_NOTICED_WITHIN,
            "the vanished client still held its place after {DEAD_PEER_NOTICED_WITHIN:?}: {answer:?}"
        );
        thread::sleep(Duration::from_millis(250));
    }
    eprintln!(
        "place freed {:?} after the link went down",
        cut_at.elapsed()
    );
}

/// The TCP connections `pid` has open to `port`, as `ss` prints them with
/// their timers (`timer:(keepalive,...)` where probes are armed).
fn links_to(pid: u32, port: u16) -> Vec<String> {
    let filter = format!("( dport = :{port} )");
    let listed = run_tool(
        "ss",
        &["-tnopH", "state", "established", &filter],
        None,
        IO_TIMEOUT,
    );
    assert!(listed.status.success(), "ss failed: {listed:?}");
    listed
        .stdout
        .lines()
        .filter(|line| line.contains(&format!("pid={pid},")))
        .map(str::to_string)
        .collect()
}

/// A Petrel replica of `source` with this `tcp_keepalive`, once its link is up.
fn replica_of(source: &Server, keepalive_secs: u64) -> Server {
    let uri = format!("redis://127.0.0.1:{}", source.port());
    let replica =
        Server::start(Config::new().tcp_keepalive(keepalive_secs).databases(
            vec![Database::new("replica").extra(
                "replica_sources",
                &format!("[ {{ uri = \"{uri}\" }} ]"),
            )],
        ));
    let mut client = replica.client();
    wait_until(
        Duration::from_secs(20),
        "the replica's link to come up",
        || {
            let info: String = query(&mut client, &["INFO", "replication"]);
            info.contains("master_link_status:up")
        },
    );
    replica
}

// A replica's link to its source gets the same keepalive probes as a
// client connection (Redis sets them on its master link too), so a source
// whose host vanished is noticed without waiting for traffic; with
// tcp_keepalive = 0 it gets none.
#[test]
fn a_replica_probes_its_source() {
    if skip_under_redis("Petrel's replica_sources") {
        return;
    }
    let source = Server::start_target(Target::Redis, Config::new());

    let probing = replica_of(&source, 7);
    let links = links_to(probing.pid(), source.port());
    assert_eq!(links.len(), 1, "one link to the source expected: {links:?}");
    assert!(
        links[0].contains("timer:(keepalive,"),
        "the link to the source should have keepalive probes armed: {}",
        links[0]
    );
    drop(probing);

    let silent = replica_of(&source, 0);
    let links = links_to(silent.pid(), source.port());
    assert_eq!(links.len(), 1, "one link to the source expected: {links:?}");
    assert!(
        !links[0].contains("keepalive"),
        "tcp_keepalive = 0 arms no probes: {}",
        links[0]
    );
}
