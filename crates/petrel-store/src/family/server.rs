//! The server family: COMMAND, CONFIG, INFO and TIME, with Redis 7's reply
//! shapes, plus how INFO's text and COMMAND INFO/DOCS entries are built.
//!
//! COMMAND answers from the command table (and the container subcommand
//! lists), CONFIG GET from a fixed list of the parameters clients ask about,
//! INFO from a [`NodeSnapshot`] the engine gathers. Nothing here changes
//! node state: CONFIG SET, RESETSTAT and REWRITE answer a clear error,
//! because Petrel's settings belong to its config file and admin API.

use std::fmt::Write as _;

use bytes::Bytes;
use petrel_resp::Reply;

use crate::family::connection::help_reply;
use crate::glob::glob_match;
use crate::session::{
    self, error_reply, lookup_subcommand, resolve_subcommand, subcommands, GatherRequest,
    NodeSnapshot, Outcome, ReplicationRole, Session, SessionEnv, SubcommandSpec,
};
use crate::table::flags::{
    ADMIN, BLOCKING, FAST, LOADING, NAMES, NOSCRIPT, PUBSUB, READONLY, STALE, WRITE,
};
use crate::table::{self, CommandSpec, Route};

/// The Redis version Petrel reports in INFO, for clients and tools that
/// gate features on it. Petrel implements Redis 7.0's commands and replies.
pub const REDIS_COMPATIBLE_VERSION: &str = "7.0.15";

const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        key_step: 0,
        route: Route::Connection,
        handler: None,
        group: "server",
        summary,
        since,
        arguments,
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    row(
        "command",
        -1,
        LOADING | STALE,
        "Get array of Redis command details",
        "2.8.13",
        "",
    ),
    // A container: its subcommands carry the flags, as in Redis.
    row(
        "config",
        -2,
        0,
        "A container for server configuration commands",
        "2.0.0",
        "",
    ),
    row(
        "info",
        -1,
        LOADING | STALE,
        "Get information and statistics about the server",
        "1.0.0",
        "[section [section ...]]",
    ),
    row(
        "time",
        1,
        LOADING | STALE | FAST,
        "Return the current server time",
        "2.6.0",
        "",
    ),
    // A container: its subcommands carry the flags, as in Redis.
    row(
        "slowlog",
        -2,
        0,
        "A container for slow log commands",
        "2.2.12",
        "",
    ),
    row(
        "role",
        1,
        NOSCRIPT | LOADING | STALE | FAST,
        "Return the role of the instance in the context of replication",
        "2.8.12",
        "",
    ),
];

const fn subcommand(
    name: &'static str,
    arity: i32,
    flags: u32,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> SubcommandSpec {
    SubcommandSpec {
        name,
        arity,
        flags,
        summary,
        since,
        arguments,
    }
}

/// The COMMAND subcommands Petrel implements.
pub const COMMAND_SUBCOMMANDS: &[SubcommandSpec] = &[
    subcommand(
        "command|count",
        2,
        LOADING | STALE,
        "Get total number of Redis commands",
        "2.8.13",
        "",
    ),
    subcommand(
        "command|info",
        -2,
        LOADING | STALE,
        "Get array of specific Redis command details, or all when no argument is given.",
        "2.8.13",
        "[command-name [command-name ...]]",
    ),
    subcommand(
        "command|docs",
        -2,
        LOADING | STALE,
        "Get array of specific Redis command documentation",
        "7.0.0",
        "[command-name [command-name ...]]",
    ),
    subcommand(
        "command|list",
        -2,
        LOADING | STALE,
        "Get an array of Redis command names",
        "7.0.0",
        "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]",
    ),
    subcommand(
        "command|getkeys",
        -4,
        LOADING | STALE,
        "Extract keys given a full Redis command",
        "2.8.13",
        "command [arg [arg ...]]",
    ),
    subcommand(
        "command|help",
        2,
        LOADING | STALE,
        "Show helpful text about the different subcommands",
        "5.0.0",
        "",
    ),
];

const CONFIG_ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

/// The CONFIG subcommands. Only GET and HELP do anything; the others say
/// why they cannot.
pub const CONFIG_SUBCOMMANDS: &[SubcommandSpec] = &[
    subcommand(
        "config|get",
        -3,
        CONFIG_ADMIN_FLAGS,
        "Get the values of configuration parameters",
        "2.0.0",
        "parameter [parameter ...]",
    ),
    subcommand(
        "config|set",
        -4,
        CONFIG_ADMIN_FLAGS,
        "Set configuration parameters to the given values",
        "2.0.0",
        "parameter value [parameter value ...]",
    ),
    subcommand(
        "config|resetstat",
        2,
        CONFIG_ADMIN_FLAGS,
        "Reset the stats returned by INFO",
        "2.0.0",
        "",
    ),
    subcommand(
        "config|rewrite",
        2,
        CONFIG_ADMIN_FLAGS,
        "Rewrite the configuration file with the in memory configuration",
        "2.8.0",
        "",
    ),
    subcommand(
        "config|help",
        2,
        LOADING | STALE,
        "Show helpful text about the different subcommands",
        "5.0.0",
        "",
    ),
];

/// The SLOWLOG subcommands.
pub const SLOWLOG_SUBCOMMANDS: &[SubcommandSpec] = &[
    subcommand(
        "slowlog|get",
        -2,
        ADMIN | LOADING | STALE,
        "Get the slow log's entries",
        "2.2.12",
        "[count]",
    ),
    subcommand(
        "slowlog|len",
        2,
        ADMIN | LOADING | STALE,
        "Get the slow log's length",
        "2.2.12",
        "",
    ),
    subcommand(
        "slowlog|reset",
        2,
        ADMIN | LOADING | STALE,
        "Clear all entries from the slow log",
        "2.2.12",
        "",
    ),
    subcommand(
        "slowlog|help",
        2,
        LOADING | STALE,
        "Show helpful text about the different subcommands",
        "6.2.0",
        "",
    ),
];

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// SLOWLOG GET [count] | LEN | RESET | HELP. Every answer but HELP needs
/// every data thread's log, so the engine carries it out.
pub(crate) fn slowlog(session: &mut Session, args: &[Bytes]) -> Outcome {
    let subcommand = match resolve_subcommand("slowlog", args) {
        Ok(subcommand) => subcommand,
        Err(error) => return Outcome::Reply(error),
    };
    session.last_command = subcommand.name;
    if subcommand.name == "slowlog|help" {
        return Outcome::Reply(help_reply(SLOWLOG_HELP));
    }
    match crate::slowlog::parse_request(subcommand.name, args) {
        Ok(request) => Outcome::Slowlog(request),
        Err(error) => Outcome::Reply(error),
    }
}

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Not supported: Petrel is configured through its config file and admin API.",
    "RESETSTAT",
    "    Not supported: statistics are kept per data thread.",
    "REWRITE",
    "    Not supported: Petrel is configured through its config file and admin API.",
    "HELP",
    "    Prints this help.",
];

