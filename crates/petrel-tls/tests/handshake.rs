//! Handshakes between in-memory rustls clients and the server configurations
//! a snapshot builds: the client-authentication matrix (what the client
//! sees, how the server counts it, which role the peer gets), version
//! floors, suite restrictions and what the kernel handoff needs.

mod common;

use std::time::SystemTime;

use common::{handshake, round_trip, suites_matching, Cast, DAY, TLS12, TLS13};
use petrel_tls::rustls::server::ServerConnection;
use petrel_tls::rustls::{self, AlertDescription, CertificateError, ProtocolVersion};
use petrel_tls::testing::{self, GeneratedCert, Profile, Validity};
use petrel_tls::{
    classify_handshake_error, classify_peer, sync_allowed, ClientAuthentication, HandshakeFailure,
    PeerRole, RawClientCert, RawNodeTls, SyncRefusal, TlsMode, TlsSnapshot,
};

/// What a matrix case must produce.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The handshake completes and the peer gets this role.
    Client,
    Sync,
    /// The client reads this alert and the server counts this reason.
    Refused(AlertDescription, HandshakeFailure),
}

fn identity<'a>(cast: &'a Cast, who: &str) -> Option<&'a GeneratedCert> {
    match who {
        "none" => None,
        "pinned leaf" => Some(&cast.dev.client1),
        "same CA, not listed" => Some(&cast.dev.client2),
        "CA-signed" => Some(&cast.ca_signed),
        "CA-signed, serverAuth only" => Some(&cast.ca_signed_server_only),
        "unknown self-signed" => Some(&cast.self_signed),
        "expired" => Some(&cast.expired),
        "not yet valid" => Some(&cast.not_yet_valid),
        "another CA" => Some(&cast.other_ca_client),
        "another CA, expired" => Some(&cast.other_ca_expired),
        "another CA, serverAuth only" => Some(&cast.other_ca_server_only),
        "own syncer" => Some(&cast.dev.syncer),
        "crdt syncer" => Some(&cast.crdt),
        other => panic!("no identity called {other}"),
    }
}

fn check(
    cast: &Cast,
    snapshot: &TlsSnapshot,
    who: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    expect: Expect,
) {
    let database = snapshot.database(0);
    let server_config = database.server_config().expect("TLS is on");
    let client_config = cast.client_config(identity(cast, who), versions, None);
    let mut outcome = handshake(server_config, client_config);
    let label = format!(
        "{who} with {versions:?}, enforce={}",
        database.client_authentication()
    );
    match expect {
        Expect::Client | Expect::Sync => {
            assert!(
                outcome.succeeded(),
                "{label}: expected success, client saw {:?}, server saw {:?}",
                outcome.client_error,
                outcome.server_error
            );
            assert_eq!(
                round_trip(&mut outcome, b"PING\r\n"),
                b"PING\r\n",
                "{label}"
            );
            let role = classify_peer(database, outcome.server.peer_certificates());
            let want_sync = matches!(expect, Expect::Sync);
            assert_eq!(role.is_sync(), want_sync, "{label}: role {role:?}");
            let transport = sync_allowed(database.mode(), true, role);
            assert_eq!(transport.is_ok(), want_sync, "{label}");
        }
        Expect::Refused(alert, failure) => {
            assert_eq!(
                outcome.client_error,
                Some(rustls::Error::AlertReceived(alert)),
                "{label}: what the client saw (server: {:?})",
                outcome.server_error
            );
            let server_error = outcome.server_error.as_ref().expect("server failed");
            assert_eq!(
                classify_handshake_error(server_error),
                failure,
                "{label}: {server_error:?}"
            );
        }
    }
}

const REFUSE_NO_CERT: Expect = Expect::Refused(
    AlertDescription::CertificateRequired,
    HandshakeFailure::NoCertificate,
);
const REFUSE_UNKNOWN_CA: Expect = Expect::Refused(
    AlertDescription::UnknownCA,
    HandshakeFailure::UnknownCertificate,
);
const REFUSE_NOT_LISTED: Expect = Expect::Refused(
    AlertDescription::AccessDenied,
    HandshakeFailure::UnknownCertificate,
);
const REFUSE_EXPIRED: Expect = Expect::Refused(
    AlertDescription::CertificateExpired,
    HandshakeFailure::Expired,
);
const REFUSE_PURPOSE: Expect = Expect::Refused(
    AlertDescription::UnsupportedCertificate,
    HandshakeFailure::UnknownCertificate,
);

