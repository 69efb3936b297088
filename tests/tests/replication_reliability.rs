//! Replication under load and faults: 100,000 writes through a Petrel
//! source while a replica syncs and its link is cut again and again (during
//! the full sync and during streaming), and a destination that restarts.
//! Each time, once the replica reports itself in sync, it holds exactly
//! what the source holds, key by key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use petrel_e2e::dataset::{dump, first_difference};
use petrel_e2e::{query, wait_until, Config, Database, Server, Target};

const PRELOAD_KEYS: usize = 50_000;
const LOAD_WRITES: usize = 100_000;

fn info_field(connection: &mut redis::Connection, field: &str) -> Option<String> {
    let text: String = query(connection, &["INFO", "replication"]);
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .map(|value| value.trim().to_string())
}

fn wait_in_sync(source: &mut redis::Connection, replica: &mut redis::Connection) {
    wait_until(Duration::from_secs(60), "the replica caught up", || {
        info_field(replica, "master_link_status").as_deref() == Some("up")
            && info_field(source, "master_repl_offset") == info_field(replica, "slave_repl_offset")
    });
}

fn preload(connection: &mut redis::Connection) {
    for start in (0..PRELOAD_KEYS).step_by(5000) {
        let mut pipe = redis::pipe();
        for i in start..start + 5000 {
            pipe.cmd("SET")
                .arg(format!("key:{i}"))
                .arg(format!("initial-{i}"))
                .ignore();
            if i % 50 == 0 {
                pipe.cmd("RPUSH")
                    .arg(format!("list:{i}"))
                    .arg(&["a", "b"][..])
                    .ignore();
                pipe.cmd("HSET")
                    .arg(format!("hash:{i}"))
                    .arg(&["f", "v"][..])
                    .ignore();
            }
        }
        let () = pipe
            .query(connection)
            .unwrap_or_else(|error| panic!("preload: {error}"));
    }
}

/// 100,000 writes in pipelined batches: overwrites of preloaded keys (some
/// before and some after a snapshot reaches them), new keys, counters,
/// list pushes, hash fields and deletes.
fn write_load(url: String, done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut connection = petrel_e2e::connect_url(&url);
        for batch in 0..LOAD_WRITES / 1000 {
            let mut pipe = redis::pipe();
            for j in 0..1000 {
                let n = batch * 1000 + j;
                match n % 5 {
                    0 => pipe
                        .cmd("SET")
                        .arg(format!("key:{}", (n * 7919) % PRELOAD_KEYS))
                        .arg(n),
                    1 => pipe.cmd("INCR").arg(format!("counter:{}", n % 100)),
                    2 => pipe
                        .cmd("RPUSH")
                        .arg(format!("list:{}", (n % 1000) * 50))
                        .arg(n),
                    3 => pipe
                        .cmd("HSET")
                        .arg(format!("hash:{}", (n % 1000) * 50))
                        .arg(n % 7)
                        .arg(n),
                    _ => pipe
                        .cmd("DEL")
                        .arg(format!("key:{}", (n * 104729) % PRELOAD_KEYS)),
                }
                .ignore();
            }
            let () = pipe
                .query(&mut connection)
                .unwrap_or_else(|error| panic!("write load: {error}"));
        }
        done.store(true, Ordering::SeqCst);
    })
}

// A redis-server replica joins while 100,000 writes run; its link is cut
// every 150 ms meanwhile (so during the full sync and during the stream).
// Once the writes stop and the replica is in sync, the datasets are equal.
#[test]
fn writes_and_link_cuts_during_a_full_sync_lose_nothing() {
    let petrel = Server::start_target(Target::Petrel, Config::new().data_cores(2));
    let mut source = petrel.client();
    preload(&mut source);

    let redis = Server::start_target(Target::Redis, Config::new());
    let mut replica = redis.client();
    let done = Arc::new(AtomicBool::new(false));
    let writer = write_load(petrel.url(), done.clone());
    let _: () = query(
        &mut replica,
        &["REPLICAOF", "127.0.0.1", &petrel.port().to_string()],
    );
    let mut cuts = 0;
    while !done.load(Ordering::SeqCst) || cuts < 5 {
        std::thread::sleep(Duration::from_millis(150));
        let _: i64 = query(&mut replica, &["CLIENT", "KILL", "TYPE", "master"]);
        cuts += 1;
    }
    writer.join().expect("the write load finished");
    wait_in_sync(&mut source, &mut replica);
    let expected = dump(&mut source);
    assert!(expected.len() > PRELOAD_KEYS / 2);
    assert_eq!(first_difference(&expected, &dump(&mut replica)), None);
}

// A Petrel destination that restarts comes back with the whole dataset,
// including what the source took while it was down.
#[test]
fn a_restarted_destination_catches_up() {
    let petrel_source = Server::start_target(Target::Petrel, Config::new());
    let mut source = petrel_source.client();
    preload(&mut source);
    let uri = format!("redis://127.0.0.1:{}", petrel_source.port());
    let replica_config = Config::new()
        .databases(vec![Database::new("replica")
            .extra("replica_sources", &format!("[ {{ uri = \"{uri}\" }} ]"))]);

    let first = Server::start_target(Target::Petrel, replica_config.clone());
    let mut replica = first.client();
    wait_in_sync(&mut source, &mut replica);
    drop(replica);
    drop(first);

    let done = Arc::new(AtomicBool::new(false));
    write_load(petrel_source.url(), done)
        .join()
        .expect("the write load finished");
    let second = Server::start_target(Target::Petrel, replica_config);
    let mut replica = second.client();
    wait_in_sync(&mut source, &mut replica);
    assert_eq!(
        first_difference(&dump(&mut source), &dump(&mut replica)),
        None
    );
}
