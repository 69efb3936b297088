//! Smoke tests of the petrel-bench binary against real servers: a short
//! load against Debian's redis-server, plain and over TLS (certificates made
//! here with rcgen, in a temporary directory), must complete every request
//! with no error and exit 0; a refused connection and error replies must
//! make it exit non-zero and say why.
//!
//! With PETREL_BIN set to a petrel binary, the same loads also run against
//! `petrel serve` (plaintext, and TLS unless PETREL_TLS=0).
//! No timing is asserted: these prove behaviour, not speed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

const BENCH: &str = env!("CARGO_BIN_EXE_petrel-bench");
const CLIENTS: u64 = 4;
const REQUESTS: u64 = 200;

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "petrel-bench-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server process killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

fn wait_for_port(server: &mut Server, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "{what} exited before listening on port {}: {status}",
                server.port
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {} within 10 s", server.port);
}

fn redis_available() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install -y redis-server)");
    }
    found
}

fn start_redis(extra: &[String], tls_port: bool) -> Server {
    let port = free_port();
    let mut args: Vec<String> = vec![
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        "".into(),
        "--appendonly".into(),
        "no".into(),
    ];
    if tls_port {
        args.extend([
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
        ]);
    } else {
        args.extend(["--port".into(), port.to_string()]);
    }
    args.extend(extra.iter().cloned());
    let child = Command::new("redis-server")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let mut server = Server { child, port };
    wait_for_port(&mut server, "redis-server");
    server
}

/// A CA and a server certificate for localhost and 127.0.0.1, as PEM files.
fn make_certificates(dir: &TempDir) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "petrel-bench smoke test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let server_key = KeyPair::generate().expect("server key");
    let mut server_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("server params");
    server_params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .expect("server certificate");
    let ca_path = dir.path("ca.pem");
    let cert_path = dir.path("server.pem");
    let key_path = dir.path("server.key");
    std::fs::write(&ca_path, ca.pem()).expect("write CA");
    std::fs::write(&cert_path, server_cert.pem()).expect("write certificate");
    std::fs::write(&key_path, server_key.serialize_pem()).expect("write key");
    (ca_path, cert_path, key_path)
}

fn run_bench(port: u16, extra: &[&str], json: &Path) -> Output {
    let port = port.to_string();
    let clients = CLIENTS.to_string();
    let requests = REQUESTS.to_string();
    let json = json.to_string_lossy().to_string();
    let mut args = vec![
        "-s",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "1",
        "-c",
        &clients,
        "-n",
        &requests,
        "--key-maximum",
        "100",
        "--hide-histogram",
        "--json-out-file",
        &json,
    ];
    args.extend_from_slice(extra);
    Command::new(BENCH)
        .args(&args)
        .output()
        .expect("run petrel-bench")
}

/// Asserts a clean run: exit 0, every request answered, no error of any kind.
fn assert_clean_run(output: &Output, json: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{what}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("ALL STATS"),
        "{what}: no results table:\n{stdout}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(json).expect("JSON written"))
        .expect("valid JSON");
    let stats = &report["ALL STATS"];
    let total = stats["Totals"]["Count"].as_u64().expect("Totals.Count");
    assert_eq!(total, CLIENTS * REQUESTS, "{what}: every request answered");
    assert!(
        stats["Totals"]["Ops/sec"].as_f64().unwrap_or(0.0) > 0.0,
        "{what}: non-zero ops/s"
    );
    assert!(
        stats["Sets"]["Count"].as_u64().unwrap_or(0) > 0
            && stats["Gets"]["Count"].as_u64().unwrap_or(0) > 0
    );
    for (kind, tally) in stats["Errors"].as_object().expect("Errors section") {
        assert_eq!(tally["Count"], 0, "{what}: {kind}: {}", tally["First"]);
    }
    assert!(!stderr.contains("ERRORS"), "{what}: {stderr}");
}

#[test]
fn plain_load_against_redis_answers_every_request_without_errors() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("plain");
    let redis = start_redis(&[], false);
    let json = dir.path("result.json");
    let output = run_bench(redis.port, &[], &json);
    assert_clean_run(&output, &json, "plain redis");
    // GETs of a key range SET in the same run: both hits and misses show up.
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let gets = &report["ALL STATS"]["Gets"];
    let answered = gets["Hits"].as_u64().unwrap() + gets["Misses"].as_u64().unwrap();
    assert_eq!(
        answered,
        gets["Count"].as_u64().unwrap(),
        "each GET is a hit or a miss"
    );

    // 64 KiB values, 16 in flight: each value leaves as a piece of its own
    // in a vectored write; what Redis stored is the value, byte for byte.
    let output = run_bench(
        redis.port,
        &["-d", "65536", "--pipeline", "16", "--ratio", "1:1"],
        &json,
    );
    assert_clean_run(&output, &json, "plain redis, 64 KiB values pipelined");
    let stored: Vec<Option<Vec<u8>>> = (0..=100)
        .map(|key| raw_get(redis.port, &format!("memtier-{key}")))
        .collect();
    let big = stored
        .iter()
        .flatten()
        .filter(|value| value.len() == 65536)
        .count();
    assert!(big > 0, "no 64 KiB value was stored");
    assert!(
        stored
            .iter()
            .flatten()
            .filter(|value| value.len() == 65536)
            .all(|value| value.iter().all(|&byte| byte == b'x')),
        "a 64 KiB value arrived changed"
    );
}

