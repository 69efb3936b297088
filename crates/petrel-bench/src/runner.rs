//! One run of the benchmark: --threads OS threads, each with its own monoio
//! runtime (io_uring, or epoll where io_uring is unavailable or --io-driver
//! epoll asks for it) running its --clients connections as tasks; meanwhile
//! the calling thread prints memtier's live progress line on stderr once a second.
//!
//! Threads share nothing on the request path: each counts into its own
//! stats, publishes a few relaxed counters for the progress line, and hands
//! its stats back when its clients are done.

use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::client::{run_client, Progress, ThreadShared};
use crate::config::{Config, IoDriver, StopCondition};
use crate::stats::RunStats;
use crate::transport::Target;

/// io_uring submission queue size per thread: room for every client's read
/// and write, bounded to what the kernel accepts.
fn ring_entries(clients: u32) -> u32 {
    (clients.saturating_mul(4))
        .clamp(256, 32_768)
        .next_power_of_two()
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("failed to start the I/O runtime of thread {thread}: {source}")]
    Runtime { thread: u32, source: std::io::Error },
    #[error("failed to start thread {thread}: {source}")]
    Spawn { thread: u32, source: std::io::Error },
    #[error("thread {thread} panicked")]
    Panicked { thread: u32 },
}

struct Worker {
    progress: Arc<Progress>,
    handle: JoinHandle<Result<RunStats, RunError>>,
}

/// Runs the benchmark once and returns the merged stats of all threads.
pub fn run(config: &Arc<Config>, target: &Arc<Target>, run_id: u32) -> Result<RunStats, RunError> {
    let mut stderr = std::io::stderr();
    let _ = writeln!(stderr, "[RUN #{run_id}] Preparing benchmark client...");
    let rows = config.row_names().len();
    let run_start = Instant::now();
    let wall_start = SystemTime::now();
    let _ = writeln!(stderr, "[RUN #{run_id}] Launching threads now...");
    let mut workers = Vec::with_capacity(config.threads as usize);
    for thread in 0..config.threads {
        let progress = Arc::new(Progress::default());
        let config = config.clone();
        let target = target.clone();
        let thread_progress = progress.clone();
        let handle = std::thread::Builder::new()
            .name(format!("petrel-bench-{thread}"))
            .spawn(move || {
                run_thread(
                    config,
                    target,
                    thread_progress,
                    thread,
                    run_start,
                    wall_start,
                    rows,
                )
            })
            .map_err(|source| RunError::Spawn { thread, source })?;
        workers.push(Worker { progress, handle });
    }

    let mut reporter = ProgressLine::new(run_id, config);
    let mut next_print = run_start + Duration::from_secs(1);
    while workers.iter().any(|w| !w.handle.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if now >= next_print {
            reporter.print(&workers, now.duration_since(run_start));
            next_print += Duration::from_secs(1);
        }
    }
    reporter.print(&workers, run_start.elapsed());
    let _ = write!(stderr, "\n\n");

    let mut merged: Option<RunStats> = None;
    for (thread, worker) in workers.into_iter().enumerate() {
        let stats = worker.handle.join().map_err(|_| RunError::Panicked {
            thread: thread as u32,
        })??;
        match &mut merged {
            None => merged = Some(stats),
            Some(all) => all.merge(&stats, thread as u32),
        }
    }
    Ok(merged.unwrap_or_else(|| RunStats::new(rows, wall_start)))
}

/// A ring whose completions wait for this thread's next look at them
/// (single issuer, deferred task run): measured on loopback at pipeline 1,
/// it drives more requests per second from one core than a ring the kernel
/// interrupts for each completion. Kernels before 6.1 refuse the flags; the
/// plain ring (or epoll) is used there. `--io-driver epoll` asks for epoll,
/// where each request leaves as its connection's task runs.
fn build_runtime(
    entries: u32,
    driver: IoDriver,
) -> std::io::Result<
    monoio::FusionRuntime<
        monoio::time::TimeDriver<monoio::IoUringDriver>,
        monoio::time::TimeDriver<monoio::LegacyDriver>,
    >,
> {
    if driver == IoDriver::Epoll {
        return monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .map(Into::into);
    }
    let mut uring = io_uring::IoUring::builder();
    uring.setup_single_issuer().setup_defer_taskrun();
    let deferred = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .with_entries(entries)
        .uring_builder(uring)
        .enable_timer()
        .build();
    match deferred {
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
            monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
                .with_entries(entries)
                .enable_timer()
                .build()
        }
        built => built,
    }
}

fn run_thread(
    config: Arc<Config>,
    target: Arc<Target>,
    progress: Arc<Progress>,
    thread: u32,
    run_start: Instant,
    wall_start: SystemTime,
    rows: usize,
) -> Result<RunStats, RunError> {
    let mut runtime = build_runtime(ring_entries(config.clients), config.io_driver)
        .map_err(|source| RunError::Runtime { thread, source })?;
    runtime.block_on(async move {
        let thread_start = Instant::now();
        let shared = Rc::new(ThreadShared::new(
            config.clone(),
            target,
            progress,
            run_start,
            RunStats::new(rows, wall_start),
        ));
        let mut tasks = Vec::with_capacity(config.clients as usize);
        for client in 0..config.clients {
            let index = u64::from(thread) * u64::from(config.clients) + u64::from(client);
            tasks.push(monoio::spawn(run_client(shared.clone(), index)));
        }
        for task in tasks {
            task.await;
        }
        let mut stats = shared.stats.borrow().clone();
        stats.duration = thread_start.elapsed();
        Ok(stats)
    })
}

