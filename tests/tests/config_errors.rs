//! Proves that `petrel serve --config` refuses a bad configuration the way
//! an operator needs: it exits non-zero without serving, and its message
//! names the key (or database and address) and the reason. Also proves that
//! `petrel check-config` prints what a good file would serve, and that
//! `io_driver = "epoll"` serves plaintext and TLS clients and says so in
//! the log.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use petrel_e2e::tls::{tls_client, DatabaseTls, NodeTls, Pki, TlsInfo};
use petrel_e2e::{
    free_port, petrel_binary, query, run_tool, skip_under_redis, CliOutput, Config, Server,
};

/// How long a refused start may take before it counts as hanging.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

fn write_config(pki: &Pki, file: &str, toml: &str) -> PathBuf {
    let path = pki.dir().join(file);
    std::fs::write(&path, toml).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    path
}

fn petrel(args: &[&str]) -> CliOutput {
    let binary = petrel_binary();
    let binary = binary.to_str().expect("the petrel binary's path is UTF-8");
    run_tool(binary, args, None, EXIT_TIMEOUT)
}

/// Runs `petrel serve --config` on `toml`, asserts that it exits non-zero
/// without becoming ready and that stderr holds every fragment of `wanted`;
/// returns stderr.
fn serve_fails(pki: &Pki, case: &str, toml: &str, wanted: &[&str]) -> String {
    let file = format!(
        "{}.toml",
        case.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    );
    let path = write_config(pki, &file, toml);
    let path = path.to_str().expect("temp path is UTF-8");
    let out = petrel(&["serve", "--config", path]);
    assert!(
        !out.status.success(),
        "{case}: petrel serve accepted the config:\n{toml}\n{out:?}"
    );
    assert!(
        !out.stderr.contains("petrel ready"),
        "{case}: petrel became ready before failing: {}",
        out.stderr
    );
    for fragment in wanted {
        assert!(
            out.stderr.contains(fragment),
            "{case}: the message should contain `{fragment}`; stderr:\n{}",
            out.stderr
        );
    }
    out.stderr
}

fn path_of(pki: &Pki, file: &str) -> String {
    pki.dir().join(file).display().to_string()
}

// Plain configuration mistakes: an unknown key in [node] and in a database
// (the key is named with the keys that exist), data_cores of 0, more than
// the machine has, and a core listed twice (node.data_cores with the
// reason), and two databases on one port (databases[1].port naming the
// other database).
#[test]
fn bad_keys_and_values_are_refused_naming_the_key() {
    if skip_under_redis("petrel's configuration") {
        return;
    }
    let pki = Pki::generate();
    let port = free_port();
    let database = format!("[[databases]]\nname = \"a\"\nport = {port}\n");
    serve_fails(
        &pki,
        "unknown node key",
        &format!("[node]\nbnid = \"127.0.0.1\"\n\n{database}"),
        &["unknown field `bnid`", "expected one of", "`bind`"],
    );
    serve_fails(
        &pki,
        "unknown database key",
        &format!("{database}tls_mod = \"enabled\"\n"),
        &["unknown field `tls_mod`", "`tls_mode`"],
    );
    serve_fails(
        &pki,
        "zero data cores",
        &format!("[node]\ndata_cores = 0\n\n{database}"),
        &["node.data_cores", "must be at least 1"],
    );
    serve_fails(
        &pki,
        "too many data cores",
        &format!("[node]\ndata_cores = 4096\n\n{database}"),
        &[
            "node.data_cores",
            "4096 data cores requested but this machine has",
        ],
    );
    serve_fails(
        &pki,
        "core listed twice",
        &format!("[node]\ndata_cores = [0, 0]\n\n{database}"),
        &["node.data_cores", "core 0 is listed twice"],
    );
    serve_fails(
        &pki,
        "deferred task run under sqpoll",
        &format!("[[cores]]\nid = 0\nsqpoll = true\nring_task_run = \"deferred\"\n\n{database}"),
        &["cores[0].ring_task_run", "needs sqpoll = false"],
    );
    serve_fails(
        &pki,
        "unknown task run",
        &format!("[[cores]]\nid = 0\nring_task_run = \"eager\"\n\n{database}"),
        &["unknown variant `eager`", "`deferred`"],
    );
    serve_fails(
        &pki,
        "duplicate port",
        &format!("{database}\n[[databases]]\nname = \"b\"\nport = {port}\n"),
        &[
            "databases[1].port",
            &format!("port {port} is already used by database `a`"),
        ],
    );
}

