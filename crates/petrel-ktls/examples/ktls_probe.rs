//! End-to-end proof of the kTLS handoff on a kernel that has kTLS (run by
//! `scripts/ktls-vm.sh` inside a QEMU guest).
//!
//! For each of TLS 1.2 and 1.3 with AES-128-GCM, AES-256-GCM and
//! ChaCha20-Poly1305, a rustls server and a rustls client (threads, blocking
//! std sockets, loopback TCP) handshake, both hand their sessions to the
//! kernel, and the program checks: the client's first message, pipelined
//! behind its Finished, arrives; `/proc/net/tls_stat` counts kernel TLS in
//! both directions while connected; values of 1 byte to 4 MiB come back
//! exactly; session tickets arrive as control records (plain read fails with
//! EIO, `recv_record` returns them); a close_notify from the client is a clean
//! end for the server and the server's reply is one for the client; a TLS 1.3
//! KeyUpdate is seen as a control record and the connection ends cleanly.
//!
//! Prints one line per check and `KTLS-PROBE: N passed, M failed`; exits 0 when
//! all pass, 1 when any fails, 77 (skipped) when the kernel has no kTLS.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use petrel_ktls::{
    complete_handshake, offload_connection, probe, recv_record, send_close_notify, send_record,
    Offloaded, Record, TlsStat, CONTENT_HANDSHAKE, HANDSHAKE_KEY_UPDATE,
    HANDSHAKE_NEW_SESSION_TICKET,
};
use rustls::{ClientConnection, ServerConfig, ServerConnection, SupportedCipherSuite};
use support::{suite_name, Configs, SUITES};

/// Exit code of a skipped test (automake convention).
const EXIT_SKIPPED: u8 = 77;
/// Value sizes that round-trip: around one record (16 KiB), and up to 4 MiB.
const SIZES: [usize; 9] = [1, 2, 100, 16383, 16384, 16385, 65543, 1 << 20, 4 << 20];
/// Large enough for any control record.
const CONTROL_BUFFER_LEN: usize = 16384 + 256;
/// Under emulation 4 MiB takes seconds; a stuck peer fails after this.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
const PIPELINED: &[u8] = b"first message, sent in the same flush as the client's Finished";

fn main() -> ExitCode {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    println!("KTLS-PROBE: kernel {kernel}");
    let capabilities = match probe() {
        Ok(capabilities) => capabilities,
        Err(error) => {
            println!("KTLS-PROBE: skipped: {error}");
            return ExitCode::from(EXIT_SKIPPED);
        }
    };
    let supported: Vec<String> = capabilities
        .supported()
        .iter()
        .map(|(version, cipher)| format!("{version} {cipher}"))
        .collect();
    println!("KTLS-PROBE: kernel accepts {}", supported.join(", "));

    let mut report = Report::default();
    let started = Instant::now();
    for suite in SUITES {
        let name = suite_name(suite);
        report.check(
            &name,
            "kernel accepts the suite",
            capabilities
                .check_suite(suite)
                .map(|()| String::new())
                .map_err(|e| e.to_string()),
        );
        match Configs::for_suite(suite) {
            Ok(configs) => {
                run_exchange(suite, &configs, &mut report);
                if suite.version().version == rustls::ProtocolVersion::TLSv1_3 {
                    run_key_update(suite, &configs, &mut report);
                }
            }
            Err(error) => report.check(&name, "configuration", Err(error)),
        }
    }
    println!(
        "KTLS-PROBE: {} passed, {} failed ({:.1} s)",
        report.passed,
        report.failed,
        started.elapsed().as_secs_f64()
    );
    if report.failed == 0 && report.passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[derive(Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn check(&mut self, suite: &str, what: &str, result: Result<String, String>) {
        match result {
            Ok(detail) => {
                self.passed += 1;
                println!("PASS {suite}: {what}{}", suffix(&detail));
            }
            Err(detail) => {
                self.failed += 1;
                println!("FAIL {suite}: {what}{}", suffix(&detail));
            }
        }
    }
}

fn suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

/// What the server thread saw.
struct ServerReport {
    offloaded: Offloaded,
    first_message: Option<Vec<u8>>,
    messages_echoed: usize,
    /// The control record that ended the connection, or None for EOF.
    end: Option<Record>,
}

/// How reading a message stopped, when it did not complete.
enum End {
    Eof,
    Control(Record),
    Io(io::Error),
}

impl End {
    fn describe(&self) -> String {
        match self {
            End::Eof => "end of stream".into(),
            End::Control(record) => record.to_string(),
            End::Io(error) => error.to_string(),
        }
    }
}

/// Fills `buf` from a kTLS socket with plain reads. When a read fails with
/// EIO (the next record is not application data), reads that record with
/// `recv_record`: session tickets are counted and skipped, anything else stops
/// the read.
fn read_exact_ktls(stream: &mut TcpStream, buf: &mut [u8], tickets: &mut usize) -> Result<(), End> {
    let mut filled = 0;
    let mut control = vec![0u8; CONTROL_BUFFER_LEN];
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Err(End::Eof),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {
                match recv_record(stream.as_raw_fd(), &mut control).map_err(End::Io)? {
                    Record::Handshake {
                        msg_type: HANDSHAKE_NEW_SESSION_TICKET,
                        ..
                    } => *tickets += 1,
                    Record::Eof => return Err(End::Eof),
                    other => return Err(End::Control(other)),
                }
            }
            Err(e) => return Err(End::Io(e)),
        }
    }
    Ok(())
}

