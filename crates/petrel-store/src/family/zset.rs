//! The sorted set commands (ZADD, ZRANGE, ZRANK, ZPOPMIN, ZUNIONSTORE, ...):
//! their semantics on one shard's keyspace, with Redis 7.0's replies and
//! error texts, the coordinator that runs ZUNIONSTORE and ZINTERSTORE across
//! shards, and their rows of the command table.
//!
//! Numbers are read as Redis reads them ([`float`]): scores and weights
//! refuse NaN, white space and overflow; range bounds take `(` for an
//! exclusive end and `-inf`/`+inf`; lexicographic bounds are `[x`, `(x`,
//! `-` and `+`. Scores go out as [`Reply::Double`] (a RESP3 double, or a
//! `%.17g` bulk string in RESP2), except in ZSCAN, whose scores are always
//! bulk strings. A sorted set that becomes empty is deleted at once.
//!
//! Handlers must not read the clock (time is `ctx.now_ms`) or know other
//! shards. ZUNIONSTORE and ZINTERSTORE name their keys after a count, so
//! their rows carry no handler and the engine always asks for their
//! coordinator, which runs the whole command on one shard when every key is
//! there (atomically) and otherwise gathers the sources and stores the result.

mod float;

pub use float::{parse_timeout_ms, TimeoutError};

use std::collections::{HashMap, HashSet};

use bytes::{Bytes, BytesMut};
use petrel_resp::Reply;

use crate::family::list::index_range;
use crate::family::string::{NOT_AN_INTEGER, SYNTAX_ERROR, WRONGTYPE};
use crate::glob::glob_match;
use crate::keyspace::{parse_i64, Entry, Value};
use crate::route::{shard_of, Coordinator, ShardOp, ShardReply, Step};
use crate::table::{flags, CommandSpec, Handler, Route};
use crate::types;
use crate::types::list::owned_element;
use crate::types::zset::{LexBound, LexRange, ScoreRange, ZSetValue};
use crate::{ExecContext, Keyspace};

use float::{parse_range_bound, parse_score};

const NOT_A_FLOAT: &str = "ERR value is not a valid float";
const NAN_RESULT: &str = "ERR resulting score is not a number (NaN)";
const RANGE_NOT_FLOAT: &str = "ERR min or max is not a float";
const LEX_RANGE_INVALID: &str = "ERR min or max not valid string range item";
const NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
const XX_AND_NX: &str = "ERR XX and NX options at the same time are not compatible";
const GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const INCR_ONE_PAIR: &str = "ERR INCR option supports a single increment-element pair";
const LIMIT_NEEDS_BY: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
const WITHSCORES_BYLEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
const WEIGHT_NOT_FLOAT: &str = "ERR weight value is not a float";
const INVALID_CURSOR: &str = "ERR invalid cursor";
const RANDOM_COUNT_OUT_OF_RANGE: &str =
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";
const RANDOM_WITHSCORES_OUT_OF_RANGE: &str = "ERR value is out of range";

/// The sorted set at `key`: `Ok(None)` if there is none, WRONGTYPE if the
/// key holds another type.
pub fn zset_at<'a>(
    keyspace: &'a mut Keyspace,
    key: &[u8],
    now_ms: u64,
) -> Result<Option<&'a ZSetValue>, Reply> {
    types::get(keyspace, key, now_ms).map_err(|_| Reply::error(WRONGTYPE))
}

/// Changes the sorted set at `key` in place, then deletes the key if it
/// became empty. `Ok(None)` if there is no key.
fn with_zset<R>(
    keyspace: &mut Keyspace,
    key: &[u8],
    now_ms: u64,
    change: impl FnOnce(&mut ZSetValue) -> R,
) -> Result<Option<R>, Reply> {
    types::update(keyspace, key, now_ms, false, change).map_err(|_| Reply::error(WRONGTYPE))
}

fn integer_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(NOT_AN_INTEGER))
}

/// ZRANGEBYSCORE's `min` and `max`: a number, `-inf`/`+inf`, `(` for an
/// exclusive end.
pub fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
    fn bound(arg: &[u8]) -> Option<(f64, bool)> {
        match arg.strip_prefix(b"(") {
            Some(rest) => parse_range_bound(rest).map(|value| (value, true)),
            None => parse_range_bound(arg).map(|value| (value, false)),
        }
    }
    match (bound(min), bound(max)) {
        (Some((min, min_exclusive)), Some((max, max_exclusive))) => Ok(ScoreRange {
            min,
            max,
            min_exclusive,
            max_exclusive,
        }),
        _ => Err(Reply::error(RANGE_NOT_FLOAT)),
    }
}

/// ZRANGEBYLEX's `min` and `max`: `[member`, `(member`, `-` or `+`.
pub fn parse_lex_range(min: &Bytes, max: &Bytes) -> Result<LexRange, Reply> {
    fn bound(arg: &Bytes) -> Option<LexBound> {
        match arg.first()? {
            b'+' if arg.len() == 1 => Some(LexBound::Highest),
            b'-' if arg.len() == 1 => Some(LexBound::Lowest),
            b'[' => Some(LexBound::Inclusive(arg.slice(1..))),
            b'(' => Some(LexBound::Exclusive(arg.slice(1..))),
            _ => None,
        }
    }
    match (bound(min), bound(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(Reply::error(LEX_RANGE_INVALID)),
    }
}

/// A member-and-score list for WITHSCORES, ZPOPMIN with a count and
/// ZRANDMEMBER ... WITHSCORES. Redis sends it flat (`m1 s1 m2 s2`) in RESP2
/// and as an array of `[member, score]` pairs in RESP3. [`Reply`] has no
/// variant for that shape yet; a map gives the RESP2 bytes exactly, and in
/// RESP3 a map of the same pairs in the same order.
fn scored_pairs(items: impl IntoIterator<Item = (Bytes, f64)>) -> Reply {
    Reply::Pairs(
        items
            .into_iter()
            .map(|(member, score)| (Reply::Bulk(member), Reply::Double(score)))
            .collect(),
    )
}

fn members_reply<'a>(items: impl Iterator<Item = (&'a Bytes, f64)>, with_scores: bool) -> Reply {
    if with_scores {
        scored_pairs(items.map(|(member, score)| (member.clone(), score)))
    } else {
        Reply::Array(
            items
                .map(|(member, _)| Reply::Bulk(member.clone()))
                .collect(),
        )
    }
}

