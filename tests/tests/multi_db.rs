//! Proves that two databases of one server, each on its own port with its
//! own password, are isolated: a key, a flush or a password of one has no
//! effect on the other; checked with the redis crate and raw sockets against
//! a server configured with two [[databases]] (two redis-servers under the
//! reference run).

use petrel_e2e::{query, Config, Database, Reply, Server};
use redis::Value;

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

// Keys, DBSIZE, FLUSHALL and passwords of database "alpha" do not reach
// database "beta", and the other way round.
#[test]
fn two_databases_are_isolated() {
    let server = Server::start(Config::new().databases(vec![
        Database::new("alpha").password("alpha-pass"),
        Database::new("beta").password("beta-pass"),
    ]));
    assert_ne!(server.port_of("alpha"), server.port_of("beta"));
    let mut alpha = server.client_of("alpha");
    let mut beta = server.client_of("beta");

    assert_eq!(
        query::<Value>(&mut alpha, &["SET", "shared-name", "from-alpha"]),
        Value::Okay
    );
    assert_eq!(
        query::<Value>(&mut alpha, &["SET", "only-alpha", "1"]),
        Value::Okay
    );
    assert_eq!(
        query::<Value>(&mut beta, &["GET", "only-alpha"]),
        Value::Nil
    );
    assert_eq!(
        query::<Value>(&mut beta, &["GET", "shared-name"]),
        Value::Nil
    );
    assert_eq!(
        query::<Value>(&mut beta, &["SET", "shared-name", "from-beta"]),
        Value::Okay
    );
    assert_eq!(
        query::<String>(&mut alpha, &["GET", "shared-name"]),
        "from-alpha"
    );
    assert_eq!(
        query::<String>(&mut beta, &["GET", "shared-name"]),
        "from-beta"
    );
    assert_eq!(query::<i64>(&mut alpha, &["DBSIZE"]), 2);
    assert_eq!(query::<i64>(&mut beta, &["DBSIZE"]), 1);
    assert_eq!(
        query::<Vec<String>>(&mut beta, &["KEYS", "*"]),
        vec!["shared-name".to_owned()]
    );

    // Each port accepts only its own password.
    let mut raw_beta = server.raw_of("beta");
    assert_eq!(
        raw_beta.command(&["AUTH", "alpha-pass"]),
        Reply::Error(WRONGPASS.into())
    );
    assert_eq!(
        raw_beta.command(&["AUTH", "beta-pass"]),
        Reply::simple("OK")
    );
    let mut raw_alpha = server.raw_of("alpha");
    assert_eq!(
        raw_alpha.command(&["AUTH", "beta-pass"]),
        Reply::Error(WRONGPASS.into())
    );

    // A flush of one database leaves the other alone.
    assert_eq!(query::<Value>(&mut beta, &["FLUSHALL"]), Value::Okay);
    assert_eq!(query::<i64>(&mut beta, &["DBSIZE"]), 0);
    assert_eq!(query::<i64>(&mut alpha, &["DBSIZE"]), 2);
    assert_eq!(
        query::<String>(&mut alpha, &["GET", "shared-name"]),
        "from-alpha"
    );
}

fn used_memory(con: &mut redis::Connection) -> u64 {
    let info = query::<String>(con, &["INFO", "memory"]);
    info.split("\r\n")
        .find_map(|line| line.strip_prefix("used_memory:"))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("INFO memory has no used_memory: {info}"))
}

// Two databases without passwords, one with a memory limit: filling the
// limited one shows in its own INFO memory only and does not stop writes
// to the other.
#[test]
fn memory_limit_is_per_database() {
    let server = Server::start(Config::new().databases(vec![
        Database::new("small").memory_size("2mb"),
        Database::new("free"),
    ]));
    let mut small = server.client_of("small");
    let mut free = server.client_of("free");
    let free_before = used_memory(&mut free);
    let small_before = used_memory(&mut small);
    let value = "z".repeat(1024);
    let mut refused = false;
    for i in 0..100_000 {
        match redis::cmd("SET")
            .arg(format!("fill:{i}"))
            .arg(&value)
            .query::<Value>(&mut small)
        {
            Ok(_) => continue,
            Err(error) => {
                assert_eq!(
                    petrel_e2e::error_text(&error),
                    "OOM command not allowed when used memory > 'maxmemory'."
                );
                refused = true;
                break;
            }
        }
    }
    assert!(refused, "the 2 MB database never refused a write");
    // INFO memory is per database: the fill shows on "small" only.
    let small_full = used_memory(&mut small);
    let free_now = used_memory(&mut free);
    assert!(
        small_full >= small_before + 512 * 1024,
        "small: used_memory {small_before} -> {small_full} after filling it"
    );
    assert!(
        free_now < free_before + 256 * 1024,
        "free: used_memory {free_before} -> {free_now} while only \"small\" was filled"
    );
    for i in 0..500 {
        assert_eq!(
            query::<Value>(&mut free, &["SET", &format!("other:{i}"), &value]),
            Value::Okay,
            "the unlimited database refused write {i}"
        );
    }
}
