//! Load-time validation: every unusable certificate, key, version or suite
//! stops the build with a message naming the node or database, the field
//! and the reason; and the raw structs read the config keys DESIGN.md names.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Cast, DAY};
use petrel_tls::testing::{self, Profile, Validity};
use petrel_tls::{
    ClientAuthentication, KtlsMode, Problem, RawClientCert, RawDatabaseTls, RawNodeTls, Scope,
    TlsConfigError, TlsMode, TlsSnapshot,
};

fn build(
    cast: &Cast,
    node: &RawNodeTls,
    database: RawDatabaseTls,
) -> Result<TlsSnapshot, TlsConfigError> {
    TlsSnapshot::build(
        node,
        &[("orders".to_owned(), database)],
        Path::new("/nonexistent"),
        cast.now,
    )
}

fn error_text(cast: &Cast, node: &RawNodeTls, database: RawDatabaseTls) -> String {
    match build(cast, node, database) {
        Ok(_) => panic!("expected a configuration error"),
        Err(error) => error.to_string(),
    }
}

fn enabled(cast: &Cast) -> RawDatabaseTls {
    cast.database(TlsMode::Enabled, ClientAuthentication::Enabled)
}

fn at(unix_seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix_seconds)
}

/// The example from the design: a listed certificate that expired on
/// 2024-01-01 is reported with the database, the list position and the day.
#[test]
fn expired_listed_certificate_names_database_field_and_day() {
    let cast = Cast::new();
    let old = testing::issue(
        &cast.dev.ca,
        "old client",
        Profile::Client,
        Validity::Between {
            not_before: at(1_672_531_200),
            not_after: at(1_704_067_200),
        },
        cast.now,
    )
    .expect("cert");
    let mut database = enabled(&cast);
    database.authentication_ssl_client_certs[1] = RawClientCert {
        client_cert: old.cert_pem(),
    };
    assert_eq!(
        error_text(&cast, &cast.node(), database),
        "database \"orders\": authentication_ssl_client_certs[1].client_cert: certificate expired on 2024-01-01"
    );
}

/// Certificates that are not yet valid, or expired crdt entries, are refused too.
#[test]
fn not_yet_valid_and_crdt_entries() {
    let cast = Cast::new();
    let future = testing::issue(
        &cast.dev.ca,
        "future proxy",
        Profile::Server,
        Validity::NotYetValid,
        cast.now,
    )
    .expect("cert");
    let node = RawNodeTls {
        proxy_cert: Some(future.cert_pem()),
        proxy_key: Some(future.key_pem()),
        ..cast.node()
    };
    let text = error_text(&cast, &node, enabled(&cast));
    assert!(
        text.starts_with("node: proxy_cert: certificate is not valid before 20"),
        "{text}"
    );

    let mut database = enabled(&cast);
    database.authentication_ssl_crdt_certs.push(RawClientCert {
        client_cert: cast.expired.cert_pem(),
    });
    let text = error_text(&cast, &cast.node(), database);
    assert!(
        text.starts_with("database \"orders\": authentication_ssl_crdt_certs[1].client_cert: certificate expired on "),
        "{text}"
    );
}

/// Things that are not certificates say what they are instead.
#[test]
fn not_a_certificate() {
    let cast = Cast::new();
    let key_as_cert = RawNodeTls {
        proxy_cert: Some(cast.dev.proxy.key_pem()),
        ..cast.node()
    };
    assert_eq!(
        error_text(&cast, &key_as_cert, enabled(&cast)),
        "node: proxy_cert: not a certificate: found a PRIVATE KEY block, not a CERTIFICATE"
    );

    let mut database = enabled(&cast);
    database.authentication_ssl_client_certs[0].client_cert =
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n".into();
    let text = error_text(&cast, &cast.node(), database);
    assert!(
        text.starts_with("database \"orders\": authentication_ssl_client_certs[0].client_cert: not a certificate: "),
        "{text}"
    );

    let mut database = enabled(&cast);
    database.authentication_ssl_client_certs[0].client_cert =
        "-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n".into();
    let text = error_text(&cast, &cast.node(), database);
    assert!(text.contains("client_cert: malformed PEM: "), "{text}");
}

