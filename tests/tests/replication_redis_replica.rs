//! A real redis-server 7.0 replicates from Petrel: `REPLICAOF` a Petrel
//! database, full sync of every type, then the command stream, then a
//! partial resync after the link drops; checked key by key. And
//! `redis-cli --rdb` saves a snapshot that redis-server loads.

use std::time::Duration;

use petrel_e2e::dataset::{dump, first_difference};
use petrel_e2e::{query, wait_until, Config, Server, Target};

fn info_field(connection: &mut redis::Connection, section: &str, field: &str) -> Option<String> {
    let text: String = query(connection, &["INFO", section]);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_string())
}

fn load(connection: &mut redis::Connection, prefix: &str, count: usize) {
    let mut pipe = redis::pipe();
    for i in 0..count {
        pipe.cmd("SET")
            .arg(format!("{prefix}:s:{i}"))
            .arg(format!("value-{i}"))
            .ignore();
        if i % 10 == 0 {
            pipe.cmd("RPUSH")
                .arg(format!("{prefix}:l:{i}"))
                .arg(&["a", "1", "-7", "long element"][..])
                .ignore();
            pipe.cmd("HSET")
                .arg(format!("{prefix}:h:{i}"))
                .arg(&["f", "v", "n", "12"][..])
                .ignore();
            pipe.cmd("SADD")
                .arg(format!("{prefix}:set:{i}"))
                .arg(&["1", "2", "x"][..])
                .ignore();
            pipe.cmd("ZADD")
                .arg(format!("{prefix}:z:{i}"))
                .arg(&["1.5", "a", "-3", "b"][..])
                .ignore();
            pipe.cmd("SET")
                .arg(format!("{prefix}:ttl:{i}"))
                .arg("t")
                .arg("EX")
                .arg(3600)
                .ignore();
        }
    }
    let () = pipe
        .query(connection)
        .unwrap_or_else(|error| panic!("loading failed: {error}"));
}

/// Waits until the replica has applied everything the source produced.
fn wait_in_sync(source: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_until(Duration::from_secs(20), "the replica caught up", || {
        let link = info_field(replica, "replication", "master_link_status");
        let source_offset = info_field(source, "replication", "master_repl_offset");
        let replica_offset = info_field(replica, "replication", "slave_repl_offset");
        link.as_deref() == Some("up") && source_offset.is_some() && source_offset == replica_offset
    });
}

// Full sync of strings, lists, hashes, sets, sorted sets and deadlines,
// then the stream (including SPOP, INCRBYFLOAT, a cross-shard RENAME and
// relative expiries, which must reach the replica as their effect), then a dropped link that
// resumes with a partial resync: the replica holds exactly Petrel's data
// each time, and Petrel's INFO shows the replica online.
#[test]
fn redis_replicates_from_petrel() {
    let petrel = Server::start_target(Target::Petrel, Config::new().data_cores(2));
    let mut source = petrel.client();
    load(&mut source, "before", 2000);

    let redis = Server::start_target(Target::Redis, Config::new());
    let mut replica = redis.client();
    let _: () = query(
        &mut replica,
        &["REPLICAOF", "127.0.0.1", &petrel.port().to_string()],
    );
    // Writes while the replica joins go through the window or the backlog.
    load(&mut source, "during", 500);
    wait_in_sync(&mut source, &mut replica);
    let expected = dump(&mut source);
    assert_eq!(expected.len(), 2000 + 5 * 200 + 500 + 5 * 50);
    let replicated = dump(&mut replica);
    assert_eq!(first_difference(&expected, &replicated), None);

    let _: () = query(&mut source, &["SADD", "pool", "a", "b", "c", "d"]);
    let _: redis::Value = query(&mut source, &["SPOP", "pool"]);
    let _: redis::Value = query(&mut source, &["SPOP", "pool", "2"]);
    let _: String = query(&mut source, &["INCRBYFLOAT", "float", "0.1"]);
    let _: String = query(&mut source, &["INCRBYFLOAT", "float", "2.5e3"]);
    for i in 0..50 {
        let _: () = query(
            &mut source,
            &["RENAME", &format!("before:s:{i}"), &format!("moved:{i}")],
        );
    }
    let _: i64 = query(&mut source, &["DEL", "before:l:0", "before:h:10"]);
    let _: i64 = query(&mut source, &["LPUSH", "before:l:20", "pushed"]);
    let _: String = query(&mut source, &["ZINCRBY", "before:z:30", "5", "a"]);
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );

    // Relative expiries reach the replica as the source's absolute deadline.
    let _: () = query(&mut source, &["SET", "ex", "v", "EX", "100"]);
    let _: () = query(&mut source, &["SETEX", "setex", "200", "v"]);
    let _: () = query(&mut source, &["SET", "px", "v"]);
    let _: i64 = query(&mut source, &["PEXPIRE", "px", "300000"]);
    let _: () = query(&mut source, &["SET", "getex", "v"]);
    let _: String = query(&mut source, &["GETEX", "getex", "EX", "400"]);
    wait_in_sync(&mut source, &mut replica);
    for key in ["ex", "setex", "px", "getex"] {
        let at_source: i64 = query(&mut source, &["PEXPIRETIME", key]);
        let at_replica: i64 = query(&mut replica, &["PEXPIRETIME", key]);
        assert!(at_source > 0, "{key} has no deadline");
        assert_eq!(at_source, at_replica, "{key}'s deadline");
    }

    // A key the source expires leaves the replica's memory too (a DEL is
    // streamed; a Redis replica never expires keys by itself, and its
    // DBSIZE counts them until then).
    let without: i64 = query(&mut replica, &["DBSIZE"]);
    let _: () = query(&mut source, &["SET", "short-lived", "v", "PX", "1500"]);
    wait_until(Duration::from_secs(5), "the replica got the key", || {
        query::<i64>(&mut replica, &["DBSIZE"]) == without + 1
    });
    wait_until(
        Duration::from_secs(5),
        "the replica dropped the expired key",
        || query::<i64>(&mut replica, &["DBSIZE"]) == without,
    );

    assert_eq!(
        info_field(&mut source, "replication", "role").as_deref(),
        Some("master")
    );
    assert_eq!(
        info_field(&mut source, "replication", "connected_slaves").as_deref(),
        Some("1")
    );
    let slave = info_field(&mut source, "replication", "slave0").unwrap_or_default();
    assert!(slave.contains("state=online"), "{slave}");
    // ROLE says the same in Redis's shape: the offset, then the online
    // replica by address, listening port and acknowledged offset.
    let offset: i64 = info_field(&mut source, "replication", "master_repl_offset")
        .and_then(|text| text.parse().ok())
        .expect("master_repl_offset");
    let (role, role_offset, replicas): (String, i64, Vec<(String, String, String)>) =
        query(&mut source, &["ROLE"]);
    assert_eq!((role.as_str(), role_offset), ("master", offset));
    assert_eq!(
        replicas,
        [(
            "127.0.0.1".to_string(),
            redis.port().to_string(),
            offset.to_string()
        )]
    );
    let (role, host, port, state, _): (String, String, u16, String, i64) =
        query(&mut replica, &["ROLE"]);
    assert_eq!(
        (role.as_str(), host.as_str(), port, state.as_str()),
        ("slave", "127.0.0.1", petrel.port(), "connected")
    );

    // Drop the link: the replica comes back with PSYNC and continues.
    let replid_before = info_field(&mut source, "replication", "master_replid");
    let _: i64 = query(&mut replica, &["CLIENT", "KILL", "TYPE", "master"]);
    load(&mut source, "after-drop", 100);
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );
    assert_eq!(
        info_field(&mut source, "replication", "master_replid"),
        replid_before
    );
    assert!(
        redis
            .logs()
            .contains("Successful partial resynchronization with master"),
        "the replica resynced fully:\n{}",
        redis.logs()
    );

    // From the source's side: CLIENT KILL TYPE replica closes the link;
    // the replica reconnects and resumes with a partial resync again.
    let closed: i64 = query(&mut source, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(closed, 1);
    load(&mut source, "after-kill", 100);
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );
    let partial_resyncs = redis
        .logs()
        .matches("Successful partial resynchronization with master")
        .count();
    assert_eq!(partial_resyncs, 2, "{}", redis.logs());
}