/// Reads one length-prefixed message.
fn read_message(stream: &mut TcpStream, tickets: &mut usize) -> Result<Vec<u8>, End> {
    let mut header = [0u8; 8];
    read_exact_ktls(stream, &mut header, tickets)?;
    let len = usize::try_from(u64::from_be_bytes(header))
        .map_err(|_| End::Io(io::Error::other("message length overflows usize")))?;
    let mut body = vec![0u8; len];
    read_exact_ktls(stream, &mut body, tickets)?;
    Ok(body)
}

fn message(body: &[u8]) -> Vec<u8> {
    let mut framed = (body.len() as u64).to_be_bytes().to_vec();
    framed.extend_from_slice(body);
    framed
}

/// The server: handshake, offload, echo every message until a control record
/// or EOF ends the connection, then answer with close_notify.
fn serve(listener: TcpListener, config: Arc<ServerConfig>) -> Result<ServerReport, String> {
    let (mut stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    set_timeouts(&stream)?;
    let mut conn = ServerConnection::new(config).map_err(|e| format!("server: {e}"))?;
    complete_handshake(&mut conn, &mut stream).map_err(|e| format!("server handshake: {e}"))?;
    let offloaded =
        offload_connection(stream.as_raw_fd(), conn).map_err(|e| format!("server offload: {e}"))?;
    let mut report = ServerReport {
        offloaded,
        first_message: None,
        messages_echoed: 0,
        end: None,
    };
    let mut tickets = 0;
    loop {
        match read_message(&mut stream, &mut tickets) {
            Ok(body) => {
                stream
                    .write_all(&message(&body))
                    .map_err(|e| format!("server echo of {} bytes: {e}", body.len()))?;
                if report.first_message.is_none() {
                    report.first_message = Some(body);
                }
                report.messages_echoed += 1;
            }
            Err(End::Eof) => break,
            Err(End::Control(record)) => {
                report.end = Some(record);
                break;
            }
            Err(End::Io(e)) => return Err(format!("server read: {e}")),
        }
    }
    send_close_notify(stream.as_raw_fd()).map_err(|e| format!("server close_notify: {e}"))?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(report)
}

fn set_timeouts(stream: &TcpStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("socket timeouts: {e}"))
}

/// A client socket on kTLS and the server thread serving it.
struct Connected {
    stream: TcpStream,
    offloaded: Offloaded,
    server: thread::JoinHandle<Result<ServerReport, String>>,
}

