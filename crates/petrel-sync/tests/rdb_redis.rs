//! The RDB format against a real redis-server 7.0: what Redis saves, Petrel
//! reads to the same data; what Petrel writes, Redis loads to the same data.
//! The Redis files are made in the test itself (redis-cli-style commands on
//! a fresh server, then SAVE), so no binary fixture is checked in.

mod common;

use bytes::Bytes;
use common::{
    canonical_of_value, dataset_of_rdb, dataset_of_server, Dataset, RedisServer, ScratchDir,
};
use petrel_resp::Frame;
use petrel_store::keyspace::StringValue;
use petrel_store::types::{HashValue, ListValue, SetValue, ZSetValue};
use petrel_store::{Entry, Value};
use petrel_sync::rdb::dump_payload;
use petrel_sync::RdbWriter;

fn encoding_of(client: &mut common::Client, key: &str) -> String {
    match client.query(&["OBJECT", "ENCODING", key]) {
        Frame::Bulk(bytes) | Frame::Simple(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => panic!("OBJECT ENCODING {key}: {other:?}"),
    }
}

// Every type in both its compact and its big encoding, integer and
// LZF-compressed strings, a deadline and a second database, saved by Redis
// 7.0: Petrel's reader returns exactly what Redis serves.
#[test]
fn a_redis_7_snapshot_reads_back_to_the_same_data() {
    let dir = ScratchDir::new("redis-save");
    let redis = RedisServer::start(&dir.0, "dump.rdb");
    let mut client = redis.client();
    client.ok(&["SET", "s:plain", "hello"]);
    client.ok(&["SET", "s:int8", "-7"]);
    client.ok(&["SET", "s:int16", "12345"]);
    client.ok(&["SET", "s:int32", "-2000000000"]);
    client.ok(&["SET", "s:int64", "123456789012345"]);
    client.ok(&["SET", "s:binary", "a\r\n\0b"]);
    client.ok(&["SET", "s:compressed", &"abcdefgh".repeat(500)]);
    client.ok(&["SET", "s:deadline", "soon", "PX", "3600000"]);
    client.ok(&[
        "RPUSH",
        "l:small",
        "a",
        "1",
        "300",
        "-5",
        "70000",
        "-2147483649",
        &"x".repeat(100),
    ]);
    let big_list: Vec<String> = (0..2000).map(|i| format!("element-{i}")).collect();
    let mut rpush = vec!["RPUSH".to_string(), "l:big".to_string()];
    rpush.extend(big_list);
    client.ok(&rpush);
    client.ok(&["HSET", "h:small", "f1", "v1", "f2", "2", "n", "-100000"]);
    let mut hset = vec!["HSET".to_string(), "h:big".to_string()];
    for i in 0..600 {
        hset.push(format!("field-{i}"));
        hset.push(format!("value-{i}"));
    }
    client.ok(&hset);
    client.ok(&["SADD", "set:ints", "1", "-2", "300", "70000", "5000000000"]);
    client.ok(&["SADD", "set:words", "apple", "banana", "cherry"]);
    let mut sadd = vec!["SADD".to_string(), "set:big".to_string()];
    sadd.extend((0..600).map(|i| format!("member-{i}")));
    client.ok(&sadd);
    client.ok(&[
        "ZADD",
        "z:small",
        "1",
        "one",
        "2.5",
        "two-and-a-half",
        "-inf",
        "low",
        "inf",
        "high",
        "100000",
        "big",
    ]);
    let mut zadd = vec!["ZADD".to_string(), "z:big".to_string()];
    for i in 0..600 {
        zadd.push(format!("{}", i as f64 / 3.0));
        zadd.push(format!("member-{i}"));
    }
    client.ok(&zadd);
    client.ok(&["SELECT", "1"]);
    client.ok(&["SET", "db1:key", "in database one"]);
    client.ok(&["SELECT", "0"]);

    // The test only proves something if Redis used the compact encodings.
    assert_eq!(encoding_of(&mut client, "l:small"), "quicklist");
    assert_eq!(encoding_of(&mut client, "h:small"), "listpack");
    assert_eq!(encoding_of(&mut client, "h:big"), "hashtable");
    assert_eq!(encoding_of(&mut client, "set:ints"), "intset");
    assert_eq!(encoding_of(&mut client, "set:big"), "hashtable");
    assert_eq!(encoding_of(&mut client, "z:small"), "listpack");
    assert_eq!(encoding_of(&mut client, "z:big"), "skiplist");

    client.ok(&["SAVE"]);
    let payload = std::fs::read(dir.0.join("dump.rdb")).expect("Redis wrote dump.rdb");
    let expected = dataset_of_server(&mut client, &[0, 1]);
    let (read, aux) = dataset_of_rdb(&payload);
    assert_eq!(read.len(), expected.len());
    for (key, value) in &expected {
        assert_eq!(
            read.get(key),
            Some(value),
            "key {:?}",
            String::from_utf8_lossy(&key.1)
        );
    }
    assert!(aux
        .iter()
        .any(|(key, value)| key == b"redis-ver" && value.starts_with(b"7.0")));
}

fn petrel_dataset() -> Vec<(u64, Bytes, Entry)> {
    let mut list: ListValue = ["a", "1", "-70000", ""]
        .iter()
        .map(|e| Bytes::from(*e))
        .collect();
    for i in 0..1000 {
        list.push(
            petrel_store::types::list::End::Right,
            Bytes::from(format!("item-{i}")),
        );
    }
    let set: SetValue = (0..50).map(|i| Bytes::from(format!("{}", i * 7))).collect();
    let words: SetValue = ["x", "y", "z"].iter().map(|w| Bytes::from(*w)).collect();
    let mut hash = HashValue::default();
    for i in 0..200 {
        hash.insert(&Bytes::from(format!("f{i}")), &Bytes::from(format!("v{i}")));
    }
    let mut zset = ZSetValue::new();
    for (member, score) in [
        ("a", 1.0),
        ("b", -2.5),
        ("c", f64::INFINITY),
        ("d", 1e300),
        ("e", 0.1),
    ] {
        zset.insert(Bytes::from(member), score);
    }
    let string = |text: &str| Value::String(StringValue::from_owned(text.as_bytes().to_vec()));
    vec![
        (0, Bytes::from("s:text"), Entry::new(string("hello world"))),
        (0, Bytes::from("s:int"), Entry::new(string("-123456"))),
        (0, Bytes::from("s:not-canonical"), Entry::new(string("007"))),
        (
            0,
            Bytes::from("s:big"),
            Entry::new(string(&"z".repeat(100_000))),
        ),
        (
            0,
            Bytes::from("s:deadline"),
            Entry {
                value: string("expires later"),
                expires_at_ms: Some(4_000_000_000_000),
            },
        ),
        (0, Bytes::from("list"), Entry::new(Value::List(list))),
        (0, Bytes::from("set:ints"), Entry::new(Value::Set(set))),
        (0, Bytes::from("set:words"), Entry::new(Value::Set(words))),
        (0, Bytes::from("hash"), Entry::new(Value::Hash(hash))),
        (0, Bytes::from("zset"), Entry::new(Value::ZSet(zset))),
        (3, Bytes::from("db3"), Entry::new(string("three"))),
    ]
}

// An RDB Petrel writes, with every type, a deadline and two databases,
// loads into a real redis-server 7.0, which then serves exactly that data.
#[test]
fn a_petrel_snapshot_loads_into_redis_7() {
    let entries = petrel_dataset();
    let mut writer = RdbWriter::new();
    writer.aux(b"redis-ver", b"7.0.0");
    writer.aux(b"redis-bits", b"64");
    let mut payload = Vec::new();
    for db in [0u64, 3] {
        let in_db: Vec<_> = entries.iter().filter(|(d, _, _)| *d == db).collect();
        writer.select_db(db, in_db.len() as u64, 1);
        for (_, key, entry) in in_db {
            writer.entry(key, entry);
        }
        payload.extend(writer.take());
    }
    payload.extend(writer.finish());

    let mut expected = Dataset::new();
    for (db, key, entry) in &entries {
        expected.insert(
            (*db, key.to_vec()),
            (
                canonical_of_value(&entry.value),
                entry.expires_at_ms.is_some(),
            ),
        );
    }
    assert_eq!(dataset_of_rdb(&payload).0, expected);

    let dir = ScratchDir::new("redis-load");
    std::fs::write(dir.0.join("petrel.rdb"), &payload).expect("write the RDB");
    let redis = RedisServer::start(&dir.0, "petrel.rdb");
    let mut client = redis.client();
    assert_eq!(dataset_of_server(&mut client, &[0, 3]), expected);
}

// A DUMP payload Petrel makes is accepted by Redis 7.0's RESTORE, and one
// Redis makes decodes in Petrel to the same value.
#[test]
fn dump_payloads_travel_both_ways() {
    let dir = ScratchDir::new("redis-dump");
    let redis = RedisServer::start(&dir.0, "dump.rdb");
    let mut client = redis.client();
    for (_, key, entry) in petrel_dataset() {
        let payload = dump_payload(&entry.value);
        client.ok(&[b"RESTORE".as_slice(), &key, b"0", &payload, b"REPLACE"]);
        let Frame::Bulk(redis_payload) = client.query(&[b"DUMP".as_slice(), &key]) else {
            panic!("DUMP answered no payload");
        };
        let value = petrel_sync::rdb::restore_value(&redis_payload).expect("Redis's DUMP decodes");
        assert_eq!(canonical_of_value(&value), canonical_of_value(&entry.value));
    }
    let served = dataset_of_server(&mut client, &[0]);
    assert_eq!(served.len(), 11);
}