/// Enforcement on: only listed certificates (pinned, CA-signed, syncers)
/// get in, and each refusal carries the alert docs/tls.md promises, in
/// TLS 1.3 and TLS 1.2 alike.
#[test]
fn enforced_client_authentication_matrix() {
    let cast = Cast::new();
    let snapshot = cast.snapshot(
        &cast.node(),
        cast.database(TlsMode::Enabled, ClientAuthentication::Enabled),
    );
    let cases = [
        ("none", REFUSE_NO_CERT),
        ("pinned leaf", Expect::Client),
        ("CA-signed", Expect::Client),
        ("same CA, not listed", REFUSE_NOT_LISTED),
        ("unknown self-signed", REFUSE_UNKNOWN_CA),
        ("another CA", REFUSE_UNKNOWN_CA),
        ("another CA, expired", REFUSE_UNKNOWN_CA),
        ("another CA, serverAuth only", REFUSE_UNKNOWN_CA),
        ("expired", REFUSE_EXPIRED),
        ("not yet valid", REFUSE_EXPIRED),
        ("CA-signed, serverAuth only", REFUSE_PURPOSE),
        ("own syncer", Expect::Sync),
        ("crdt syncer", Expect::Sync),
    ];
    for versions in [TLS13, TLS12] {
        for (who, expect) in cases {
            check(&cast, &snapshot, who, versions, expect);
        }
    }
}

/// Enforcement off: clients without a certificate, or with one nobody
/// listed, are served as plain clients; listed certificates still earn
/// their role; a listed-but-invalid certificate is still refused.
#[test]
fn unenforced_client_authentication_matrix() {
    let cast = Cast::new();
    let snapshot = cast.snapshot(
        &cast.node(),
        cast.database(TlsMode::Enabled, ClientAuthentication::Disabled),
    );
    let cases = [
        ("none", Expect::Client),
        ("pinned leaf", Expect::Client),
        ("CA-signed", Expect::Client),
        ("same CA, not listed", Expect::Client),
        ("unknown self-signed", Expect::Client),
        ("another CA", Expect::Client),
        ("another CA, expired", Expect::Client),
        ("another CA, serverAuth only", Expect::Client),
        ("CA-signed, serverAuth only", REFUSE_PURPOSE),
        ("expired", REFUSE_EXPIRED),
        ("not yet valid", REFUSE_EXPIRED),
        ("own syncer", Expect::Sync),
        ("crdt syncer", Expect::Sync),
    ];
    for versions in [TLS13, TLS12] {
        for (who, expect) in cases {
            check(&cast, &snapshot, who, versions, expect);
        }
    }
}

/// A pinned certificate that was valid when the settings were loaded but
/// has expired since is refused with certificate_expired at handshake time.
#[test]
fn pinned_certificate_expired_after_load() {
    // Certificates issued a month ago, so that they were valid at load time.
    let now = SystemTime::now();
    let cast = Cast::at(now - 30 * DAY);
    let short_lived = testing::issue(
        &cast.dev.ca,
        "short-lived",
        Profile::Client,
        Validity::Between {
            not_before: now - 10 * DAY,
            not_after: now - DAY,
        },
        cast.now,
    )
    .expect("cert");
    let mut database = cast.database(TlsMode::Enabled, ClientAuthentication::Enabled);
    database.authentication_ssl_client_certs = vec![RawClientCert {
        client_cert: short_lived.cert_pem(),
    }];
    let loaded_at = now - 5 * DAY;
    let snapshot = TlsSnapshot::build(
        &cast.node(),
        &[("orders".into(), database)],
        std::path::Path::new("."),
        loaded_at,
    )
    .expect("valid when loaded");
    let client = cast.client_config(Some(&short_lived), TLS13, None);
    let outcome = handshake(snapshot.database(0).server_config().expect("tls"), client);
    assert_eq!(
        outcome.client_error,
        Some(rustls::Error::AlertReceived(
            AlertDescription::CertificateExpired
        ))
    );
    assert!(matches!(
        outcome.server_error,
        Some(rustls::Error::InvalidCertificate(
            CertificateError::ExpiredContext { .. }
        ))
    ));
}

