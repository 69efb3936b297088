//! SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD and SMOVE when their
//! keys live on several shards: coordinators (see [`crate::route`]) that
//! fetch the sets with SMEMBERS, combine them with the same set algebra the
//! one-shard handlers use, and put a STORE form's result on the
//! destination's shard.
//!
//! When every key turns out to share a shard (always so for SINTERCARD on
//! one shard, whose keys the table cannot locate), the whole command goes to
//! that shard and runs atomically there. Across shards, another client may
//! change a set between the fetch and the store, or see SMOVE's member in
//! neither set for a moment; the cross-shard transaction mechanism will
//! close that window, as for RENAME.

use bytes::Bytes;
use petrel_resp::Reply;

use super::{combine, combine_reply, intersect, parse_sintercard, SetOp};
use crate::family::string::WRONGTYPE;
use crate::keyspace::{Entry, Value};
use crate::route::{shard_of, Coordinator, ShardOp, ShardReply, Step};
use crate::table::{self, CommandSpec};
use crate::types::SetValue;

/// The coordinator for one of this family's multi-key commands.
pub fn coordinator(
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    shard_count: usize,
) -> Box<dyn Coordinator> {
    let shard_count = shard_count.max(1);
    match spec.name {
        "smove" => Box::new(Move::new(spec, args, shard_count)),
        _ => Box::new(Algebra::new(spec, args, shard_count)),
    }
}

/// A command of this family by name, for the steps a coordinator sends.
fn command(name: &str, args: Vec<Bytes>) -> ShardOp {
    // Every name used here is a row of this crate's static table.
    let spec = table::lookup(name.as_bytes()).expect("the set family's rows are in the table");
    ShardOp::Command { spec, args }
}