/// Starts a server thread and connects a client whose handshake pipelines
/// `first` (if any) behind its Finished; returns the offloaded client socket.
fn connect(configs: &Configs, first: Option<&[u8]>) -> Result<Connected, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let address = listener.local_addr().map_err(|e| format!("address: {e}"))?;
    let server_config = configs.server.clone();
    let server = thread::spawn(move || serve(listener, server_config));
    let mut stream = TcpStream::connect(address).map_err(|e| format!("connect: {e}"))?;
    set_timeouts(&stream)?;
    let mut conn = ClientConnection::new(configs.client.clone(), Configs::server_name())
        .map_err(|e| format!("client: {e}"))?;
    if let Some(first) = first {
        conn.writer()
            .write_all(&message(first))
            .map_err(|e| format!("queue first message: {e}"))?;
    }
    complete_handshake(&mut conn, &mut stream).map_err(|e| format!("client handshake: {e}"))?;
    let offloaded =
        offload_connection(stream.as_raw_fd(), conn).map_err(|e| format!("client offload: {e}"))?;
    Ok(Connected {
        stream,
        offloaded,
        server,
    })
}

/// Deterministic, size-dependent content, so a shifted or truncated echo fails.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8) ^ len) as u8)
        .collect()
}

/// After the client's close_notify or KeyUpdate: the server's close_notify
/// must make a plain read fail with EIO, and recv_record must return it.
/// Session tickets still queued in front of it are skipped the same way.
fn expect_close_notify(stream: &mut TcpStream) -> Result<String, String> {
    let mut buf = [0u8; 64];
    let mut control = vec![0u8; CONTROL_BUFFER_LEN];
    let mut tickets = 0;
    loop {
        match stream.read(&mut buf) {
            Err(e) if e.raw_os_error() == Some(libc::EIO) => {}
            Err(e) => return Err(format!("plain read failed with {e}, expected EIO")),
            Ok(n) => return Err(format!("plain read returned {n} bytes, expected EIO")),
        }
        match recv_record(stream.as_raw_fd(), &mut control) {
            Ok(Record::Handshake {
                msg_type: HANDSHAKE_NEW_SESSION_TICKET,
                ..
            }) => tickets += 1,
            Ok(record) if record.is_close_notify() => {
                return Ok(format!(
                    "EIO, then recv_record: close_notify{}",
                    if tickets > 0 {
                        format!(" after {tickets} NewSessionTicket records")
                    } else {
                        String::new()
                    }
                ))
            }
            Ok(record) => return Err(format!("recv_record returned {record}")),
            Err(e) => return Err(format!("recv_record: {e}")),
        }
    }
}

