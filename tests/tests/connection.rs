//! Proves that the connection and server commands of the engine issue (PING
//! ECHO HELLO AUTH SELECT QUIT RESET CLIENT COMMAND CONFIG INFO DBSIZE TIME,
//! unknown commands) answer as Redis 7 does, by starting a server and
//! driving it with the redis crate, a raw socket for byte-exact RESP2/RESP3
//! replies, and the redis-cli binary.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use petrel_e2e::{query, query_error, skip_under_redis, wait_until, Config, Reply, Server};
use redis::Value;

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// The fields of a HELLO reply (RESP2 array or RESP3 map) by name.
fn hello_fields(reply: &Reply) -> HashMap<String, Reply> {
    let pairs: Vec<(Reply, Reply)> = match reply {
        Reply::Map(pairs) => pairs.clone(),
        Reply::Array(items) => items
            .chunks(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect(),
        other => panic!("HELLO answered {other:?}"),
    };
    pairs
        .into_iter()
        .map(|(key, value)| (key.as_text().expect("HELLO field names are strings"), value))
        .collect()
}

// PING answers PONG or echoes its argument; ECHO echoes; wrong arity is
// Redis's error.
#[test]
fn ping_and_echo() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<String>(&mut con, &["PING"]), "PONG");
    assert_eq!(
        query::<String>(&mut con, &["PING", "hello there"]),
        "hello there"
    );
    assert_eq!(
        query::<String>(&mut con, &["ECHO", "some text"]),
        "some text"
    );
    assert_eq!(
        query_error(&mut con, &["PING", "a", "b"]),
        "ERR wrong number of arguments for 'ping' command"
    );
    assert_eq!(
        query_error(&mut con, &["ECHO"]),
        "ERR wrong number of arguments for 'echo' command"
    );
    let mut raw = server.raw();
    raw.send(b"PING\r\n");
    assert_eq!(raw.read_reply_bytes(), b"+PONG\r\n");
    raw.send_command(&["PING", "x"]);
    assert_eq!(raw.read_reply_bytes(), b"$1\r\nx\r\n");
}

