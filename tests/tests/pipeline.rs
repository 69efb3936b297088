//! Proves that pipelined commands over keys of every shard are answered in
//! request order with the replies a single-threaded Redis would give, by
//! writing 1,000 mixed commands in one write on a raw socket and comparing
//! each reply with a model computed in the test; and that MGET/MSET over 100
//! keys gather values in key order.

use std::collections::HashMap;

use petrel_e2e::{encode_command, query, RawConn, Reply, Server};
use redis::Value;

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> usize {
        usize::try_from(self.next() % bound).expect("bound fits usize")
    }
}

/// The commands of the pipeline and the replies a Redis-like model expects.
fn mixed_commands(count: usize, seed: u64) -> (Vec<Vec<String>>, Vec<Reply>) {
    let mut rng = Rng(seed);
    let mut model: HashMap<String, String> = HashMap::new();
    let mut commands = Vec::with_capacity(count);
    let mut expected = Vec::with_capacity(count);
    let key = |rng: &mut Rng| format!("pipe:{}", rng.below(64));
    let value = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            (rng.below(2000) as i64 - 1000).to_string()
        } else {
            format!("text-{}", rng.below(1_000_000))
        }
    };
    for _ in 0..count {
        let roll = rng.below(100);
        let (command, reply) = if roll < 25 {
            let (k, v) = (key(&mut rng), value(&mut rng));
            model.insert(k.clone(), v.clone());
            (vec!["SET".to_owned(), k, v], Reply::simple("OK"))
        } else if roll < 50 {
            let k = key(&mut rng);
            let reply = model.get(&k).map_or(Reply::Nil, |v| Reply::bulk(v));
            (vec!["GET".to_owned(), k], reply)
        } else if roll < 70 {
            let k = key(&mut rng);
            let current = model.get(&k).cloned().unwrap_or_else(|| "0".to_owned());
            let reply = match current.parse::<i64>() {
                Ok(number) => {
                    model.insert(k.clone(), (number + 1).to_string());
                    Reply::Integer(number + 1)
                }
                Err(_) => Reply::Error("ERR value is not an integer or out of range".to_owned()),
            };
            (vec!["INCR".to_owned(), k], reply)
        } else if roll < 80 {
            let mut command = vec!["DEL".to_owned()];
            let mut deleted = 0;
            for _ in 0..1 + rng.below(4) {
                let k = key(&mut rng);
                if model.remove(&k).is_some() {
                    deleted += 1;
                }
                command.push(k);
            }
            (command, Reply::Integer(deleted))
        } else if roll < 90 {
            let mut command = vec!["MGET".to_owned()];
            let mut values = Vec::new();
            for _ in 0..1 + rng.below(8) {
                let k = key(&mut rng);
                values.push(model.get(&k).map_or(Reply::Nil, |v| Reply::bulk(v)));
                command.push(k);
            }
            (command, Reply::Array(values))
        } else {
            let mut command = vec!["MSET".to_owned()];
            for _ in 0..1 + rng.below(5) {
                let (k, v) = (key(&mut rng), value(&mut rng));
                model.insert(k.clone(), v.clone());
                command.push(k);
                command.push(v);
            }
            (command, Reply::simple("OK"))
        };
        commands.push(command);
        expected.push(reply);
    }
    (commands, expected)
}

fn check_replies(raw: &mut RawConn, commands: &[Vec<String>], expected: &[Reply]) {
    for (index, (command, want)) in commands.iter().zip(expected).enumerate() {
        let got = raw.read_reply();
        assert_eq!(
            &got, want,
            "reply {index} to {command:?} is out of order or wrong"
        );
    }
}

// 1,000 mixed SET/GET/INCR/DEL/MGET/MSET commands over 64 keys of both
// shards, sent in one write, are answered in request order, each reply
// equal to the model's.
#[test]
fn thousand_mixed_commands_in_one_write_answer_in_order() {
    let server = Server::start_default();
    let (commands, expected) = mixed_commands(1000, 0x5EED_1234_ABCD_0001);
    // The mix must exercise every kind of answer, or the check proves little.
    assert!(expected
        .iter()
        .any(|reply| matches!(reply, Reply::Error(_))));
    assert!(expected.iter().any(|reply| matches!(reply, Reply::Nil)));
    assert!(expected
        .iter()
        .any(|reply| matches!(reply, Reply::Integer(n) if *n > 1)));
    assert!(expected
        .iter()
        .any(|reply| matches!(reply, Reply::Array(items) if items.contains(&Reply::Nil) && items.len() > 2)));
    let mut bytes = Vec::new();
    for command in &commands {
        bytes.extend(encode_command(command));
    }
    let mut raw = server.raw();
    raw.send(&bytes);
    check_replies(&mut raw, &commands, &expected);
    assert_eq!(raw.command(&["PING"]), Reply::simple("PONG"));
}

