//! A TLS client that checks a running petrel server from the outside (run by
//! `scripts/ktls-vm/run-petrel.sh` inside the kTLS guest).
//!
//! It queues a pipeline of RESP commands in rustls *before* the handshake, so
//! they leave in the same write as the client's Finished (TLS 1.3; in TLS 1.2
//! in the write that follows the server's Finished, with no read between),
//! and arrive while the server is still handing the session to the kernel.
//! Then it checks, while connected: every reply (SET/GET of values that span
//! several records come back exactly), `CLIENT INFO` and `CLIENT LIST` show the
//! expected transport, version and suite, INFO's `# TLS` counts this
//! connection, and `/proc/net/tls_stat` counts kernel TLS in both directions.
//! Last it sends close_notify and expects the server to close the connection.
//!
//! The client stays on userspace rustls: every kTLS socket in
//! `/proc/net/tls_stat` is then the server's.
//!
//! Usage: `pipelined_client --addr 127.0.0.1:6390 --ca ca.pem --cert client1.pem
//! --key client1.key --suite TLS13_AES_128_GCM_SHA256 [--expect-transport ktls|tls]`
//!
//! Prints one `PASS`/`FAIL` line per check; exits 0 only if all pass.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use petrel_ktls::TlsStat;
use rustls::crypto::aws_lc_rs as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ProtocolVersion, RootCertStore};

/// Value sizes sent in the pipeline: below, at and above one record's 16 KiB,
/// so the commands behind Finished span several records.
const PIPELINED_SIZES: [usize; 5] = [1, 100, 16384, 16385, 70_000];
/// A stuck server fails the check after this (emulated guests are slow).
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// TLS record content type of application data (and of TLS 1.3's encrypted
/// handshake messages, Finished included).
const CONTENT_APPLICATION_DATA: u8 = 23;
const RECORD_HEADER_LEN: usize = 5;

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("pipelined_client: {error}");
            eprintln!(
                "usage: pipelined_client --addr HOST:PORT --ca FILE --cert FILE --key FILE \
                 --suite RUSTLS_SUITE_NAME [--expect-transport ktls|tls]"
            );
            return ExitCode::from(2);
        }
    };
    let mut report = Report::new(&options.suite);
    run(&options, &mut report);
    println!(
        "PIPELINED-CLIENT {}: {} passed, {} failed",
        options.suite, report.passed, report.failed
    );
    if report.failed == 0 && report.passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

struct Options {
    addr: String,
    ca: String,
    cert: String,
    key: String,
    suite: String,
    expect_transport: String,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
        let (mut addr, mut ca, mut cert, mut key, mut suite) = (None, None, None, None, None);
        let mut expect_transport = "ktls".to_owned();
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--addr" => addr = Some(value),
                "--ca" => ca = Some(value),
                "--cert" => cert = Some(value),
                "--key" => key = Some(value),
                "--suite" => suite = Some(value),
                "--expect-transport" if value == "ktls" || value == "tls" => {
                    expect_transport = value
                }
                "--expect-transport" => return Err(format!("unknown transport {value}")),
                other => return Err(format!("unknown option {other}")),
            }
        }
        let required =
            |value: Option<String>, name: &str| value.ok_or(format!("{name} is required"));
        Ok(Options {
            addr: required(addr, "--addr")?,
            ca: required(ca, "--ca")?,
            cert: required(cert, "--cert")?,
            key: required(key, "--key")?,
            suite: required(suite, "--suite")?,
            expect_transport,
        })
    }
}

struct Report {
    suite: String,
    passed: usize,
    failed: usize,
}

impl Report {
    fn new(suite: &str) -> Report {
        Report {
            suite: suite.to_owned(),
            passed: 0,
            failed: 0,
        }
    }

    fn check(&mut self, what: &str, result: Result<String, String>) -> bool {
        let (verdict, detail, ok) = match result {
            Ok(detail) => {
                self.passed += 1;
                ("PASS", detail, true)
            }
            Err(detail) => {
                self.failed += 1;
                ("FAIL", detail, false)
            }
        };
        if detail.is_empty() {
            println!("{verdict} pipelined {}: {what}", self.suite);
        } else {
            println!("{verdict} pipelined {}: {what} ({detail})", self.suite);
        }
        ok
    }
}

/// One command of the pipeline and what its reply must be.
struct Step {
    command: Vec<Vec<u8>>,
    expect: Expect,
}