/// COMMAND [subcommand [arguments]].
pub(crate) fn command(session: &mut Session, args: &[Bytes]) -> Reply {
    if args.len() == 1 {
        return Reply::Array(sorted_commands().map(command_info).collect());
    }
    let subcommand = match resolve_subcommand("command", args) {
        Ok(subcommand) => subcommand,
        Err(error) => return error,
    };
    session.last_command = subcommand.name;
    match subcommand.name {
        "command|count" => Reply::Integer(table::all().count() as i64),
        "command|info" if args.len() == 2 => {
            Reply::Array(sorted_commands().map(command_info).collect())
        }
        "command|info" => Reply::Array(
            args[2..]
                .iter()
                .map(|name| {
                    if let Some(spec) = table::lookup(name) {
                        command_info(spec)
                    } else if let Some(subcommand) = lookup_subcommand(name) {
                        subcommand_info(subcommand)
                    } else {
                        Reply::Nil
                    }
                })
                .collect(),
        ),
        "command|docs" if args.len() == 2 => Reply::Map(
            sorted_commands()
                .map(|spec| (name_reply(spec.name), command_docs(spec)))
                .collect(),
        ),
        "command|docs" => Reply::Map(
            args[2..]
                .iter()
                .filter_map(|name| {
                    if let Some(spec) = table::lookup(name) {
                        Some((name_reply(spec.name), command_docs(spec)))
                    } else {
                        lookup_subcommand(name).map(|subcommand| {
                            let group = container_group(subcommand);
                            (
                                name_reply(subcommand.name),
                                subcommand_docs(subcommand, group),
                            )
                        })
                    }
                })
                .collect(),
        ),
        "command|list" => command_list(args),
        "command|getkeys" => command_getkeys(&args[2..]),
        "command|help" => help_reply(COMMAND_HELP),
        other => error_reply(format!(
            "ERR unknown subcommand '{other}'. Try COMMAND HELP."
        )),
    }
}

/// Every table row, by name, so that COMMAND's replies are stable.
fn sorted_commands() -> impl Iterator<Item = &'static CommandSpec> {
    let mut specs: Vec<&'static CommandSpec> = table::all().collect();
    specs.sort_by_key(|spec| spec.name);
    specs.into_iter()
}

/// Every command name and `container|subcommand` name, by name.
fn all_names() -> Vec<(&'static str, u32, &'static str)> {
    let mut names = Vec::new();
    for spec in sorted_commands() {
        names.push((spec.name, spec.flags, spec.group));
        for subcommand in subcommands(spec.name) {
            names.push((subcommand.name, subcommand.flags, spec.group));
        }
    }
    names
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
fn command_list(args: &[Bytes]) -> Reply {
    let names = all_names().into_iter();
    let chosen: Vec<&'static str> = match &args[2..] {
        [] => names.map(|(name, _, _)| name).collect(),
        [filterby, kind, value] if filterby.eq_ignore_ascii_case(b"FILTERBY") => {
            if kind.eq_ignore_ascii_case(b"MODULE") {
                Vec::new()
            } else if kind.eq_ignore_ascii_case(b"ACLCAT") {
                let wanted = String::from_utf8_lossy(value).to_ascii_lowercase();
                names
                    .filter(|&(name, flags, group)| {
                        acl_categories(name, flags, group)
                            .iter()
                            .any(|category| category[1..] == wanted)
                    })
                    .map(|(name, _, _)| name)
                    .collect()
            } else if kind.eq_ignore_ascii_case(b"PATTERN") {
                names
                    .filter(|(name, _, _)| glob_match(value, name.as_bytes(), true))
                    .map(|(name, _, _)| name)
                    .collect()
            } else {
                return Reply::error("ERR syntax error");
            }
        }
        _ => return Reply::error("ERR syntax error"),
    };
    Reply::Array(chosen.into_iter().map(name_reply).collect())
}

/// COMMAND GETKEYS command [arg ...]: the keys the row's key positions name.
fn command_getkeys(command_args: &[Bytes]) -> Reply {
    let Some(spec) = table::lookup(&command_args[0]) else {
        return Reply::error("ERR Invalid command specified");
    };
    if !spec.arity_ok(command_args.len()) {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let keys: Vec<Reply> = spec
        .key_positions(command_args.len())
        .map(|position| Reply::Bulk(command_args[position].clone()))
        .collect();
    if keys.is_empty() {
        return Reply::error("ERR The command has no key arguments");
    }
    Reply::Array(keys)
}

fn container_group(subcommand: &SubcommandSpec) -> &'static str {
    let container = subcommand.name.split('|').next().unwrap_or_default();
    table::lookup(container.as_bytes()).map_or("server", |spec| spec.group)
}

/// One COMMAND INFO entry, in Redis 7's shape: name, arity, flags, first
/// key, last key, step, ACL categories, tips, key specs, subcommands.
pub fn command_info(spec: &CommandSpec) -> Reply {
    let key_specs = if spec.first_key > 0 {
        vec![key_spec(spec)]
    } else {
        Vec::new()
    };
    Reply::Array(vec![
        name_reply(spec.name),
        Reply::Integer(i64::from(spec.arity)),
        flag_set(spec.flags),
        Reply::Integer(i64::from(spec.first_key)),
        Reply::Integer(i64::from(spec.last_key)),
        Reply::Integer(i64::from(spec.key_step)),
        category_set(spec.name, spec.flags, spec.group),
        tip_set(spec.name),
        array_or_empty_set(key_specs),
        array_or_empty_set(subcommands(spec.name).iter().map(subcommand_info).collect()),
    ])
}

/// Redis 7.0 sends an empty key-spec or subcommand list as an empty set
/// (`~0` in RESP3) and a non-empty one as an array.
fn array_or_empty_set(items: Vec<Reply>) -> Reply {
    if items.is_empty() {
        Reply::Set(items)
    } else {
        Reply::Array(items)
    }
}

fn subcommand_info(subcommand: &SubcommandSpec) -> Reply {
    Reply::Array(vec![
        name_reply(subcommand.name),
        Reply::Integer(i64::from(subcommand.arity)),
        flag_set(subcommand.flags),
        Reply::Integer(0),
        Reply::Integer(0),
        Reply::Integer(0),
        category_set(
            subcommand.name,
            subcommand.flags,
            container_group(subcommand),
        ),
        tip_set(subcommand.name),
        Reply::Set(Vec::new()),
        Reply::Set(Vec::new()),
    ])
}

fn flag_set(flags: u32) -> Reply {
    Reply::Set(
        NAMES
            .iter()
            .filter(|(flag, _)| flags & flag != 0)
            .map(|(_, name)| Reply::simple(name))
            .collect(),
    )
}