#[test]
fn rate_limiting_holds_each_connection_to_its_rate() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("rate");
    let redis = start_redis(&[], false);
    let json = dir.path("result.json");
    // 4 connections at 400 requests/s, 200 requests each: half a second at
    // least, where an unlimited run of 800 requests takes milliseconds.
    let started = Instant::now();
    let output = run_bench(redis.port, &["--rate-limiting", "400"], &json);
    let elapsed = started.elapsed();
    assert_clean_run(&output, &json, "rate-limited run");
    assert!(
        elapsed >= Duration::from_millis(450),
        "800 requests at 4 x 400/s finished in {elapsed:?}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ops = report["ALL STATS"]["Totals"]["Ops/sec"]
        .as_f64()
        .expect("Totals.Ops/sec");
    assert!(ops <= 1760.0, "4 connections at 400/s ran at {ops} ops/s");
    assert_eq!(report["configuration"]["rate_limit"].as_u64(), Some(400));
}

#[test]
fn epoll_driver_runs_the_same_load() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("epoll");
    let redis = start_redis(&[], false);
    let json = dir.path("result.json");
    let output = run_bench(redis.port, &["--io-driver", "epoll"], &json);
    assert_clean_run(&output, &json, "epoll driver");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["configuration"]["io_driver"], "epoll");

    let output = run_bench(redis.port, &["--io-driver", "poll"], &json);
    assert!(!output.status.success(), "an unknown driver is refused");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("epoll"),
        "the error names the choices: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// GET over a plain socket: the value, or None for a missing key.
fn raw_get(port: u16, key: &str) -> Option<Vec<u8>> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).expect("send GET");
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).expect("reply header");
    let length: i64 = header
        .trim_end()
        .strip_prefix('$')
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("not a bulk reply: {header:?}"));
    let length = usize::try_from(length).ok()?;
    let mut value = vec![0u8; length + 2];
    reader.read_exact(&mut value).expect("reply body");
    value.truncate(length);
    Some(value)
}

#[test]
fn tls_load_against_redis_answers_every_request_without_errors() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("tls");
    let (ca, cert, key) = make_certificates(&dir);
    let extra = vec![
        "--tls-cert-file".to_string(),
        cert.display().to_string(),
        "--tls-key-file".to_string(),
        key.display().to_string(),
        "--tls-ca-cert-file".to_string(),
        ca.display().to_string(),
        "--tls-auth-clients".to_string(),
        "no".to_string(),
    ];
    let redis = start_redis(&extra, true);
    let json = dir.path("result.json");
    let ca_text = ca.display().to_string();
    let output = run_bench(redis.port, &["--tls", "--cacert", &ca_text], &json);
    assert_clean_run(&output, &json, "TLS redis");

    // 64 KiB values, 16 in flight: more plaintext than rustls buffers at once.
    let output = run_bench(
        redis.port,
        &[
            "--tls",
            "--cacert",
            &ca_text,
            "-d",
            "65536",
            "--pipeline",
            "16",
            "--ratio",
            "1:1",
        ],
        &json,
    );
    assert_clean_run(&output, &json, "TLS redis, 64 KiB values pipelined");

    // Without the CA the server certificate is not trusted: a TLS error, not zero ops.
    let output = run_bench(
        redis.port,
        &["--tls", "--cacert", &cert.display().to_string()],
        &json,
    );
    assert!(
        !output.status.success(),
        "an untrusted certificate must fail the run"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TLS errors") && stderr.contains("invalid peer certificate"),
        "{stderr}"
    );
}

#[test]
fn refused_connection_exits_non_zero_and_says_so() {
    let dir = TempDir::new("refused");
    let port = free_port(); // nothing listens there any more
    let json = dir.path("result.json");
    let output = run_bench(port, &[], &json);
    assert!(
        !output.status.success(),
        "a refused connection must not exit 0"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{CLIENTS} connection errors")),
        "{stderr}"
    );
    assert!(stderr.contains("Connection refused"), "{stderr}");
}