// HELLO 3 answers a `%` map and switches the connection to RESP3 (a missing
// key is `_`); HELLO 2 answers a flat array and switches back; an unknown
// version answers NOPROTO; SETNAME names the connection.
#[test]
fn hello_switches_between_resp2_and_resp3() {
    let server = Server::start_default();
    let mut raw = server.raw();

    raw.send_command(&["HELLO", "3"]);
    let bytes = raw.read_reply_bytes();
    assert_eq!(
        bytes.first(),
        Some(&b'%'),
        "HELLO 3 reply: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    let (reply, _) = petrel_e2e::parse_reply(&bytes)
        .expect("parse HELLO 3")
        .expect("whole reply");
    let fields = hello_fields(&reply);
    assert_eq!(fields.get("proto"), Some(&Reply::Integer(3)));
    assert!(fields.contains_key("server"), "{fields:?}");
    assert!(fields.contains_key("version"), "{fields:?}");
    assert!(
        matches!(fields.get("id"), Some(Reply::Integer(_))),
        "{fields:?}"
    );
    assert!(fields.contains_key("mode"), "{fields:?}");
    assert!(fields.contains_key("role"), "{fields:?}");
    assert!(fields.contains_key("modules"), "{fields:?}");

    raw.send_command(&["GET", "missing"]);
    assert_eq!(raw.read_reply_bytes(), b"_\r\n");
    raw.send_command(&["SET", "k", "v"]);
    assert_eq!(raw.read_reply_bytes(), b"+OK\r\n");
    raw.send_command(&["GET", "k"]);
    assert_eq!(raw.read_reply_bytes(), b"$1\r\nv\r\n");

    raw.send_command(&["HELLO", "2"]);
    let bytes = raw.read_reply_bytes();
    assert_eq!(
        bytes.first(),
        Some(&b'*'),
        "HELLO 2 reply: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    let (reply, _) = petrel_e2e::parse_reply(&bytes)
        .expect("parse HELLO 2")
        .expect("whole reply");
    assert_eq!(hello_fields(&reply).get("proto"), Some(&Reply::Integer(2)));
    raw.send_command(&["GET", "missing"]);
    assert_eq!(raw.read_reply_bytes(), b"$-1\r\n");

    raw.send_command(&["HELLO", "4"]);
    assert_eq!(
        raw.read_reply(),
        Reply::Error("NOPROTO unsupported protocol version".into())
    );
    raw.send_command(&["HELLO", "abc"]);
    assert_eq!(
        raw.read_reply(),
        Reply::Error("ERR Protocol version is not an integer or out of range".into())
    );

    raw.send_command(&["HELLO", "3", "SETNAME", "hello-name"]);
    assert!(matches!(raw.read_reply(), Reply::Map(_)));
    assert_eq!(
        raw.command(&["CLIENT", "GETNAME"]),
        Reply::bulk("hello-name")
    );
    // With no version, HELLO reports the current protocol without changing it.
    raw.send_command(&["HELLO"]);
    let (reply, _) = petrel_e2e::parse_reply(&raw.read_reply_bytes())
        .expect("parse HELLO")
        .expect("whole reply");
    assert_eq!(hello_fields(&reply).get("proto"), Some(&Reply::Integer(3)));
}

// A redis crate client that asks for RESP3 gets a map from HELLO and nil
// for a missing key.
#[test]
fn resp3_through_the_redis_crate() {
    let server = Server::start_default();
    let mut con = server.client_resp3();
    assert_eq!(query::<Value>(&mut con, &["GET", "missing"]), Value::Nil);
    assert_eq!(query::<Value>(&mut con, &["SET", "k", "v"]), Value::Okay);
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "v");
    match query::<Value>(&mut con, &["HELLO", "3"]) {
        Value::Map(pairs) => {
            let proto = pairs
                .iter()
                .find(|(key, _)| *key == Value::BulkString(b"proto".to_vec()))
                .map(|(_, value)| value.clone());
            assert_eq!(proto, Some(Value::Int(3)));
        }
        other => panic!("HELLO 3 over RESP3 answered {other:?}"),
    }
}

// With a password configured, every command but AUTH/HELLO answers NOAUTH
// until the client authenticates; a bad password answers WRONGPASS.
#[test]
fn auth_with_a_configured_password() {
    let server = Server::start(Config::new().password("s3cret"));
    let mut raw = server.raw();
    assert_eq!(raw.command(&["PING"]), Reply::Error(NOAUTH.into()));
    assert_eq!(raw.command(&["GET", "k"]), Reply::Error(NOAUTH.into()));
    assert_eq!(raw.command(&["SET", "k", "v"]), Reply::Error(NOAUTH.into()));
    assert_eq!(
        raw.command(&["AUTH", "wrong"]),
        Reply::Error(WRONGPASS.into())
    );
    assert_eq!(
        raw.command(&["AUTH", "default", "wrong"]),
        Reply::Error(WRONGPASS.into())
    );
    assert_eq!(
        raw.command(&["HELLO", "3", "AUTH", "default", "wrong"]),
        Reply::Error(WRONGPASS.into())
    );
    assert_eq!(raw.command(&["PING"]), Reply::Error(NOAUTH.into()));
    assert_eq!(raw.command(&["AUTH", "s3cret"]), Reply::simple("OK"));
    assert_eq!(raw.command(&["PING"]), Reply::simple("PONG"));
    assert_eq!(raw.command(&["SET", "k", "v"]), Reply::simple("OK"));
    assert_eq!(
        raw.command(&["AUTH", "default", "s3cret"]),
        Reply::simple("OK")
    );
    assert_eq!(
        raw.command(&["AUTH", "a", "b", "c"]),
        Reply::Error("ERR syntax error".into())
    );

    // HELLO with AUTH authenticates a fresh connection in one step.
    let mut other = server.raw();
    let reply = other.command(&["HELLO", "3", "AUTH", "default", "s3cret"]);
    assert!(
        matches!(reply, Reply::Map(_)),
        "HELLO 3 AUTH answered {reply:?}"
    );
    assert_eq!(other.command(&["GET", "k"]), Reply::bulk("v"));

    // The redis crate authenticates from the URL.
    let mut con = server.client();
    assert_eq!(query::<String>(&mut con, &["GET", "k"]), "v");
    let wrong = redis::Client::open(format!("redis://:nope@127.0.0.1:{}/", server.port()))
        .expect("url")
        .get_connection();
    assert!(wrong.is_err(), "a wrong password connected");

    // redis-cli with -a.
    let out = server.redis_cli(&["get", "k"], None);
    assert_eq!(out.stdout, "v\n", "{out:?}");
}

// AUTH on a database without a password answers Redis's exact hint.
#[test]
fn auth_without_a_password_configured() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(
        query_error(&mut con, &["AUTH", "x"]),
        "ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?"
    );
}

