//! Proves each database `tls_mode` on the wire with real clients:
//! `disabled` serves plaintext and closes TLS hellos, `enabled` serves TLS
//! (redis-cli --tls, the redis crate over rustls) and closes plaintext
//! before any command runs, `replica_ssl` serves both on one port and keeps
//! sync commands for TLS peers with the syncer certificate. Every case
//! asserts what the client saw and what INFO's `# TLS` section counted.

use petrel_e2e::tls::{
    expect_cli_refused, expect_counted, redis_cli_tls, s_client, tls_client, DatabaseTls, NodeTls,
    Pki, TlsConn, TlsInfo,
};
use petrel_e2e::{query, query_error, skip_under_redis, Config, Reply, Server};

const NOPERM_PLAINTEXT: &str =
    "NOPERM this database requires TLS with a syncer certificate for replication (sync) commands";
const NOPERM_NOT_SYNCER: &str =
    "NOPERM this connection did not present a syncer certificate; replication (sync) commands need one";

// tls_mode = "disabled" (the default): a plaintext client is served, while
// a TLS ClientHello from `openssl s_client` and from `redis-cli --tls` is
// answered by a closed connection without a TLS alert (the client sees an
// unexpected EOF, never a handshake), counted in
// tls_refused_on_plaintext_port (once for s_client; once or twice for
// redis-cli, which may retry); plaintext still works afterwards.
#[test]
fn disabled_mode_serves_plaintext_and_closes_tls_hellos() {
    if skip_under_redis("Petrel's tls_mode") {
        return;
    }
    let pki = Pki::generate();
    let server = Server::start(Config::new());
    let mut plain = server.client();
    let _: () = query(&mut plain, &["SET", "mode", "disabled"]);
    let before = TlsInfo::read(&mut plain);

    let out = s_client(server.port(), &pki, Some("client1"), &[]);
    assert!(!out.status.success(), "s_client connected: {out:?}");
    assert!(
        !out.stderr.contains("CONNECTION ESTABLISHED") && !out.stdout.contains("PONG"),
        "a TLS client got through a plaintext port: {out:?}"
    );
    assert!(
        out.stderr.contains("unexpected eof") || out.stderr.contains("errno"),
        "s_client should see the connection closed mid-handshake: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("alert"),
        "a plaintext port should close, not speak TLS: {}",
        out.stderr
    );
    let before = expect_counted(
        &mut plain,
        &before,
        0,
        &[("tls_refused_on_plaintext_port", 1)],
        "s_client on a disabled port",
    );

    let cli = redis_cli_tls(server.port(), &pki, Some("client1"), &["PING"]);
    assert!(
        !cli.status.success() && !cli.stdout.contains("PONG"),
        "redis-cli --tls was served on a plaintext port: {cli:?}"
    );
    expect_cli_refused(
        &mut plain,
        &before,
        "tls_refused_on_plaintext_port",
        "redis-cli --tls on a disabled port",
    );

    let value: String = query(&mut server.client(), &["GET", "mode"]);
    assert_eq!(value, "disabled");
}

fn enabled_server(pki: &Pki) -> Server {
    Server::start(
        Config::new()
            .node_tls(NodeTls::from_pki(pki))
            .database_tls(DatabaseTls::enabled().trust(&pki.cert("client1"))),
    )
}

