//! Sorted set values: member → score, and an order by (score, member) that
//! answers rank questions in O(log n).
//!
//! The order is Redis's skiplist with spans (Pugh's skiplist where each link
//! also counts the elements it jumps over), written in safe Rust: nodes live
//! in a `Vec` arena and link to each other by index, removed nodes go on a
//! free list for reuse (the arena is rebuilt once it is mostly free, so a
//! set that shrank gives its memory back). Adding, removing, re-scoring,
//! finding a member's rank and finding the element at a rank each walk
//! O(log n) links on average; a range then walks its elements one by one.
//! A search is bound by cache misses, so each link also holds the score of
//! the node it leads to, and a node keeps what a search reads (score and
//! lower levels) in one cache line, its member elsewhere.
//!
//! A hash map from member to node gives ZSCORE in O(1); it keeps insertion
//! order so that ZSCAN's cursor is a position that stays valid while
//! members come and go (as in the keyspace).
//!
//! Scores are compared as Redis compares them (`<` and `==` on doubles, so
//! `-0` equals `0` and ties are broken by the member's bytes). A NaN score
//! would break the order, so callers refuse NaN before it gets here.
//! [`ZSetValue::memory_usage`] is O(1), kept by every mutator. This module
//! knows nothing of commands or replies.

use bytes::Bytes;
use indexmap::IndexMap;

/// Bytes each member costs beyond its own length: the skiplist node with its
/// links on average, the map slot and the allocator's rounding.
pub const ZSET_MEMBER_OVERHEAD_BYTES: usize = 64;

/// Redis's `zset-max-listpack-entries`: beyond this many members OBJECT
/// ENCODING says `skiplist`.
pub const LISTPACK_ENTRIES_MAX: usize = 128;

/// Redis's `zset-max-listpack-value`: a longer member makes it a `skiplist`.
pub const LISTPACK_VALUE_BYTES_MAX: usize = 64;

/// Redis's `ZSKIPLIST_MAXLEVEL`.
const LEVEL_MAX: usize = 32;

/// Marks "no node" in a link. Node indexes stay below it: a sorted set of
/// four billion members would need hundreds of gigabytes first.
const NIL: u32 = u32::MAX;

/// The header node, which holds no member and has every level.
const HEAD: u32 = 0;

/// A score interval, as ZRANGEBYSCORE's `min` and `max` give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// Everything, `-inf` to `+inf` inclusive.
    pub const ALL: ScoreRange = ScoreRange {
        min: f64::NEG_INFINITY,
        max: f64::INFINITY,
        min_exclusive: false,
        max_exclusive: false,
    };

    pub fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    pub fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }

    /// Whether no score can be in the range (Redis's `zslIsInRange` test).
    pub fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.min_exclusive || self.max_exclusive))
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every member.
    Lowest,
    /// `+`: above every member.
    Highest,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

/// A member interval, as ZRANGEBYLEX's `min` and `max` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    pub fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Lowest => true,
            LexBound::Highest => false,
            LexBound::Inclusive(bound) => member >= bound.as_ref(),
            LexBound::Exclusive(bound) => member > bound.as_ref(),
        }
    }

    pub fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Inclusive(bound) => member <= bound.as_ref(),
            LexBound::Exclusive(bound) => member < bound.as_ref(),
        }
    }

    /// Whether no member can be in the range, as Redis's `zslIsInLexRange`
    /// decides it (`-` and `+` count as exclusive bounds).
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (Lowest, Lowest) | (Highest, Highest) => true,
            (Lowest, _) | (_, Highest) => false,
            (Highest, _) | (_, Lowest) => true,
            (Inclusive(min), Inclusive(max)) => min > max,
            (Inclusive(min) | Exclusive(min), Inclusive(max) | Exclusive(max)) => min >= max,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Link {
    forward: u32,
    /// Elements from this node (excluded) to `forward` (included).
    span: u32,
    /// `forward`'s score, kept here so that a search compares scores
    /// without visiting the nodes it does not step to (each visit is a
    /// likely cache miss in a large set).
    score: f64,
}

const EMPTY_LINK: Link = Link {
    forward: NIL,
    span: 0,
    score: 0.0,
};