fn category_set(name: &str, flags: u32, group: &str) -> Reply {
    Reply::Set(
        acl_categories(name, flags, group)
            .into_iter()
            .map(Reply::simple)
            .collect(),
    )
}

fn tip_set(name: &str) -> Reply {
    Reply::Set(tips(name).iter().map(|tip| name_reply(tip)).collect())
}

/// Commands Redis files under @dangerous although they are not admin commands.
const DANGEROUS: &[&str] = &[
    "flushall", "flushdb", "info", "keys", "lastsave", "migrate", "restore", "role", "sort",
    "swapdb",
];

/// Commands Redis files under @keyspace although their group is not `generic`.
const KEYSPACE: &[&str] = &["dbsize", "flushall", "flushdb", "swapdb"];

/// A command's ACL categories as Redis derives them: from its flags, its
/// group, and Redis's own list of dangerous commands, in Redis's order.
fn acl_categories(name: &str, flags: u32, group: &str) -> Vec<&'static str> {
    let is_container = !subcommands(name).is_empty() && name != "command";
    if is_container {
        return vec!["@slow"];
    }
    let group_category = match group {
        "generic" => Some("@keyspace"),
        "set" => Some("@set"),
        "sorted-set" => Some("@sortedset"),
        "list" => Some("@list"),
        "hash" => Some("@hash"),
        "string" => Some("@string"),
        "bitmap" => Some("@bitmap"),
        "hyperloglog" => Some("@hyperloglog"),
        "geo" => Some("@geo"),
        "stream" => Some("@stream"),
        _ => None,
    };
    let keyspace = group_category == Some("@keyspace") || KEYSPACE.contains(&name);
    let connection = group == "connection" || name == "command" || name.starts_with("command|");
    let dangerous = flags & ADMIN != 0 || DANGEROUS.contains(&name);
    let mut categories = Vec::new();
    if keyspace {
        categories.push("@keyspace");
    }
    if flags & READONLY != 0 && group != "scripting" {
        categories.push("@read");
    }
    if flags & WRITE != 0 {
        categories.push("@write");
    }
    if let Some(category) = group_category.filter(|category| *category != "@keyspace") {
        categories.push(category);
    }
    if flags & PUBSUB != 0 || group == "pubsub" {
        categories.push("@pubsub");
    }
    if flags & ADMIN != 0 {
        categories.push("@admin");
    }
    if flags & FAST != 0 {
        categories.push("@fast");
    } else {
        categories.push("@slow");
    }
    if flags & BLOCKING != 0 {
        categories.push("@blocking");
    }
    if dangerous {
        categories.push("@dangerous");
    }
    if connection {
        categories.push("@connection");
    }
    match group {
        "transactions" => categories.push("@transaction"),
        "scripting" => categories.push("@scripting"),
        _ => {}
    }
    categories
}

/// Redis 7.0's command tips for the commands Petrel has.
fn tips(name: &str) -> &'static [&'static str] {
    match name {
        "ping" | "flushall" | "flushdb" => {
            &["request_policy:all_shards", "response_policy:all_succeeded"]
        }
        "dbsize" => &["request_policy:all_shards", "response_policy:agg_sum"],
        "del" | "exists" | "touch" | "unlink" => {
            &["request_policy:multi_shard", "response_policy:agg_sum"]
        }
        "mget" => &["request_policy:multi_shard"],
        "mset" => &[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ],
        "msetnx" => &["request_policy:multi_shard", "response_policy:agg_min"],
        "keys" => &["request_policy:all_shards", "nondeterministic_output_order"],
        "randomkey" => &["request_policy:all_shards", "nondeterministic_output"],
        "scan" => &["nondeterministic_output", "request_policy:special"],
        "info" => &[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ],
        "time" | "ttl" | "pttl" | "lastsave" | "dump" | "client|info" | "client|list" => {
            &["nondeterministic_output"]
        }
        "command" | "command|docs" | "command|info" | "command|list" => {
            &["nondeterministic_output_order"]
        }
        "config|set" => &["request_policy:all_nodes", "response_policy:all_succeeded"],
        _ => &[],
    }
}

/// A key spec's access flags: Redis 7.0's for the commands Petrel has,
/// else what the row's read/write flags imply.
fn key_spec_flags(spec: &CommandSpec) -> &'static [&'static str] {
    match spec.name {
        "append" => &["RW", "insert"],
        "decr" | "decrby" | "getex" | "getset" | "incr" | "incrby" | "incrbyfloat" => {
            &["RW", "access", "update"]
        }
        "set" => &["RW", "access", "update", "variable_flags"],
        "del" | "unlink" => &["RM", "delete"],
        "exists" | "strlen" | "touch" | "type" => &["RO"],
        "getdel" | "rename" | "renamenx" => &["RW", "access", "delete"],
        "mset" | "psetex" | "setex" => &["OW", "update"],
        "msetnx" | "setnx" => &["OW", "insert"],
        _ if spec.has_flag(WRITE) => &["RW", "update"],
        _ => &["RO", "access"],
    }
}

/// The row's one key spec: where its keys begin and how they repeat.
fn key_spec(spec: &CommandSpec) -> Reply {
    let access = key_spec_flags(spec);
    let last_key = if spec.last_key < 0 {
        spec.last_key
    } else {
        spec.last_key - spec.first_key
    };
    Reply::Map(vec![
        (
            name_reply("flags"),
            Reply::Set(access.iter().map(|flag| Reply::simple(flag)).collect()),
        ),
        (
            name_reply("begin_search"),
            Reply::Map(vec![
                (name_reply("type"), name_reply("index")),
                (
                    name_reply("spec"),
                    Reply::Map(vec![(
                        name_reply("index"),
                        Reply::Integer(i64::from(spec.first_key)),
                    )]),
                ),
            ]),
        ),
        (
            name_reply("find_keys"),
            Reply::Map(vec![
                (name_reply("type"), name_reply("range")),
                (
                    name_reply("spec"),
                    Reply::Map(vec![
                        (name_reply("lastkey"), Reply::Integer(i64::from(last_key))),
                        (
                            name_reply("keystep"),
                            Reply::Integer(i64::from(spec.key_step.max(1))),
                        ),
                        (name_reply("limit"), Reply::Integer(0)),
                    ]),
                ),
            ]),
        ),
    ])
}

/// One COMMAND DOCS entry: summary, since, group, the arguments parsed from
/// the row's hint, and the subcommands' own entries for containers.
pub fn command_docs(spec: &CommandSpec) -> Reply {
    let mut fields = docs_fields(spec.summary, spec.since, spec.group, spec.arguments);
    let subcommands = subcommands(spec.name);
    if !subcommands.is_empty() {
        fields.push((
            name_reply("subcommands"),
            Reply::Map(
                subcommands
                    .iter()
                    .map(|subcommand| {
                        (
                            name_reply(subcommand.name),
                            subcommand_docs(subcommand, spec.group),
                        )
                    })
                    .collect(),
            ),
        ));
    }
    Reply::Map(fields)
}