enum Expect {
    Status(&'static str),
    Bulk(Vec<u8>),
    /// CLIENT INFO: the connection's own line.
    ClientInfo,
    /// CLIENT LIST: the line with this connection's id.
    ClientList,
    /// INFO tls: this connection counted under its transport.
    InfoTls,
}

fn run(options: &Options, report: &mut Report) {
    let setup = connect_config(options);
    let Some((config, version)) = report_setup(report, setup) else {
        return;
    };
    let steps = pipeline(&options.suite);
    let mut connection =
        match ClientConnection::new(config, ServerName::IpAddress(localhost(&options.addr))) {
            Ok(connection) => connection,
            Err(error) => {
                report.check("client session", Err(error.to_string()));
                return;
            }
        };
    // Commands queued before the handshake may exceed rustls's 64 KiB default.
    connection.set_buffer_limit(None);
    let mut queued = Vec::new();
    for step in &steps {
        queued.extend_from_slice(&encode(&step.command));
    }
    if let Err(error) = connection.writer().write_all(&queued) {
        report.check(
            "queue the pipeline before the handshake",
            Err(error.to_string()),
        );
        return;
    }
    let mut stream = match TcpStream::connect(&options.addr).and_then(|stream| {
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }) {
        Ok(stream) => stream,
        Err(error) => {
            report.check("connect", Err(format!("{}: {error}", options.addr)));
            return;
        }
    };

    let started = Instant::now();
    let flight = match handshake(&mut connection, &mut stream) {
        Ok(flight) => flight,
        Err(error) => {
            report.check("handshake", Err(error));
            return;
        }
    };
    let negotiated = connection
        .negotiated_cipher_suite()
        .and_then(|suite| suite.suite().as_str())
        .unwrap_or("none");
    if !report.check(
        "handshake negotiates the suite",
        if negotiated == options.suite {
            Ok(format!(
                "{:.0} ms",
                started.elapsed().as_secs_f64() * 1000.0
            ))
        } else {
            Err(format!("negotiated {negotiated}"))
        },
    ) {
        return;
    }
    report.check(
        "the pipeline leaves in one write with no read after the handshake",
        check_flight(&flight, version, queued.len()),
    );

    let mut received = Vec::new();
    let mut own_id = None;
    let mut data_replies = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let what = describe_command(&step.command);
        let reply = read_reply(&mut connection, &mut stream, &mut received);
        let result = reply.and_then(|reply| judge(step, reply, options, &mut own_id));
        match result {
            // SET, GET and PING: one line for all of them, below.
            Ok(detail) if matches!(step.expect, Expect::Status(_) | Expect::Bulk(_)) => {
                data_replies.push(if detail.is_empty() {
                    summary(&step.command)
                } else {
                    detail
                });
            }
            Ok(detail) => {
                report.check(&format!("{what} over the pipelined connection"), Ok(detail));
            }
            Err(error) => {
                // Later replies would be misattributed; stop here.
                report.check(
                    &format!("reply {} of {} ({what})", index + 1, steps.len()),
                    Err(error),
                );
                return;
            }
        }
    }
    report.check(
        "every pipelined SET, GET and PING is answered right, in order",
        Ok(data_replies.join(", ")),
    );

    if options.expect_transport == "ktls" {
        report.check(
            "/proc/net/tls_stat counts kernel TLS in both directions while connected",
            match TlsStat::read() {
                Ok(stat) if stat.current_tx_sw() >= 1 && stat.current_rx_sw() >= 1 => Ok(format!(
                    "TlsCurrTxSw={} TlsCurrRxSw={}",
                    stat.current_tx_sw(),
                    stat.current_rx_sw()
                )),
                Ok(stat) => Err(format!(
                    "TlsCurrTxSw={} TlsCurrRxSw={}, expected both >= 1",
                    stat.current_tx_sw(),
                    stat.current_rx_sw()
                )),
                Err(error) => Err(format!("/proc/net/tls_stat: {error}")),
            },
        );
    }

    report.check(
        "close_notify from the client: the server closes the connection",
        close(&mut connection, &mut stream, &received),
    );
}

fn report_setup(
    report: &mut Report,
    setup: Result<(Arc<ClientConfig>, ProtocolVersion), String>,
) -> Option<(Arc<ClientConfig>, ProtocolVersion)> {
    match setup {
        Ok(setup) => Some(setup),
        Err(error) => {
            report.check("client configuration", Err(error));
            None
        }
    }
}

/// The server name to verify: the address's IP (the dev PKI's proxy
/// certificate names 127.0.0.1 and ::1).
fn localhost(addr: &str) -> rustls::pki_types::IpAddr {
    let ip = addr
        .parse::<std::net::SocketAddr>()
        .map(|address| address.ip())
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
    rustls::pki_types::IpAddr::from(ip)
}

