//! One benchmark client: a monoio task that owns one connection at a time,
//! keeps up to --pipeline requests in flight as memtier does, matches each
//! reply to its request in order, and counts it into the thread's stats.
//!
//! It also applies --rate-limiting, --reconnect-interval and --test-time,
//! and sends AUTH / HELLO / SELECT after each connect. A client that meets
//! an error it cannot continue from (refused connection, TLS failure,
//! broken stream, refused AUTH) records it and stops; error replies to
//! benchmark requests are counted and the client goes on.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use petrel_resp::FrameSummary;
use petrel_resp::WireBuffer;

use crate::config::{Config, Protocol, StopCondition};
use crate::stats::{ErrorKind, RunStats};
use crate::transport::{ensure_spare, printable, StreamError, Target, Transport};
use crate::workload::{Generator, RequestKind};

/// Receive buffer size at connect; it grows for larger replies.
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// Smallest room left for a read before the buffer is compacted or grown.
const READ_SPARE_MIN_BYTES: usize = 4 * 1024;
/// memtier's rate-limit resolution: at least 50 send slots per second.
const RATE_SLOTS_PER_SECOND: u32 = 50;

/// Live counters one thread publishes for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    pub ops: AtomicU64,
    pub bytes: AtomicU64,
    pub latency_us: AtomicU64,
    pub connection_errors: AtomicU64,
    pub connections: AtomicU64,
}

/// What every client task of one thread shares.
pub struct ThreadShared {
    pub config: Arc<Config>,
    pub target: Arc<Target>,
    pub stats: RefCell<RunStats>,
    pub progress: Arc<Progress>,
    /// The run's start, for per-second series.
    pub run_start: Instant,
    /// --test-time: no request is sent after this instant.
    pub deadline: Option<Instant>,
    /// AUTH / HELLO / SELECT, encoded once, and how many replies they give.
    pub setup: BytesMut,
    pub setup_replies: usize,
}

impl ThreadShared {
    pub fn new(
        config: Arc<Config>,
        target: Arc<Target>,
        progress: Arc<Progress>,
        run_start: Instant,
        stats: RunStats,
    ) -> ThreadShared {
        let deadline = match config.stop {
            StopCondition::TestTime(duration) => Some(run_start + duration),
            StopCondition::RequestsPerClient(_) => None,
        };
        let (setup, setup_replies) = setup_commands(&config);
        ThreadShared {
            config,
            target,
            stats: RefCell::new(stats),
            progress,
            run_start,
            deadline,
            setup,
            setup_replies,
        }
    }

