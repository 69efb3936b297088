//! Proves SLOWLOG as monitoring tools and operators read it: with every
//! command logged, entries come newest first with their arguments
//! (shortened as Redis shortens them), the client's address and name; LEN
//! and RESET; Redis's errors; at the default threshold fast commands are
//! not logged; and commands run on either data thread are found. Runs
//! against redis-server too (its threshold set with CONFIG SET).

use petrel_e2e::{
    key_on_shard, query, query_error, skip_under_redis, Config, RawConn, Reply, Server, Target,
};

/// A server that logs every command: Petrel from its config file,
/// redis-server through CONFIG SET.
fn logging_everything(config: Config) -> Server {
    let server = Server::start(config.node_key("slowlog_log_slower_than", "0"));
    if server.target() == Target::Redis {
        let _: () = query(
            &mut server.client(),
            &["CONFIG", "SET", "slowlog-log-slower-than", "0"],
        );
    }
    server
}

/// One SLOWLOG GET entry's fields after the timestamp: (id, duration,
/// arguments, client address, client name).
type Entry = (i64, i64, Vec<String>, String, String);

fn entries(connection: &mut RawConn, count: &str) -> Vec<Entry> {
    let Reply::Array(items) = connection.command(&["SLOWLOG", "GET", count]) else {
        panic!("SLOWLOG GET answers an array");
    };
    items
        .into_iter()
        .map(|item| {
            let Reply::Array(fields) = item else {
                panic!("an entry is an array: {item:?}")
            };
            let integer = |reply: &Reply| match reply {
                Reply::Integer(value) => *value,
                other => panic!("an integer field: {other:?}"),
            };
            let text = |reply: &Reply| reply.as_text().expect("a text field");
            let Reply::Array(args) = &fields[3] else {
                panic!("the arguments are an array: {fields:?}")
            };
            assert_eq!(fields.len(), 6, "{fields:?}");
            assert!(integer(&fields[1]) > 1_700_000_000, "a Unix timestamp");
            (
                integer(&fields[0]),
                integer(&fields[2]),
                args.iter().map(text).collect(),
                text(&fields[4]),
                text(&fields[5]),
            )
        })
        .collect()
}

// A named client's commands are logged newest first, with their
// arguments, a long value shortened as Redis shortens it, the client's
// address and name; LEN counts them and RESET empties the log.
#[test]
fn commands_are_logged_with_their_client() {
    let server = logging_everything(Config::new());
    let mut connection = server.raw();
    let _ = connection.command(&["SLOWLOG", "RESET"]);
    assert_eq!(
        connection.command(&["CLIENT", "SETNAME", "reporter"]),
        Reply::simple("OK")
    );
    let value = "x".repeat(200);
    assert_eq!(
        connection.command(&["SET", "k", &value]),
        Reply::simple("OK")
    );
    assert_eq!(connection.command(&["GET", "missing"]), Reply::Nil);
    let address = connection.local_address();

    let logged: Vec<Entry> = entries(&mut connection, "-1")
        .into_iter()
        .filter(|(_, _, args, _, _)| args[0] == "SET" || args[0] == "GET")
        .collect();
    assert_eq!(logged.len(), 2, "{logged:?}");
    let (get, set) = (&logged[0], &logged[1]);
    assert!(get.0 > set.0, "newest first: {logged:?}");
    assert_eq!(get.2, ["GET", "missing"]);
    assert_eq!(
        set.2,
        [
            "SET".to_string(),
            "k".to_string(),
            format!("{}... (72 more bytes)", "x".repeat(128))
        ]
    );
    for entry in [get, set] {
        assert_eq!(
            (entry.3.as_str(), entry.4.as_str()),
            (address.as_str(), "reporter")
        );
        assert!(entry.1 >= 0);
    }
    assert_eq!(entries(&mut connection, "1").len(), 1);
    assert!(matches!(connection.command(&["SLOWLOG", "LEN"]), Reply::Integer(n) if n >= 2));
    assert_eq!(
        connection.command(&["SLOWLOG", "RESET"]),
        Reply::simple("OK")
    );
    assert!(
        entries(&mut connection, "-1")
            .iter()
            .all(|(_, _, args, _, _)| args[0] != "SET" && args[0] != "GET"),
        "RESET empties the log"
    );

    let mut client = server.client();
    assert_eq!(
        query_error(&mut client, &["SLOWLOG", "GET", "-2"]),
        "ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        query_error(&mut client, &["SLOWLOG", "LEN", "x"]),
        "ERR wrong number of arguments for 'slowlog|len' command"
    );
    assert_eq!(
        query_error(&mut client, &["SLOWLOG", "BOGUS"]),
        "ERR unknown subcommand 'BOGUS'. Try SLOWLOG HELP."
    );
}

// At Redis's default threshold (10 ms) quick commands are not logged, and
// CONFIG GET reports the settings in force.
#[test]
fn quick_commands_stay_out_at_the_default_threshold() {
    let server = Server::start(Config::new());
    let mut connection = server.raw();
    let _ = connection.command(&["SLOWLOG", "RESET"]);
    for index in 0..50 {
        let _ = connection.command(&["SET", &format!("k{index}"), "v"]);
    }
    assert_eq!(connection.command(&["SLOWLOG", "LEN"]), Reply::Integer(0));
    let settings: Vec<String> = query(
        &mut server.client(),
        &["CONFIG", "GET", "slowlog-log-slower-than"],
    );
    assert_eq!(settings, ["slowlog-log-slower-than", "10000"]);
}

// Petrel: commands whose keys live on either data thread are logged by the
// thread that ran them, under the client's address, and come back merged,
// newest first; a negative threshold logs nothing.
#[test]
fn both_threads_commands_merge_in_order() {
    if skip_under_redis("Petrel's data threads") {
        return;
    }
    let server = logging_everything(Config::new().data_cores(2));
    let mut connection = server.raw();
    let keys: Vec<String> = (0..6)
        .map(|index| key_on_shard("k", index % 2, 2))
        .collect();
    for (index, key) in keys.iter().enumerate() {
        let _ = connection.command(&["SET", key, &index.to_string()]);
    }
    let address = connection.local_address();
    let newest = entries(&mut connection, "6");
    assert!(
        newest.iter().all(|entry| entry.3 == address),
        "every entry names the client, whichever thread ran it: {newest:?}"
    );
    let logged: Vec<Vec<String>> = newest.into_iter().map(|(_, _, args, _, _)| args).collect();
    let expected: Vec<Vec<String>> = keys
        .iter()
        .enumerate()
        .rev()
        .map(|(index, key)| vec!["SET".into(), key.clone(), index.to_string()])
        .collect();
    assert_eq!(logged, expected);

    let quiet = Server::start(Config::new().node_key("slowlog_log_slower_than", "-1"));
    let mut connection = quiet.raw();
    let _ = connection.command(&["SET", "k", "v"]);
    assert_eq!(connection.command(&["SLOWLOG", "LEN"]), Reply::Integer(0));
    let settings: Vec<String> = query(&mut quiet.client(), &["CONFIG", "GET", "slowlog-*"]);
    assert_eq!(
        settings,
        ["slowlog-log-slower-than", "-1", "slowlog-max-len", "128"]
    );
}