/// Levels every node keeps inline. Three nodes in four have one level and
/// fifteen in sixteen at most two, so a step to the next node reads one
/// cache line.
const LOW_LEVELS: usize = 2;

/// What a search reads of a node, in one cache line. The member lives
/// apart (`SkipList::members`): only ties on the score need it.
#[derive(Debug, Clone)]
#[repr(align(64))]
struct Node {
    score: f64,
    backward: u32,
    height: u32,
    low: [Link; LOW_LEVELS],
    /// Where this node's levels from [`LOW_LEVELS`] up start in
    /// `SkipList::high`; `NIL` for a node no taller than that.
    high: u32,
}

/// The ordered index: a skiplist in an arena. Its elements mirror the map's
/// members exactly; [`ZSetValue`] keeps them in step.
#[derive(Debug, Clone)]
struct SkipList {
    nodes: Vec<Node>,
    /// Each node's member, by node index.
    members: Vec<Bytes>,
    /// The upper levels of tall nodes, one block per node.
    high: Vec<Link>,
    /// Links in `high` left behind by released nodes.
    high_unused: usize,
    free: Vec<u32>,
    /// Levels in use (at least 1).
    level: usize,
    length: usize,
    tail: u32,
    /// xorshift64* state for node levels and random picks.
    random: u64,
}

impl Default for SkipList {
    fn default() -> SkipList {
        let mut list = SkipList {
            nodes: Vec::new(),
            members: Vec::new(),
            high: Vec::new(),
            high_unused: 0,
            free: Vec::new(),
            level: 1,
            length: 0,
            tail: NIL,
            random: 0x2545_f491_4f6c_dd1d,
        };
        list.allocate(LEVEL_MAX, 0.0, Bytes::new());
        list
    }
}

impl SkipList {
    fn score_of(&self, index: u32) -> f64 {
        self.nodes[index as usize].score
    }

    fn member_of(&self, index: u32) -> &Bytes {
        &self.members[index as usize]
    }

    fn backward_of(&self, index: u32) -> u32 {
        self.nodes[index as usize].backward
    }

    fn height_of(&self, index: u32) -> usize {
        self.nodes[index as usize].height as usize
    }

    fn link(&self, index: u32, level: usize) -> Link {
        let node = &self.nodes[index as usize];
        if level < LOW_LEVELS {
            node.low[level]
        } else {
            self.high[node.high as usize + level - LOW_LEVELS]
        }
    }

    fn link_mut(&mut self, index: u32, level: usize) -> &mut Link {
        let node = &mut self.nodes[index as usize];
        if level < LOW_LEVELS {
            &mut node.low[level]
        } else {
            &mut self.high[node.high as usize + level - LOW_LEVELS]
        }
    }

