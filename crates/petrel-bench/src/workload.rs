//! What each client sends: the request sequence (SET:GET ratio or arbitrary
//! commands), key indexes by memtier's key patterns, value sizes and bytes,
//! and the encoding of each request into the connection's output buffer.
//!
//! This module does no I/O and reads no clock: a [`Generator`] is a pure
//! function of the configuration, the client's index and its seed, so the
//! same flags send the same keys, and the patterns are testable in memory.

use bytes::{BufMut, Bytes, BytesMut};
use petrel_resp::WireBuffer;

use crate::config::{ArgPart, Config, DataSizes, KeyPattern, Workload};

/// Row index of SET requests in the default workload's results.
pub const ROW_SETS: usize = 0;
/// Row index of GET requests in the default workload's results.
pub const ROW_GETS: usize = 1;

/// Extra random bytes beyond the largest value, so random-data values start
/// at different offsets and do not all carry the same bytes.
const RANDOM_DATA_SLACK: usize = 4096;

/// A small, fast, seedable generator (splitmix64). Benchmarks need speed and
/// reproducibility, not cryptographic quality.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; `n` must be non-zero.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `min..=max`.
    pub fn inclusive(&mut self, min: u64, max: u64) -> u64 {
        let span = max - min;
        if span == u64::MAX {
            return self.next_u64();
        }
        min + self.below(span + 1)
    }

    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal sample (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// One request that was encoded: where its result is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKind {
    /// Index of the results row (Sets/Gets, or the arbitrary command).
    pub row: u8,
    /// Replies count as hits or misses (GETs of the default workload).
    pub counts_hits: bool,
}

/// Produces one client's requests.
#[derive(Debug)]
pub struct Generator {
    rng: Rng,
    workload: Workload,
    key_prefix: Vec<u8>,
    /// This client's key range: the whole range, or its own slice for P.
    key_min: u64,
    key_max: u64,
    /// The configured range, for spreading value sizes over keys.
    range_min: u64,
    range_max: u64,
    key_stddev: f64,
    key_median: f64,
    /// Next key of each sequential iterator (one per row).
    next_key: Vec<u64>,
    data_sizes: DataSizes,
    expiry: Option<(u32, u32)>,
    /// 'x' bytes, or random bytes with slack for random offsets.
    /// Values are windows of this; a big one is sent from here, uncopied.
    value_source: Bytes,
    random_data: bool,
    /// Position in the request cycle: which row, and how many sent in a row.
    step_row: usize,
    step_count: u32,
    key_buf: Vec<u8>,
    scratch: Vec<Vec<u8>>,
}

impl Generator {
    /// `client_index` counts clients over all threads from 0;
    /// `total_clients` is threads x clients.
    pub fn new(config: &Config, client_index: u64, total_clients: u64) -> Generator {
        let seed = if config.distinct_client_seed {
            config
                .seed
                .wrapping_add(client_index.wrapping_mul(0x9e37_79b9))
        } else {
            config.seed
        };
        let mut rng = Rng::new(seed);
        let (key_min, key_max) = if config.workload.uses_parallel() {
            parallel_slice(config.key_min, config.key_max, client_index, total_clients)
        } else {
            (config.key_min, config.key_max)
        };
        let rows = match &config.workload {
            Workload::SetGet { .. } => 2,
            Workload::Commands(commands) => commands.len(),
        };
        let max_size = config.data_sizes.max() as usize;
        let value_source = Bytes::from(if config.random_data {
            (0..max_size + RANDOM_DATA_SLACK)
                .map(|_| rng.next_u64() as u8)
                .collect::<Vec<u8>>()
        } else {
            vec![b'x'; max_size]
        });
        Generator {
            rng,
            workload: config.workload.clone(),
            key_prefix: config.key_prefix.as_bytes().to_vec(),
            key_min,
            key_max,
            range_min: config.key_min,
            range_max: config.key_max,
            key_stddev: config.key_stddev,
            key_median: config.key_median,
            next_key: vec![key_min; rows],
            data_sizes: config.data_sizes.clone(),
            expiry: config.expiry,
            value_source,
            random_data: config.random_data,
            step_row: 0,
            step_count: 0,
            key_buf: Vec::with_capacity(config.key_prefix.len() + 20),
            scratch: Vec::new(),
        }
    }

