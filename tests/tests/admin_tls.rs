//! Live TLS changes through the admin API: a rotated proxy certificate is
//! what new clients see while an open connection goes on; a certificate
//! removed from a trust list is refused on its next handshake, and its open
//! session is closed only when `close_revoked_sessions` is on.

use std::sync::Arc;

use petrel_e2e::admin::{json_string, AdminDir, OtherCa, ADMIN_PASSWORD, ADMIN_USER};
use petrel_e2e::tls::{client_config, install_crypto_provider, DatabaseTls, Pki, TlsConn};
use petrel_e2e::{petrel_binary, run_tool, skip_under_redis, Config, Reply, Server, IO_TIMEOUT};
use petrel_tls::pki_types::PrivateKeyDer;
use petrel_tls::rustls::crypto::aws_lc_rs;
use petrel_tls::rustls::{ClientConfig, RootCertStore};

fn start(admin: &AdminDir, pki: &Pki, tls: DatabaseTls) -> Server {
    let server = Server::start(admin.config(pki, Config::new().database_tls(tls)));
    admin.wait_ready();
    server
}

/// A client presenting `identity` of the development PKI that trusts only
/// the CA in `ca_pem`.
fn client_trusting(ca_pem: &[u8], pki: &Pki, identity: &str) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in petrel_tls::certs::parse_certificates(ca_pem).expect("CA PEM") {
        roots.add(cert.der().clone()).expect("trust the CA");
    }
    let chain = petrel_tls::certs::parse_certificates(&pki.read(&format!("{identity}.pem")))
        .expect("client PEM")
        .iter()
        .map(|cert| cert.der().clone())
        .collect();
    let key: PrivateKeyDer<'static> =
        petrel_tls::certs::parse_private_key(&pki.read(&format!("{identity}.key"))).expect("key");
    Arc::new(
        ClientConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("client certificate"),
    )
}

/// Whether a TLS connection with `config` is refused, at the handshake or
/// (TLS 1.3 judges the client's certificate after the client's Finished)
/// at its first command.
fn refused(port: u16, config: Arc<ClientConfig>) -> bool {
    match TlsConn::connect(port, config) {
        Err(_) => true,
        Ok(mut connection) => {
            connection.send_command(&["PING"]);
            connection.try_read_reply().is_err()
        }
    }
}

/// `petrel admin certificates rotate` swaps the proxy certificate for one of
/// another CA: the open connection keeps working, a new client that trusts
/// only the new CA verifies the server, and one that trusts only the old
/// CA no longer does.
#[test]
fn rotation_keeps_open_connections_and_new_clients_see_the_new_certificate() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    install_crypto_provider();
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let server = start(&admin, &pki, DatabaseTls::enabled().trust(&pki.cert("ca")));
    let port = server.port();
    let mut open = TlsConn::connect(port, client_config(&pki, Some("client1"), None))
        .expect("connect before the rotation");
    assert_eq!(open.command(&["SET", "k", "before"]), Reply::simple("OK"));

    let other = OtherCa::new();
    let binary = petrel_binary();
    let binary = binary.to_str().expect("UTF-8 path");
    let url = format!("https://127.0.0.1:{}", admin.port);
    let ca = pki.cert("ca").display().to_string();
    let rotate = |name: &str, cert: &str, key: &str| {
        let output = run_tool(
            binary,
            &[
                "admin",
                "--url",
                &url,
                "--user",
                ADMIN_USER,
                "--password",
                ADMIN_PASSWORD,
                "--ca",
                &ca,
                "certificates",
                "rotate",
                "--name",
                name,
                "--cert",
                cert,
                "--key",
                key,
            ],
            None,
            IO_TIMEOUT,
        );
        assert!(output.status.success(), "rotate {name}: {output:?}");
    };
    // The API keeps the development certificate; the data ports move on.
    let proxy = pki.cert("proxy").display().to_string();
    let proxy_key = pki.key("proxy").display().to_string();
    rotate("api", &proxy, &proxy_key);
    let new_proxy = other.path("proxy.pem").display().to_string();
    let new_key = other.path("proxy.key").display().to_string();
    rotate("proxy", &new_proxy, &new_key);

    assert_eq!(open.command(&["GET", "k"]), Reply::bulk("before"));
    assert_eq!(open.command(&["SET", "k", "after"]), Reply::simple("OK"));

    let mut renewed = TlsConn::connect(
        port,
        client_trusting(&other.ca.cert_pem().into_bytes(), &pki, "client1"),
    )
    .expect("a client trusting the new CA verifies the rotated certificate");
    assert_eq!(renewed.command(&["GET", "k"]), Reply::bulk("after"));
    assert!(
        TlsConn::connect(port, client_config(&pki, Some("client1"), None)).is_err(),
        "a client trusting only the old CA must refuse the new certificate"
    );
    let listed = admin.client(&pki).get("/v1/cluster/certificates");
    let proxy_entry = listed["certificates"]
        .as_array()
        .and_then(|list| list.iter().find(|entry| entry["name"] == "proxy"))
        .cloned()
        .expect("a proxy entry");
    assert_eq!(proxy_entry["certificate"], other.proxy.cert_pem());
    assert!(proxy_entry.get("key").is_none(), "keys are never served");
}

/// Removing client1 from the trust list refuses client1's next handshake
/// while client2 still gets in; client1's open session goes on until
/// `close_revoked_sessions` is turned on, which closes it at once.
#[test]
fn trust_list_change_refuses_a_removed_certificate_on_its_next_handshake() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    install_crypto_provider();
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let server = start(
        &admin,
        &pki,
        DatabaseTls::enabled()
            .trust(&pki.cert("client1"))
            .trust(&pki.cert("client2")),
    );
    let port = server.port();
    let client = admin.client(&pki);
    let mut open = TlsConn::connect(port, client_config(&pki, Some("client1"), None))
        .expect("client1 connects while trusted");
    assert_eq!(open.command(&["PING"]), Reply::simple("PONG"));

    let client2 = String::from_utf8(pki.read("client2.pem")).expect("PEM");
    client.ok(
        "PUT",
        "/v1/bdbs/1",
        &format!(
            r#"{{"authentication_ssl_client_certs":[{{"client_cert":{}}}]}}"#,
            json_string(&client2)
        ),
    );
    assert!(
        refused(port, client_config(&pki, Some("client1"), None)),
        "client1 was removed from the trust list"
    );
    let mut other = TlsConn::connect(port, client_config(&pki, Some("client2"), None))
        .expect("client2 is still trusted");
    assert_eq!(other.command(&["PING"]), Reply::simple("PONG"));
    assert_eq!(
        open.command(&["PING"]),
        Reply::simple("PONG"),
        "an open session is not cut by default"
    );

    client.ok("PUT", "/v1/cluster", r#"{"close_revoked_sessions":true}"#);
    assert!(
        open.try_read_reply().is_err(),
        "with close_revoked_sessions the revoked session is closed"
    );
    assert_eq!(other.command(&["PING"]), Reply::simple("PONG"));
}
