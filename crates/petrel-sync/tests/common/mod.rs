//! Test helpers: a real redis-server 7.0 in a scratch directory, a minimal
//! RESP client, and a canonical form of a dataset so a real server's
//! contents and an RDB payload's can be compared key by key.

#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use petrel_resp::{parse_frame, Frame};
use petrel_store::Value;

/// A fresh scratch directory under the system temp dir, removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    pub fn new(label: &str) -> ScratchDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "petrel-sync-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        ScratchDir(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A redis-server child on a free loopback port, killed on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts redis-server with `dir` as its directory and `dbfilename`
    /// (loaded at start if it exists). Panics with a hint if Redis is not
    /// installed: these tests compare with the real thing.
    pub fn start(dir: &Path, dbfilename: &str) -> RedisServer {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                dir.to_str().expect("utf-8 path"),
                "--dbfilename",
                dbfilename,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--logfile",
                dir.join("redis.log").to_str().expect("utf-8 path"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server 7.0 must be installed (apt-get install -y redis-server)");
        let server = RedisServer { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut client) = Client::connect(port) {
                if client.query(&["PING"]) == Frame::Simple(Bytes::from("PONG")) {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up: {}",
                std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn client(&self) -> Client {
        Client::connect(self.port).expect("connect to redis-server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking RESP client, enough for tests.
pub struct Client {
    stream: TcpStream,
    buffer: BytesMut,
}

impl Client {
    pub fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            stream,
            buffer: BytesMut::new(),
        })
    }

    pub fn query<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        let encoded = petrel_sync::resp::encode_command(args);
        self.stream.write_all(&encoded).expect("send");
        loop {
            let snapshot = Bytes::copy_from_slice(&self.buffer);
            if let Some((frame, used)) = parse_frame(&snapshot).expect("valid RESP") {
                let _ = self.buffer.split_to(used);
                return frame;
            }
            let mut chunk = [0u8; 65536];
            let read = self.stream.read(&mut chunk).expect("receive");
            assert!(read > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }

    pub fn ok<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let reply = self.query(args);
        assert!(
            !matches!(reply, Frame::Error(_)),
            "{:?} failed: {reply:?}",
            args.iter()
                .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
                .collect::<Vec<_>>()
        );
    }
}

/// A value in a form that compares equal whatever the encoding: sets and
/// hashes sorted, sorted sets by (score, member), scores as bit patterns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Canonical {
    String(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, String)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

/// Key → (value, has a deadline).
pub type Dataset = BTreeMap<(u64, Vec<u8>), (Canonical, bool)>;

pub fn score_text(score: f64) -> String {
    format!("{score:?}")
}

pub fn canonical_of_value(value: &Value) -> Canonical {
    match value {
        Value::String(string) => Canonical::String(string.as_bytes().to_vec()),
        Value::List(list) => Canonical::List(list.iter().map(|e| e.to_vec()).collect()),
        Value::Set(set) => {
            let mut members: Vec<Vec<u8>> = set.iter().map(|m| m.to_vec()).collect();
            members.sort();
            Canonical::Set(members)
        }
        Value::ZSet(zset) => Canonical::ZSet(
            zset.iter()
                .map(|(member, score)| (member.to_vec(), score_text(score)))
                .collect(),
        ),
        Value::Hash(hash) => {
            let mut pairs: Vec<(Vec<u8>, Vec<u8>)> =
                hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            pairs.sort();
            Canonical::Hash(pairs)
        }
    }
}

/// AUX fields in file order.
pub type AuxFields = Vec<(Vec<u8>, Vec<u8>)>;

/// Everything an RDB payload holds, read with [`petrel_sync::RdbReader`].
pub fn dataset_of_rdb(payload: &[u8]) -> (Dataset, AuxFields) {
    let mut reader = petrel_sync::RdbReader::new(payload).expect("an RDB header");
    let mut dataset = Dataset::new();
    let mut aux = Vec::new();
    while let Some(item) = reader.next_item().expect("a valid RDB item") {
        match item {
            petrel_sync::RdbItem::Aux { key, value } => aux.push((key.to_vec(), value.to_vec())),
            petrel_sync::RdbItem::SelectDb(_) => {}
            petrel_sync::RdbItem::Entry { db, key, entry } => {
                let previous = dataset.insert(
                    (db, key.to_vec()),
                    (
                        canonical_of_value(&entry.value),
                        entry.expires_at_ms.is_some(),
                    ),
                );
                assert!(previous.is_none(), "a key appears twice in the RDB");
            }
        }
    }
    assert_eq!(reader.consumed(), payload.len(), "bytes after the checksum");
    (dataset, aux)
}

fn bulk(frame: &Frame) -> Vec<u8> {
    match frame {
        Frame::Bulk(bytes) | Frame::Simple(bytes) => bytes.to_vec(),
        Frame::Integer(number) => number.to_string().into_bytes(),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn array(frame: Frame) -> Vec<Frame> {
    match frame {
        Frame::Array(items) => items,
        other => panic!("expected an array, got {other:?}"),
    }
}

/// Everything a server holds in databases `dbs`, read with commands.
pub fn dataset_of_server(client: &mut Client, dbs: &[u64]) -> Dataset {
    let mut dataset = Dataset::new();
    for &db in dbs {
        client.ok(&["SELECT", &db.to_string()]);
        let keys = array(client.query(&["KEYS", "*"]));
        for key in keys {
            let key = bulk(&key);
            let kind = bulk(&client.query(&[b"TYPE".as_slice(), &key]));
            let value = match kind.as_slice() {
                b"string" => Canonical::String(bulk(&client.query(&[b"GET".as_slice(), &key]))),
                b"list" => Canonical::List(
                    array(client.query(&[b"LRANGE".as_slice(), &key, b"0", b"-1"]))
                        .iter()
                        .map(bulk)
                        .collect(),
                ),
                b"set" => {
                    let mut members: Vec<Vec<u8>> =
                        array(client.query(&[b"SMEMBERS".as_slice(), &key]))
                            .iter()
                            .map(bulk)
                            .collect();
                    members.sort();
                    Canonical::Set(members)
                }
                b"zset" => {
                    let flat = array(client.query(&[
                        b"ZRANGE".as_slice(),
                        &key,
                        b"0",
                        b"-1",
                        b"WITHSCORES",
                    ]));
                    Canonical::ZSet(
                        flat.chunks(2)
                            .map(|pair| {
                                let score: f64 = String::from_utf8_lossy(&bulk(&pair[1]))
                                    .parse()
                                    .expect("a score");
                                (bulk(&pair[0]), score_text(score))
                            })
                            .collect(),
                    )
                }
                b"hash" => {
                    let flat = array(client.query(&[b"HGETALL".as_slice(), &key]));
                    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = flat
                        .chunks(2)
                        .map(|pair| (bulk(&pair[0]), bulk(&pair[1])))
                        .collect();
                    pairs.sort();
                    Canonical::Hash(pairs)
                }
                other => panic!("unexpected type {}", String::from_utf8_lossy(other)),
            };
            let ttl = match client.query(&[b"PTTL".as_slice(), &key]) {
                Frame::Integer(ttl) => ttl,
                other => panic!("PTTL answered {other:?}"),
            };
            dataset.insert((db, key), (value, ttl >= 0));
        }
    }
    client.ok(&["SELECT", "0"]);
    dataset
}