// SELECT 0 succeeds; SELECT 1 is refused, as on a clustered Redis (the
// reference runs redis-server with one database).
#[test]
fn select_only_database_zero() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<Value>(&mut con, &["SELECT", "0"]), Value::Okay);
    let error = query_error(&mut con, &["SELECT", "1"]);
    assert!(error.starts_with("ERR "), "SELECT 1 answered {error:?}");
    assert_eq!(
        query::<Value>(&mut con, &["SET", "still", "works"]),
        Value::Okay
    );
}

// QUIT answers +OK and the server closes the connection.
#[test]
fn quit_closes_the_connection() {
    let server = Server::start_default();
    let mut raw = server.raw();
    raw.send_command(&["QUIT"]);
    assert_eq!(raw.read_until_closed(), b"+OK\r\n");
    // In a pipeline, commands after QUIT are not run.
    let mut raw = server.raw();
    raw.send(b"PING\r\nQUIT\r\nSET after-quit 1\r\n");
    assert_eq!(raw.read_until_closed(), b"+PONG\r\n+OK\r\n");
    let mut con = server.client();
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "after-quit"]), 0);
}

// RESET answers +RESET and forgets the name, the protocol and the
// authentication of the connection.
#[test]
fn reset_restores_a_fresh_connection() {
    let server = Server::start(Config::new().password("pw"));
    let mut raw = server.raw();
    assert_eq!(raw.command(&["AUTH", "pw"]), Reply::simple("OK"));
    assert_eq!(
        raw.command(&["CLIENT", "SETNAME", "before"]),
        Reply::simple("OK")
    );
    assert!(matches!(raw.command(&["HELLO", "3"]), Reply::Map(_)));
    raw.send_command(&["RESET"]);
    assert_eq!(raw.read_reply_bytes(), b"+RESET\r\n");
    assert_eq!(raw.command(&["PING"]), Reply::Error(NOAUTH.into()));
    assert_eq!(raw.command(&["AUTH", "pw"]), Reply::simple("OK"));
    raw.send_command(&["CLIENT", "GETNAME"]);
    assert_eq!(
        raw.read_reply_bytes(),
        b"$-1\r\n",
        "name or RESP3 survived RESET"
    );
}