    /// Encodes the next request at the end of `out`.
    pub fn next_request(&mut self, out: &mut WireBuffer) -> RequestKind {
        match &self.workload {
            Workload::SetGet {
                sets,
                gets,
                set_pattern,
                get_pattern,
            } => {
                let (sets, gets, set_pattern, get_pattern) =
                    (*sets, *gets, *set_pattern, *get_pattern);
                // memtier's cycle: `sets` SETs, then `gets` GETs, then again.
                loop {
                    let limit = if self.step_row == ROW_SETS {
                        sets
                    } else {
                        gets
                    };
                    if self.step_count < limit {
                        self.step_count += 1;
                        break;
                    }
                    self.step_row = if self.step_row == ROW_SETS {
                        ROW_GETS
                    } else {
                        ROW_SETS
                    };
                    self.step_count = 0;
                }
                if self.step_row == ROW_SETS {
                    let index = self.key_index(set_pattern, ROW_SETS);
                    self.encode_set(index, out);
                    RequestKind {
                        row: ROW_SETS as u8,
                        counts_hits: false,
                    }
                } else {
                    let index = self.key_index(get_pattern, ROW_GETS);
                    self.format_key(index);
                    petrel_resp::encode_command(&[b"GET", &self.key_buf], out.tail_mut());
                    RequestKind {
                        row: ROW_GETS as u8,
                        counts_hits: true,
                    }
                }
            }
            Workload::Commands(commands) => {
                if self.step_count >= commands[self.step_row].ratio {
                    self.step_row = (self.step_row + 1) % commands.len();
                    self.step_count = 0;
                }
                self.step_count += 1;
                let row = self.step_row;
                self.encode_arbitrary(row, out.tail_mut());
                RequestKind {
                    row: row as u8,
                    counts_hits: false,
                }
            }
        }
    }

    /// SET key value [EX seconds]. The value goes in as a slice of
    /// `value_source`, so a big one is written from there, not copied.
    fn encode_set(&mut self, index: u64, out: &mut WireBuffer) {
        self.format_key(index);
        let (start, size) = self.value_window(index);
        let expiry = self
            .expiry
            .map(|(min, max)| self.rng.inclusive(u64::from(min), u64::from(max)).max(1));
        let head = out.tail_mut();
        head.put_slice(if expiry.is_some() {
            b"*5\r\n$3\r\nSET\r\n"
        } else {
            b"*3\r\n$3\r\nSET\r\n"
        });
        petrel_resp::encode_bulk(&self.key_buf, head);
        out.put_bulk_of(&self.value_source, start..start + size);
        if let Some(seconds) = expiry {
            let mut digits = [0u8; 20];
            let tail = out.tail_mut();
            petrel_resp::encode_bulk(b"EX", tail);
            petrel_resp::encode_bulk(format_decimal(seconds, &mut digits), tail);
        }
    }

