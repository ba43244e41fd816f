//! What serving keeps per loaded version, built on its first request and cached in the
//! registry entry's slot: the prediction metric handles (resolved once, not per
//! request), the batch worker of a batched family, and the monitoring state.

use std::sync::Arc;

use prometheus::{Histogram, IntCounter};

use super::batcher::Batcher;
use crate::config::BatchingConfig;
use crate::metrics::Metrics;
use crate::models::Model;
use crate::monitor::{Monitor, Tracked, VersionInfo};
use crate::registry::VersionEntry;

pub struct Served {
    pub predictions: IntCounter,
    pub duration: Histogram,
    /// `None` when the version's family is not batched.
    pub batcher: Option<Batcher>,
    pub tracked: Tracked,
}

/// What building a [`Served`] needs from the serving layer.
pub struct Deps<'a> {
    pub metrics: &'a Metrics,
    pub monitor: &'a Monitor,
    pub batching: &'a BatchingConfig,
}

/// The version's serving state, built on first use. `None` only if the slot holds
/// something else, which no other layer writes.
pub fn served<'e>(
    deps: &Deps<'_>,
    name: &str,
    entry: &'e VersionEntry,
    model: &Arc<dyn Model>,
) -> Option<&'e Served> {
    entry
        .cache
        .get_or_init(|| Box::new(build(deps, name, entry, model)))
        .downcast_ref::<Served>()
}

fn build(deps: &Deps<'_>, name: &str, entry: &VersionEntry, model: &Arc<dyn Model>) -> Served {
    let v = entry.version.to_string();
    let batcher = deps.batching.applies_to(model.family()).then(|| {
        let rows = deps.metrics.batch_rows.with_label_values(&[name, &v]);
        Batcher::spawn(model.clone(), deps.batching, rows)
    });
    let tracked = track(deps.monitor, name, entry, model);
    Served {
        predictions: deps.metrics.predictions.with_label_values(&[name, &v]),
        duration: deps
            .metrics
            .prediction_duration
            .with_label_values(&[name, &v]),
        batcher,
        tracked,
    }
}

/// The version's monitoring state (shared with its [`Served`] once that exists).
pub fn track(
    monitor: &Monitor,
    name: &str,
    entry: &VersionEntry,
    model: &Arc<dyn Model>,
) -> Tracked {
    monitor.track(VersionInfo {
        name,
        version: entry.version,
        n_classes: model.schema().classes.as_ref().map(Vec::len),
        profile: entry.meta.as_ref().and_then(|m| m.profile.as_ref()),
    })
}