// tls_mode = "enabled": redis-cli --tls and the redis crate over rustls,
// both with the pinned client1 certificate, write and read the same keys;
// CLIENT LIST shows the TLS transport, version and cipher; a plaintext
// `SET k v` (raw socket) and plaintext redis-cli are closed before any
// command runs (nothing comes back, and over TLS `k` does not exist), each
// counted in plaintext_refused_on_tls_port; each served TLS client counts
// one completed handshake.
#[test]
fn enabled_mode_serves_tls_and_closes_plaintext_before_any_command() {
    if skip_under_redis("Petrel's tls_mode") {
        return;
    }
    let pki = Pki::generate();
    let server = enabled_server(&pki);
    let port = server.port();
    let mut observer = tls_client(port, &pki, Some("client1"));
    let before = TlsInfo::read(&mut observer);

    let set = redis_cli_tls(port, &pki, Some("client1"), &["SET", "greeting", "hello"]);
    assert_eq!(set.stdout.trim(), "OK", "{set:?}");
    let get = redis_cli_tls(port, &pki, Some("client1"), &["GET", "greeting"]);
    assert_eq!(get.stdout.trim(), "hello", "{get:?}");
    let mut crate_client = tls_client(port, &pki, Some("client1"));
    let value: String = query(&mut crate_client, &["GET", "greeting"]);
    assert_eq!(value, "hello");
    let _: () = query(&mut crate_client, &["SET", "from-crate", "yes"]);
    let get = redis_cli_tls(port, &pki, Some("client1"), &["GET", "from-crate"]);
    assert_eq!(get.stdout.trim(), "yes", "{get:?}");
    let before = expect_counted(&mut observer, &before, 4, &[], "four TLS clients served");

    let list: String = query(&mut crate_client, &["CLIENT", "LIST"]);
    let own = list
        .lines()
        .find(|line| line.contains("cmd=client|list"))
        .unwrap_or_else(|| panic!("CLIENT LIST lacks the asking connection: {list}"));
    let transport = format!("transport={}", before.tls_transport());
    assert!(
        own.contains(&transport)
            && own.contains("tls-version=TLSv1.3")
            && own.contains("tls-cipher=TLS13_"),
        "CLIENT LIST should show {transport}, TLSv1.3 and its cipher: {own}"
    );
    assert!(
        !list.contains("transport=plain"),
        "a plaintext connection is listed on a TLS-only port: {list}"
    );

    let mut raw = server.raw();
    raw.send_command(&["SET", "k", "v"]);
    let answer = raw.read_until_closed();
    assert!(
        answer.is_empty(),
        "a plaintext SET was answered on a TLS-only port: {:?}",
        String::from_utf8_lossy(&answer)
    );
    let before = expect_counted(
        &mut observer,
        &before,
        0,
        &[("plaintext_refused_on_tls_port", 1)],
        "plaintext SET on an enabled port",
    );
    let exists: i64 = query(&mut observer, &["EXISTS", "k"]);
    assert_eq!(exists, 0, "the plaintext SET ran");

    let cli = server.redis_cli(&["SET", "k", "v"], None);
    assert!(
        !cli.stdout.contains("OK"),
        "plaintext redis-cli was served: {cli:?}"
    );
    expect_cli_refused(
        &mut observer,
        &before,
        "plaintext_refused_on_tls_port",
        "plaintext redis-cli on an enabled port",
    );
    let exists: i64 = query(&mut observer, &["EXISTS", "k"]);
    assert_eq!(exists, 0, "the plaintext redis-cli SET ran");
}