#[test]
fn error_replies_are_counted_and_fail_the_run() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("errors");
    let redis = start_redis(&[], false);
    let json = dir.path("result.json");
    let output = run_bench(redis.port, &["--command", "NOSUCHCOMMAND __key__"], &json);
    assert!(!output.status.success(), "error replies must not exit 0");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "{} error replies (first: ERR unknown command",
        CLIENTS * REQUESTS
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn auth_and_resp3_are_sent_on_connect_and_a_wrong_password_fails_the_run() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("auth");
    let redis = start_redis(&["--requirepass".to_string(), "s3cret".to_string()], false);
    let json = dir.path("result.json");
    // RESP3 answers a missing key with `_`: it must still count as a miss.
    let output = run_bench(redis.port, &["-a", "s3cret", "--protocol", "resp3"], &json);
    assert_clean_run(&output, &json, "AUTH + HELLO 3");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        report["ALL STATS"]["Gets"]["Misses"].as_u64().unwrap() > 0,
        "nil GETs are misses in RESP3 too"
    );

    let output = run_bench(redis.port, &["-a", "wrong"], &json);
    assert!(!output.status.success(), "a refused AUTH must not exit 0");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("connection setup errors (first: WRONGPASS"),
        "{stderr}"
    );
}

#[test]
fn loads_against_petrel_when_petrel_bin_is_set() {
    let Ok(petrel) = std::env::var("PETREL_BIN") else {
        eprintln!("SKIPPED: set PETREL_BIN=target/release/petrel to run the smoke load against petrel serve");
        return;
    };
    let dir = TempDir::new("petrel");
    let start_petrel = |config_text: String, name: &str| -> Server {
        let config = dir.path(name);
        std::fs::write(&config, config_text).expect("write petrel config");
        let child = Command::new(&petrel)
            .args(["serve", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start petrel serve");
        let port = config_port(&config);
        let mut server = Server { child, port };
        wait_for_port(&mut server, "petrel serve");
        server
    };

    let port = free_port();
    let plain = start_petrel(
        format!("[node]\nbind = \"127.0.0.1\"\ndata_cores = [0]\n\n[[databases]]\nname = \"default\"\nport = {port}\n"),
        "plain.toml",
    );
    let json = dir.path("plain.json");
    assert_clean_run(&run_bench(plain.port, &[], &json), &json, "plain petrel");
    assert_clean_run(
        &run_bench(plain.port, BIG_VALUES_PIPELINED, &json),
        &json,
        "plain petrel, 64 KiB values pipelined",
    );
    drop(plain);

    if std::env::var("PETREL_TLS").as_deref() == Ok("0") {
        eprintln!("SKIPPED: TLS against petrel (PETREL_TLS=0)");
        return;
    }
    let certs = dir.path("certs");
    let status = Command::new(&petrel)
        .args(["certs", "generate", "--out"])
        .arg(&certs)
        .status()
        .expect("petrel certs");
    assert!(status.success(), "petrel certs generate failed");
    let port = free_port();
    let tls = start_petrel(
        format!(
            "[node]\nbind = \"127.0.0.1\"\ndata_cores = [0]\n\n[node.tls]\nproxy_cert = \"{}\"\nproxy_key = \"{}\"\n\n\
             [[databases]]\nname = \"default\"\nport = {port}\ntls_mode = \"enabled\"\nenforce_client_authentication = \"disabled\"\n",
            certs.join("proxy.pem").display(),
            certs.join("proxy.key").display()
        ),
        "tls.toml",
    );
    let json = dir.path("tls.json");
    let ca = certs.join("ca.pem").display().to_string();
    assert_clean_run(
        &run_bench(tls.port, &["--tls", "--cacert", &ca], &json),
        &json,
        "TLS petrel",
    );
    let mut args = vec!["--tls", "--cacert", &ca];
    args.extend_from_slice(BIG_VALUES_PIPELINED);
    assert_clean_run(
        &run_bench(tls.port, &args, &json),
        &json,
        "TLS petrel, 64 KiB values pipelined",
    );
}

/// 64 KiB values, 16 in flight: a megabyte per write, more plaintext than
/// rustls queues at once (scenario (d) of bench/compare.sh and its fill).
const BIG_VALUES_PIPELINED: &[&str] = &["-d", "65536", "--pipeline", "16", "--ratio", "1:1"];

/// The `port = N` line of a config written above.
fn config_port(path: &Path) -> u16 {
    let text = std::fs::read_to_string(path).expect("read config");
    text.lines()
        .filter_map(|line| line.strip_prefix("port = "))
        .find_map(|port| port.trim().parse().ok())
        .expect("config has a port")
}
