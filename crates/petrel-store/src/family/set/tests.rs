//! The set commands run in-process against one keyspace with a virtual
//! clock (the string family's `Db`, which checks the memory counter against
//! a fresh measurement after every command), and the multi-key ones also
//! across a fake node of four `Shard`s whose coordinators are stepped by
//! hand. Replies and error texts are the ones redis-server 7.0 gives.

use std::collections::HashSet;

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::string::tests::{bulk, err, int, Db};
use crate::route::{self, shard_of, ShardOp, Step};
use crate::table::{self, Route};
use crate::{ExecContext, Shard};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn texts(reply: Reply) -> Vec<String> {
    match reply {
        Reply::Array(items) | Reply::Set(items) => items.iter().map(text).collect(),
        other => panic!("expected an array or set, got {other:?}"),
    }
}

fn sorted(reply: Reply) -> Vec<String> {
    let mut items = texts(reply);
    items.sort();
    items
}

/// The members of a RESP3 set reply (SMEMBERS, SINTER, SPOP with count).
fn set_reply(reply: Reply) -> Vec<String> {
    assert!(matches!(reply, Reply::Set(_)), "a set reply: {reply:?}");
    sorted(reply)
}

/// SADD counts new members; SREM counts removed ones; the last member
/// takes the key and all its memory with it.
#[test]
fn sadd_srem() {
    let mut db = Db::new();
    assert_eq!(db.run(&["SADD", "s", "a", "b", "a"]), int(2));
    assert_eq!(db.run(&["SADD", "s", "b", "c"]), int(1));
    assert_eq!(db.run(&["SCARD", "s"]), int(3));
    assert_eq!(db.run(&["TYPE", "s"]), Reply::simple("set"));
    assert_eq!(set_reply(db.run(&["SMEMBERS", "s"])), ["a", "b", "c"]);
    assert_eq!(db.run(&["SREM", "s", "a", "a", "zz"]), int(1));
    assert_eq!(db.run(&["SREM", "missing", "a"]), int(0));
    assert_eq!(db.run(&["SREM", "s", "b", "c"]), int(2));
    assert_eq!(db.run(&["EXISTS", "s"]), int(0));
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
    assert_eq!(db.run(&["SMEMBERS", "s"]), Reply::Set(Vec::new()));
    assert_eq!(db.run(&["SCARD", "s"]), int(0));
}

/// Every set command refuses a key of another type with Redis's text.
#[test]
fn wrong_type() {
    let mut db = Db::new();
    db.run(&["SET", "str", "v"]);
    db.run(&["SADD", "s", "a"]);
    for line in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SMOVE", "s", "str", "not-a-member"],
        &["SINTER", "s", "str"],
        &["SINTER", "missing", "str"],
        &["SUNION", "str", "s"],
        &["SDIFF", "missing", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SINTERCARD", "2", "missing", "str"],
        &["SSCAN", "str", "0"],
    ] {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line:?}");
    }
    assert_eq!(db.run(&["GET", "str"]), bulk("v"));
    assert_eq!(db.run(&["SCARD", "s"]), int(1), "SMOVE moved nothing");
    assert_eq!(db.run(&["EXISTS", "d"]), int(0));
    assert_eq!(
        db.run(&["SMOVE", "missing", "str", "a"]),
        int(0),
        "a missing source answers before the destination's type is checked"
    );
}

#[test]
fn membership() {
    let mut db = Db::new();
    db.run(&["SADD", "s", "a", "b"]);
    assert_eq!(db.run(&["SISMEMBER", "s", "a"]), int(1));
    assert_eq!(db.run(&["SISMEMBER", "s", "z"]), int(0));
    assert_eq!(db.run(&["SISMEMBER", "missing", "a"]), int(0));
    assert_eq!(
        db.run(&["SMISMEMBER", "s", "b", "z", "a"]),
        Reply::Array(vec![int(1), int(0), int(1)])
    );
    assert_eq!(
        db.run(&["SMISMEMBER", "missing", "a", "b"]),
        Reply::Array(vec![int(0), int(0)])
    );
}

