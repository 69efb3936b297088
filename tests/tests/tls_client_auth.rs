//! Proves the client-authentication matrix and the handshake policy with
//! real TLS peers: `openssl s_client` (whose stderr names the alert the
//! server sent), `redis-cli --tls`, the redis crate and a raw rustls client.
//! Every case asserts what the client saw (served: PING answered; refused:
//! the alert text) and exactly which INFO `# TLS` counters moved.
//!
//! Certificates (see `petrel_e2e::tls::Pki`): `client1` is pinned, `ca`
//! signed it and `client2` but is not listed, `test-ca` is listed as a CA
//! and signed `test-client`, `expired` and `future`; `stranger` is
//! self-signed and listed nowhere; `syncer` is the node's syncer certificate.

use std::time::{Duration, Instant, SystemTime};

use petrel_e2e::tls::{
    client_config, expect_cli_refused, expect_counted, fatal_alert, legacy_client_hello,
    redis_cli_tls, s_client, s_client_with_input, tls_client, DatabaseTls, NodeTls, Pki, TlsConn,
    TlsInfo,
};
use petrel_e2e::{query, query_error, skip_under_redis, Config, Server};
use petrel_tls::rustls;

const NOPERM_NOT_SYNCER: &str =
    "NOPERM this connection did not present a syncer certificate; replication (sync) commands need one";
/// How a source answers a PSYNC that passed the policy.
const FULLRESYNC: &str = "FULLRESYNC ";

/// What one case expects.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// The handshake completes and PING is answered.
    Served,
    /// The server sends a fatal alert (as s_client words it) and counts
    /// one failed handshake under `counter`.
    Refused {
        alert: &'static str,
        counter: &'static str,
    },
}

use Outcome::{Refused, Served};

struct Case {
    name: &'static str,
    identity: Option<&'static str>,
    args: &'static [&'static str],
    outcome: Outcome,
}

/// Runs each case with `openssl s_client` against the port, checking its
/// output and the counters; returns the last INFO reading.
fn run_s_client_cases(
    port: u16,
    pki: &Pki,
    observer: &mut redis::Connection,
    mut before: TlsInfo,
    cases: &[Case],
) -> TlsInfo {
    for case in cases {
        let out = s_client(port, pki, case.identity, case.args);
        match case.outcome {
            Served => {
                assert!(
                    out.status.success()
                        && out.stderr.contains("CONNECTION ESTABLISHED")
                        && out.stdout.contains("+PONG"),
                    "{}: should be served: {out:?}",
                    case.name
                );
                before = expect_counted(observer, &before, 1, &[], case.name);
            }
            Refused { alert, counter } => {
                assert!(
                    !out.status.success() && !out.stdout.contains("PONG"),
                    "{}: should be refused: {out:?}",
                    case.name
                );
                assert!(
                    out.stderr.contains(alert),
                    "{}: s_client should report `{alert}`; stderr: {}",
                    case.name,
                    out.stderr
                );
                before = expect_counted(observer, &before, 0, &[(counter, 1)], case.name);
            }
        }
    }
    before
}

fn start(pki: &Pki, node: NodeTls, database: DatabaseTls) -> Server {
    let _ = pki;
    Server::start(Config::new().node_tls(node).database_tls(database))
}

