//! Training yields to serving between epochs.
//!
//! Training threads already run in Linux's `SCHED_IDLE` class, but on a machine whose
//! cores are all busy with requests they still fill every short gap, and a request
//! whose worker wakes up in such a gap waits behind them: on 2 cores predict p99 went
//! to 2.6x idle while a job trained (bench/RESULTS.md). So between epochs the job
//! thread looks at how busy the runtime's workers have been (tokio's own per-worker
//! busy time, which costs the request path nothing) and, while request handling keeps
//! more than `[training] pause_when_serving_cores` cores busy, sleeps in short steps.
//! Each pause is bounded, so a job under constant load still makes progress. Only the
//! async workers count: work the request path hands to the blocking pool (large
//! predictions, store I/O) does not.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One sleep between two looks at the workers.
const STEP: Duration = Duration::from_millis(1);

/// Busy time is judged over at least this long: tokio publishes a worker's busy time in
/// batches (when it parks, or every few dozen scheduler ticks), so a shorter window can
/// see none on a saturated worker.
const WINDOW: Duration = Duration::from_millis(5);

/// A pause lasts at most this many times the compute time of the epoch before it, so
/// training keeps about a tenth of what it would get, but never less than [`MIN_PAUSE`]
/// (short epochs pause longer than that ratio) nor more than [`MAX_PAUSE`].
const PAUSE_PER_COMPUTE: u32 = 9;

const MIN_PAUSE: Duration = Duration::from_millis(5);
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// Total busy time of the runtime's workers so far, or `None` when it cannot be known
/// (no runtime): then training never pauses.
pub type BusySource = Box<dyn FnMut() -> Option<Duration> + Send>;

/// Busy time of the current tokio runtime's workers; call on a runtime thread.
pub fn runtime_busy() -> BusySource {
    let handle = tokio::runtime::Handle::try_current().ok();
    Box::new(move || {
        let metrics = handle.as_ref()?.metrics();
        Some(
            (0..metrics.num_workers())
                .map(|w| metrics.worker_total_busy_duration(w))
                .sum(),
        )
    })
}

pub struct Pacer {
    /// Cores of request work above which training pauses; 0 turns pacing off.
    threshold_cores: f64,
    busy: BusySource,
    /// The last judged window's end: when, and the workers' busy time then.
    last: Option<(Instant, Duration)>,
    /// Whether that window was busy; kept until the next window is complete.
    verdict: bool,
    /// When the current epoch's compute began (the end of the last pause).
    computing_since: Instant,
}

impl Pacer {
    pub fn new(threshold_cores: f64, busy: BusySource) -> Self {
        Self {
            threshold_cores,
            busy,
            last: None,
            verdict: false,
            computing_since: Instant::now(),
        }
    }

    /// Called between epochs: sleeps while serving is busy, within the bounds above, or
    /// until `cancel` is set. Returns the steps slept.
    pub fn between_epochs(&mut self, cancel: &AtomicBool) -> u32 {
        if self.threshold_cores <= 0.0 {
            return 0;
        }
        let compute = self.computing_since.elapsed();
        let limit = compute
            .saturating_mul(PAUSE_PER_COMPUTE)
            .clamp(MIN_PAUSE, MAX_PAUSE);
        let paused = Instant::now();
        let mut steps = 0;
        while self.serving_is_busy() && !cancel.load(Ordering::Relaxed) {
            if paused.elapsed() >= limit {
                break;
            }
            std::thread::sleep(STEP);
            steps += 1;
        }
        self.computing_since = Instant::now();
        steps
    }

    /// Whether the workers were busy for more than the threshold over the last complete
    /// window of at least [`WINDOW`]. The first look only starts a window (not busy); a
    /// look before the window is complete gives the last window's verdict.
    fn serving_is_busy(&mut self) -> bool {
        let now = Instant::now();
        if let Some((then, _)) = self.last {
            if now.duration_since(then) < WINDOW {
                return self.verdict;
            }
        }
        let Some(busy) = (self.busy)() else {
            return false;
        };
        if let Some((then, busy_then)) = self.last {
            let wall = now.duration_since(then).as_secs_f64();
            let cores = busy.saturating_sub(busy_then).as_secs_f64() / wall;
            self.verdict = cores > self.threshold_cores;
        }
        self.last = Some((now, busy));
        self.verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source whose busy time grows by `cores` per second of wall time until `until`,
    /// and not at all after it.
    fn busy_until(cores: f64, until: Instant) -> BusySource {
        let start = Instant::now();
        Box::new(move || {
            let busy_for = Instant::now().min(until).saturating_duration_since(start);
            Some(busy_for.mul_f64(cores))
        })
    }

    /// A pacer whose first window has started and whose current epoch has computed for
    /// `compute`.
    fn pacer(threshold: f64, busy: BusySource, compute: Duration) -> Pacer {
        let mut p = Pacer::new(threshold, busy);
        p.serving_is_busy();
        std::thread::sleep(WINDOW);
        p.computing_since = Instant::now() - compute;
        p
    }

    fn forever() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[test]
    fn an_idle_server_costs_training_no_pause() {
        let mut p = pacer(0.25, busy_until(0.0, forever()), Duration::ZERO);
        let cancel = AtomicBool::new(false);
        for _ in 0..3 {
            assert_eq!(p.between_epochs(&cancel), 0);
            std::thread::sleep(WINDOW);
        }
    }

    #[test]
    fn under_constant_load_a_pause_lasts_nine_times_the_epoch_at_most() {
        // 1 ms of compute allows 9 ms of pause: each step sleeps at least 1 ms and the
        // last one starts before 9 ms have passed, so 10 steps at most.
        let compute = Duration::from_millis(1);
        let mut p = pacer(0.25, busy_until(1.8, forever()), compute);
        let steps = p.between_epochs(&AtomicBool::new(false));
        assert!((1..=10).contains(&steps), "{steps}");
    }

    #[test]
    fn a_pause_ends_when_serving_quiets_down() {
        // Busy for 20 ms more, then idle, while the pause could last 200 ms.
        let quiet_at = Instant::now() + WINDOW + Duration::from_millis(20);
        let mut p = pacer(0.25, busy_until(1.8, quiet_at), Duration::from_secs(1));
        let steps = p.between_epochs(&AtomicBool::new(false));
        assert!(steps >= 1, "{steps}");
        assert!(Instant::now() >= quiet_at);
        // Ended by the quiet windows after `quiet_at`, well before the 200-step bound.
        assert!(steps < 150, "{steps}");
    }

    #[test]
    fn a_cancelled_job_does_not_pause() {
        let mut p = pacer(0.25, busy_until(1.8, forever()), Duration::from_secs(1));
        assert_eq!(p.between_epochs(&AtomicBool::new(true)), 0);
    }

    #[test]
    fn a_zero_threshold_or_no_runtime_never_pauses() {
        let cancel = AtomicBool::new(false);
        let mut off = pacer(0.0, busy_until(2.0, forever()), Duration::from_secs(1));
        assert_eq!(off.between_epochs(&cancel), 0);
        // Outside a runtime there is no busy time to read.
        let mut none = pacer(0.25, runtime_busy(), Duration::from_secs(1));
        assert_eq!(none.between_epochs(&cancel), 0);
    }
}
