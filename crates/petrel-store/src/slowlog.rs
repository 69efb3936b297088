//! The slow log: commands whose execution on a shard took at least
//! `node.slowlog_log_slower_than` microseconds, kept per database in a
//! bounded ring, and the SLOWLOG command's parsing and replies, as Redis
//! 7.0 has them.
//!
//! Each data thread keeps its own [`Slowlog`] of what it executed; SLOWLOG
//! gathers them (entries carry node-wide increasing ids, so they merge in
//! order). Nothing here measures time or does I/O: the engine times a
//! command and hands over the duration.

use std::collections::VecDeque;

use bytes::Bytes;
use petrel_resp::Reply;

/// Arguments kept per entry; the last one says how many more there were.
pub const ENTRY_MAX_ARGS: usize = 32;
/// Bytes kept per argument; the rest is said in words.
pub const ENTRY_MAX_ARG_BYTES: usize = 128;
/// Entries `SLOWLOG GET` returns without a count.
const GET_DEFAULT_COUNT: usize = 10;

/// Who sent a command, as its slow log entry names the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientLabel {
    /// `ip:port`, as CLIENT LIST's `addr=`.
    pub addr: String,
    /// CLIENT SETNAME's name, if any.
    pub name: Option<Bytes>,
}

/// One slow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowlogEntry {
    pub id: u64,
    /// When it ran, in Unix seconds.
    pub time_secs: u64,
    pub duration_us: u64,
    /// Its arguments, shortened as Redis shortens them.
    pub args: Vec<Bytes>,
    pub client: ClientLabel,
}

impl SlowlogEntry {
    pub fn new(
        id: u64,
        time_secs: u64,
        duration_us: u64,
        args: &[Bytes],
        client: ClientLabel,
    ) -> SlowlogEntry {
        let kept = args.len().min(ENTRY_MAX_ARGS);
        let args = args[..kept]
            .iter()
            .enumerate()
            .map(|(index, arg)| {
                if kept < args.len() && index == kept - 1 {
                    Bytes::from(format!("... ({} more arguments)", args.len() - kept + 1))
                } else if arg.len() > ENTRY_MAX_ARG_BYTES {
                    let mut short = arg[..ENTRY_MAX_ARG_BYTES].to_vec();
                    short.extend_from_slice(
                        format!("... ({} more bytes)", arg.len() - ENTRY_MAX_ARG_BYTES).as_bytes(),
                    );
                    Bytes::from(short)
                } else {
                    arg.clone()
                }
            })
            .collect();
        SlowlogEntry {
            id,
            time_secs,
            duration_us,
            args,
            client,
        }
    }

    fn to_reply(&self) -> Reply {
        Reply::Array(vec![
            Reply::Integer(self.id as i64),
            Reply::Integer(self.time_secs as i64),
            Reply::Integer(self.duration_us as i64),
            Reply::Array(self.args.iter().cloned().map(Reply::Bulk).collect()),
            Reply::Bulk(Bytes::from(self.client.addr.clone())),
            Reply::Bulk(self.client.name.clone().unwrap_or_default()),
        ])
    }
}

/// One data thread's slow log, per database slot, newest last.
#[derive(Debug, Default)]
pub struct Slowlog {
    databases: Vec<VecDeque<SlowlogEntry>>,
}

impl Slowlog {
    /// Adds `entry`, dropping the oldest past `max_len` (0 keeps nothing).
    pub fn record(&mut self, database: usize, entry: SlowlogEntry, max_len: usize) {
        if self.databases.len() <= database {
            self.databases.resize_with(database + 1, VecDeque::new);
        }
        let entries = &mut self.databases[database];
        entries.push_back(entry);
        while entries.len() > max_len {
            entries.pop_front();
        }
    }