/// A redis-server of the test's own, killed when dropped.
struct LoadedRedis {
    child: std::process::Child,
    port: u16,
}

impl LoadedRedis {
    /// Starts redis-server on `rdb` and waits until it has loaded it.
    fn start(rdb: &std::path::Path) -> LoadedRedis {
        let port = petrel_e2e::free_port();
        let dir = rdb.parent().expect("the RDB file's directory");
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--dbfilename")
            .arg(rdb.file_name().expect("the RDB file's name"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server on the dumped RDB");
        let loaded = LoadedRedis { child, port };
        wait_until(
            Duration::from_secs(10),
            "redis-server to load the RDB",
            || {
                redis::Client::open(format!("redis://127.0.0.1:{port}/"))
                    .and_then(|client| client.get_connection())
                    .and_then(|mut connection| redis::cmd("PING").query::<String>(&mut connection))
                    .is_ok()
            },
        );
        loaded
    }
}

impl Drop for LoadedRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// `redis-cli --rdb` (REPLCONF rdb-only, then the old SYNC) saves a snapshot
// of a Petrel database: redis-cli reports success, redis-check-rdb accepts
// the file, and a redis-server loaded from it holds the same keys. The old
// SYNC gets the snapshot first, without the +FULLRESYNC line PSYNC gets.
#[test]
fn redis_cli_rdb_saves_a_snapshot_redis_loads() {
    let source = Server::start(Config::new());
    let mut connection = source.client();
    load(&mut connection, "dumped", 300);
    let expected = dump(&mut connection);

    let dir = petrel_e2e::fresh_dir();
    let rdb = dir.join("snapshot.rdb");
    let saved = source.redis_cli(&["--rdb", &rdb.display().to_string()], None);
    assert!(
        saved.status.success() && saved.stderr.contains("Transfer finished with success"),
        "{saved:?}"
    );
    let checked = petrel_e2e::run_tool(
        "redis-check-rdb",
        &[&rdb.display().to_string()],
        None,
        petrel_e2e::IO_TIMEOUT,
    );
    assert!(
        checked.stdout.contains("RDB looks OK"),
        "redis-check-rdb: {checked:?}"
    );
    let loaded = LoadedRedis::start(&rdb);
    let mut reloaded = redis::Client::open(format!("redis://127.0.0.1:{}/", loaded.port))
        .and_then(|client| client.get_connection())
        .expect("connect to the loaded redis-server");
    assert_eq!(first_difference(&expected, &dump(&mut reloaded)), None);
    drop(loaded);
    let _ = std::fs::remove_dir_all(&dir);

    let mut raw = std::net::TcpStream::connect(("127.0.0.1", source.port())).expect("connect");
    raw.set_read_timeout(Some(petrel_e2e::IO_TIMEOUT))
        .expect("set a read timeout");
    std::io::Write::write_all(&mut raw, b"SYNC\r\n").expect("send SYNC");
    let mut first = [0u8; 1];
    loop {
        std::io::Read::read_exact(&mut raw, &mut first).expect("the snapshot's first byte");
        if first[0] != b'\n' {
            break;
        }
    }
    assert_eq!(
        first[0] as char, '$',
        "after SYNC the snapshot's bulk header comes first"
    );
}