    /// Whether `link` leads to a node that sorts before `(score, member)`.
    fn leads_before(&self, link: Link, score: f64, member: &[u8]) -> bool {
        link.forward != NIL
            && (link.score < score
                || (link.score == score && self.member_of(link.forward).as_ref() < member))
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.random;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// 1 plus one more for each success at probability 1/4, as Redis's
    /// `zslRandomLevel`.
    fn random_level(&mut self) -> usize {
        let mut level = 1;
        while level < LEVEL_MAX && ((self.next_random() >> 32) & 0xFFFF) < 0x4000 {
            level += 1;
        }
        level
    }

    fn allocate(&mut self, level: usize, score: f64, member: Bytes) -> u32 {
        let high = if level > LOW_LEVELS {
            let start = self.high.len();
            self.high.resize(start + level - LOW_LEVELS, EMPTY_LINK);
            start as u32
        } else {
            NIL
        };
        let node = Node {
            score,
            backward: NIL,
            height: level as u32,
            low: [EMPTY_LINK; LOW_LEVELS],
            high,
        };
        if let Some(index) = self.free.pop() {
            self.nodes[index as usize] = node;
            self.members[index as usize] = member;
            return index;
        }
        self.nodes.push(node);
        self.members.push(member);
        (self.nodes.len() - 1) as u32
    }

    fn release(&mut self, index: u32) -> (Bytes, f64) {
        let member = std::mem::take(&mut self.members[index as usize]);
        let height = self.height_of(index);
        self.high_unused += height.saturating_sub(LOW_LEVELS);
        self.free.push(index);
        (member, self.score_of(index))
    }

    /// Whether most of the arena is free slots or unused upper links.
    fn is_sparse(&self, slots_min: usize) -> bool {
        let free = self.free.len();
        (free >= slots_min && free * 2 > self.nodes.len())
            || (self.high_unused >= slots_min && self.high_unused * 2 > self.high.len())
    }

    /// For each level, the last node before `(score, member)`.
    fn path_to(&self, score: f64, member: &[u8]) -> [u32; LEVEL_MAX] {
        let mut update = [HEAD; LEVEL_MAX];
        let mut x = HEAD;
        for level in (0..self.level).rev() {
            loop {
                let link = self.link(x, level);
                if self.leads_before(link, score, member) {
                    x = link.forward;
                } else {
                    break;
                }
            }
            update[level] = x;
        }
        update
    }

    /// Adds `(score, member)`, which must not be in the list yet.
    fn insert(&mut self, score: f64, member: Bytes) -> u32 {
        let mut update = [HEAD; LEVEL_MAX];
        // Elements crossed to reach update[level].
        let mut rank = [0usize; LEVEL_MAX];
        let mut x = HEAD;
        for level in (0..self.level).rev() {
            rank[level] = if level + 1 == self.level {
                0
            } else {
                rank[level + 1]
            };
            loop {
                let link = self.link(x, level);
                if self.leads_before(link, score, &member) {
                    rank[level] += link.span as usize;
                    x = link.forward;
                } else {
                    break;
                }
            }
            update[level] = x;
        }
        let level = self.random_level();
        if level > self.level {
            for new_level in self.level..level {
                rank[new_level] = 0;
                update[new_level] = HEAD;
                self.link_mut(HEAD, new_level).span = self.length as u32;
            }
            self.level = level;
        }
        let node = self.allocate(level, score, member);
        for (i, &before) in update.iter().enumerate().take(level) {
            let previous = self.link(before, i);
            let crossed = (rank[0] - rank[i]) as u32;
            *self.link_mut(node, i) = Link {
                span: previous.span - crossed,
                ..previous
            };
            *self.link_mut(before, i) = Link {
                forward: node,
                span: crossed + 1,
                score,
            };
        }
        for (i, &before) in update.iter().enumerate().take(self.level).skip(level) {
            self.link_mut(before, i).span += 1;
        }
        self.nodes[node as usize].backward = if update[0] == HEAD { NIL } else { update[0] };
        let next = self.link(node, 0).forward;
        if next == NIL {
            self.tail = node;
        } else {
            self.nodes[next as usize].backward = node;
        }
        self.length += 1;
        node
    }

    /// Unlinks `node`, given the path of nodes before it.
    fn unlink(&mut self, node: u32, update: &[u32; LEVEL_MAX]) {
        for (i, &before) in update.iter().enumerate().take(self.level) {
            let link = self.link(before, i);
            if link.forward == node {
                let removed = self.link(node, i);
                *self.link_mut(before, i) = Link {
                    span: link.span + removed.span - 1,
                    ..removed
                };
            } else {
                self.link_mut(before, i).span -= 1;
            }
        }
        let next = self.link(node, 0).forward;
        let backward = self.backward_of(node);
        if next == NIL {
            self.tail = backward;
        } else {
            self.nodes[next as usize].backward = backward;
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).forward == NIL {
            self.level -= 1;
        }
        self.length -= 1;
    }

    /// The node of `(score, member)` with the path to it, if it is there.
    fn find(&self, score: f64, member: &[u8]) -> Option<(u32, [u32; LEVEL_MAX])> {
        let update = self.path_to(score, member);
        let node = self.link(update[0], 0).forward;
        (node != NIL && self.score_of(node) == score && self.member_of(node).as_ref() == member)
            .then_some((node, update))
    }

    /// Removes `(score, member)`; false if it is not there.
    fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let Some((node, update)) = self.find(score, member) else {
            return false;
        };
        self.unlink(node, &update);
        self.release(node);
        true
    }