    /// The newest `count` entries of `database` (all for `None`), newest first.
    pub fn newest(&self, database: usize, count: Option<usize>) -> Vec<SlowlogEntry> {
        let Some(entries) = self.databases.get(database) else {
            return Vec::new();
        };
        entries
            .iter()
            .rev()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    pub fn len(&self, database: usize) -> usize {
        self.databases.get(database).map_or(0, VecDeque::len)
    }

    pub fn reset(&mut self, database: usize) {
        if let Some(entries) = self.databases.get_mut(database) {
            entries.clear();
        }
    }
}

/// What a SLOWLOG command asks of every data thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowlogRequest {
    /// The newest entries (`None`: all).
    Get {
        count: Option<usize>,
    },
    Len,
    Reset,
}

/// What one data thread answers to a [`SlowlogRequest`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlowlogPart {
    pub entries: Vec<SlowlogEntry>,
    pub len: usize,
}

/// SLOWLOG GET [count] | LEN | RESET after the subcommand's arity was
/// checked; `Err` is the reply to an invalid count.
pub fn parse_request(subcommand: &str, args: &[Bytes]) -> Result<SlowlogRequest, Reply> {
    match (subcommand, args.len()) {
        ("slowlog|get", 2) => Ok(SlowlogRequest::Get {
            count: Some(GET_DEFAULT_COUNT),
        }),
        ("slowlog|get", 3) => match crate::keyspace::parse_i64(&args[2]) {
            Some(-1) => Ok(SlowlogRequest::Get { count: None }),
            Some(count) if count >= 0 => Ok(SlowlogRequest::Get {
                count: Some(usize::try_from(count).unwrap_or(usize::MAX)),
            }),
            _ => Err(Reply::error(
                "ERR count should be greater than or equal to -1",
            )),
        },
        ("slowlog|get", _) => Err(Reply::error(
            "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.",
        )),
        ("slowlog|len", _) => Ok(SlowlogRequest::Len),
        _ => Ok(SlowlogRequest::Reset),
    }
}