// CLIENT ID, SETNAME, GETNAME, LIST and INFO describe this connection as
// Redis does; SETNAME refuses spaces.
#[test]
fn client_subcommands() {
    let server = Server::start_default();
    let mut con = server.client();
    let id = query::<i64>(&mut con, &["CLIENT", "ID"]);
    assert!(id > 0);
    assert_eq!(query::<Value>(&mut con, &["CLIENT", "GETNAME"]), Value::Nil);
    assert_eq!(
        query::<Value>(&mut con, &["CLIENT", "SETNAME", "e2e-client"]),
        Value::Okay
    );
    assert_eq!(
        query::<String>(&mut con, &["CLIENT", "GETNAME"]),
        "e2e-client"
    );
    assert_eq!(
        query_error(&mut con, &["CLIENT", "SETNAME", "a b"]),
        "ERR Client names cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        query_error(&mut con, &["CLIENT", "NOSUCH"]),
        "ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP."
    );

    let mut other = server.client();
    assert_eq!(
        query::<Value>(&mut other, &["CLIENT", "SETNAME", "second"]),
        Value::Okay
    );
    let other_id = query::<i64>(&mut other, &["CLIENT", "ID"]);
    assert_ne!(id, other_id, "two connections share an id");

    let list = query::<String>(&mut con, &["CLIENT", "LIST"]);
    let lines: Vec<&str> = list.lines().collect();
    let mine = lines
        .iter()
        .find(|line| line.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("CLIENT LIST has no line for id={id}: {list}"));
    assert!(mine.contains(" name=e2e-client "), "{mine}");
    assert!(mine.contains(" addr=127.0.0.1:"), "{mine}");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with(&format!("id={other_id} "))
                && line.contains(" name=second ")),
        "CLIENT LIST misses the second connection: {list}"
    );

    let info = query::<String>(&mut con, &["CLIENT", "INFO"]);
    assert!(info.starts_with(&format!("id={id} ")), "{info}");
    assert!(info.contains(" name=e2e-client "), "{info}");
    assert_eq!(info.trim_end().lines().count(), 1, "{info}");

    if !skip_under_redis("CLIENT SETINFO arrived in Redis 7.2; Debian ships 7.0") {
        assert_eq!(
            query::<Value>(&mut con, &["CLIENT", "SETINFO", "LIB-NAME", "e2e"]),
            Value::Okay
        );
        assert_eq!(
            query::<Value>(&mut con, &["CLIENT", "SETINFO", "LIB-VER", "1.0"]),
            Value::Okay
        );
        let info = query::<String>(&mut con, &["CLIENT", "INFO"]);
        assert!(info.contains("lib-name=e2e"), "{info}");
        assert!(info.contains("lib-ver=1.0"), "{info}");
    }
}

/// Every command the engine issue lists, with the arity, first key, last
/// key and key step Redis's COMMAND INFO gives it.
const ISSUE_COMMANDS: &[(&str, i64, i64, i64, i64)] = &[
    ("ping", -1, 0, 0, 0),
    ("echo", 2, 0, 0, 0),
    ("hello", -1, 0, 0, 0),
    ("auth", -2, 0, 0, 0),
    ("select", 2, 0, 0, 0),
    ("quit", -1, 0, 0, 0),
    ("reset", 1, 0, 0, 0),
    ("client", -2, 0, 0, 0),
    ("command", -1, 0, 0, 0),
    ("config", -2, 0, 0, 0),
    ("info", -1, 0, 0, 0),
    ("dbsize", 1, 0, 0, 0),
    ("flushdb", -1, 0, 0, 0),
    ("flushall", -1, 0, 0, 0),
    ("time", 1, 0, 0, 0),
    ("del", -2, 1, -1, 1),
    ("unlink", -2, 1, -1, 1),
    ("exists", -2, 1, -1, 1),
    ("type", 2, 1, 1, 1),
    ("expire", -3, 1, 1, 1),
    ("pexpire", -3, 1, 1, 1),
    ("expireat", -3, 1, 1, 1),
    ("pexpireat", -3, 1, 1, 1),
    ("ttl", 2, 1, 1, 1),
    ("pttl", 2, 1, 1, 1),
    ("expiretime", 2, 1, 1, 1),
    ("pexpiretime", 2, 1, 1, 1),
    ("persist", 2, 1, 1, 1),
    ("rename", 3, 1, 2, 1),
    ("renamenx", 3, 1, 2, 1),
    ("keys", 2, 0, 0, 0),
    ("scan", -2, 0, 0, 0),
    ("randomkey", 1, 0, 0, 0),
    ("touch", -2, 1, -1, 1),
    ("get", 2, 1, 1, 1),
    ("set", -3, 1, 1, 1),
    ("setnx", 3, 1, 1, 1),
    ("setex", 4, 1, 1, 1),
    ("psetex", 4, 1, 1, 1),
    ("getset", 3, 1, 1, 1),
    ("getdel", 2, 1, 1, 1),
    ("getex", -2, 1, 1, 1),
    ("mget", -2, 1, -1, 1),
    ("mset", -3, 1, -1, 2),
    ("msetnx", -3, 1, -1, 2),
    ("append", 3, 1, 1, 1),
    ("strlen", 2, 1, 1, 1),
    ("incr", 2, 1, 1, 1),
    ("decr", 2, 1, 1, 1),
    ("incrby", 3, 1, 1, 1),
    ("decrby", 3, 1, 1, 1),
    ("incrbyfloat", 3, 1, 1, 1),
    ("getrange", 4, 1, 1, 1),
    ("setrange", 4, 1, 1, 1),
];