    /// Moves the node of `(score, member)` to `new_score`, in place when
    /// its neighbours still bracket it (Redis's `zslUpdateScore`). Returns
    /// the node's index, which changes when it had to move.
    fn update_score(&mut self, score: f64, member: &[u8], new_score: f64) -> Option<u32> {
        let (node, update) = self.find(score, member)?;
        let backward = self.backward_of(node);
        let next = self.link(node, 0).forward;
        if (backward == NIL || self.score_of(backward) < new_score)
            && (next == NIL || self.score_of(next) > new_score)
        {
            self.nodes[node as usize].score = new_score;
            // The node's predecessor at each of its levels links to it.
            let height = self.height_of(node);
            for (i, &before) in update.iter().enumerate().take(height) {
                self.link_mut(before, i).score = new_score;
            }
            return Some(node);
        }
        self.unlink(node, &update);
        let (member, _) = self.release(node);
        Some(self.insert(new_score, member))
    }

    /// How many leading elements satisfy `before(score, node)`, which must
    /// hold for a prefix of the order and not after it. It gets the score
    /// from the link; reading the node costs a visit, so only ask for it
    /// when the score does not decide.
    fn count_while(&self, before: impl Fn(f64, u32) -> bool) -> usize {
        let mut x = HEAD;
        let mut rank = 0;
        for level in (0..self.level).rev() {
            loop {
                let link = self.link(x, level);
                if link.forward != NIL && before(link.score, link.forward) {
                    rank += link.span as usize;
                    x = link.forward;
                } else {
                    break;
                }
            }
        }
        rank
    }

    /// The node at 0-based `rank`.
    fn node_at(&self, rank: usize) -> Option<u32> {
        let target = rank.checked_add(1)?;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for level in (0..self.level).rev() {
            loop {
                let link = self.link(x, level);
                if link.forward != NIL && traversed + link.span as usize <= target {
                    traversed += link.span as usize;
                    x = link.forward;
                } else {
                    break;
                }
            }
            if traversed == target {
                return Some(x);
            }
        }
        None
    }

    /// Removes the elements at 0-based ranks `start..=end`, handing each to
    /// `removed`.
    fn remove_ranks(&mut self, start: usize, end: usize, mut removed: impl FnMut(Bytes)) -> usize {
        let first = start + 1;
        let mut update = [HEAD; LEVEL_MAX];
        let mut x = HEAD;
        let mut traversed = 0usize;
        for level in (0..self.level).rev() {
            loop {
                let link = self.link(x, level);
                if link.forward != NIL && traversed + (link.span as usize) < first {
                    traversed += link.span as usize;
                    x = link.forward;
                } else {
                    break;
                }
            }
            update[level] = x;
        }
        traversed += 1;
        let mut node = self.link(x, 0).forward;
        let mut count = 0;
        while node != NIL && traversed <= end + 1 {
            let next = self.link(node, 0).forward;
            self.unlink(node, &update);
            let (member, _) = self.release(node);
            removed(member);
            count += 1;
            traversed += 1;
            node = next;
        }
        count
    }
}

/// Free arena slots tolerated before a mostly empty arena is rebuilt.
const FREE_SLOTS_MIN: usize = 64;

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZSetValue {
    /// Member → its node in `order`, in insertion order (see the module doc).
    members: IndexMap<Bytes, u32, foldhash::fast::RandomState>,
    order: SkipList,
    /// Sum over members of their length plus [`ZSET_MEMBER_OVERHEAD_BYTES`].
    memory_bytes: usize,
    /// Whether Redis would have converted it from listpack to skiplist; like
    /// Redis, it never converts back when the set shrinks.
    large: bool,
}

impl ZSetValue {
    pub fn new() -> ZSetValue {
        ZSetValue::default()
    }