// The same kind of pipeline written a few bytes at a time (commands split
// at every possible point) is answered just the same.
#[test]
fn pipeline_split_into_tiny_writes_answers_in_order() {
    let server = Server::start_default();
    let (commands, expected) = mixed_commands(150, 0x5EED_1234_ABCD_0002);
    let mut bytes = Vec::new();
    for command in &commands {
        bytes.extend(encode_command(command));
    }
    let mut raw = server.raw();
    for (index, chunk) in bytes.chunks(7).enumerate() {
        raw.send(chunk);
        // Now and then pause so the server really sees the partial frames.
        if index % 50 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    check_replies(&mut raw, &commands, &expected);
}

// MSET of 100 keys (both shards) then MGET in a shuffled order with missing
// and repeated keys returns each value at its key's position.
#[test]
fn mget_mset_hundred_keys_in_key_order() {
    let server = Server::start_default();
    let mut con = server.client();
    let keys: Vec<String> = (0..100).map(|i| format!("spread:{i}")).collect();
    let mut mset = vec!["MSET".to_owned()];
    for key in &keys {
        mset.push(key.clone());
        mset.push(format!("value-of-{key}"));
    }
    let mset_args: Vec<&str> = mset.iter().map(String::as_str).collect();
    assert_eq!(query::<Value>(&mut con, &mset_args), Value::Okay);
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 100);

    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    let mut order: Vec<String> = keys.clone();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1));
    }
    order.insert(10, "spread:missing-a".to_owned());
    order.insert(50, "spread:7".to_owned());
    order.push("spread:missing-b".to_owned());
    let mut mget = vec!["MGET"];
    mget.extend(order.iter().map(String::as_str));
    let values = query::<Vec<Option<String>>>(&mut con, &mget);
    assert_eq!(values.len(), order.len());
    for (key, value) in order.iter().zip(&values) {
        let expected = if key.contains("missing") {
            None
        } else {
            Some(format!("value-of-{key}"))
        };
        assert_eq!(value, &expected, "MGET value for {key}");
    }

    // The same through a redis crate pipeline of single GETs.
    let mut pipe = redis::pipe();
    for key in &order {
        pipe.cmd("GET").arg(key);
    }
    let piped: Vec<Option<String>> = pipe.query(&mut con).expect("pipelined GETs");
    assert_eq!(piped, values);
}

// Eight clients pipelining INCRBY on sixteen shared counters (both shards)
// at the same time lose no update: each counter ends at the exact sum.
#[test]
fn concurrent_pipelined_clients_lose_no_updates() {
    let server = Server::start_default();
    let clients = 8u64;
    let rounds = 20u64;
    let counters = 16u64;
    let workers: Vec<_> = (0..clients)
        .map(|client| {
            let mut con = server.client();
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    let mut pipe = redis::pipe();
                    for counter in 0..counters {
                        pipe.cmd("INCRBY")
                            .arg(format!("counter:{counter}"))
                            .arg(client + 1)
                            .ignore();
                    }
                    pipe.query::<()>(&mut con).expect("pipelined INCRBY");
                }
            })
        })
        .collect();
    for worker in workers {
        worker
            .join()
            .unwrap_or_else(|_| panic!("a client thread failed (see its panic above)"));
    }
    let per_round: u64 = (1..=clients).sum();
    let mut con = server.client();
    for counter in 0..counters {
        assert_eq!(
            query::<u64>(&mut con, &["GET", &format!("counter:{counter}")]),
            per_round * rounds,
            "counter:{counter}"
        );
    }
}

// Big values (8 KiB - 1 up to 1 MiB, binary with CR/LF/NUL) are sent from
// where they are stored rather than copied into the reply buffer; GETs of
// them pipelined in one write between small replies come back byte for
// byte and in order, and so do 1,100 GETs of a 9 KiB value inside one EXEC
// (a 10 MB reply of more pieces than one vectored write takes).
#[test]
fn big_values_pipelined_among_small_replies_come_back_in_order() {
    let server = Server::start_default();
    let mut raw = server.raw();
    let sizes = [8 * 1024 - 1, 8 * 1024, 9 * 1024, 64 * 1024, 1024 * 1024];
    let values: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(seed, &size)| petrel_e2e::tls::byte_pattern(size, seed))
        .collect();
    for (index, value) in values.iter().enumerate() {
        raw.send_command(&[&b"SET"[..], format!("big:{index}").as_bytes(), value]);
        assert_eq!(raw.read_reply(), Reply::simple("OK"));
    }
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for round in 0..3 {
        for (index, value) in values.iter().enumerate() {
            bytes.extend(encode_command(&["GET", &format!("big:{index}")]));
            expected.push(Reply::Bulk(value.clone()));
            bytes.extend(encode_command(&["INCR", "big:counter"]));
            expected.push(Reply::Integer((round * values.len() + index + 1) as i64));
        }
        bytes.extend(encode_command(&["GET", "big:missing"]));
        expected.push(Reply::Nil);
    }
    raw.send(&bytes);
    for (index, want) in expected.iter().enumerate() {
        let got = raw.read_reply();
        assert!(
            &got == want,
            "pipelined reply {index} is out of order or changed"
        );
    }

    let gets = 1100;
    let mut bytes = encode_command(&["MULTI"]);
    for _ in 0..gets {
        bytes.extend(encode_command(&["GET", "big:2"]));
    }
    bytes.extend(encode_command(&["EXEC"]));
    raw.send(&bytes);
    assert_eq!(raw.read_reply(), Reply::simple("OK"));
    for _ in 0..gets {
        assert_eq!(raw.read_reply(), Reply::simple("QUEUED"));
    }
    let Reply::Array(items) = raw.read_reply() else {
        panic!("EXEC did not answer with an array");
    };
    assert_eq!(items.len(), gets);
    assert!(
        items
            .iter()
            .all(|item| item == &Reply::Bulk(values[2].clone())),
        "a GET inside EXEC came back changed"
    );
    assert_eq!(raw.command(&["PING"]), Reply::simple("PONG"));
}
