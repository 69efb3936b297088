//! Replica Of, the destination side: a Petrel database with
//! `replica_sources` pulls from a real redis-server 7.0 (plaintext, and over
//! TLS with the syncer certificate as its client certificate) and from
//! another Petrel over TLS, applies the stream, resumes after a dropped
//! link, and refuses client writes.

use std::time::Duration;

use petrel_e2e::dataset::{dump, first_difference};
use petrel_e2e::tls::{DatabaseTls, NodeTls, Pki};
use petrel_e2e::{query, query_error, wait_until, Config, Database, Server, Target};

fn info_field(connection: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = query(connection, &["INFO", section]);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_string())
}

fn wait_in_sync(source: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_until(Duration::from_secs(20), "the replica caught up", || {
        info_field(replica, "replication", "master_link_status").as_deref() == Some("up")
            && info_field(source, "replication", "master_repl_offset")
                == info_field(replica, "replication", "slave_repl_offset")
    });
}

/// Waits until the replica has the source's offset, then compares them key by key.
fn assert_caught_up(source: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_in_sync(source, replica);
    assert_eq!(first_difference(&dump(source), &dump(replica)), None);
}

fn load(connection: &mut redis::Connection, prefix: &str, count: usize) {
    let mut pipe = redis::pipe();
    for i in 0..count {
        pipe.cmd("SET")
            .arg(format!("{prefix}:s:{i}"))
            .arg(i)
            .ignore();
        if i % 10 == 0 {
            pipe.cmd("RPUSH")
                .arg(format!("{prefix}:l:{i}"))
                .arg(&["a", "b", "12"][..])
                .ignore();
            pipe.cmd("HSET")
                .arg(format!("{prefix}:h:{i}"))
                .arg(&["f", "v"][..])
                .ignore();
            pipe.cmd("SADD")
                .arg(format!("{prefix}:set:{i}"))
                .arg(&["1", "x"][..])
                .ignore();
            pipe.cmd("ZADD")
                .arg(format!("{prefix}:z:{i}"))
                .arg(&["2.5", "m"][..])
                .ignore();
            pipe.cmd("SET")
                .arg(format!("{prefix}:ttl:{i}"))
                .arg("t")
                .arg("EX")
                .arg(3600)
                .ignore();
        }
    }
    let () = pipe
        .query(connection)
        .unwrap_or_else(|error| panic!("load: {error}"));
}

/// Writes that exercise the stream's multi-key and cross-shard forms.
fn stream_writes(source: &mut redis::Connection) {
    let _: () = query(
        source,
        &["MSET", "m:1", "one", "m:2", "two", "m:3", "three"],
    );
    let _: i64 = query(source, &["DEL", "before:s:1", "before:s:2", "before:s:3"]);
    for i in 10..30 {
        let _: () = query(
            source,
            &["RENAME", &format!("before:s:{i}"), &format!("renamed:{i}")],
        );
    }
    let _: i64 = query(source, &["INCR", "counter"]);
    let _: i64 = query(source, &["LPUSH", "before:l:0", "front"]);
    let _: i64 = query(source, &["HDEL", "before:h:10", "f"]);
    let _: i64 = query(source, &["EXPIRE", "before:s:40", "1000"]);
    let _: redis::Value = query(source, &["SPOP", "before:set:20"]);
}

fn replica_config(uri: &str, extra: &str) -> Config {
    Config::new().databases(vec![Database::new("replica").extra(
        "replica_sources",
        &format!("[ {{ uri = \"{uri}\"{extra} }} ]"),
    )])
}

// Petrel follows a password-protected redis-server: the snapshot, then the
// stream (MSET, multi-key DEL, RENAME across shards, SPOP), then a dropped
// link that resumes with PSYNC; clients get READONLY throughout.
#[test]
fn petrel_is_a_replica_of_redis() {
    let redis = Server::start_target(Target::Redis, Config::new().password("secret"));
    let mut source = redis.client();
    load(&mut source, "before", 1000);

    let uri = format!("redis://:secret@127.0.0.1:{}", redis.port());
    let petrel = Server::start_target(Target::Petrel, replica_config(&uri, ""));
    let mut replica = petrel.client();
    assert_caught_up(&mut source, &mut replica);
    assert_eq!(
        query_error(&mut replica, &["SET", "mine", "1"]),
        "READONLY You can't write against a read only replica."
    );
    assert_eq!(
        info_field(&mut replica, "replication", "role").as_deref(),
        Some("slave")
    );
    // ROLE on each side, in Redis's shape: the Petrel replica names its
    // source and a connected link at the offset it has applied; the Redis
    // source lists Petrel by its port.
    let offset: i64 = info_field(&mut replica, "replication", "slave_repl_offset")
        .and_then(|text| text.parse().ok())
        .expect("slave_repl_offset");
    let (role, host, port, state, role_offset): (String, String, u16, String, i64) =
        query(&mut replica, &["ROLE"]);
    assert_eq!(
        (
            role.as_str(),
            host.as_str(),
            port,
            state.as_str(),
            role_offset
        ),
        ("slave", "127.0.0.1", redis.port(), "connected", offset)
    );
    let (role, _, replicas): (String, i64, Vec<(String, String, String)>) =
        query(&mut source, &["ROLE"]);
    assert_eq!(role, "master");
    assert!(
        replicas
            .iter()
            .any(|(_, port, _)| *port == petrel.port().to_string()),
        "{replicas:?}"
    );

    stream_writes(&mut source);
    assert_caught_up(&mut source, &mut replica);

    let _: i64 = query(&mut source, &["CLIENT", "KILL", "TYPE", "replica"]);
    load(&mut source, "after", 100);
    assert_caught_up(&mut source, &mut replica);
    assert_eq!(
        info_field(&mut source, "stats", "sync_partial_ok").as_deref(),
        Some("1")
    );
    assert_eq!(
        info_field(&mut source, "stats", "sync_full").as_deref(),
        Some("1")
    );

    // From the replica's side: CLIENT KILL TYPE master closes the link to
    // the source, which comes back and resumes with a partial resync.
    let closed: i64 = query(&mut replica, &["CLIENT", "KILL", "TYPE", "master"]);
    assert_eq!(closed, 1);
    load(&mut source, "after-kill", 100);
    assert_caught_up(&mut source, &mut replica);
    assert_eq!(
        info_field(&mut source, "stats", "sync_partial_ok").as_deref(),
        Some("2")
    );
    assert_eq!(
        info_field(&mut source, "stats", "sync_full").as_deref(),
        Some("1")
    );
}