// Enforcement enabled, list = [client1 (pinned leaf), test-ca (a CA)]:
// no certificate (TLS 1.3 and 1.2) → "alert certificate required",
// no_certificate; client1 → served; a certificate test-ca signed → served;
// a self-signed stranger → "alert unknown ca"; client2 (same issuer as the
// pinned client1, not listed) → "alert access denied", both
// unknown_certificate; expired and not-yet-valid certificates test-ca
// signed → "alert certificate expired", expired; the node's syncer
// certificate → served. redis-cli --tls: no certificate and client2 are not
// served (counted once, or twice when redis-cli retries), client1 is. Roles: the syncer's PSYNC passes the
// policy, client1's and test-client's get NOPERM.
#[test]
fn enforced_client_authentication_matrix() {
    if skip_under_redis("Petrel's TLS client authentication") {
        return;
    }
    let pki = Pki::generate();
    let server = start(
        &pki,
        NodeTls::from_pki(&pki),
        DatabaseTls::enabled()
            .enforce(true)
            .trust(&pki.cert("client1"))
            .trust(&pki.cert("test-ca")),
    );
    let port = server.port();
    let mut observer = tls_client(port, &pki, Some("client1"));
    let before = TlsInfo::read(&mut observer);
    let certificate_required = Refused {
        alert: "alert certificate required",
        counter: "handshakes_failed_no_certificate",
    };
    let before = run_s_client_cases(
        port,
        &pki,
        &mut observer,
        before,
        &[
            Case {
                name: "no certificate, TLS 1.3",
                identity: None,
                args: &["-tls1_3"],
                outcome: certificate_required,
            },
            Case {
                name: "no certificate, TLS 1.2",
                identity: None,
                args: &["-tls1_2"],
                outcome: certificate_required,
            },
            Case {
                name: "pinned leaf client1",
                identity: Some("client1"),
                args: &[],
                outcome: Served,
            },
            Case {
                name: "pinned leaf client1, TLS 1.2",
                identity: Some("client1"),
                args: &["-tls1_2"],
                outcome: Served,
            },
            Case {
                name: "signed by the listed CA",
                identity: Some("test-client"),
                args: &[],
                outcome: Served,
            },
            Case {
                name: "self-signed, listed nowhere",
                identity: Some("stranger"),
                args: &[],
                outcome: Refused {
                    alert: "alert unknown ca",
                    counter: "handshakes_failed_unknown_certificate",
                },
            },
            Case {
                name: "same issuer as the pinned leaf, not listed",
                identity: Some("client2"),
                args: &[],
                outcome: Refused {
                    alert: "alert access denied",
                    counter: "handshakes_failed_unknown_certificate",
                },
            },
            Case {
                name: "expired, signed by the listed CA",
                identity: Some("expired"),
                args: &[],
                outcome: Refused {
                    alert: "alert certificate expired",
                    counter: "handshakes_failed_expired",
                },
            },
            Case {
                name: "not yet valid, signed by the listed CA",
                identity: Some("future"),
                args: &[],
                outcome: Refused {
                    alert: "alert certificate expired",
                    counter: "handshakes_failed_expired",
                },
            },
            Case {
                name: "the node's syncer certificate",
                identity: Some("syncer"),
                args: &[],
                outcome: Served,
            },
        ],
    );

    let cli = redis_cli_tls(port, &pki, None, &["PING"]);
    assert!(
        !cli.status.success() && !cli.stdout.contains("PONG"),
        "redis-cli without a certificate was served: {cli:?}"
    );
    let before = expect_cli_refused(
        &mut observer,
        &before,
        "handshakes_failed_no_certificate",
        "redis-cli --tls without a certificate",
    );
    let cli = redis_cli_tls(port, &pki, Some("client2"), &["PING"]);
    assert!(
        !cli.status.success() && !cli.stdout.contains("PONG"),
        "redis-cli with client2 was served: {cli:?}"
    );
    let before = expect_cli_refused(
        &mut observer,
        &before,
        "handshakes_failed_unknown_certificate",
        "redis-cli --tls with client2",
    );
    let cli = redis_cli_tls(port, &pki, Some("client1"), &["PING"]);
    assert_eq!(cli.stdout.trim(), "PONG", "{cli:?}");
    let before = expect_counted(
        &mut observer,
        &before,
        1,
        &[],
        "redis-cli --tls with client1",
    );

    // Roles: only the syncer certificate may run sync commands.
    // The syncer's PSYNC starts a full sync, and its connection becomes a
    // replication link; a second syncer connection runs data commands.
    let mut syncer = tls_client(port, &pki, Some("syncer"));
    let answer: String = query(&mut syncer, &["PSYNC", "?", "-1"]);
    assert!(answer.starts_with(FULLRESYNC), "{answer}");
    let mut syncer = tls_client(port, &pki, Some("syncer"));
    let _: () = query(&mut syncer, &["SET", "synced-by", "syncer"]);
    let mut ca_signed = tls_client(port, &pki, Some("test-client"));
    assert_eq!(
        query_error(&mut ca_signed, &["PSYNC", "?", "-1"]),
        NOPERM_NOT_SYNCER
    );
    let value: String = query(&mut ca_signed, &["GET", "synced-by"]);
    assert_eq!(value, "syncer", "data commands work for a CA-signed client");
    assert_eq!(
        query_error(&mut observer, &["PSYNC", "?", "-1"]),
        NOPERM_NOT_SYNCER
    );
    expect_counted(
        &mut observer,
        &before,
        3,
        &[],
        "syncer twice and test-client",
    );
}

