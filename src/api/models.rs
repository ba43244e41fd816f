//! The registry over HTTP: list and inspect models and versions (the runs table), move
//! aliases, delete versions and reload from the store.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{blocking, AppJson, AppPath, AppQuery};
use crate::api::error::{ApiError, ErrorBody};
use crate::registry::meta::CompressedFrom;
use crate::registry::{ModelEntry, Provenance, VersionEntry, VersionState};
use crate::state::AppState;
use crate::train::curve::{self, CurveSummary};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(get_model))
        .routes(routes!(list_versions))
        .routes(routes!(get_version, delete_version))
        .routes(routes!(set_alias, delete_alias))
        .routes(routes!(reload_model))
        .routes(routes!(reload_all))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ModelSummary {
    pub name: String,
    pub versions: Vec<u64>,
    pub aliases: BTreeMap<String, u64>,
    pub default_version: Option<u64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<ModelSummary>,
}

/// One version as the runs table shows it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct VersionSummary {
    pub version: u64,
    /// `ready` or `failed`.
    pub status: String,
    /// Why a failed version could not be loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub family: String,
    pub created_at: Option<DateTime<Utc>>,
    pub aliases: Vec<String>,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    #[schema(value_type = Object)]
    pub metrics: BTreeMap<String, BTreeMap<String, f64>>,
    #[schema(value_type = Option<Object>)]
    pub schema: Option<crate::models::Schema>,
    pub n_parameters: usize,
    /// The learning curve's last and best values, for versions modeld trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve: Option<CurveSummary>,
    /// Bytes the store holds for the version (as the `modeld_model_size_bytes` gauge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    /// The version it was compressed from, for quantized, pruned and distilled versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compressed_from: Option<CompressedFrom>,
    /// What that compression measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<crate::compress::Report>,
}

#[derive(Serialize, ToSchema)]
pub struct ModelDetail {
    pub name: String,
    pub default_version: Option<u64>,
    pub aliases: BTreeMap<String, u64>,
    pub versions: Vec<VersionSummary>,
    /// Problems reading the model folder that are not tied to one version.
    pub problems: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub model: String,
    /// How the version was trained, when modeld trained it.
    pub training: Option<Provenance>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    pub model: String,
    pub versions: Vec<VersionSummary>,
}

fn summarize(model: &ModelEntry) -> ModelSummary {
    ModelSummary {
        name: model.name.clone(),
        versions: model.versions.keys().copied().collect(),
        aliases: model.aliases.clone(),
        default_version: model.default_version(),
    }
}

fn version_summary(model: &ModelEntry, v: &VersionEntry) -> VersionSummary {
    let meta = v.meta.as_ref();
    VersionSummary {
        version: v.version,
        status: v.status().to_string(),
        error: match &v.state {
            VersionState::Failed(reason) => Some(reason.clone()),
            VersionState::Ready(_) => None,
        },
        family: v.family(),
        created_at: meta.map(|m| m.created_at),
        aliases: model.aliases_of(v.version),
        params: meta.map(|m| m.params.clone()).unwrap_or_default(),
        metrics: meta.map(|m| m.metrics.clone()).unwrap_or_default(),
        schema: v
            .model()
            .map(|m| m.schema().clone())
            .or_else(|| meta.map(|m| m.schema.clone())),
        n_parameters: v.model().map(|m| m.n_parameters()).unwrap_or(0),
        curve: meta
            .and_then(|m| m.training.as_ref())
            .and_then(|t| curve::summarize(&t.history)),
        size_bytes: v.size_bytes(),
        compressed_from: meta.and_then(|m| m.compressed_from.clone()),
        compression: meta.and_then(|m| m.compression.clone()),
    }
}

fn detail(model: &ModelEntry) -> ModelDetail {
    ModelDetail {
        name: model.name.clone(),
        default_version: model.default_version(),
        aliases: model.aliases.clone(),
        versions: model
            .versions
            .values()
            .map(|v| version_summary(model, v))
            .collect(),
        problems: model.problems.clone(),
    }
}