// COMMAND COUNT, INFO and DOCS describe every command of the issue with
// Redis's arity and key positions, and nil for an unknown command.
#[test]
fn command_count_info_docs() {
    let server = Server::start_default();
    let mut con = server.client();
    let count = query::<i64>(&mut con, &["COMMAND", "COUNT"]);
    assert!(
        count >= ISSUE_COMMANDS.len() as i64,
        "COMMAND COUNT is {count}"
    );

    let mut args = vec!["COMMAND", "INFO"];
    args.extend(ISSUE_COMMANDS.iter().map(|row| row.0));
    args.push("nosuchcommand");
    let infos = query::<Vec<Value>>(&mut con, &args);
    assert_eq!(infos.len(), ISSUE_COMMANDS.len() + 1);
    for (info, (name, arity, first, last, step)) in infos.iter().zip(ISSUE_COMMANDS) {
        let Value::Array(fields) = info else {
            panic!("COMMAND INFO {name} answered {info:?}");
        };
        assert!(fields.len() >= 6, "COMMAND INFO {name}: {fields:?}");
        assert_eq!(
            fields[0],
            Value::BulkString(name.as_bytes().to_vec()),
            "name of {name}"
        );
        assert_eq!(fields[1], Value::Int(*arity), "arity of {name}");
        assert!(
            matches!(fields[2], Value::Array(_)),
            "flags of {name}: {:?}",
            fields[2]
        );
        assert_eq!(
            (&fields[3], &fields[4], &fields[5]),
            (&Value::Int(*first), &Value::Int(*last), &Value::Int(*step)),
            "key positions of {name}"
        );
    }
    assert_eq!(infos.last(), Some(&Value::Nil));

    // COMMAND alone lists one entry per command; COMMAND DOCS alone gives
    // docs for every command (redis-cli loads its hints that way).
    let listed = query::<Vec<Value>>(&mut con, &["COMMAND"]);
    assert_eq!(
        listed.len() as i64,
        count,
        "COMMAND and COMMAND COUNT disagree"
    );
    let listed_names: Vec<Value> = listed
        .iter()
        .filter_map(|entry| match entry {
            Value::Array(fields) => fields.first().cloned(),
            _ => None,
        })
        .collect();
    let all_docs = query::<Vec<Value>>(&mut con, &["COMMAND", "DOCS"]);
    assert_eq!(all_docs.len() % 2, 0, "COMMAND DOCS is not name/doc pairs");
    let doc_names: Vec<Value> = all_docs.iter().step_by(2).cloned().collect();
    for (name, ..) in ISSUE_COMMANDS {
        let name = Value::BulkString(name.as_bytes().to_vec());
        assert!(listed_names.contains(&name), "COMMAND misses {name:?}");
        assert!(doc_names.contains(&name), "COMMAND DOCS misses {name:?}");
    }

    let docs = query::<Value>(&mut con, &["COMMAND", "DOCS", "get"]);
    let Value::Array(pair) = docs else {
        panic!("COMMAND DOCS get answered {docs:?}");
    };
    assert_eq!(pair.len(), 2, "{pair:?}");
    assert_eq!(pair[0], Value::BulkString(b"get".to_vec()));
    let Value::Array(doc) = &pair[1] else {
        panic!("COMMAND DOCS get: doc is {:?}", pair[1]);
    };
    assert!(
        doc.contains(&Value::BulkString(b"summary".to_vec())),
        "COMMAND DOCS get has no summary: {doc:?}"
    );
}