/// A score as `%.17g` text, as ZSCAN sends it in both protocols: the
/// encoder's RESP2 form of a double, without the bulk framing.
fn score_text(score: f64) -> Bytes {
    let mut encoded = BytesMut::with_capacity(40);
    petrel_resp::encode(&Reply::Double(score), 2, &mut encoded);
    let start = encoded
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let end = encoded.len().saturating_sub(2).max(start);
    encoded.freeze().slice(start..end)
}

/// A score as a listpack stores it, which is what ZSCAN returns for a small
/// set: integral values up to 2^62 as integers (Redis's `double2ll`),
/// others as `%.17g`.
fn stored_score_text(score: f64) -> Bytes {
    const INTEGRAL_MAX: f64 = (i64::MAX / 2) as f64;
    if (-INTEGRAL_MAX..=INTEGRAL_MAX).contains(&score) && score.fract() == 0.0 {
        return Bytes::from((score as i64).to_string());
    }
    score_text(score)
}

// ---- ZADD and ZINCRBY -------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct AddOptions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    incr: bool,
}

/// What adding one member did, as Redis's `zsetAdd` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Added {
    New(f64),
    Updated(f64),
    /// Processed but the score did not change (INCR by 0, same score).
    Same(f64),
    /// Skipped by NX, XX, GT or LT.
    Nothing,
}

/// Redis's `zsetAdd` for one member; `Err` when INCR would make NaN.
fn add_member(
    zset: &mut ZSetValue,
    member: &Bytes,
    score: f64,
    options: AddOptions,
) -> Result<Added, Reply> {
    let Some(current) = zset.score(member) else {
        if options.xx {
            return Ok(Added::Nothing);
        }
        zset.insert(owned_element(member.clone()), score);
        return Ok(Added::New(score));
    };
    if options.nx {
        return Ok(Added::Nothing);
    }
    let score = if options.incr {
        let sum = current + score;
        if sum.is_nan() {
            return Err(Reply::error(NAN_RESULT));
        }
        sum
    } else {
        score
    };
    if (options.lt && score >= current) || (options.gt && score <= current) {
        return Ok(Added::Nothing);
    }
    if score == current {
        return Ok(Added::Same(score));
    }
    zset.insert(member.clone(), score);
    Ok(Added::Updated(score))
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...],
/// and ZINCRBY key increment member (ZADD with INCR, as in Redis, which
/// also lets ZINCRBY take ZADD's option words).
fn zadd_generic(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext, incr: bool) -> Reply {
    let mut options = AddOptions {
        incr,
        ..AddOptions::default()
    };
    let mut changed_count = false;
    let mut index = 2;
    while let Some(option) = args.get(index) {
        match option.to_ascii_lowercase().as_slice() {
            b"nx" => options.nx = true,
            b"xx" => options.xx = true,
            b"ch" => changed_count = true,
            b"incr" => options.incr = true,
            b"gt" => options.gt = true,
            b"lt" => options.lt = true,
            _ => break,
        }
        index += 1;
    }
    let pairs = &args[index..];
    if pairs.is_empty() || !pairs.len().is_multiple_of(2) {
        return Reply::error(SYNTAX_ERROR);
    }
    if options.nx && options.xx {
        return Reply::error(XX_AND_NX);
    }
    if (options.nx && (options.gt || options.lt)) || (options.gt && options.lt) {
        return Reply::error(GT_LT_NX);
    }
    if options.incr && pairs.len() > 2 {
        return Reply::error(INCR_ONE_PAIR);
    }
    let mut scores = Vec::with_capacity(pairs.len() / 2);
    for pair in pairs.chunks_exact(2) {
        match parse_score(&pair[0]) {
            Some(score) => scores.push(score),
            None => return Reply::error(NOT_A_FLOAT),
        }
    }
    let apply = |zset: &mut ZSetValue| -> (u64, u64, Option<f64>, Option<Reply>) {
        let (mut added, mut updated, mut last) = (0, 0, None);
        for (pair, &score) in pairs.chunks_exact(2).zip(&scores) {
            match add_member(zset, &pair[1], score, options) {
                Ok(Added::New(score)) => {
                    added += 1;
                    last = Some(score);
                }
                Ok(Added::Updated(score)) => {
                    updated += 1;
                    last = Some(score);
                }
                Ok(Added::Same(score)) => last = Some(score),
                Ok(Added::Nothing) => {}
                Err(reply) => return (added, updated, last, Some(reply)),
            }
        }
        (added, updated, last, None)
    };
    let key = &args[1];
    let outcome = match with_zset(keyspace, key, ctx.now_ms, apply) {
        Err(reply) => return reply,
        Ok(Some(outcome)) => outcome,
        Ok(None) if options.xx => (0, 0, None, None),
        Ok(None) => {
            let mut zset = ZSetValue::new();
            let outcome = apply(&mut zset);
            if !zset.is_empty() {
                keyspace.insert(key.clone(), Entry::new(Value::ZSet(zset)), ctx.now_ms);
            }
            outcome
        }
    };
    let (added, updated, last, error) = outcome;
    if let Some(error) = error {
        return error;
    }
    if options.incr {
        last.map_or(Reply::Nil, Reply::Double)
    } else if changed_count {
        Reply::Integer((added + updated) as i64)
    } else {
        Reply::Integer(added as i64)
    }
}

fn zadd(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zadd_generic(keyspace, args, ctx, false)
}

fn zincrby(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zadd_generic(keyspace, args, ctx, true)
}

// ---- single members ----------------------------------------------------------

fn zrem(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let removed = with_zset(keyspace, &args[1], ctx.now_ms, |zset| {
        args[2..]
            .iter()
            .filter(|member| zset.remove(member).is_some())
            .count()
    });
    match removed {
        Ok(removed) => Reply::Integer(removed.unwrap_or(0) as i64),
        Err(reply) => reply,
    }
}

fn zscore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(zset) => zset
            .and_then(|zset| zset.score(&args[2]))
            .map_or(Reply::Nil, Reply::Double),
        Err(reply) => reply,
    }
}

