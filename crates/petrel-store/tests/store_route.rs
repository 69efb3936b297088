//! Cross-shard routing without threads: a fake node of four `Shard`s, each
//! coordinator stepped by hand, every ShardOp applied to the shard it names.
//! Proves key placement (Redis Cluster slots and hashtags) and that
//! MGET/MSET/DEL/EXISTS, RENAME/RENAMENX, MSETNX, SCAN and RANDOMKEY give the
//! answers one Redis would.

use std::collections::HashSet;

use bytes::Bytes;
use petrel_resp::Reply;
use petrel_store::route::{self, shard_of, slot_of, ShardOp, Step};
use petrel_store::table::{self, Route};
use petrel_store::{Coordinator, ExecContext, Shard};

const SHARDS: usize = 4;
const NOW_MS: u64 = 1_700_000_000_000;

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

    /// Runs a command the way the engine routes it.
    fn run(&mut self, parts: &[&str]) -> Reply {
        let args = args_of(parts);
        let spec = table::lookup(&args[0]).expect("known command");
        assert!(spec.arity_ok(args.len()), "arity of {parts:?}");
        let key_shards: HashSet<usize> = spec
            .key_positions(args.len())
            .map(|position| shard_of(&args[position], SHARDS))
            .collect();
        match spec.route {
            Route::Key => {
                let shard = key_shards.into_iter().next().unwrap_or(0);
                self.shards[shard].execute(0, spec, &args, &ctx(shard))
            }
            Route::Scatter | Route::Coordinated
                if key_shards.len() == 1 && spec.handler.is_some() =>
            {
                let shard = key_shards.into_iter().next().unwrap_or(0);
                self.shards[shard].execute(0, spec, &args, &ctx(shard))
            }
            Route::Scatter | Route::Coordinated => {
                let coordinator = route::coordinator(spec, args, SHARDS, 0x5eed);
                self.drive(coordinator)
            }
            Route::Connection | Route::Transaction => {
                panic!("{parts:?} is not a keyspace command")
            }
        }
    }

    /// Forces the coordinator even when every key is on one shard.
    fn coordinate(&mut self, parts: &[&str]) -> Reply {
        let args = args_of(parts);
        let spec = table::lookup(&args[0]).expect("known command");
        self.drive(route::coordinator(spec, args, SHARDS, 0x5eed))
    }

    fn drive(&mut self, mut coordinator: Box<dyn Coordinator>) -> Reply {
        let mut replies = Vec::new();
        for _round in 0..64 {
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

    fn keyspace(&mut self, shard: usize) -> &mut petrel_store::Keyspace {
        &mut self.shards[shard].databases[0]
    }
}

/// The `n`-th key named `prefix:i` that lives on `shard`.
fn key_on(shard: usize, n: usize) -> String {
    (0..)
        .map(|i| format!("key:{i}"))
        .filter(|key| shard_of(key.as_bytes(), SHARDS) == shard)
        .nth(n)
        .expect("keys exist on every shard")
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(text.as_bytes()))
}

/// Slots match `CLUSTER KEYSLOT` of redis-server 7, hashtags included.
#[test]
fn slots_and_hashtags() {
    assert_eq!(slot_of(b"foo"), 12182);
    assert_eq!(slot_of(b"hello"), 866);
    assert_eq!(slot_of(b"123456789"), 12739);
    assert_eq!(slot_of(b"{user1000}.following"), 3443);
    assert_eq!(slot_of(b"{user1000}.followers"), 3443);
    assert_eq!(
        shard_of(b"{user1000}.following", SHARDS),
        shard_of(b"{user1000}.followers", SHARDS)
    );
    // An empty tag does not count: the whole key is hashed.
    assert_eq!(slot_of(b"foo{}{bar}"), 8363);
    assert_eq!(slot_of(b"{}"), 15257);
    // The tag runs from the first '{' to the next '}'.
    assert_eq!(slot_of(b"foo{{bar}}zap"), 4015);
    assert_eq!(slot_of(b"foo{{bar}}zap"), slot_of(b"{bar"));
    assert_eq!(slot_of(b"foo{bar}{zap}"), 5061);
    assert_eq!(slot_of(b"foo{bar}{zap}"), slot_of(b"bar"));
    assert_eq!(
        slot_of(b"a{b"),
        13340,
        "an unclosed tag hashes the whole key"
    );
    let spread: HashSet<usize> = (0..100)
        .map(|i| shard_of(format!("k{i}").as_bytes(), SHARDS))
        .collect();
    assert_eq!(spread.len(), SHARDS, "keys spread over every shard");
}

