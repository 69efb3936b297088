//! Counting what a run did: per result row (Sets, Gets, Waits, or each
//! arbitrary command) the operations, bytes, hits and misses, latencies in
//! an HdrHistogram in microseconds, a per-second time series, and the
//! errors seen. Also the summaries printed at the end: one run's figures,
//! and the average over several runs as memtier computes it.
//!
//! No I/O and no clock here: callers pass the second a response belongs to.

use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

/// Significant figures of the run-wide latency histograms (memtier uses 3).
pub const LATENCY_SIGFIG: u8 = 3;
/// Largest latency the run-wide histograms hold: one hour, in microseconds.
/// Longer latencies are counted at this value.
pub const LATENCY_MAX_US: u64 = 3_600_000_000;
/// Significant figures of per-second histograms: enough for the time
/// series' percentiles, small enough to keep one per second per row.
const SECOND_SIGFIG: u8 = 2;
/// Largest latency the per-second histograms hold: one minute.
const SECOND_LATENCY_MAX_US: u64 = 60_000_000;

/// A fixed-range histogram: recording never allocates, and values above the
/// range are clamped to its top rather than (as an auto-resizing
/// histogram's saturating_record does) to its current, smaller top.
pub fn new_histogram() -> Histogram<u64> {
    // Creation fails only for bounds or precision out of range, which the
    // constants exclude.
    Histogram::new_with_bounds(1, LATENCY_MAX_US, LATENCY_SIGFIG)
        .expect("constant bounds are valid")
}

fn new_second_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, SECOND_LATENCY_MAX_US, SECOND_SIGFIG)
        .expect("constant bounds are valid")
}

/// Run-wide counters of one result row.
#[derive(Debug, Clone)]
pub struct RowStats {
    pub latency_us: Histogram<u64>,
    pub ops: u64,
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

impl RowStats {
    fn new() -> RowStats {
        RowStats {
            latency_us: new_histogram(),
            ops: 0,
            bytes: 0,
            hits: 0,
            misses: 0,
        }
    }

    fn merge(&mut self, other: &RowStats) {
        // Adding histograms of equal precision into an auto-resizing one cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.hits += other.hits;
        self.misses += other.misses;
    }
}

/// Counters of one row during one second of the run.
#[derive(Debug, Clone)]
pub struct SecondRow {
    pub ops: u64,
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub latency_us: Histogram<u32>,
}

impl SecondRow {
    fn new() -> SecondRow {
        SecondRow {
            ops: 0,
            bytes: 0,
            hits: 0,
            misses: 0,
            latency_us: new_second_histogram(),
        }
    }

