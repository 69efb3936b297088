//! The server family through `session::handle`: COMMAND, CONFIG, INFO,
//! TIME and ROLE, checked against a real Redis 7.0 server's reply shapes
//! and bytes.

mod session_support;

use petrel_resp::Reply;
use petrel_store::family::server::{bytes_to_human, render_info};
use petrel_store::session::{
    self, finish_gather, CommandStat, DatabaseShardStats, GatherRequest, NodeSnapshot, Outcome,
    ReplicationRole, ThreadSnapshot,
};
use petrel_store::table;
use session_support::{bulk, env, error, field, reply, run, session, text, wire, NOW_MS};

// COMMAND COUNT is the number of rows in the command table.
#[test]
fn command_count_is_table_size() {
    let env = env(None);
    let mut session = session(false);
    let count = table::all().count() as i64;
    assert!(count > 10);
    assert_eq!(
        reply(&mut session, &env, &["COMMAND", "COUNT"]),
        Reply::Integer(count)
    );
    let Reply::Array(all) = reply(&mut session, &env, &["COMMAND"]) else {
        panic!("COMMAND is an array");
    };
    assert_eq!(all.len() as i64, count);
    let Reply::Array(info_all) = reply(&mut session, &env, &["COMMAND", "INFO"]) else {
        panic!("COMMAND INFO is an array");
    };
    assert_eq!(info_all.len() as i64, count);
}

// COMMAND INFO get is byte for byte what Redis 7.0.15 sends, in both protocols.
#[test]
fn command_info_get_matches_redis() {
    let env = env(None);
    let mut session = session(false);
    let info = reply(&mut session, &env, &["COMMAND", "INFO", "get"]);
    let key_spec_resp2 = "*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n\
        *4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n\
        $9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n\
        $7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n";
    assert_eq!(
        wire(&info, 2),
        format!(
            "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
             *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n{key_spec_resp2}*0\r\n"
        )
    );
    let key_spec_resp3 = "%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n+access\r\n$12\r\nbegin_search\r\n\
        %2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n$5\r\nindex\r\n:1\r\n\
        $9\r\nfind_keys\r\n%2\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n%3\r\n\
        $7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n";
    assert_eq!(
        wire(&info, 3),
        format!(
            "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
             ~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n*1\r\n{key_spec_resp3}~0\r\n"
        )
    );
}

// COMMAND INFO of connection commands, containers and unknown names
// answers as Redis does: flags, categories, tips, subcommands, nil.
#[test]
fn command_info_shapes() {
    let env = env(None);
    let mut session = session(false);
    let Reply::Array(entries) = reply(
        &mut session,
        &env,
        &[
            "COMMAND",
            "INFO",
            "hello",
            "nosuch",
            "CLIENT|LIST",
            "time",
            "client",
        ],
    ) else {
        panic!("COMMAND INFO is an array");
    };
    let hello = "*10\r\n$5\r\nhello\r\n:-1\r\n*5\r\n+noscript\r\n+loading\r\n+stale\r\n+fast\r\n\
                 +no_auth\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n";
    assert_eq!(wire(&entries[0], 2), hello);
    assert_eq!(entries[1], Reply::Nil);
    let client_list = "*10\r\n$11\r\nclient|list\r\n:-2\r\n*4\r\n+admin\r\n+noscript\r\n\
                       +loading\r\n+stale\r\n:0\r\n:0\r\n:0\r\n*4\r\n+@admin\r\n+@slow\r\n\
                       +@dangerous\r\n+@connection\r\n*1\r\n$23\r\nnondeterministic_output\r\n\
                       *0\r\n*0\r\n";
    assert_eq!(wire(&entries[2], 2), client_list);
    let time = "*10\r\n$4\r\ntime\r\n:1\r\n*3\r\n+loading\r\n+stale\r\n+fast\r\n:0\r\n:0\r\n:0\r\n\
                *1\r\n+@fast\r\n*1\r\n$23\r\nnondeterministic_output\r\n*0\r\n*0\r\n";
    assert_eq!(wire(&entries[3], 2), time);
    // Redis 7.0 sends empty key-spec and subcommand lists as empty sets in RESP3.
    let config = reply(&mut session, &env, &["COMMAND", "INFO", "config"]);
    assert!(wire(&config, 3).starts_with(
        "*1\r\n*10\r\n$6\r\nconfig\r\n:-2\r\n~0\r\n:0\r\n:0\r\n:0\r\n~1\r\n+@slow\r\n\
         ~0\r\n~0\r\n*5\r\n*10\r\n"
    ));
    let Reply::Array(client) = &entries[4] else {
        panic!("an entry is an array");
    };
    assert_eq!(wire(&client[2], 2), "*0\r\n");
    assert_eq!(wire(&client[6], 2), "*1\r\n+@slow\r\n");
    let Reply::Array(subcommands) = &client[9] else {
        panic!("subcommands are an array");
    };
    let names: Vec<String> = subcommands
        .iter()
        .map(|entry| match entry {
            Reply::Array(fields) => text(&fields[0]),
            other => panic!("not an entry: {other:?}"),
        })
        .collect();
    for expected in [
        "client|id",
        "client|setname",
        "client|getname",
        "client|list",
        "client|info",
    ] {
        assert!(names.iter().any(|name| name == expected), "{names:?}");
    }
}

