//! Proves `maxclients` on the wire: past the limit a client is answered
//! Redis's `-ERR max number of clients reached` and closed, the clients
//! already connected keep working, INFO counts the refusals, and a freed
//! place is taken again. Runs against redis-server too (`--maxclients`),
//! except what only Petrel promises: one limit over all of a node's
//! databases, and TLS connections refused without a handshake.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use petrel_e2e::tls::{client_config, DatabaseTls, NodeTls, Pki, TlsConn};
use petrel_e2e::{query, skip_under_redis, Config, Database, Reply, Server};

const REFUSAL: &[u8] = b"-ERR max number of clients reached\r\n";
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";
/// How long a server may take to notice a closed client and free its place.
const CLOSE_NOTICED_WITHIN: Duration = Duration::from_secs(5);

/// Sends PING on a new connection and reads until the server closes it or
/// 2 s pass: what a client past the limit sees.
fn refused_answer(port: u16) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("read timeout");
    stream.write_all(PING).expect("send PING");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

/// A connection that answers PING; retried while the server has yet to
/// notice that an earlier connection closed (the readiness probe's, or one
/// the test just dropped).
fn served_client(server: &Server) -> redis::Connection {
    let deadline = Instant::now() + CLOSE_NOTICED_WITHIN;
    let client = redis::Client::open(server.url()).expect("server url");
    loop {
        let attempt = client
            .get_connection_with_timeout(Duration::from_secs(5))
            .and_then(|mut connection| {
                redis::cmd("PING")
                    .query::<String>(&mut connection)
                    .map(|pong| (connection, pong))
            });
        match attempt {
            Ok((connection, pong)) => {
                assert_eq!(pong, "PONG");
                return connection;
            }
            Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Err(error) => panic!("no place freed within {CLOSE_NOTICED_WITHIN:?}: {error}"),
        }
    }
}

/// INFO's rejected_connections. Tests compare it before and after their
/// refusals: `served_client` may itself have been refused while the server
/// had yet to notice an earlier close.
fn rejected(connection: &mut redis::Connection) -> u64 {
    info_field(connection, "stats", "rejected_connections")
        .parse()
        .expect("rejected_connections is a number")
}

fn info_field(connection: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = query(connection, &["INFO", section]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}:\n{info}"))
        .to_owned()
}

// With maxclients 3 and three clients connected, a fourth connection (raw
// bytes, then redis-cli) reads exactly Redis's error and is closed; the
// three go on working; INFO and CONFIG GET show the limit and count both
// refusals; closing one client frees a place for a new one, and the limit
// holds again after that.
#[test]
fn past_maxclients_a_client_gets_the_error_and_the_others_keep_working() {
    let server = Server::start(Config::new().maxclients(3));
    let port = server.port();
    let mut held: Vec<redis::Connection> = (0..3).map(|_| served_client(&server)).collect();
    let rejected_before = rejected(&mut held[0]);

    assert_eq!(refused_answer(port), REFUSAL);
    let cli = server.redis_cli(&["PING"], None);
    assert!(
        cli.stdout.contains("ERR max number of clients reached"),
        "redis-cli should print the refusal: {cli:?}"
    );

    for (index, client) in held.iter_mut().enumerate() {
        let pong: String = query(client, &["PING"]);
        assert_eq!(pong, "PONG", "held client {index}");
    }
    assert_eq!(rejected(&mut held[0]) - rejected_before, 2);
    assert_eq!(
        info_field(&mut held[0], "clients", "connected_clients"),
        "3"
    );
    assert_eq!(info_field(&mut held[0], "clients", "maxclients"), "3");
    let limit: Vec<String> = query(&mut held[0], &["CONFIG", "GET", "maxclients"]);
    assert_eq!(limit, ["maxclients", "3"]);

    drop(held.pop());
    held.push(served_client(&server));
    assert_eq!(
        refused_answer(port),
        REFUSAL,
        "the limit after a place was reused"
    );
    let _: () = query(&mut held[2], &["SET", "still", "served"]);
    let value: String = query(&mut held[0], &["GET", "still"]);
    assert_eq!(value, "served");
}

