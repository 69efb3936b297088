//! The REST API's lifecycle against the real binary: credentials, databases
//! created, changed and deleted while the node runs, every bad input
//! refused with nothing changed, state restored by a restart, and the
//! `petrel admin` CLI and curl driving the same API.

use std::net::TcpListener;
use std::time::Duration;

use petrel_e2e::admin::{json_string, AdminClient, AdminDir, ADMIN_PASSWORD, ADMIN_USER};
use petrel_e2e::tls::{accepts_connections, Pki};
use petrel_e2e::{
    connect_url, free_port, petrel_binary, query, run_tool, skip_under_redis, wait_until, Config,
    RawConn, Reply, Server, IO_TIMEOUT,
};

fn start(admin: &AdminDir, pki: &Pki) -> Server {
    let server = Server::start(admin.config(pki, Config::new()));
    admin.wait_ready();
    server
}

/// Without credentials, or with a wrong password, every endpoint answers
/// 401 with an error body and changes nothing; curl with -u gets in.
#[test]
fn requests_without_credentials_are_refused() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let _server = start(&admin, &pki);
    let anonymous = AdminClient::new(admin.port, &pki, None);
    let wrong = AdminClient::new(admin.port, &pki, Some((ADMIN_USER, "not-it")));
    for client in [&anonymous, &wrong] {
        for (method, path, body) in [
            ("GET", "/v1/bdbs", None),
            ("POST", "/v1/bdbs", Some(r#"{"name":"x","port":1}"#)),
            ("DELETE", "/v1/bdbs/1", None),
            ("GET", "/v1/cluster", None),
            ("GET", "/metrics", None),
        ] {
            let (status, value, text) = client.send(method, path, body);
            assert_eq!(status, 401, "{method} {path}: {text}");
            assert_eq!(value["error_code"], "unauthorized", "{text}");
        }
    }
    let bdbs = admin.client(&pki).get("/v1/bdbs");
    assert_eq!(bdbs.as_array().map(Vec::len), Some(1), "{bdbs}");

    let url = format!("https://127.0.0.1:{}/v1/bdbs/1", admin.port);
    let ca = pki.cert("ca").display().to_string();
    let credentials = format!("{ADMIN_USER}:{ADMIN_PASSWORD}");
    let curl = run_tool(
        "curl",
        &["-sS", "--cacert", &ca, "-u", &credentials, &url],
        None,
        IO_TIMEOUT,
    );
    assert!(curl.status.success(), "{curl:?}");
    let body: serde_json::Value = serde_json::from_str(&curl.stdout).expect("JSON from curl");
    assert_eq!(body["name"], "default");
    assert_eq!(body["status"], "active");
    let refused = run_tool(
        "curl",
        &[
            "-sS",
            "--cacert",
            &ca,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url,
        ],
        None,
        IO_TIMEOUT,
    );
    assert_eq!(refused.stdout.trim(), "401", "{refused:?}");
}

/// A database created over REST serves on its port at once on every data
/// thread; a changed password applies to new connections; stats count its
/// keys and requests; deleting it closes its port and its connections.
#[test]
fn database_lifecycle_over_rest() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let _server = start(&admin, &pki);
    let client = admin.client(&pki);
    let port = free_port();
    let created = client.ok(
        "POST",
        "/v1/bdbs",
        &format!(r#"{{"name":"orders","port":{port},"memory_size":10000000}}"#),
    );
    let uid = created["uid"].as_u64().expect("uid");
    assert_eq!(created["port"], port);
    assert_eq!(created["memory_size"], 10_000_000);

    // Several connections, so both data threads' listeners are exercised.
    let url = format!("redis://127.0.0.1:{port}/");
    for index in 0..8 {
        let mut connection = connect_url(&url);
        let _: () = query(&mut connection, &["SET", &format!("key{index}"), "v"]);
    }
    let mut connection = connect_url(&url);
    let size: i64 = query(&mut connection, &["DBSIZE"]);
    assert_eq!(size, 8);

    let stats = client.get(&format!("/v1/bdbs/{uid}/stats"));
    assert_eq!(stats["no_of_keys"], 8, "{stats}");
    assert!(stats["total_req"].as_u64().unwrap_or(0) >= 9, "{stats}");
    let p50 = stats["latency_us"]["p50"].as_u64().expect("a p50 latency");
    let p999 = stats["latency_us"]["p99.9"]
        .as_u64()
        .expect("a p99.9 latency");
    assert!(p50 >= 1 && p50 <= p999, "{stats}");
    // The eight closed connections leave the count as the server notices.
    wait_until(Duration::from_secs(5), "one open connection", || {
        client.get(&format!("/v1/bdbs/{uid}/stats"))["conns"] == 1
    });
    let metrics = client.send("GET", "/metrics", None).2;
    assert!(
        metrics.contains(&format!(
            "petrel_bdb_keys{{bdb=\"{uid}\",name=\"orders\"}} 8"
        )),
        "{metrics}"
    );
    assert!(metrics.contains("petrel_certificate_expiry_timestamp_seconds{certificate=\"proxy\""));
    assert!(
        metrics.contains(&format!(
            "petrel_bdb_latency_microseconds{{bdb=\"{uid}\",name=\"orders\",quantile=\"0.99\"}}"
        )),
        "{metrics}"
    );

    client.ok(
        "PUT",
        &format!("/v1/bdbs/{uid}"),
        r#"{"authentication_redis_pass":"pw"}"#,
    );
    let mut fresh = RawConn::connect(port);
    assert!(
        matches!(fresh.command(&["GET", "key0"]), Reply::Error(text) if text.starts_with("NOAUTH")),
        "a new connection must authenticate"
    );
    assert_eq!(fresh.command(&["AUTH", "pw"]), Reply::simple("OK"));
    assert_eq!(fresh.command(&["GET", "key0"]), Reply::bulk("v"));
    // The connection opened before the change keeps its session.
    let value: String = query(&mut connection, &["GET", "key1"]);
    assert_eq!(value, "v");

    let listed = client.get("/v1/bdbs");
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|bdb| bdb["name"].as_str())
        .collect();
    assert_eq!(names, ["default", "orders"]);

    client.ok("DELETE", &format!("/v1/bdbs/{uid}"), "");
    wait_until(Duration::from_secs(5), "the port to close", || {
        !accepts_connections(port)
    });
    assert!(
        fresh.read_until_closed().is_empty(),
        "an open connection of a deleted database is closed"
    );
    let (status, _, _) = client.send("GET", &format!("/v1/bdbs/{uid}"), None);
    assert_eq!(status, 404);

    // The port can be used again, and the new database starts empty.
    let again = client.ok(
        "POST",
        "/v1/bdbs",
        &format!(r#"{{"name":"orders","port":{port}}}"#),
    );
    assert_ne!(again["uid"].as_u64(), Some(uid), "uids are not reused");
    let mut connection = connect_url(&url);
    let size: i64 = query(&mut connection, &["DBSIZE"]);
    assert_eq!(size, 0);
}

/// Every bad input answers 4xx with an error code and a description naming
/// the field, and neither the served state nor the state file changes.
#[test]
fn bad_inputs_change_nothing() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let server = start(&admin, &pki);
    let client = admin.client(&pki);
    let held = TcpListener::bind("127.0.0.1:0").expect("hold a port");
    let held_port = held.local_addr().expect("address").port();
    let taken_port = server.port();
    let proxy = String::from_utf8(pki.read("proxy.pem")).expect("PEM");
    let proxy_key = String::from_utf8(pki.read("proxy.key")).expect("PEM");
    let client1_key = String::from_utf8(pki.read("client1.key")).expect("PEM");
    let expired = String::from_utf8(pki.read("expired-proxy.pem")).expect("PEM");
    let expired_key = String::from_utf8(pki.read("expired-proxy.key")).expect("PEM");
    let certs = |cert: &str, key: &str| {
        format!(
            r#"{{"certificates":[{{"name":"proxy","certificate":{},"key":{}}}]}}"#,
            json_string(cert),
            json_string(key)
        )
    };
    let fresh_port = free_port();
    let cases: Vec<(&str, String, String, u16, &str, &str)> = vec![
        (
            "POST",
            "/v1/bdbs".into(),
            format!(r#"{{"name":"x","port":{fresh_port},"colour":"red"}}"#),
            400,
            "invalid_schema",
            "colour",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            r#"{"name":"x","port":"six"}"#.into(),
            400,
            "invalid_schema",
            "port",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            r#"{"name":"x"}"#.into(),
            400,
            "invalid_schema",
            "port",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            "not json".into(),
            400,
            "invalid_schema",
            "",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            format!(r#"{{"name":"x","port":{taken_port}}}"#),
            409,
            "port_unavailable",
            "port",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            format!(r#"{{"name":"x","port":{held_port}}}"#),
            409,
            "port_unavailable",
            "port",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            format!(r#"{{"name":"default","port":{fresh_port}}}"#),
            409,
            "name_taken",
            "name",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            format!(r#"{{"name":"has space","port":{fresh_port}}}"#),
            400,
            "invalid_value",
            "name",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            format!(r#"{{"name":"x","port":{fresh_port},"tls_mode":"sometimes"}}"#),
            400,
            "invalid_schema",
            "tls_mode",
        ),
        (
            "POST",
            "/v1/bdbs".into(),
            format!(
                r#"{{"name":"x","port":{fresh_port},"tls_mode":"enabled","authentication_ssl_client_certs":[{{"client_cert":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}]}}"#
            ),
            400,
            "invalid_certificate",
            "authentication_ssl_client_certs",
        ),
        (
            "PUT",
            "/v1/bdbs/1".into(),
            r#"{"tls_mdoe":"enabled"}"#.into(),
            400,
            "invalid_schema",
            "tls_mdoe",
        ),
        (
            "PUT",
            "/v1/bdbs/1".into(),
            format!(r#"{{"port":{held_port}}}"#),
            409,
            "port_unavailable",
            "port",
        ),
        (
            "PUT",
            "/v1/bdbs/99".into(),
            r#"{"memory_size":1}"#.into(),
            404,
            "not_found",
            "99",
        ),
        (
            "PUT",
            "/v1/bdbs/one".into(),
            r#"{"memory_size":1}"#.into(),
            400,
            "invalid_value",
            "uid",
        ),
        (
            "PUT",
            "/v1/cluster".into(),
            r#"{"min_data_TLS_version":"1.1"}"#.into(),
            400,
            "invalid_value",
            "min_data_TLS_version",
        ),
        (
            "PUT",
            "/v1/cluster".into(),
            r#"{"handshake_timeout_ms":-5}"#.into(),
            400,
            "invalid_schema",
            "handshake_timeout_ms",
        ),
        (
            "PUT",
            "/v1/cluster".into(),
            r#"{"data_cipher_list":"RC4-SHA"}"#.into(),
            400,
            "invalid_value",
            "data_cipher_list",
        ),
        (
            "PUT",
            "/v1/cluster/certificates".into(),
            certs("not a pem", &proxy_key),
            400,
            "invalid_certificate",
            "certificates[proxy].certificate",
        ),
        (
            "PUT",
            "/v1/cluster/certificates".into(),
            certs(&proxy, &client1_key),
            400,
            "key_mismatch",
            "certificates[proxy].key",
        ),
        (
            "PUT",
            "/v1/cluster/certificates".into(),
            certs(&expired, &expired_key),
            406,
            "certificate_expired",
            "certificates[proxy].certificate",
        ),
        (
            "PUT",
            "/v1/cluster/certificates".into(),
            r#"{"certificates":[{"name":"gateway","certificate":"","key":""}]}"#.into(),
            400,
            "invalid_schema",
            "name",
        ),
        (
            "DELETE",
            "/v1/bdbs/42".into(),
            String::new(),
            404,
            "not_found",
            "42",
        ),
    ];
    let before_bdbs = client.get("/v1/bdbs");
    let before_cluster = client.get("/v1/cluster");
    let before_certificates = client.get("/v1/cluster/certificates");
    let before_file = admin.state_file();
    assert!(
        !before_file.is_empty(),
        "the seeded state is saved at start"
    );
    for (method, path, body, status, code, field) in &cases {
        let (got_status, got_code, description) = client.refused(method, path, body);
        assert_eq!(
            (got_status, got_code.as_str()),
            (*status, *code),
            "{method} {path} {body}: {description}"
        );
        assert!(
            description.contains(field),
            "{method} {path} {body}: the description must name `{field}`: {description}"
        );
    }
    assert_eq!(
        strip_counters(client.get("/v1/bdbs")),
        strip_counters(before_bdbs)
    );
    assert_eq!(client.get("/v1/cluster"), before_cluster);
    assert_eq!(client.get("/v1/cluster/certificates"), before_certificates);
    assert_eq!(
        admin.state_file(),
        before_file,
        "the state file is untouched"
    );
    assert!(
        !accepts_connections(fresh_port),
        "no refused database opened its port"
    );
    // The node still serves its database as before.
    let mut connection = server.client();
    let _: () = query(&mut connection, &["SET", "still", "here"]);
    drop(held);
}

/// Read-only counters change with traffic; settings must not.
fn strip_counters(mut bdbs: serde_json::Value) -> serde_json::Value {
    if let Some(list) = bdbs.as_array_mut() {
        for bdb in list {
            if let Some(fields) = bdb.as_object_mut() {
                for counter in ["connections", "ops_per_sec", "used_memory", "keys"] {
                    fields.remove(counter);
                }
            }
        }
    }
    bdbs
}

/// A restart restores databases and settings from node.data_dir: the
/// config file only seeds a fresh node.
#[test]
fn restart_restores_state() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let port = free_port();
    let server = start(&admin, &pki);
    let client = admin.client(&pki);
    client.ok(
        "POST",
        "/v1/bdbs",
        &format!(r#"{{"name":"kept","port":{port},"authentication_redis_pass":"pw"}}"#),
    );
    client.ok("PUT", "/v1/cluster", r#"{"min_data_TLS_version":"1.3"}"#);
    client.ok("DELETE", "/v1/bdbs/1", "");
    drop(server);
    let mode = std::fs::metadata(admin.data_dir().join("control-state.json"))
        .map(|meta| std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777)
        .expect("the state file exists");
    assert_eq!(mode, 0o600, "the state file holds keys: owner only");

    // The config still names database "default" on a new port; the saved
    // state wins.
    let server = start_without_waiting_for_default(&admin, &pki);
    let client = admin.client(&pki);
    let bdbs = client.get("/v1/bdbs");
    let names: Vec<&str> = bdbs
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|bdb| bdb["name"].as_str())
        .collect();
    assert_eq!(names, ["kept"]);
    assert_eq!(client.get("/v1/cluster")["min_data_TLS_version"], "1.3");
    let mut connection = RawConn::connect(port);
    assert_eq!(connection.command(&["AUTH", "pw"]), Reply::simple("OK"));
    assert_eq!(connection.command(&["PING"]), Reply::simple("PONG"));
    drop(server);
}

/// Starts the binary directly: the harness waits for the config's
/// database, which a restored state no longer serves. Between the two runs
/// another test's outgoing connection may briefly hold the restored port as
/// its local port; then the start is retried, as the harness does.
fn start_without_waiting_for_default(admin: &AdminDir, pki: &Pki) -> RunningNode {
    let config = admin.config(pki, Config::new());
    let dir = admin.dir.join("restart");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("petrel.toml");
    std::fs::write(&path, config.to_toml(&[free_port()])).expect("write config");
    for _ in 0..10 {
        let log_path = dir.join("petrel.log");
        let log = std::fs::File::create(&log_path).expect("log");
        let child = std::process::Command::new(petrel_binary())
            .args(["serve", "--config"])
            .arg(&path)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn petrel");
        let mut node = RunningNode {
            child,
            log: log_path,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if accepts_connections(admin.port) {
                return node;
            }
            if let Ok(Some(_)) = node.child.try_wait() {
                let log = std::fs::read_to_string(&node.log).unwrap_or_default();
                assert!(
                    log.contains("Address already in use"),
                    "petrel exited: {log}"
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the admin API did not answer: {}",
                std::fs::read_to_string(&node.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("the restored ports stayed taken");
}

struct RunningNode {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "server output:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

/// `petrel admin` drives the API: create, list, update, delete, and a
/// refusal printed with its error code and a non-zero exit.
#[test]
fn cli_drives_the_api() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let _server = start(&admin, &pki);
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
    let port = free_port().to_string();
    let created = cli(&["bdb", "create", "--name", "cli", "--port", &port]);
    assert!(created.status.success(), "{created:?}");
    let body: serde_json::Value = serde_json::from_str(&created.stdout).expect("JSON");
    let uid = body["uid"].as_u64().expect("uid").to_string();
    assert!(accepts_connections(port.parse().expect("port")));

    let listed = cli(&["bdb", "list"]);
    assert!(listed.stdout.contains("\"cli\""), "{listed:?}");

    let client1 = pki.cert("client1").display().to_string();
    let tls = cli(&[
        "tls",
        "set",
        &uid,
        "--tls-mode",
        "enabled",
        "--client-cert",
        &client1,
    ]);
    assert!(tls.status.success(), "{tls:?}");
    assert!(tls.stdout.contains("\"tls_mode\": \"enabled\""), "{tls:?}");

    let refused = cli(&["bdb", "update", &uid, "--tls-mode", "sometimes"]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("400 invalid_schema"), "{refused:?}");

    let deleted = cli(&["bdb", "delete", &uid]);
    assert!(deleted.status.success(), "{deleted:?}");
    let help = run_tool(
        binary,
        &["admin", "certificates", "rotate", "--help"],
        None,
        IO_TIMEOUT,
    );
    assert!(help.stdout.contains("--cert"), "{help:?}");
}

/// With `[admin] client_ca`, the API also wants a client certificate that
/// CA signed: without one the handshake fails, with one and the password
/// the request is served, and the password is still required.
#[test]
fn client_certificates_can_be_required() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let mut config = admin.config(&pki, Config::new());
    if let Some(table) = config.extra_toml.as_mut() {
        table.push_str(&format!(
            "client_ca = {:?}\n",
            pki.cert("ca").display().to_string()
        ));
    }
    let _server = Server::start(config);
    admin.wait_ready();
    let credentials = Some((ADMIN_USER, ADMIN_PASSWORD));
    let without = AdminClient::new(admin.port, &pki, credentials);
    assert!(
        without.try_send("GET", "/v1/bdbs", None).is_err(),
        "a client without a certificate must be refused"
    );
    let with = AdminClient::with_identity(admin.port, &pki, credentials, Some("client1"));
    assert_eq!(with.send("GET", "/v1/bdbs", None).0, 200);
    let no_password = AdminClient::with_identity(admin.port, &pki, None, Some("client1"));
    assert_eq!(no_password.send("GET", "/v1/bdbs", None).0, 401);

    let binary = petrel_binary();
    let url = format!("https://127.0.0.1:{}", admin.port);
    let ca = pki.cert("ca").display().to_string();
    let cert = pki.cert("client1").display().to_string();
    let key = pki.key("client1").display().to_string();
    let base = [
        "admin",
        "--url",
        &url,
        "--password",
        ADMIN_PASSWORD,
        "--ca",
        &ca,
    ];
    let binary = binary.to_str().expect("UTF-8 path");
    let mut with_cert: Vec<&str> = base.to_vec();
    with_cert.extend(["--cert", &cert, "--key", &key, "bdb", "list"]);
    let listed = run_tool(binary, &with_cert, None, IO_TIMEOUT);
    assert!(listed.status.success(), "{listed:?}");
    let mut without_cert: Vec<&str> = base.to_vec();
    without_cert.extend(["bdb", "list"]);
    let refused = run_tool(binary, &without_cert, None, IO_TIMEOUT);
    assert!(!refused.status.success(), "{refused:?}");
}
