//! Proves SIGHUP reloads of the config file on a running node: renewed
//! certificate files are served to new handshakes while open connections
//! go on; databases are added, changed and removed; a file that cannot be
//! applied (a key that does not match, a setting only a restart applies)
//! changes nothing; and a node whose state the REST API manages says so.

use std::path::{Path, PathBuf};

use petrel_e2e::admin::AdminDir;
use petrel_e2e::tls::{tls_client, try_tls_client, DatabaseTls, NodeTls, Pki};
use petrel_e2e::{
    fresh_dir, query, query_error, skip_under_redis, Config, Database, RawConn, Reply, Server,
};

const RELOADED: &str = "configuration reloaded";
const NOT_RELOADED: &str = "configuration not reloaded";

/// Copies `pki`'s proxy certificate and key over the files in `live`.
fn install_proxy(pki: &Pki, live: &Path) {
    for file in ["proxy.pem", "proxy.key"] {
        std::fs::copy(pki.dir().join(file), live.join(file))
            .unwrap_or_else(|error| panic!("copy {file}: {error}"));
    }
}

fn tls_config(live: &Path) -> Config {
    let path = |file: &str| -> String { live.join(file).display().to_string() };
    Config::new()
        .node_tls(
            NodeTls::new()
                .string("proxy_cert", &path("proxy.pem"))
                .string("proxy_key", &path("proxy.key")),
        )
        .database_tls(DatabaseTls::enabled().enforce(false))
}

// The proxy certificate is renewed on disk: after SIGHUP a new handshake
// gets the new one (a client trusting only the old CA is refused), and a
// connection opened before goes on. A key that does not match its
// certificate is refused as a whole, naming the field, and the renewed
// certificate stays in service.
#[test]
fn renewed_certificate_files_are_served_after_sighup() {
    if skip_under_redis("Petrel's SIGHUP reload") {
        return;
    }
    let (old_pki, new_pki) = (Pki::generate(), Pki::generate());
    let live: PathBuf = fresh_dir();
    install_proxy(&old_pki, &live);
    let config = tls_config(&live);
    let mut server = Server::start(config.clone());
    let port = server.port();
    let mut opened_before = tls_client(port, &old_pki, None);
    let _: () = query(&mut opened_before, &["SET", "k", "v"]);

    install_proxy(&new_pki, &live);
    let outcome = server.reload(config.clone());
    assert!(outcome.contains(RELOADED), "{outcome}");
    let mut renewed = tls_client(port, &new_pki, None);
    let value: String = query(&mut renewed, &["GET", "k"]);
    assert_eq!(value, "v");
    assert!(
        try_tls_client(port, &old_pki, None).is_err(),
        "a client trusting only the old CA should refuse the renewed certificate"
    );
    let value: String = query(&mut opened_before, &["GET", "k"]);
    assert_eq!(value, "v", "a connection opened before the reload goes on");

    std::fs::copy(old_pki.key("proxy"), live.join("proxy.key")).expect("copy the old key");
    let outcome = server.reload(config);
    assert!(
        outcome.contains(NOT_RELOADED)
            && outcome.contains("proxy_key: private key does not match the certificate"),
        "{outcome}"
    );
    let mut still_renewed = tls_client(port, &new_pki, None);
    let value: String = query(&mut still_renewed, &["GET", "k"]);
    assert_eq!(value, "v");
    let _ = std::fs::remove_dir_all(&live);
}

// One reload adds a database, sets a password on another, and removes a
// third: the new port serves, new connections to the changed database must
// authenticate while one opened before keeps its session, and the removed
// database's port closes.
#[test]
fn a_reload_adds_changes_and_removes_databases() {
    if skip_under_redis("Petrel's SIGHUP reload") {
        return;
    }
    let mut server = Server::start(
        Config::new().databases(vec![Database::new("kept"), Database::new("dropped")]),
    );
    let kept_port = server.port_of("kept");
    let dropped_port = server.port_of("dropped");
    let mut opened_before = RawConn::connect(kept_port);
    assert_eq!(
        opened_before.command(&["SET", "k", "1"]),
        Reply::simple("OK")
    );

    let outcome = server.reload(Config::new().databases(vec![
        Database::new("kept").password("s3cret"),
        Database::new("added"),
    ]));
    assert!(outcome.contains(RELOADED), "{outcome}");
    assert_eq!(server.port_of("kept"), kept_port);
    let mut added = server.raw_of("added");
    assert_eq!(added.command(&["PING"]), Reply::simple("PONG"));

    let mut fresh = RawConn::connect(kept_port);
    assert!(
        matches!(fresh.command(&["GET", "k"]), Reply::Error(text) if text.starts_with("NOAUTH")),
        "a new connection to the changed database must authenticate"
    );
    assert_eq!(fresh.command(&["AUTH", "s3cret"]), Reply::simple("OK"));
    assert_eq!(fresh.command(&["GET", "k"]), Reply::bulk("1"));
    assert_eq!(opened_before.command(&["GET", "k"]), Reply::bulk("1"));

    petrel_e2e::wait_until(
        std::time::Duration::from_secs(5),
        "the dropped database's port to close",
        || !petrel_e2e::tls::accepts_connections(dropped_port),
    );
}

// A file that also changes a setting only a restart applies is refused as
// a whole, naming the setting: the password it adds does not take effect.
// A file that does not parse is refused too.
#[test]
fn a_reload_that_needs_a_restart_changes_nothing() {
    if skip_under_redis("Petrel's SIGHUP reload") {
        return;
    }
    let mut server = Server::start(Config::new().maxclients(100));
    let outcome = server.reload(Config::new().maxclients(200).password("s3cret"));
    assert!(
        outcome.contains(NOT_RELOADED) && outcome.contains("node.maxclients changed"),
        "{outcome}"
    );
    let mut client = server.client();
    let _: () = query(&mut client, &["SET", "open", "yes"]);
    let maxclients: Vec<String> = query(&mut client, &["CONFIG", "GET", "maxclients"]);
    assert_eq!(maxclients, ["maxclients", "100"]);

    let outcome = server.reload(Config::new().maxclients(100).memory_size("not-a-size"));
    assert!(
        outcome.contains(NOT_RELOADED) && outcome.contains("memory_size"),
        "{outcome}"
    );
    let _: () = query(&mut server.client(), &["SET", "still", "served"]);
}

// With [admin], the REST API owns databases and certificates: SIGHUP says
// so and changes nothing.
#[test]
fn a_node_managed_by_the_rest_api_says_so() {
    if skip_under_redis("Petrel's SIGHUP reload") {
        return;
    }
    let pki = Pki::generate();
    let admin = AdminDir::new();
    let config = admin.config(&pki, Config::new());
    let mut server = Server::start(config.clone());
    admin.wait_ready();
    let outcome = server.reload(admin.config(&pki, Config::new().password("s3cret")));
    assert!(
        outcome.contains(NOT_RELOADED) && outcome.contains("petrel admin"),
        "{outcome}"
    );
    let mut client = server.client();
    assert!(
        query_error(&mut client, &["AUTH", "s3cret"]).contains("AUTH"),
        "no password should have been set"
    );
}
