//! How answers are shown: aligned tables for people, the server's JSON (re-encoded from
//! the same types) for scripts with `--json`.

use std::fmt::Write as _;

use modeld::api::models::{ModelList, VersionList, VersionSummary};
use modeld::api::predict::{PredictResponse, Predictions};
use modeld::jobs::JobView;
use serde::Serialize;

use crate::client::CliError;

/// Prints `value` as pretty JSON on stdout.
pub fn json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Failed(format!("cannot encode the output: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Left-aligned columns, two spaces apart, widths from the widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (cell, &w) in cells.zip(&widths) {
            let _ = write!(text, "{cell:<w$}  ");
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn number(v: f64) -> String {
    format!("{v:.4}")
}

pub fn models(list: &ModelList) -> String {
    if list.models.is_empty() {
        return "no models\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .models
        .iter()
        .map(|m| {
            let versions: Vec<String> = m.versions.iter().map(u64::to_string).collect();
            let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
            vec![
                m.name.clone(),
                versions.join(","),
                or_dash((!aliases.is_empty()).then(|| aliases.join(","))),
                or_dash(m.default_version),
            ]
        })
        .collect();
    table(&["MODEL", "VERSIONS", "ALIASES", "DEFAULT"], &rows)
}

/// The validation metric the runs table leads with: accuracy for classifiers, R² for
/// regressors, as `name=value`.
fn headline_metric(v: &VersionSummary) -> String {
    let split = v
        .metrics
        .get("validation")
        .or_else(|| v.metrics.get("train"));
    split
        .and_then(|m| {
            ["accuracy", "r2"]
                .iter()
                .find_map(|k| m.get(*k).map(|x| format!("{k}={}", number(*x))))
        })
        .unwrap_or_else(|| "-".into())
}

pub fn versions(list: &VersionList) -> String {
    if list.versions.is_empty() {
        return format!("{} has no versions\n", list.model);
    }
    let rows: Vec<Vec<String>> = list
        .versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.status.clone(),
                v.family.clone(),
                or_dash(
                    v.created_at
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                ),
                or_dash((!v.aliases.is_empty()).then(|| v.aliases.join(","))),
                headline_metric(v),
            ]
        })
        .collect();
    table(
        &[
            "VERSION",
            "STATUS",
            "FAMILY",
            "CREATED",
            "ALIASES",
            "VALIDATION",
        ],
        &rows,
    )
}

pub fn jobs(list: &[JobView]) -> String {
    if list.is_empty() {
        return "no jobs\n".into();
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|j| {
            vec![
                j.job_id.clone(),
                j.model.clone(),
                j.algorithm.clone(),
                j.state.as_str().to_string(),
                format!("{:.0}%", j.progress * 100.0),
                j.epoch.to_string(),
                or_dash(j.loss.map(number)),
                or_dash(j.version),
            ]
        })
        .collect();
    table(
        &[
            "JOB",
            "MODEL",
            "ALGORITHM",
            "STATE",
            "PROGRESS",
            "EPOCH",
            "LOSS",
            "VERSION",
        ],
        &rows,
    )
}

/// One line per row: the prediction (with its class label and probability for
/// classifiers).
pub fn predictions(res: &PredictResponse<'_>) -> String {
    let mut rows = Vec::new();
    match &res.predictions {
        Predictions::Values(values) => {
            for (i, v) in values.iter().enumerate() {
                rows.push(vec![i.to_string(), v.to_string()]);
            }
        }
        Predictions::Classes(classes) => {
            for (i, c) in classes.iter().enumerate() {
                let label = res
                    .classes
                    .as_ref()
                    .and_then(|names| names.get(*c))
                    .filter(|name| **name != c.to_string())
                    .map_or_else(|| c.to_string(), |name| format!("{c} ({name})"));
                let p = res
                    .probabilities
                    .as_ref()
                    .and_then(|p| p.get(i))
                    .and_then(|row| row.get(*c))
                    .copied();
                rows.push(vec![i.to_string(), label, or_dash(p.map(number))]);
            }
        }
    }
    let headers: &[&str] = match res.predictions {
        Predictions::Values(_) => &["ROW", "PREDICTION"],
        Predictions::Classes(_) => &["ROW", "PREDICTION", "PROBABILITY"],
    };
    format!(
        "{} version {}\n{}",
        res.model,
        res.version,
        table(headers, &rows)
    )
}

/// The end of a followed job in one or two lines.
pub fn job_summary(job: &JobView) -> String {
    let mut out = format!("job {} ({}) {}", job.job_id, job.model, job.state.as_str());
    if let Some(v) = job.version {
        let _ = write!(out, ": version {v}");
    }
    if job.epoch > 0 {
        let _ = write!(out, " after {} epochs", job.epoch);
    }
    if let Some(loss) = job.loss {
        let _ = write!(out, ", loss {}", number(loss));
    }
    if let Some(validation) = job.metrics.as_ref().and_then(|m| m.get("validation")) {
        let shown: Vec<String> = validation
            .iter()
            .map(|(k, v)| format!("{k}={}", number(*v)))
            .collect();
        let _ = write!(out, "\nvalidation: {}", shown.join(" "));
    }
    if let Some(r) = &job.report {
        let _ = write!(out, "\n{}", compression(r));
    }
    if let Some(e) = &job.error {
        let _ = write!(out, "\nerror: {e}");
    }
    out.push('\n');
    out
}

/// A compress job's report in three lines: verdict and quality, size, latency.
fn compression(r: &modeld::compress::Report) -> String {
    let verdict = if r.kept {
        "kept"
    } else {
        "refused by max_metric_drop"
    };
    let ratio = r.bytes_before as f64 / (r.bytes_after.max(1)) as f64;
    let (b, a) = (&r.latency_us.before, &r.latency_us.after);
    format!(
        "{} {verdict}: {} {} -> {} on {} held-out rows, agreement {}\n\
         size: {} -> {} bytes ({}x smaller), layers {}\n\
         p50 latency (us): batch 1 {} -> {}, batch 64 {} -> {}",
        r.method,
        r.metric,
        number(r.before),
        number(r.after),
        r.n_eval,
        number(r.agreement),
        r.bytes_before,
        r.bytes_after,
        number(ratio),
        r.layers.join(","),
        number(b.batch_1.p50),
        number(a.batch_1.p50),
        number(b.batch_64.p50),
        number(a.batch_64.p50),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_on_the_widest_cell() {
        let t = table(
            &["A", "LONG"],
            &[
                vec!["xyz".into(), "1".into()],
                vec!["q".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    LONG\nxyz  1\nq    22\n");
    }
}