// A port that another process (this test) already listens on: start-up
// fails naming the database, the address and "Address already in use",
// and does not steal the port (the test's listener still owns it).
#[test]
fn a_port_held_by_another_process_is_refused() {
    if skip_under_redis("petrel's configuration") {
        return;
    }
    let pki = Pki::generate();
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
    let port = holder.local_addr().expect("held address").port();
    serve_fails(
        &pki,
        "port in use",
        &format!("[[databases]]\nname = \"held\"\nport = {port}\n"),
        &[
            "database `held`",
            &format!("cannot listen on 127.0.0.1:{port}"),
            "Address already in use",
        ],
    );
    holder.set_nonblocking(true).expect("non-blocking listener");
    assert!(
        holder.accept().is_err(),
        "nobody should have connected to the held port"
    );
}

fn tls_database(port: u16, client_cert: &str) -> String {
    format!(
        "[[databases]]\nname = \"a\"\nport = {port}\ntls_mode = \"enabled\"\n\
         authentication_ssl_client_certs = [ {{ client_cert = \"{client_cert}\" }} ]\n"
    )
}

// TLS mistakes, each stopping start-up with the node or database, the field
// and the reason: tls_mode = "enabled" without [node.tls] proxy_cert; an
// expired proxy certificate; a proxy key that belongs to another
// certificate; a client certificate path that does not exist.
#[test]
fn bad_tls_settings_are_refused_naming_the_field() {
    if skip_under_redis("petrel's configuration") {
        return;
    }
    let pki = Pki::generate();
    let port = free_port();
    let client1 = path_of(&pki, "client1.pem");
    let node = |cert: &str, key: &str| {
        format!(
            "[node.tls]\nproxy_cert = \"{}\"\nproxy_key = \"{}\"\n\n",
            path_of(&pki, cert),
            path_of(&pki, key)
        )
    };
    serve_fails(
        &pki,
        "enabled without proxy_cert",
        &tls_database(port, &client1),
        &[
            "proxy_cert",
            "required because database \"a\" has tls_mode = \"enabled\"",
        ],
    );
    serve_fails(
        &pki,
        "expired proxy certificate",
        &format!(
            "{}{}",
            node("expired-proxy.pem", "expired-proxy.key"),
            tls_database(port, &client1)
        ),
        &["node: proxy_cert", "expired"],
    );
    serve_fails(
        &pki,
        "key of another certificate",
        &format!(
            "{}{}",
            node("proxy.pem", "client1.key"),
            tls_database(port, &client1)
        ),
        &[
            "node: proxy_key",
            "private key does not match the certificate in proxy_cert",
        ],
    );
    let missing = path_of(&pki, "no-such-client.pem");
    serve_fails(
        &pki,
        "missing client certificate file",
        &format!(
            "{}{}",
            node("proxy.pem", "proxy.key"),
            tls_database(port, &missing)
        ),
        &[
            "database \"a\"",
            "authentication_ssl_client_certs[0].client_cert",
            &format!("cannot read {missing}"),
            "No such file or directory",
        ],
    );
}

// The message of a refused TLS setting says each thing once. Today the
// start-up error wraps the TLS error and prints it again as its cause:
// "TLS configuration: node: proxy_key: ...: node: proxy_key: ...".
#[test]
fn a_tls_error_is_printed_once() {
    if skip_under_redis("petrel's configuration") {
        return;
    }
    let pki = Pki::generate();
    let port = free_port();
    let stderr = serve_fails(
        &pki,
        "mismatched key printed once",
        &format!(
            "[node.tls]\nproxy_cert = \"{}\"\nproxy_key = \"{}\"\n\n{}",
            path_of(&pki, "proxy.pem"),
            path_of(&pki, "client1.key"),
            tls_database(port, &path_of(&pki, "client1.pem"))
        ),
        &["private key does not match"],
    );
    assert_eq!(
        stderr.matches("private key does not match").count(),
        1,
        "the reason is repeated: {stderr}"
    );
}