/// A client configuration offering exactly one suite (and so one version),
/// trusting `ca` and presenting `cert`.
fn connect_config(options: &Options) -> Result<(Arc<ClientConfig>, ProtocolVersion), String> {
    let base = provider::default_provider();
    let suite = base
        .cipher_suites
        .iter()
        .copied()
        .find(|suite| suite.suite().as_str() == Some(options.suite.as_str()))
        .ok_or_else(|| format!("rustls has no suite named {}", options.suite))?;
    let version = suite.version();
    let mut roots = RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(&options.ca).map_err(|e| format!("{}: {e}", options.ca))?
    {
        let cert = cert.map_err(|e| format!("{}: {e}", options.ca))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", options.ca))?;
    }
    let chain = CertificateDer::pem_file_iter(&options.cert)
        .map_err(|e| format!("{}: {e}", options.cert))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", options.cert))?;
    let key =
        PrivateKeyDer::from_pem_file(&options.key).map_err(|e| format!("{}: {e}", options.key))?;
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: vec![suite],
        ..base
    };
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[version])
        .map_err(|e| format!("protocol version: {e}"))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("client certificate: {e}"))?;
    Ok((Arc::new(config), version.version))
}

/// The commands: SET and GET of values that span records, then the
/// connection's own view of its transport, then PING.
fn pipeline(suite: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for size in PIPELINED_SIZES {
        steps.push(Step {
            command: vec![b"SET".to_vec(), key(suite, size), pattern(size)],
            expect: Expect::Status("OK"),
        });
    }
    for size in PIPELINED_SIZES {
        steps.push(Step {
            command: vec![b"GET".to_vec(), key(suite, size)],
            expect: Expect::Bulk(pattern(size)),
        });
    }
    steps.push(Step {
        command: vec![b"CLIENT".to_vec(), b"INFO".to_vec()],
        expect: Expect::ClientInfo,
    });
    steps.push(Step {
        command: vec![b"CLIENT".to_vec(), b"LIST".to_vec()],
        expect: Expect::ClientList,
    });
    steps.push(Step {
        command: vec![b"INFO".to_vec(), b"tls".to_vec()],
        expect: Expect::InfoTls,
    });
    steps.push(Step {
        command: vec![b"PING".to_vec()],
        expect: Expect::Status("PONG"),
    });
    steps
}

fn key(suite: &str, size: usize) -> Vec<u8> {
    format!("pipelined:{suite}:{size}").into_bytes()
}

/// Deterministic, size-dependent bytes (all 256 values), so a shifted or
/// truncated reply fails.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8) ^ len) as u8)
        .collect()
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// "SET 100 bytes OK", "PING": a short line for a step that passed.
fn summary(args: &[Vec<u8>]) -> String {
    match args {
        [name, _key, value] => {
            format!("{} {} bytes OK", String::from_utf8_lossy(name), value.len())
        }
        _ => describe_command(args),
    }
}

fn describe_command(args: &[Vec<u8>]) -> String {
    let mut words: Vec<String> = args
        .iter()
        .take(2)
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    if let Some(value) = args.get(2) {
        words.push(format!("<{} bytes>", value.len()));
    }
    words.join(" ")
}

/// What went out in one `write` call.
struct Flight {
    /// Content type of each record, in order.
    records: Vec<u8>,
    bytes: usize,
    /// rustls had finished the handshake when this flight was produced.
    after_handshake: bool,
}

/// Drives the handshake on a blocking socket; every batch rustls produces
/// goes out in one `write`. Returns the first flight produced once the
/// handshake was complete on the client side.
fn handshake(connection: &mut ClientConnection, stream: &mut TcpStream) -> Result<Flight, String> {
    loop {
        if connection.wants_write() {
            let mut out = Vec::new();
            while connection.wants_write() {
                connection
                    .write_tls(&mut out)
                    .map_err(|e| format!("write_tls: {e}"))?;
            }
            stream.write_all(&out).map_err(|e| format!("write: {e}"))?;
            let flight = Flight {
                records: record_types(&out),
                bytes: out.len(),
                after_handshake: !connection.is_handshaking(),
            };
            if flight.after_handshake {
                return Ok(flight);
            }
        }
        if !connection.is_handshaking() {
            return Err("handshake completed without a flight to send".into());
        }
        match connection.read_tls(stream) {
            Ok(0) => return Err("server closed during the handshake".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("read: {e}")),
        }
        connection
            .process_new_packets()
            .map_err(|e| format!("TLS: {e}"))?;
    }
}

