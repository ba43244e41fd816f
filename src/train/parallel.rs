//! Training's own worker threads (`[training] threads`): one rayon pool, built once and
//! shared by every job, so training never takes more cores than configured; on Linux
//! they run in the idle scheduling class, so the HTTP server's threads come first.
//!
//! Work is split into fixed-size row chunks whose partial results are combined
//! in chunk order, so a fit gives bit-identical results for any thread count.

use std::sync::Arc;

use rayon::prelude::*;

/// Rows per chunk of [`Threads::map_chunks`]: 2048 rows × 20 features plus
/// per-chunk scratch stay inside a 1 MiB L2.
pub const CHUNK_ROWS: usize = 2048;

/// Nice value of every training thread where `SCHED_IDLE` is refused: under the fair
/// scheduler a thread at nice 10 gets about a tenth of a core that a nice-0 request
/// handler also wants.
pub const TRAINING_NICE: i32 = 10;

/// Puts the calling thread in Linux's `SCHED_IDLE` class, falling back to
/// [`TRAINING_NICE`]. An idle-class thread runs on time no request handler wants, and a
/// handler that wakes preempts it at once; at nice 10 the handler could wait out the
/// trainer's time slice, which measured p99 at 2.6× idle under a running job
/// (bench/RESULTS.md, "predict under training"). The cost: on a saturated server a job
/// progresses slowly until load drops. Only ever called on threads that do nothing but
/// train, since a thread cannot leave the idle class without CAP_SYS_NICE. Best effort:
/// a refusal of both leaves the thread at normal priority.
pub fn background_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid, sched_setscheduler and setpriority take plain integers and a
    // pointer to a parameter block that lives on this stack frame; on Linux scheduling
    // policy and nice value are per thread, so only the calling thread is affected.
    unsafe {
        let tid = libc::gettid();
        let param = libc::sched_param { sched_priority: 0 };
        if libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) == 0 {
            return;
        }
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, TRAINING_NICE) != 0 {
            tracing::debug!("could not lower the training thread's priority");
        }
    }
}

/// Starts rayon's global pool (the CSV parser's) from the calling thread, at its priority.
/// Threads inherit their creator's scheduling class, so a pool first used by a job's
/// training thread would run at idle priority, and a request parsing a file on it would
/// then wait for every busy core. Later calls, and a pool already started, change nothing.
pub fn start_parse_pool() {
    let started = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("modeld-parse-{i}"))
        .build_global();
    if let Err(e) = started {
        tracing::debug!(error = %e, "the parse pool was already running");
    }
}

/// Where chunked training work runs: on the calling thread, or on a pool.
#[derive(Clone, Default)]
pub struct Threads {
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl std::fmt::Debug for Threads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Threads({})", self.count())
    }
}

impl Threads {
    /// Everything on the calling thread.
    pub fn sequential() -> Threads {
        Threads { pool: None }
    }

    /// `threads` workers; 0 = every core the process may use ([`auto_threads`]). 1
    /// needs no pool.
    pub fn new(threads: usize) -> Result<Threads, String> {
        let n = match threads {
            0 => auto_threads(),
            n => n,
        };
        if n == 1 {
            return Ok(Threads::sequential());
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("modeld-train-{i}"))
            .start_handler(|_| background_priority())
            .build()
            .map_err(|e| format!("could not start {n} training threads: {e}"))?;
        Ok(Threads {
            pool: Some(Arc::new(pool)),
        })
    }

    /// Number of threads that run chunked work.
    pub fn count(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    /// `f(scratch, c)` for c in 0..n_chunks, results in chunk order. `init`
    /// makes the per-worker scratch (reused across that worker's chunks).
    pub fn map_chunks<S, T, I, F>(&self, n_chunks: usize, init: I, f: F) -> Vec<T>
    where
        T: Send,
        I: Fn() -> S + Sync + Send,
        F: Fn(&mut S, usize) -> T + Sync + Send,
    {
        match &self.pool {
            None => {
                let mut scratch = init();
                (0..n_chunks).map(|c| f(&mut scratch, c)).collect()
            }
            Some(pool) => pool.install(|| {
                (0..n_chunks)
                    .into_par_iter()
                    .map_init(&init, |s, c| f(s, c))
                    .collect()
            }),
        }
    }
}

/// On Linux every core the process may use. Training threads run in the idle scheduling
/// class there ([`background_priority`]), so a request handler that wakes takes a core
/// from them at once: with two training threads on a 2-core box, the p99 of one-row
/// predicts under a running Newton job was 1.22–1.33× idle, against 1.10–1.47× with
/// one, at about the same req/s (bench/RESULTS.md, session 20). Half the cores, as before, left
/// a core idle between requests and a repeated Newton fit a quarter slower. Elsewhere,
/// where the idle class is not set, half the cores (at least 1), leaving the rest to
/// requests.
pub fn auto_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cfg!(target_os = "linux") {
        cores
    } else {
        (cores / 2).max(1)
    }
}

/// Number of [`CHUNK_ROWS`] chunks covering `n` rows.
pub fn n_chunks(n: usize) -> usize {
    n.div_ceil(CHUNK_ROWS)
}

/// Row range of chunk `c` of `n` rows.
pub fn chunk_range(c: usize, n: usize) -> std::ops::Range<usize> {
    let start = (c * CHUNK_ROWS).min(n);
    start..(start + CHUNK_ROWS).min(n)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn training_threads_yield_to_request_handlers() {
        let (policy, nice) = std::thread::spawn(|| {
            super::background_priority();
            // SAFETY: plain integer calls about the calling thread.
            unsafe {
                let tid = libc::gettid();
                (
                    libc::sched_getscheduler(tid),
                    libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t),
                )
            }
        })
        .join()
        .unwrap();
        assert!(
            policy == libc::SCHED_IDLE || nice >= super::TRAINING_NICE,
            "policy {policy}, nice {nice}"
        );
        // The thread that asked is a training thread; this one keeps its priority.
        // SAFETY: as above.
        let here = unsafe { libc::sched_getscheduler(libc::gettid()) };
        assert_eq!(here, libc::SCHED_OTHER);
    }
}
