//! A server's whole dataset in a form that compares equal across servers
//! whatever their encodings: for checking that a replica holds exactly what
//! its source holds, key by key.

use std::collections::BTreeMap;

use redis::Value;

/// One key's type and value (sets and hashes sorted; sorted sets in rank
/// order with their scores as text), and whether it has a deadline.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    pub kind: String,
    pub value: Vec<Vec<u8>>,
    pub has_deadline: bool,
}

pub type Dataset = BTreeMap<Vec<u8>, Item>;

fn bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::BulkString(bytes) => bytes.clone(),
        Value::SimpleString(text) => text.as_bytes().to_vec(),
        Value::Int(number) => number.to_string().into_bytes(),
        Value::Double(number) => format!("{number}").into_bytes(),
        other => panic!("expected a string, got {other:?}"),
    }
}

fn list(value: Value) -> Vec<Vec<u8>> {
    match value {
        Value::Array(items) | Value::Set(items) => items.iter().map(bytes).collect(),
        Value::Map(pairs) => pairs
            .iter()
            .flat_map(|(key, value)| [bytes(key), bytes(value)])
            .collect(),
        other => panic!("expected an array, got {other:?}"),
    }
}

fn run(connection: &mut redis::Connection, args: &[&[u8]]) -> Value {
    let mut command = redis::cmd(std::str::from_utf8(args[0]).unwrap_or("PING"));
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command
        .query(connection)
        .unwrap_or_else(|error| panic!("{:?} failed: {error}", String::from_utf8_lossy(args[0])))
}

/// Every key of the connection's database, read with SCAN, TYPE, the
/// type's read command and PTTL.
pub fn dump(connection: &mut redis::Connection) -> Dataset {
    let mut keys = Vec::new();
    let mut cursor = b"0".to_vec();
    loop {
        let reply = run(connection, &[b"SCAN", &cursor, b"COUNT", b"1000"]);
        let Value::Array(mut parts) = reply else {
            panic!("SCAN answered {reply:?}");
        };
        let batch = parts.pop().map(list).unwrap_or_default();
        cursor = parts.first().map(bytes).unwrap_or_else(|| b"0".to_vec());
        keys.extend(batch);
        if cursor == b"0" {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    let mut dataset = Dataset::new();
    for key in keys {
        let kind = String::from_utf8_lossy(&bytes(&run(connection, &[b"TYPE", &key]))).into_owned();
        let mut value = match kind.as_str() {
            "string" => vec![bytes(&run(connection, &[b"GET", &key]))],
            "list" => list(run(connection, &[b"LRANGE", &key, b"0", b"-1"])),
            "set" => list(run(connection, &[b"SMEMBERS", &key])),
            "hash" => {
                let flat = list(run(connection, &[b"HGETALL", &key]));
                let mut pairs: Vec<Vec<u8>> = flat
                    .chunks(2)
                    .map(|pair| [pair[0].clone(), b"=".to_vec(), pair[1].clone()].concat())
                    .collect();
                pairs.sort();
                pairs
            }
            "zset" => list(run(
                connection,
                &[b"ZRANGE", &key, b"0", b"-1", b"WITHSCORES"],
            )),
            // Gone between SCAN and TYPE (expired): skip it.
            "none" => continue,
            other => panic!("unexpected type {other}"),
        };
        if kind == "set" {
            value.sort();
        }
        let ttl = match run(connection, &[b"PTTL", &key]) {
            Value::Int(ttl) => ttl,
            other => panic!("PTTL answered {other:?}"),
        };
        dataset.insert(
            key,
            Item {
                kind,
                value,
                has_deadline: ttl >= 0,
            },
        );
    }
    dataset
}

/// The first difference between two datasets, worded for a test failure.
pub fn first_difference(left: &Dataset, right: &Dataset) -> Option<String> {
    for (key, item) in left {
        match right.get(key) {
            None => {
                return Some(format!(
                    "{:?} only on the left",
                    String::from_utf8_lossy(key)
                ))
            }
            Some(other) if other != item => {
                return Some(format!(
                    "{:?} differs: {item:?} vs {other:?}",
                    String::from_utf8_lossy(key)
                ))
            }
            Some(_) => {}
        }
    }
    right
        .keys()
        .find(|key| !left.contains_key(*key))
        .map(|key| format!("{:?} only on the right", String::from_utf8_lossy(key)))
}