// Enforcement disabled, list = [brief (a self-signed leaf, pinned, that
// expires seconds after start-up), test-ca]: no certificate → served as a
// client (PSYNC: NOPERM); a self-signed stranger → served as an anonymous
// client; an expired certificate test-ca signed → still refused ("alert
// certificate expired", expired) because it claims an identity it cannot
// prove; the pinned brief certificate → served while valid, and once it
// has expired while the server runs → refused the same way.
#[test]
fn unenforced_client_authentication_still_refuses_expired_listed_certificates() {
    if skip_under_redis("Petrel's TLS client authentication") {
        return;
    }
    let pki = Pki::generate();
    let expires_at = pki.short_lived("brief", Duration::from_secs(4));
    let server = start(
        &pki,
        NodeTls::from_pki(&pki),
        DatabaseTls::enabled()
            .enforce(false)
            .trust(&pki.cert("brief"))
            .trust(&pki.cert("test-ca")),
    );
    let port = server.port();
    let mut observer = tls_client(port, &pki, None);
    let before = TlsInfo::read(&mut observer);
    let before = run_s_client_cases(
        port,
        &pki,
        &mut observer,
        before,
        &[
            Case {
                name: "no certificate, enforcement off",
                identity: None,
                args: &[],
                outcome: Served,
            },
            Case {
                name: "unknown self-signed certificate, enforcement off",
                identity: Some("stranger"),
                args: &[],
                outcome: Served,
            },
            Case {
                name: "expired certificate from the listed CA, enforcement off",
                identity: Some("expired"),
                args: &[],
                outcome: Refused {
                    alert: "alert certificate expired",
                    counter: "handshakes_failed_expired",
                },
            },
            Case {
                name: "pinned certificate while valid, enforcement off",
                identity: Some("brief"),
                args: &[],
                outcome: Served,
            },
        ],
    );
    assert_eq!(
        query_error(&mut observer, &["PSYNC", "?", "-1"]),
        NOPERM_NOT_SYNCER,
        "a client without a certificate is a plain client"
    );
    let mut stranger = tls_client(port, &pki, Some("stranger"));
    let _: () = query(&mut stranger, &["SET", "anonymous", "yes"]);
    assert_eq!(
        query_error(&mut stranger, &["PSYNC", "?", "-1"]),
        NOPERM_NOT_SYNCER
    );
    let before = expect_counted(
        &mut observer,
        &before,
        1,
        &[],
        "stranger via the redis crate",
    );

    // Webpki compares whole seconds and notAfter is inclusive: wait past it.
    let wait = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        + Duration::from_millis(1500);
    std::thread::sleep(wait);
    run_s_client_cases(
        port,
        &pki,
        &mut observer,
        before,
        &[Case {
            name: "pinned certificate expired while the server runs, enforcement off",
            identity: Some("brief"),
            args: &[],
            outcome: Refused {
                alert: "alert certificate expired",
                counter: "handshakes_failed_expired",
            },
        }],
    );
}