/// With enforcement off and nothing to recognise, the server does not ask
/// for a certificate at all, so a client holding one is an anonymous client.
#[test]
fn no_trust_lists_and_no_enforcement_asks_for_nothing() {
    let cast = Cast::new();
    let node = RawNodeTls {
        syncer_cert: None,
        syncer_key: None,
        ..cast.node()
    };
    let mut database = cast.database(TlsMode::Enabled, ClientAuthentication::Disabled);
    database.authentication_ssl_client_certs.clear();
    database.authentication_ssl_crdt_certs.clear();
    let snapshot = cast.snapshot(&node, database);
    let outcome = handshake(
        snapshot.database(0).server_config().expect("tls"),
        cast.client_config(Some(&cast.dev.client1), TLS13, None),
    );
    assert!(outcome.succeeded());
    assert_eq!(outcome.server.peer_certificates(), None);
    assert_eq!(classify_peer(snapshot.database(0), None), PeerRole::Client);
}

/// replica_ssl: TLS clients are held to the same policy; plaintext peers
/// are clients and are refused sync with the NOPERM message.
#[test]
fn replica_ssl_roles_and_sync_refusals() {
    let cast = Cast::new();
    let mut database = cast.database(TlsMode::ReplicaSsl, ClientAuthentication::Enabled);
    database.authentication_ssl_client_certs.clear();
    let snapshot = cast.snapshot(&cast.node(), database);
    let db = snapshot.database(0);
    assert!(db.mode().accepts_plaintext() && db.mode().accepts_tls());

    check(&cast, &snapshot, "own syncer", TLS13, Expect::Sync);
    check(&cast, &snapshot, "none", TLS13, REFUSE_NO_CERT);
    check(&cast, &snapshot, "pinned leaf", TLS13, REFUSE_NOT_LISTED);

    let plaintext = classify_peer(db, None);
    assert_eq!(plaintext, PeerRole::Client);
    let refusal = sync_allowed(db.mode(), false, plaintext).expect_err("plaintext sync");
    assert_eq!(refusal, SyncRefusal::Plaintext);
    assert_eq!(
        refusal.to_string(),
        "NOPERM this database requires TLS with a syncer certificate for replication (sync) commands"
    );
    let tls_client = sync_allowed(db.mode(), true, PeerRole::Client).expect_err("client sync");
    assert!(tls_client.to_string().starts_with("NOPERM "));
}

/// A disabled database has no server configuration and allows plaintext sync.
#[test]
fn disabled_database_has_no_tls() {
    let cast = Cast::new();
    let snapshot = cast.snapshot(&RawNodeTls::default(), Default::default());
    let db = snapshot.database(0);
    assert_eq!(db.mode(), TlsMode::Disabled);
    assert!(db.server_config().is_none());
    assert_eq!(
        sync_allowed(db.mode(), false, classify_peer(db, None)),
        Ok(())
    );
}

/// min_data_TLS_version = 1.3 refuses a TLS 1.2-only client with a
/// protocol_version alert, counted as a protocol version failure.
#[test]
fn tls13_floor_refuses_tls12_client() {
    let cast = Cast::new();
    let node = RawNodeTls {
        min_data_tls_version: Some("1.3".into()),
        ..cast.node()
    };
    let snapshot = cast.snapshot(
        &node,
        cast.database(TlsMode::Enabled, ClientAuthentication::Enabled),
    );
    let outcome = handshake(
        snapshot.database(0).server_config().expect("tls"),
        cast.client_config(Some(&cast.dev.client1), TLS12, None),
    );
    assert_eq!(
        outcome.client_error,
        Some(rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion
        ))
    );
    let server_error = outcome.server_error.expect("refused");
    assert_eq!(
        classify_handshake_error(&server_error),
        HandshakeFailure::ProtocolVersion
    );

    let outcome = handshake(
        snapshot.database(0).server_config().expect("tls"),
        cast.client_config(Some(&cast.dev.client1), TLS13, None),
    );
    assert!(outcome.succeeded());
    assert_eq!(
        outcome.server.protocol_version(),
        Some(ProtocolVersion::TLSv1_3)
    );
}

/// A ClientHello whose highest version is TLS 1.0 or 1.1.
fn legacy_client_hello(minor: u8, with_signature_algorithms: bool) -> Vec<u8> {
    let mut hello = vec![0x03, minor]; // client_version
    hello.extend([0x42; 32]); // random
    hello.push(0); // empty session id
    hello.extend([0x00, 0x02, 0xc0, 0x13]); // ECDHE-RSA-AES128-SHA
    hello.extend([0x01, 0x00]); // null compression
    if with_signature_algorithms {
        // extensions: signature_algorithms = [ecdsa_secp256r1_sha256]
        hello.extend([0x00, 0x08, 0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03]);
    }
    let mut message = vec![0x01, 0x00, 0x00, u8::try_from(hello.len()).expect("short")];
    message.extend(hello);
    let mut record = vec![
        0x16,
        0x03,
        0x01,
        0x00,
        u8::try_from(message.len()).expect("short"),
    ];
    record.extend(message);
    record
}