/// Keys: one of another certificate, garbage, or a certificate instead.
#[test]
fn key_problems() {
    let cast = Cast::new();
    let mismatched = RawNodeTls {
        proxy_key: Some(cast.dev.client1.key_pem()),
        ..cast.node()
    };
    assert_eq!(
        error_text(&cast, &mismatched, enabled(&cast)),
        "node: proxy_key: private key does not match the certificate in proxy_cert"
    );

    let garbage = RawNodeTls {
        syncer_key: Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into()),
        ..cast.node()
    };
    let text = error_text(&cast, &garbage, enabled(&cast));
    assert!(
        text.starts_with("node: syncer_key: not a usable private key: "),
        "{text}"
    );

    let cert_as_key = RawNodeTls {
        proxy_key: Some(cast.dev.proxy.cert_pem()),
        ..cast.node()
    };
    assert_eq!(
        error_text(&cast, &cert_as_key, enabled(&cast)),
        "node: proxy_key: not a usable private key: found a CERTIFICATE block, not a PRIVATE KEY"
    );
}

/// Server and syncer certificates must allow their use.
#[test]
fn key_usage_checks() {
    let cast = Cast::new();
    let with_proxy = |profile| {
        let cert = testing::issue(&cast.dev.ca, "odd", profile, Validity::Current, cast.now)
            .expect("cert");
        let node = RawNodeTls {
            proxy_cert: Some(cert.cert_pem()),
            proxy_key: Some(cert.key_pem()),
            ..cast.node()
        };
        error_text(&cast, &node, enabled(&cast))
    };
    assert_eq!(
        with_proxy(Profile::Client),
        "node: proxy_cert: certificate cannot be used by a TLS server: extended key usage lacks serverAuth"
    );
    assert!(with_proxy(Profile::KeyEnciphermentOnly).starts_with(
        "node: proxy_cert: certificate cannot be used by a TLS server: key usage allows keyEncipherment but not digitalSignature"
    ));
    assert_eq!(
        with_proxy(Profile::CertSignOnly),
        "node: proxy_cert: certificate cannot be used by a TLS server: key usage allows neither digitalSignature nor keyEncipherment"
    );

    let node = RawNodeTls {
        syncer_cert: Some(cast.dev.proxy.cert_pem()),
        syncer_key: Some(cast.dev.proxy.key_pem()),
        ..cast.node()
    };
    assert_eq!(
        error_text(&cast, &node, enabled(&cast)),
        "node: syncer_cert: certificate cannot be used for sync links: extended key usage lacks clientAuth"
    );
}

/// An expired intermediate in the proxy chain is named by its position.
#[test]
fn chain_member_expired() {
    let cast = Cast::new();
    let intermediate = testing::issue(
        &cast.dev.ca,
        "old intermediate",
        Profile::Ca,
        Validity::Between {
            not_before: cast.now - 30 * DAY,
            not_after: cast.now - DAY,
        },
        cast.now,
    )
    .expect("cert");
    let chain = format!("{}{}", cast.dev.proxy.cert_pem(), intermediate.cert_pem());
    let node = RawNodeTls {
        proxy_cert: Some(chain),
        ..cast.node()
    };
    let text = error_text(&cast, &node, enabled(&cast));
    assert!(
        text.starts_with("node: proxy_cert: certificate 2 of the chain: certificate expired on "),
        "{text}"
    );
}