fn zmscore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(zset) => Reply::Array(
            args[2..]
                .iter()
                .map(|member| {
                    zset.and_then(|zset| zset.score(member))
                        .map_or(Reply::Nil, Reply::Double)
                })
                .collect(),
        ),
        Err(reply) => reply,
    }
}

fn zcard(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(zset) => Reply::Integer(zset.map_or(0, ZSetValue::len) as i64),
        Err(reply) => reply,
    }
}

fn rank_generic(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    reverse: bool,
) -> Reply {
    let zset = match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(zset)) => zset,
        Ok(None) => return Reply::Nil,
        Err(reply) => return reply,
    };
    match zset.rank(&args[2]) {
        Some(rank) if reverse => Reply::Integer((zset.len() - 1 - rank) as i64),
        Some(rank) => Reply::Integer(rank as i64),
        None => Reply::Nil,
    }
}

fn zrank(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    rank_generic(keyspace, args, ctx, false)
}

fn zrevrank(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    rank_generic(keyspace, args, ctx, true)
}

// ---- counting and ranges -------------------------------------------------------

fn zcount(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let range = match parse_score_range(&args[2], &args[3]) {
        Ok(range) => range,
        Err(reply) => return reply,
    };
    match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(zset) => Reply::Integer(
            zset.and_then(|zset| zset.score_ranks(&range))
                .map_or(0, |(first, last)| last - first + 1) as i64,
        ),
        Err(reply) => reply,
    }
}

fn zlexcount(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let range = match parse_lex_range(&args[2], &args[3]) {
        Ok(range) => range,
        Err(reply) => return reply,
    };
    match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(zset) => Reply::Integer(
            zset.and_then(|zset| zset.lex_ranks(&range))
                .map_or(0, |(first, last)| last - first + 1) as i64,
        ),
        Err(reply) => reply,
    }
}

/// How a range command selects: fixed by the legacy commands, chosen by
/// BYSCORE/BYLEX in ZRANGE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeBy {
    Unset,
    Rank,
    Score,
    Lex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Unset,
    Forward,
    Reverse,
}

/// The ranks `first..=last` after LIMIT's offset and count, counted from
/// `last` downwards when `reverse`. A negative offset selects nothing and a
/// negative count everything, as in Redis.
fn limit_window(
    (first, last): (usize, usize),
    reverse: bool,
    offset: i64,
    count: i64,
) -> Option<(usize, usize)> {
    let available = (last - first + 1) as u64;
    let offset = u64::try_from(offset).ok()?;
    if offset >= available {
        return None;
    }
    let take = match u64::try_from(count) {
        Ok(count) => count.min(available - offset),
        Err(_) => available - offset,
    };
    if take == 0 {
        return None;
    }
    let (offset, take) = (offset as usize, take as usize);
    Some(if reverse {
        (last - offset + 1 - take, last - offset)
    } else {
        (first + offset, first + offset + take - 1)
    })
}

/// Redis's `zrangeGenericCommand`: ZRANGE and its legacy forms, with the
/// same order of checks and errors.
fn zrange_generic(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    mut by: RangeBy,
    mut direction: Direction,
) -> Reply {
    let mut with_scores = false;
    let (mut offset, mut count) = (0i64, -1i64);
    let mut index = 4;
    while index < args.len() {
        let option = &args[index];
        let left = args.len() - index - 1;
        if option.eq_ignore_ascii_case(b"withscores") {
            with_scores = true;
        } else if option.eq_ignore_ascii_case(b"limit") && left >= 2 {
            match (integer_arg(&args[index + 1]), integer_arg(&args[index + 2])) {
                (Ok(parsed_offset), Ok(parsed_count)) => {
                    offset = parsed_offset;
                    count = parsed_count;
                }
                (Err(reply), _) | (_, Err(reply)) => return reply,
            }
            index += 2;
        } else if direction == Direction::Unset && option.eq_ignore_ascii_case(b"rev") {
            direction = Direction::Reverse;
        } else if by == RangeBy::Unset && option.eq_ignore_ascii_case(b"bylex") {
            by = RangeBy::Lex;
        } else if by == RangeBy::Unset && option.eq_ignore_ascii_case(b"byscore") {
            by = RangeBy::Score;
        } else {
            return Reply::error(SYNTAX_ERROR);
        }
        index += 1;
    }
    let reverse = direction == Direction::Reverse;
    if by == RangeBy::Unset {
        by = RangeBy::Rank;
    }
    // Redis tests "a LIMIT was given" as "the count is not -1".
    if count != -1 && by == RangeBy::Rank {
        return Reply::error(LIMIT_NEEDS_BY);
    }
    if with_scores && by == RangeBy::Lex {
        return Reply::error(WITHSCORES_BYLEX);
    }
    // Reversed score and lex ranges are written max first.
    let (min, max) = if reverse && by != RangeBy::Rank {
        (&args[3], &args[2])
    } else {
        (&args[2], &args[3])
    };
    enum Selection {
        Ranks(i64, i64),
        Scores(ScoreRange),
        Lex(LexRange),
    }
    let selection = match by {
        RangeBy::Score => match parse_score_range(min, max) {
            Ok(range) => Selection::Scores(range),
            Err(reply) => return reply,
        },
        RangeBy::Lex => match parse_lex_range(min, max) {
            Ok(range) => Selection::Lex(range),
            Err(reply) => return reply,
        },
        _ => match (integer_arg(min), integer_arg(max)) {
            (Ok(start), Ok(stop)) => Selection::Ranks(start, stop),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        },
    };
    let zset = match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(zset)) => zset,
        Ok(None) => return Reply::Array(Vec::new()),
        Err(reply) => return reply,
    };
    let window = match selection {
        Selection::Ranks(start, stop) => {
            index_range(start, stop, zset.len()).map(|(first, last)| {
                if reverse {
                    // Ranks count from the highest score.
                    (zset.len() - 1 - last, zset.len() - 1 - first)
                } else {
                    (first, last)
                }
            })
        }
        Selection::Scores(range) => zset
            .score_ranks(&range)
            .and_then(|ranks| limit_window(ranks, reverse, offset, count)),
        Selection::Lex(range) => zset
            .lex_ranks(&range)
            .and_then(|ranks| limit_window(ranks, reverse, offset, count)),
    };
    match window {
        Some((first, last)) => members_reply(zset.range(first, last, reverse), with_scores),
        None => Reply::Array(Vec::new()),
    }
}

