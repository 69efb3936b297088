//! Proves the per-database memory limit: with memory_size = "2mb", writing
//! 1 KiB values eventually answers Redis's exact OOM error, reads go on,
//! deleting keys makes room for writes again, and INFO memory reports the
//! used memory; checked through the redis crate on a started server
//! (redis-server runs with maxmemory 2mb and noeviction as the reference).

use petrel_e2e::{error_text, query, query_error, Config, Server};
use redis::Value;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn info_memory(con: &mut redis::Connection) -> (u64, u64) {
    let info = query::<String>(con, &["INFO", "memory"]);
    let field = |name: &str| -> u64 {
        info.split("\r\n")
            .find_map(|line| line.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("INFO memory has no {name}: {info}"))
            .parse()
            .unwrap_or_else(|_| panic!("INFO memory {name} is not a number: {info}"))
    };
    (field("used_memory"), field("maxmemory"))
}

// Filling a 2 MB database with 1 KiB values ends in the OOM error; GET still
// works, other writes are refused the same way, DEL frees room and SET works
// again; INFO memory follows the fill and the limit.
#[test]
fn memory_limit_refuses_writes_until_keys_are_deleted() {
    let server = Server::start(Config::new().memory_size("2mb"));
    let mut con = server.client();
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "maxmemory"]),
        vec!["maxmemory".to_owned(), "2097152".to_owned()]
    );
    let (used_empty, limit) = info_memory(&mut con);
    assert_eq!(limit, 2 * 1024 * 1024);
    // An empty database may report 0 (Petrel counts the data) or a baseline
    // (redis-server counts the process); the fill below must raise it either way.

    let value = "m".repeat(1024);
    let mut stored = 0usize;
    let refusal = loop {
        assert!(stored < 100_000, "100,000 KiB fit in a 2 MB database");
        let key = format!("fill:{stored}");
        match redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .query::<Value>(&mut con)
        {
            Ok(reply) => {
                assert_eq!(reply, Value::Okay);
                stored += 1;
            }
            Err(error) => break error_text(&error),
        }
    };
    assert_eq!(refusal, OOM);
    assert!(stored >= 100, "only {stored} KiB fit before OOM");
    let (used_full, _) = info_memory(&mut con);
    assert!(
        used_full > used_empty + 100 * 1024,
        "used_memory went from {used_empty} to only {used_full} after {stored} KiB"
    );

    // Reads go on; every denied write gets the same text.
    assert_eq!(query::<String>(&mut con, &["GET", "fill:0"]), value);
    assert_eq!(
        query::<i64>(&mut con, &["STRLEN", &format!("fill:{}", stored - 1)]),
        1024
    );
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), stored as i64);
    for args in [
        vec!["SET", "another", "x"],
        vec!["APPEND", "fill:0", "more"],
        vec!["MSET", "a", "1", "b", "2"],
        vec!["INCR", "counter"],
    ] {
        assert_eq!(query_error(&mut con, &args), OOM, "for {args:?}");
    }

    // Deleting half of the keys makes room again.
    let half: Vec<String> = (0..stored / 2).map(|i| format!("fill:{i}")).collect();
    let deleted: i64 = redis::cmd("DEL")
        .arg(&half)
        .query(&mut con)
        .expect("DEL at the limit");
    assert_eq!(deleted, half.len() as i64);
    let (used_after_delete, _) = info_memory(&mut con);
    assert!(
        used_after_delete < used_full,
        "used_memory did not drop after DEL: {used_full} -> {used_after_delete}"
    );
    assert_eq!(
        query::<Value>(&mut con, &["SET", "after-delete", &value]),
        Value::Okay
    );
    assert_eq!(query::<String>(&mut con, &["GET", "after-delete"]), value);
    assert_eq!(query::<i64>(&mut con, &["INCR", "counter"]), 1);
}