/// TLS 1.0/1.1 floors, non-AEAD, unknown, misplaced and keyword suites.
#[test]
fn versions_and_suites() {
    let cast = Cast::new();
    let node = |edit: fn(&mut RawNodeTls)| {
        let mut node = cast.node();
        edit(&mut node);
        error_text(&cast, &node, enabled(&cast))
    };
    assert_eq!(
        node(|n| n.min_data_tls_version = Some("1.1".into())),
        "node: min_data_TLS_version: TLS 1.1 is never allowed; use \"1.2\" or \"1.3\""
    );
    assert_eq!(
        node(|n| n.min_data_tls_version = Some("1.0".into())),
        "node: min_data_TLS_version: TLS 1.0 is never allowed; use \"1.2\" or \"1.3\""
    );
    assert_eq!(
        node(|n| n.data_cipher_list = Some("ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-SHA384".into())),
        "node: data_cipher_list: ECDHE-RSA-AES256-SHA384 is not an AEAD cipher suite; only AES-GCM and \
         ChaCha20-Poly1305 suites are allowed"
    );
    assert!(
        node(|n| n.data_cipher_suites_tls_1_3 = Some("TLS_AES_128_GCM_SHA256:TLS_FOO".into()))
            .starts_with(
                "node: data_cipher_suites_tls_1_3: unknown cipher suite \"TLS_FOO\"; supported: "
            )
    );
    assert_eq!(
        node(|n| n.data_cipher_list = Some("TLS_AES_128_GCM_SHA256".into())),
        "node: data_cipher_list: TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite; list it in data_cipher_suites_tls_1_3"
    );
    assert_eq!(
        node(|n| n.data_cipher_list = Some("HIGH".into())),
        "node: data_cipher_list: \"HIGH\" is an OpenSSL cipher-string keyword; list suites by name"
    );
    // The development proxy key is ECDSA: RSA-only TLS 1.2 suites could never be used.
    assert_eq!(
        node(|n| n.data_cipher_list = Some("ECDHE-RSA-AES128-GCM-SHA256".into())),
        "node: data_cipher_list: none of the listed TLS 1.2 suites can be used with the ECDSA key of proxy_cert"
    );
    assert_eq!(
        node(|n| n.handshake_timeout_ms = Some(0)),
        "node: handshake_timeout_ms: 0 is out of range; use 1 to 60000"
    );
    // With a 1.3 floor the TLS 1.2 list is still checked but cannot block start-up on key type.
    let mut floor = cast.node();
    floor.min_data_tls_version = Some("1.3".into());
    floor.data_cipher_list = Some("ECDHE-RSA-AES128-GCM-SHA256".into());
    assert!(build(&cast, &floor, enabled(&cast)).is_ok());
}

/// Certificates and keys come in pairs, and TLS needs the proxy pair.
#[test]
fn required_fields() {
    let cast = Cast::new();
    let no_key = RawNodeTls {
        proxy_key: None,
        ..cast.node()
    };
    assert_eq!(
        error_text(&cast, &no_key, enabled(&cast)),
        "node: proxy_key: required when proxy_cert is set"
    );
    let no_syncer_cert = RawNodeTls {
        syncer_cert: None,
        ..cast.node()
    };
    assert_eq!(
        error_text(&cast, &no_syncer_cert, enabled(&cast)),
        "node: syncer_cert: required when syncer_key is set"
    );
    assert_eq!(
        error_text(&cast, &RawNodeTls::default(), enabled(&cast)),
        "node: proxy_cert: required because database \"orders\" has tls_mode = \"enabled\""
    );
    // A plaintext database needs no certificate at all.
    assert!(build(&cast, &RawNodeTls::default(), RawDatabaseTls::default()).is_ok());
}