    fn encode_arbitrary(&mut self, row: usize, out: &mut BytesMut) {
        let Workload::Commands(commands) = &self.workload else {
            return;
        };
        let command = &commands[row];
        let needs_key = command
            .args
            .iter()
            .flat_map(|a| &a.parts)
            .any(|p| *p == ArgPart::Key);
        let needs_data = command
            .args
            .iter()
            .flat_map(|a| &a.parts)
            .any(|p| *p == ArgPart::Data);
        let index = if needs_key || needs_data {
            self.key_index(command.key_pattern, row)
        } else {
            0
        };
        if needs_key {
            self.format_key(index);
        }
        let (start, size) = if needs_data {
            self.value_window(index)
        } else {
            (0, 0)
        };
        let Workload::Commands(commands) = &self.workload else {
            return;
        };
        let command = &commands[row];
        self.scratch.resize_with(command.args.len(), Vec::new);
        for (buffer, template) in self.scratch.iter_mut().zip(&command.args) {
            buffer.clear();
            for part in &template.parts {
                match part {
                    ArgPart::Literal(bytes) => buffer.extend_from_slice(bytes),
                    ArgPart::Key => buffer.extend_from_slice(&self.key_buf),
                    ArgPart::Data => {
                        buffer.extend_from_slice(&self.value_source[start..start + size])
                    }
                }
            }
        }
        let args: Vec<&[u8]> = self.scratch[..command.args.len()]
            .iter()
            .map(Vec::as_slice)
            .collect();
        petrel_resp::encode_command(&args, out);
    }

    /// The key index for the next request of `row`, by its pattern.
    pub fn key_index(&mut self, pattern: KeyPattern, row: usize) -> u64 {
        match pattern {
            KeyPattern::Random => self.rng.inclusive(self.key_min, self.key_max),
            KeyPattern::Gaussian => self.gaussian(),
            KeyPattern::Sequential | KeyPattern::Parallel => {
                let next = &mut self.next_key[row];
                if *next < self.key_min || *next > self.key_max {
                    *next = self.key_min;
                }
                let index = *next;
                *next = if index >= self.key_max {
                    self.key_min
                } else {
                    index + 1
                };
                index
            }
        }
    }

    /// A Gaussian sample rounded to a key index, redrawn until it falls in
    /// the range (as memtier does); far tails are clamped after a few tries
    /// so a tiny stddev at the range edge cannot spin.
    fn gaussian(&mut self) -> u64 {
        if self.key_min == self.key_max {
            return self.key_min;
        }
        for _ in 0..64 {
            let value = (self.key_median + self.rng.normal() * self.key_stddev).round();
            if value >= self.key_min as f64 && value <= self.key_max as f64 {
                return value as u64;
            }
        }
        (self.key_median.round() as u64).clamp(self.key_min, self.key_max)
    }

    fn format_key(&mut self, index: u64) {
        self.key_buf.clear();
        self.key_buf.extend_from_slice(&self.key_prefix);
        let mut digits = [0u8; 20];
        let text = format_decimal(index, &mut digits);
        self.key_buf.extend_from_slice(text);
    }

    /// Start and length of the next value inside `value_source`.
    fn value_window(&mut self, index: u64) -> (usize, usize) {
        let size = match &self.data_sizes {
            DataSizes::Fixed(size) => *size as usize,
            DataSizes::Range {
                min,
                max,
                spread_over_keys: false,
            } => self.rng.inclusive(u64::from(*min), u64::from(*max)) as usize,
            DataSizes::Range {
                min,
                max,
                spread_over_keys: true,
            } => {
                let span = self.range_max - self.range_min;
                if span == 0 {
                    *min as usize
                } else {
                    let offset = u128::from(index.saturating_sub(self.range_min))
                        * u128::from(max - min)
                        / u128::from(span);
                    *min as usize + offset as usize
                }
            }
            DataSizes::List(list) => {
                let total: u64 = list.iter().map(|(_, weight)| u64::from(*weight)).sum();
                let mut pick = self.rng.below(total.max(1));
                let mut size = list.first().map(|(size, _)| *size).unwrap_or(1);
                for (candidate, weight) in list {
                    if pick < u64::from(*weight) {
                        size = *candidate;
                        break;
                    }
                    pick -= u64::from(*weight);
                }
                size as usize
            }
        };
        let start = if self.random_data {
            self.rng.below(RANDOM_DATA_SLACK as u64) as usize
        } else {
            0
        };
        (start, size)
    }
}