// CONFIG GET answers the parameters redis-benchmark and other clients ask
// for, as name/value pairs, and an empty list for unknown ones.
#[test]
fn config_get_answers_client_parameters() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "save"]),
        vec!["save".to_owned(), String::new()]
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "appendonly"]),
        vec!["appendonly".to_owned(), "no".to_owned()]
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "maxmemory"]),
        vec!["maxmemory".to_owned(), "0".to_owned()]
    );
    assert!(query::<Vec<String>>(&mut con, &["CONFIG", "GET", "no-such-parameter"]).is_empty());
    assert_eq!(
        query_error(&mut con, &["CONFIG", "GET"]),
        "ERR wrong number of arguments for 'config|get' command"
    );
}

/// Checks that an INFO text is made of `# Section` headers and `field:value`
/// lines ended by CRLF, and returns its fields.
fn parse_info(text: &str) -> HashMap<String, String> {
    assert!(
        text.ends_with("\r\n"),
        "INFO does not end with CRLF: {text:?}"
    );
    let mut fields = HashMap::new();
    for line in text.split("\r\n") {
        if line.is_empty() || line.starts_with("# ") {
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("INFO line is not field:value: {line:?}"));
        assert!(
            !name.is_empty() && !name.contains(' '),
            "bad INFO field name {name:?}"
        );
        fields.insert(name.to_owned(), value.to_owned());
    }
    fields
}

fn info_number(fields: &HashMap<String, String>, name: &str) -> i64 {
    fields
        .get(name)
        .unwrap_or_else(|| panic!("INFO has no {name}: {fields:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("INFO {name} is not a number: {:?}", fields[name]))
}

// INFO answers the server, clients, memory, stats, keyspace and
// commandstats sections in Redis's format with the numbers a user expects.
#[test]
fn info_sections_are_well_formed() {
    let server = Server::start_default();
    let mut con = server.client();
    let _other = server.client();
    for key in ["a", "b", "c"] {
        assert_eq!(query::<Value>(&mut con, &["SET", key, "v"]), Value::Okay);
    }
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "c", "1000"]), 1);
    assert_eq!(query::<String>(&mut con, &["GET", "a"]), "v");

    let all = query::<String>(&mut con, &["INFO"]);
    for header in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"] {
        assert!(
            all.contains(&format!("{header}\r\n")),
            "INFO lacks {header}: {all}"
        );
    }
    parse_info(&all);

    let server_info = query::<String>(&mut con, &["INFO", "server"]);
    assert!(server_info.starts_with("# Server\r\n"), "{server_info}");
    let fields = parse_info(&server_info);
    assert!(fields.contains_key("redis_version"), "{fields:?}");
    assert_eq!(info_number(&fields, "tcp_port"), i64::from(server.port()));
    assert!(
        !all.contains("# Commandstats"),
        "INFO without argument includes commandstats"
    );

    let clients = parse_info(&query::<String>(&mut con, &["INFO", "clients"]));
    assert!(
        info_number(&clients, "connected_clients") >= 2,
        "{clients:?}"
    );

    let memory = parse_info(&query::<String>(&mut con, &["INFO", "memory"]));
    assert!(info_number(&memory, "used_memory") > 0, "{memory:?}");
    assert!(memory.contains_key("maxmemory"), "{memory:?}");

    let stats = parse_info(&query::<String>(&mut con, &["INFO", "stats"]));
    assert!(
        info_number(&stats, "total_commands_processed") >= 5,
        "{stats:?}"
    );
    assert!(
        info_number(&stats, "total_connections_received") >= 2,
        "{stats:?}"
    );

    let keyspace_text = query::<String>(&mut con, &["INFO", "keyspace"]);
    assert!(
        keyspace_text.starts_with("# Keyspace\r\n"),
        "{keyspace_text}"
    );
    let keyspace = parse_info(&keyspace_text);
    let db0 = keyspace
        .get("db0")
        .unwrap_or_else(|| panic!("INFO keyspace has no db0: {keyspace_text}"));
    assert!(
        db0.starts_with("keys=3,expires=1,avg_ttl="),
        "db0 line is {db0:?}"
    );

    let commandstats_text = query::<String>(&mut con, &["INFO", "commandstats"]);
    assert!(
        commandstats_text.starts_with("# Commandstats\r\n"),
        "{commandstats_text}"
    );
    let commandstats = parse_info(&commandstats_text);
    let set = commandstats
        .get("cmdstat_set")
        .unwrap_or_else(|| panic!("no cmdstat_set: {commandstats_text}"));
    assert!(set.starts_with("calls=3,usec="), "cmdstat_set is {set:?}");
    assert!(set.contains(",usec_per_call="), "cmdstat_set is {set:?}");
    let get = commandstats
        .get("cmdstat_get")
        .unwrap_or_else(|| panic!("no cmdstat_get: {commandstats_text}"));
    assert!(get.starts_with("calls=1,"), "cmdstat_get is {get:?}");

    let everything = query::<String>(&mut con, &["INFO", "everything"]);
    assert!(
        everything.contains("# Commandstats\r\n"),
        "INFO everything lacks commandstats"
    );
    parse_info(&everything);
}

