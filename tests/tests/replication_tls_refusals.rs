//! Refused sync over TLS, on both ends: a destination that does not trust
//! the source's certificate never links (and says why in INFO), and a
//! destination presenting a client certificate instead of a syncer
//! certificate is refused by the source with NOPERM, counted there.

use std::time::Duration;

use petrel_e2e::tls::{DatabaseTls, NodeTls, Pki};
use petrel_e2e::{query, wait_until, Config, Database, Server, Target};

fn info_field(connection: &mut redis::Connection, field: &str) -> Option<String> {
    let text: String = query(connection, &["INFO", "replication"]);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_string())
}

fn replica(pki: &Pki, source_port: u16, extra: &str) -> Server {
    let uri = format!("redis://127.0.0.1:{source_port}");
    Server::start_target(
        Target::Petrel,
        Config::new()
            .node_tls(NodeTls::from_pki(pki))
            .databases(vec![Database::new("replica").extra(
                "replica_sources",
                &format!("[ {{ uri = \"{uri}\", encryption = true{extra} }} ]"),
            )]),
    )
}

#[test]
fn wrong_certificates_are_refused_on_both_ends() {
    let pki = Pki::generate();
    let source_server = Server::start_target(
        Target::Petrel,
        Config::new()
            .node_tls(NodeTls::from_pki(&pki))
            .database_tls(DatabaseTls::replica_ssl().trust(&pki.cert("client1"))),
    );
    let mut source = source_server.client();
    let _: () = query(&mut source, &["SET", "secret", "data"]);

    // The destination trusts another CA: the source's certificate fails.
    let untrusting = replica(
        &pki,
        source_server.port(),
        &format!(", server_cert = \"{}\"", pki.cert("test-ca").display()),
    );
    let mut destination = untrusting.client();
    wait_until(
        Duration::from_secs(10),
        "the destination reports the failure",
        || {
            info_field(&mut destination, "master_link_last_error").is_some_and(|error| {
                error.contains("TLS handshake") && error.contains("certificate")
            })
        },
    );
    assert_eq!(
        info_field(&mut destination, "master_link_status").as_deref(),
        Some("down")
    );
    let keys: i64 = query(&mut destination, &["DBSIZE"]);
    assert_eq!(keys, 0);

    // The destination presents client1 (a trusted client, not a syncer).
    let client_only = replica(
        &pki,
        source_server.port(),
        &format!(
            ", server_cert = \"{}\", client_cert = \"{}\", client_key = \"{}\"",
            pki.cert("ca").display(),
            pki.cert("client1").display(),
            pki.key("client1").display()
        ),
    );
    let mut destination = client_only.client();
    wait_until(
        Duration::from_secs(10),
        "the source counted the refusal",
        || {
            info_field(&mut source, "sync_refused_without_syncer_certificate")
                .and_then(|count| count.parse::<u64>().ok())
                .is_some_and(|count| count >= 1)
        },
    );
    wait_until(
        Duration::from_secs(10),
        "the destination reports NOPERM",
        || {
            info_field(&mut destination, "master_link_last_error")
                .is_some_and(|error| error.contains("NOPERM"))
        },
    );
    let keys: i64 = query(&mut destination, &["DBSIZE"]);
    assert_eq!(keys, 0);
    assert_eq!(
        info_field(&mut source, "connected_slaves").as_deref(),
        Some("0")
    );
}
