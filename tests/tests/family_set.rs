//! Proves the set commands answer through the redis crate as Redis 7 does,
//! above all the multi-key ones (SINTER, SUNION, SDIFF, their STORE forms,
//! SINTERCARD, SMOVE) whose keys live on both shards of a two-core server:
//! their results equal the set algebra computed in the test. Run with
//! PETREL_E2E_TARGET=redis to check the expectations against redis-server.

use std::collections::BTreeSet;

use petrel_e2e::{key_on_shard, query, query_error, Server};
use redis::{Commands, Value};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn members(con: &mut redis::Connection, args: &[&str]) -> BTreeSet<String> {
    query::<Vec<String>>(con, args).into_iter().collect()
}

fn set_of(range: impl Iterator<Item = u32>) -> BTreeSet<String> {
    range.map(|n| n.to_string()).collect()
}

fn sadd(con: &mut redis::Connection, key: &str, items: &BTreeSet<String>) {
    let mut args = vec!["SADD", key];
    args.extend(items.iter().map(String::as_str));
    query::<i64>(con, &args);
}

// Three sets, one on shard 0 and two on shard 1 (and the destinations on
// either): SINTER, SUNION and SDIFF equal the algebra, their STORE forms
// store it and answer its size, replacing a destination of another type,
// and an empty result deletes the destination; SINTERCARD counts with and
// without LIMIT.
#[test]
fn algebra_across_shards() {
    let server = Server::start_default();
    let mut con = server.client();
    let a = key_on_shard("a", 0, 2);
    let b = key_on_shard("b", 1, 2);
    let c = key_on_shard("c", 1, 2);
    let (sa, sb, sc) = (set_of(0..60), set_of(30..90), set_of(50..120));
    sadd(&mut con, &a, &sa);
    sadd(&mut con, &b, &sb);
    sadd(&mut con, &c, &sc);
    let inter: BTreeSet<String> = sa.intersection(&sb).cloned().collect();
    let inter: BTreeSet<String> = inter.intersection(&sc).cloned().collect();
    let union: BTreeSet<String> = sa.union(&sb).chain(sc.iter()).cloned().collect();
    let diff: BTreeSet<String> = sa.difference(&sb).cloned().collect();
    let diff: BTreeSet<String> = diff.difference(&sc).cloned().collect();
    assert_eq!(members(&mut con, &["SINTER", &a, &b, &c]), inter);
    assert_eq!(members(&mut con, &["SUNION", &a, &b, &c]), union);
    assert_eq!(members(&mut con, &["SDIFF", &a, &b, &c]), diff);
    assert_eq!(members(&mut con, &["SDIFF", &b, &a]), set_of(60..90));

    for (shard, command, expected) in [
        (0, "SINTERSTORE", &inter),
        (1, "SUNIONSTORE", &union),
        (0, "SDIFFSTORE", &diff),
    ] {
        let destination = key_on_shard("dest", shard, 2);
        query::<String>(&mut con, &["SET", &destination, "a string first"]);
        assert_eq!(
            query::<usize>(&mut con, &[command, &destination, &a, &b, &c]),
            expected.len(),
            "{command}"
        );
        assert_eq!(query::<String>(&mut con, &["TYPE", &destination]), "set");
        assert_eq!(
            &members(&mut con, &["SMEMBERS", &destination]),
            expected,
            "{command}"
        );
    }
    let destination = key_on_shard("dest", 1, 2);
    assert_eq!(
        query::<i64>(&mut con, &["SINTERSTORE", &destination, &a, "nothing"]),
        0
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", &destination]), 0);

    assert_eq!(
        query::<usize>(&mut con, &["SINTERCARD", "3", &a, &b, &c]),
        inter.len()
    );
    assert_eq!(
        query::<i64>(&mut con, &["SINTERCARD", "2", &a, &b, "LIMIT", "5"]),
        5
    );
    assert_eq!(
        query::<i64>(&mut con, &["SINTERCARD", "2", &a, &b, "LIMIT", "0"]),
        30
    );
    assert_eq!(
        query_error(&mut con, &["SINTERCARD", "0", &a]),
        "ERR numkeys should be greater than 0"
    );
}

// A key of another type on the other shard fails every multi-key set
// command with WRONGTYPE and stores nothing.
#[test]
fn wrong_type_on_another_shard() {
    let server = Server::start_default();
    let mut con = server.client();
    let a = key_on_shard("a", 0, 2);
    let string = key_on_shard("s", 1, 2);
    let destination = key_on_shard("d", 1, 2);
    query::<i64>(&mut con, &["SADD", &a, "x", "y"]);
    query::<String>(&mut con, &["SET", &string, "v"]);
    for args in [
        vec!["SINTER", a.as_str(), string.as_str()],
        vec!["SUNION", &a, &string],
        vec!["SDIFF", &a, &string],
        vec!["SINTERCARD", "2", &a, &string],
        vec!["SUNIONSTORE", &destination, &a, &string],
        vec!["SMOVE", &a, &string, "x"],
    ] {
        assert_eq!(query_error(&mut con, &args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(query::<i64>(&mut con, &["EXISTS", &destination]), 0);
    assert_eq!(query::<i64>(&mut con, &["SCARD", &a]), 2);
}

// SMOVE between shards moves a member once, answers 0 for a member or
// source that is not there, deletes an emptied source, and moving onto the
// same key only checks membership.
#[test]
fn smove_across_shards() {
    let server = Server::start_default();
    let mut con = server.client();
    let source = key_on_shard("from", 0, 2);
    let destination = key_on_shard("to", 1, 2);
    query::<i64>(&mut con, &["SADD", &source, "x", "y"]);
    assert_eq!(
        query::<i64>(&mut con, &["SMOVE", &source, &destination, "x"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut con, &["SMOVE", &source, &destination, "x"]),
        0
    );
    assert_eq!(
        query::<i64>(&mut con, &["SMOVE", "nothing", &destination, "x"]),
        0
    );
    assert_eq!(query::<i64>(&mut con, &["SISMEMBER", &destination, "x"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SMOVE", &source, &source, "y"]), 1);
    assert_eq!(
        query::<i64>(&mut con, &["SMOVE", &source, &destination, "y"]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", &source]), 0);
    assert_eq!(
        members(&mut con, &["SMEMBERS", &destination]),
        BTreeSet::from(["x".to_owned(), "y".to_owned()])
    );
}

// The single-key commands: SADD and SREM count changes, SISMEMBER and
// SMISMEMBER, SPOP and SRANDMEMBER with counts, a full SSCAN walk through
// the client's iterator, and the last SREM deleting the key.
#[test]
fn single_key_commands() {
    let server = Server::start_default();
    let mut con = server.client();
    let all = set_of(0..500);
    sadd(&mut con, "s", &all);
    assert_eq!(query::<i64>(&mut con, &["SADD", "s", "1", "new"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SREM", "s", "new", "nope"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SCARD", "s"]), 500);
    assert_eq!(query::<i64>(&mut con, &["SISMEMBER", "s", "42"]), 1);
    assert_eq!(
        query::<Vec<i64>>(&mut con, &["SMISMEMBER", "s", "42", "nope", "499"]),
        [1, 0, 1]
    );
    let scanned: Vec<String> = con.sscan::<_, String>("s").expect("SSCAN").collect();
    assert_eq!(scanned.len(), 500, "each member once");
    assert_eq!(scanned.into_iter().collect::<BTreeSet<_>>(), all);
    let random: Vec<String> = query(&mut con, &["SRANDMEMBER", "s", "10"]);
    assert_eq!(random.iter().collect::<BTreeSet<_>>().len(), 10);
    let repeated: Vec<String> = query(&mut con, &["SRANDMEMBER", "s", "-600"]);
    assert_eq!(repeated.len(), 600);
    let popped: Vec<String> = query(&mut con, &["SPOP", "s", "100"]);
    assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), 100);
    assert_eq!(query::<i64>(&mut con, &["SCARD", "s"]), 400);
    let rest: Vec<String> = query(&mut con, &["SPOP", "s", "1000"]);
    assert_eq!(rest.len(), 400);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "s"]), 0);
    assert_eq!(query::<Value>(&mut con, &["SPOP", "s"]), Value::Nil);
}
