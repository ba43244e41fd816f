//! Training yields to serving between epochs.
//!
//! Training threads already run in Linux's `SCHED_IDLE` class, but on a machine whose
//! cores are all busy with requests they still fill every short gap, and a request
//! whose worker wakes up in such a gap waits behind them: on 2 cores predict p99 went
//! to 2.6x idle while a job trained (bench/RESULTS.md). So between epochs the job
//! thread looks at how busy the runtime's workers have been (tokio's own per-worker
//! busy time, which costs the request path nothing) and, while request handling keeps
//! more than `[training] pause_when_serving_cores` cores busy, sleeps in short steps.
//! Each pause is bounded, so a job under constant load still makes progress.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One sleep between two looks at the workers.
const STEP: Duration = Duration::from_millis(1);

/// A pause lasts at most this many times the compute time of the epoch before it, so
/// training keeps about a tenth of what it would get...
const PAUSE_PER_COMPUTE: u32 = 9;

/// ...and at least [`MIN_PAUSE`] and at most [`MAX_PAUSE`].
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
    /// The last look: when, and the workers' busy time then.
    last: Option<(Instant, Duration)>,
    /// When the current epoch's compute began (the end of the last pause).
    computing_since: Instant,
}

impl Pacer {
    pub fn new(threshold_cores: f64, busy: BusySource) -> Self {
        Self {
            threshold_cores,
            busy,
            last: None,
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
        let limit = (compute * PAUSE_PER_COMPUTE).clamp(MIN_PAUSE, MAX_PAUSE);
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

    /// Whether the workers were busy for more than the threshold since the last look.
    /// The first look only takes a reading; so does a look under one step after the
    /// last, which keeps the verdict (tokio publishes busy time in batches).
    fn serving_is_busy(&mut self) -> bool {
        let Some(busy) = (self.busy)() else {
            return false;
        };
        let now = Instant::now();
        let Some((then, busy_then)) = self.last else {
            self.last = Some((now, busy));
            return false;
        };
        let wall = now.duration_since(then);
        if wall < STEP {
            return false;
        }
        self.last = Some((now, busy));
        busy.saturating_sub(busy_then).as_secs_f64() / wall.as_secs_f64() > self.threshold_cores
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A source whose busy time grows by `cores` times the wall time since it was made.
    fn busy_at(cores: Arc<Mutex<f64>>) -> BusySource {
        let start = Instant::now();
        let mut total = Duration::ZERO;
        let mut last = start;
        Box::new(move || {
            let now = Instant::now();
            total += now.duration_since(last).mul_f64(*cores.lock().unwrap());
            last = now;
            Some(total)
        })
    }

    fn pacer(cores: f64, threshold: f64) -> (Pacer, Arc<Mutex<f64>>) {
        let load = Arc::new(Mutex::new(cores));
        let mut p = Pacer::new(threshold, busy_at(load.clone()));
        // A first reading, as the first epoch's end would take.
        p.serving_is_busy();
        std::thread::sleep(STEP * 2);
        (p, load)
    }

    #[test]
    fn an_idle_server_costs_training_no_pause() {
        let (mut p, _) = pacer(0.0, 0.25);
        let cancel = AtomicBool::new(false);
        for _ in 0..5 {
            assert_eq!(p.between_epochs(&cancel), 0);
            std::thread::sleep(STEP * 2);
        }
    }

    #[test]
    fn a_busy_server_pauses_training_within_the_bound() {
        let (mut p, _) = pacer(1.8, 0.25);
        let cancel = AtomicBool::new(false);
        let steps = p.between_epochs(&cancel);
        // At least one step; never more than the longest pause allows.
        assert!(steps >= 1, "{steps}");
        assert!(
            steps <= (MAX_PAUSE.as_millis() / STEP.as_millis()) as u32,
            "{steps}"
        );
    }

    #[test]
    fn the_pause_ends_when_serving_quiets_down_or_the_job_is_cancelled() {
        let (mut p, load) = pacer(1.8, 0.25);
        let cancel = AtomicBool::new(true);
        assert_eq!(p.between_epochs(&cancel), 0);
        cancel.store(false, Ordering::Relaxed);
        *load.lock().unwrap() = 0.1;
        std::thread::sleep(STEP * 2);
        assert_eq!(p.between_epochs(&cancel), 0);
    }

    #[test]
    fn a_zero_threshold_or_no_runtime_never_pauses() {
        let (mut off, _) = pacer(2.0, 0.0);
        let cancel = AtomicBool::new(false);
        assert_eq!(off.between_epochs(&cancel), 0);
        // Outside a runtime there is no busy time to read.
        let mut none = Pacer::new(0.25, runtime_busy());
        none.serving_is_busy();
        std::thread::sleep(STEP * 2);
        assert_eq!(none.between_epochs(&cancel), 0);
    }
}
