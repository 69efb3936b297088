//! Proves the start-up warning for a database that any client able to
//! reach it can read and write: listening beyond loopback with no password
//! and no client certificates required. The servers listen on 0.0.0.0
//! inside a network namespace the test made, never on the machine's own
//! interfaces.

use petrel_e2e::netns::Pair;
use petrel_e2e::{skip_under_redis, Config, Database, Server};

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