fn record_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while bytes.len() >= RECORD_HEADER_LEN {
        let len = usize::from(u16::from_be_bytes([bytes[3], bytes[4]]));
        types.push(bytes[0]);
        bytes = &bytes[(RECORD_HEADER_LEN + len).min(bytes.len())..];
    }
    types
}

/// TLS 1.3: the flight carrying Finished (an application-data record) must
/// also carry the commands. TLS 1.2: Finished went earlier; the commands must
/// fill the first flight after the server's Finished.
fn check_flight(
    flight: &Flight,
    version: ProtocolVersion,
    queued: usize,
) -> Result<String, String> {
    let data_records = flight
        .records
        .iter()
        .filter(|&&kind| kind == CONTENT_APPLICATION_DATA)
        .count();
    let (needed, what) = if version == ProtocolVersion::TLSv1_3 {
        (2, "Finished and the commands")
    } else {
        (1, "the commands, right after the server's Finished")
    };
    let detail = format!(
        "{what}: {} records, {data_records} of application data, {} bytes for {queued} bytes of commands",
        flight.records.len(),
        flight.bytes
    );
    if flight.after_handshake && data_records >= needed && flight.bytes > queued {
        Ok(detail)
    } else {
        Err(detail)
    }
}

/// A RESP2 reply.
#[derive(Debug)]
enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// Reads until one whole reply is buffered, and takes it.
fn read_reply(
    connection: &mut ClientConnection,
    stream: &mut TcpStream,
    received: &mut Vec<u8>,
) -> Result<Reply, String> {
    loop {
        if let Some((reply, used)) = parse_reply(received)? {
            received.drain(..used);
            return Ok(reply);
        }
        let mut chunk = [0u8; 64 * 1024];
        match connection.reader().read(&mut chunk) {
            Ok(0) => return Err("the server ended the TLS session".into()),
            Ok(n) => {
                received.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("TLS read: {e}")),
        }
        match connection.read_tls(stream) {
            Ok(0) => return Err("the server closed the connection".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("socket read: {e}")),
        }
        connection
            .process_new_packets()
            .map_err(|e| format!("TLS: {e}"))?;
    }
}