/// Enforcement with nothing trusted would lock everyone out.
#[test]
fn enforcement_needs_something_to_trust() {
    let cast = Cast::new();
    let bare = RawDatabaseTls {
        tls_mode: TlsMode::Enabled,
        ..RawDatabaseTls::default()
    };
    let node = RawNodeTls {
        syncer_cert: None,
        syncer_key: None,
        ..cast.node()
    };
    let error = build(&cast, &node, bare.clone())
        .map(|_| ())
        .expect_err("nothing trusted");
    assert_eq!(error.scope, Scope::Database("orders".into()));
    assert_eq!(error.field, "authentication_ssl_client_certs");
    assert!(matches!(error.problem, Problem::NothingTrusted));
    // The node's syncer certificate is enough for a replica_ssl port.
    let replica = RawDatabaseTls {
        tls_mode: TlsMode::ReplicaSsl,
        ..bare
    };
    assert!(build(&cast, &cast.node(), replica).is_ok());
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("petrel-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Paths are read relative to the base directory; a missing file names
/// the resolved path.
#[test]
fn paths_relative_to_base_dir() {
    let cast = Cast::new();
    let dir = TempDir::new("paths");
    std::fs::create_dir_all(dir.0.join("certs")).expect("dir");
    std::fs::write(dir.0.join("certs/proxy.pem"), cast.dev.proxy.cert_pem()).expect("write");
    std::fs::write(dir.0.join("certs/proxy.key"), cast.dev.proxy.key_pem()).expect("write");
    std::fs::write(dir.0.join("certs/client1.pem"), cast.dev.client1.cert_pem()).expect("write");
    let node = RawNodeTls {
        proxy_cert: Some("certs/proxy.pem".into()),
        proxy_key: Some("certs/proxy.key".into()),
        ..RawNodeTls::default()
    };
    let database = RawDatabaseTls {
        tls_mode: TlsMode::Enabled,
        authentication_ssl_client_certs: vec![RawClientCert {
            client_cert: "certs/client1.pem".into(),
        }],
        ..RawDatabaseTls::default()
    };
    let snapshot = TlsSnapshot::build(
        &node,
        &[("orders".into(), database.clone())],
        &dir.0,
        cast.now,
    )
    .expect("loads from files");
    assert_eq!(snapshot.certificate_expiries().len(), 2);
    assert_eq!(
        snapshot.certificate_expiries()[1].field,
        "authentication_ssl_client_certs[0]"
    );

    let missing = RawNodeTls {
        proxy_key: Some("certs/missing.key".into()),
        ..node
    };
    let error = TlsSnapshot::build(&missing, &[("orders".into(), database)], &dir.0, cast.now)
        .map(|_| ())
        .expect_err("missing file");
    assert_eq!(
        error.to_string(),
        format!(
            "node: proxy_key: cannot read {}: No such file or directory (os error 2)",
            dir.0.join("certs/missing.key").display()
        )
    );
}

/// The raw structs read DESIGN.md's keys and strings, refuse unknown keys,
/// and take `min_data_TLS_version` as a string or a bare number.
#[test]
fn toml_shape() {
    let node: RawNodeTls = toml::from_str(
        r#"
        proxy_cert = "certs/proxy.pem"
        proxy_key = "certs/proxy.key"
        min_data_TLS_version = 1.3
        ktls = "required"
        handshake_timeout_ms = 2500
        data_cipher_list = "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256"
        data_cipher_suites_tls_1_3 = "TLS_AES_128_GCM_SHA256"
        "#,
    )
    .expect("node table");
    assert_eq!(node.min_data_tls_version.as_deref(), Some("1.3"));
    assert_eq!(node.ktls, Some(KtlsMode::Required));
    assert_eq!(node.handshake_timeout_ms, Some(2500));

    let database: RawDatabaseTls = toml::from_str(
        r#"
        tls_mode = "replica_ssl"
        enforce_client_authentication = "disabled"
        authentication_ssl_client_certs = [ { client_cert = "certs/client1.pem" } ]
        "#,
    )
    .expect("database table");
    assert_eq!(database.tls_mode, TlsMode::ReplicaSsl);
    assert_eq!(
        database.enforce_client_authentication,
        ClientAuthentication::Disabled
    );
    assert!(database.authentication_ssl_crdt_certs.is_empty());

    let defaults: RawDatabaseTls = toml::from_str("").expect("empty table");
    assert_eq!(defaults.tls_mode, TlsMode::Disabled);
    assert_eq!(
        defaults.enforce_client_authentication,
        ClientAuthentication::Enabled
    );

    let typo = toml::from_str::<RawNodeTls>("proxy_certs = \"x\"")
        .map(|_| ())
        .expect_err("typo");
    assert!(
        typo.to_string().contains("unknown field `proxy_certs`"),
        "{typo}"
    );
    let bad_mode = toml::from_str::<RawDatabaseTls>("tls_mode = \"on\"")
        .map(|_| ())
        .expect_err("bad value");
    assert!(
        bad_mode.to_string().contains("unknown variant `on`"),
        "{bad_mode}"
    );
    let bad_entry =
        toml::from_str::<RawDatabaseTls>("authentication_ssl_client_certs = [ { cert = \"x\" } ]")
            .map(|_| ())
            .expect_err("bad entry");
    assert!(
        bad_entry.to_string().contains("unknown field `cert`"),
        "{bad_entry}"
    );
}