/// memtier's progress line, rewritten in place with `\r`.
struct ProgressLine {
    run_id: u32,
    clients: u32,
    total_requests: Option<u64>,
    test_time: Option<Duration>,
    previous_ops: u64,
    previous_bytes: u64,
    previous_latency_us: u64,
    previous_elapsed: Duration,
    current_ops_sec: u64,
    current_bytes_sec: u64,
    current_latency_ms: f64,
}

impl ProgressLine {
    fn new(run_id: u32, config: &Config) -> ProgressLine {
        let (total_requests, test_time) = match config.stop {
            StopCondition::RequestsPerClient(requests) => {
                (Some(requests * config.total_connections()), None)
            }
            StopCondition::TestTime(duration) => (None, Some(duration)),
        };
        ProgressLine {
            run_id,
            clients: config.clients,
            total_requests,
            test_time,
            previous_ops: 0,
            previous_bytes: 0,
            previous_latency_us: 0,
            previous_elapsed: Duration::ZERO,
            current_ops_sec: 0,
            current_bytes_sec: 0,
            current_latency_ms: 0.0,
        }
    }

    fn print(&mut self, workers: &[Worker], elapsed: Duration) {
        let active = workers.iter().filter(|w| !w.handle.is_finished()).count();
        let sum =
            |pick: fn(&Progress) -> u64| workers.iter().map(|w| pick(&w.progress)).sum::<u64>();
        let ops = sum(|p| p.ops.load(Ordering::Relaxed));
        let bytes = sum(|p| p.bytes.load(Ordering::Relaxed));
        let latency_us = sum(|p| p.latency_us.load(Ordering::Relaxed));
        let errors = sum(|p| p.connection_errors.load(Ordering::Relaxed));

        let seconds = elapsed.as_secs_f64();
        let (ops_sec, bytes_sec, latency_ms) = if seconds > 0.0 && ops > 0 {
            (
                ops as f64 / seconds,
                bytes as f64 / seconds,
                latency_us as f64 / 1000.0 / ops as f64,
            )
        } else {
            (0.0, 0.0, 0.0)
        };
        let interval = (elapsed - self.previous_elapsed).as_secs_f64();
        let interval_ops = ops - self.previous_ops;
        // Like memtier, the current rate is only updated while every thread runs.
        if interval > 0.0 && active == workers.len() && interval_ops > 0 {
            self.current_ops_sec = (interval_ops as f64 / interval) as u64;
            self.current_bytes_sec = ((bytes - self.previous_bytes) as f64 / interval) as u64;
            self.current_latency_ms =
                (latency_us - self.previous_latency_us) as f64 / 1000.0 / interval_ops as f64;
        }
        self.previous_ops = ops;
        self.previous_bytes = bytes;
        self.previous_latency_us = latency_us;
        self.previous_elapsed = elapsed;

        let percent = match (self.total_requests, self.test_time) {
            (Some(total), _) if total > 0 => 100.0 * ops as f64 / total as f64,
            (_, Some(time)) => (100.0 * seconds / time.as_secs_f64()).min(100.0),
            _ => 0.0,
        };
        let errors_text = if errors > 0 {
            format!(" {errors} conn errors")
        } else {
            String::new()
        };
        let line = format!(
            "[RUN #{} {:.0}%, {:>3} secs] {:>2} threads {:>2} conns{}: {:>11} ops, {:>7} (avg: {:>7}) ops/sec, {}/sec (avg: {}/sec), {:>5.2} (avg: {:>5.2}) msec latency\r",
            self.run_id,
            percent,
            elapsed.as_secs(),
            active,
            self.clients,
            errors_text,
            ops,
            self.current_ops_sec,
            ops_sec as u64,
            size_text(self.current_bytes_sec),
            size_text(bytes_sec as u64),
            self.current_latency_ms,
            latency_ms,
        );
        let mut stderr = std::io::stderr();
        let _ = stderr.write_all(line.as_bytes());
        let _ = stderr.flush();
    }
}

/// memtier's size_to_str: KB, MB or GB with two decimals.
pub fn size_text(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let value = bytes as f64;
    if value >= KB * KB * KB {
        format!("{:.2}GB", value / (KB * KB * KB))
    } else if value >= KB * KB {
        format!("{:.2}MB", value / (KB * KB))
    } else {
        format!("{:.2}KB", value / KB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_text_uses_memtiers_units() {
        assert_eq!(size_text(512), "0.50KB");
        assert_eq!(size_text(3 * 1024 * 1024 / 2), "1.50MB");
        assert_eq!(size_text(2 * 1024 * 1024 * 1024), "2.00GB");
    }

    #[test]
    fn ring_holds_every_clients_operations() {
        assert_eq!(ring_entries(1), 256);
        assert_eq!(ring_entries(1000), 4096);
        assert_eq!(ring_entries(1_000_000), 32_768);
    }
}