/// The reply once every thread answered: GET merges their entries newest
/// first (ids grow over the node); LEN and the GET list never exceed
/// `max_len`, the node's `slowlog_max_len`.
pub fn answer(request: SlowlogRequest, parts: Vec<SlowlogPart>, max_len: usize) -> Reply {
    match request {
        SlowlogRequest::Get { count } => {
            let mut entries: Vec<SlowlogEntry> =
                parts.into_iter().flat_map(|part| part.entries).collect();
            entries.sort_by_key(|entry| std::cmp::Reverse(entry.id));
            entries.truncate(count.unwrap_or(usize::MAX).min(max_len));
            Reply::Array(entries.iter().map(SlowlogEntry::to_reply).collect())
        }
        SlowlogRequest::Len => {
            let len: usize = parts.iter().map(|part| part.len).sum();
            Reply::Integer(len.min(max_len) as i64)
        }
        SlowlogRequest::Reset => Reply::ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|word| Bytes::copy_from_slice(word.as_bytes()))
            .collect()
    }

    fn client() -> ClientLabel {
        ClientLabel {
            addr: "127.0.0.1:40370".into(),
            name: Some(Bytes::from_static(b"named")),
        }
    }

    // Arguments past 32 and bytes past 128 are said in words, exactly as
    // redis-server 7.0.15 wrote them for MSET of 40 keys and a 200-byte SET.
    #[test]
    fn entries_shorten_long_commands_as_redis_does() {
        let mut mset = vec!["MSET".to_string()];
        mset.extend((0..40).map(|index| format!("a{index}")));
        let mset: Vec<&str> = mset.iter().map(String::as_str).collect();
        let entry = SlowlogEntry::new(6, 1_795_978_955, 29, &args(&mset), client());
        assert_eq!(entry.args.len(), 32);
        assert_eq!(entry.args[30], Bytes::from_static(b"a29"));
        assert_eq!(
            entry.args[31],
            Bytes::from_static(b"... (10 more arguments)")
        );

        let value = "x".repeat(200);
        let entry = SlowlogEntry::new(5, 1_795_978_955, 8, &args(&["SET", "k", &value]), client());
        let expected = format!("{}... (72 more bytes)", "x".repeat(128));
        assert_eq!(entry.args[2], Bytes::from(expected));
        assert_eq!(
            answer(
                SlowlogRequest::Get { count: Some(1) },
                vec![SlowlogPart {
                    entries: vec![entry],
                    len: 1
                }],
                128
            ),
            Reply::Array(vec![Reply::Array(vec![
                Reply::Integer(5),
                Reply::Integer(1_795_978_955),
                Reply::Integer(8),
                Reply::Array(vec![
                    Reply::bulk("SET"),
                    Reply::bulk("k"),
                    Reply::Bulk(Bytes::from(format!(
                        "{}... (72 more bytes)",
                        "x".repeat(128)
                    ))),
                ]),
                Reply::bulk("127.0.0.1:40370"),
                Reply::bulk("named"),
            ])])
        );
    }

    // Threads' entries merge newest first; the ring keeps max_len per
    // database; LEN and GET never pass max_len; RESET empties one database.
    #[test]
    fn threads_merge_and_rings_stay_bounded() {
        let entry = |id| SlowlogEntry::new(id, 1, 10, &args(&["GET", "k"]), ClientLabel::default());
        let (mut first, mut second) = (Slowlog::default(), Slowlog::default());
        for id in [1, 3, 5] {
            first.record(0, entry(id), 2);
        }
        second.record(0, entry(4), 2);
        second.record(1, entry(2), 2);
        assert_eq!(first.len(0), 2, "the oldest fell out of the ring");
        let parts = |count| {
            vec![
                SlowlogPart {
                    entries: first.newest(0, count),
                    len: first.len(0),
                },
                SlowlogPart {
                    entries: second.newest(0, count),
                    len: second.len(0),
                },
            ]
        };
        let ids = |reply: Reply| -> Vec<i64> {
            let Reply::Array(entries) = reply else {
                panic!("an array")
            };
            entries
                .into_iter()
                .map(|entry| match entry {
                    Reply::Array(fields) => match fields[0] {
                        Reply::Integer(id) => id,
                        _ => panic!("an id"),
                    },
                    _ => panic!("an entry"),
                })
                .collect()
        };
        assert_eq!(
            ids(answer(
                SlowlogRequest::Get { count: None },
                parts(None),
                128
            )),
            [5, 4, 3]
        );
        assert_eq!(
            ids(answer(
                SlowlogRequest::Get { count: Some(2) },
                parts(Some(2)),
                128
            )),
            [5, 4]
        );
        assert_eq!(
            ids(answer(SlowlogRequest::Get { count: None }, parts(None), 2)),
            [5, 4]
        );
        assert_eq!(
            answer(SlowlogRequest::Len, parts(None), 128),
            Reply::Integer(3)
        );
        assert_eq!(
            answer(SlowlogRequest::Len, parts(None), 2),
            Reply::Integer(2)
        );
        second.reset(0);
        assert_eq!(second.len(0), 0);
        assert_eq!(second.len(1), 1, "another database's entries stay");
    }

    #[test]
    fn get_counts_are_checked_as_redis_checks_them() {
        let get = |count: &str| parse_request("slowlog|get", &args(&["SLOWLOG", "GET", count]));
        assert_eq!(get("-1"), Ok(SlowlogRequest::Get { count: None }));
        assert_eq!(get("0"), Ok(SlowlogRequest::Get { count: Some(0) }));
        assert_eq!(
            parse_request("slowlog|get", &args(&["SLOWLOG", "GET"])),
            Ok(SlowlogRequest::Get { count: Some(10) })
        );
        for bad in ["-2", "x", "1.5"] {
            assert_eq!(
                get(bad),
                Err(Reply::error(
                    "ERR count should be greater than or equal to -1"
                )),
                "{bad}"
            );
        }
        assert_eq!(
            parse_request("slowlog|get", &args(&["SLOWLOG", "GET", "1", "2"])),
            Err(Reply::error(
                "ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
            ))
        );
    }
}