fn subcommand_docs(subcommand: &SubcommandSpec, group: &'static str) -> Reply {
    Reply::Map(docs_fields(
        subcommand.summary,
        subcommand.since,
        group,
        subcommand.arguments,
    ))
}

fn docs_fields(
    summary: &'static str,
    since: &'static str,
    group: &'static str,
    hint: &str,
) -> Vec<(Reply, Reply)> {
    let mut fields = vec![
        (name_reply("summary"), name_reply(summary)),
        (name_reply("since"), name_reply(since)),
        (name_reply("group"), name_reply(group)),
    ];
    let arguments = hint::parse(hint);
    if !arguments.is_empty() {
        fields.push((
            name_reply("arguments"),
            Reply::Array(arguments.iter().map(hint::Argument::to_reply).collect()),
        ));
    }
    fields
}

/// CONFIG subcommand [arguments].
pub(crate) fn config(session: &mut Session, args: &[Bytes], env: &SessionEnv) -> Reply {
    let subcommand = match resolve_subcommand("config", args) {
        Ok(subcommand) => subcommand,
        Err(error) => return error,
    };
    session.last_command = subcommand.name;
    match subcommand.name {
        "config|get" => config_get(session, &args[2..], env),
        "config|set" => Reply::error(
            "ERR CONFIG SET is not supported: Petrel is configured through its config file \
             (reloaded on SIGHUP) and admin API",
        ),
        "config|resetstat" => Reply::error(
            "ERR CONFIG RESETSTAT is not supported: statistics are kept per data thread",
        ),
        "config|rewrite" => Reply::error(
            "ERR CONFIG REWRITE is not supported: Petrel is configured through its config file \
             and admin API",
        ),
        "config|help" => help_reply(CONFIG_HELP),
        other => error_reply(format!(
            "ERR unknown subcommand '{other}'. Try CONFIG HELP."
        )),
    }
}

/// The parameters CONFIG GET knows, with the values that describe Petrel.
fn config_parameters(session: &Session, env: &SessionEnv) -> Vec<(&'static str, String)> {
    let bind = session
        .local_address
        .rsplit_once(':')
        .map(|(host, _)| host.trim_start_matches('[').trim_end_matches(']'))
        .filter(|host| !host.is_empty())
        .unwrap_or("*")
        .to_string();
    vec![
        ("appendonly", "no".into()),
        ("bind", bind),
        ("cluster-enabled", "no".into()),
        ("databases", "1".into()),
        ("maxclients", env.maxclients.to_string()),
        ("maxmemory", env.maxmemory_bytes.to_string()),
        ("maxmemory-policy", "noeviction".into()),
        ("maxmemory-samples", "5".into()),
        ("notify-keyspace-events", String::new()),
        ("port", env.port.to_string()),
        ("proto-max-bulk-len", env.proto_max_bulk_len.to_string()),
        ("save", String::new()),
        (
            "slowlog-log-slower-than",
            env.slowlog_log_slower_than_us.to_string(),
        ),
        ("slowlog-max-len", env.slowlog_max_len.to_string()),
        ("tcp-keepalive", env.tcp_keepalive_secs.to_string()),
        ("timeout", "0".into()),
    ]
}

/// CONFIG GET pattern [pattern ...]: each matching parameter once, as a map.
fn config_get(session: &Session, patterns: &[Bytes], env: &SessionEnv) -> Reply {
    let pairs = config_parameters(session, env)
        .into_iter()
        .filter(|(name, _)| {
            patterns.iter().any(|pattern| {
                pattern.eq_ignore_ascii_case(name.as_bytes())
                    || glob_match(pattern, name.as_bytes(), true)
            })
        })
        .map(|(name, value)| (name_reply(name), Reply::Bulk(Bytes::from(value))))
        .collect();
    Reply::Map(pairs)
}

/// INFO [section ...]: needs every thread's numbers.
pub(crate) fn info(args: &[Bytes]) -> Outcome {
    let sections = args[1..]
        .iter()
        .map(|section| String::from_utf8_lossy(section).to_ascii_lowercase())
        .collect();
    Outcome::Gather(GatherRequest::Info { sections })
}

/// ROLE as Redis 7.0 answers it: `master`, its offset and one
/// `[ip, port, offset]` per online replica (bulk strings), or `slave`, the
/// source's host and port, the link's state and the offset applied.
pub(crate) fn role_reply(role: Option<&ReplicationRole>) -> Reply {
    let bulk = |text: String| Reply::Bulk(Bytes::from(text));
    match role {
        None => Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Integer(0),
            Reply::Array(Vec::new()),
        ]),
        Some(ReplicationRole::Master { offset, replicas }) => Reply::Array(vec![
            Reply::bulk("master"),
            Reply::Integer(*offset as i64),
            Reply::Array(
                replicas
                    .iter()
                    .map(|(address, port, offset)| {
                        Reply::Array(vec![
                            bulk(address.clone()),
                            bulk(port.to_string()),
                            bulk(offset.to_string()),
                        ])
                    })
                    .collect(),
            ),
        ]),
        Some(ReplicationRole::Replica {
            host,
            port,
            state,
            offset,
        }) => Reply::Array(vec![
            Reply::bulk("slave"),
            bulk(host.clone()),
            Reply::Integer(i64::from(*port)),
            Reply::bulk(*state),
            Reply::Integer(*offset),
        ]),
    }
}

/// TIME: seconds and microseconds since the epoch, as two bulk strings.
pub(crate) fn time(env: &SessionEnv) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from((env.now_ms / 1000).to_string())),
        Reply::Bulk(Bytes::from(((env.now_ms % 1000) * 1000).to_string())),
    ])
}

/// INFO's built-in sections, in the order Redis prints them, and whether
/// each is in the default set.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("cluster", true),
    ("keyspace", true),
];

/// INFO's text for `sections` (lower-case; empty means `default`), as a
/// verbatim `txt` string that RESP2 clients receive as a bulk string.
///
/// Numbers about keys and memory are this database's (the one `env` names);
/// connection and command counters are the node's. Each line ends in CRLF
/// and sections are separated by an empty line, as in Redis.
pub fn render_info(sections: &[String], snapshot: &NodeSnapshot, env: &SessionEnv) -> Reply {
    let everything = sections
        .iter()
        .any(|section| section == "all" || section == "everything");
    let defaults = sections.is_empty() || sections.iter().any(|section| section == "default");
    let wanted = |name: &str, in_default: bool| {
        everything || (defaults && in_default) || sections.iter().any(|section| section == name)
    };
    let extra = |name: &str| {
        snapshot
            .extra_sections
            .iter()
            .find(|(title, _)| title.eq_ignore_ascii_case(name))
    };
    let view = InfoView::new(snapshot, env);
    let mut text = String::new();
    for &(name, in_default) in SECTIONS {
        if !wanted(name, in_default) {
            continue;
        }
        match extra(name) {
            Some((title, body)) => push_extra_section(&mut text, title, body),
            None => {
                start_section(&mut text, name);
                view.write_section(name, &mut text);
            }
        }
    }
    for (title, body) in &snapshot.extra_sections {
        let builtin = SECTIONS
            .iter()
            .any(|(name, _)| title.eq_ignore_ascii_case(name));
        if !builtin && wanted(&title.to_ascii_lowercase(), true) {
            push_extra_section(&mut text, title, body);
        }
    }
    Reply::Verbatim("txt", Bytes::from(text))
}