/// Rebuilds an argument hint from COMMAND DOCS arguments the way redis-cli
/// 7 does (`cliAddArgument`), so the test sees what a user would see.
fn render_hint(arguments: &Reply) -> String {
    let Reply::Array(arguments) = arguments else {
        panic!("arguments are an array: {arguments:?}");
    };
    arguments
        .iter()
        .map(render_argument)
        .collect::<Vec<_>>()
        .join(" ")
}

fn render_argument(argument: &Reply) -> String {
    let name = field(argument, "name")
        .map(text)
        .expect("every argument has a name");
    let kind = field(argument, "type")
        .map(text)
        .expect("every argument has a type");
    let token = field(argument, "token").map(text);
    let flags: Vec<String> = match field(argument, "flags") {
        Some(Reply::Set(flags)) => flags
            .iter()
            .map(|flag| match flag {
                Reply::Simple(flag) => String::from_utf8_lossy(flag).into_owned(),
                other => panic!("flags are status strings: {other:?}"),
            })
            .collect(),
        Some(other) => panic!("flags are a set: {other:?}"),
        None => Vec::new(),
    };
    let repeat = match kind.as_str() {
        "oneof" | "block" => {
            let Some(Reply::Array(children)) = field(argument, "arguments") else {
                panic!("{kind} {name} has no arguments");
            };
            let separator = if kind == "oneof" { "|" } else { " " };
            children
                .iter()
                .map(render_argument)
                .collect::<Vec<_>>()
                .join(separator)
        }
        "pure-token" => String::new(),
        _ => name.clone(),
    };
    let mut token_part = token.unwrap_or_default();
    if !token_part.is_empty() && kind != "pure-token" {
        token_part.push(' ');
    }
    let optional = flags.iter().any(|flag| flag == "optional");
    let multiple = flags.iter().any(|flag| flag == "multiple");
    let mut out = String::new();
    if optional {
        out.push('[');
    }
    out.push_str(&token_part);
    out.push_str(&repeat);
    if multiple {
        out.push_str(&format!(" [{repeat} ...]"));
    }
    if optional {
        out.push(']');
    }
    out
}

// COMMAND DOCS describes every command (and every container's
// subcommands) so that redis-cli's hints read exactly like the table's.
#[test]
fn command_docs_round_trip_through_redis_cli() {
    let env = env(None);
    let mut session = session(false);
    let Reply::Map(docs) = reply(&mut session, &env, &["COMMAND", "DOCS"]) else {
        panic!("COMMAND DOCS is a map");
    };
    assert_eq!(docs.len(), table::all().count());
    let mut checked = 0;
    for (name, entry) in &docs {
        let spec = table::lookup(text(name).as_bytes()).expect("documented command exists");
        assert_eq!(field(entry, "summary"), Some(&bulk(spec.summary)));
        assert_eq!(field(entry, "since"), Some(&bulk(spec.since)));
        assert_eq!(field(entry, "group"), Some(&bulk(spec.group)));
        let hint = field(entry, "arguments")
            .map(render_hint)
            .unwrap_or_default();
        assert_eq!(hint, spec.arguments, "{}", spec.name);
        checked += 1;
        if let Some(Reply::Map(subcommands)) = field(entry, "subcommands") {
            for (sub_name, sub_entry) in subcommands {
                let sub = session::lookup_subcommand(text(sub_name).as_bytes())
                    .expect("documented subcommand exists");
                let hint = field(sub_entry, "arguments")
                    .map(render_hint)
                    .unwrap_or_default();
                assert_eq!(hint, sub.arguments, "{}", sub.name);
                checked += 1;
            }
        }
    }
    assert!(checked > docs.len());
}

