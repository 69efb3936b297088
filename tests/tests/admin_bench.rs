//! Control-plane changes under load: while petrel-bench drives a TLS
//! database (reconnecting often, so new handshakes meet each newly
//! published snapshot), the admin API creates and deletes databases,
//! rotates the proxy certificate, changes the trust list and node-wide
//! settings. Not one client request may fail.

use std::process::Command;
use std::time::Duration;

use petrel_e2e::admin::{json_string, AdminDir};
use petrel_e2e::tls::{DatabaseTls, Pki};
use petrel_e2e::{free_port, petrel_binary, skip_under_redis, Config, Server};

#[test]
fn api_changes_while_petrel_bench_runs_fail_no_request() {
    if skip_under_redis("the admin API is Petrel's") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let server = Server::start(admin.config(
        &pki,
        Config::new().database_tls(DatabaseTls::enabled().trust(&pki.cert("ca"))),
    ));
    admin.wait_ready();
    let bench = petrel_binary().with_file_name("petrel-bench");
    assert!(
        bench.exists(),
        "petrel-bench not found at {} (cargo build --workspace)",
        bench.display()
    );
    let port = server.port().to_string();
    let ca = pki.cert("ca").display().to_string();
    let cert = pki.cert("client1").display().to_string();
    let key = pki.key("client1").display().to_string();
    let load = Command::new(&bench)
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &port,
            "--tls",
            "--cacert",
            &ca,
            "--cert",
            &cert,
            "--key",
            &key,
            "-t",
            "2",
            "-c",
            "4",
            "--test-time",
            "3",
            "--ratio",
            "1:1",
            "--reconnect-interval",
            "20",
            "--hide-histogram",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start petrel-bench");

    let client = admin.client(&pki);
    let proxy = String::from_utf8(pki.read("proxy.pem")).expect("PEM");
    let proxy_key = String::from_utf8(pki.read("proxy.key")).expect("PEM");
    let ca_pem = String::from_utf8(pki.read("ca.pem")).expect("PEM");
    let client2 = String::from_utf8(pki.read("client2.pem")).expect("PEM");
    let mut changes = 0;
    let deadline = std::time::Instant::now() + Duration::from_millis(2500);
    while std::time::Instant::now() < deadline {
        let extra = free_port();
        let created = client.ok(
            "POST",
            "/v1/bdbs",
            &format!(r#"{{"name":"extra{changes}","port":{extra}}}"#),
        );
        let uid = created["uid"].as_u64().expect("uid");
        client.ok(
            "PUT",
            "/v1/cluster/certificates",
            &format!(
                r#"{{"certificates":[{{"name":"proxy","certificate":{},"key":{}}}]}}"#,
                json_string(&proxy),
                json_string(&proxy_key)
            ),
        );
        // The benchmarked client's CA stays trusted; another entry comes and goes.
        let trust = if changes % 2 == 0 {
            format!(
                r#"[{{"client_cert":{}}},{{"client_cert":{}}}]"#,
                json_string(&ca_pem),
                json_string(&client2)
            )
        } else {
            format!(r#"[{{"client_cert":{}}}]"#, json_string(&ca_pem))
        };
        client.ok(
            "PUT",
            "/v1/bdbs/1",
            &format!(
                r#"{{"authentication_ssl_client_certs":{trust},"memory_size":{}}}"#,
                1 << 30
            ),
        );
        client.ok(
            "PUT",
            "/v1/cluster",
            &format!(r#"{{"handshake_timeout_ms":{}}}"#, 5000 + changes),
        );
        client.ok("DELETE", &format!("/v1/bdbs/{uid}"), "");
        changes += 1;
    }
    let output = load.wait_with_output().expect("petrel-bench ends");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "petrel-bench reported failures during {changes} rounds of changes:\n{stdout}\n{stderr}"
    );
    assert!(!stdout.contains("ERRORS"), "{stdout}");
    assert!(changes >= 3, "only {changes} rounds of changes ran");
    eprintln!("{changes} rounds of changes under load");
    let stats = client.get("/v1/bdbs/1/stats");
    assert!(stats["total_req"].as_u64().unwrap_or(0) > 0, "{stats}");
}