/// One connection: pipelined first message, tls_stat, every size, tickets,
/// close_notify in both directions.
fn run_exchange(suite: SupportedCipherSuite, configs: &Configs, report: &mut Report) {
    let name = suite_name(suite);
    let Connected {
        mut stream,
        offloaded: client_offload,
        server,
    } = match connect(configs, Some(PIPELINED)) {
        Ok(connected) => connected,
        Err(error) => {
            report.check(&name, "handshake and client offload", Err(error));
            return;
        }
    };
    report.check(
        &name,
        "client handshake and offload",
        Ok(format!(
            "{} {} tx_seq={} rx_seq={}",
            client_offload.version,
            client_offload.cipher,
            client_offload.tx_seq,
            client_offload.rx_seq
        )),
    );

    let mut tickets = 0;
    let echoed = read_message(&mut stream, &mut tickets).map_err(|e| e.describe());
    report.check(
        &name,
        "message pipelined behind Finished arrives and comes back",
        match echoed {
            Ok(body) if body == PIPELINED => Ok(format!("{} bytes", body.len())),
            Ok(body) => Err(format!("echo of {} bytes differs", body.len())),
            Err(e) => Err(e),
        },
    );

    report.check(
        &name,
        "/proc/net/tls_stat counts kernel TLS while connected",
        match TlsStat::read() {
            Ok(stat) if stat.current_tx_sw() >= 2 && stat.current_rx_sw() >= 2 => Ok(format!(
                "TlsCurrTxSw={} TlsCurrRxSw={}",
                stat.current_tx_sw(),
                stat.current_rx_sw()
            )),
            Ok(stat) => Err(format!(
                "TlsCurrTxSw={} TlsCurrRxSw={}, expected both ends (>= 2)",
                stat.current_tx_sw(),
                stat.current_rx_sw()
            )),
            Err(e) => Err(format!("/proc/net/tls_stat: {e}")),
        },
    );

    for size in SIZES {
        let value = pattern(size);
        let started = Instant::now();
        let result = stream
            .write_all(&message(&value))
            .map_err(|e| format!("write: {e}"))
            .and_then(|()| read_message(&mut stream, &mut tickets).map_err(|e| e.describe()))
            .and_then(|echo| {
                if echo == value {
                    Ok(format!(
                        "{:.0} ms",
                        started.elapsed().as_secs_f64() * 1000.0
                    ))
                } else {
                    let at = echo.iter().zip(&value).position(|(a, b)| a != b);
                    Err(format!("echo of {} bytes differs at {at:?}", echo.len()))
                }
            });
        report.check(&name, &format!("{size} bytes round-trip exactly"), result);
    }

    if suite.version().version == rustls::ProtocolVersion::TLSv1_3 {
        report.check(
            &name,
            "session tickets arrive as handshake records (EIO, then recv_record)",
            if tickets > 0 {
                Ok(format!("{tickets} NewSessionTicket records"))
            } else {
                Err("no NewSessionTicket record seen".into())
            },
        );
    }

    let sent = send_close_notify(stream.as_raw_fd()).map_err(|e| format!("send_close_notify: {e}"));
    let reply = sent.and_then(|()| expect_close_notify(&mut stream));
    report.check(&name, "server's close_notify reaches the client", reply);

    match server.join() {
        Ok(Ok(seen)) => {
            report.check(
                &name,
                "server handshake and offload",
                Ok(format!(
                    "{} {} tx_seq={} rx_seq={}",
                    seen.offloaded.version,
                    seen.offloaded.cipher,
                    seen.offloaded.tx_seq,
                    seen.offloaded.rx_seq
                )),
            );
            report.check(
                &name,
                "server's first read after offload is the pipelined message",
                match &seen.first_message {
                    Some(first) if first == PIPELINED => Ok(String::new()),
                    Some(first) => Err(format!("first message was {} other bytes", first.len())),
                    None => Err("server read no message".into()),
                },
            );
            report.check(
                &name,
                "client's close_notify is a clean end for the server",
                match seen.end {
                    Some(record) if record.is_close_notify() => {
                        Ok(format!("after {} messages", seen.messages_echoed))
                    }
                    Some(record) => Err(format!("ended with {record}")),
                    None => Err("ended with EOF, no close_notify".into()),
                },
            );
        }
        Ok(Err(error)) => report.check(&name, "server", Err(error)),
        Err(_) => report.check(&name, "server", Err("server thread panicked".into())),
    }
}

/// A second TLS 1.3 connection: the client sends a KeyUpdate through the
/// kernel; the server must see it as a control record and end cleanly.
fn run_key_update(suite: SupportedCipherSuite, configs: &Configs, report: &mut Report) {
    let name = suite_name(suite);
    let result = connect(configs, None).and_then(|connected| {
        let Connected {
            mut stream, server, ..
        } = connected;
        // KeyUpdate, update_not_requested: type 24, length 1, body 0.
        let key_update = [HANDSHAKE_KEY_UPDATE, 0, 0, 1, 0];
        send_record(stream.as_raw_fd(), CONTENT_HANDSHAKE, &key_update)
            .map_err(|e| format!("send KeyUpdate: {e}"))?;
        let reply = expect_close_notify(&mut stream);
        let seen = server
            .join()
            .map_err(|_| "server thread panicked".to_owned())??;
        reply?;
        match seen.end {
            Some(Record::Handshake {
                msg_type: HANDSHAKE_KEY_UPDATE,
                len,
            }) => Ok(format!(
                "server saw a {len}-byte KeyUpdate record and sent close_notify"
            )),
            Some(record) => Err(format!("server ended with {record}")),
            None => Err("server ended with EOF".into()),
        }
    });
    report.check(
        &name,
        "KeyUpdate is a control record; connection ends cleanly",
        result,
    );
}
