//! Proves that keys expire both when read after their deadline (lazy) and
//! without ever being touched again (an active cycle on every shard), by
//! setting keys with short PX TTLs on a started server and watching GET,
//! DBSIZE and INFO keyspace.

use std::time::Duration;

use petrel_e2e::{encode_command, query, wait_until, Reply, Server};
use redis::Value;

fn keyspace_db0(con: &mut redis::Connection) -> Option<String> {
    let info = query::<String>(con, &["INFO", "keyspace"]);
    info.split("\r\n")
        .find_map(|line| line.strip_prefix("db0:"))
        .map(str::to_owned)
}

// A key set with PX 50 is still there before its deadline and gone for
// GET, EXISTS, TTL and MGET after it, on keys of both shards.
#[test]
fn lazy_expiry_on_access() {
    let server = Server::start_default();
    let mut con = server.client();
    let keys: Vec<String> = (0..20).map(|i| format!("lazy:{i}")).collect();
    for key in &keys {
        assert_eq!(
            query::<Value>(&mut con, &["SET", key, "v", "PX", "50"]),
            Value::Okay
        );
    }
    assert_eq!(
        query::<Value>(&mut con, &["SET", "lazy:long", "v", "PX", "60000"]),
        Value::Okay
    );
    // Waiting for time to pass is the point of this test; no state to poll.
    std::thread::sleep(Duration::from_millis(100));
    for key in &keys {
        assert_eq!(
            query::<Value>(&mut con, &["GET", key]),
            Value::Nil,
            "{key} outlived PX 50"
        );
        assert_eq!(query::<i64>(&mut con, &["EXISTS", key]), 0, "{key}");
        assert_eq!(query::<i64>(&mut con, &["TTL", key]), -2, "{key}");
    }
    let mut mget = vec!["MGET"];
    mget.extend(keys.iter().map(String::as_str));
    mget.push("lazy:long");
    let values = query::<Vec<Option<String>>>(&mut con, &mget);
    assert!(
        values[..keys.len()].iter().all(Option::is_none),
        "{values:?}"
    );
    assert_eq!(values[keys.len()], Some("v".to_owned()));
    assert_eq!(query::<String>(&mut con, &["GET", "lazy:long"]), "v");
}

// Keys past their deadline are invisible to KEYS, SCAN, RANDOMKEY and
// EXISTS even before anything reads them by name.
#[test]
fn expired_keys_are_invisible_to_key_listings() {
    let server = Server::start_default();
    let mut con = server.client();
    let keys: Vec<String> = (0..50).map(|i| format!("gone:{i}")).collect();
    for key in &keys {
        assert_eq!(
            query::<Value>(&mut con, &["SET", key, "v", "PX", "50"]),
            Value::Okay
        );
    }
    assert_eq!(
        query::<Value>(&mut con, &["SET", "stays", "v"]),
        Value::Okay
    );
    // Waiting for time to pass is the point of this test; no state to poll.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        query::<Vec<String>>(&mut con, &["KEYS", "*"]),
        vec!["stays".to_owned()]
    );
    let mut cursor = "0".to_owned();
    let mut scanned = Vec::new();
    loop {
        let (next, found): (String, Vec<String>) = query(&mut con, &["SCAN", &cursor]);
        scanned.extend(found);
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(scanned, vec!["stays".to_owned()]);
    for _ in 0..20 {
        assert_eq!(query::<String>(&mut con, &["RANDOMKEY"]), "stays");
    }
    let mut exists = vec!["EXISTS"];
    exists.extend(keys.iter().map(String::as_str));
    assert_eq!(query::<i64>(&mut con, &exists), 0);
}

// 10,000 keys set with PX 100 and never touched again disappear from
// DBSIZE and INFO keyspace within seconds, while keys without TTL stay.
#[test]
fn active_expiry_reclaims_untouched_keys() {
    let server = Server::start_default();
    let mut raw = server.raw();
    let mut bytes = Vec::new();
    let value = "x".repeat(16);
    for i in 0..10_000 {
        let key = format!("active:{i}");
        bytes.extend(encode_command(&[
            "SET",
            key.as_str(),
            value.as_str(),
            "PX",
            "100",
        ]));
    }
    for i in 0..10 {
        bytes.extend(encode_command(&["SET", &format!("keep:{i}"), "v"]));
    }
    raw.send(&bytes);
    for _ in 0..10_010 {
        assert_eq!(raw.read_reply(), Reply::simple("OK"));
    }

    let mut con = server.client();
    wait_until(
        Duration::from_secs(15),
        "DBSIZE drops to the 10 keys without TTL",
        || query::<i64>(&mut con, &["DBSIZE"]) == 10,
    );
    wait_until(
        Duration::from_secs(5),
        "INFO keyspace shows keys=10,expires=0",
        || keyspace_db0(&mut con).is_some_and(|line| line.starts_with("keys=10,expires=0,")),
    );
    for i in 0..10 {
        assert_eq!(
            query::<String>(&mut con, &["GET", &format!("keep:{i}")]),
            "v"
        );
    }
    assert_eq!(query::<Value>(&mut con, &["GET", "active:0"]), Value::Nil);

    // With the last keys gone, db0 disappears from INFO keyspace as in Redis.
    let mut del = vec!["DEL".to_owned()];
    del.extend((0..10).map(|i| format!("keep:{i}")));
    let del_args: Vec<&str> = del.iter().map(String::as_str).collect();
    assert_eq!(query::<i64>(&mut con, &del_args), 10);
    assert_eq!(keyspace_db0(&mut con), None);
}
