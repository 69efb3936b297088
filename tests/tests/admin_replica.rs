//! Replica Of through the REST API, between two Petrel nodes: a database
//! made a replica with `replica_sources` (on create and on update,
//! plaintext and over TLS with the syncer certificate) receives its
//! source's data and refuses client writes; removing the source makes it
//! writable at once with every key kept; adding a source to a database with
//! data replaces that data; bad inputs change nothing; a restart restores
//! the source from the state file; the config file seeds a fresh node.

use std::time::Duration;

use petrel_e2e::admin::{json_string, AdminDir, FixedNode, ADMIN_PASSWORD, ADMIN_USER};
use petrel_e2e::dataset::{dump, first_difference};
use petrel_e2e::tls::{DatabaseTls, NodeTls, Pki};
use petrel_e2e::{
    connect_url, free_port, petrel_binary, query, query_error, run_tool, skip_under_redis,
    wait_until, Config, Database, Server, Target, IO_TIMEOUT,
};

const READONLY: &str = "READONLY You can't write against a read only replica.";

fn info_field(connection: &mut redis::Connection, field: &str) -> Option<String> {
    let text: String = query(connection, &["INFO", "replication"]);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_string())
}

fn wait_in_sync(source: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_until(Duration::from_secs(20), "the replica caught up", || {
        info_field(replica, "master_link_status").as_deref() == Some("up")
            && info_field(source, "master_repl_offset") == info_field(replica, "slave_repl_offset")
    });
}

fn load(connection: &mut redis::Connection, prefix: &str, count: usize) {
    let mut pipe = redis::pipe();
    for i in 0..count {
        pipe.cmd("SET").arg(format!("{prefix}:{i}")).arg(i).ignore();
        if i % 10 == 0 {
            pipe.cmd("HSET")
                .arg(format!("{prefix}:h:{i}"))
                .arg(&["f", "v"][..])
                .ignore();
            pipe.cmd("RPUSH")
                .arg(format!("{prefix}:l:{i}"))
                .arg(&["a", "b"][..])
                .ignore();
        }
    }
    let () = pipe
        .query(connection)
        .unwrap_or_else(|error| panic!("load: {error}"));
}

fn connect(port: u16) -> redis::Connection {
    connect_url(&format!("redis://127.0.0.1:{port}"))
}