// tls_mode = "replica_ssl": one port serves a plaintext client and a TLS
// client (client1) on the same data. PSYNC, SYNC and REPLCONF over
// plaintext answer the NOPERM text and change nothing (INFO replication,
// DBSIZE and the TLS counters stay the same; the connection goes on).
// Over TLS, the syncer certificate's PSYNC passes the policy (the answer is
// +FULLRESYNC, not NOPERM) while client1's PSYNC gets NOPERM for lacking a
// syncer certificate. Refused PSYNC and SYNC are counted in INFO
// replication.
#[test]
fn replica_ssl_serves_both_and_keeps_sync_for_the_syncer_certificate() {
    if skip_under_redis("Petrel's tls_mode") {
        return;
    }
    let pki = Pki::generate();
    let server = Server::start(
        Config::new()
            .node_tls(NodeTls::from_pki(&pki))
            .database_tls(DatabaseTls::replica_ssl().trust(&pki.cert("client1"))),
    );
    let port = server.port();
    let mut plain = server.client();
    let before = TlsInfo::read(&mut plain);

    let _: () = query(&mut plain, &["SET", "written-in", "plaintext"]);
    let mut tls = tls_client(port, &pki, Some("client1"));
    let value: String = query(&mut tls, &["GET", "written-in"]);
    assert_eq!(value, "plaintext");
    let _: () = query(&mut tls, &["SET", "written-over", "tls"]);
    let value: String = query(&mut plain, &["GET", "written-over"]);
    assert_eq!(value, "tls");
    let list: String = query(&mut plain, &["CLIENT", "LIST"]);
    let transport = format!("transport={}", before.tls_transport());
    assert!(
        list.contains("transport=plain") && list.contains(&transport),
        "CLIENT LIST should show a plaintext and a TLS client: {list}"
    );
    let before = expect_counted(&mut plain, &before, 1, &[], "TLS client on replica_ssl");

    let replication: String = query(&mut plain, &["INFO", "replication"]);
    let keys: i64 = query(&mut plain, &["DBSIZE"]);
    let mut raw = server.raw();
    for command in [
        &["PSYNC", "?", "-1"][..],
        &["SYNC"][..],
        &["REPLCONF", "listening-port", "6380"][..],
    ] {
        assert_eq!(
            raw.command(command),
            Reply::Error(NOPERM_PLAINTEXT.into()),
            "{command:?} over plaintext"
        );
    }
    assert_eq!(raw.command(&["PING"]), Reply::simple("PONG"));
    let replication_after: String = query(&mut plain, &["INFO", "replication"]);
    let without_refusals = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| !line.starts_with("sync_refused_"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        without_refusals(&replication_after),
        without_refusals(&replication),
        "a refused sync command changed the replication state"
    );
    assert!(
        replication_after.contains("sync_refused_plaintext:2"),
        "PSYNC and SYNC refusals are counted: {replication_after}"
    );
    let keys_after: i64 = query(&mut plain, &["DBSIZE"]);
    assert_eq!(keys_after, keys);
    let before = expect_counted(&mut plain, &before, 0, &[], "plaintext PSYNC");

    let syncer_config = petrel_e2e::tls::client_config(&pki, Some("syncer"), None);
    let mut syncer = TlsConn::connect(port, syncer_config).expect("syncer handshake");
    let answer = syncer.command(&["PSYNC", "?", "-1"]);
    assert!(
        matches!(&answer, Reply::Simple(text) if text.starts_with("FULLRESYNC ")),
        "the syncer certificate's PSYNC must pass the TLS policy: {answer:?}"
    );
    let before = expect_counted(&mut plain, &before, 1, &[], "syncer PSYNC over TLS");

    assert_eq!(
        query_error(&mut tls, &["PSYNC", "?", "-1"]),
        NOPERM_NOT_SYNCER
    );
    assert_eq!(query_error(&mut tls, &["SYNC"]), NOPERM_NOT_SYNCER);
    let value: String = query(&mut tls, &["GET", "written-in"]);
    assert_eq!(
        value, "plaintext",
        "client1's connection goes on after NOPERM"
    );
    expect_counted(&mut plain, &before, 0, &[], "client1 PSYNC over TLS");
}

// A connection to a TLS-only database that stalls in its handshake (here:
// half a ClientHello record) is listed with transport=pending from accept,
// and CLIENT KILL closes it before the handshake timeout would.
#[test]
fn a_connection_stalled_in_its_handshake_is_listed_and_can_be_killed() {
    if skip_under_redis("Petrel's transport field") {
        return;
    }
    let pki = Pki::generate();
    let server = enabled_server(&pki);
    let mut operator = tls_client(server.port(), &pki, Some("client1"));
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    std::io::Write::write_all(&mut stalled, &[0x16, 0x03, 0x01, 0x01, 0x00, 0x01])
        .expect("send the start of a ClientHello");
    let address = stalled.local_addr().expect("local address").to_string();
    let line = (0..100)
        .find_map(|_| {
            let list: String = query(&mut operator, &["CLIENT", "LIST"]);
            let line = list
                .lines()
                .find(|line| line.contains(&format!(" addr={address} ")))
                .map(str::to_string);
            if line.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            line
        })
        .unwrap_or_else(|| panic!("CLIENT LIST lacks the stalled connection {address}"));
    assert!(
        line.contains(" cmd=NULL ") && line.contains(" transport=pending "),
        "{line}"
    );

    let killed: i64 = query(&mut operator, &["CLIENT", "KILL", "ADDR", &address]);
    assert_eq!(killed, 1);
    stalled
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("set a read timeout");
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut stalled, &mut rest).expect("the close, not a timeout");
    assert!(
        rest.is_empty(),
        "nothing should answer a killed handshake: {rest:?}"
    );
}