fn zrange(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zrange_generic(keyspace, args, ctx, RangeBy::Unset, Direction::Unset)
}

fn zrevrange(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zrange_generic(keyspace, args, ctx, RangeBy::Rank, Direction::Reverse)
}

fn zrangebyscore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zrange_generic(keyspace, args, ctx, RangeBy::Score, Direction::Forward)
}

fn zrevrangebyscore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zrange_generic(keyspace, args, ctx, RangeBy::Score, Direction::Reverse)
}

fn zrangebylex(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zrange_generic(keyspace, args, ctx, RangeBy::Lex, Direction::Forward)
}

fn zrevrangebylex(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zrange_generic(keyspace, args, ctx, RangeBy::Lex, Direction::Reverse)
}

// ---- removing by range and popping -------------------------------------------

/// ZREMRANGEBYRANK, ZREMRANGEBYSCORE and ZREMRANGEBYLEX: the range is parsed
/// before the key is looked up, as in Redis.
fn zremrange_generic(
    keyspace: &mut Keyspace,
    args: &[Bytes],
    ctx: &ExecContext,
    by: RangeBy,
) -> Reply {
    enum Selection {
        Ranks(i64, i64),
        Scores(ScoreRange),
        Lex(LexRange),
    }
    let selection = match by {
        RangeBy::Score => match parse_score_range(&args[2], &args[3]) {
            Ok(range) => Selection::Scores(range),
            Err(reply) => return reply,
        },
        RangeBy::Lex => match parse_lex_range(&args[2], &args[3]) {
            Ok(range) => Selection::Lex(range),
            Err(reply) => return reply,
        },
        _ => match (integer_arg(&args[2]), integer_arg(&args[3])) {
            (Ok(start), Ok(stop)) => Selection::Ranks(start, stop),
            (Err(reply), _) | (_, Err(reply)) => return reply,
        },
    };
    let removed = with_zset(keyspace, &args[1], ctx.now_ms, |zset| {
        let ranks = match &selection {
            Selection::Ranks(start, stop) => index_range(*start, *stop, zset.len()),
            Selection::Scores(range) => zset.score_ranks(range),
            Selection::Lex(range) => zset.lex_ranks(range),
        };
        ranks.map_or(0, |(first, last)| zset.remove_ranks(first, last))
    });
    match removed {
        Ok(removed) => Reply::Integer(removed.unwrap_or(0) as i64),
        Err(reply) => reply,
    }
}

fn zremrangebyrank(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zremrange_generic(keyspace, args, ctx, RangeBy::Rank)
}

fn zremrangebyscore(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zremrange_generic(keyspace, args, ctx, RangeBy::Score)
}

fn zremrangebylex(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    zremrange_generic(keyspace, args, ctx, RangeBy::Lex)
}

/// ZPOPMIN and ZPOPMAX `key [count]`: without a count a flat
/// `[member, score]`, with one a list of pairs (empty for a missing key).
fn pop_generic(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext, highest: bool) -> Reply {
    if args.len() > 3 {
        return Reply::error(SYNTAX_ERROR);
    }
    let count = match args.get(2).map(|arg| parse_i64(arg)) {
        None => None,
        Some(Some(count)) if count >= 0 => Some(count as u64),
        Some(_) => return Reply::error(NOT_POSITIVE),
    };
    match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(_)) if count == Some(0) => return Reply::Array(Vec::new()),
        Ok(_) => {}
        Err(reply) => return reply,
    }
    let popped = with_zset(keyspace, &args[1], ctx.now_ms, |zset| {
        let take = count.unwrap_or(1).min(zset.len() as u64) as usize;
        let (first, last) = if highest {
            (zset.len() - take, zset.len() - 1)
        } else {
            (0, take - 1)
        };
        let items: Vec<(Bytes, f64)> = zset
            .range(first, last, highest)
            .map(|(member, score)| (member.clone(), score))
            .collect();
        zset.remove_ranks(first, last);
        items
    });
    match popped {
        Err(reply) => reply,
        Ok(None) => Reply::Array(Vec::new()),
        Ok(Some(items)) if count.is_some() => scored_pairs(items),
        Ok(Some(items)) => Reply::Array(
            items
                .into_iter()
                .flat_map(|(member, score)| [Reply::Bulk(member), Reply::Double(score)])
                .collect(),
        ),
    }
}

fn zpopmin(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    pop_generic(keyspace, args, ctx, false)
}

fn zpopmax(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    pop_generic(keyspace, args, ctx, true)
}

// ---- random members ------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]: one member (nil without the key);
/// with a count, up to `count` distinct members, or with a negative count
/// exactly `-count` members that may repeat. Randomness comes from the
/// set's own generator, so nothing global is involved.
fn zrandmember(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let key = &args[1];
    let mut with_scores = false;
    let mut count = None;
    if let Some(arg) = args.get(2) {
        let requested = match parse_i64(arg) {
            Some(i64::MIN) => return Reply::error(RANDOM_COUNT_OUT_OF_RANGE),
            Some(requested) => requested,
            None => return Reply::error(NOT_AN_INTEGER),
        };
        match &args[3..] {
            [] => {}
            [word] if word.eq_ignore_ascii_case(b"withscores") => {
                if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&requested) {
                    return Reply::error(RANDOM_WITHSCORES_OUT_OF_RANGE);
                }
                with_scores = true;
            }
            _ => return Reply::error(SYNTAX_ERROR),
        }
        count = Some(requested);
    }
    let picked = with_zset(keyspace, key, ctx.now_ms, |zset| match count {
        None => {
            let position = (zset.next_random() % zset.len() as u64) as usize;
            let picked = zset.at_position(position).map(|(m, s)| (m.clone(), s));
            picked.into_iter().collect::<Vec<_>>()
        }
        Some(requested) => random_members(zset, requested),
    });
    match (picked, count) {
        (Err(reply), _) => reply,
        (Ok(None), None) => Reply::Nil,
        (Ok(None), Some(_)) => Reply::Array(Vec::new()),
        (Ok(Some(mut items)), None) => items
            .pop()
            .map_or(Reply::Nil, |(member, _)| Reply::Bulk(member)),
        (Ok(Some(items)), Some(_)) if with_scores => scored_pairs(items),
        (Ok(Some(items)), Some(_)) => Reply::Array(
            items
                .into_iter()
                .map(|(member, _)| Reply::Bulk(member))
                .collect(),
        ),
    }
}