/// A database on node B becomes a Replica Of a database on node A when it
/// is created through the API; writes on it answer READONLY; removing the
/// source with PUT makes it writable at once and keeps every key; giving a
/// source to B's other database, which holds keys of its own, replaces them
/// with the source's data.
#[test]
fn replica_of_is_set_and_removed_live() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let node_a = Server::start_target(Target::Petrel, Config::new());
    let mut source = node_a.client();
    load(&mut source, "before", 500);

    let pki = Pki::generate();
    let admin = AdminDir::new();
    let node_b = Server::start(admin.config(&pki, Config::new()));
    admin.wait_ready();
    let api = admin.client(&pki);
    let mut own = node_b.client();
    let _: () = query(&mut own, &["SET", "local:only", "mine"]);

    let port = free_port();
    let uri = format!("redis://127.0.0.1:{}", node_a.port());
    let created = api.ok(
        "POST",
        "/v1/bdbs",
        &format!(r#"{{"name":"replica","port":{port},"replica_sources":[{{"uri":"{uri}"}}]}}"#),
    );
    let uid = created["uid"].as_u64().expect("a uid");
    assert_eq!(created["replica_sources"][0]["uri"], uri.as_str());
    assert_eq!(created["replica_sources"][0]["encryption"], false);
    let mut replica = connect(port);
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );
    assert_eq!(query_error(&mut replica, &["SET", "mine", "1"]), READONLY);
    assert_eq!(info_field(&mut replica, "role").as_deref(), Some("slave"));

    let _: () = query(&mut source, &["MSET", "m:1", "one", "m:2", "two"]);
    let _: i64 = query(&mut source, &["DEL", "before:1", "before:2"]);
    wait_in_sync(&mut source, &mut replica);
    let followed = dump(&mut source);
    assert_eq!(first_difference(&followed, &dump(&mut replica)), None);

    let updated = api.ok(
        "PUT",
        &format!("/v1/bdbs/{uid}"),
        r#"{"replica_sources":[]}"#,
    );
    assert_eq!(updated["replica_sources"], serde_json::json!([]));
    // Writable as soon as the PUT answered, on the connection it had.
    let _: () = query(&mut replica, &["SET", "mine", "1"]);
    let mut kept = dump(&mut replica);
    assert!(kept.remove(b"mine".as_slice()).is_some());
    assert_eq!(first_difference(&followed, &kept), None);
    wait_until(Duration::from_secs(5), "INFO shows a master", || {
        info_field(&mut replica, "role").as_deref() == Some("master")
    });
    // The link stopped before the PUT answered: the source's writes no
    // longer arrive (they would within milliseconds, as above).
    let _: () = query(&mut source, &["SET", "after:removal", "x"]);
    std::thread::sleep(Duration::from_millis(300));
    let exists: i64 = query(&mut replica, &["EXISTS", "after:removal"]);
    assert_eq!(exists, 0);

    // B's first database holds a key of its own; the full sync replaces it.
    api.ok(
        "PUT",
        "/v1/bdbs/1",
        &format!(r#"{{"replica_sources":[{{"uri":"{uri}"}}]}}"#),
    );
    // Refused at once: LOADING while the snapshot loads, READONLY after.
    let refusal = query_error(&mut own, &["SET", "x", "1"]);
    assert!(
        refusal == READONLY || refusal.starts_with("LOADING "),
        "{refusal}"
    );
    wait_in_sync(&mut source, &mut own);
    assert_eq!(first_difference(&dump(&mut source), &dump(&mut own)), None);
    let gone: i64 = query(&mut own, &["EXISTS", "local:only"]);
    assert_eq!(gone, 0);

    // Deleting a replica database ends its link: A sees its replica leave.
    api.ok("DELETE", "/v1/bdbs/1", "");
    wait_until(Duration::from_secs(5), "A has no replica left", || {
        info_field(&mut source, "connected_slaves").as_deref() == Some("0")
    });
}

/// Over TLS: node A's database takes sync only over TLS from a syncer
/// certificate (`replica_ssl`); node B's database is made its replica with
/// `encryption`, the CA as `server_cert` and the syncer pair as client
/// certificate. The key is never shown; a restart of B restores the source
/// from its state file and the link comes back.
#[test]
fn replica_of_over_tls_is_restored_by_a_restart() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let node_a = Server::start_target(
        Target::Petrel,
        Config::new()
            .node_tls(NodeTls::from_pki(&pki))
            .database_tls(DatabaseTls::replica_ssl()),
    );
    let mut source = node_a.client();
    load(&mut source, "tls", 300);

    let admin = AdminDir::new();
    let config = admin.config(&pki, Config::new());
    let port = free_port();
    let node_b = FixedNode::start(&admin, &config, &[port]);
    let api = admin.client(&pki);
    let text = |file: &str| String::from_utf8(pki.read(file)).expect("PEM text");
    let body = format!(
        r#"{{"replica_sources":[{{"uri":"redis://127.0.0.1:{}","encryption":true,"server_cert":{},"client_cert":{},"client_key":{},"replication_tls_sni":"localhost"}}]}}"#,
        node_a.port(),
        json_string(&text("ca.pem")),
        json_string(&text("syncer.pem")),
        json_string(&text("syncer.key")),
    );
    let shown = api.ok("PUT", "/v1/bdbs/1", &body);
    let shown_source = &shown["replica_sources"][0];
    assert_eq!(shown_source["encryption"], true);
    assert_eq!(shown_source["server_cert"], text("ca.pem").as_str());
    assert!(
        shown_source.get("client_key").is_none(),
        "a private key is shown: {shown_source}"
    );
    let mut replica = connect(port);
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );
    assert_eq!(query_error(&mut replica, &["DEL", "tls:1"]), READONLY);
    wait_until(Duration::from_secs(5), "A lists B online", || {
        info_field(&mut source, "slave0").is_some_and(|slave| slave.contains("state=online"))
    });

    drop(replica);
    drop(node_b);
    let state = String::from_utf8(admin.state_file()).expect("UTF-8 state");
    assert!(state.contains("replica_sources"), "{state}");
    let mode = std::fs::metadata(admin.data_dir().join("control-state.json"))
        .map(|meta| std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777)
        .expect("the state file exists");
    assert_eq!(mode, 0o600, "the state file holds the client key");

    let _: () = query(&mut source, &["SET", "while:down", "1"]);
    let _node_b = FixedNode::start(&admin, &config, &[port]);
    let restored = api.get("/v1/bdbs/1");
    assert_eq!(
        restored["replica_sources"][0]["uri"],
        format!("redis://127.0.0.1:{}", node_a.port()).as_str()
    );
    let mut replica = connect(port);
    // Until the restored link's full sync has loaded, writes answer LOADING
    // (as a Redis replica does); once in sync, READONLY.
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(query_error(&mut replica, &["SET", "x", "1"]), READONLY);
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );
}