// `petrel check-config` on a good two-database file exits 0 without
// serving and prints each database with its address, TLS mode and client
// authentication, and each configured certificate with its expiry; on a
// file whose proxy key does not match it exits non-zero naming proxy_key.
#[test]
fn check_config_prints_the_databases() {
    if skip_under_redis("petrel's configuration") {
        return;
    }
    let pki = Pki::generate();
    let (tls_port, plain_port) = (free_port(), free_port());
    let good = format!(
        "[node]\ndata_cores = 1\n\n[node.tls]\nproxy_cert = \"{}\"\nproxy_key = \"{}\"\n\n{}\
         \n[[databases]]\nname = \"plain\"\nport = {plain_port}\nmemory_size = \"1mb\"\n",
        path_of(&pki, "proxy.pem"),
        path_of(&pki, "proxy.key"),
        tls_database(tls_port, &path_of(&pki, "client1.pem")),
    );
    let path = write_config(&pki, "good.toml", &good);
    let out = petrel(&[
        "check-config",
        "--config",
        path.to_str().expect("UTF-8 path"),
    ]);
    assert!(
        out.status.success(),
        "check-config refused a good file: {out:?}"
    );
    for line in [
        "data cores: [0]".to_owned(),
        format!(
            "database a: 127.0.0.1:{tls_port} memory_size=0 password=none tls_mode=enabled enforce_client_authentication=enabled"
        ),
        format!(
            "database plain: 127.0.0.1:{plain_port} memory_size=1048576 password=none tls_mode=disabled"
        ),
    ] {
        assert!(
            out.stdout.contains(&line),
            "check-config should print `{line}`:\n{}",
            out.stdout
        );
    }
    assert!(
        out.stdout.contains("proxy_cert: CN=localhost")
            && out
                .stdout
                .contains("authentication_ssl_client_certs[0]: CN=client1"),
        "check-config should list the certificates with their expiry:\n{}",
        out.stdout
    );
    assert!(
        TcpListener::bind(("127.0.0.1", tls_port)).is_ok(),
        "check-config must not listen"
    );

    let bad = good.replace(&path_of(&pki, "proxy.key"), &path_of(&pki, "client1.key"));
    let path = write_config(&pki, "bad.toml", &bad);
    let out = petrel(&[
        "check-config",
        "--config",
        path.to_str().expect("UTF-8 path"),
    ]);
    assert!(
        !out.status.success(),
        "check-config accepted a bad key: {out:?}"
    );
    assert!(
        out.stderr.contains("proxy_key") && out.stderr.contains("does not match"),
        "check-config should name proxy_key: {}",
        out.stderr
    );
}

// io_driver = "epoll": the node logs that epoll is used, answers PING and
// SET/GET over plaintext on one database, and serves a TLS client (client1)
// on a second, TLS-only database, counted as a completed handshake.
#[test]
fn epoll_driver_serves_plaintext_and_tls() {
    if skip_under_redis("petrel's io driver") {
        return;
    }
    let pki = Pki::generate();
    let server = Server::start(
        Config::new()
            .node_key("io_driver", "\"epoll\"")
            .node_tls(NodeTls::from_pki(&pki))
            .databases(vec![
                petrel_e2e::Database::new("plain"),
                petrel_e2e::Database::new("secure")
                    .with_tls(DatabaseTls::enabled().trust(&pki.cert("client1"))),
            ]),
    );
    let logs = server.logs();
    assert!(
        logs.contains("io driver: epoll") && !logs.contains("io driver: io_uring"),
        "the log should say epoll is used:\n{logs}"
    );
    let mut plain = server.client_of("plain");
    let pong: String = query(&mut plain, &["PING"]);
    assert_eq!(pong, "PONG");
    let _: () = query(&mut plain, &["SET", "driver", "epoll"]);
    let value: String = query(&mut plain, &["GET", "driver"]);
    assert_eq!(value, "epoll");

    let before = TlsInfo::read(&mut plain);
    let mut secure = tls_client(server.port_of("secure"), &pki, Some("client1"));
    let _: () = query(&mut secure, &["SET", "over", "tls"]);
    let value: String = query(&mut secure, &["GET", "over"]);
    assert_eq!(value, "tls");
    let after = TlsInfo::read(&mut plain);
    assert_eq!(
        after.number("handshakes_completed") - before.number("handshakes_completed"),
        1,
        "{after:?}"
    );
    assert_eq!(
        after.number("handshakes_failed"),
        before.number("handshakes_failed")
    );
}