/// ZRANDMEMBER's selection for a count, as Redis's cases: a negative count
/// samples with repetition; a count at least the size returns everything;
/// otherwise distinct members, by shuffling when most are wanted and by
/// drawing until enough are found when few are.
fn random_members(zset: &mut ZSetValue, requested: i64) -> Vec<(Bytes, f64)> {
    let size = zset.len();
    let pick = |zset: &ZSetValue, position: usize| {
        zset.at_position(position)
            .map(|(member, score)| (member.clone(), score))
    };
    if requested < 0 {
        let count = requested.unsigned_abs();
        let mut items = Vec::new();
        for _ in 0..count {
            let position = (zset.next_random() % size as u64) as usize;
            items.extend(pick(zset, position));
        }
        return items;
    }
    let count = requested as u64;
    if count >= size as u64 {
        // Redis answers with the whole set, highest score first.
        return zset
            .range(0, size - 1, true)
            .map(|(member, score)| (member.clone(), score))
            .collect();
    }
    let count = count as usize;
    if count * 3 > size {
        let mut positions: Vec<usize> = (0..size).collect();
        for slot in 0..count {
            let remaining = (size - slot) as u64;
            let chosen = slot + (zset.next_random() % remaining) as usize;
            positions.swap(slot, chosen);
        }
        return positions[..count]
            .iter()
            .filter_map(|&position| pick(zset, position))
            .collect();
    }
    let mut seen = HashSet::with_capacity(count);
    let mut items = Vec::with_capacity(count);
    while items.len() < count {
        let position = (zset.next_random() % size as u64) as usize;
        if seen.insert(position) {
            items.extend(pick(zset, position));
        }
    }
    items
}

// ---- ZSCAN -------------------------------------------------------------------------

/// Redis's `parseScanCursorOrReply`: C's `strtoul`, so a sign is allowed
/// (`-1` wraps), the empty string is 0, and overflow is refused.
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    if arg.is_empty() {
        return Some(0);
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        b'+' => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: u64 = 0;
    for &digit in digits {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. A small set (Redis's
/// listpack) comes back whole with cursor 0, as in Redis; a large one is
/// walked by position from the back, so a member present for the whole
/// scan is returned at least once while others come and go.
fn zscan(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let Some(cursor) = parse_cursor(&args[2]) else {
        return Reply::error(INVALID_CURSOR);
    };
    let empty_scan = || {
        Reply::Array(vec![
            Reply::Bulk(Bytes::from_static(b"0")),
            Reply::Array(Vec::new()),
        ])
    };
    let zset = match zset_at(keyspace, &args[1], ctx.now_ms) {
        Ok(Some(zset)) => zset,
        Ok(None) => return empty_scan(),
        Err(reply) => return reply,
    };
    let mut count: u64 = 10;
    let mut pattern: Option<&Bytes> = None;
    let mut index = 3;
    while index < args.len() {
        let option = &args[index];
        let value = args.get(index + 1);
        match value {
            Some(value) if option.eq_ignore_ascii_case(b"count") => match parse_i64(value) {
                Some(parsed) if parsed >= 1 => count = parsed as u64,
                Some(_) => return Reply::error(SYNTAX_ERROR),
                None => return Reply::error(NOT_AN_INTEGER),
            },
            Some(value) if option.eq_ignore_ascii_case(b"match") => {
                pattern = (value.as_ref() != b"*").then_some(value);
            }
            _ => return Reply::error(SYNTAX_ERROR),
        }
        index += 2;
    }
    let matches = |member: &Bytes| pattern.is_none_or(|pattern| glob_match(pattern, member, false));
    let mut items = Vec::new();
    let listpack = zset.is_listpack();
    let mut push = |member: &Bytes, score: f64| {
        if matches(member) {
            items.push(Reply::Bulk(member.clone()));
            items.push(Reply::Bulk(if listpack {
                stored_score_text(score)
            } else {
                score_text(score)
            }));
        }
    };
    let next_cursor = if listpack {
        // Redis sends a small set whole, in its (score) order.
        for (member, score) in zset.iter() {
            push(member, score);
        }
        0
    } else {
        // The cursor is one past the next position to visit, walking down.
        let len = zset.len() as u64;
        let top = if cursor == 0 { len } else { cursor.min(len) };
        let bottom = top.saturating_sub(count);
        for position in (bottom..top).rev() {
            if let Some((member, score)) = zset.at_position(position as usize) {
                push(member, score);
            }
        }
        bottom
    };
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(next_cursor.to_string())),
        Reply::Array(items),
    ])
}

// ---- ZUNIONSTORE and ZINTERSTORE ---------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: +inf plus -inf is 0, not NaN.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// A parsed ZUNIONSTORE or ZINTERSTORE.
#[derive(Debug)]
struct StoreRequest {
    op: SetOp,
    destination: Bytes,
    sources: Vec<Bytes>,
    weights: Vec<f64>,
    aggregate: Aggregate,
    /// Redis reads WEIGHTS and AGGREGATE only after it has checked the
    /// sources' types, so an error there comes after any WRONGTYPE.
    option_error: Option<Reply>,
}