// Petrel follows Petrel over TLS: the source requires TLS with a syncer
// certificate for sync (replica_ssl); the destination trusts the source's
// CA and presents the node's syncer certificate.
#[test]
fn petrel_is_a_replica_of_petrel_over_tls() {
    let pki = Pki::generate();
    let petrel_source = Server::start_target(
        Target::Petrel,
        Config::new()
            .node_tls(NodeTls::from_pki(&pki))
            .database_tls(DatabaseTls::replica_ssl()),
    );
    let mut source = petrel_source.client();
    load(&mut source, "before", 1000);

    let uri = format!("redis://127.0.0.1:{}", petrel_source.port());
    let ca = pki.cert("ca");
    let extra = format!(", encryption = true, server_cert = \"{}\"", ca.display());
    let petrel_replica = Server::start_target(
        Target::Petrel,
        replica_config(&uri, &extra).node_tls(NodeTls::from_pki(&pki)),
    );
    let mut replica = petrel_replica.client();
    assert_caught_up(&mut source, &mut replica);

    stream_writes(&mut source);
    assert_caught_up(&mut source, &mut replica);
    let slave = info_field(&mut source, "replication", "slave0").unwrap_or_default();
    assert!(slave.contains("state=online"), "{slave}");
}

// Petrel follows a real redis-server over TLS: redis-server's TLS port
// requires a client certificate (tls-auth-clients, its default), Petrel
// presents the node's syncer certificate and checks the server's chain
// against `server_cert`; snapshot and stream arrive, and a link that
// presents no trusted certificate never gets data.
#[test]
fn petrel_is_a_replica_of_redis_over_tls() {
    let pki = Pki::generate();
    let redis = Server::start_target(Target::Redis, Config::new());
    let mut source = redis.client();
    let tls_port = petrel_e2e::free_port();
    let path = |file: std::path::PathBuf| file.to_str().expect("utf-8 path").to_string();
    for (key, value) in [
        ("tls-cert-file", path(pki.cert("proxy"))),
        ("tls-key-file", path(pki.key("proxy"))),
        ("tls-ca-cert-file", path(pki.cert("ca"))),
        ("tls-port", tls_port.to_string()),
    ] {
        let _: () = query(&mut source, &["CONFIG", "SET", key, &value]);
    }
    load(&mut source, "before", 500);

    let uri = format!("redis://127.0.0.1:{tls_port}");
    let extra = format!(
        ", encryption = true, server_cert = \"{}\"",
        pki.cert("ca").display()
    );
    let petrel = Server::start_target(
        Target::Petrel,
        replica_config(&uri, &extra).node_tls(NodeTls::from_pki(&pki)),
    );
    let mut replica = petrel.client();
    assert_caught_up(&mut source, &mut replica);
    stream_writes(&mut source);
    assert_caught_up(&mut source, &mut replica);
    let slave = info_field(&mut source, "replication", "slave0").unwrap_or_default();
    assert!(slave.contains("state=online"), "{slave}");

    // A destination that does not trust redis-server's certificate gets nothing.
    let stranger = Pki::generate();
    let extra = format!(
        ", encryption = true, server_cert = \"{}\"",
        stranger.cert("ca").display()
    );
    let untrusting = Server::start_target(
        Target::Petrel,
        replica_config(&uri, &extra).node_tls(NodeTls::from_pki(&stranger)),
    );
    let mut untrusting_client = untrusting.client();
    std::thread::sleep(Duration::from_secs(2));
    let keys: i64 = query(&mut untrusting_client, &["DBSIZE"]);
    assert_eq!(keys, 0);
    assert_eq!(
        info_field(&mut untrusting_client, "replication", "master_link_status").as_deref(),
        Some("down")
    );
}