// Every `cores[].ring_task_run` mode serves: the log names the mode each
// data ring got, and a multi-key write and read that cross both data
// threads (messages that wake the other thread's ring) come back whole.
#[test]
fn every_ring_task_run_mode_serves() {
    if skip_under_redis("petrel's io_uring set-up") {
        return;
    }
    for mode in ["deferred", "cooperative", "immediate"] {
        let mut config = Config::new().data_cores(2);
        config.extra_toml = Some(format!(
            "[[cores]]\nid = 0\nring_task_run = \"{mode}\"\n\n[[cores]]\nid = 1\nring_task_run = \"{mode}\"\n"
        ));
        let server = Server::start(config);
        let logs = server.logs();
        if logs.contains("io driver: epoll") {
            eprintln!("io_uring is unavailable here; ring_task_run does not apply");
            return;
        }
        assert!(
            logs.contains(&format!("thread=\"data\" task_run=\"{mode}\"")),
            "{mode}: the log should name the ring's mode:\n{logs}"
        );
        let mut client = server.client();
        let keys: Vec<String> = (0..64).map(|i| format!("ring-{mode}-{i}")).collect();
        let mut mset = vec!["MSET".to_string()];
        for key in &keys {
            mset.push(key.clone());
            mset.push(format!("value-of-{key}"));
        }
        let mset: Vec<&str> = mset.iter().map(String::as_str).collect();
        let _: () = query(&mut client, &mset);
        let mut mget = vec!["MGET"];
        mget.extend(keys.iter().map(String::as_str));
        let values: Vec<String> = query(&mut client, &mget);
        let expected: Vec<String> = keys.iter().map(|key| format!("value-of-{key}")).collect();
        assert_eq!(values, expected, "{mode}");
    }
}

/// A petrel process that is stopped however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Opens a connection to `port` and sees it answer PING.
fn ping(port: u16) -> std::io::Result<std::net::TcpStream> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(b"PING\r\n")?;
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply)?;
    if &reply != b"+PONG\r\n" {
        return Err(std::io::Error::other(format!("answered {reply:?}")));
    }
    Ok(stream)
}

// An operator's restart: the node is stopped with connections open and
// started again at once on the same port, ten times. Every start serves;
// the ports of a node that has just exited are free again within moments,
// and start-up waits for them instead of refusing.
#[test]
fn a_restart_right_after_a_stop_serves() {
    if skip_under_redis("petrel's start-up") {
        return;
    }
    let pki = Pki::generate();
    let port = free_port();
    let path = write_config(
        &pki,
        "restart.toml",
        &format!("[node]\nbind = \"127.0.0.1\"\ndata_cores = 1\n\n[[databases]]\nname = \"a\"\nport = {port}\n"),
    );
    for round in 0..10 {
        let mut child = KillOnDrop(
            std::process::Command::new(petrel_binary())
                .args(["serve", "--config"])
                .arg(&path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn petrel"),
        );
        let child = &mut child.0;
        let mut open = Vec::new();
        petrel_e2e::wait_until(Duration::from_secs(10), "petrel to accept", || {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("round {round}: petrel exited ({status}) instead of serving: {stderr}");
            }
            ping(port).is_ok()
        });
        for _ in 0..20 {
            let stream = ping(port).unwrap_or_else(|error| panic!("round {round}: PING: {error}"));
            open.push(stream);
        }
        child.kill().expect("stop petrel");
        child.wait().expect("reap petrel");
    }
}