fn unexpected(reply: Option<ShardReply>) -> Reply {
    match reply {
        Some(ShardReply::Reply(reply @ Reply::Error(_))) => reply,
        other => Reply::error_owned(format!("ERR internal: unexpected shard reply {other:?}")),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Start,
    /// The whole command went to the one shard that owns its keys.
    Whole,
    /// SMEMBERS went to each distinct source key's shard.
    Fetched,
    /// The result went to the destination; it has this many members.
    Stored(usize),
}

/// SINTER, SUNION, SDIFF, SINTERSTORE, SUNIONSTORE, SDIFFSTORE, SINTERCARD.
struct Algebra {
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    shard_count: usize,
    op: SetOp,
    /// Where the source keys are in `args`.
    keys: std::ops::Range<usize>,
    destination: Option<Bytes>,
    /// SINTERCARD: answer the size, stopping at `limit` (0: none).
    cardinality: Option<usize>,
    /// Each source key once, in key order: the SMEMBERS sent.
    distinct: Vec<Bytes>,
    error: Option<Reply>,
    stage: Stage,
}

impl Algebra {
    fn new(spec: &'static CommandSpec, args: Vec<Bytes>, shard_count: usize) -> Algebra {
        let mut algebra = Algebra {
            spec,
            args,
            shard_count,
            op: SetOp::Inter,
            keys: 0..0,
            destination: None,
            cardinality: None,
            distinct: Vec::new(),
            error: None,
            stage: Stage::Start,
        };
        let store = spec.name.ends_with("store");
        algebra.op = match spec.name.trim_end_matches("store") {
            "sunion" => SetOp::Union,
            "sdiff" => SetOp::Diff,
            _ => SetOp::Inter,
        };
        if spec.name == "sintercard" {
            match parse_sintercard(&algebra.args) {
                Ok((keys, limit)) => {
                    algebra.keys = keys;
                    algebra.cardinality = Some(limit);
                }
                Err(reply) => algebra.error = Some(reply),
            }
        } else if store {
            algebra.destination = algebra.args.get(1).cloned();
            algebra.keys = 2..algebra.args.len();
        } else {
            algebra.keys = 1..algebra.args.len();
        }
        algebra
    }

    /// The shard of every key, if there is just one.
    fn single_shard(&self) -> Option<usize> {
        let mut shards = self.args[self.keys.clone()]
            .iter()
            .chain(&self.destination)
            .map(|key| shard_of(key, self.shard_count));
        let first = shards.next()?;
        shards.all(|shard| shard == first).then_some(first)
    }

    fn start(&mut self) -> Step {
        if let Some(error) = self.error.take() {
            return Step::Done(error);
        }
        if let Some(shard) = self.single_shard() {
            self.stage = Stage::Whole;
            let args = std::mem::take(&mut self.args);
            return Step::Dispatch(vec![(
                shard,
                ShardOp::Command {
                    spec: self.spec,
                    args,
                },
            )]);
        }
        for key in &self.args[self.keys.clone()] {
            if !self.distinct.contains(key) {
                self.distinct.push(key.clone());
            }
        }
        self.stage = Stage::Fetched;
        Step::Dispatch(
            self.distinct
                .iter()
                .map(|key| {
                    let args = vec![Bytes::from_static(b"SMEMBERS"), key.clone()];
                    (shard_of(key, self.shard_count), command("smembers", args))
                })
                .collect(),
        )
    }

    /// Combines the fetched sets, and answers or stores the result.
    fn combine(&mut self, replies: Vec<ShardReply>) -> Step {
        let mut fetched: Vec<Option<SetValue>> = Vec::with_capacity(replies.len());
        let mut replies = replies.into_iter();
        for _ in 0..self.distinct.len() {
            match replies.next() {
                // An empty reply is a missing key: stored sets are never empty.
                Some(ShardReply::Reply(Reply::Set(members))) => {
                    fetched.push((!members.is_empty()).then(|| {
                        members
                            .into_iter()
                            .filter_map(|member| match member {
                                Reply::Bulk(member) => Some(member),
                                _ => None,
                            })
                            .collect()
                    }))
                }
                other => return Step::Done(unexpected(other)),
            }
        }
        let sets: Vec<Option<&SetValue>> = self.args[self.keys.clone()]
            .iter()
            .map(|key| {
                let index = self.distinct.iter().position(|seen| seen == key)?;
                fetched[index].as_ref()
            })
            .collect();
        if let Some(limit) = self.cardinality {
            return Step::Done(Reply::Integer(intersect(&sets, limit).len() as i64));
        }
        let Some(destination) = self.destination.clone() else {
            return Step::Done(combine_reply(self.op, &sets));
        };
        let result = combine(self.op, &sets);
        let len = result.len();
        self.stage = Stage::Stored(len);
        let shard = shard_of(&destination, self.shard_count);
        let op = if len == 0 {
            ShardOp::Take { key: destination }
        } else {
            ShardOp::Put {
                key: destination,
                entry: Entry::new(Value::Set(result)),
            }
        };
        Step::Dispatch(vec![(shard, op)])
    }
}

impl Coordinator for Algebra {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        match self.stage {
            Stage::Start => self.start(),
            Stage::Whole => match replies.into_iter().next() {
                Some(ShardReply::Reply(reply)) => Step::Done(reply),
                other => Step::Done(unexpected(other)),
            },
            Stage::Fetched => self.combine(replies),
            Stage::Stored(len) => match replies.into_iter().next() {
                Some(ShardReply::Reply(Reply::Error(error))) => Step::Done(Reply::Error(error)),
                Some(_) => Step::Done(Reply::Integer(len as i64)),
                None => Step::Done(unexpected(None)),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MoveStage {
    Start,
    Whole,
    /// TYPE went to both keys' shards.
    Typed,
    /// SREM went to the source's shard.
    Removed,
    /// SADD went to the destination's shard.
    Added,
    /// The destination refused the member: SADD put it back in the source.
    PutBack,
}

/// SMOVE across shards: check both keys' types as Redis does, remove the
/// member from the source, then add it to the destination; if the
/// destination became another type meanwhile, put the member back.
struct Move {
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    shard_count: usize,
    stage: MoveStage,
    error: Option<Reply>,
}

impl Move {
    fn new(spec: &'static CommandSpec, args: Vec<Bytes>, shard_count: usize) -> Move {
        Move {
            spec,
            args,
            shard_count,
            stage: MoveStage::Start,
            error: None,
        }
    }

    fn shard(&self, position: usize) -> usize {
        shard_of(&self.args[position], self.shard_count)
    }

    /// SADD or SREM of the member on the key at `position`.
    fn member_op(&self, name: &'static str, position: usize) -> (usize, ShardOp) {
        let args = vec![
            Bytes::from_static(name.as_bytes()),
            self.args[position].clone(),
            self.args[3].clone(),
        ];
        (self.shard(position), command(name, args))
    }

    fn type_op(&self, position: usize) -> (usize, ShardOp) {
        let args = vec![Bytes::from_static(b"TYPE"), self.args[position].clone()];
        (self.shard(position), command("type", args))
    }

    fn start(&mut self) -> Step {
        if self.shard(1) == self.shard(2) {
            self.stage = MoveStage::Whole;
            let shard = self.shard(1);
            let args = std::mem::take(&mut self.args);
            return Step::Dispatch(vec![(
                shard,
                ShardOp::Command {
                    spec: self.spec,
                    args,
                },
            )]);
        }
        self.stage = MoveStage::Typed;
        Step::Dispatch(vec![self.type_op(1), self.type_op(2)])
    }

    fn typed(&mut self, replies: Vec<ShardReply>) -> Step {
        let mut replies = replies.into_iter();
        let (source, destination) = match (replies.next(), replies.next()) {
            (
                Some(ShardReply::Reply(Reply::Simple(source))),
                Some(ShardReply::Reply(Reply::Simple(destination))),
            ) => (source, destination),
            (Some(ShardReply::Reply(Reply::Simple(_))), other) | (other, _) => {
                return Step::Done(unexpected(other))
            }
        };
        // A missing source answers 0 before the destination's type counts.
        if source.as_ref() == b"none" {
            return Step::Done(Reply::Integer(0));
        }
        if source.as_ref() != b"set" || !matches!(destination.as_ref(), b"set" | b"none") {
            return Step::Done(Reply::error(WRONGTYPE));
        }
        self.stage = MoveStage::Removed;
        Step::Dispatch(vec![self.member_op("srem", 1)])
    }
}

impl Coordinator for Move {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        let first = |replies: Vec<ShardReply>| replies.into_iter().next();
        match self.stage {
            MoveStage::Start => self.start(),
            MoveStage::Whole => match first(replies) {
                Some(ShardReply::Reply(reply)) => Step::Done(reply),
                other => Step::Done(unexpected(other)),
            },
            MoveStage::Typed => self.typed(replies),
            MoveStage::Removed => match first(replies) {
                Some(ShardReply::Reply(Reply::Integer(0))) => Step::Done(Reply::Integer(0)),
                Some(ShardReply::Reply(Reply::Integer(_))) => {
                    self.stage = MoveStage::Added;
                    Step::Dispatch(vec![self.member_op("sadd", 2)])
                }
                other => Step::Done(unexpected(other)),
            },
            MoveStage::Added => match first(replies) {
                Some(ShardReply::Reply(Reply::Integer(_))) => Step::Done(Reply::Integer(1)),
                other => {
                    self.error = Some(unexpected(other));
                    self.stage = MoveStage::PutBack;
                    Step::Dispatch(vec![self.member_op("sadd", 1)])
                }
            },
            MoveStage::PutBack => {
                Step::Done(self.error.take().unwrap_or_else(|| Reply::error(WRONGTYPE)))
            }
        }
    }
}
