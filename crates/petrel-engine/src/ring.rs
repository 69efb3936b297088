//! Builds the runtimes the engine's threads run on: an io_uring ring set up
//! from a core's tuning, or epoll. When the kernel refuses a task-run mode it
//! does not know, the ring steps down to the next one and says so once, so a
//! config written for a newer kernel still starts on an older one.
//!
//! It sets rings up; it never moves bytes and holds no state afterwards.

use std::future::Future;
use std::io;

use tracing::{info, warn};

use crate::config::{CoreTuning, TaskRun};

/// Runs `future` to completion on a runtime for `tuning` on the calling
/// thread, which then owns the ring (a deferred-task-run ring may only be
/// entered by the thread that made it).
pub(crate) fn block_on<F: Future>(
    thread: &str,
    tuning: &CoreTuning,
    use_io_uring: bool,
    future: F,
) -> io::Result<F::Output> {
    if !use_io_uring {
        let mut runtime = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()?;
        return Ok(runtime.block_on(future));
    }
    let mut task_run = tuning.task_run;
    loop {
        let mut uring = io_uring::IoUring::builder();
        if tuning.sqpoll {
            uring.setup_sqpoll(tuning.sqpoll_idle_ms);
        }
        match task_run {
            TaskRun::Deferred => {
                uring.setup_single_issuer().setup_defer_taskrun();
            }
            TaskRun::Cooperative => {
                uring.setup_coop_taskrun();
            }
            TaskRun::Immediate => {}
        }
        let built = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .with_entries(tuning.ring_entries)
            .uring_builder(uring)
            .enable_timer()
            .build();
        match built {
            Ok(mut runtime) => {
                if task_run != tuning.task_run {
                    warn!(
                        thread,
                        asked = tuning.task_run.as_str(),
                        using = task_run.as_str(),
                        "the kernel refused the ring's task-run mode; using an older one"
                    );
                } else {
                    info!(thread, task_run = task_run.as_str(), "io_uring ring ready");
                }
                return Ok(runtime.block_on(future));
            }
            // io_uring_setup answers EINVAL to flags it does not know.
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => match task_run.fallback() {
                Some(next) => task_run = next,
                None => return Err(error),
            },
            Err(error) => return Err(error),
        }
    }
}