fn find_version(model: &ModelEntry, version: u64) -> Result<&Arc<VersionEntry>, ApiError> {
    model.versions.get(&version).ok_or_else(|| {
        ApiError::NotFound(format!("model '{}' has no version {version}", model.name))
    })
}

/// Every model with its versions, aliases and default version.
#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses((status = 200, body = ModelList)))]
pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    let snap = state.registry.snapshot();
    Json(ModelList {
        models: snap.models.values().map(|m| summarize(m)).collect(),
    })
}

/// One model: each version with status, family, schema, metrics, created_at and aliases.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "models",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelDetail), (status = 404, body = ErrorBody)))]
pub async fn get_model(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<ModelDetail>, ApiError> {
    let snap = state.registry.snapshot();
    Ok(Json(detail(snap.model(&name)?)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// Sort key: `version`, `created_at`, or `<split>.<metric>` such as `validation.accuracy`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
    /// Only versions of this family, e.g. `linear_regression`.
    pub family: Option<String>,
    /// Only versions with this status: `ready` or `failed`.
    pub status: Option<String>,
}

/// The runs table: every version's params and metrics, sortable by any metric.
#[utoipa::path(get, path = "/v1/models/{name}/versions", tag = "models",
    params(("name" = String, Path, description = "Model name"), RunsQuery),
    responses((status = 200, body = VersionList), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list_versions(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
    AppQuery(q): AppQuery<RunsQuery>,
) -> Result<Json<VersionList>, ApiError> {
    let snap = state.registry.snapshot();
    let model = snap.model(&name)?;
    let mut rows: Vec<VersionSummary> = model
        .versions
        .values()
        .map(|v| version_summary(model, v))
        .filter(|v| q.family.as_deref().is_none_or(|f| v.family == f))
        .filter(|v| q.status.as_deref().is_none_or(|s| v.status == s))
        .collect();
    let descending = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "order must be 'asc' or 'desc', not '{other}'"
            )))
        }
    };
    if let Some(key) = q.sort.as_deref() {
        let key_of = sort_key(key)?;
        // Versions without the metric sort last in either direction.
        rows.sort_by(|a, b| {
            let (ka, kb) = (key_of(a), key_of(b));
            match (ka, kb) {
                (Some(x), Some(y)) => {
                    let o = x.total_cmp(&y);
                    if descending {
                        o.reverse()
                    } else {
                        o
                    }
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.version.cmp(&b.version),
            }
        });
    } else if descending {
        rows.reverse();
    }
    Ok(Json(VersionList {
        model: name,
        versions: rows,
    }))
}

type KeyFn = Box<dyn Fn(&VersionSummary) -> Option<f64>>;

fn sort_key(key: &str) -> Result<KeyFn, ApiError> {
    match key {
        "version" => Ok(Box::new(|v| Some(v.version as f64))),
        "created_at" => Ok(Box::new(|v| {
            v.created_at.map(|t| t.timestamp_millis() as f64)
        })),
        _ => match key.split_once('.') {
            Some((split, metric)) if !split.is_empty() && !metric.is_empty() => {
                let (split, metric) = (split.to_string(), metric.to_string());
                Ok(Box::new(move |v| {
                    v.metrics.get(&split).and_then(|m| m.get(&metric)).copied()
                }))
            }
            _ => Err(ApiError::BadRequest(format!(
                "cannot sort by '{key}': use version, created_at or <split>.<metric> such as validation.accuracy"
            ))),
        },
    }
}

/// One version in full: params, metrics, schema and training provenance with its
/// learning curve.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}", tag = "models",
    params(("name" = String, Path, description = "Model name"),
        ("version" = u64, Path, description = "Version number")),
    responses((status = 200, body = VersionDetail), (status = 404, body = ErrorBody)))]