// DBSIZE counts keys; TIME answers the current Unix time as seconds and
// microseconds.
#[test]
fn dbsize_and_time() {
    let server = Server::start_default();
    let mut con = server.client();
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
    assert_eq!(
        query::<Value>(&mut con, &["MSET", "x", "1", "y", "2"]),
        Value::Okay
    );
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 2);

    let time = query::<Vec<String>>(&mut con, &["TIME"]);
    assert_eq!(time.len(), 2, "{time:?}");
    let seconds: i64 = time[0].parse().expect("TIME seconds are a number");
    let micros: i64 = time[1].parse().expect("TIME microseconds are a number");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    assert!(
        (seconds - now).abs() <= 5,
        "TIME says {seconds}, clock says {now}"
    );
    assert!(
        (0..1_000_000).contains(&micros),
        "TIME microseconds {micros}"
    );
}

// An unknown command answers Redis's exact text, trailing space included,
// and the connection goes on.
#[test]
fn unknown_command_exact_error() {
    let server = Server::start_default();
    let mut raw = server.raw();
    raw.send_command(&["FOO", "a", "b"]);
    assert_eq!(
        raw.read_reply_bytes(),
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n".to_vec()
    );
    raw.send_command(&["nosuch"]);
    assert_eq!(
        raw.read_reply_bytes(),
        b"-ERR unknown command 'nosuch', with args beginning with: \r\n".to_vec()
    );
    raw.send(b"bogus x\r\n");
    assert_eq!(
        raw.read_reply_bytes(),
        b"-ERR unknown command 'bogus', with args beginning with: 'x' \r\n".to_vec()
    );
    assert_eq!(raw.command(&["PING"]), Reply::simple("PONG"));
}

// redis-cli sets and gets a key, prints raw or quoted values, and runs
// commands read from its standard input.
#[test]
fn redis_cli_set_get_and_stdin() {
    let server = Server::start_default();
    let out = server.redis_cli(&["set", "k", "hello world"], None);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "OK\n");
    let out = server.redis_cli(&["get", "k"], None);
    assert_eq!(out.stdout, "hello world\n", "{out:?}");
    let out = server.redis_cli(&["--no-raw", "get", "k"], None);
    assert_eq!(out.stdout, "\"hello world\"\n", "{out:?}");
    let out = server.redis_cli(&["--no-raw", "get", "missing"], None);
    assert_eq!(out.stdout, "(nil)\n", "{out:?}");
    let out = server.redis_cli(&["--no-raw", "incr", "n"], None);
    assert_eq!(out.stdout, "(integer) 1\n", "{out:?}");
    let out = server.redis_cli(&["--no-raw", "foo"], None);
    assert_eq!(
        out.stdout, "(error) ERR unknown command 'foo', with args beginning with: \n",
        "{out:?}"
    );

    let out = server.redis_cli(&[], Some("SET a 1\nINCR a\nGET a\nPING\nGET nope\nDEL a\n"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, "OK\n2\n2\nPONG\n\n1\n", "{out:?}");
    assert_eq!(server.redis_cli(&["exists", "a"], None).stdout, "0\n");
}