    /// An empty set about to receive `len` members, the longest
    /// `longest_member` bytes: a skiplist from the start when they would not
    /// fit a listpack. Redis builds ZUNIONSTORE's result that way, so its
    /// scores are kept exactly (-0 included) unless the result is small.
    pub fn for_members(len: usize, longest_member: usize) -> ZSetValue {
        ZSetValue {
            large: len > LISTPACK_ENTRIES_MAX || longest_member > LISTPACK_VALUE_BYTES_MAX,
            ..ZSetValue::default()
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Bytes this sorted set accounts for; O(1).
    pub fn memory_usage(&self) -> usize {
        self.memory_bytes
    }

    /// What OBJECT ENCODING reports, as Redis 7.0 decides it with its
    /// default listpack limits.
    pub fn encoding(&self) -> &'static str {
        if self.is_listpack() {
            "listpack"
        } else {
            "skiplist"
        }
    }

    /// Whether Redis would still hold this set in a listpack (its compact
    /// encoding), which changes how ZSCAN answers and how -0 is stored.
    pub fn is_listpack(&self) -> bool {
        !self.large
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.members
            .get(member)
            .map(|&node| self.order.score_of(node))
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.contains_key(member)
    }

    /// Sets `member`'s score, adding it if absent. Returns true if it was
    /// added. `score` must not be NaN.
    pub fn insert(&mut self, member: Bytes, score: f64) -> bool {
        debug_assert!(!score.is_nan(), "NaN scores are refused by the commands");
        let is_new = !self.members.contains_key(member.as_ref());
        if is_new
            && (member.len() > LISTPACK_VALUE_BYTES_MAX
                || self.members.len() >= LISTPACK_ENTRIES_MAX)
        {
            self.large = true;
        }
        // A listpack stores an integral score as an integer, so Redis turns
        // -0 into 0 there; a skiplist keeps the double as it is.
        let score = if !self.large && score == 0.0 {
            0.0
        } else {
            score
        };
        if let Some(&node) = self.members.get(member.as_ref()) {
            let current = self.order.score_of(node);
            if current != score {
                if let Some(moved) = self.order.update_score(current, &member, score) {
                    if let Some(slot) = self.members.get_mut(member.as_ref()) {
                        *slot = moved;
                    }
                }
            }
            return false;
        }
        self.memory_bytes += member.len() + ZSET_MEMBER_OVERHEAD_BYTES;
        let node = self.order.insert(score, member.clone());
        self.members.insert(member, node);
        true
    }

    /// Removes `member` and returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (stored, node) = self.members.swap_remove_entry(member)?;
        let score = self.order.score_of(node);
        self.order.remove(score, &stored);
        self.memory_bytes -= stored.len() + ZSET_MEMBER_OVERHEAD_BYTES;
        self.compact_if_sparse();
        Some(score)
    }

    /// Rebuilds the arena once most of its slots are free, so a set that
    /// shrank gives its memory back. Amortised O(log n) per removal.
    fn compact_if_sparse(&mut self) {
        if !self.order.is_sparse(FREE_SLOTS_MIN) {
            return;
        }
        let mut order = SkipList {
            random: self.order.random,
            ..SkipList::default()
        };
        order.nodes.reserve(self.members.len() + 1);
        let mut node = self.order.link(HEAD, 0).forward;
        while node != NIL {
            let member = self.order.member_of(node);
            let moved = order.insert(self.order.score_of(node), member.clone());
            if let Some(slot) = self.members.get_mut(member.as_ref()) {
                *slot = moved;
            }
            node = self.order.link(node, 0).forward;
        }
        self.order = order;
    }

