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
    // Pipelined in batches: TYPE and PTTL of each key, then its value.
    for batch in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for key in batch {
            pipe.cmd("TYPE").arg(key).cmd("PTTL").arg(key);
        }
        let answers: Vec<Value> = pipe
            .query(connection)
            .unwrap_or_else(|error| panic!("TYPE/PTTL failed: {error}"));
        let mut kinds = Vec::with_capacity(batch.len());
        let mut pipe = redis::pipe();
        for (key, pair) in batch.iter().zip(answers.chunks(2)) {
            let kind = String::from_utf8_lossy(&bytes(&pair[0])).into_owned();
            let has_deadline = matches!(pair[1], Value::Int(ttl) if ttl >= 0);
            match kind.as_str() {
                "string" => pipe.cmd("GET").arg(key),
                "list" => pipe.cmd("LRANGE").arg(key).arg(0).arg(-1),
                "set" => pipe.cmd("SMEMBERS").arg(key),
                "hash" => pipe.cmd("HGETALL").arg(key),
                "zset" => pipe.cmd("ZRANGE").arg(key).arg(0).arg(-1).arg("WITHSCORES"),
                // Gone between SCAN and TYPE (expired): ask something harmless.
                "none" => pipe.cmd("EXISTS").arg(key),
                other => panic!("unexpected type {other}"),
            };
            kinds.push((key, kind, has_deadline));
        }
        let values: Vec<Value> = pipe
            .query(connection)
            .unwrap_or_else(|error| panic!("reading values failed: {error}"));
        for ((key, kind, has_deadline), value) in kinds.into_iter().zip(values) {
            let mut value = match kind.as_str() {
                "none" => continue,
                "string" => vec![bytes(&value)],
                "hash" => {
                    let flat = list(value);
                    let mut pairs: Vec<Vec<u8>> = flat
                        .chunks(2)
                        .map(|pair| [pair[0].clone(), b"=".to_vec(), pair[1].clone()].concat())
                        .collect();
                    pairs.sort();
                    pairs
                }
                _ => list(value),
            };
            if kind == "set" {
                value.sort();
            }
            dataset.insert(
                key.clone(),
                Item {
                    kind,
                    value,
                    has_deadline,
                },
            );
        }
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
