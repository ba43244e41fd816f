//! The per-version gauges, set at scrape time from the registry snapshot (model info,
//! train and validation quality) and the monitor (online quality, drift), so neither the
//! registry nor the monitor pushes metrics and unloaded versions disappear on their own.

use crate::metrics::Metrics;
use crate::monitor::Monitor;
use crate::registry::Snapshot;

pub fn refresh(snapshot: &Snapshot, monitor: &Monitor, metrics: &Metrics) {
    metrics.reset_version_gauges();
    metrics.retain_versions(|name, version| {
        let version = version.parse::<u64>().ok();
        snapshot
            .models
            .get(name)
            .is_some_and(|m| version.is_some_and(|v| m.versions.contains_key(&v)))
    });
    for (name, model) in &snapshot.models {
        for (version, entry) in &model.versions {
            let v = version.to_string();
            if entry.model().is_some() {
                metrics
                    .model_info
                    .with_label_values(&[name.as_str(), &v, &entry.family()])
                    .set(1.0);
            }
            if let Some(bytes) = entry.size_bytes() {
                metrics
                    .model_size
                    .with_label_values(&[name.as_str(), &v])
                    .set(bytes as f64);
            }
            let Some(meta) = &entry.meta else { continue };
            for (split, values) in &meta.metrics {
                metrics.set_quality(name, &v, split, values);
            }
        }
    }
    for tracked in monitor.tracked() {
        let loaded = snapshot
            .models
            .get(tracked.name())
            .is_some_and(|m| m.versions.contains_key(&tracked.version()));
        if !loaded {
            continue;
        }
        let report = monitor.report(&tracked);
        let (name, v) = (tracked.name(), tracked.version().to_string());
        if let Some(online) = &report.online {
            metrics.set_quality(name, &v, "online", online);
        }
        let Some(drift) = &report.drift else { continue };
        if drift.window_rows >= drift.min_rows {
            for f in &drift.features {
                metrics
                    .feature_drift
                    .with_label_values(&[name, &v, &f.feature])
                    .set(f.psi);
            }
        }
    }
}