/// Polls INFO's connected_clients until it is `wanted` (a server counts
/// a connection once it has accepted it, and forgets it once it has seen
/// the close), or panics after 5 s.
fn wait_for_connected_clients(observer: &mut redis::Connection, wanted: &str) {
    let deadline = Instant::now() + CLOSE_NOTICED_WITHIN;
    loop {
        let seen = info_field(observer, "clients", "connected_clients");
        if seen == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "connected_clients stayed {seen}, not {wanted}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

// A connection counts from accept, before it sends anything, as in Redis:
// two silent connections and the observer make connected_clients 3, which
// is maxclients, and the next connection is refused; once the silent ones
// close, the count drops back to 1.
#[test]
fn silent_connections_count_in_connected_clients_and_against_the_limit() {
    let server = Server::start(Config::new().maxclients(3));
    let port = server.port();
    let mut observer = served_client(&server);
    wait_for_connected_clients(&mut observer, "1");
    let silent: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("connect"))
        .collect();
    wait_for_connected_clients(&mut observer, "3");
    assert_eq!(refused_answer(port), REFUSAL);
    drop(silent);
    wait_for_connected_clients(&mut observer, "1");
}

// Refused connections are not leaked: after a hundred refusals, closing
// every client makes room for maxclients new ones.
#[test]
fn refusals_leave_every_place_free_once_clients_close() {
    let server = Server::start(Config::new().maxclients(2));
    let port = server.port();
    let mut held: Vec<redis::Connection> = (0..2).map(|_| served_client(&server)).collect();
    let rejected_before = rejected(&mut held[0]);
    for attempt in 0..100 {
        assert_eq!(refused_answer(port), REFUSAL, "attempt {attempt}");
    }
    assert_eq!(rejected(&mut held[0]) - rejected_before, 100);
    drop(held);
    let _again: Vec<redis::Connection> = (0..2).map(|_| served_client(&server)).collect();
    assert_eq!(refused_answer(port), REFUSAL);
}

// Fifty connections past the limit, held open at once and silent, each
// read the error and then the end of the stream; the clients within the
// limit are served throughout, and every refusal is counted.
#[test]
fn a_crowd_of_refused_connections_is_answered_and_does_not_stop_the_node() {
    let server = Server::start(Config::new().maxclients(2));
    let port = server.port();
    let mut held: Vec<redis::Connection> = (0..2).map(|_| served_client(&server)).collect();
    let rejected_before = rejected(&mut held[0]);
    let mut crowd: Vec<TcpStream> = (0..50)
        .map(|index| {
            let stream = TcpStream::connect(("127.0.0.1", port))
                .unwrap_or_else(|error| panic!("crowd connection {index}: {error}"));
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .expect("read timeout");
            stream
        })
        .collect();
    for (index, stream) in crowd.iter_mut().enumerate() {
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .unwrap_or_else(|error| panic!("crowd connection {index} was not closed: {error}"));
        assert_eq!(answer, REFUSAL, "crowd connection {index}");
    }
    let pong: String = query(&mut held[1], &["PING"]);
    assert_eq!(pong, "PONG");
    assert_eq!(rejected(&mut held[0]) - rejected_before, 50);
}

// On Petrel the limit is the node's, over all of its databases (as its open
// file limit is), and a database that takes only TLS refuses a connection
// past the limit by closing it before the handshake, as Redis does, so a
// flood of connections costs no handshakes; the TLS client already
// connected is unaffected, and the refusal is logged.
#[test]
fn the_limit_spans_databases_and_tls_refusals_spend_no_handshake() {
    if skip_under_redis("node-wide maxclients over several databases and Petrel's TLS") {
        return;
    }
    let pki = Pki::generate();
    let server = Server::start(
        Config::new()
            .maxclients(2)
            .node_tls(NodeTls::from_pki(&pki))
            .databases(vec![
                Database::new("plain"),
                Database::new("secure").with_tls(DatabaseTls::enabled().enforce(false)),
            ]),
    );
    let tls_config = client_config(&pki, None, None);
    let mut plain = served_client(&server);
    // Retried while the server has yet to notice its readiness probe close.
    let deadline = Instant::now() + CLOSE_NOTICED_WITHIN;
    let mut secure = loop {
        match TlsConn::connect(server.port_of("secure"), tls_config.clone()) {
            Ok(secure) => break secure,
            Err(error) if Instant::now() > deadline => panic!("the first TLS client fits: {error}"),
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    };
    assert_eq!(secure.command(&["PING"]), Reply::Simple("PONG".into()));
    let rejected_before = rejected(&mut plain);

    assert_eq!(refused_answer(server.port_of("plain")), REFUSAL);
    let started = Instant::now();
    let refused = TlsConn::connect(server.port_of("secure"), tls_config.clone());
    let error = refused
        .err()
        .expect("a TLS client past maxclients must not get through");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the refused handshake should end at once, not time out: {error}"
    );

    assert_eq!(secure.command(&["PING"]), Reply::Simple("PONG".into()));
    assert_eq!(rejected(&mut plain) - rejected_before, 2);
    let logs = server.logs();
    assert!(
        logs.contains("refusing connections: maxclients are open"),
        "no log line about refusing connections:\n{logs}"
    );
}