// COMMAND DOCS get and set have Redis's fields and argument types.
#[test]
fn command_docs_entries() {
    let env = env(None);
    let mut session = session(false);
    let docs = reply(
        &mut session,
        &env,
        &["COMMAND", "DOCS", "get", "nosuch", "client|setname"],
    );
    let Reply::Map(pairs) = &docs else {
        panic!("COMMAND DOCS is a map");
    };
    assert_eq!(pairs.len(), 2);
    assert!(wire(&docs, 2).starts_with(
        "*4\r\n$3\r\nget\r\n*8\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n\
         $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n$9\r\narguments\r\n\
         *1\r\n*6\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n\
         $14\r\nkey_spec_index\r\n:0\r\n$14\r\nclient|setname\r\n"
    ));
    let set = reply(&mut session, &env, &["COMMAND", "DOCS", "set"]);
    let Reply::Map(pairs) = &set else {
        panic!("COMMAND DOCS is a map");
    };
    let arguments = field(&pairs[0].1, "arguments").expect("SET has arguments");
    let Reply::Array(arguments) = arguments else {
        panic!("arguments are an array");
    };
    let types: Vec<String> = arguments
        .iter()
        .map(|argument| text(field(argument, "type").expect("type")))
        .collect();
    assert_eq!(types, ["key", "string", "oneof", "pure-token", "oneof"]);
    assert_eq!(wire(&Reply::Map(vec![]), 2), "*0\r\n");
    assert_eq!(
        reply(&mut session, &env, &["COMMAND", "DOCS", "nosuch"]),
        Reply::Map(vec![])
    );
}

// COMMAND LIST names commands and subcommands, filtered as Redis filters.
#[test]
fn command_list() {
    let env = env(None);
    let mut session = session(false);
    let names = |reply: Reply| -> Vec<String> {
        match reply {
            Reply::Array(items) => items.iter().map(text).collect(),
            other => panic!("COMMAND LIST is an array: {other:?}"),
        }
    };
    let all = names(reply(&mut session, &env, &["COMMAND", "LIST"]));
    assert!(all.len() > table::all().count());
    assert!(all.contains(&"get".to_string()) && all.contains(&"client|setname".to_string()));
    let connection = names(reply(
        &mut session,
        &env,
        &["COMMAND", "LIST", "FILTERBY", "ACLCAT", "connection"],
    ));
    for expected in [
        "ping",
        "hello",
        "auth",
        "client|id",
        "command",
        "command|docs",
    ] {
        assert!(
            connection.contains(&expected.to_string()),
            "{expected} in {connection:?}"
        );
    }
    assert!(!connection.contains(&"get".to_string()));
    assert!(!connection.contains(&"client".to_string()));
    let pattern = names(reply(
        &mut session,
        &env,
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "CLIENT|*name"],
    ));
    assert_eq!(pattern, ["client|getname", "client|setname"]);
    let modules = names(reply(
        &mut session,
        &env,
        &["COMMAND", "LIST", "FILTERBY", "MODULE", "x"],
    ));
    assert!(modules.is_empty());
    for bad in [
        &["COMMAND", "LIST", "foo"][..],
        &["COMMAND", "LIST", "FILTERBY", "foo", "x"],
    ] {
        assert_eq!(reply(&mut session, &env, bad), error("ERR syntax error"));
    }
}

// COMMAND GETKEYS reads key positions from the table, with Redis's errors.
#[test]
fn command_getkeys() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(
        reply(&mut session, &env, &["COMMAND", "GETKEYS", "GET", "a"]),
        Reply::Array(vec![bulk("a")])
    );
    assert_eq!(
        reply(
            &mut session,
            &env,
            &["COMMAND", "GETKEYS", "mset", "a", "1", "b", "2"]
        ),
        Reply::Array(vec![bulk("a"), bulk("b")])
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["COMMAND", "GETKEYS", "nosuch", "a"],
            "ERR Invalid command specified",
        ),
        (
            &["COMMAND", "GETKEYS", "get", "a", "b"],
            "ERR Invalid number of arguments specified for command",
        ),
        (
            &["COMMAND", "GETKEYS", "ping", "x"],
            "ERR The command has no key arguments",
        ),
        (
            &["COMMAND", "GETKEYS", "get"],
            "ERR wrong number of arguments for 'command|getkeys' command",
        ),
        (
            &["COMMAND", "FOO"],
            "ERR unknown subcommand 'FOO'. Try COMMAND HELP.",
        ),
        (
            &["COMMAND", "COUNT", "x"],
            "ERR wrong number of arguments for 'command|count' command",
        ),
    ];
    for (words, expected) in cases {
        assert_eq!(
            reply(&mut session, &env, words),
            error(expected),
            "{words:?}"
        );
    }
}