// min_data_TLS_version = "1.3": `openssl s_client -tls1_2` gets "alert
// protocol version" (counted protocol_version), as does a rustls client
// that offers only TLS 1.2; `-tls1_3` is served.
#[test]
fn minimum_version_1_3_refuses_tls_1_2() {
    if skip_under_redis("Petrel's TLS version floor") {
        return;
    }
    let pki = Pki::generate();
    let server = start(
        &pki,
        NodeTls::from_pki(&pki).string("min_data_TLS_version", "1.3"),
        DatabaseTls::enabled().enforce(false),
    );
    let port = server.port();
    let mut observer = tls_client(port, &pki, None);
    let before = TlsInfo::read(&mut observer);
    let before = run_s_client_cases(
        port,
        &pki,
        &mut observer,
        before,
        &[
            Case {
                name: "TLS 1.2 client against a 1.3 floor",
                identity: None,
                args: &["-tls1_2"],
                outcome: Refused {
                    alert: "alert protocol version",
                    counter: "handshakes_failed_protocol_version",
                },
            },
            Case {
                name: "TLS 1.3 client against a 1.3 floor",
                identity: None,
                args: &["-tls1_3"],
                outcome: Served,
            },
        ],
    );
    let tls12_only = client_config(&pki, None, Some(&[&rustls::version::TLS12]));
    match TlsConn::connect(port, tls12_only) {
        Ok(mut conn) => panic!(
            "a TLS 1.2-only rustls client was served: {:?}",
            conn.try_read_reply()
        ),
        Err(error) => assert!(
            error.contains("ProtocolVersion"),
            "rustls should report the protocol_version alert: {error}"
        ),
    }
    expect_counted(
        &mut observer,
        &before,
        0,
        &[("handshakes_failed_protocol_version", 1)],
        "rustls TLS 1.2-only client",
    );
}

// TLS 1.0 and 1.1 are refused with the default floor (1.2). With
// `openssl s_client -tls1` / `-tls1_1 -cipher DEFAULT@SECLEVEL=0` the
// server answers a fatal alert (handshake failure: OpenSSL's old hellos
// lack signature_algorithms, which rustls checks first; or protocol
// version), counted protocol_version; if this OpenSSL refuses to send such
// a hello ("no protocols available") nothing reaches the server and nothing
// is counted. Hand-made TLS 1.0 and 1.1 ClientHellos prove the server side
// regardless: without signature_algorithms alert 40, with them alert 70.
#[test]
fn tls_1_0_and_1_1_are_always_refused() {
    if skip_under_redis("Petrel's TLS version floor") {
        return;
    }
    let pki = Pki::generate();
    let server = start(
        &pki,
        NodeTls::from_pki(&pki),
        DatabaseTls::enabled().enforce(false),
    );
    let port = server.port();
    let mut observer = tls_client(port, &pki, None);
    let mut before = TlsInfo::read(&mut observer);
    for flag in ["-tls1", "-tls1_1"] {
        let out = s_client(port, &pki, None, &[flag, "-cipher", "DEFAULT@SECLEVEL=0"]);
        assert!(
            !out.status.success() && !out.stdout.contains("PONG"),
            "s_client {flag} was served: {out:?}"
        );
        if out.stderr.contains("no protocols available") {
            eprintln!(
                "this OpenSSL will not send a {flag} hello; the hand-made hellos below cover it"
            );
            before = expect_counted(&mut observer, &before, 0, &[], flag);
            continue;
        }
        assert!(
            out.stderr.contains("alert handshake failure")
                || out.stderr.contains("alert protocol version"),
            "s_client {flag} should get a fatal alert: {}",
            out.stderr
        );
        before = expect_counted(
            &mut observer,
            &before,
            0,
            &[("handshakes_failed_protocol_version", 1)],
            flag,
        );
    }
    for (minor, signature_algorithms, alert) in
        [(1, false, 40), (1, true, 70), (2, false, 40), (2, true, 70)]
    {
        let mut raw = server.raw();
        raw.send(&legacy_client_hello(minor, signature_algorithms));
        let answer = raw.read_until_closed();
        let case = format!(
            "hand-made TLS 1.{} hello, signature_algorithms: {signature_algorithms}",
            minor - 1
        );
        assert_eq!(
            fatal_alert(&answer),
            Some(alert),
            "{case}: the server sent {answer:?}"
        );
        before = expect_counted(
            &mut observer,
            &before,
            0,
            &[("handshakes_failed_protocol_version", 1)],
            &case,
        );
    }
}