/// MGET's first step sends each shard only its keys; the merge puts the
/// values back in the order the client asked.
#[test]
fn mget_scatters_and_gathers_in_key_order() {
    let mut node = Node::new();
    let keys: Vec<String> = (0..SHARDS).map(|shard| key_on(shard, 0)).collect();
    for (i, key) in keys.iter().enumerate() {
        node.run(&["SET", key, &format!("v{i}")]);
    }
    let spec = table::lookup(b"mget").expect("mget");
    let request = [
        "MGET", &keys[3], "missing", &keys[0], &keys[2], &keys[1], &keys[3],
    ];
    let mut coordinator = route::coordinator(spec, args_of(&request), SHARDS, 0);
    let Step::Dispatch(ops) = coordinator.step(Vec::new()) else {
        panic!("MGET scatters first");
    };
    let shards: Vec<usize> = ops.iter().map(|(shard, _)| *shard).collect();
    let unique: HashSet<usize> = shards.iter().copied().collect();
    assert_eq!(shards.len(), unique.len(), "one message per shard");
    for (shard, op) in &ops {
        let ShardOp::Command { args, .. } = op else {
            panic!("MGET sends commands");
        };
        assert_eq!(args[0].as_ref(), b"MGET");
        assert!(args[1..].iter().all(|key| shard_of(key, SHARDS) == *shard));
    }
    let replies = ops
        .into_iter()
        .map(|(shard, op)| node.shards[shard].apply(0, op, &ctx(shard)))
        .collect();
    let Step::Done(reply) = coordinator.step(replies) else {
        panic!("MGET is one round");
    };
    assert_eq!(
        reply,
        Reply::Array(vec![
            bulk("v3"),
            Reply::Nil,
            bulk("v0"),
            bulk("v2"),
            bulk("v1"),
            bulk("v3")
        ])
    );
}