fn start_section(text: &mut String, name: &str) {
    if !text.is_empty() {
        text.push_str("\r\n");
    }
    let mut title = name.to_string();
    if let Some(first) = title.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    let _ = write!(text, "# {title}\r\n");
}

fn push_extra_section(text: &mut String, title: &str, body: &str) {
    if !text.is_empty() {
        text.push_str("\r\n");
    }
    let _ = write!(text, "# {title}\r\n");
    for line in body.lines().filter(|line| !line.is_empty()) {
        text.push_str(line);
        text.push_str("\r\n");
    }
}

/// The numbers INFO prints, summed over threads once.
struct InfoView<'a> {
    snapshot: &'a NodeSnapshot,
    env: &'a SessionEnv<'a>,
    /// Index of this connection's database in the snapshot.
    database: usize,
}

impl<'a> InfoView<'a> {
    fn new(snapshot: &'a NodeSnapshot, env: &'a SessionEnv<'a>) -> InfoView<'a> {
        let database = snapshot
            .databases
            .iter()
            .position(|(name, _)| name == env.database_name)
            .unwrap_or(0);
        InfoView {
            snapshot,
            env,
            database,
        }
    }

    fn sum(&self, field: impl Fn(&session::ThreadSnapshot) -> u64) -> u64 {
        self.snapshot.threads.iter().map(field).sum()
    }

    /// A per-database number summed over the shards.
    fn database_sum(
        &self,
        database: usize,
        field: impl Fn(&session::DatabaseShardStats) -> u64,
    ) -> u64 {
        self.snapshot
            .threads
            .iter()
            .filter_map(|thread| thread.databases.get(database))
            .map(field)
            .sum()
    }

    fn uptime_ms(&self) -> u64 {
        self.now_ms().saturating_sub(self.snapshot.started_at_ms)
    }

    fn now_ms(&self) -> u64 {
        if self.snapshot.now_ms > 0 {
            self.snapshot.now_ms
        } else {
            self.env.now_ms
        }
    }

    fn write_section(&self, name: &str, text: &mut String) {
        let mut line = |key: &str, value: &dyn std::fmt::Display| {
            let _ = write!(text, "{key}:{value}\r\n");
        };
        match name {
            "server" => {
                let version = if self.snapshot.version.is_empty() {
                    env!("CARGO_PKG_VERSION")
                } else {
                    self.snapshot.version
                };
                let uptime_seconds = self.uptime_ms() / 1000;
                let port = if self.env.port != 0 {
                    self.env.port
                } else {
                    self.snapshot.tcp_port
                };
                line("redis_version", &REDIS_COMPATIBLE_VERSION);
                line("redis_git_sha1", &"00000000");
                line("redis_git_dirty", &0);
                line("redis_build_id", &"0");
                line("redis_mode", &"standalone");
                line("petrel_version", &version);
                line("os", &operating_system());
                line("arch_bits", &usize::BITS);
                line("monotonic_clock", &"POSIX clock_gettime");
                line("multiplexing_api", &"io_uring");
                line("process_id", &self.snapshot.process_id);
                line("process_supervised", &"no");
                line("run_id", &self.hex_id(0x72756e));
                line("tcp_port", &port);
                line("server_time_usec", &(self.now_ms() * 1000));
                line("uptime_in_seconds", &uptime_seconds);
                line("uptime_in_days", &(uptime_seconds / 86_400));
                line("hz", &10);
                line("configured_hz", &10);
                line("lru_clock", &((self.now_ms() / 1000) & 0x00ff_ffff));
                line("executable", &"");
                line("config_file", &"");
                line("io_threads_active", &0);
                line("petrel_data_threads", &self.env.shard_count);
                line("petrel_database", &self.env.database_name);
            }
            "clients" => {
                line("connected_clients", &self.snapshot.connected_clients);
                line("cluster_connections", &0);
                line("maxclients", &self.env.maxclients);
                line("client_recent_max_input_buffer", &0);
                line("client_recent_max_output_buffer", &0);
                let blocked = self.sum(|t| t.blocked_clients);
                line("blocked_clients", &blocked);
                line("tracking_clients", &0);
                line("clients_in_timeout_table", &0);
            }
            "memory" => {
                let used = self.database_sum(self.database, |d| d.used_memory_bytes);
                let maxmemory = self.env.maxmemory_bytes;
                line("used_memory", &used);
                line("used_memory_human", &bytes_to_human(used));
                line("maxmemory", &maxmemory);
                line("maxmemory_human", &bytes_to_human(maxmemory));
                line("maxmemory_policy", &"noeviction");
                for (index, (name, limit)) in self.snapshot.databases.iter().enumerate() {
                    let used = self.database_sum(index, |d| d.used_memory_bytes);
                    line(
                        &format!("db_used_memory_{}", info_key(name)),
                        &format_args!(
                            "used={used},used_human={},maxmemory={limit}",
                            bytes_to_human(used)
                        ),
                    );
                }
            }
            "persistence" => {
                line("loading", &0);
                line("async_loading", &0);
                line("rdb_changes_since_last_save", &0);
                line("rdb_bgsave_in_progress", &0);
                line("rdb_last_save_time", &(self.snapshot.started_at_ms / 1000));
                line("rdb_last_bgsave_status", &"ok");
                line("rdb_last_bgsave_time_sec", &-1);
                line("rdb_current_bgsave_time_sec", &-1);
                line("aof_enabled", &0);
                line("aof_rewrite_in_progress", &0);
                line("aof_rewrite_scheduled", &0);
                line("aof_last_rewrite_time_sec", &-1);
                line("aof_current_rewrite_time_sec", &-1);
                line("aof_last_bgrewrite_status", &"ok");
                line("aof_last_write_status", &"ok");
            }
            "stats" => {
                let expired: u64 = (0..self.snapshot.databases.len().max(1))
                    .map(|index| self.database_sum(index, |d| d.expired_keys_total))
                    .sum();
                line(
                    "total_connections_received",
                    &self.sum(|t| t.total_connections_received),
                );
                line(
                    "total_commands_processed",
                    &self.sum(|t| t.total_commands_processed),
                );
                line("instantaneous_ops_per_sec", &0);
                line("total_net_input_bytes", &self.sum(|t| t.net_input_bytes));
                line("total_net_output_bytes", &self.sum(|t| t.net_output_bytes));
                line("instantaneous_input_kbps", &"0.00");
                line("instantaneous_output_kbps", &"0.00");
                line(
                    "rejected_connections",
                    &self.sum(|t| t.rejected_connections),
                );
                line("expired_keys", &expired);
                line("evicted_keys", &0);
                line("keyspace_hits", &self.sum(|t| t.keyspace_hits));
                line("keyspace_misses", &self.sum(|t| t.keyspace_misses));
                line("pubsub_channels", &0);
                line("pubsub_patterns", &0);
            }
            "replication" => {
                line("role", &"master");
                line("connected_slaves", &0);
                line("master_failover_state", &"no-failover");
                line("master_replid", &self.hex_id(0x7265706c));
                line("master_replid2", &"0".repeat(40));
                line("master_repl_offset", &0);
                line("second_repl_offset", &-1);
                line("repl_backlog_active", &0);
                line("repl_backlog_size", &1_048_576);
                line("repl_backlog_first_byte_offset", &0);
                line("repl_backlog_histlen", &0);
            }
            "commandstats" => {
                for (name, stat) in self.command_stats() {
                    let per_call = if stat.calls == 0 {
                        0.0
                    } else {
                        stat.nanos as f64 / 1000.0 / stat.calls as f64
                    };
                    line(
                        &format!("cmdstat_{name}"),
                        &format_args!(
                            "calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}",
                            stat.calls,
                            stat.nanos / 1000,
                            stat.rejected_calls,
                            stat.failed_calls
                        ),
                    );
                }
            }
            "cluster" => line("cluster_enabled", &0),
            "keyspace" => {
                let keys = self.database_sum(self.database, |d| d.keys);
                let expires = self.database_sum(self.database, |d| d.expires);
                if keys > 0 {
                    line(
                        "db0",
                        &format_args!("keys={keys},expires={expires},avg_ttl=0"),
                    );
                }
            }
            // modules, errorstats: Petrel has neither, so the sections are empty.
            _ => {}
        }
    }

    /// Every thread's counters merged by command, by name; commands never
    /// called are left out, as Redis does.
    fn command_stats(&self) -> Vec<(&'static str, session::CommandStat)> {
        let mut merged: Vec<(&'static str, session::CommandStat)> = Vec::new();
        for (name, stat) in self
            .snapshot
            .threads
            .iter()
            .flat_map(|thread| &thread.command_stats)
        {
            let slot = match merged.iter().position(|(known, _)| known == name) {
                Some(index) => &mut merged[index].1,
                None => {
                    merged.push((name, session::CommandStat::default()));
                    &mut merged.last_mut().expect("just pushed").1
                }
            };
            slot.calls += stat.calls;
            slot.nanos += stat.nanos;
            slot.rejected_calls += stat.rejected_calls;
            slot.failed_calls += stat.failed_calls;
        }
        merged.retain(|(_, stat)| stat.calls + stat.rejected_calls + stat.failed_calls > 0);
        merged.sort_by_key(|(name, _)| *name);
        merged
    }

    /// A 40-hex-digit id stable for this process (INFO's run_id and
    /// replication id), mixed from the process id and start time.
    fn hex_id(&self, salt: u64) -> String {
        let mut state = (u64::from(self.snapshot.process_id) << 32)
            ^ self.snapshot.started_at_ms
            ^ salt.rotate_left(17);
        let mut text = String::with_capacity(48);
        for _ in 0..3 {
            let _ = write!(text, "{:016x}", splitmix64(&mut state));
        }
        text.truncate(40);
        text
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `Linux x86_64`, as far as the build target tells.
fn operating_system() -> String {
    let os = std::env::consts::OS;
    let mut name = os.to_string();
    if let Some(first) = name.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    format!("{name} {}", std::env::consts::ARCH)
}

/// A database name made safe for an INFO key.
fn info_key(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `2.00M`, `1.00G`, ...
pub fn bytes_to_human(bytes: u64) -> String {
    const UNITS: [(u32, &str); 6] = [
        (10, "K"),
        (20, "M"),
        (30, "G"),
        (40, "T"),
        (50, "P"),
        (60, ""),
    ];
    if bytes < 1 << 10 {
        return format!("{bytes}B");
    }
    for window in UNITS.windows(2) {
        let ((shift, suffix), (next_shift, _)) = (window[0], window[1]);
        if bytes < 1 << next_shift {
            return format!("{:.2}{suffix}", bytes as f64 / (1u64 << shift) as f64);
        }
    }
    format!("{bytes}B")
}

fn name_reply(text: &'static str) -> Reply {
    Reply::Bulk(Bytes::from_static(text.as_bytes()))
}

/// Turns a redis-cli style argument hint (`key value [NX|XX] [GET]`) into
/// COMMAND DOCS argument maps that redis-cli turns back into the same hint.
mod hint {
    use bytes::Bytes;
    use petrel_resp::Reply;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum Kind {
        Key,
        String,
        Integer,
        UnixTime,
        Pattern,
        PureToken,
        OneOf,
        Block,
    }

    impl Kind {
        fn name(self) -> &'static str {
            match self {
                Kind::Key => "key",
                Kind::String => "string",
                Kind::Integer => "integer",
                Kind::UnixTime => "unix-time",
                Kind::Pattern => "pattern",
                Kind::PureToken => "pure-token",
                Kind::OneOf => "oneof",
                Kind::Block => "block",
            }
        }
    }

    #[derive(Debug, Clone, PartialEq)]
    pub(super) struct Argument {
        pub name: String,
        pub kind: Kind,
        pub token: Option<String>,
        pub optional: bool,
        pub multiple: bool,
        pub children: Vec<Argument>,
        /// Position among the command's key arguments, for `key_spec_index`.
        pub key_spec_index: Option<usize>,
    }

    impl Argument {
        fn word(word: &str) -> Argument {
            let is_token = word.bytes().any(|b| b.is_ascii_uppercase())
                && !word.bytes().any(|b| b.is_ascii_lowercase());
            if is_token {
                return Argument {
                    name: word.to_ascii_lowercase(),
                    kind: Kind::PureToken,
                    token: Some(word.to_string()),
                    ..Argument::empty()
                };
            }
            Argument {
                name: word.to_string(),
                kind: kind_of(word),
                ..Argument::empty()
            }
        }

        fn empty() -> Argument {
            Argument {
                name: String::new(),
                kind: Kind::Block,
                token: None,
                optional: false,
                multiple: false,
                children: Vec::new(),
                key_spec_index: None,
            }
        }

        fn group(kind: Kind, children: Vec<Argument>) -> Argument {
            Argument {
                name: joined_name(&children),
                kind,
                children,
                ..Argument::empty()
            }
        }

        fn is_plain_token(&self) -> bool {
            self.kind == Kind::PureToken && !self.optional && !self.multiple
        }

        /// Equal as arguments, ignoring whether each is optional or repeated.
        fn same_shape(&self, other: &Argument) -> bool {
            self.name == other.name
                && self.kind == other.kind
                && self.token == other.token
                && self.children == other.children
        }

        pub(super) fn to_reply(&self) -> Reply {
            let text = |value: &str| Reply::Bulk(Bytes::copy_from_slice(value.as_bytes()));
            let mut fields = vec![
                (text("name"), text(&self.name)),
                (text("type"), text(self.kind.name())),
            ];
            if let Some(index) = self.key_spec_index {
                fields.push((text("key_spec_index"), Reply::Integer(index as i64)));
            }
            if let Some(token) = &self.token {
                fields.push((text("token"), text(token)));
            }
            let mut flags = Vec::new();
            if self.optional {
                flags.push(Reply::simple("optional"));
            }
            if self.multiple {
                flags.push(Reply::simple("multiple"));
            }
            if !flags.is_empty() {
                fields.push((text("flags"), Reply::Set(flags)));
            }
            if !self.children.is_empty() {
                fields.push((
                    text("arguments"),
                    Reply::Array(self.children.iter().map(Argument::to_reply).collect()),
                ));
            }
            Reply::Map(fields)
        }
    }

    /// A group's name: its members' names joined by `_` (`username_password`).
    fn joined_name(children: &[Argument]) -> String {
        children
            .iter()
            .map(|child| child.name.as_str())
            .collect::<Vec<_>>()
            .join("_")
    }

    /// The argument type a value's name suggests.
    fn kind_of(name: &str) -> Kind {
        const INTEGERS: &[&str] = &[
            "count",
            "index",
            "start",
            "end",
            "offset",
            "seconds",
            "milliseconds",
            "increment",
            "decrement",
            "numkeys",
            "cursor",
            "protover",
            "client-id",
            "db",
            "position",
            "numreplicas",
        ];
        if name == "key"
            || name == "destination"
            || name == "source"
            || (name.ends_with("key") && name != "numkeys")
        {
            Kind::Key
        } else if name == "pattern" {
            Kind::Pattern
        } else if name.starts_with("unix-time") {
            Kind::UnixTime
        } else if INTEGERS.contains(&name) {
            Kind::Integer
        } else {
            Kind::String
        }
    }

    #[derive(Debug)]
    enum Element {
        Argument(Argument),
        Bar,
        Ellipsis,
    }

    enum Token<'a> {
        Open,
        Close,
        Bar,
        Word(&'a str),
    }

    fn tokenize(hint: &str) -> Vec<Token<'_>> {
        let mut tokens = Vec::new();
        let mut word_start = None;
        for (index, c) in hint.char_indices() {
            let special = match c {
                '[' => Some(Token::Open),
                ']' => Some(Token::Close),
                '|' => Some(Token::Bar),
                c if c.is_whitespace() => None,
                _ => {
                    word_start.get_or_insert(index);
                    continue;
                }
            };
            if let Some(start) = word_start.take() {
                tokens.push(Token::Word(&hint[start..index]));
            }
            tokens.extend(special);
        }
        if let Some(start) = word_start {
            tokens.push(Token::Word(&hint[start..]));
        }
        tokens
    }

    /// Parses a whole hint into the command's top-level arguments. Never
    /// fails: unbalanced brackets close at the end of the text.
    pub(super) fn parse(hint: &str) -> Vec<Argument> {
        let tokens = tokenize(hint);
        let mut position = 0;
        let mut elements = Vec::new();
        loop {
            elements.extend(parse_elements(&tokens, &mut position));
            if position >= tokens.len() {
                break;
            }
            // A stray `]` at the top level: skip it.
            position += 1;
        }
        let (mut arguments, _) = sequence(elements);
        let mut next_key = 0;
        number_keys(&mut arguments, &mut next_key);
        arguments
    }

    fn number_keys(arguments: &mut [Argument], next_key: &mut usize) {
        for argument in arguments {
            if argument.kind == Kind::Key {
                argument.key_spec_index = Some(*next_key);
                *next_key += 1;
            }
            number_keys(&mut argument.children, next_key);
        }
    }

    /// Reads elements up to (not including) the `]` that closes this level.
    fn parse_elements(tokens: &[Token], position: &mut usize) -> Vec<Element> {
        let mut elements = Vec::new();
        while let Some(token) = tokens.get(*position) {
            match token {
                Token::Close => break,
                Token::Open => {
                    *position += 1;
                    let inner = parse_elements(tokens, position);
                    if matches!(tokens.get(*position), Some(Token::Close)) {
                        *position += 1;
                    }
                    let (children, repeated) = sequence(inner);
                    if let Some(mut argument) = collapse(children) {
                        argument.optional = true;
                        argument.multiple |= repeated;
                        elements.push(Element::Argument(argument));
                    }
                    continue;
                }
                Token::Bar => elements.push(Element::Bar),
                Token::Word(word) if word.chars().all(|c| c == '.') => {
                    elements.push(Element::Ellipsis)
                }
                Token::Word(word) => elements.push(Element::Argument(Argument::word(word))),
            }
            *position += 1;
        }
        elements
    }

    /// Resolves one level's elements into arguments, and whether the level
    /// as a whole repeats (it ends in `...`).
    fn sequence(mut elements: Vec<Element>) -> (Vec<Argument>, bool) {
        let repeated = matches!(elements.last(), Some(Element::Ellipsis));
        if repeated {
            elements.pop();
        }
        if !elements
            .iter()
            .any(|element| matches!(element, Element::Bar))
        {
            return (merge_repeats(plain(elements)), repeated);
        }
        // `NX|XX` binds words; `EX seconds|PX milliseconds` binds phrases.
        let binds_words = elements.iter().enumerate().all(|(index, element)| {
            !matches!(element, Element::Bar)
                || [index.checked_sub(1), Some(index + 1)].iter().all(|side| {
                    matches!(
                        side.and_then(|side| elements.get(side)),
                        Some(Element::Argument(argument)) if argument.is_plain_token()
                    )
                })
        });
        if binds_words {
            return (merge_repeats(word_alternatives(elements)), repeated);
        }
        let mut alternatives = Vec::new();
        let mut current = Vec::new();
        for element in elements {
            match element {
                Element::Bar => {
                    alternatives.push(merge_repeats(plain(std::mem::take(&mut current))))
                }
                other => current.push(other),
            }
        }
        alternatives.push(merge_repeats(plain(current)));
        // `FILTERBY MODULE name|ACLCAT category`: the leading token is shared.
        let mut shared_token = None;
        if let Some(first) = alternatives.first_mut() {
            if first.len() >= 2 && first[0].is_plain_token() && first[1].is_plain_token() {
                shared_token = first.remove(0).token;
            }
        }
        let mut children: Vec<Argument> = alternatives.into_iter().filter_map(collapse).collect();
        if children.len() < 2 && shared_token.is_none() {
            // Bars with nothing to choose between: what is there stands alone.
            return (children, repeated);
        }
        if children.is_empty() {
            children.extend(shared_token.map(|token| Argument::word(&token)));
            return (children, repeated);
        }
        let mut one_of = Argument::group(Kind::OneOf, children);
        one_of.token = shared_token;
        (vec![one_of], repeated)
    }

    /// Elements without bars: each `...` repeats the argument before it.
    fn plain(elements: Vec<Element>) -> Vec<Argument> {
        let mut arguments: Vec<Argument> = Vec::new();
        for element in elements {
            match element {
                Element::Argument(argument) => arguments.push(argument),
                Element::Ellipsis => {
                    if let Some(last) = arguments.last_mut() {
                        last.multiple = true;
                    }
                }
                Element::Bar => {}
            }
        }
        arguments
    }

    /// Joins `A|B|C` runs of single words into one-of arguments.
    fn word_alternatives(elements: Vec<Element>) -> Vec<Argument> {
        let mut arguments: Vec<Argument> = Vec::new();
        let mut joining = false;
        for element in elements {
            match element {
                Element::Bar => joining = true,
                Element::Argument(argument) if joining => {
                    joining = false;
                    if let Some(last) = arguments.last_mut() {
                        if last.kind != Kind::OneOf || last.token.is_some() {
                            let first = std::mem::replace(last, Argument::empty());
                            *last = Argument::group(Kind::OneOf, vec![first]);
                        }
                        last.children.push(argument);
                        last.name = joined_name(&last.children);
                    }
                }
                Element::Argument(argument) => arguments.push(argument),
                Element::Ellipsis => {
                    if let Some(last) = arguments.last_mut() {
                        last.multiple = true;
                    }
                }
            }
        }
        arguments
    }

    /// `key [key ...]` is one repeated key; `field value [field value ...]`
    /// one repeated block.
    fn merge_repeats(arguments: Vec<Argument>) -> Vec<Argument> {
        let mut merged: Vec<Argument> = Vec::new();
        for argument in arguments {
            if argument.optional && argument.multiple {
                let pattern: Vec<Argument> =
                    if argument.kind == Kind::Block && argument.token.is_none() {
                        argument.children.clone()
                    } else {
                        vec![argument.clone()]
                    };
                let count = pattern.len();
                if merged.len() >= count
                    && merged[merged.len() - count..].iter().zip(&pattern).all(
                        |(before, repeated)| {
                            before.same_shape(repeated) && !before.optional && !before.multiple
                        },
                    )
                {
                    let mut repeated = if count == 1 {
                        merged.pop().unwrap_or(argument)
                    } else {
                        let children = merged.split_off(merged.len() - count);
                        Argument::group(Kind::Block, children)
                    };
                    repeated.multiple = true;
                    merged.push(repeated);
                    continue;
                }
            }
            merged.push(argument);
        }
        merged
    }

    /// One argument for a run of arguments: itself if alone, a token with
    /// its value (`COUNT count`), or a block.
    fn collapse(mut arguments: Vec<Argument>) -> Option<Argument> {
        match arguments.len() {
            0 => None,
            1 => arguments.pop(),
            _ if arguments[0].is_plain_token() => {
                let token = arguments.remove(0).token;
                let mut argument = if arguments.len() == 1 && arguments[0].token.is_none() {
                    arguments.remove(0)
                } else {
                    Argument::group(Kind::Block, arguments)
                };
                argument.token = token;
                Some(argument)
            }
            _ => Some(Argument::group(Kind::Block, arguments)),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn shape(argument: &Argument) -> String {
            let mut text = format!("{}:{}", argument.name, argument.kind.name());
            if let Some(token) = &argument.token {
                text.push_str(&format!(" token={token}"));
            }
            if argument.optional {
                text.push_str(" optional");
            }
            if argument.multiple {
                text.push_str(" multiple");
            }
            if !argument.children.is_empty() {
                let children: Vec<String> = argument.children.iter().map(shape).collect();
                text.push_str(&format!(" ({})", children.join(", ")));
            }
            text
        }

        fn shapes(hint: &str) -> Vec<String> {
            parse(hint).iter().map(shape).collect()
        }

        // SET's hint becomes the argument tree Redis documents for SET.
        #[test]
        fn set_hint() {
            assert_eq!(
                shapes("key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|KEEPTTL]"),
                [
                    "key:key",
                    "value:string",
                    "nx_xx:oneof optional (nx:pure-token token=NX, xx:pure-token token=XX)",
                    "get:pure-token token=GET optional",
                    "seconds_milliseconds_unix-time-seconds_keepttl:oneof optional (seconds:integer token=EX, \
                     milliseconds:integer token=PX, unix-time-seconds:unix-time token=EXAT, \
                     keepttl:pure-token token=KEEPTTL)",
                ]
            );
        }

        // Repetition folds into one argument or block marked multiple.
        #[test]
        fn repeated_arguments() {
            assert_eq!(shapes("key [key ...]"), ["key:key multiple"]);
            assert_eq!(
                shapes("key field value [field value ...]"),
                [
                    "key:key",
                    "field_value:block multiple (field:string, value:string)"
                ]
            );
            assert_eq!(
                shapes("[section [section ...]]"),
                ["section:string optional multiple"]
            );
        }

        // HELLO's nested options keep their tokens.
        #[test]
        fn nested_tokens() {
            assert_eq!(
                shapes("[protover [AUTH username password] [SETNAME clientname]]"),
                [
                    "protover_username_password_clientname:block optional (protover:integer, \
                  username_password:block token=AUTH optional (username:string, password:string), \
                  clientname:string token=SETNAME optional)"
                ]
            );
        }

        // Tokens that share a keyword and words joined by bars.
        #[test]
        fn alternatives() {
            assert_eq!(
                shapes("[TYPE NORMAL|MASTER]"),
                [
                    "normal_master:oneof token=TYPE optional (normal:pure-token token=NORMAL, \
                  master:pure-token token=MASTER)"
                ]
            );
            assert_eq!(
                shapes("source destination LEFT|RIGHT"),
                [
                    "source:key",
                    "destination:key",
                    "left_right:oneof (left:pure-token token=LEFT, right:pure-token token=RIGHT)"
                ]
            );
            assert_eq!(
                shapes("[FILTERBY MODULE module-name|PATTERN pattern]"),
                ["module-name_pattern:oneof token=FILTERBY optional (module-name:string token=MODULE, \
                  pattern:pattern token=PATTERN)"]
            );
        }

        // Broken hints do not panic.
        #[test]
        fn unbalanced_hints() {
            assert_eq!(shapes("[key"), ["key:key optional"]);
            assert_eq!(shapes("key]"), ["key:key"]);
            assert!(shapes("").is_empty());
            assert_eq!(shapes("| ..."), Vec::<String>::new());
        }
    }
}