// data_cipher_suites_tls_1_3 = "TLS_CHACHA20_POLY1305_SHA256": s_client
// negotiates exactly that suite, CLIENT LIST shows
// tls-cipher=TLS13_CHACHA20_POLY1305_SHA256 for a redis crate client and a
// rustls client, and a client offering only TLS_AES_128_GCM_SHA256 gets
// "alert handshake failure", counted protocol_version (no suite in common).
#[test]
fn tls13_suite_list_restricts_the_negotiated_cipher() {
    if skip_under_redis("Petrel's TLS suite list") {
        return;
    }
    let pki = Pki::generate();
    let server = start(
        &pki,
        NodeTls::from_pki(&pki)
            .string("data_cipher_suites_tls_1_3", "TLS_CHACHA20_POLY1305_SHA256"),
        DatabaseTls::enabled().enforce(false),
    );
    let port = server.port();
    let mut observer = tls_client(port, &pki, None);
    let before = TlsInfo::read(&mut observer);

    let out = s_client(port, &pki, None, &["-tls1_3"]);
    assert!(
        out.stderr
            .contains("Ciphersuite: TLS_CHACHA20_POLY1305_SHA256")
            && out.stdout.contains("+PONG"),
        "s_client should negotiate ChaCha20-Poly1305: {out:?}"
    );
    let before = expect_counted(
        &mut observer,
        &before,
        1,
        &[],
        "s_client with the suite list",
    );

    let list: String = query(&mut observer, &["CLIENT", "LIST"]);
    let own = list
        .lines()
        .find(|line| line.contains("cmd=client|list"))
        .unwrap_or_else(|| panic!("CLIENT LIST lacks the asking connection: {list}"));
    assert!(
        own.contains("tls-version=TLSv1.3 tls-cipher=TLS13_CHACHA20_POLY1305_SHA256"),
        "CLIENT LIST should show the only allowed suite: {own}"
    );
    let mut conn = TlsConn::connect(port, client_config(&pki, None, None)).expect("rustls client");
    assert_eq!(
        conn.negotiated(),
        (
            "TLSv1_3".to_owned(),
            "TLS13_CHACHA20_POLY1305_SHA256".to_owned()
        )
    );
    let listed = conn.command(&["CLIENT", "LIST"]);
    let listed = listed.as_text().unwrap_or_default();
    assert_eq!(
        listed
            .lines()
            .filter(|line| line.contains("tls-cipher=TLS13_CHACHA20_POLY1305_SHA256"))
            .count(),
        2,
        "both TLS clients use the one suite: {listed}"
    );
    let before = expect_counted(
        &mut observer,
        &before,
        1,
        &[],
        "rustls client with the suite list",
    );

    let out = s_client(
        port,
        &pki,
        None,
        &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
    );
    assert!(
        !out.status.success() && out.stderr.contains("alert handshake failure"),
        "a client without the allowed suite should get a handshake failure: {out:?}"
    );
    expect_counted(
        &mut observer,
        &before,
        0,
        &[("handshakes_failed_protocol_version", 1)],
        "no TLS 1.3 suite in common",
    );
}

// handshake_timeout_ms = 600: a client that connects and sends nothing, and
// one that sends only the first bytes of a record header, are both closed
// by the server (EOF, no alert) after about 600 ms, each counted as
// timeout; a normal client in the same server is still served.
#[test]
fn slow_handshakes_are_closed_after_the_timeout() {
    if skip_under_redis("Petrel's TLS handshake timeout") {
        return;
    }
    let pki = Pki::generate();
    let server = start(
        &pki,
        NodeTls::from_pki(&pki).integer("handshake_timeout_ms", 600),
        DatabaseTls::enabled().enforce(false),
    );
    let port = server.port();
    let mut observer = tls_client(port, &pki, None);
    let mut before = TlsInfo::read(&mut observer);
    for (case, sent) in [
        ("connects and sends nothing", &b""[..]),
        (
            "sends three bytes of a record header",
            &[0x16, 0x03, 0x01][..],
        ),
    ] {
        let started = Instant::now();
        let mut raw = server.raw();
        if !sent.is_empty() {
            raw.send(sent);
        }
        let answer = raw.read_until_closed();
        let waited = started.elapsed();
        assert!(answer.is_empty(), "{case}: got {answer:?}");
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_secs(5),
            "{case}: closed after {waited:?}, expected about 600 ms"
        );
        before = expect_counted(
            &mut observer,
            &before,
            0,
            &[("handshakes_failed_timeout", 1)],
            case,
        );
    }
    let out = s_client_with_input(port, &pki, None, &[], "PING\r\nQUIT\r\n");
    assert!(out.stdout.contains("+PONG"), "{out:?}");
    expect_counted(&mut observer, &before, 1, &[], "a prompt client");
}