    /// `member`'s 0-based position in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let order = &self.order;
        Some(order.count_while(|forward_score, forward| {
            forward_score < score
                || (forward_score == score && order.member_of(forward).as_ref() < member)
        }))
    }

    /// The member and score at 0-based ascending `rank`.
    pub fn at_rank(&self, rank: usize) -> Option<(&Bytes, f64)> {
        let node = self.order.node_at(rank)?;
        Some((self.order.member_of(node), self.order.score_of(node)))
    }

    /// The ranks (first, last) of the members whose score is in `range`.
    pub fn score_ranks(&self, range: &ScoreRange) -> Option<(usize, usize)> {
        if range.is_empty() {
            return None;
        }
        let first = self.order.count_while(|score, _| !range.above_min(score));
        let end = self.order.count_while(|score, _| range.below_max(score));
        (first < end).then(|| (first, end - 1))
    }

    /// The ranks (first, last) of the members in `range`. Meaningful when
    /// every score is equal, as Redis documents for the BYLEX commands.
    pub fn lex_ranks(&self, range: &LexRange) -> Option<(usize, usize)> {
        if range.is_empty() {
            return None;
        }
        let order = &self.order;
        let first = order.count_while(|_, node| !range.above_min(order.member_of(node)));
        let end = order.count_while(|_, node| range.below_max(order.member_of(node)));
        (first < end).then(|| (first, end - 1))
    }

    /// Members with their scores at ranks `first..=last` (clamped to the
    /// set), ascending, or descending from `last` when `reverse`.
    pub fn range(&self, first: usize, last: usize, reverse: bool) -> RankIter<'_> {
        let last = last.min(self.len().saturating_sub(1));
        if first > last || self.is_empty() {
            return RankIter {
                order: &self.order,
                node: NIL,
                remaining: 0,
                reverse,
            };
        }
        let start = if reverse { last } else { first };
        RankIter {
            order: &self.order,
            node: self.order.node_at(start).unwrap_or(NIL),
            remaining: last - first + 1,
            reverse,
        }
    }

    /// Every member with its score, ascending.
    pub fn iter(&self) -> RankIter<'_> {
        self.range(0, usize::MAX, false)
    }

    /// Removes the members at ranks `first..=last` (clamped to the set) and
    /// returns how many went.
    pub fn remove_ranks(&mut self, first: usize, last: usize) -> usize {
        let last = last.min(self.len().saturating_sub(1));
        if first > last || self.is_empty() {
            return 0;
        }
        let members = &mut self.members;
        let memory_bytes = &mut self.memory_bytes;
        let removed = self.order.remove_ranks(first, last, |member| {
            members.swap_remove(&member);
            *memory_bytes -= member.len() + ZSET_MEMBER_OVERHEAD_BYTES;
        });
        self.compact_if_sparse();
        removed
    }

    /// The member and score at `position` of the insertion-ordered map:
    /// what ZSCAN walks and random picks index.
    pub fn at_position(&self, position: usize) -> Option<(&Bytes, f64)> {
        let (member, &node) = self.members.get_index(position)?;
        Some((member, self.order.score_of(node)))
    }

    /// A pseudo-random number from the set's own generator, so random
    /// picks need no global state and no clock.
    pub fn next_random(&mut self) -> u64 {
        self.order.next_random()
    }
}

impl PartialEq for ZSetValue {
    /// Equal members with equal scores, however the structure is laid out.
    fn eq(&self, other: &ZSetValue) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(member, score)| other.score(member) == Some(score))
    }
}

/// Walks a run of ranks along the level-0 links.
#[derive(Debug, Clone)]
pub struct RankIter<'a> {
    order: &'a SkipList,
    node: u32,
    remaining: usize,
    reverse: bool,
}