    fn merge(&mut self, other: &SecondRow) {
        let _ = self.latency_us.add(&other.latency_us);
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.hits += other.hits;
        self.misses += other.misses;
    }
}

#[derive(Debug, Clone)]
pub struct Second {
    pub second: u32,
    pub rows: Vec<SecondRow>,
}

/// The kinds of failure a run reports, each with a count and its first message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// TCP connect failed or the connection broke.
    Connection,
    /// The TLS handshake or a TLS record failed.
    Tls,
    /// The server answered a request with an error reply.
    Reply,
    /// AUTH, HELLO or SELECT on connect was refused.
    Setup,
    /// The server sent bytes that are not RESP.
    Protocol,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::Connection,
        ErrorKind::Tls,
        ErrorKind::Setup,
        ErrorKind::Reply,
        ErrorKind::Protocol,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Connection => "connection errors",
            ErrorKind::Tls => "TLS errors",
            ErrorKind::Reply => "error replies",
            ErrorKind::Setup => "connection setup errors",
            ErrorKind::Protocol => "protocol errors",
        }
    }

    fn index(self) -> usize {
        match self {
            ErrorKind::Connection => 0,
            ErrorKind::Tls => 1,
            ErrorKind::Setup => 2,
            ErrorKind::Reply => 3,
            ErrorKind::Protocol => 4,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorTally {
    pub count: u64,
    pub first: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Errors {
    tallies: [ErrorTally; 5],
}

impl Errors {
    pub fn record(&mut self, kind: ErrorKind, message: impl FnOnce() -> String) {
        let tally = &mut self.tallies[kind.index()];
        tally.count += 1;
        if tally.first.is_none() {
            tally.first = Some(message());
        }
    }

    pub fn tally(&self, kind: ErrorKind) -> &ErrorTally {
        &self.tallies[kind.index()]
    }

    pub fn total(&self) -> u64 {
        self.tallies.iter().map(|t| t.count).sum()
    }

    pub fn merge(&mut self, other: &Errors) {
        for (mine, theirs) in self.tallies.iter_mut().zip(&other.tallies) {
            mine.count += theirs.count;
            if mine.first.is_none() {
                mine.first.clone_from(&theirs.first);
            }
        }
    }
}

/// Everything one thread (and, merged, one run) measured.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub rows: Vec<RowStats>,
    /// Per-second series, in order of `second`.
    pub seconds: Vec<Second>,
    pub errors: Errors,
    /// Connections opened successfully (handshakes, with TLS).
    pub connections: u64,
    pub start: SystemTime,
    pub duration: Duration,
}

impl RunStats {
    pub fn new(rows: usize, start: SystemTime) -> RunStats {
        RunStats {
            rows: (0..rows).map(|_| RowStats::new()).collect(),
            seconds: Vec::new(),
            errors: Errors::default(),
            connections: 0,
            start,
            duration: Duration::ZERO,
        }
    }

    /// Counts one reply. `hit` is Some for GETs: true unless the reply was nil.
    pub fn record(
        &mut self,
        row: usize,
        second: u32,
        latency_us: u64,
        bytes: u64,
        hit: Option<bool>,
    ) {
        let rows = self.rows.len();
        let total = &mut self.rows[row];
        total.latency_us.saturating_record(latency_us);
        total.ops += 1;
        total.bytes += bytes;
        let current = match self.seconds.last_mut() {
            Some(last) if last.second == second => last,
            _ => {
                self.seconds.push(Second {
                    second,
                    rows: (0..rows).map(|_| SecondRow::new()).collect(),
                });
                let last = self.seconds.len() - 1;
                &mut self.seconds[last]
            }
        };
        let per_second = &mut current.rows[row];
        per_second.ops += 1;
        per_second.bytes += bytes;
        per_second.latency_us.saturating_record(latency_us);
        match hit {
            Some(true) => {
                total.hits += 1;
                per_second.hits += 1;
            }
            Some(false) => {
                total.misses += 1;
                per_second.misses += 1;
            }
            None => {}
        }
    }

    /// Adds another thread's figures. Start and duration are averaged, as
    /// memtier averages its threads' start and end times.
    pub fn merge(&mut self, other: &RunStats, merged_so_far: u32) {
        for (mine, theirs) in self.rows.iter_mut().zip(&other.rows) {
            mine.merge(theirs);
        }
        for second in &other.seconds {
            match self
                .seconds
                .binary_search_by_key(&second.second, |s| s.second)
            {
                Ok(at) => {
                    for (mine, theirs) in self.seconds[at].rows.iter_mut().zip(&second.rows) {
                        mine.merge(theirs);
                    }
                }
                Err(at) => self.seconds.insert(at, second.clone()),
            }
        }
        self.errors.merge(&other.errors);
        self.connections += other.connections;
        let weight = f64::from(merged_so_far + 1);
        let mine = self.duration.as_secs_f64();
        let theirs = other.duration.as_secs_f64();
        self.duration = Duration::from_secs_f64(mine + (theirs - mine) / weight);
    }

    pub fn total_ops(&self) -> u64 {
        self.rows.iter().map(|r| r.ops).sum()
    }

    pub fn ops_per_sec(&self) -> f64 {
        per_second(self.total_ops() as f64, self.duration)
    }

    /// The figures printed for this run.
    pub fn summary(&self) -> Summary {
        let duration = self.duration;
        let rows: Vec<RowSummary> = self
            .rows
            .iter()
            .enumerate()
            .map(|(index, row)| RowSummary {
                ops: row.ops,
                hits: row.hits,
                misses: row.misses,
                ops_sec: per_second(row.ops as f64, duration),
                hits_sec: per_second(row.hits as f64, duration),
                misses_sec: per_second(row.misses as f64, duration),
                kb_sec: per_second(row.bytes as f64 / 1024.0, duration),
                latency_us: row.latency_us.clone(),
                series: self.series(|rows| rows[index].clone()),
            })
            .collect();
        let mut totals_latency = new_histogram();
        for row in &self.rows {
            let _ = totals_latency.add(&row.latency_us);
        }
        let totals = RowSummary {
            ops: self.total_ops(),
            hits: rows.iter().map(|r| r.hits).sum(),
            misses: rows.iter().map(|r| r.misses).sum(),
            ops_sec: per_second(self.total_ops() as f64, duration),
            hits_sec: rows.iter().map(|r| r.hits_sec).sum(),
            misses_sec: rows.iter().map(|r| r.misses_sec).sum(),
            kb_sec: rows.iter().map(|r| r.kb_sec).sum(),
            latency_us: totals_latency,
            series: self.series(|rows| {
                let mut merged = SecondRow::new();
                for row in rows {
                    merged.merge(row);
                }
                merged
            }),
        };
        let start_ms = self
            .start
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Summary {
            rows,
            totals,
            start_ms,
            end_ms: start_ms + duration.as_millis() as u64,
            connections: self.connections,
            connections_sec: per_second(self.connections as f64, duration),
        }
    }

    fn series(&self, pick: impl Fn(&[SecondRow]) -> SecondRow) -> Vec<(u32, SecondRow)> {
        self.seconds
            .iter()
            .map(|s| (s.second, pick(&s.rows)))
            .collect()
    }
}

fn per_second(count: f64, duration: Duration) -> f64 {
    let seconds = duration.as_secs_f64();
    if seconds > 0.0 {
        count / seconds
    } else {
        0.0
    }
}

/// What one results row prints.
#[derive(Debug, Clone)]
pub struct RowSummary {
    pub ops: u64,
    pub hits: u64,
    pub misses: u64,
    pub ops_sec: f64,
    pub hits_sec: f64,
    pub misses_sec: f64,
    pub kb_sec: f64,
    pub latency_us: Histogram<u64>,
    pub series: Vec<(u32, SecondRow)>,
}

/// What a results table ("ALL STATS", "BEST RUN RESULTS", ...) prints.
#[derive(Debug, Clone)]
pub struct Summary {
    pub rows: Vec<RowSummary>,
    pub totals: RowSummary,
    pub start_ms: u64,
    pub end_ms: u64,
    pub connections: u64,
    pub connections_sec: f64,
}

impl Summary {
    /// memtier's aggregated average: rates averaged over runs, latency
    /// histograms added together; the time series is left empty.
    pub fn average(runs: &[Summary]) -> Option<Summary> {
        let first = runs.first()?;
        let count = runs.len() as f64;
        let average_row = |pick: &dyn Fn(&Summary) -> &RowSummary| {
            let mut latency = new_histogram();
            let (mut ops, mut hits, mut misses, mut kb) = (0.0, 0.0, 0.0, 0.0);
            let (mut op_count, mut hit_count, mut miss_count) = (0, 0, 0);
            for run in runs {
                let row = pick(run);
                op_count += row.ops;
                hit_count += row.hits;
                miss_count += row.misses;
                let _ = latency.add(&row.latency_us);
                ops += row.ops_sec;
                hits += row.hits_sec;
                misses += row.misses_sec;
                kb += row.kb_sec;
            }
            RowSummary {
                ops: op_count,
                hits: hit_count,
                misses: miss_count,
                ops_sec: ops / count,
                hits_sec: hits / count,
                misses_sec: misses / count,
                kb_sec: kb / count,
                latency_us: latency,
                series: Vec::new(),
            }
        };
        let rows = (0..first.rows.len())
            .map(|i| average_row(&|s: &Summary| &s.rows[i]))
            .collect();
        let totals = average_row(&|s: &Summary| &s.totals);
        Some(Summary {
            rows,
            totals,
            start_ms: runs.iter().map(|r| r.start_ms).sum::<u64>() / runs.len() as u64,
            end_ms: runs.iter().map(|r| r.end_ms).sum::<u64>() / runs.len() as u64,
            connections: runs.iter().map(|r| r.connections).sum::<u64>() / runs.len() as u64,
            connections_sec: runs.iter().map(|r| r.connections_sec).sum::<f64>() / count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_above_the_first_bucket_keep_their_value() {
        // An auto-resizing histogram clamps saturating records to its initial
        // top (2 ms); ours must keep a 5-second latency as 5 seconds.
        let mut stats = RunStats::new(1, SystemTime::UNIX_EPOCH);
        stats.record(0, 0, 5_000_000, 1, None);
        stats.record(0, 0, 50, 1, None);
        assert_eq!(stats.rows[0].latency_us.min(), 50);
        assert!(stats.rows[0].latency_us.max() >= 5_000_000);
    }

    #[test]
    fn hits_and_misses_are_counted_per_row_and_in_totals() {
        let mut stats = RunStats::new(3, SystemTime::UNIX_EPOCH);
        stats.record(0, 0, 100, 50, None);
        stats.record(1, 0, 200, 40, Some(true));
        stats.record(1, 1, 300, 40, Some(false));
        stats.record(1, 1, 300, 40, Some(false));
        stats.duration = Duration::from_secs(2);
        let summary = stats.summary();
        assert_eq!(summary.rows[1].hits_sec, 0.5);
        assert_eq!(summary.rows[1].misses_sec, 1.0);
        assert_eq!(summary.totals.ops_sec, 2.0);
        assert_eq!(summary.totals.latency_us.len(), 4);
        assert_eq!(summary.totals.series.len(), 2);
        assert_eq!(summary.totals.series[1].1.ops, 2);
    }

    #[test]
    fn merging_threads_adds_counts_and_interleaves_seconds() {
        let mut a = RunStats::new(1, SystemTime::UNIX_EPOCH);
        a.record(0, 0, 10, 1, None);
        a.record(0, 2, 10, 1, None);
        a.duration = Duration::from_secs(4);
        let mut b = RunStats::new(1, SystemTime::UNIX_EPOCH);
        b.record(0, 1, 10, 1, None);
        b.errors.record(ErrorKind::Reply, || "ERR first".into());
        b.errors.record(ErrorKind::Reply, || "ERR second".into());
        b.duration = Duration::from_secs(2);
        a.merge(&b, 1);
        assert_eq!(a.total_ops(), 3);
        assert_eq!(
            a.seconds.iter().map(|s| s.second).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert_eq!(a.duration, Duration::from_secs(3));
        let tally = a.errors.tally(ErrorKind::Reply);
        assert_eq!(
            (tally.count, tally.first.as_deref()),
            (2, Some("ERR first"))
        );
    }

    #[test]
    fn average_of_runs_averages_rates_and_adds_latencies() {
        let mut one = RunStats::new(1, SystemTime::UNIX_EPOCH);
        one.record(0, 0, 100, 1, None);
        one.duration = Duration::from_secs(1);
        let mut two = RunStats::new(1, SystemTime::UNIX_EPOCH);
        two.record(0, 0, 100, 1, None);
        two.record(0, 0, 100, 1, None);
        two.record(0, 0, 100, 1, None);
        two.duration = Duration::from_secs(1);
        let average = Summary::average(&[one.summary(), two.summary()]).unwrap();
        assert_eq!(average.totals.ops_sec, 2.0);
        assert_eq!(average.totals.latency_us.len(), 4);
    }
}