    fn error(&self, kind: ErrorKind, message: impl FnOnce() -> String) {
        self.stats.borrow_mut().errors.record(kind, message);
        if kind != ErrorKind::Reply {
            self.progress
                .connection_errors
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The commands sent after each connect, in order: AUTH, HELLO, SELECT.
pub fn setup_commands(config: &Config) -> (BytesMut, usize) {
    let mut out = BytesMut::new();
    let mut replies = 0;
    if let Some(auth) = &config.auth {
        match &auth.user {
            Some(user) => petrel_resp::encode_command(
                &[b"AUTH", user.as_bytes(), auth.password.as_bytes()],
                &mut out,
            ),
            None => petrel_resp::encode_command(&[b"AUTH", auth.password.as_bytes()], &mut out),
        }
        replies += 1;
    }
    match config.protocol {
        Protocol::Redis => {}
        Protocol::Resp2 => {
            petrel_resp::encode_command(&[b"HELLO", b"2"], &mut out);
            replies += 1;
        }
        Protocol::Resp3 => {
            petrel_resp::encode_command(&[b"HELLO", b"3"], &mut out);
            replies += 1;
        }
    }
    if let Some(db) = config.select_db {
        petrel_resp::encode_command(&[b"SELECT", db.to_string().as_bytes()], &mut out);
        replies += 1;
    }
    (out, replies)
}

/// A request waiting for its reply.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    kind: RequestKind,
    sent_at: Instant,
    request_bytes: u32,
}

/// Why a connection ended.
enum ConnectionEnd {
    /// Every request was sent and answered, or the test time is over.
    Done,
    /// --reconnect-interval requests were answered: open a new connection.
    Reconnect,
    /// An error was recorded; the client stops.
    Failed,
}

/// --rate-limiting: memtier's scheme of `per_slot` requests every `slot`.
///
/// Each connection's slots start at its own point in the slot period
/// (`phase`, spread evenly over the connections) and stay there for the
/// whole run, so that the run offers its load across the period instead of
/// every connection sending its share at the same instant: that burst would
/// measure how fast a server drains a queue, not its latency at the offered
/// rate.
struct RateLimit {
    per_slot: u32,
    slot: Duration,
    tokens: u32,
    next_slot: Instant,
}

impl RateLimit {
    /// `phase` in [0, 1): where in the slot period this connection's slots begin.
    fn new(rate: u32, now: Instant, phase: f64) -> RateLimit {
        let per_slot = rate.div_ceil(RATE_SLOTS_PER_SECOND);
        let slots_per_second = (rate / per_slot).max(1);
        let slot = Duration::from_micros(1_000_000 / u64::from(slots_per_second));
        RateLimit {
            per_slot,
            slot,
            tokens: 0,
            next_slot: now + slot.mul_f64(phase.clamp(0.0, 1.0)),
        }
    }

    fn refill(&mut self, now: Instant) {
        if now >= self.next_slot {
            self.tokens = self.per_slot;
            // Far behind (a slow server, a long handshake): the missed slots
            // are not made up, and the next one stays at this connection's
            // phase. Restarting the count from `now` instead lines up every
            // connection that fell behind at the same moment, and they then
            // send together for the rest of the run.
            self.skip_past(now);
        }
    }

    /// Moves the next slot forward by whole slots to the first one after
    /// `now`, granting nothing for the slots passed over: the connection
    /// keeps its phase.
    fn skip_past(&mut self, now: Instant) {
        if self.next_slot <= now {
            let behind = (now - self.next_slot).as_nanos();
            let slots = behind / self.slot.as_nanos().max(1) + 1;
            self.next_slot += self.slot * u32::try_from(slots).unwrap_or(u32::MAX);
        }
    }
}

/// Runs one client to completion.
pub async fn run_client(shared: Rc<ThreadShared>, client_index: u64) {
    let config = shared.config.clone();
    let mut generator = Generator::new(&config, client_index, config.total_connections());
    let limit = match config.stop {
        StopCondition::RequestsPerClient(requests) => Some(requests),
        StopCondition::TestTime(_) => None,
    };
    let mut state = ClientState {
        sent: 0,
        limit,
        rate: config.rate_limit.map(|rate| {
            let phase = client_index as f64 / config.total_connections().max(1) as f64;
            RateLimit::new(rate, Instant::now(), phase)
        }),
        write_buf: WireBuffer::with_capacity(4096),
        read_buf: Vec::with_capacity(READ_BUFFER_BYTES),
        in_flight: VecDeque::with_capacity(config.pipeline as usize),
    };
    let mut first_connection = true;
    loop {
        if state.finished(shared.deadline, Instant::now()) {
            return;
        }
        let mut transport = match Transport::connect(&shared.target).await {
            Ok(transport) => transport,
            Err(error) => {
                let kind = if error.is_tls() {
                    ErrorKind::Tls
                } else {
                    ErrorKind::Connection
                };
                shared.error(kind, || error.to_string());
                return;
            }
        };
        shared.stats.borrow_mut().connections += 1;
        shared.progress.connections.fetch_add(1, Ordering::Relaxed);
        if !state.setup(&shared, &mut transport).await {
            return;
        }
        // Slots that fell due while connecting (TLS handshakes take a
        // while) are passed over rather than all sent at once.
        if first_connection {
            first_connection = false;
            if let Some(rate) = &mut state.rate {
                rate.skip_past(Instant::now());
            }
        }
        match state.serve(&shared, &mut transport, &mut generator).await {
            ConnectionEnd::Done | ConnectionEnd::Failed => return,
            ConnectionEnd::Reconnect => continue,
        }
    }
}

struct ClientState {
    sent: u64,
    limit: Option<u64>,
    rate: Option<RateLimit>,
    write_buf: WireBuffer,
    read_buf: Vec<u8>,
    in_flight: VecDeque<InFlight>,
}

impl ClientState {
    fn finished(&self, deadline: Option<Instant>, now: Instant) -> bool {
        self.limit.is_some_and(|limit| self.sent >= limit)
            || deadline.is_some_and(|deadline| now >= deadline)
    }

    /// Sends AUTH / HELLO / SELECT and checks every reply. False if the
    /// client must stop (the error is recorded).
    async fn setup(&mut self, shared: &ThreadShared, transport: &mut Transport) -> bool {
        if shared.setup_replies == 0 {
            return true;
        }
        self.write_buf.clear();
        self.write_buf.extend_from_slice(&shared.setup);
        if let Err(error) = transport.send(&mut self.write_buf).await {
            record_stream_error(shared, &error);
            return false;
        }
        self.read_buf.clear();
        let mut answered = 0;
        let mut consumed = 0;
        while answered < shared.setup_replies {
            match petrel_resp::scan_frame(&self.read_buf[consumed..]) {
                Ok(Some(frame)) => {
                    if frame.is_error {
                        let text = printable(&self.read_buf[consumed + 1..consumed + frame.len]);
                        shared.error(ErrorKind::Setup, || text);
                        return false;
                    }
                    consumed += frame.len;
                    answered += 1;
                    continue;
                }
                Ok(None) => {}
                Err(error) => {
                    shared.error(ErrorKind::Protocol, || {
                        format!("invalid reply to connection setup: {error}")
                    });
                    return false;
                }
            }
            ensure_spare(&mut self.read_buf, READ_SPARE_MIN_BYTES);
            let (result, buf) = transport.read(std::mem::take(&mut self.read_buf)).await;
            self.read_buf = buf;
            match result {
                Ok(0) => {
                    shared.error(ErrorKind::Connection, || {
                        "server closed the connection during setup".to_string()
                    });
                    return false;
                }
                Ok(_) => {}
                Err(error) => {
                    record_stream_error(shared, &error);
                    return false;
                }
            }
        }
        self.read_buf.drain(..consumed);
        true
    }

    async fn serve(
        &mut self,
        shared: &ThreadShared,
        transport: &mut Transport,
        generator: &mut Generator,
    ) -> ConnectionEnd {
        let config = &shared.config;
        let pipeline = config.pipeline as usize;
        let mut sent_on_connection: u64 = 0;
        let mut parsed = 0usize;
        loop {
            // Fill the pipeline.
            let now = Instant::now();
            let stopped = self.finished(shared.deadline, now);
            let reconnect_due = config
                .reconnect_interval
                .is_some_and(|n| sent_on_connection >= n);
            if let Some(rate) = &mut self.rate {
                rate.refill(now);
            }
            while !stopped
                && !reconnect_due
                && self.in_flight.len() < pipeline
                && !self.finished(None, now)
            {
                if config
                    .reconnect_interval
                    .is_some_and(|n| sent_on_connection >= n)
                {
                    break;
                }
                if let Some(rate) = &mut self.rate {
                    if rate.tokens == 0 {
                        break;
                    }
                    rate.tokens -= 1;
                }
                let before = self.write_buf.len();
                let kind = generator.next_request(&mut self.write_buf);
                let request_bytes = (self.write_buf.len() - before) as u32;
                self.in_flight.push_back(InFlight {
                    kind,
                    sent_at: now,
                    request_bytes,
                });
                self.sent += 1;
                sent_on_connection += 1;
            }
            if self.in_flight.is_empty() {
                if self.finished(shared.deadline, now) {
                    return ConnectionEnd::Done;
                }
                if config
                    .reconnect_interval
                    .is_some_and(|n| sent_on_connection >= n)
                {
                    return ConnectionEnd::Reconnect;
                }
                if let Some(rate) = &self.rate {
                    // Out of tokens with nothing in flight: wait for the next slot.
                    let wake = match shared.deadline {
                        Some(deadline) => rate.next_slot.min(deadline),
                        None => rate.next_slot,
                    };
                    monoio::time::sleep_until(wake.into()).await;
                    continue;
                }
                return ConnectionEnd::Done;
            }
            if !self.write_buf.is_empty() {
                if let Err(error) = transport.send(&mut self.write_buf).await {
                    record_stream_error(shared, &error);
                    return ConnectionEnd::Failed;
                }
            }

            // Read until at least one reply is complete.
            loop {
                if parsed == self.read_buf.len() {
                    self.read_buf.clear();
                    parsed = 0;
                } else if self.read_buf.capacity() - self.read_buf.len() < READ_SPARE_MIN_BYTES
                    && parsed > 0
                {
                    self.read_buf.drain(..parsed);
                    parsed = 0;
                }
                ensure_spare(&mut self.read_buf, READ_SPARE_MIN_BYTES);
                let (result, buf) = transport.read(std::mem::take(&mut self.read_buf)).await;
                self.read_buf = buf;
                match result {
                    Ok(0) => {
                        let pending = self.in_flight.len();
                        shared.error(ErrorKind::Connection, || {
                            format!(
                                "server closed the connection with {pending} requests in flight"
                            )
                        });
                        return ConnectionEnd::Failed;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        record_stream_error(shared, &error);
                        return ConnectionEnd::Failed;
                    }
                }
                match self.count_replies(shared, &mut parsed) {
                    Ok(0) => continue,
                    Ok(_) => break,
                    Err(()) => return ConnectionEnd::Failed,
                }
            }
        }
    }

    /// Matches every complete reply in the buffer to its request and counts
    /// it. Returns how many were counted; Err after a protocol error.
    fn count_replies(&mut self, shared: &ThreadShared, parsed: &mut usize) -> Result<usize, ()> {
        let now = Instant::now();
        let second = now.saturating_duration_since(shared.run_start).as_secs() as u32;
        let mut stats = shared.stats.borrow_mut();
        let mut counted = 0usize;
        let mut bytes_total = 0u64;
        let mut latency_total = 0u64;
        while let Some(request) = self.in_flight.front().copied() {
            let frame: FrameSummary = match petrel_resp::scan_frame(&self.read_buf[*parsed..]) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => {
                    drop(stats);
                    shared.error(ErrorKind::Protocol, || {
                        format!("invalid reply from server: {error}")
                    });
                    return Err(());
                }
            };
            if frame.is_error {
                let start = *parsed + 1;
                let text = &self.read_buf[start..*parsed + frame.len];
                stats.errors.record(ErrorKind::Reply, || printable(text));
            }
            self.in_flight.pop_front();
            let latency_us = now.saturating_duration_since(request.sent_at).as_micros() as u64;
            let bytes = u64::from(request.request_bytes) + frame.len as u64;
            let hit = (request.kind.counts_hits && !frame.is_error).then_some(!frame.is_nil);
            stats.record(
                usize::from(request.kind.row),
                second,
                latency_us,
                bytes,
                hit,
            );
            *parsed += frame.len;
            counted += 1;
            bytes_total += bytes;
            latency_total += latency_us;
        }
        drop(stats);
        if counted > 0 {
            let progress = &shared.progress;
            progress.ops.fetch_add(counted as u64, Ordering::Relaxed);
            progress.bytes.fetch_add(bytes_total, Ordering::Relaxed);
            progress
                .latency_us
                .fetch_add(latency_total, Ordering::Relaxed);
        }
        Ok(counted)
    }
}

fn record_stream_error(shared: &ThreadShared, error: &StreamError) {
    let kind = if error.is_tls() {
        ErrorKind::Tls
    } else {
        ErrorKind::Connection
    };
    shared.error(kind, || error.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        Config::parse_from(std::iter::once("petrel-bench").chain(args.iter().copied()))
            .expect("valid flags")
    }

    #[test]
    fn setup_sends_auth_then_hello_then_select() {
        let (bytes, replies) = setup_commands(&config(&[
            "-a",
            "u:p",
            "--protocol",
            "resp3",
            "--select-db",
            "2",
        ]));
        assert_eq!(replies, 3);
        assert_eq!(
            &bytes[..],
            b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n"
        );
        assert_eq!(setup_commands(&config(&[])).1, 0);
    }

    #[test]
    fn rate_limit_uses_memtiers_slots() {
        // 1000 requests/s: 20 per slot, 50 slots a second, a slot every 20 ms.
        let now = Instant::now();
        let rate = RateLimit::new(1000, now, 0.0);
        assert_eq!((rate.per_slot, rate.slot), (20, Duration::from_millis(20)));
        // 10 requests/s: one per slot, 10 slots a second.
        let rate = RateLimit::new(10, now, 0.0);
        assert_eq!((rate.per_slot, rate.slot), (1, Duration::from_millis(100)));
        let mut rate = RateLimit::new(10, now, 0.0);
        rate.refill(now);
        assert_eq!(rate.tokens, 1, "phase 0 sends at once");
        rate.tokens = 0;
        rate.refill(now + Duration::from_millis(50));
        assert_eq!(rate.tokens, 0, "no refill before the slot");
        rate.refill(now + Duration::from_millis(100));
        assert_eq!(rate.tokens, 1);
    }

    #[test]
    fn rate_limited_connections_spread_their_slots() {
        // Four connections at 10 requests/s: their first requests go out
        // 0, 25, 50 and 75 ms into the 100 ms slot, not all at once.
        let now = Instant::now();
        let starts: Vec<Duration> = (0..4)
            .map(|index| RateLimit::new(10, now, f64::from(index) / 4.0).next_slot - now)
            .collect();
        assert_eq!(starts, [0, 25, 50, 75].map(Duration::from_millis).to_vec());
        let mut late = RateLimit::new(10, now, 0.75);
        late.refill(now + Duration::from_millis(74));
        assert_eq!(late.tokens, 0, "nothing before its phase");
        late.refill(now + Duration::from_millis(75));
        assert_eq!(late.tokens, 1);
        assert_eq!(late.next_slot - now, Duration::from_millis(175));
    }

    #[test]
    fn connections_that_fall_behind_keep_their_phases() {
        // Two connections 50 ms apart in a 100 ms slot both stall until
        // 1,003 ms (a slow handshake, a stalled server). Each sends its
        // share at once and then goes back to its own phase; they must not
        // end up sending together from then on.
        let now = Instant::now();
        let mut early = RateLimit::new(10, now, 0.0);
        let mut late = RateLimit::new(10, now, 0.5);
        let stalled_until = now + Duration::from_millis(1_003);
        early.refill(stalled_until);
        late.refill(stalled_until);
        assert_eq!((early.tokens, late.tokens), (1, 1), "one share, not ten");
        assert_eq!(early.next_slot - now, Duration::from_millis(1_100));
        assert_eq!(late.next_slot - now, Duration::from_millis(1_050));
    }

    #[test]
    fn slots_due_while_connecting_are_skipped() {
        let now = Instant::now();
        let mut rate = RateLimit::new(10, now, 0.25);
        rate.skip_past(now + Duration::from_millis(260));
        assert_eq!(rate.tokens, 0, "nothing is sent for the missed slots");
        assert_eq!(rate.next_slot - now, Duration::from_millis(325));
        rate.skip_past(now + Duration::from_millis(300));
        assert_eq!(
            rate.next_slot - now,
            Duration::from_millis(325),
            "a slot still ahead stays"
        );
    }
}