/// This client's slice of `[min, max]` under the parallel pattern: equal
/// consecutive slices, the last one taking the remainder.
pub fn parallel_slice(min: u64, max: u64, client_index: u64, total_clients: u64) -> (u64, u64) {
    let total_clients = total_clients.max(1);
    let range = (max - min) / total_clients + 1;
    let start = min
        .saturating_add(range.saturating_mul(client_index))
        .min(max);
    let end = if client_index + 1 >= total_clients {
        max
    } else {
        start.saturating_add(range - 1).min(max)
    };
    (start, end)
}

/// Writes `value` in decimal into `buf` and returns the digits.
pub fn format_decimal(mut value: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buf[pos..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(args: &[&str]) -> Config {
        Config::parse_from(std::iter::once("petrel-bench").chain(args.iter().copied()))
            .expect("valid flags")
    }

    fn requests(generator: &mut Generator, count: usize) -> Vec<(RequestKind, Vec<u8>)> {
        (0..count)
            .map(|_| {
                let mut out = WireBuffer::default();
                let kind = generator.next_request(&mut out);
                let pieces = out.take_pieces();
                (kind, pieces.concat())
            })
            .collect()
    }

    #[test]
    fn ratio_one_to_ten_sends_one_set_then_ten_gets() {
        let cfg = config(&[]);
        let mut generator = Generator::new(&cfg, 0, 1);
        let rows: Vec<u8> = requests(&mut generator, 22)
            .iter()
            .map(|(k, _)| k.row)
            .collect();
        let mut expected = vec![0u8];
        expected.extend([1u8; 10]);
        expected.push(0);
        expected.extend([1u8; 10]);
        assert_eq!(rows, expected);
    }

    #[test]
    fn ratio_with_zero_gets_sends_only_sets() {
        let cfg = config(&["--ratio", "1:0"]);
        let mut generator = Generator::new(&cfg, 0, 1);
        assert!(requests(&mut generator, 5)
            .iter()
            .all(|(k, _)| k.row == ROW_SETS as u8));
    }

    #[test]
    fn a_big_set_value_is_sent_from_the_value_source_with_its_expiry() {
        let cfg = config(&[
            "--ratio",
            "1:0",
            "-d",
            "65536",
            "--key-pattern",
            "S:S",
            "--key-minimum",
            "3",
            "--expiry-range",
            "5-5",
        ]);
        let mut generator = Generator::new(&cfg, 0, 1);
        let mut out = WireBuffer::default();
        generator.next_request(&mut out);
        let pieces = out.take_pieces();
        assert!(
            pieces
                .iter()
                .any(|piece| piece.len() == 65536
                    && piece.as_ptr() == generator.value_source.as_ptr()),
            "the value is not copied"
        );
        let mut expected = b"*5\r\n$3\r\nSET\r\n$9\r\nmemtier-3\r\n$65536\r\n".to_vec();
        expected.extend(vec![b'x'; 65536]);
        expected.extend_from_slice(b"\r\n$2\r\nEX\r\n$1\r\n5\r\n");
        assert_eq!(pieces.concat(), expected);
    }

    #[test]
    fn set_request_is_resp_with_prefix_key_and_x_value() {
        let cfg = config(&[
            "--ratio",
            "1:0",
            "-d",
            "4",
            "--key-pattern",
            "S:S",
            "--key-minimum",
            "7",
        ]);
        let mut generator = Generator::new(&cfg, 0, 1);
        let (_, bytes) = &requests(&mut generator, 1)[0];
        assert_eq!(
            bytes.as_slice(),
            b"*3\r\n$3\r\nSET\r\n$9\r\nmemtier-7\r\n$4\r\nxxxx\r\n"
        );
    }

    #[test]
    fn sequential_pattern_wraps_at_key_maximum() {
        let cfg = config(&[
            "--key-pattern",
            "S:S",
            "--key-minimum",
            "1",
            "--key-maximum",
            "3",
        ]);
        let mut generator = Generator::new(&cfg, 0, 1);
        let keys: Vec<u64> = (0..5)
            .map(|_| generator.key_index(KeyPattern::Sequential, 0))
            .collect();
        assert_eq!(keys, vec![1, 2, 3, 1, 2]);
    }

    #[test]
    fn parallel_pattern_gives_each_client_its_own_slice() {
        // Four clients over keys 0..=99: slices never overlap and cover the range.
        let slices: Vec<(u64, u64)> = (0..4).map(|i| parallel_slice(0, 99, i, 4)).collect();
        assert_eq!(slices, vec![(0, 24), (25, 49), (50, 74), (75, 99)]);
        let cfg = config(&[
            "--key-pattern",
            "P:P",
            "--key-maximum",
            "99",
            "-t",
            "2",
            "-c",
            "2",
        ]);
        let mut generator = Generator::new(&cfg, 3, 4);
        assert_eq!(generator.key_index(KeyPattern::Parallel, 0), 75);
    }

    #[test]
    fn gaussian_pattern_stays_in_range_and_centres_on_the_median() {
        let cfg = config(&["--key-pattern", "G:G", "--key-maximum", "1000"]);
        let mut generator = Generator::new(&cfg, 0, 1);
        let samples: Vec<u64> = (0..10_000)
            .map(|_| generator.key_index(KeyPattern::Gaussian, 0))
            .collect();
        assert!(samples.iter().all(|&k| k <= 1000));
        let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
        assert!((mean - 500.0).abs() < 20.0, "mean {mean}");
    }

    #[test]
    fn clients_share_a_seed_unless_distinct_seed_is_asked_for() {
        let same = config(&[]);
        let a = requests(&mut Generator::new(&same, 0, 2), 3);
        let b = requests(&mut Generator::new(&same, 1, 2), 3);
        assert_eq!(a, b);
        let distinct = config(&["--distinct-client-seed"]);
        let a = requests(&mut Generator::new(&distinct, 0, 2), 3);
        let b = requests(&mut Generator::new(&distinct, 1, 2), 3);
        assert_ne!(a, b);
    }

    #[test]
    fn arbitrary_command_fills_placeholders_and_cycles_by_ratio() {
        let cfg = config(&[
            "--command",
            "HSET h:__key__ f __data__",
            "--command-ratio",
            "2",
            "--command-key-pattern",
            "S",
            "--command",
            "PING",
            "-d",
            "3",
        ]);
        let mut generator = Generator::new(&cfg, 0, 1);
        let sent = requests(&mut generator, 3);
        assert_eq!(
            sent.iter().map(|(k, _)| k.row).collect::<Vec<_>>(),
            vec![0, 0, 1]
        );
        assert_eq!(
            sent[0].1.as_slice(),
            b"*4\r\n$4\r\nHSET\r\n$11\r\nh:memtier-0\r\n$1\r\nf\r\n$3\r\nxxx\r\n"
        );
        assert_eq!(sent[2].1.as_slice(), b"*1\r\n$4\r\nPING\r\n");
    }

    #[test]
    fn size_spread_over_keys_grows_with_the_key_index() {
        let cfg = config(&[
            "--data-size-range",
            "10-20",
            "--data-size-pattern",
            "S",
            "--key-maximum",
            "10",
        ]);
        let mut generator = Generator::new(&cfg, 0, 1);
        assert_eq!(generator.value_window(0).1, 10);
        assert_eq!(generator.value_window(5).1, 15);
        assert_eq!(generator.value_window(10).1, 20);
    }

    #[test]
    fn expiry_range_adds_ex_seconds() {
        let cfg = config(&["--ratio", "1:0", "--expiry-range", "5-5", "-d", "1"]);
        let mut generator = Generator::new(&cfg, 0, 1);
        let (_, bytes) = &requests(&mut generator, 1)[0];
        assert!(
            bytes.ends_with(b"$2\r\nEX\r\n$1\r\n5\r\n"),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}
