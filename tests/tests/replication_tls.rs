//! Replication over TLS: on a `replica_ssl` database a real redis-server 7.0
//! replica is refused over plaintext (counted in INFO) and replicates once it
//! connects with `tls-replication` and the syncer certificate.

use std::time::Duration;

use petrel_e2e::dataset::{dump, first_difference};
use petrel_e2e::tls::{DatabaseTls, NodeTls, Pki};
use petrel_e2e::{query, wait_until, Config, Server, Target};

fn info_field(connection: &mut redis::Connection, field: &str) -> Option<String> {
    let text: String = query(connection, &["INFO", "replication"]);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_string())
}

// A plaintext replica never gets the data and each attempt is counted; the
// same replica with the syncer certificate over TLS gets all of it, then the
// stream.
#[test]
fn redis_replicates_over_tls_with_the_syncer_certificate() {
    let pki = Pki::generate();
    let petrel = Server::start_target(
        Target::Petrel,
        Config::new()
            .node_tls(NodeTls::from_pki(&pki))
            .database_tls(DatabaseTls::replica_ssl()),
    );
    let mut source = petrel.client();
    for i in 0..300 {
        let _: () = query(
            &mut source,
            &["SET", &format!("key:{i}"), &format!("value:{i}")],
        );
    }
    let _: i64 = query(&mut source, &["HSET", "hash", "f", "v"]);

    let redis = Server::start_target(Target::Redis, Config::new());
    let mut replica = redis.client();
    let _: () = query(
        &mut replica,
        &["REPLICAOF", "127.0.0.1", &petrel.port().to_string()],
    );
    wait_until(
        Duration::from_secs(10),
        "a plaintext PSYNC was refused",
        || {
            info_field(&mut source, "sync_refused_plaintext")
                .and_then(|count| count.parse::<u64>().ok())
                .is_some_and(|count| count >= 1)
        },
    );
    assert_eq!(
        info_field(&mut replica, "master_link_status").as_deref(),
        Some("down")
    );
    let keys: i64 = query(&mut replica, &["DBSIZE"]);
    assert_eq!(keys, 0);

    let path = |file: std::path::PathBuf| file.to_str().expect("utf-8 path").to_string();
    for (key, value) in [
        ("tls-cert-file", path(pki.cert("syncer"))),
        ("tls-key-file", path(pki.key("syncer"))),
        ("tls-ca-cert-file", path(pki.cert("ca"))),
        ("tls-replication", "yes".to_string()),
    ] {
        let _: () = query(&mut replica, &["CONFIG", "SET", key, &value]);
    }
    wait_until(Duration::from_secs(20), "the TLS replica caught up", || {
        info_field(&mut replica, "master_link_status").as_deref() == Some("up")
            && info_field(&mut source, "master_repl_offset")
                == info_field(&mut replica, "slave_repl_offset")
    });
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );

    let _: () = query(&mut source, &["SET", "after", "tls"]);
    let _: i64 = query(&mut source, &["DEL", "key:0"]);
    wait_until(
        Duration::from_secs(10),
        "the stream arrived over TLS",
        || {
            info_field(&mut source, "master_repl_offset")
                == info_field(&mut replica, "slave_repl_offset")
        },
    );
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );
}
