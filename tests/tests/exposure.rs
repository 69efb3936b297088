//! Proves the start-up warning for a database that any client able to
//! reach it can read and write: listening beyond loopback with no password
//! and no client certificates required, at start-up or when the REST API
//! creates or changes a database. The servers listen on 0.0.0.0
//! inside a network namespace the test made, never on the machine's own
//! interfaces.

use std::time::Duration;

use petrel_e2e::admin::AdminDir;
use petrel_e2e::netns::Pair;
use petrel_e2e::tls::Pki;
use petrel_e2e::{free_port, skip_under_redis, wait_until, Config, Database, Server};

const WARNING: &str = "any client that can reach this address can read and write the database";

// On 0.0.0.0, the database without a password is named in the warning and
// the one with a password is not; on 127.0.0.1 (every other test's
// server) nothing is said.
#[test]
fn a_database_reachable_without_a_password_is_warned_about() {
    if skip_under_redis("Petrel's start-up warning") {
        return;
    }
    let Some(namespaces) = Pair::create() else {
        return;
    };
    namespaces.enter_server_side();
    let server = Server::start(Config::new().bind("0.0.0.0").databases(vec![
        Database::new("open"),
        Database::new("guarded").password("s3cret"),
    ]));
    let logs = server.logs();
    let warnings: Vec<&str> = logs.lines().filter(|line| line.contains(WARNING)).collect();
    assert_eq!(warnings.len(), 1, "one warning expected:\n{logs}");
    assert!(
        warnings[0].contains("database=open") && warnings[0].contains("0.0.0.0:"),
        "the warning should name the open database and its address: {}",
        warnings[0]
    );

    let loopback = Server::start(Config::new());
    assert!(
        !loopback.logs().contains(WARNING),
        "no warning on 127.0.0.1:\n{}",
        loopback.logs()
    );
}

/// How many warnings name `database` in the server's log.
fn warnings_about(server: &Server, database: &str) -> usize {
    server
        .logs()
        .lines()
        .filter(|line| line.contains(WARNING) && line.contains(&format!("database={database} ")))
        .count()
}

// Through the REST API: a database created open is warned about, one
// created with a password is not until a change takes the password away,
// and a change that leaves an open database open does not say it again.
#[test]
fn a_database_the_api_opens_is_warned_about() {
    if skip_under_redis("Petrel's REST API") {
        return;
    }
    let Some(namespaces) = Pair::create() else {
        return;
    };
    namespaces.enter_server_side();
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let server = Server::start(admin.config(&pki, Config::new().bind("0.0.0.0").password("x")));
    admin.wait_ready();
    let client = admin.client(&pki);
    assert_eq!(warnings_about(&server, "default"), 0, "{}", server.logs());

    let guarded = client.ok(
        "POST",
        "/v1/bdbs",
        &format!(
            r#"{{"name":"guarded","port":{},"authentication_redis_pass":"pw"}}"#,
            free_port()
        ),
    );
    client.ok(
        "POST",
        "/v1/bdbs",
        &format!(r#"{{"name":"open","port":{}}}"#, free_port()),
    );
    wait_until(Duration::from_secs(5), "the warning about `open`", || {
        warnings_about(&server, "open") == 1
    });
    assert_eq!(warnings_about(&server, "guarded"), 0, "{}", server.logs());

    let uid = guarded["uid"].as_u64().expect("uid");
    client.ok(
        "PUT",
        &format!("/v1/bdbs/{uid}"),
        r#"{"authentication_redis_pass":""}"#,
    );
    wait_until(
        Duration::from_secs(5),
        "the warning about `guarded`",
        || warnings_about(&server, "guarded") == 1,
    );
    client.ok(
        "PUT",
        &format!("/v1/bdbs/{uid}"),
        r#"{"memory_size":20000000}"#,
    );
    assert_eq!(warnings_about(&server, "guarded"), 1, "{}", server.logs());
    assert_eq!(warnings_about(&server, "open"), 1, "{}", server.logs());
}