// CONFIG GET answers a map (a flat array in RESP2) of the parameters that
// match any pattern, each once.
#[test]
fn config_get() {
    let env = env(None);
    let mut session = session(false);
    let maxmemory = reply(&mut session, &env, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(
        wire(&maxmemory, 2),
        "*2\r\n$9\r\nmaxmemory\r\n$10\r\n1073741824\r\n"
    );
    assert_eq!(
        wire(&maxmemory, 3),
        "%1\r\n$9\r\nmaxmemory\r\n$10\r\n1073741824\r\n"
    );
    let several = reply(
        &mut session,
        &env,
        &["config", "get", "SAVE", "appendonly", "databases", "save"],
    );
    assert_eq!(
        several,
        Reply::Map(vec![
            (bulk("appendonly"), bulk("no")),
            (bulk("databases"), bulk("1")),
            (bulk("save"), bulk("")),
        ])
    );
    let policy = reply(&mut session, &env, &["CONFIG", "GET", "maxmemory-*"]);
    assert_eq!(
        field(&policy, "maxmemory-policy"),
        Some(&bulk("noeviction"))
    );
    assert_eq!(field(&policy, "maxmemory"), None);
    let all = reply(&mut session, &env, &["CONFIG", "GET", "*"]);
    assert_eq!(field(&all, "port"), Some(&bulk("6379")));
    assert_eq!(field(&all, "proto-max-bulk-len"), Some(&bulk("536870912")));
    assert_eq!(field(&all, "maxclients"), Some(&bulk("4064")));
    assert_eq!(field(&all, "tcp-keepalive"), Some(&bulk("120")));
    assert_eq!(field(&all, "bind"), Some(&bulk("127.0.0.1")));
    assert_eq!(field(&all, "cluster-enabled"), Some(&bulk("no")));
    assert_eq!(field(&all, "requirepass"), None);
    assert_eq!(
        reply(&mut session, &env, &["CONFIG", "GET", "nosuch"]),
        Reply::Map(vec![])
    );
    let cases: &[(&[&str], &str)] = &[
        (
            &["CONFIG", "GET"],
            "ERR wrong number of arguments for 'config|get' command",
        ),
        (
            &["CONFIG"],
            "ERR wrong number of arguments for 'config' command",
        ),
        (
            &["CONFIG", "FOO"],
            "ERR unknown subcommand 'FOO'. Try CONFIG HELP.",
        ),
        (
            &["CONFIG", "SET", "maxmemory"],
            "ERR wrong number of arguments for 'config|set' command",
        ),
    ];
    for (words, expected) in cases {
        assert_eq!(
            reply(&mut session, &env, words),
            error(expected),
            "{words:?}"
        );
    }
    for words in [
        &["CONFIG", "SET", "maxmemory", "1"][..],
        &["CONFIG", "RESETSTAT"],
    ] {
        let answer = reply(&mut session, &env, words);
        assert!(
            matches!(&answer, Reply::Error(text) if text.starts_with(b"ERR CONFIG ")),
            "{answer:?}"
        );
    }
}

// TIME is two bulk strings, seconds and microseconds, from the engine's clock.
#[test]
fn time() {
    let env = env(None);
    let mut session = session(false);
    let time = reply(&mut session, &env, &["TIME"]);
    assert_eq!(time, Reply::Array(vec![bulk("1795812893"), bulk("688000")]));
    assert_eq!(
        wire(&time, 3),
        "*2\r\n$10\r\n1795812893\r\n$6\r\n688000\r\n"
    );
}

fn snapshot() -> NodeSnapshot {
    let database = |keys, expires, used| DatabaseShardStats {
        keys,
        expires,
        used_memory_bytes: used,
        expired_keys_total: 1,
    };
    let thread = |get_calls| ThreadSnapshot {
        databases: vec![database(3, 1, 1000), database(50, 0, 5_000_000)],
        blocked_clients: 1,
        total_connections_received: 10,
        total_commands_processed: 100,
        rejected_connections: 1,
        keyspace_hits: 7,
        keyspace_misses: 3,
        net_input_bytes: 1000,
        net_output_bytes: 2000,
        command_stats: vec![
            (
                "get",
                CommandStat {
                    calls: get_calls,
                    // Summed across threads before rounding to microseconds.
                    nanos: 10_400,
                    rejected_calls: 0,
                    failed_calls: 1,
                },
            ),
            ("set", CommandStat::default()),
        ],
        client_lines: Vec::new(),
    };
    NodeSnapshot {
        threads: vec![thread(2), thread(1)],
        connected_clients: 4,
        started_at_ms: NOW_MS - 90_000_000,
        now_ms: NOW_MS,
        process_id: 4242,
        tcp_port: 6379,
        version: "0.1.0",
        databases: vec![("default".into(), 1 << 30), ("cache".into(), 0)],
        extra_sections: vec![("TLS".into(), "tls_mode:disabled\nktls:off\n".into())],
        role: None,
    }
}

fn info_text(sections: &[&str]) -> String {
    let env = env(None);
    let sections: Vec<String> = sections.iter().map(|s| s.to_string()).collect();
    let reply = render_info(&sections, &snapshot(), &env);
    assert!(matches!(reply, Reply::Verbatim("txt", _)));
    text(&reply)
}

fn titles(info: &str) -> Vec<&str> {
    info.lines().filter(|line| line.starts_with('#')).collect()
}

// INFO asks the engine to gather, then renders the sections asked for.
#[test]
fn info_gathers_and_renders() {
    let env = env(None);
    let mut session = session(false);
    let outcome = run(&mut session, &env, &["INFO", "Keyspace", "CLIENTS"]);
    let Outcome::Gather(request) = outcome else {
        panic!("INFO must gather: {outcome:?}");
    };
    assert_eq!(
        request,
        GatherRequest::Info {
            sections: vec!["keyspace".into(), "clients".into()]
        }
    );
    let rendered = finish_gather(&session, &request, &snapshot(), &env);
    assert_eq!(
        text(&rendered),
        "# Clients\r\nconnected_clients:4\r\ncluster_connections:0\r\nmaxclients:4064\r\n\
         client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n\
         blocked_clients:2\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n\
         \r\n# Keyspace\r\ndb0:keys=6,expires=2,avg_ttl=0\r\n"
    );
    assert!(wire(&rendered, 3).starts_with("=") && wire(&rendered, 2).starts_with("$"));
}

// INFO, INFO default, all and everything pick Redis's section sets, in
// Redis's order, plus Petrel's own sections.
#[test]
fn info_section_sets() {
    let default = [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# Modules",
        "# Errorstats",
        "# Cluster",
        "# Keyspace",
        "# TLS",
    ];
    assert_eq!(titles(&info_text(&[])), default);
    assert_eq!(titles(&info_text(&["default"])), default);
    let mut all = default.to_vec();
    all.insert(7, "# Commandstats");
    assert_eq!(titles(&info_text(&["all"])), all);
    assert_eq!(titles(&info_text(&["everything"])), all);
    assert_eq!(
        titles(&info_text(&["tls", "server"])),
        ["# Server", "# TLS"]
    );
    assert_eq!(info_text(&["nosuch"]), "");
    let text = info_text(&[]);
    assert!(
        text.ends_with("# TLS\r\ntls_mode:disabled\r\nktls:off\r\n"),
        "{text}"
    );
    // Every line ends in CRLF; sections are separated by one empty line.
    assert!(!text.replace("\r\n", "").contains('\n'));
    assert!(text.contains("\r\n\r\n# Clients\r\n"));
}

// The server section reports a Redis version for tools and Petrel's own.
#[test]
fn info_server() {
    let text = info_text(&["server"]);
    for line in [
        "redis_version:7.0.15",
        "redis_mode:standalone",
        "petrel_version:0.1.0",
        "arch_bits:64",
        "process_id:4242",
        "tcp_port:6379",
        "uptime_in_seconds:90000",
        "uptime_in_days:1",
        &format!("server_time_usec:{}", NOW_MS * 1000),
    ] {
        assert!(
            text.contains(&format!("\r\n{line}\r\n")),
            "{line} in {text}"
        );
    }
    let run_id = text
        .lines()
        .find_map(|line| line.strip_prefix("run_id:"))
        .expect("run_id");
    assert_eq!(run_id.len(), 40);
    assert!(run_id.bytes().all(|b| b.is_ascii_hexdigit()));
}

// Memory is this database's, with one line per database on the node;
// stats and commandstats add every thread's counters.
#[test]
fn info_memory_stats_commandstats() {
    let memory = info_text(&["memory"]);
    for line in [
        "used_memory:2000",
        "used_memory_human:1.95K",
        "maxmemory:1073741824",
        "maxmemory_human:1.00G",
        "maxmemory_policy:noeviction",
        "db_used_memory_default:used=2000,used_human=1.95K,maxmemory=1073741824",
        "db_used_memory_cache:used=10000000,used_human=9.54M,maxmemory=0",
    ] {
        assert!(
            memory.contains(&format!("{line}\r\n")),
            "{line} in {memory}"
        );
    }
    let stats = info_text(&["stats"]);
    for line in [
        "total_connections_received:20",
        "total_commands_processed:200",
        "total_net_input_bytes:2000",
        "total_net_output_bytes:4000",
        "rejected_connections:2",
        "keyspace_hits:14",
        "keyspace_misses:6",
        "expired_keys:4",
    ] {
        assert!(
            stats.contains(&format!("\r\n{line}\r\n")),
            "{line} in {stats}"
        );
    }
    assert_eq!(
        info_text(&["commandstats"]),
        "# Commandstats\r\n\
         cmdstat_get:calls=3,usec=20,usec_per_call=6.93,rejected_calls=0,failed_calls=2\r\n"
    );
}

// An extra section titled like a built-in one replaces it in place.
#[test]
fn info_extra_section_replaces_builtin() {
    let env = env(None);
    let mut snapshot = snapshot();
    snapshot.extra_sections = vec![("Replication".into(), "role:master\r\nsync_links:2".into())];
    let text = text(&render_info(&["replication".into()], &snapshot, &env));
    assert_eq!(text, "# Replication\r\nrole:master\r\nsync_links:2\r\n");
}

// Empty databases are left out of the keyspace section, as Redis does.
#[test]
fn info_keyspace_empty() {
    let env = env(None);
    let snapshot = NodeSnapshot::default();
    let text = text(&render_info(&["keyspace".into()], &snapshot, &env));
    assert_eq!(text, "# Keyspace\r\n");
}

// Sizes read as Redis's bytesToHuman prints them.
#[test]
fn human_sizes() {
    assert_eq!(bytes_to_human(0), "0B");
    assert_eq!(bytes_to_human(1023), "1023B");
    assert_eq!(bytes_to_human(1024), "1.00K");
    assert_eq!(bytes_to_human(1_510_568), "1.44M");
    assert_eq!(bytes_to_human(25_276_514_304), "23.54G");
    assert_eq!(bytes_to_human(3 << 40), "3.00T");
}

// ROLE asks for the node's state, then answers in Redis 7.0's shapes: a
// source lists its online replicas with the port and offset as bulk
// strings; a replica gives its source, the link's state and its offset; a
// database with no history yet is a source at offset 0.
#[test]
fn role_in_redis_shapes() {
    let env = env(None);
    let mut session = session(false);
    assert_eq!(
        run(&mut session, &env, &["ROLE"]),
        Outcome::Gather(GatherRequest::Role)
    );
    assert_eq!(
        reply(&mut session, &env, &["ROLE", "extra"]),
        error("ERR wrong number of arguments for 'role' command")
    );
    let answer = |role: Option<ReplicationRole>| {
        let snapshot = NodeSnapshot {
            role,
            ..NodeSnapshot::default()
        };
        finish_gather(&session, &GatherRequest::Role, &snapshot, &env)
    };
    assert_eq!(wire(&answer(None), 2), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    let master = answer(Some(ReplicationRole::Master {
        offset: 1234,
        replicas: vec![("10.0.0.9".into(), 6380, 1200)],
    }));
    assert_eq!(
        wire(&master, 2),
        "*3\r\n$6\r\nmaster\r\n:1234\r\n*1\r\n*3\r\n$8\r\n10.0.0.9\r\n$4\r\n6380\r\n$4\r\n1200\r\n"
    );
    let replica = answer(Some(ReplicationRole::Replica {
        host: "source.example".into(),
        port: 6379,
        state: "connected",
        offset: 77,
    }));
    assert_eq!(
        wire(&replica, 2),
        "*5\r\n$5\r\nslave\r\n$14\r\nsource.example\r\n:6379\r\n$9\r\nconnected\r\n:77\r\n"
    );
}