/// A fresh node takes `replica_sources` from its config file into its
/// state; every bad `replica_sources` input answers 400 naming the field
/// and changes nothing (the database stays a replica, the state file is
/// unchanged); then removing the source set by the config file works too.
#[test]
fn bad_replica_sources_are_refused_and_change_nothing() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let node_a = Server::start_target(Target::Petrel, Config::new());
    let mut source = node_a.client();
    load(&mut source, "seed", 100);
    let uri = format!("redis://127.0.0.1:{}", node_a.port());

    let pki = Pki::generate();
    let admin = AdminDir::new();
    let config = admin.config(
        &pki,
        Config::new().databases(vec![Database::new("replica")
            .extra("replica_sources", &format!("[ {{ uri = \"{uri}\" }} ]"))]),
    );
    let node_b = Server::start(config);
    admin.wait_ready();
    let api = admin.client(&pki);
    let seeded = api.get("/v1/bdbs/1");
    assert_eq!(seeded["replica_sources"][0]["uri"], uri.as_str());
    let mut replica = node_b.client();
    wait_in_sync(&mut source, &mut replica);

    let before_state = admin.state_file();
    let before_bdb = api.get("/v1/bdbs/1");
    let ca = json_string(&String::from_utf8(pki.read("ca.pem")).expect("PEM"));
    let syncer = json_string(&String::from_utf8(pki.read("syncer.pem")).expect("PEM"));
    let one = |fields: &str| format!(r#"{{"replica_sources":[{{{fields}}}]}}"#);
    let cases = [
        (
            one(r#""uri":"http://127.0.0.1:1""#),
            "replica_sources[0].uri",
        ),
        (
            one(r#""uri":"redis://127.0.0.1""#),
            "replica_sources[0].uri",
        ),
        (
            one(&format!(r#""uri":"{uri}","client_cert":{syncer}"#)),
            "replica_sources[0].client_key",
        ),
        (
            one(&format!(r#""uri":"{uri}","encryption":true"#)),
            "replica_sources[0].server_cert",
        ),
        (
            one(&format!(
                r#""uri":"{uri}","encryption":true,"server_cert":"not PEM""#
            )),
            "replica_sources[0].server_cert",
        ),
        (
            format!(r#"{{"replica_sources":[{{"uri":"{uri}"}},{{"uri":"{uri}"}}]}}"#),
            "replica_sources",
        ),
        (
            one(&format!(
                r#""uri":"{uri}","server_cert":{ca},"compression":true"#
            )),
            "compression",
        ),
        (
            r#"{"replica_sources":{"uri":"x"}}"#.to_owned(),
            "replica_sources",
        ),
    ];
    for (body, field) in &cases {
        let (status, code, description) = api.refused("PUT", "/v1/bdbs/1", body);
        assert_eq!(status, 400, "{body}: {code} {description}");
        assert!(description.contains(field), "{body}: {description}");
    }
    let port = free_port();
    let (status, _, description) = api.refused(
        "POST",
        "/v1/bdbs",
        &format!(
            r#"{{"name":"other","port":{port},"replica_sources":[{{"uri":"redis://:pw@127.0.0.1:0"}}]}}"#
        ),
    );
    assert_eq!(status, 400, "{description}");
    assert!(
        description.starts_with("replica_sources[0].uri:"),
        "{description}"
    );
    assert_eq!(api.get("/v1/bdbs").as_array().map(Vec::len), Some(1));
    assert_eq!(admin.state_file(), before_state);
    let after_bdb = api.get("/v1/bdbs/1");
    assert_eq!(after_bdb["replica_sources"], before_bdb["replica_sources"]);
    assert_eq!(query_error(&mut replica, &["SET", "x", "1"]), READONLY);

    // A source nobody listens on is valid input: the link retries and
    // stays down, and removing it still answers at once.
    let nowhere = free_port();
    api.ok(
        "PUT",
        "/v1/bdbs/1",
        &format!(r#"{{"replica_sources":[{{"uri":"redis://127.0.0.1:{nowhere}"}}]}}"#),
    );
    wait_until(Duration::from_secs(5), "INFO shows the new source", || {
        info_field(&mut replica, "master_port") == Some(nowhere.to_string())
            && info_field(&mut replica, "master_link_status").as_deref() == Some("down")
    });
    assert_eq!(query_error(&mut replica, &["SET", "x", "1"]), READONLY);
    let keys: i64 = query(&mut replica, &["DBSIZE"]);
    let source_keys: i64 = query(&mut source, &["DBSIZE"]);
    assert_eq!(keys, source_keys, "a failing link flushed nothing");

    // The config file's source is the API's to remove like any other.
    api.ok("PUT", "/v1/bdbs/1", r#"{"replica_sources":[]}"#);
    let _: () = query(&mut replica, &["SET", "x", "1"]);
    let keys: i64 = query(&mut replica, &["DBSIZE"]);
    assert_eq!(keys, source_keys + 1);
}

/// `petrel admin bdb create --replica-of ... --replica-encryption
/// --replica-server-cert FILE` makes a TLS Replica Of from the command
/// line; `bdb update --no-replica-of` ends it, keeping the keys; a refusal
/// exits non-zero with the API's error.
#[test]
fn cli_sets_and_removes_replica_of() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let node_a = Server::start_target(
        Target::Petrel,
        Config::new()
            .node_tls(NodeTls::from_pki(&pki))
            .database_tls(DatabaseTls::replica_ssl()),
    );
    let mut source = node_a.client();
    load(&mut source, "cli", 100);

    let admin = AdminDir::new();
    let _node_b = Server::start(admin.config(&pki, Config::new()));
    admin.wait_ready();
    let binary = petrel_binary();
    let binary = binary.to_str().expect("UTF-8 path");
    let url = format!("https://127.0.0.1:{}", admin.port);
    let ca = pki.cert("ca").display().to_string();
    let cli = |args: &[&str]| {
        let mut all = vec![
            "admin",
            "--url",
            &url,
            "--user",
            ADMIN_USER,
            "--password",
            ADMIN_PASSWORD,
            "--ca",
            &ca,
        ];
        all.extend_from_slice(args);
        run_tool(binary, &all, None, IO_TIMEOUT)
    };
    let uri = format!("redis://127.0.0.1:{}", node_a.port());
    let port = free_port();
    let port_text = port.to_string();
    let created = cli(&[
        "bdb",
        "create",
        "--name",
        "replica",
        "--port",
        &port_text,
        "--replica-of",
        &uri,
        "--replica-encryption",
        "--replica-server-cert",
        &ca,
    ]);
    assert!(created.status.success(), "{created:?}");
    let body: serde_json::Value = serde_json::from_str(&created.stdout).expect("JSON");
    assert_eq!(body["replica_sources"][0]["encryption"], true);
    let uid = body["uid"].as_u64().expect("uid").to_string();
    let mut replica = connect(port);
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(query_error(&mut replica, &["SET", "x", "1"]), READONLY);

    let refused = cli(&["bdb", "update", &uid, "--replica-of", "redis://nowhere"]);
    assert!(!refused.status.success());
    assert!(
        refused
            .stderr
            .contains("400 invalid_value: replica_sources[0].uri"),
        "{refused:?}"
    );

    let removed = cli(&["bdb", "update", &uid, "--no-replica-of"]);
    assert!(removed.status.success(), "{removed:?}");
    let _: () = query(&mut replica, &["SET", "x", "1"]);
    let keys: i64 = query(&mut replica, &["DBSIZE"]);
    let source_keys: i64 = query(&mut source, &["DBSIZE"]);
    assert_eq!(keys, source_keys + 1);
}