/// Parses one reply at the start of `buf`: `None` if incomplete.
fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[1..line_end])
        .map_err(|_| "reply header is not UTF-8".to_owned())?;
    let after = line_end + 2;
    let number = || {
        line.parse::<i64>()
            .map_err(|_| format!("bad length or integer {line:?}"))
    };
    match buf.first() {
        Some(b'+') => Ok(Some((Reply::Status(line.to_owned()), after))),
        Some(b'-') => Ok(Some((Reply::Error(line.to_owned()), after))),
        Some(b':') => Ok(Some((Reply::Integer(number()?), after))),
        Some(b'$') => {
            let len = number()?;
            if len < 0 {
                return Ok(Some((Reply::Bulk(None), after)));
            }
            let len = usize::try_from(len).map_err(|_| "bulk length overflows".to_owned())?;
            if buf.len() < after + len + 2 {
                return Ok(None);
            }
            if &buf[after + len..after + len + 2] != b"\r\n" {
                return Err("bulk string not followed by CRLF".into());
            }
            Ok(Some((
                Reply::Bulk(Some(buf[after..after + len].to_vec())),
                after + len + 2,
            )))
        }
        Some(b'*') => {
            let count = number()?;
            if count < 0 {
                return Ok(Some((Reply::Array(None), after)));
            }
            let mut items = Vec::new();
            let mut used = after;
            for _ in 0..count {
                match parse_reply(&buf[used..])? {
                    Some((item, n)) => {
                        items.push(item);
                        used += n;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((Reply::Array(Some(items)), used)))
        }
        Some(other) => Err(format!("unexpected reply type byte {other:#04x}")),
        None => Ok(None),
    }
}

fn judge(
    step: &Step,
    reply: Reply,
    options: &Options,
    own_id: &mut Option<String>,
) -> Result<String, String> {
    let transport = format!("transport={}", options.expect_transport);
    let suite = format!("tls-cipher={}", options.suite);
    match (&step.expect, reply) {
        (Expect::Status(want), Reply::Status(got)) if got == *want => Ok(String::new()),
        (Expect::Bulk(want), Reply::Bulk(Some(got))) => {
            if got == *want {
                Ok(format!("GET {} bytes exact", got.len()))
            } else {
                let at = got.iter().zip(want).position(|(a, b)| a != b);
                Err(format!(
                    "{} bytes back for {} sent, first difference at {at:?}",
                    got.len(),
                    want.len()
                ))
            }
        }
        (Expect::ClientInfo, Reply::Bulk(Some(line))) => {
            let line = String::from_utf8_lossy(&line).trim().to_owned();
            *own_id = line
                .split(' ')
                .find_map(|field| field.strip_prefix("id="))
                .map(str::to_owned);
            if own_id.is_some() && line.contains(&transport) && line.contains(&suite) {
                Ok(fields(
                    &line,
                    &["id", "transport", "tls-version", "tls-cipher"],
                ))
            } else {
                Err(line)
            }
        }
        (Expect::ClientList, Reply::Bulk(Some(text))) => {
            let text = String::from_utf8_lossy(&text).into_owned();
            let id = own_id.clone().unwrap_or_default();
            let own = format!("id={id} ");
            match text.lines().find(|line| line.starts_with(&own)) {
                Some(line) if line.contains(&transport) && line.contains(&suite) => Ok(format!(
                    "{} clients; own line: {}",
                    text.lines().count(),
                    fields(line, &["id", "transport", "tls-version"])
                )),
                Some(line) => Err(line.to_owned()),
                None => Err(format!("no line for id={id} in {text:?}")),
            }
        }
        (Expect::InfoTls, Reply::Bulk(Some(text))) => {
            let text = String::from_utf8_lossy(&text).into_owned();
            let gauge = format!("connections_{}", options.expect_transport);
            let count = info_field(&text, &gauge).unwrap_or(-1);
            let kernel = if options.expect_transport == "ktls" {
                "available"
            } else {
                "unavailable"
            };
            let kernel_ok = info_field_text(&text, "ktls_kernel") == Some(kernel);
            if count >= 1 && kernel_ok {
                Ok(format!("{gauge}:{count} ktls_kernel:{kernel}"))
            } else {
                Err(text.replace("\r\n", " "))
            }
        }
        (_, Reply::Error(error)) => Err(format!("error reply -{error}")),
        (_, other) => Err(format!("unexpected reply {}", short(&other))),
    }
}

fn fields(line: &str, names: &[&str]) -> String {
    line.split(' ')
        .filter(|field| {
            names
                .iter()
                .any(|name| field.split('=').next() == Some(*name))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn info_field_text<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

fn info_field(text: &str, name: &str) -> Option<i64> {
    info_field_text(text, name)?.parse().ok()
}

fn short(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(Some(bytes)) => format!("bulk of {} bytes", bytes.len()),
        Reply::Array(Some(items)) => format!("array of {}", items.len()),
        Reply::Integer(n) => format!(":{n}"),
        other => format!("{other:?}"),
    }
}

/// Sends close_notify and waits for the server to end the connection: EOF,
/// with nothing but (optionally) its own close_notify in between.
fn close(
    connection: &mut ClientConnection,
    stream: &mut TcpStream,
    leftover: &[u8],
) -> Result<String, String> {
    if !leftover.is_empty() {
        return Err(format!(
            "{} unexpected bytes after the last reply",
            leftover.len()
        ));
    }
    connection.send_close_notify();
    let mut out = Vec::new();
    while connection.wants_write() {
        connection
            .write_tls(&mut out)
            .map_err(|e| format!("write_tls: {e}"))?;
    }
    stream
        .write_all(&out)
        .map_err(|e| format!("sending close_notify: {e}"))?;
    let started = Instant::now();
    let mut raw = [0u8; 16 * 1024 + 256];
    let mut answered = false;
    loop {
        let n = match stream.read(&mut raw) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                return Err("the server reset the connection".into())
            }
            Err(e) => return Err(format!("waiting for the server to close: {e}")),
        };
        if n == 0 {
            let took = started.elapsed().as_secs_f64() * 1000.0;
            return Ok(if answered {
                format!("close_notify back, then EOF after {took:.0} ms")
            } else {
                format!("EOF after {took:.0} ms")
            });
        }
        let mut bytes = &raw[..n];
        connection
            .read_tls(&mut bytes)
            .map_err(|e| format!("read_tls: {e}"))?;
        let state = connection
            .process_new_packets()
            .map_err(|e| format!("the server answered with {e}"))?;
        if state.plaintext_bytes_to_read() > 0 {
            return Err(format!(
                "{} bytes of data after close_notify",
                state.plaintext_bytes_to_read()
            ));
        }
        answered |= state.peer_has_closed();
    }
}