fn parse_store(args: &[Bytes]) -> Result<StoreRequest, Reply> {
    let op = if args[0].eq_ignore_ascii_case(b"zinterstore") {
        SetOp::Inter
    } else {
        SetOp::Union
    };
    let numkeys = integer_arg(&args[2])?;
    if numkeys < 1 {
        let name = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
        };
        return Err(Reply::error_owned(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if numkeys as u64 > (args.len() - 3) as u64 {
        return Err(Reply::error(SYNTAX_ERROR));
    }
    let numkeys = numkeys as usize;
    let mut request = StoreRequest {
        op,
        destination: args[1].clone(),
        sources: args[3..3 + numkeys].to_vec(),
        weights: vec![1.0; numkeys],
        aggregate: Aggregate::Sum,
        option_error: None,
    };
    let mut index = 3 + numkeys;
    while index < args.len() {
        let remaining = args.len() - index;
        let option = &args[index];
        if remaining > numkeys && option.eq_ignore_ascii_case(b"weights") {
            for (slot, arg) in request.weights.iter_mut().zip(&args[index + 1..]) {
                match parse_score(arg) {
                    Some(weight) => *slot = weight,
                    None => {
                        request.option_error = Some(Reply::error(WEIGHT_NOT_FLOAT));
                        return Ok(request);
                    }
                }
            }
            index += 1 + numkeys;
        } else if remaining >= 2 && option.eq_ignore_ascii_case(b"aggregate") {
            let value = args[index + 1].to_ascii_lowercase();
            request.aggregate = match value.as_slice() {
                b"sum" => Aggregate::Sum,
                b"min" => Aggregate::Min,
                b"max" => Aggregate::Max,
                _ => {
                    request.option_error = Some(Reply::error(SYNTAX_ERROR));
                    return Ok(request);
                }
            };
            index += 2;
        } else {
            request.option_error = Some(Reply::error(SYNTAX_ERROR));
            return Ok(request);
        }
    }
    Ok(request)
}

/// The positions in `args` of a ZUNIONSTORE's or ZINTERSTORE's keys
/// (destination, then sources), for whoever needs them without running the
/// command (COMMAND GETKEYS, transactions). Empty if numkeys is unusable.
pub fn store_key_positions(args: &[Bytes]) -> Vec<usize> {
    if args.len() < 4 {
        return Vec::new();
    }
    match parse_i64(&args[2]) {
        Some(numkeys) if numkeys >= 1 && (numkeys as u64) <= (args.len() - 3) as u64 => {
            std::iter::once(1).chain(3..3 + numkeys as usize).collect()
        }
        _ => Vec::new(),
    }
}

/// One source's members and scores: a sorted set's, or a set's with score 1
/// (Redis accepts plain sets here); nothing for a missing key.
fn read_source(
    keyspace: &mut Keyspace,
    key: &[u8],
    now_ms: u64,
) -> Result<Vec<(Bytes, f64)>, Reply> {
    match keyspace.get(key, now_ms) {
        None => Ok(Vec::new()),
        Some(entry) => match &entry.value {
            Value::ZSet(zset) => Ok(zset
                .iter()
                .map(|(member, score)| (member.clone(), score))
                .collect()),
            Value::Set(set) => Ok(set.iter().map(|member| (member.clone(), 1.0)).collect()),
            _ => Err(Reply::error(WRONGTYPE)),
        },
    }
}

/// Redis's union and intersection: sources smallest first, each score times
/// its weight (NaN from `0 * inf` counts as 0), combined by `aggregate`.
fn combine(
    op: SetOp,
    sources: &[Vec<(Bytes, f64)>],
    weights: &[f64],
    aggregate: Aggregate,
) -> ZSetValue {
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by_key(|&index| sources[index].len());
    let weighted = |score: f64, weight: f64| {
        let value = score * weight;
        if value.is_nan() {
            0.0
        } else {
            value
        }
    };
    let mut combined: Vec<(Bytes, f64)> = Vec::new();
    match op {
        SetOp::Union => {
            let mut scores: indexmap::IndexMap<&Bytes, f64, foldhash::fast::RandomState> =
                indexmap::IndexMap::default();
            for &source in &order {
                for (member, score) in &sources[source] {
                    let value = weighted(*score, weights[source]);
                    scores
                        .entry(member)
                        .and_modify(|total| aggregate.apply(total, value))
                        .or_insert(value);
                }
            }
            combined.extend(
                scores
                    .into_iter()
                    .map(|(member, score)| (member.clone(), score)),
            );
        }
        SetOp::Inter => {
            if let Some((&smallest, others)) = order.split_first() {
                let lookups: Vec<(HashMap<&Bytes, f64>, f64)> = others
                    .iter()
                    .map(|&source| {
                        (
                            sources[source].iter().map(|(m, s)| (m, *s)).collect(),
                            weights[source],
                        )
                    })
                    .collect();
                'members: for (member, score) in &sources[smallest] {
                    let mut total = weighted(*score, weights[smallest]);
                    for (lookup, weight) in &lookups {
                        let Some(&other) = lookup.get(member) else {
                            continue 'members;
                        };
                        aggregate.apply(&mut total, other * weight);
                    }
                    combined.push((member.clone(), total));
                }
            }
        }
    }
    let longest = combined.iter().map(|(member, _)| member.len()).max();
    let mut result = ZSetValue::for_members(combined.len(), longest.unwrap_or(0));
    for (member, score) in combined {
        result.insert(member, score);
    }
    result
}

/// Stores the result at `destination` (replacing it and its deadline) or
/// deletes `destination` when the result is empty; answers the size.
fn store_result(
    keyspace: &mut Keyspace,
    destination: &Bytes,
    result: ZSetValue,
    now_ms: u64,
) -> Reply {
    let len = result.len();
    if result.is_empty() {
        keyspace.remove(destination, now_ms);
    } else {
        keyspace.insert(destination.clone(), Entry::new(Value::ZSet(result)), now_ms);
    }
    Reply::Integer(len as i64)
}

/// The whole of ZUNIONSTORE or ZINTERSTORE when every key is on this shard.
fn store_on_one_shard(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let request = match parse_store(args) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let mut sources = Vec::with_capacity(request.sources.len());
    for key in &request.sources {
        match read_source(keyspace, key, ctx.now_ms) {
            Ok(source) => sources.push(source),
            Err(reply) => return reply,
        }
    }
    if let Some(error) = request.option_error {
        return error;
    }
    let result = combine(request.op, &sources, &request.weights, request.aggregate);
    store_result(keyspace, &request.destination, result, ctx.now_ms)
}

/// A shard's sources for a cross-shard store: per key, nil (missing) or a
/// flat `[member, score, ...]`; WRONGTYPE for a key of another type.
fn fetch_sources(keyspace: &mut Keyspace, args: &[Bytes], ctx: &ExecContext) -> Reply {
    let mut replies = Vec::with_capacity(args.len() - 1);
    for key in &args[1..] {
        if !keyspace.contains(key, ctx.now_ms) {
            replies.push(Reply::Nil);
            continue;
        }
        match read_source(keyspace, key, ctx.now_ms) {
            Ok(items) => replies.push(Reply::Array(
                items
                    .into_iter()
                    .flat_map(|(member, score)| [Reply::Bulk(member), Reply::Double(score)])
                    .collect(),
            )),
            Err(reply) => return reply,
        }
    }
    Reply::Array(replies)
}

/// Runs a whole ZUNIONSTORE or ZINTERSTORE on one shard. Not in the table:
/// the rows have no handler so that the engine always coordinates them.
static STORE_ON_ONE_SHARD: CommandSpec = CommandSpec {
    name: "zunionstore",
    arity: -4,
    flags: flags::WRITE | flags::DENYOOM,
    first_key: 1,
    last_key: 1,
    key_step: 1,
    route: Route::Key,
    handler: Some(store_on_one_shard),
    group: "sorted-set",
    summary: "ZUNIONSTORE or ZINTERSTORE with every key on one shard",
    since: "2.0.0",
    arguments: "destination numkeys key [key ...]",
};

/// Reads sources for a cross-shard ZUNIONSTORE or ZINTERSTORE. Not in the table.
static FETCH_SOURCES: CommandSpec = CommandSpec {
    name: "zstore-sources",
    arity: -2,
    flags: flags::READONLY,
    first_key: 1,
    last_key: -1,
    key_step: 1,
    route: Route::Key,
    handler: Some(fetch_sources),
    group: "sorted-set",
    summary: "The sources of a ZUNIONSTORE or ZINTERSTORE held by one shard",
    since: "2.0.0",
    arguments: "key [key ...]",
};

/// The coordinator for ZUNIONSTORE and ZINTERSTORE (see
/// [`crate::route::coordinator`]).
pub fn store_coordinator(args: Vec<Bytes>, shard_count: usize) -> Box<dyn Coordinator> {
    Box::new(StoreAcross {
        args,
        shard_count: shard_count.max(1),
        state: StoreState::Start,
        request: None,
        fetched: Vec::new(),
        stored_len: 0,
    })
}

/// ZUNIONSTORE and ZINTERSTORE across shards: ask each shard for its
/// sources in one round, combine here, then store (or delete) the result on
/// the destination's shard. When every key is on one shard the whole command
/// runs there instead, atomically. Between the reads and the store another
/// client may change a source; the cross-shard transaction mechanism will
/// close that window.
struct StoreAcross {
    args: Vec<Bytes>,
    shard_count: usize,
    state: StoreState,
    request: Option<StoreRequest>,
    /// For each dispatched fetch: the source indexes it covers.
    fetched: Vec<Vec<usize>>,
    stored_len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreState {
    Start,
    Local,
    Fetching,
    Storing,
}

impl StoreAcross {
    fn start(&mut self) -> Step {
        let request = match parse_store(&self.args) {
            Ok(request) => request,
            Err(reply) => return Step::Done(reply),
        };
        let destination_shard = shard_of(&request.destination, self.shard_count);
        if request
            .sources
            .iter()
            .all(|key| shard_of(key, self.shard_count) == destination_shard)
        {
            self.state = StoreState::Local;
            return Step::Dispatch(vec![(
                destination_shard,
                ShardOp::Command {
                    spec: &STORE_ON_ONE_SHARD,
                    args: self.args.clone(),
                },
            )]);
        }
        let mut per_shard: Vec<Vec<usize>> = vec![Vec::new(); self.shard_count];
        for (index, key) in request.sources.iter().enumerate() {
            per_shard[shard_of(key, self.shard_count)].push(index);
        }
        let mut ops = Vec::new();
        for (shard, indexes) in per_shard.into_iter().enumerate() {
            if indexes.is_empty() {
                continue;
            }
            let mut args = vec![Bytes::from_static(b"ZSTORE-SOURCES")];
            args.extend(indexes.iter().map(|&index| request.sources[index].clone()));
            ops.push((
                shard,
                ShardOp::Command {
                    spec: &FETCH_SOURCES,
                    args,
                },
            ));
            self.fetched.push(indexes);
        }
        self.request = Some(request);
        self.state = StoreState::Fetching;
        Step::Dispatch(ops)
    }

    fn gathered(&mut self, replies: Vec<ShardReply>) -> Step {
        let Some(request) = self.request.take() else {
            return Step::Done(Reply::error("ERR internal: store request missing"));
        };
        let mut sources: Vec<Vec<(Bytes, f64)>> = vec![Vec::new(); request.sources.len()];
        // Errors are reported in key order, as one shard would.
        let mut first_error: Option<(usize, Reply)> = None;
        for (reply, indexes) in replies.into_iter().zip(&self.fetched) {
            match reply {
                ShardReply::Reply(Reply::Array(items)) => {
                    for (item, &index) in items.into_iter().zip(indexes) {
                        sources[index] = scored_items(item);
                    }
                }
                ShardReply::Reply(error @ Reply::Error(_)) => {
                    let at = indexes.first().copied().unwrap_or(0);
                    if first_error.as_ref().is_none_or(|(seen, _)| at < *seen) {
                        first_error = Some((at, error));
                    }
                }
                other => {
                    return Step::Done(Reply::error_owned(format!(
                        "ERR internal: unexpected shard reply {other:?}"
                    )))
                }
            }
        }
        if let Some((_, error)) = first_error {
            return Step::Done(error);
        }
        if let Some(error) = request.option_error {
            return Step::Done(error);
        }
        let result = combine(request.op, &sources, &request.weights, request.aggregate);
        self.stored_len = result.len();
        self.state = StoreState::Storing;
        let key = request.destination.clone();
        let op = if result.is_empty() {
            ShardOp::Take { key }
        } else {
            ShardOp::Put {
                key,
                entry: Entry::new(Value::ZSet(result)),
            }
        };
        Step::Dispatch(vec![(shard_of(&request.destination, self.shard_count), op)])
    }
}

/// A fetched source back from its reply: flat `[member, score, ...]`.
fn scored_items(reply: Reply) -> Vec<(Bytes, f64)> {
    let Reply::Array(items) = reply else {
        return Vec::new();
    };
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut items = items.into_iter();
    while let (Some(Reply::Bulk(member)), Some(Reply::Double(score))) = (items.next(), items.next())
    {
        pairs.push((member, score));
    }
    pairs
}

impl Coordinator for StoreAcross {
    fn step(&mut self, replies: Vec<ShardReply>) -> Step {
        match self.state {
            StoreState::Start => self.start(),
            StoreState::Local => Step::Done(match replies.into_iter().next() {
                Some(ShardReply::Reply(reply)) => reply,
                other => {
                    Reply::error_owned(format!("ERR internal: unexpected shard reply {other:?}"))
                }
            }),
            StoreState::Fetching => self.gathered(replies),
            StoreState::Storing => Step::Done(Reply::Integer(self.stored_len as i64)),
        }
    }
}

// ---- table rows ------------------------------------------------------------

#[allow(clippy::too_many_arguments, reason = "one argument per table column")]
const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: (i32, i32, i32),
    route: Route,
    handler: Option<Handler>,
    summary: &'static str,
    since: &'static str,
    arguments: &'static str,
) -> CommandSpec {
    CommandSpec::row(
        "sorted-set",
        name,
        arity,
        flags,
        keys,
        route,
        handler,
        summary,
        since,
        arguments,
    )
}

const W: u32 = flags::WRITE;
const R: u32 = flags::READONLY;
const M: u32 = flags::DENYOOM;
const F: u32 = flags::FAST;
const ONE_KEY: (i32, i32, i32) = (1, 1, 1);
const STORE_ARGUMENTS: &str =
    "destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE SUM|MIN|MAX]";

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    row("zadd", -4, W | M | F, ONE_KEY, Route::Key, Some(zadd),
        "Add one or more members to a sorted set, or update its score if it already exists",
        "1.2.0", "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"),
    row("zincrby", 4, W | M | F, ONE_KEY, Route::Key, Some(zincrby),
        "Increment the score of a member in a sorted set", "1.2.0", "key increment member"),
    row("zrem", -3, W | F, ONE_KEY, Route::Key, Some(zrem),
        "Remove one or more members from a sorted set", "1.2.0", "key member [member ...]"),
    row("zscore", 3, R | F, ONE_KEY, Route::Key, Some(zscore),
        "Get the score associated with the given member in a sorted set", "1.2.0", "key member"),
    row("zmscore", -3, R | F, ONE_KEY, Route::Key, Some(zmscore),
        "Get the score associated with the given members in a sorted set", "6.2.0",
        "key member [member ...]"),
    row("zcard", 2, R | F, ONE_KEY, Route::Key, Some(zcard),
        "Get the number of members in a sorted set", "1.2.0", "key"),
    row("zcount", 4, R | F, ONE_KEY, Route::Key, Some(zcount),
        "Count the members in a sorted set with scores within the given values", "2.0.0",
        "key min max"),
    row("zlexcount", 4, R | F, ONE_KEY, Route::Key, Some(zlexcount),
        "Count the number of members in a sorted set between a given lexicographical range",
        "2.8.9", "key min max"),
    row("zrange", -4, R, ONE_KEY, Route::Key, Some(zrange),
        "Return a range of members in a sorted set", "1.2.0",
        "key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    row("zrangebyscore", -4, R, ONE_KEY, Route::Key, Some(zrangebyscore),
        "Return a range of members in a sorted set, by score", "1.0.5",
        "key min max [WITHSCORES] [LIMIT offset count]"),
    row("zrevrangebyscore", -4, R, ONE_KEY, Route::Key, Some(zrevrangebyscore),
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        "2.2.0", "key max min [WITHSCORES] [LIMIT offset count]"),
    row("zrangebylex", -4, R, ONE_KEY, Route::Key, Some(zrangebylex),
        "Return a range of members in a sorted set, by lexicographical range", "2.8.9",
        "key min max [LIMIT offset count]"),
    row("zrevrangebylex", -4, R, ONE_KEY, Route::Key, Some(zrevrangebylex),
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
        "2.8.9", "key max min [LIMIT offset count]"),
    row("zrevrange", -4, R, ONE_KEY, Route::Key, Some(zrevrange),
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        "1.2.0", "key start stop [WITHSCORES]"),
    row("zrank", 3, R | F, ONE_KEY, Route::Key, Some(zrank),
        "Determine the index of a member in a sorted set", "2.0.0", "key member"),
    row("zrevrank", 3, R | F, ONE_KEY, Route::Key, Some(zrevrank),
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        "2.0.0", "key member"),
    row("zpopmin", -2, W | F, ONE_KEY, Route::Key, Some(zpopmin),
        "Remove and return members with the lowest scores in a sorted set", "5.0.0",
        "key [count]"),
    row("zpopmax", -2, W | F, ONE_KEY, Route::Key, Some(zpopmax),
        "Remove and return members with the highest scores in a sorted set", "5.0.0",
        "key [count]"),
    row("zrandmember", -2, R, ONE_KEY, Route::Key, Some(zrandmember),
        "Get one or multiple random elements from a sorted set", "6.2.0",
        "key [count [WITHSCORES]]"),
    row("zremrangebyrank", 4, W, ONE_KEY, Route::Key, Some(zremrangebyrank),
        "Remove all members in a sorted set within the given indexes", "2.0.0",
        "key start stop"),
    row("zremrangebyscore", 4, W, ONE_KEY, Route::Key, Some(zremrangebyscore),
        "Remove all members in a sorted set within the given scores", "1.2.0", "key min max"),
    row("zremrangebylex", 4, W, ONE_KEY, Route::Key, Some(zremrangebylex),
        "Remove all members in a sorted set between the given lexicographical range", "2.8.9",
        "key min max"),
    row("zunionstore", -4, W | M, ONE_KEY, Route::Coordinated, None,
        "Add multiple sorted sets and store the resulting sorted set in a new key", "2.0.0",
        STORE_ARGUMENTS),
    row("zinterstore", -4, W | M, ONE_KEY, Route::Coordinated, None,
        "Intersect multiple sorted sets and store the resulting sorted set in a new key", "2.0.0",
        STORE_ARGUMENTS),
    row("zscan", -3, R, ONE_KEY, Route::Key, Some(zscan),
        "Incrementally iterate sorted sets elements and associated scores", "2.8.0",
        "key cursor [MATCH pattern] [COUNT count]"),
];

#[cfg(test)]
mod tests;