/// TLS 1.0 and 1.1 ClientHellos are refused with a fatal alert and counted
/// as protocol version failures, whatever the floor. A hello that carries
/// signature_algorithms gets protocol_version; one without it (what real
/// pre-1.2 clients send) gets handshake_failure, because rustls checks that
/// extension first.
#[test]
fn tls10_and_tls11_client_hellos_are_refused() {
    let cast = Cast::new();
    let snapshot = cast.snapshot(
        &cast.node(),
        cast.database(TlsMode::Enabled, ClientAuthentication::Disabled),
    );
    for (minor, with_signature_algorithms, alert) in
        [(1, true, 70), (2, true, 70), (1, false, 40), (2, false, 40)]
    {
        let config = snapshot.database(0).server_config().expect("tls");
        let mut server = ServerConnection::new(config).expect("server");
        let record = legacy_client_hello(minor, with_signature_algorithms);
        let error = common::feed(&mut server, &record).expect_err("pre-1.2 refused");
        assert_eq!(
            classify_handshake_error(&error),
            HandshakeFailure::ProtocolVersion,
            "{error:?}"
        );
        let reply = common::drain(&mut server);
        assert_eq!(reply.first(), Some(&0x15), "an alert record: {reply:?}");
        assert_eq!(
            reply[reply.len() - 2..],
            [2, alert],
            "fatal alert for 1.{} hello",
            minor - 1
        );
    }
}

/// Suite restrictions: a TLS 1.3 client with no configured suite in common
/// is refused with handshake_failure; the configured suite is the one used,
/// in TLS 1.3 and in TLS 1.2 (OpenSSL name).
#[test]
fn cipher_suite_restrictions() {
    let cast = Cast::new();
    let node = RawNodeTls {
        data_cipher_suites_tls_1_3: Some("TLS_AES_256_GCM_SHA384".into()),
        data_cipher_list: Some("ECDHE-ECDSA-CHACHA20-POLY1305".into()),
        ..cast.node()
    };
    let snapshot = cast.snapshot(
        &node,
        cast.database(TlsMode::Enabled, ClientAuthentication::Disabled),
    );
    let config = snapshot.database(0).server_config().expect("tls");

    let aes128_only = cast.client_config(None, TLS13, Some(suites_matching("TLS13_AES_128")));
    let outcome = handshake(config.clone(), aes128_only);
    assert_eq!(
        outcome.client_error,
        Some(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure
        ))
    );
    assert_eq!(
        classify_handshake_error(&outcome.server_error.expect("refused")),
        HandshakeFailure::ProtocolVersion
    );

    let outcome = handshake(config.clone(), cast.client_config(None, TLS13, None));
    assert!(outcome.succeeded());
    let suite = outcome
        .server
        .negotiated_cipher_suite()
        .expect("suite")
        .suite();
    assert_eq!(suite, rustls::CipherSuite::TLS13_AES_256_GCM_SHA384);

    let outcome = handshake(config.clone(), cast.client_config(None, TLS12, None));
    assert!(outcome.succeeded());
    let suite = outcome
        .server
        .negotiated_cipher_suite()
        .expect("suite")
        .suite();
    assert_eq!(
        suite,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
    );

    let gcm_only_12 = cast.client_config(None, TLS12, Some(suites_matching("ECDSA_WITH_AES")));
    let outcome = handshake(config, gcm_only_12);
    assert_eq!(
        outcome.client_error,
        Some(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure
        ))
    );
}

/// After a TLS 1.3 handshake the server has queued no session ticket (the
/// kernel could not carry it), no ALPN was chosen, and the traffic secrets
/// can be extracted for kTLS.
#[test]
fn ready_for_kernel_handoff() {
    let cast = Cast::new();
    let snapshot = cast.snapshot(
        &cast.node(),
        cast.database(TlsMode::Enabled, ClientAuthentication::Enabled),
    );
    let db = snapshot.database(0);
    assert_eq!(
        db.handshake_timeout(),
        std::time::Duration::from_millis(10_000)
    );
    assert_eq!(db.ktls_mode(), petrel_tls::KtlsMode::Auto);
    for versions in [TLS13, TLS12] {
        let outcome = handshake(
            db.server_config().expect("tls"),
            cast.client_config(Some(&cast.dev.client1), versions, None),
        );
        assert!(outcome.succeeded());
        assert!(
            !outcome.server.wants_write(),
            "nothing queued after the handshake ({versions:?})"
        );
        assert_eq!(outcome.server.alpn_protocol(), None);
        let secrets = outcome
            .server
            .dangerous_extract_secrets()
            .expect("secret extraction enabled");
        // TLS 1.2's Finished is the first record under the traffic keys;
        // TLS 1.3's goes under the handshake keys.
        let finished_records = u64::from(versions == TLS12);
        assert_eq!(
            secrets.tx.0, finished_records,
            "nothing else sent ({versions:?})"
        );
        assert_eq!(
            secrets.rx.0, finished_records,
            "nothing else received ({versions:?})"
        );
    }
}