impl<'a> Iterator for RankIter<'a> {
    type Item = (&'a Bytes, f64);

    fn next(&mut self) -> Option<(&'a Bytes, f64)> {
        if self.remaining == 0 || self.node == NIL {
            return None;
        }
        let node = self.node;
        self.remaining -= 1;
        self.node = if self.reverse {
            self.order.backward_of(node)
        } else {
            self.order.link(node, 0).forward
        };
        Some((self.order.member_of(node), self.order.score_of(node)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests {
    //! The skiplist against a sorted `Vec` over many random operations, and
    //! its span bookkeeping checked from scratch after each one.

    use super::*;

    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound.max(1)
        }
    }

    /// Spans, backward links, the tail and the map all agree with a walk of
    /// level 0; memory matches a recount.
    fn check_structure(zset: &ZSetValue) {
        let order = &zset.order;
        let mut walk = Vec::new();
        let mut node = order.link(HEAD, 0).forward;
        let mut previous = NIL;
        while node != NIL {
            assert_eq!(order.backward_of(node), previous, "backward link");
            walk.push(node);
            previous = node;
            node = order.link(node, 0).forward;
        }
        assert_eq!(order.tail, previous, "tail");
        assert_eq!(walk.len(), order.length);
        assert_eq!(walk.len(), zset.members.len());
        let position_of = |node: u32| walk.iter().position(|&n| n == node).map(|p| p + 1);
        for level in 0..order.level {
            let mut x = HEAD;
            let mut rank = 0;
            loop {
                let link = order.link(x, level);
                let target = if link.forward == NIL {
                    walk.len()
                } else {
                    position_of(link.forward).expect("linked node is in the list")
                };
                assert_eq!(rank + link.span as usize, target, "span at level {level}");
                if link.forward != NIL {
                    assert_eq!(
                        link.score.to_bits(),
                        order.score_of(link.forward).to_bits(),
                        "cached score at level {level}"
                    );
                }
                if link.forward == NIL {
                    break;
                }
                rank = target;
                x = link.forward;
            }
        }
        for (member, &node) in &zset.members {
            assert_eq!(order.member_of(node), member);
        }
        let expected: usize = zset
            .members
            .keys()
            .map(|m| m.len() + ZSET_MEMBER_OVERHEAD_BYTES)
            .sum();
        assert_eq!(zset.memory_usage(), expected);
    }

    fn sorted(model: &[(f64, Bytes)]) -> Vec<(f64, Bytes)> {
        let mut items = model.to_vec();
        items.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        items
    }

    /// Thousands of random adds, re-scores, removals, rank queries and range
    /// removals agree with a naive sorted vector at every step.
    #[test]
    fn matches_a_sorted_vector() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let mut zset = ZSetValue::new();
        let mut model: Vec<(f64, Bytes)> = Vec::new();
        for step in 0..6000 {
            let member = Bytes::from(format!("m{}", random.below(400)));
            // Few distinct scores, so ties broken by member are common.
            let score = random.below(40) as f64 - 20.0;
            match random.below(10) {
                0..=4 => {
                    let added = zset.insert(member.clone(), score);
                    let existing = model.iter().position(|(_, m)| *m == member);
                    assert_eq!(added, existing.is_none());
                    match existing {
                        Some(index) => model[index].0 = score,
                        None => model.push((score, member)),
                    }
                }
                5 | 6 => {
                    let removed = zset.remove(&member);
                    let existing = model.iter().position(|(_, m)| *m == member);
                    assert_eq!(removed, existing.map(|i| model[i].0));
                    if let Some(index) = existing {
                        model.swap_remove(index);
                    }
                }
                7 => {
                    let expected = sorted(&model);
                    let first = random.below(expected.len() as u64 + 2) as usize;
                    let last = first + random.below(5) as usize;
                    let removed = zset.remove_ranks(first, last);
                    let gone: Vec<Bytes> = expected
                        .iter()
                        .skip(first)
                        .take(last + 1 - first)
                        .map(|(_, m)| m.clone())
                        .collect();
                    assert_eq!(removed, gone.len());
                    model.retain(|(_, m)| !gone.contains(m));
                }
                _ => {
                    let range = ScoreRange {
                        min: score,
                        max: score + random.below(6) as f64,
                        min_exclusive: random.below(2) == 0,
                        max_exclusive: random.below(2) == 0,
                    };
                    let expected: Vec<usize> = sorted(&model)
                        .iter()
                        .enumerate()
                        .filter(|(_, (s, _))| range.above_min(*s) && range.below_max(*s))
                        .map(|(rank, _)| rank)
                        .collect();
                    let got = zset.score_ranks(&range);
                    assert_eq!(
                        got,
                        expected
                            .first()
                            .map(|&f| (f, *expected.last().unwrap_or(&f)))
                    );
                }
            }
            let expected = sorted(&model);
            assert_eq!(zset.len(), expected.len());
            if step % 50 == 0 {
                check_structure(&zset);
                let all: Vec<(f64, Bytes)> = zset.iter().map(|(m, s)| (s, m.clone())).collect();
                assert_eq!(all, expected);
                let reversed: Vec<(f64, Bytes)> = zset
                    .range(0, usize::MAX, true)
                    .map(|(m, s)| (s, m.clone()))
                    .collect();
                assert_eq!(reversed, expected.iter().rev().cloned().collect::<Vec<_>>());
            }
            for (rank, (score, member)) in expected.iter().enumerate().step_by(37) {
                assert_eq!(zset.rank(member), Some(rank));
                assert_eq!(zset.at_rank(rank), Some((member, *score)));
            }
            assert_eq!(zset.at_rank(expected.len()), None);
        }
        check_structure(&zset);
        assert!(
            zset.order.nodes.len() <= 2 * (zset.len() + FREE_SLOTS_MIN) + 1,
            "the arena shrinks with the set"
        );
    }

    /// Ranges in the middle of a large set, forward and backward.
    #[test]
    fn ranges_walk_the_requested_ranks() {
        let mut zset = ZSetValue::new();
        for i in 0..1000 {
            zset.insert(Bytes::from(format!("{i:04}")), f64::from(i));
        }
        let forward: Vec<f64> = zset.range(10, 14, false).map(|(_, s)| s).collect();
        assert_eq!(forward, [10.0, 11.0, 12.0, 13.0, 14.0]);
        let backward: Vec<f64> = zset.range(10, 14, true).map(|(_, s)| s).collect();
        assert_eq!(backward, [14.0, 13.0, 12.0, 11.0, 10.0]);
        assert_eq!(zset.range(998, 5000, false).count(), 2);
        assert_eq!(zset.range(5, 4, false).count(), 0);
        assert_eq!(zset.encoding(), "skiplist");
        check_structure(&zset);
    }

    /// A set that grows large and shrinks again rebuilds its arena, keeping
    /// order, ranks and the member map intact.
    #[test]
    fn shrinking_gives_the_arena_back() {
        let mut zset = ZSetValue::new();
        for i in 0..2000 {
            zset.insert(Bytes::from(format!("m{i:05}")), f64::from(i % 97));
        }
        for i in (0..2000).filter(|i| i % 10 != 0) {
            zset.remove(format!("m{i:05}").as_bytes());
        }
        zset.remove_ranks(0, 9);
        check_structure(&zset);
        assert_eq!(zset.len(), 190);
        assert!(
            zset.order.nodes.len() < 400,
            "{} slots",
            zset.order.nodes.len()
        );
        let scores: Vec<f64> = zset.iter().map(|(_, score)| score).collect();
        assert!(scores.windows(2).all(|pair| pair[0] <= pair[1]));
        let (member, _) = zset.at_rank(100).expect("rank 100 exists");
        let member = member.clone();
        assert_eq!(zset.rank(&member), Some(100));
    }

    /// Lexicographic bounds: `-` and `+`, inclusive and exclusive, and the
    /// ranges Redis treats as empty.
    #[test]
    fn lex_ranges() {
        let mut zset = ZSetValue::new();
        for member in ["a", "b", "c", "d"] {
            zset.insert(Bytes::from(member), 0.0);
        }
        let bound = |text: &str| match text.as_bytes()[0] {
            b'-' => LexBound::Lowest,
            b'+' => LexBound::Highest,
            b'[' => LexBound::Inclusive(Bytes::copy_from_slice(&text.as_bytes()[1..])),
            _ => LexBound::Exclusive(Bytes::copy_from_slice(&text.as_bytes()[1..])),
        };
        let ranks = |min: &str, max: &str| {
            zset.lex_ranks(&LexRange {
                min: bound(min),
                max: bound(max),
            })
        };
        assert_eq!(ranks("-", "+"), Some((0, 3)));
        assert_eq!(ranks("[b", "[c"), Some((1, 2)));
        assert_eq!(ranks("(b", "[c"), Some((2, 2)));
        assert_eq!(ranks("(b", "(c"), None);
        assert_eq!(ranks("[b", "[b"), Some((1, 1)));
        assert_eq!(ranks("(b", "[b"), None);
        assert_eq!(ranks("+", "+"), None);
        assert_eq!(ranks("-", "-"), None);
        assert_eq!(ranks("+", "-"), None);
        assert_eq!(ranks("[bb", "+"), Some((2, 3)));
        assert_eq!(ranks("[e", "+"), None);
    }

    /// Re-scoring in place and by moving keeps every invariant; -0 and 0
    /// compare equal as in Redis, so the member breaks the tie.
    #[test]
    fn rescoring_and_signed_zero() {
        let mut zset = ZSetValue::new();
        zset.insert(Bytes::from("b"), -0.0);
        zset.insert(Bytes::from("a"), 0.0);
        assert_eq!(zset.rank(b"a"), Some(0));
        assert!(!zset.insert(Bytes::from("a"), 5.0));
        assert_eq!(zset.rank(b"a"), Some(1));
        assert!(!zset.insert(Bytes::from("a"), 4.0));
        assert_eq!(zset.score(b"a"), Some(4.0));
        check_structure(&zset);
        let mut other = ZSetValue::new();
        other.insert(Bytes::from("a"), 4.0);
        other.insert(Bytes::from("b"), 0.0);
        assert_eq!(zset, other);
    }
}
