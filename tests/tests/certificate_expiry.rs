//! Proves that the node warns in its log about configured certificates
//! that expire within 30 days, naming where each is configured, at
//! start-up and again after a reload, and says nothing about those with
//! longer to live.

use std::time::Duration;

use petrel_e2e::tls::{DatabaseTls, NodeTls, Pki};
use petrel_e2e::{skip_under_redis, Config, Server};

const SOON: &str = "certificate expires soon";

fn warnings(server: &Server) -> Vec<String> {
    server
        .logs()
        .lines()
        .filter(|line| line.contains(SOON))
        .map(str::to_string)
        .collect()
}

// A trusted client certificate with five days left is warned about, with
// its database, field and days left; the proxy and client1 certificates
// (years left) are not. SIGHUP, which re-reads it, warns again.
#[test]
fn a_certificate_expiring_within_thirty_days_is_warned_about() {
    if skip_under_redis("Petrel's certificate checks") {
        return;
    }
    let pki = Pki::generate();
    pki.short_lived("brief", Duration::from_secs(5 * 86_400));
    let config = Config::new()
        .node_tls(NodeTls::from_pki(&pki))
        .database_tls(
            DatabaseTls::enabled()
                .trust(&pki.cert("client1"))
                .trust(&pki.cert("brief")),
        );
    let mut server = Server::start(config.clone());
    let found = warnings(&server);
    assert_eq!(found.len(), 1, "one warning expected: {found:?}");
    assert!(
        found[0].contains("field=authentication_ssl_client_certs[1]")
            && found[0].contains("scope=database \"default\"")
            && found[0].contains("days_left=4"),
        "the warning should say where the certificate is and how long it has: {}",
        found[0]
    );

    let outcome = server.reload(config);
    assert!(outcome.contains("configuration reloaded"), "{outcome}");
    assert_eq!(warnings(&server).len(), 2, "{}", server.logs());
}
