//! Following a job until it ends: polls `GET /v1/jobs/{id}`, draws a progress bar on a
//! terminal (epoch/epochs, loss, validation metric, ETA), and on Ctrl-C asks whether to
//! cancel the job (`DELETE /v1/jobs/{id}`) rather than just leaving it running unseen.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use modeld::jobs::{JobState, JobView};
use reqwest::Method;

use crate::client::{encode, CliError, Client, NO_BODY};
use crate::output;

/// How often the job is polled; the bar's own redraw rate is indicatif's.
const POLL: Duration = Duration::from_millis(200);

/// Follows `job_id` to its end and prints the outcome (JSON with `json`). A job that
/// fails or is cancelled is an error (exit 1): no version came of it.
pub async fn follow(client: &Client, job_id: &str, json: bool) -> Result<JobView, CliError> {
    let show_bar = !json && std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let bar = if show_bar {
        new_bar()
    } else {
        ProgressBar::hidden()
    };
    let path = format!("/v1/jobs/{}", encode(job_id));
    // Installed before the first draw: a Ctrl-C that arrives once the bar shows must
    // reach the question, not the default handler that kills the process.
    let mut interrupts = Interrupts::install()?;
    let job = loop {
        let job: JobView = client.get(&path).await?;
        draw(&bar, &job);
        if job.state.is_finished() {
            break job;
        }
        let interrupted = tokio::select! {
            _ = tokio::time::sleep(POLL) => false,
            _ = interrupts.next() => true,
        };
        if interrupted && ask_or_interrupt(&bar, job_id, &mut interrupts).await? {
            client.send(Method::DELETE, &path, NO_BODY).await?;
            bar.println(format!("cancelling job {job_id}"));
        }
    };
    bar.finish_and_clear();
    if json {
        output::json(&job)?;
    } else {
        print!("{}", output::job_summary(&job));
    }
    match job.state {
        JobState::Succeeded => Ok(job),
        state => Err(CliError::Failed(format!(
            "job {job_id} {}{}",
            state.as_str(),
            job.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ))),
    }
}

/// Ctrl-C as a stream: every press is seen, from the moment of installation.
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    #[cfg(unix)]
    fn install() -> Result<Self, CliError> {
        let kind = tokio::signal::unix::SignalKind::interrupt();
        let signal = tokio::signal::unix::signal(kind)
            .map_err(|e| CliError::Failed(format!("cannot watch for Ctrl-C: {e}")))?;
        Ok(Self { signal })
    }

    #[cfg(unix)]
    async fn next(&mut self) {
        if self.signal.recv().await.is_none() {
            // The runtime is shutting down; no press can come any more.
            std::future::pending::<()>().await;
        }
    }

    #[cfg(not(unix))]
    fn install() -> Result<Self, CliError> {
        Ok(Self {})
    }

    #[cfg(not(unix))]
    async fn next(&mut self) {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn new_bar() -> ProgressBar {
    // The real length is known once the first epoch reports progress (see `draw`).
    let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
    // The bar takes what the text leaves of the line: a wrapped line redraws badly.
    let style =
        ProgressStyle::with_template("{prefix} epoch {pos}/{len} {msg} ETA {eta} [{wide_bar}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

fn draw(bar: &ProgressBar, job: &JobView) {
    bar.set_prefix(format!("{} {}", job.model, job.state.as_str()));
    if job.epoch > 0 && job.progress > 0.0 {
        // Progress is epoch / epochs while fitting; the total follows from it.
        let total = (job.epoch as f64 / job.progress).round() as u64;
        bar.set_length(total.max(job.epoch as u64));
    }
    bar.set_position(job.epoch as u64);
    let mut msg = String::new();
    if let Some(loss) = job.loss {
        msg.push_str(&format!("loss {loss:.4}"));
    }
    if let Some(metric) = job.history.last().and_then(|r| r.validation_metric) {
        let name = if is_classifier(&job.algorithm) {
            "val acc"
        } else {
            "val R²"
        };
        msg.push_str(&format!(" {name} {metric:.4}"));
    }
    bar.set_message(msg);
}

fn is_classifier(algorithm: &str) -> bool {
    ["classifier", "logistic", "softmax"]
        .iter()
        .any(|k| algorithm.contains(k))
}

/// Asks whether to cancel, on a blocking thread so that a second Ctrl-C, while the
/// question waits, still ends modelctl (leaving the job running). The thread left reading
/// the terminal cannot hold the exit: main shuts the runtime down without waiting for it.
async fn ask_or_interrupt(
    bar: &ProgressBar,
    job_id: &str,
    interrupts: &mut Interrupts,
) -> Result<bool, CliError> {
    let (question_bar, id) = (bar.clone(), job_id.to_string());
    let asked = tokio::task::spawn_blocking(move || question_bar.suspend(|| ask_to_cancel(&id)));
    tokio::select! {
        answer = asked => answer
            .map_err(|e| CliError::Failed(format!("cannot ask about job {job_id}: {e}")))?,
        _ = interrupts.next() => {
            eprintln!();
            Err(CliError::Failed(format!(
                "interrupted; job {job_id} keeps running (modelctl watch {job_id} follows it)"
            )))
        }
    }
}

/// Asks on the terminal; anything but y/yes keeps the job. Without a terminal to ask on,
/// Ctrl-C leaves the job running and says how to find it again.
fn ask_to_cancel(job_id: &str) -> Result<bool, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(CliError::Failed(format!(
            "interrupted; job {job_id} keeps running (modelctl watch {job_id} follows it)"
        )));
    }
    eprint!("cancel job {job_id}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    // EOF or a read error count as "no": the job is only cancelled when asked to be.
    let _ = stdin.lock().read_line(&mut answer);
    let yes = matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        eprintln!("job {job_id} keeps running");
    }
    Ok(yes)
}