/// MSET, DEL and EXISTS across four shards add up as on one server.
#[test]
fn mset_del_exists_across_shards() {
    let mut node = Node::new();
    let keys: Vec<String> = (0..SHARDS * 2)
        .map(|i| key_on(i % SHARDS, i / SHARDS))
        .collect();
    let mut mset = vec!["MSET"];
    for key in &keys {
        mset.push(key);
        mset.push(key);
    }
    assert_eq!(node.run(&mset), Reply::ok());
    for (shard, count) in (0..SHARDS).map(|shard| (shard, node.keyspace(shard).len())) {
        assert_eq!(count, 2, "shard {shard} holds its two keys");
    }
    assert_eq!(
        node.run(&["EXISTS", &keys[0], &keys[0], &keys[5], "nope"]),
        Reply::Integer(3)
    );
    assert_eq!(node.run(&["DBSIZE"]), Reply::Integer(8));
    assert_eq!(
        node.run(&["DEL", &keys[0], &keys[1], &keys[2], "nope", &keys[0]]),
        Reply::Integer(3)
    );
    assert_eq!(node.run(&["DBSIZE"]), Reply::Integer(5));
    assert_eq!(
        node.run(&["MSET", &keys[0], "x", &keys[1]]),
        Reply::error("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        node.run(&["EXISTS", &keys[0]]),
        Reply::Integer(0),
        "nothing written"
    );
    let Reply::Array(all) = node.run(&["KEYS", "*"]) else {
        panic!("KEYS answers an array");
    };
    assert_eq!(all.len(), 5);
    assert_eq!(node.run(&["FLUSHALL"]), Reply::ok());
    assert_eq!(node.run(&["DBSIZE"]), Reply::Integer(0));
    for shard in 0..SHARDS {
        assert_eq!(node.keyspace(shard).used_memory_bytes(), 0);
    }
}

/// RENAME across shards moves the value and its deadline, and replaces
/// the destination; a missing source is "no such key".
#[test]
fn rename_across_shards_keeps_the_deadline() {
    let mut node = Node::new();
    let (source, destination) = (key_on(0, 0), key_on(2, 0));
    assert_eq!(
        node.run(&["RENAME", &source, &destination]),
        Reply::error("ERR no such key")
    );
    node.run(&["SET", &source, "v", "PX", "5000"]);
    node.run(&["SET", &destination, "old"]);
    assert_eq!(node.run(&["RENAME", &source, &destination]), Reply::ok());
    assert_eq!(node.run(&["GET", &destination]), bulk("v"));
    assert_eq!(node.run(&["PTTL", &destination]), Reply::Integer(5000));
    assert_eq!(node.run(&["EXISTS", &source]), Reply::Integer(0));
    assert_eq!(node.keyspace(0).used_memory_bytes(), 0);
    assert_eq!(node.keyspace(2).expires_count(), 1);
}

/// RENAMENX across shards: an error for a missing source even when the
/// destination exists, 0 when the destination exists, 1 otherwise.
#[test]
fn renamenx_across_shards() {
    let mut node = Node::new();
    let (source, destination) = (key_on(1, 0), key_on(3, 0));
    node.run(&["SET", &destination, "taken"]);
    assert_eq!(
        node.run(&["RENAMENX", &source, &destination]),
        Reply::error("ERR no such key")
    );
    node.run(&["SET", &source, "v", "EX", "100"]);
    assert_eq!(
        node.run(&["RENAMENX", &source, &destination]),
        Reply::Integer(0)
    );
    assert_eq!(node.run(&["GET", &destination]), bulk("taken"));
    assert_eq!(node.run(&["GET", &source]), bulk("v"));
    node.run(&["DEL", &destination]);
    assert_eq!(
        node.run(&["RENAMENX", &source, &destination]),
        Reply::Integer(1)
    );
    assert_eq!(node.run(&["GET", &destination]), bulk("v"));
    assert_eq!(node.run(&["TTL", &destination]), Reply::Integer(100));
    assert_eq!(node.run(&["EXISTS", &source]), Reply::Integer(0));
}

/// If another client creates the destination between RENAMENX's check and
/// its put, the source is put back and the answer is 0.
#[test]
fn renamenx_puts_back_when_destination_appears() {
    let mut node = Node::new();
    let (source, destination) = (key_on(0, 0), key_on(1, 0));
    node.run(&["SET", &source, "v", "EX", "100"]);
    let spec = table::lookup(b"renamenx").expect("renamenx");
    let mut coordinator = route::coordinator(
        spec,
        args_of(&["RENAMENX", &source, &destination]),
        SHARDS,
        0,
    );
    let mut replies = Vec::new();
    let mut rounds = 0;
    let reply = loop {
        match coordinator.step(replies) {
            Step::Dispatch(ops) => {
                rounds += 1;
                if rounds == 3 {
                    // The put is about to happen: someone else wins the race.
                    node.run(&["SET", &destination, "theirs"]);
                }
                replies = ops
                    .into_iter()
                    .map(|(shard, op)| node.shards[shard].apply(0, op, &ctx(shard)))
                    .collect();
            }
            Step::Done(reply) => break reply,
        }
    };
    assert_eq!(reply, Reply::Integer(0));
    assert_eq!(node.run(&["GET", &destination]), bulk("theirs"));
    assert_eq!(node.run(&["GET", &source]), bulk("v"));
    assert_eq!(node.run(&["TTL", &source]), Reply::Integer(100));
}

/// MSETNX across shards writes all keys or none.
#[test]
fn msetnx_all_or_nothing_across_shards() {
    let mut node = Node::new();
    let keys: Vec<String> = (0..SHARDS).map(|shard| key_on(shard, 0)).collect();
    node.run(&["SET", &keys[2], "existing"]);
    let request = [
        "MSETNX", &keys[0], "a", &keys[1], "b", &keys[2], "c", &keys[3], "d",
    ];
    assert_eq!(node.run(&request), Reply::Integer(0));
    assert_eq!(
        node.run(&["DBSIZE"]),
        Reply::Integer(1),
        "nothing was written"
    );
    node.run(&["DEL", &keys[2]]);
    assert_eq!(node.run(&request), Reply::Integer(1));
    assert_eq!(
        node.run(&["MGET", &keys[0], &keys[1], &keys[2], &keys[3]]),
        Reply::Array(vec![bulk("a"), bulk("b"), bulk("c"), bulk("d")])
    );
    assert_eq!(
        node.coordinate(&["MSETNX", &keys[0], "x", &keys[1]]),
        Reply::error("ERR wrong number of arguments for 'msetnx' command")
    );
    // One shard: the handler does it atomically without the coordinator.
    let same = ["{t}a", "{t}b"];
    assert_eq!(
        node.run(&["MSETNX", same[0], "1", same[1], "2"]),
        Reply::Integer(1)
    );
    assert_eq!(
        node.run(&["MSETNX", same[0], "1", "{t}c", "2"]),
        Reply::Integer(0)
    );
}

/// Runs SCAN to completion and returns every key it reported, in order.
fn full_scan(node: &mut Node, options: &[&str]) -> (Vec<String>, usize) {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    let mut calls = 0;
    loop {
        let mut request = vec!["SCAN", cursor.as_str()];
        request.extend_from_slice(options);
        let reply = node.run(&request);
        calls += 1;
        let Reply::Array(parts) = reply else {
            panic!("SCAN answers an array, got {reply:?}");
        };
        let [Reply::Bulk(next), Reply::Array(page)] = parts.as_slice() else {
            panic!("SCAN answers [cursor, keys]");
        };
        for key in page {
            let Reply::Bulk(key) = key else {
                panic!("keys are bulk strings");
            };
            keys.push(String::from_utf8(key.to_vec()).expect("utf-8"));
        }
        cursor = String::from_utf8(next.to_vec()).expect("utf-8 cursor");
        if cursor == "0" {
            return (keys, calls);
        }
        assert!(calls < 10_000, "scan does not end");
    }
}

/// SCAN over four shards returns every key exactly once when nothing
/// changes, honours COUNT, MATCH and TYPE, and validates its options.
#[test]
fn scan_across_shards() {
    let mut node = Node::new();
    for i in 0..200 {
        node.run(&["SET", &format!("user:{i}"), "v"]);
        node.run(&["SET", &format!("item:{i}"), "v"]);
    }
    let (keys, calls) = full_scan(&mut node, &[]);
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 400);
    assert_eq!(unique.len(), 400, "no key twice");
    assert!(calls >= 40, "COUNT 10 pages the scan: {calls} calls");

    let (keys, calls) = full_scan(&mut node, &["COUNT", "1000"]);
    assert_eq!(keys.len(), 400);
    assert_eq!(calls, 1);

    let (keys, _) = full_scan(&mut node, &["MATCH", "user:1?", "COUNT", "7"]);
    let expected: HashSet<String> = (10..20).map(|i| format!("user:{i}")).collect();
    assert_eq!(keys.iter().cloned().collect::<HashSet<_>>(), expected);
    assert_eq!(keys.len(), 10);

    let (keys, _) = full_scan(&mut node, &["TYPE", "STRING", "COUNT", "50"]);
    assert_eq!(keys.len(), 400);
    let (keys, _) = full_scan(&mut node, &["TYPE", "list"]);
    assert!(keys.is_empty());

    assert_eq!(
        node.run(&["SCAN", "abc"]),
        Reply::error("ERR invalid cursor")
    );
    assert_eq!(
        node.run(&["SCAN", "0", "COUNT", "0"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        node.run(&["SCAN", "0", "COUNT", "x"]),
        Reply::error("ERR value is not an integer or out of range")
    );
    assert_eq!(
        node.run(&["SCAN", "0", "MATCH"]),
        Reply::error("ERR syntax error")
    );
    assert_eq!(
        node.run(&["SCAN", "0", "FOO", "1"]),
        Reply::error("ERR syntax error")
    );
}

/// Keys that stay put are all returned even when others are deleted and
/// added between SCAN calls.
#[test]
fn scan_across_shards_survives_changes() {
    let mut node = Node::new();
    for i in 0..300 {
        node.run(&["SET", &format!("k{i}"), "v"]);
    }
    let mut cursor = "0".to_string();
    let mut seen = HashSet::new();
    let mut call = 0;
    loop {
        let reply = node.run(&["SCAN", &cursor, "COUNT", "5"]);
        let Reply::Array(parts) = reply else {
            panic!("array");
        };
        let [Reply::Bulk(next), Reply::Array(page)] = parts.as_slice() else {
            panic!("[cursor, keys]");
        };
        for key in page {
            if let Reply::Bulk(key) = key {
                seen.insert(key.clone());
            }
        }
        call += 1;
        // Churn: delete keys divisible by 7 and add new ones as we go.
        node.run(&["DEL", &format!("k{}", call * 7)]);
        node.run(&["SET", &format!("new{call}"), "v"]);
        cursor = String::from_utf8(next.to_vec()).expect("utf-8");
        if cursor == "0" {
            break;
        }
    }
    for i in (0..300).filter(|i| i % 7 != 0) {
        assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
    }
}

/// RANDOMKEY finds a key wherever it lives and answers nil when empty.
#[test]
fn randomkey_across_shards() {
    let mut node = Node::new();
    assert_eq!(node.run(&["RANDOMKEY"]), Reply::Nil);
    let lonely = key_on(3, 0);
    node.run(&["SET", &lonely, "v"]);
    for seed in 0..8u64 {
        let spec = table::lookup(b"randomkey").expect("randomkey");
        let reply = node.drive(route::coordinator(
            spec,
            args_of(&["RANDOMKEY"]),
            SHARDS,
            seed,
        ));
        assert_eq!(reply, bulk(&lonely), "seed {seed}");
    }
    node.run(&["SET", &lonely, "v", "PX", "1"]);
    node.keyspace(3).expire_due(NOW_MS + 1, 10);
    assert_eq!(node.run(&["RANDOMKEY"]), Reply::Nil);
}