/// A reconnecting TLS 1.2 client is not resumed: every connection runs the
/// full handshake, and so the current client-certificate check.
#[test]
fn no_session_resumption() {
    let cast = Cast::new();
    let snapshot = cast.snapshot(
        &cast.node(),
        cast.database(TlsMode::Enabled, ClientAuthentication::Enabled),
    );
    let client = cast.client_config(Some(&cast.dev.client1), TLS12, None);
    let config = snapshot.database(0).server_config().expect("tls");
    let first = handshake(config.clone(), client.clone());
    assert!(first.succeeded());
    let second = handshake(config, client);
    assert!(second.succeeded());
    assert_eq!(
        second.server.handshake_kind(),
        Some(rustls::HandshakeKind::Full)
    );
}

/// Building a snapshot reads no clock of its own: the same settings are
/// accepted at a moment the certificates are valid and refused after.
#[test]
fn validity_is_judged_at_the_given_moment() {
    let cast = Cast::new();
    let later = SystemTime::now() + 3650 * DAY;
    let error = TlsSnapshot::build(
        &cast.node(),
        &[(
            "orders".into(),
            cast.database(TlsMode::Enabled, ClientAuthentication::Enabled),
        )],
        std::path::Path::new("."),
        later,
    )
    .expect_err("expired by then");
    assert!(
        error
            .to_string()
            .starts_with("node: proxy_cert: certificate expired on "),
        "{error}"
    );
}

/// A client certificate whose notBefore lies after its notAfter is refused
/// like any stranger's, without upsetting the server.
#[test]
fn inverted_validity_is_just_refused() {
    let cast = Cast::new();
    let inverted = testing::issue(
        &cast.trusted_ca,
        "inverted",
        Profile::Client,
        Validity::Between {
            not_before: cast.now + DAY,
            not_after: cast.now - DAY,
        },
        cast.now,
    )
    .expect("cert");
    let snapshot = cast.snapshot(
        &cast.node(),
        cast.database(TlsMode::Enabled, ClientAuthentication::Enabled),
    );
    let outcome = handshake(
        snapshot.database(0).server_config().expect("tls"),
        cast.client_config(Some(&inverted), TLS13, None),
    );
    assert!(outcome.client_error.is_some() && outcome.server_error.is_some());
    assert_ne!(
        classify_handshake_error(&outcome.server_error.expect("refused")),
        HandshakeFailure::Other
    );
}

/// `trusts_chain` answers as a new handshake would: after client1 leaves
/// the list, a session that presented it is no longer trusted, while a
/// CA-signed client and a session without a certificate still are.
#[test]
fn trusts_chain_follows_the_new_trust_list() {
    let cast = Cast::new();
    let node = cast.node();
    let before = cast.snapshot(
        &node,
        cast.database(TlsMode::Enabled, ClientAuthentication::Enabled),
    );
    let mut narrowed = cast.database(TlsMode::Enabled, ClientAuthentication::Enabled);
    narrowed.authentication_ssl_client_certs.remove(0);
    let after = cast.snapshot(&node, narrowed);
    let client1 = [cast.dev.client1.cert_der()];
    let ca_signed = [cast.ca_signed.cert_der()];
    let stranger = [cast.other_ca_client.cert_der()];
    assert!(before.database(0).trusts_chain(&client1, cast.now));
    assert!(!after.database(0).trusts_chain(&client1, cast.now));
    assert!(after.database(0).trusts_chain(&ca_signed, cast.now));
    assert!(!after.database(0).trusts_chain(&stranger, cast.now));
    assert!(after.database(0).trusts_chain(&[], cast.now));
    // Past every leaf's notAfter.
    let later = cast.now + 365 * 20 * DAY;
    assert!(
        !before.database(0).trusts_chain(&client1, later),
        "an expired pinned certificate is not trusted"
    );
}