// After HELLO 3 every nil is `_`, CONFIG GET is a `%` map and INFO a `=`
// verbatim string, byte for byte as Redis 7 encodes them.
#[test]
fn resp3_reply_shapes() {
    let server = Server::start_default();
    let mut raw = server.raw();
    assert!(matches!(raw.command(&["HELLO", "3"]), Reply::Map(_)));
    let cases: &[(&[&str], &[u8])] = &[
        (&["SET", "k", "v"], b"+OK\r\n"),
        (&["MGET", "k", "missing"], b"*2\r\n$1\r\nv\r\n_\r\n"),
        (&["SET", "k2", "v", "GET"], b"_\r\n"),
        (&["GETEX", "missing"], b"_\r\n"),
        (&["GETDEL", "missing"], b"_\r\n"),
        (&["CLIENT", "GETNAME"], b"_\r\n"),
        (&["COMMAND", "INFO", "nosuchcommand"], b"*1\r\n_\r\n"),
        (
            &["CONFIG", "GET", "maxmemory"],
            b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n",
        ),
        (&["INCRBYFLOAT", "f", "1.5"], b"$3\r\n1.5\r\n"),
        (&["TTL", "k"], b":-1\r\n"),
        (&["KEYS", "nothing*"], b"*0\r\n"),
        (&["FLUSHALL"], b"+OK\r\n"),
        (&["RANDOMKEY"], b"_\r\n"),
    ];
    for (args, expected) in cases {
        raw.send_command(args);
        let got = raw.read_reply_bytes();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "RESP3 reply to {args:?}"
        );
    }
    raw.send_command(&["INFO", "keyspace"]);
    let info = raw.read_reply_bytes();
    assert!(
        info.starts_with(b"=") && info.windows(4).any(|window| window == b"txt:"),
        "INFO over RESP3 is not a verbatim txt string: {:?}",
        String::from_utf8_lossy(&info)
    );
}

// Inline commands split words as Redis does: double quotes with escapes,
// single quotes, blank lines ignored.
#[test]
fn inline_commands_parse_as_in_redis() {
    let server = Server::start_default();
    let mut raw = server.raw();
    raw.send(b"SET \"key with space\" 'it\\'s'\r\nGET \"key with space\"\r\nECHO \"\\x41\\n\\t\"\r\n\r\n   \r\nPING\r\n");
    assert_eq!(raw.read_reply(), Reply::simple("OK"));
    assert_eq!(raw.read_reply(), Reply::bulk("it's"));
    assert_eq!(raw.read_reply(), Reply::bulk("A\n\t"));
    assert_eq!(raw.read_reply(), Reply::simple("PONG"));
    // A bare LF also ends an inline command.
    raw.send(b"ECHO lf-only\n");
    assert_eq!(raw.read_reply(), Reply::bulk("lf-only"));
}

fn connected_clients(con: &mut redis::Connection) -> i64 {
    let info = query::<String>(con, &["INFO", "clients"]);
    info.split("\r\n")
        .find_map(|line| line.strip_prefix("connected_clients:"))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("INFO clients has no connected_clients: {info}"))
}

// 200 connections at once are all served and counted by INFO clients and
// CLIENT LIST; once closed, the count drops back.
#[test]
fn many_connections_are_served_and_counted() {
    let server = Server::start_default();
    let mut observer = server.client();
    let baseline = connected_clients(&mut observer);
    let mut connections: Vec<_> = (0..200).map(|_| server.raw()).collect();
    for (index, connection) in connections.iter_mut().enumerate() {
        let key = format!("conn:{index}");
        assert_eq!(connection.command(&["SET", &key, "x"]), Reply::simple("OK"));
    }
    for connection in &mut connections {
        assert_eq!(connection.command(&["PING"]), Reply::simple("PONG"));
    }
    assert_eq!(connected_clients(&mut observer), baseline + 200);
    let list = query::<String>(&mut observer, &["CLIENT", "LIST"]);
    assert_eq!(
        list.lines().count() as i64,
        baseline + 200,
        "CLIENT LIST lines"
    );
    assert_eq!(query::<i64>(&mut observer, &["DBSIZE"]), 200);
    drop(connections);
    wait_until(
        Duration::from_secs(10),
        "closed connections leave INFO clients",
        || connected_clients(&mut observer) == baseline,
    );
}
