//! The development PKI: the files `petrel certs generate` writes, their
//! modes, the refusal to overwrite, and that they work as a configuration
//! (with rustls in memory, and with OpenSSL's verifier for redis-cli's sake).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{handshake_named, TLS12, TLS13};
use petrel_tls::rustls::crypto::aws_lc_rs;
use petrel_tls::rustls::pki_types::pem::PemObject;
use petrel_tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use petrel_tls::rustls::{self, AlertDescription, ClientConfig, RootCertStore};
use petrel_tls::{
    classify_peer, generate_dev_pki, GenerateError, RawClientCert, RawDatabaseTls, RawNodeTls,
    TlsMode, TlsSnapshot, DEV_PKI_FILES,
};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("petrel-tls-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// Ten files in the promised order, keys readable by the owner only.
#[test]
fn writes_the_promised_files_with_private_keys() {
    let dir = TempDir::new("gen-files");
    let written = generate_dev_pki(&dir.0.join("certs"), false).expect("generate");
    let names: Vec<_> = written
        .iter()
        .map(|path| path.file_name().expect("name").to_owned())
        .collect();
    assert_eq!(names, DEV_PKI_FILES.map(std::ffi::OsString::from));
    for path in &written {
        let expected = if path.extension().is_some_and(|ext| ext == "key") {
            0o600
        } else {
            0o644
        };
        assert_eq!(mode(path), expected, "{}", path.display());
        let text = std::fs::read_to_string(path).expect("read");
        assert!(text.starts_with("-----BEGIN "), "{}", path.display());
    }
}

/// Existing files are left alone unless overwriting is asked for; when it
/// is, they are replaced and a loosened key mode is tightened again.
#[test]
fn refuses_to_overwrite_unless_asked() {
    let dir = TempDir::new("gen-overwrite");
    generate_dev_pki(&dir.0, false).expect("first");
    let ca_before = std::fs::read(dir.0.join("ca.pem")).expect("ca");
    let error = generate_dev_pki(&dir.0, false).expect_err("second");
    match &error {
        GenerateError::Exists(paths) => assert_eq!(paths.len(), DEV_PKI_FILES.len()),
        other => panic!("unexpected {other}"),
    }
    assert!(
        error.to_string().starts_with("refusing to overwrite "),
        "{error}"
    );
    assert_eq!(
        std::fs::read(dir.0.join("ca.pem")).expect("ca"),
        ca_before,
        "nothing was touched"
    );

    std::fs::remove_file(dir.0.join("client2.key")).expect("remove one");
    assert!(
        matches!(generate_dev_pki(&dir.0, false), Err(GenerateError::Exists(paths)) if paths.len() == 9)
    );
    assert!(
        !dir.0.join("client2.key").exists(),
        "a partial refusal writes nothing"
    );

    std::fs::write(dir.0.join("client2.key"), "old").expect("write");
    std::fs::set_permissions(
        dir.0.join("proxy.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    generate_dev_pki(&dir.0, true).expect("overwrite");
    assert_ne!(std::fs::read(dir.0.join("ca.pem")).expect("ca"), ca_before);
    assert_eq!(mode(&dir.0.join("proxy.key")), 0o600);
}

fn load_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("open")
        .map(|cert| cert.expect("pem"))
        .collect()
}

fn client_config(
    dir: &Path,
    who: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(&dir.join("ca.pem")) {
        roots.add(cert).expect("root");
    }
    let config = ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(
            load_certs(&dir.join(format!("{who}.pem"))),
            PrivateKeyDer::from_pem_file(dir.join(format!("{who}.key"))).expect("key"),
        )
        .expect("identity");
    Arc::new(config)
}

/// The generated files, named by relative paths as in DESIGN.md's config,
/// make a working TLS database: the proxy certificate is good for
/// localhost, 127.0.0.1 and ::1; client1 (listed) is a client, the syncer a
/// syncer, and client2 (same CA, not listed) gets access_denied.
#[test]
fn generated_files_configure_a_tls_database() {
    let dir = TempDir::new("gen-config");
    generate_dev_pki(&dir.0.join("certs"), false).expect("generate");
    let node = RawNodeTls {
        proxy_cert: Some("certs/proxy.pem".into()),
        proxy_key: Some("certs/proxy.key".into()),
        syncer_cert: Some("certs/syncer.pem".into()),
        syncer_key: Some("certs/syncer.key".into()),
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
        &[("default".into(), database)],
        &dir.0,
        std::time::SystemTime::now(),
    )
    .expect("snapshot");
    let db = snapshot.database(0);
    let certs = dir.0.join("certs");
    for name in ["localhost", "127.0.0.1", "::1"] {
        for versions in [TLS13, TLS12] {
            let outcome = handshake_named(
                db.server_config().expect("tls"),
                client_config(&certs, "client1", versions),
                name,
            );
            assert!(
                outcome.succeeded(),
                "{name}: {:?} / {:?}",
                outcome.client_error,
                outcome.server_error
            );
            assert!(!classify_peer(db, outcome.server.peer_certificates()).is_sync());
        }
    }
    let outcome = handshake_named(
        db.server_config().expect("tls"),
        client_config(&certs, "syncer", TLS13),
        "localhost",
    );
    assert!(classify_peer(db, outcome.server.peer_certificates()).is_sync());
    let outcome = handshake_named(
        db.server_config().expect("tls"),
        client_config(&certs, "client2", TLS13),
        "localhost",
    );
    assert_eq!(
        outcome.client_error,
        Some(rustls::Error::AlertReceived(AlertDescription::AccessDenied))
    );
}

/// OpenSSL, which redis-cli uses, accepts each certificate for its purpose.
#[test]
fn openssl_verifies_each_certificate_for_its_purpose() {
    let dir = TempDir::new("gen-openssl");
    generate_dev_pki(&dir.0, false).expect("generate");
    let ca = dir.0.join("ca.pem");
    for (file, purpose) in [
        ("proxy.pem", "sslserver"),
        ("syncer.pem", "sslserver"),
        ("syncer.pem", "sslclient"),
        ("client1.pem", "sslclient"),
        ("client2.pem", "sslclient"),
    ] {
        let output = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&ca)
            .args(["-purpose", purpose])
            .arg(dir.0.join(file))
            .output()
            .expect("openssl is installed");
        assert!(
            output.status.success(),
            "{file} as {purpose}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let host = Command::new("openssl")
        .args([
            "x509",
            "-noout",
            "-checkhost",
            "localhost",
            "-checkip",
            "127.0.0.1",
            "-in",
        ])
        .arg(dir.0.join("proxy.pem"))
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&host.stdout);
    assert!(
        text.contains("Hostname localhost does match certificate"),
        "{text}"
    );
    assert!(
        text.contains("IP 127.0.0.1 does match certificate"),
        "{text}"
    );
}