/// OBJECT ENCODING: intset for up to 512 integers as Redis parses them,
/// hashtable otherwise, and never back.
#[test]
fn encoding() {
    let mut db = Db::new();
    db.run(&["SADD", "s", "1", "2", "-3"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "s"]), bulk("intset"));
    db.run(&["SADD", "s", "a"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "s"]), bulk("hashtable"));
    db.run(&["SREM", "s", "a"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "s"]), bulk("hashtable"));
    db.run(&["SADD", "lead", "007"]);
    assert_eq!(
        db.run(&["OBJECT", "ENCODING", "lead"]),
        bulk("hashtable"),
        "a leading zero is not an integer to Redis"
    );
    for i in 0..512 {
        db.run(&["SADD", "ints", &i.to_string()]);
    }
    assert_eq!(db.run(&["OBJECT", "ENCODING", "ints"]), bulk("intset"));
    db.run(&["SADD", "ints", "512"]);
    assert_eq!(db.run(&["OBJECT", "ENCODING", "ints"]), bulk("hashtable"));
}

/// SPOP removes what it returns: one member, or `count` distinct members
/// as a set, or the whole set (deleting the key).
#[test]
fn spop() {
    let mut db = Db::new();
    db.run(&["SADD", "s", "a", "b", "c", "d", "e"]);
    let one = text(&db.run(&["SPOP", "s"]));
    assert_eq!(db.run(&["SISMEMBER", "s", &one]), int(0));
    let two = set_reply(db.run(&["SPOP", "s", "2"]));
    assert_eq!(two.len(), 2);
    assert!(!two.contains(&one));
    assert_eq!(db.run(&["SCARD", "s"]), int(2));
    assert_eq!(db.run(&["SPOP", "s", "0"]), Reply::Set(Vec::new()));
    let rest = set_reply(db.run(&["SPOP", "s", "10"]));
    let mut all: Vec<String> = rest.into_iter().chain(two).chain([one]).collect();
    all.sort();
    assert_eq!(all, ["a", "b", "c", "d", "e"]);
    assert_eq!(db.run(&["EXISTS", "s"]), int(0));
    assert_eq!(db.run(&["SPOP", "s"]), Reply::Nil);
    assert_eq!(db.run(&["SPOP", "s", "3"]), Reply::Set(Vec::new()));
    let positive = "ERR value is out of range, must be positive";
    assert_eq!(db.run(&["SPOP", "s", "-1"]), err(positive));
    assert_eq!(db.run(&["SPOP", "s", "x"]), err(positive));
    assert_eq!(db.run(&["SPOP", "s", "1", "2"]), err(SYNTAX));
    db.run(&["SADD", "one", "x"]);
    assert_eq!(db.run(&["SPOP", "one"]), bulk("x"));
    assert_eq!(
        db.run(&["EXISTS", "one"]),
        int(0),
        "the last pop deletes the key"
    );
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

/// SPOP with a count of most of a large set still returns distinct members
/// and leaves exactly the others.
#[test]
fn spop_most_of_a_large_set() {
    let mut db = Db::new();
    for i in 0..1000 {
        db.run(&["SADD", "s", &format!("m{i}")]);
    }
    let popped = set_reply(db.run(&["SPOP", "s", "900"]));
    assert_eq!(popped.iter().collect::<HashSet<_>>().len(), 900);
    let left = set_reply(db.run(&["SMEMBERS", "s"]));
    assert_eq!(left.len(), 100);
    assert!(left.iter().all(|member| !popped.contains(member)));
}

/// SRANDMEMBER reads without removing: distinct members for a positive
/// count, repeats for a negative one, an array either way.
#[test]
fn srandmember() {
    let mut db = Db::new();
    db.run(&["SADD", "s", "a", "b", "c", "d", "e"]);
    let members: HashSet<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
    for _ in 0..20 {
        assert!(members.contains(&text(&db.run(&["SRANDMEMBER", "s"]))));
        let three = texts(db.run(&["SRANDMEMBER", "s", "3"]));
        assert_eq!(three.iter().collect::<HashSet<_>>().len(), 3);
        assert!(three.iter().all(|member| members.contains(member)));
        let four = texts(db.run(&["SRANDMEMBER", "s", "4"]));
        assert_eq!(four.iter().collect::<HashSet<_>>().len(), 4);
    }
    assert!(matches!(
        db.run(&["SRANDMEMBER", "s", "2"]),
        Reply::Array(_)
    ));
    assert_eq!(
        sorted(db.run(&["SRANDMEMBER", "s", "9"])),
        ["a", "b", "c", "d", "e"]
    );
    let repeated = texts(db.run(&["SRANDMEMBER", "s", "-30"]));
    assert_eq!(repeated.len(), 30);
    assert!(repeated.iter().all(|member| members.contains(member)));
    assert_eq!(db.run(&["SCARD", "s"]), int(5));
    assert_eq!(db.run(&["SRANDMEMBER", "s", "0"]), Reply::Array(Vec::new()));
    assert_eq!(db.run(&["SRANDMEMBER", "missing"]), Reply::Nil);
    assert_eq!(
        db.run(&["SRANDMEMBER", "missing", "-3"]),
        Reply::Array(Vec::new())
    );
    assert_eq!(db.run(&["SRANDMEMBER", "s", "x"]), err(NOT_INTEGER));
    assert_eq!(db.run(&["SRANDMEMBER", "s", "1", "2"]), err(SYNTAX));
    assert_eq!(
        db.run(&["SRANDMEMBER", "s", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert!(db.run(&["SRANDMEMBER", "s", "-100000000"]).is_error());
    assert_eq!(
        texts(db.run(&["SRANDMEMBER", "s", "9223372036854775807"])).len(),
        5,
        "a huge positive count is the whole set"
    );
}

/// SMOVE on one shard: moves, refuses non-members, and SMOVE onto itself
/// only reports membership.
#[test]
fn smove() {
    let mut db = Db::new();
    db.run(&["SADD", "src", "a", "b"]);
    db.run(&["SADD", "dst", "b"]);
    assert_eq!(db.run(&["SMOVE", "src", "dst", "a"]), int(1));
    assert_eq!(set_reply(db.run(&["SMEMBERS", "dst"])), ["a", "b"]);
    assert_eq!(db.run(&["SMOVE", "src", "dst", "a"]), int(0));
    assert_eq!(
        db.run(&["SMOVE", "src", "dst", "b"]),
        int(1),
        "already there is still a move"
    );
    assert_eq!(
        db.run(&["EXISTS", "src"]),
        int(0),
        "the emptied source is deleted"
    );
    assert_eq!(db.run(&["SMOVE", "dst", "new", "a"]), int(1));
    assert_eq!(set_reply(db.run(&["SMEMBERS", "new"])), ["a"]);
    assert_eq!(db.run(&["SMOVE", "dst", "dst", "b"]), int(1));
    assert_eq!(db.run(&["SMOVE", "dst", "dst", "z"]), int(0));
    assert_eq!(db.run(&["SMOVE", "missing", "dst", "b"]), int(0));
}

/// SINTER, SUNION and SDIFF on one shard, with missing keys as empty sets
/// and repeated keys.
#[test]
fn algebra() {
    let mut db = Db::new();
    db.run(&["SADD", "a", "1", "2", "3", "4"]);
    db.run(&["SADD", "b", "3", "4", "5"]);
    db.run(&["SADD", "c", "4", "5", "6", "x"]);
    assert_eq!(set_reply(db.run(&["SINTER", "a", "b"])), ["3", "4"]);
    assert_eq!(set_reply(db.run(&["SINTER", "a", "b", "c"])), ["4"]);
    assert_eq!(set_reply(db.run(&["SINTER", "a"])), ["1", "2", "3", "4"]);
    assert_eq!(db.run(&["SINTER", "a", "missing"]), Reply::Set(Vec::new()));
    assert_eq!(
        set_reply(db.run(&["SUNION", "a", "b", "missing"])),
        ["1", "2", "3", "4", "5"]
    );
    assert_eq!(set_reply(db.run(&["SDIFF", "a", "b"])), ["1", "2"]);
    assert_eq!(set_reply(db.run(&["SDIFF", "a", "b", "c"])), ["1", "2"]);
    assert_eq!(
        set_reply(db.run(&["SDIFF", "c", "missing"])),
        ["4", "5", "6", "x"]
    );
    assert_eq!(db.run(&["SDIFF", "a", "a"]), Reply::Set(Vec::new()));
    assert_eq!(db.run(&["SDIFF", "missing", "a"]), Reply::Set(Vec::new()));
    assert_eq!(set_reply(db.run(&["SINTER", "b", "b"])), ["3", "4", "5"]);
}

/// SDIFF's two algorithms agree: a small first set against big others
/// (test each member) and a big first set against small others (remove).
#[test]
fn sdiff_algorithms_agree() {
    let mut db = Db::new();
    for i in 0..300 {
        db.run(&["SADD", "big", &i.to_string()]);
    }
    db.run(&["SADD", "small", "5", "150", "1000"]);
    assert_eq!(set_reply(db.run(&["SDIFF", "small", "big"])), ["1000"]);
    let rest = set_reply(db.run(&["SDIFF", "big", "small", "small", "small"]));
    assert_eq!(rest.len(), 298);
    assert!(!rest.contains(&"5".to_string()) && !rest.contains(&"150".to_string()));
}

/// The STORE forms replace the destination (any type, any deadline) with
/// the result, or delete it when the result is empty.
#[test]
fn store_forms() {
    let mut db = Db::new();
    db.run(&["SADD", "a", "1", "2", "3"]);
    db.run(&["SADD", "b", "2", "3", "4"]);
    db.run(&["SET", "d", "string"]);
    db.run(&["EXPIRE", "d", "100"]);
    assert_eq!(db.run(&["SINTERSTORE", "d", "a", "b"]), int(2));
    assert_eq!(db.run(&["TYPE", "d"]), Reply::simple("set"));
    assert_eq!(db.run(&["TTL", "d"]), int(-1));
    assert_eq!(set_reply(db.run(&["SMEMBERS", "d"])), ["2", "3"]);
    assert_eq!(db.run(&["SUNIONSTORE", "d", "a", "b"]), int(4));
    assert_eq!(db.run(&["OBJECT", "ENCODING", "d"]), bulk("intset"));
    assert_eq!(db.run(&["SDIFFSTORE", "d", "a", "b"]), int(1));
    assert_eq!(set_reply(db.run(&["SMEMBERS", "d"])), ["1"]);
    assert_eq!(db.run(&["SINTERSTORE", "d", "a", "missing"]), int(0));
    assert_eq!(db.run(&["EXISTS", "d"]), int(0), "an empty result deletes");
    assert_eq!(
        db.run(&["SUNIONSTORE", "a", "a", "b"]),
        int(4),
        "a source may be the destination"
    );
    assert_eq!(db.run(&["SCARD", "a"]), int(4));
    assert_eq!(db.run(&["SDIFFSTORE", "b", "b", "a"]), int(0));
    assert_eq!(db.run(&["EXISTS", "b"]), int(0));
}

/// SINTERCARD: the intersection's size, stopped at LIMIT, with Redis's
/// argument errors in Redis's order.
#[test]
fn sintercard() {
    let mut db = Db::new();
    db.run(&["SADD", "a", "1", "2", "3", "4"]);
    db.run(&["SADD", "b", "2", "3", "4", "5"]);
    assert_eq!(db.run(&["SINTERCARD", "2", "a", "b"]), int(3));
    assert_eq!(db.run(&["SINTERCARD", "1", "a"]), int(4));
    assert_eq!(db.run(&["SINTERCARD", "2", "a", "b", "LIMIT", "2"]), int(2));
    assert_eq!(db.run(&["SINTERCARD", "2", "a", "b", "limit", "0"]), int(3));
    assert_eq!(
        db.run(&["SINTERCARD", "1", "a", "LIMIT", "1", "LIMIT", "3"]),
        int(3)
    );
    assert_eq!(db.run(&["SINTERCARD", "2", "a", "missing"]), int(0));
    let numkeys = "ERR numkeys should be greater than 0";
    for count in ["0", "-1", "x"] {
        assert_eq!(db.run(&["SINTERCARD", count, "a"]), err(numkeys), "{count}");
    }
    assert_eq!(
        db.run(&["SINTERCARD", "3", "a", "b"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    let negative = "ERR LIMIT can't be negative";
    assert_eq!(
        db.run(&["SINTERCARD", "1", "a", "LIMIT", "-1"]),
        err(negative)
    );
    assert_eq!(
        db.run(&["SINTERCARD", "1", "a", "LIMIT", "x"]),
        err(negative)
    );
    assert_eq!(db.run(&["SINTERCARD", "1", "a", "LIMT", "3"]), err(SYNTAX));
    assert_eq!(db.run(&["SINTERCARD", "1", "a", "b"]), err(SYNTAX));
    assert_eq!(db.run(&["SINTERCARD", "1", "a", "LIMIT"]), err(SYNTAX));
}

fn scan_page(db: &mut Db, line: &[&str]) -> (String, Vec<String>) {
    match db.run(line) {
        Reply::Array(mut parts) if parts.len() == 2 => {
            let items = texts(parts.pop().expect("two parts"));
            (text(&parts[0]), items)
        }
        other => panic!("{line:?} answered {other:?}"),
    }
}

/// An intset comes back whole; a hashtable set in pages that together
/// hold every member present throughout, even while members change.
#[test]
fn sscan() {
    let mut db = Db::new();
    db.run(&["SADD", "ints", "1", "2", "3"]);
    let (cursor, items) = scan_page(&mut db, &["SSCAN", "ints", "0", "COUNT", "1"]);
    assert_eq!((cursor.as_str(), items.len()), ("0", 3));
    let (_, items) = scan_page(&mut db, &["SSCAN", "ints", "0", "MATCH", "2"]);
    assert_eq!(items, ["2"]);
    assert_eq!(db.run(&["SSCAN", "ints", "0", "COUNT", "0"]), err(SYNTAX));
    assert_eq!(db.run(&["SSCAN", "ints", "x"]), err("ERR invalid cursor"));
    assert_eq!(
        db.run(&["SSCAN", "missing", "0"]),
        Reply::Array(vec![bulk("0"), Reply::Array(Vec::new())])
    );
    for i in 0..300 {
        db.run(&["SADD", "s", &format!("m{i}")]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let (next, items) = scan_page(&mut db, &["SSCAN", "s", &cursor, "COUNT", "25"]);
        seen.extend(items);
        db.run(&["SREM", "s", &format!("m{}", 299 - round)]);
        db.run(&["SADD", "s", &format!("new{round}")]);
        round += 1;
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(round < 300, "the scan ends");
    }
    for i in 0..250 {
        assert!(
            seen.contains(&format!("m{i}")),
            "m{i} was present throughout"
        );
    }
}

/// Memory accounting follows every change (the Db checks a full recount
/// after each command), and a shrinking set gives its table back.
#[test]
fn memory_follows_the_contents() {
    let mut db = Db::new();
    db.run(&["SADD", "s", "seed"]);
    let small = db.keyspace.used_memory_bytes();
    for i in 0..2000 {
        db.run(&["SADD", "s", &format!("member:{i}")]);
    }
    let big = db.keyspace.used_memory_bytes();
    assert!(big > small + 2000 * 10);
    db.run(&["SPOP", "s", "1990"]);
    assert!(db.keyspace.used_memory_bytes() < small + 4096);
    db.run(&["SUNIONSTORE", "copy", "s"]);
    db.run(&["DEL", "s", "copy"]);
    assert_eq!(db.keyspace.used_memory_bytes(), 0);
}

// ---- across shards ----------------------------------------------------------

const SHARDS: usize = 4;
const NOW_MS: u64 = 1_700_000_000_000;

/// Four shards of one database, with commands routed as the engine does.
struct Node {
    shards: Vec<Shard>,
}

fn args_of(parts: &[&str]) -> Vec<Bytes> {
    parts
        .iter()
        .map(|part| Bytes::copy_from_slice(part.as_bytes()))
        .collect()
}

fn ctx(shard: usize) -> ExecContext {
    ExecContext {
        now_ms: NOW_MS,
        shard_id: shard,
        shard_count: SHARDS,
    }
}

impl Node {
    fn new() -> Node {
        Node {
            shards: (0..SHARDS).map(|_| Shard::new(1)).collect(),
        }
    }

    /// Routes like the engine: one shard runs the handler, else a coordinator.
    fn run(&mut self, parts: &[&str]) -> Reply {
        let args = args_of(parts);
        let spec = table::lookup(&args[0]).expect("known command");
        assert!(spec.arity_ok(args.len()), "arity of {parts:?}");
        let shards: HashSet<usize> = spec
            .key_positions(args.len())
            .map(|position| shard_of(&args[position], SHARDS))
            .collect();
        match spec.route {
            Route::Key => {
                let shard = shards.into_iter().next().unwrap_or(0);
                self.shards[shard].execute(0, spec, &args, &ctx(shard))
            }
            Route::Coordinated if shards.len() == 1 => {
                let shard = shards.into_iter().next().unwrap_or(0);
                self.shards[shard].execute(0, spec, &args, &ctx(shard))
            }
            _ => self.drive(route::coordinator(spec, args, SHARDS, 0x5eed)),
        }
    }

    /// Runs the coordinator even when every key is on one shard.
    fn coordinate(&mut self, parts: &[&str]) -> Reply {
        let args = args_of(parts);
        let spec = table::lookup(&args[0]).expect("known command");
        self.drive(route::coordinator(spec, args, SHARDS, 0x5eed))
    }

    fn drive(&mut self, mut coordinator: Box<dyn route::Coordinator>) -> Reply {
        let mut replies = Vec::new();
        for _round in 0..16 {
            match coordinator.step(replies) {
                Step::Dispatch(ops) => {
                    replies = ops
                        .into_iter()
                        .map(|(shard, op)| self.shards[shard].apply(0, op, &ctx(shard)))
                        .collect();
                }
                Step::Done(reply) => return reply,
            }
        }
        panic!("coordinator did not finish");
    }

    fn assert_memory_exact(&self) {
        for shard in &self.shards {
            let keyspace = &shard.databases[0];
            assert_eq!(
                keyspace.used_memory_bytes(),
                keyspace.measure_used_memory_bytes()
            );
        }
    }
}

/// The `n`-th key named `key:i` that lives on `shard`.
fn key_on(shard: usize, n: usize) -> String {
    (0..)
        .map(|i| format!("key:{i}"))
        .filter(|key| shard_of(key.as_bytes(), SHARDS) == shard)
        .nth(n)
        .expect("keys exist on every shard")
}

/// SINTER, SUNION and SDIFF over keys on three shards give one server's
/// answers; a wrong type anywhere is WRONGTYPE.
#[test]
fn algebra_across_shards() {
    let mut node = Node::new();
    let (a, b, c) = (key_on(0, 0), key_on(1, 0), key_on(2, 0));
    node.run(&["SADD", &a, "1", "2", "3", "4"]);
    node.run(&["SADD", &b, "3", "4", "5"]);
    node.run(&["SADD", &c, "4", "5", "6"]);
    assert_eq!(set_reply(node.run(&["SINTER", &a, &b, &c])), ["4"]);
    assert_eq!(set_reply(node.run(&["SINTER", &a, &b, &a])), ["3", "4"]);
    assert_eq!(
        set_reply(node.run(&["SUNION", &a, &b, &c])),
        ["1", "2", "3", "4", "5", "6"]
    );
    assert_eq!(set_reply(node.run(&["SDIFF", &a, &b, &c])), ["1", "2"]);
    assert_eq!(set_reply(node.run(&["SDIFF", &c, &a])), ["5", "6"]);
    let missing = key_on(3, 0);
    assert_eq!(node.run(&["SINTER", &a, &missing]), Reply::Set(Vec::new()));
    assert_eq!(
        set_reply(node.run(&["SUNION", &missing, &b])),
        ["3", "4", "5"]
    );
    node.run(&["SET", &missing, "v"]);
    assert_eq!(node.run(&["SINTER", &a, &missing]), err(WRONGTYPE));
    assert_eq!(node.run(&["SDIFF", &missing, &a]), err(WRONGTYPE));
    node.assert_memory_exact();
}

/// The STORE forms put the result on the destination's shard, replacing
/// whatever was there, and delete the destination for an empty result.
#[test]
fn store_across_shards() {
    let mut node = Node::new();
    let (a, b, destination) = (key_on(0, 0), key_on(1, 0), key_on(2, 0));
    node.run(&["SADD", &a, "1", "2", "3"]);
    node.run(&["SADD", &b, "2", "3", "x"]);
    node.run(&["SET", &destination, "old", "EX", "100"]);
    assert_eq!(node.run(&["SINTERSTORE", &destination, &a, &b]), int(2));
    assert_eq!(set_reply(node.run(&["SMEMBERS", &destination])), ["2", "3"]);
    assert_eq!(node.run(&["TTL", &destination]), int(-1));
    assert_eq!(node.run(&["SUNIONSTORE", &destination, &a, &b]), int(4));
    assert_eq!(
        node.run(&["OBJECT", "ENCODING", &destination]),
        bulk("hashtable")
    );
    assert_eq!(node.run(&["SDIFFSTORE", &destination, &b, &a]), int(1));
    assert_eq!(set_reply(node.run(&["SMEMBERS", &destination])), ["x"]);
    let missing = key_on(3, 0);
    assert_eq!(
        node.run(&["SINTERSTORE", &destination, &a, &missing]),
        int(0)
    );
    assert_eq!(node.run(&["EXISTS", &destination]), int(0));
    assert_eq!(
        node.run(&["SUNIONSTORE", &a, &a, &b]),
        int(4),
        "a source as destination"
    );
    node.run(&["SET", &missing, "v"]);
    node.run(&["SADD", &destination, "keep"]);
    assert_eq!(
        node.run(&["SINTERSTORE", &destination, &a, &missing]),
        err(WRONGTYPE)
    );
    assert_eq!(
        set_reply(node.run(&["SMEMBERS", &destination])),
        ["keep"],
        "a refused STORE writes nothing"
    );
    node.assert_memory_exact();
}

/// SINTERCARD's keys are found from numkeys: the coordinator parses them,
/// sends the whole command to one shard when it can, and otherwise
/// intersects across shards; argument errors come first.
#[test]
fn sintercard_across_shards() {
    let mut node = Node::new();
    let (a, b) = (key_on(0, 0), key_on(3, 0));
    node.run(&["SADD", &a, "1", "2", "3", "4"]);
    node.run(&["SADD", &b, "2", "3", "4", "5"]);
    assert_eq!(node.run(&["SINTERCARD", "2", &a, &b]), int(3));
    assert_eq!(node.run(&["SINTERCARD", "2", &a, &b, "LIMIT", "2"]), int(2));
    assert_eq!(node.run(&["SINTERCARD", "1", &a]), int(4));
    let same_shard = key_on(0, 1);
    node.run(&["SADD", &same_shard, "4", "9"]);
    assert_eq!(node.run(&["SINTERCARD", "2", &a, &same_shard]), int(1));
    assert_eq!(
        node.run(&["SINTERCARD", "3", &a, &b]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        node.run(&["SINTERCARD", "2", &a, &b, "LIMIT", "-1"]),
        err("ERR LIMIT can't be negative")
    );
}

/// When every key shares a shard the coordinator sends the whole command
/// there in one step instead of fetching the sets.
#[test]
fn one_shard_runs_whole() {
    let mut node = Node::new();
    let (a, b) = (key_on(1, 0), key_on(1, 1));
    node.run(&["SADD", &a, "1", "2"]);
    node.run(&["SADD", &b, "2", "3"]);
    let spec = table::lookup(b"sinterstore").expect("sinterstore");
    let mut coordinator =
        route::coordinator(spec, args_of(&["SINTERSTORE", &a, &a, &b]), SHARDS, 0);
    let Step::Dispatch(ops) = coordinator.step(Vec::new()) else {
        panic!("the coordinator dispatches");
    };
    assert_eq!(ops.len(), 1);
    assert!(matches!(&ops[0], (1, ShardOp::Command { spec, .. }) if spec.name == "sinterstore"));
    assert_eq!(node.coordinate(&["SINTERSTORE", &a, &a, &b]), int(1));
    assert_eq!(set_reply(node.run(&["SMEMBERS", &a])), ["2"]);
    assert_eq!(node.coordinate(&["SMOVE", &a, &b, "2"]), int(1));
    assert_eq!(node.run(&["EXISTS", &a]), int(0));
}

/// SMOVE across shards moves the member and deletes an emptied source;
/// types are checked as Redis does before anything moves.
#[test]
fn smove_across_shards() {
    let mut node = Node::new();
    let (source, destination) = (key_on(0, 0), key_on(2, 0));
    node.run(&["SADD", &source, "a", "b"]);
    assert_eq!(node.run(&["SMOVE", &source, &destination, "a"]), int(1));
    assert_eq!(set_reply(node.run(&["SMEMBERS", &destination])), ["a"]);
    assert_eq!(set_reply(node.run(&["SMEMBERS", &source])), ["b"]);
    assert_eq!(node.run(&["SMOVE", &source, &destination, "zz"]), int(0));
    assert_eq!(node.run(&["SMOVE", &source, &destination, "b"]), int(1));
    assert_eq!(node.run(&["EXISTS", &source]), int(0));
    assert_eq!(set_reply(node.run(&["SMEMBERS", &destination])), ["a", "b"]);
    assert_eq!(
        node.run(&["SMOVE", &source, &destination, "a"]),
        int(0),
        "missing source"
    );
    let string = key_on(1, 0);
    node.run(&["SET", &string, "v"]);
    assert_eq!(
        node.run(&["SMOVE", &destination, &string, "a"]),
        err(WRONGTYPE)
    );
    assert_eq!(
        node.run(&["SMOVE", &destination, &string, "zz"]),
        err(WRONGTYPE)
    );
    assert_eq!(
        node.run(&["SMOVE", &string, &destination, "a"]),
        err(WRONGTYPE)
    );
    assert_eq!(node.run(&["SMOVE", &source, &string, "a"]), int(0));
    assert_eq!(node.run(&["SCARD", &destination]), int(2), "nothing moved");
    node.assert_memory_exact();
}

/// If the destination turns into another type between SMOVE's type check
/// and its add, the member goes back to the source and the reply is
/// WRONGTYPE: nothing is lost.
#[test]
fn smove_puts_the_member_back() {
    let mut node = Node::new();
    let (source, destination) = (key_on(0, 0), key_on(2, 0));
    node.run(&["SADD", &source, "a"]);
    let spec = table::lookup(b"smove").expect("smove");
    let mut coordinator = route::coordinator(
        spec,
        args_of(&["SMOVE", &source, &destination, "a"]),
        SHARDS,
        0,
    );
    let mut replies = Vec::new();
    let mut round = 0;
    let reply = loop {
        match coordinator.step(replies) {
            Step::Dispatch(ops) => {
                if round == 2 {
                    // Another client writes a string before the add arrives.
                    node.run(&["SET", &destination, "v"]);
                }
                replies = ops
                    .into_iter()
                    .map(|(shard, op)| node.shards[shard].apply(0, op, &ctx(shard)))
                    .collect();
                round += 1;
            }
            Step::Done(reply) => break reply,
        }
    };
    assert_eq!(reply, err(WRONGTYPE));
    assert_eq!(set_reply(node.run(&["SMEMBERS", &source])), ["a"]);
    assert_eq!(node.run(&["GET", &destination]), bulk("v"));
}

/// The edges of the multi-key set commands: SMOVE checks both types before
/// anything (except that a missing source answers 0 first), moving onto the
/// same key only asks membership; a wrong-typed key anywhere fails the
/// algebra even after a missing first key; a STORE form replaces any old
/// destination (type and deadline) and deletes it for an empty result;
/// counts at the extremes of i64 are refused with Redis's texts.
#[test]
fn multi_key_edges() {
    let mut db = Db::new();
    db.run(&["SADD", "a", "x", "y"]);
    db.run(&["SET", "s", "v"]);
    assert_eq!(db.run(&["SMOVE", "a", "s", "x"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SMOVE", "a", "s", "zz"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SMOVE", "s", "a", "x"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SMOVE", "s", "s", "x"]), err(WRONGTYPE));
    assert_eq!(db.run(&["SMOVE", "missing", "s", "zz"]), int(0));
    assert_eq!(db.run(&["SMOVE", "a", "a", "x"]), int(1));
    assert_eq!(db.run(&["SMOVE", "a", "a", "zz"]), int(0));
    assert_eq!(sorted(db.run(&["SMEMBERS", "a"])), ["x", "y"]);
    for line in [
        &["SDIFF", "missing", "s"][..],
        &["SDIFF", "a", "s"],
        &["SINTER", "missing", "s"],
        &["SUNION", "missing", "s"],
        &["SINTERCARD", "2", "missing", "s"],
        &["SINTERSTORE", "d", "missing", "s"],
        &["SDIFFSTORE", "d", "missing", "s"],
    ] {
        assert_eq!(db.run(line), err(WRONGTYPE), "{line:?}");
    }
    db.run(&["SET", "d", "v"]);
    db.run(&["EXPIRE", "d", "100"]);
    assert_eq!(db.run(&["SUNIONSTORE", "d", "a"]), int(2));
    assert_eq!(db.run(&["TYPE", "d"]), Reply::simple("set"));
    assert_eq!(db.run(&["TTL", "d"]), int(-1));
    assert_eq!(db.run(&["SINTERSTORE", "d", "a", "missing"]), int(0));
    assert_eq!(db.run(&["EXISTS", "d"]), int(0));
    assert_eq!(db.run(&["SDIFFSTORE", "d", "a", "a"]), int(0));
    assert_eq!(db.run(&["EXISTS", "d"]), int(0));
    assert_eq!(
        db.run(&["SINTERCARD", "9223372036854775807", "a"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        db.run(&["SRANDMEMBER", "a", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        db.run(&["SPOP", "a", "-1"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(db.run(&["SPOP", "missing"]), Reply::Nil);
    assert_eq!(db.run(&["SRANDMEMBER", "missing"]), Reply::Nil);
    assert!(texts(db.run(&["SPOP", "missing", "3"])).is_empty());
    assert!(texts(db.run(&["SRANDMEMBER", "missing", "-3"])).is_empty());
}
