//! Proves `tcp_keepalive` (Redis's `tcp-keepalive`) where it matters: a
//! client whose host vanishes (no FIN, no reset) must not hold its place
//! under maxclients for ever. The client connects from a network namespace
//! of the test's own over a veth link, the link goes down, and the server
//! must notice through its keepalive probes, close the connection, and
//! serve a new client. Runs against redis-server too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use petrel_e2e::netns::Pair;
use petrel_e2e::{Config, Server};

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