pub async fn get_version(
    State(state): State<AppState>,
    AppPath((name, version)): AppPath<(String, u64)>,
) -> Result<Json<VersionDetail>, ApiError> {
    let snap = state.registry.snapshot();
    let model = snap.model(&name)?;
    let v = find_version(model, version)?;
    Ok(Json(VersionDetail {
        summary: version_summary(model, v),
        model: name,
        training: v.meta.as_ref().and_then(|m| m.training.clone()),
    }))
}

/// Deletes a version from memory and the store; 409 while an alias points to it.
#[utoipa::path(delete, path = "/v1/models/{name}/versions/{version}", tag = "models",
    params(("name" = String, Path, description = "Model name"),
        ("version" = u64, Path, description = "Version number")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_version(
    State(state): State<AppState>,
    AppPath((name, version)): AppPath<(String, u64)>,
) -> Result<StatusCode, ApiError> {
    let registry = state.registry.clone();
    blocking(move || Ok(registry.delete_version(&name, version)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasRequest {
    #[schema(minimum = 1)]
    pub version: u64,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AliasResponse {
    pub model: String,
    pub alias: String,
    pub version: u64,
}

/// Points an alias (`production`, `staging`, ...) at a version: promotion and rollback,
/// atomic and persisted.
#[utoipa::path(put, path = "/v1/models/{name}/aliases/{alias}", tag = "models",
    params(("name" = String, Path, description = "Model name"),
        ("alias" = String, Path, description = "Alias name")),
    request_body = AliasRequest,
    responses((status = 200, body = AliasResponse), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_alias(
    State(state): State<AppState>,
    AppPath((name, alias)): AppPath<(String, String)>,
    AppJson(req): AppJson<AliasRequest>,
) -> Result<Json<AliasResponse>, ApiError> {
    let registry = state.registry.clone();
    let (n, a) = (name.clone(), alias.clone());
    blocking(move || Ok(registry.set_alias(&n, &a, req.version)?)).await?;
    Ok(Json(AliasResponse {
        model: name,
        alias,
        version: req.version,
    }))
}

/// Removes an alias.
#[utoipa::path(delete, path = "/v1/models/{name}/aliases/{alias}", tag = "models",
    params(("name" = String, Path, description = "Model name"),
        ("alias" = String, Path, description = "Alias name")),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_alias(
    State(state): State<AppState>,
    AppPath((name, alias)): AppPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let registry = state.registry.clone();
    blocking(move || Ok(registry.remove_alias(&name, &alias)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Re-reads one model from the store and swaps it in atomically; in-flight requests
/// finish on the version they started with.
#[utoipa::path(post, path = "/v1/models/{name}/reload", tag = "models",
    params(("name" = String, Path, description = "Model name")),
    responses((status = 200, body = ModelDetail), (status = 404, body = ErrorBody)))]
pub async fn reload_model(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<ModelDetail>, ApiError> {
    let registry = state.registry.clone();
    let n = name.clone();
    let entry = blocking(move || Ok(registry.reload_model(&n)?)).await?;
    let Some(model) = entry else {
        return Err(ApiError::NotFound(format!(
            "model '{name}' has no version in the store"
        )));
    };
    Ok(Json(detail(&model)))
}

#[derive(Serialize, ToSchema)]
pub struct ReloadResponse {
    pub models: Vec<ModelSummary>,
    /// `model/version: reason` for every version that failed to load.
    pub failed: Vec<String>,
}

/// Re-reads the whole store and swaps it in atomically.
#[utoipa::path(post, path = "/v1/reload", tag = "models",
    responses((status = 200, body = ReloadResponse)))]
pub async fn reload_all(State(state): State<AppState>) -> Result<Json<ReloadResponse>, ApiError> {
    let registry = state.registry.clone();
    let snap = blocking(move || Ok(registry.reload_all()?)).await?;
    let mut failed = Vec::new();
    for m in snap.models.values() {
        for v in m.versions.values() {
            if let VersionState::Failed(reason) = &v.state {
                failed.push(format!("{}/{}: {reason}", m.name, v.version));
            }
        }
    }
    Ok(Json(ReloadResponse {
        models: snap.models.values().map(|m| summarize(m)).collect(),
        failed,
    }))
}
