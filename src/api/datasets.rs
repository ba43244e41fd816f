//! `/v1/datasets`: the HTTP codec over [`crate::datasets`]. An upload is read frame by
//! frame and handed to the core in 1 MiB batches on the blocking pool, so a replica
//! holds about two batches of a body of any size; the edge's request deadline does not
//! apply to it (see [`crate::api::edge`]), the per-frame stall timeout does.

use std::pin::pin;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use http_body::Body as _;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::api::error::{ApiError, ErrorBody};
use crate::api::extract::{blocking, next_frame, AppPath};
use crate::datasets::Upload;
use crate::registry::store::datasets::DatasetInfo;
use crate::state::AppState;

/// Bytes handed to the core at a time: large enough that the hop to the blocking pool
/// costs nothing next to the hashing and writing, small enough to keep memory flat.
const BATCH_BYTES: usize = 1 << 20;

/// Body types a CSV arrives with (curl's `-T` sends none).
const CSV_TYPES: [&str; 4] = [
    "text/csv",
    "application/csv",
    "text/plain",
    "application/octet-stream",
];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_datasets))
        .routes(routes!(put_dataset, get_dataset, delete_dataset))
}

#[derive(Serialize, ToSchema)]
pub struct DatasetList {
    pub datasets: Vec<DatasetInfo>,
}

/// Uploads a CSV (with a header line) as the dataset `name`, replacing the one of that
/// name. It streams to the store as it arrives and is checked on the way: a body that is
/// not UTF-8 CSV, has fewer than two columns, no rows or a row of the wrong width gets
/// 422 naming the line, and nothing is stored.
#[utoipa::path(put, path = "/v1/datasets/{name}", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name (as strict as model names)")),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses((status = 201, body = DatasetInfo), (status = 400, body = ErrorBody),
        (status = 408, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn put_dataset(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
    headers: HeaderMap,
    mut body: Body,
) -> Result<(StatusCode, Json<DatasetInfo>), ApiError> {
    if let Some(given) = headers.get(header::CONTENT_TYPE) {
        let given = given.to_str().unwrap_or_default().to_ascii_lowercase();
        if !CSV_TYPES.iter().any(|t| given.starts_with(t)) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the CSV file as the body with Content-Type: text/csv (got '{given}')"
            )));
        }
    }
    let limit = state.datasets.limit();
    let too_large = || ApiError::PayloadTooLarge(usize::try_from(limit).unwrap_or(usize::MAX));
    if body.size_hint().lower() > limit {
        return Err(too_large());
    }
    let datasets = state.datasets.clone();
    let mut upload = blocking(move || Ok(datasets.begin(&name)?)).await?;
    let stall = Duration::from_millis(state.cfg.server.body_timeout_ms);
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    loop {
        let timer = pin!(None);
        let Some(frame) = next_frame(&mut body, timer, stall).await? else {
            break;
        };
        let frame = frame
            .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        batch.extend_from_slice(&data);
        if batch.len() >= BATCH_BYTES {
            (upload, batch) = feed(upload, batch).await?;
        }
    }
    if !batch.is_empty() {
        (upload, _) = feed(upload, batch).await?;
    }
    let info = blocking(move || Ok(upload.finish()?)).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Hands a batch to the core; a refused one drops the upload there, which removes what
/// it wrote.
async fn feed(mut upload: Upload, mut batch: Vec<u8>) -> Result<(Upload, Vec<u8>), ApiError> {
    blocking(move || {
        upload.feed(&batch)?;
        batch.clear();
        Ok((upload, batch))
    })
    .await
}

/// Every dataset in the store, by name.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets",
    responses((status = 200, body = DatasetList)))]
pub async fn list_datasets(State(state): State<AppState>) -> Result<Json<DatasetList>, ApiError> {
    let datasets = state.datasets.clone();
    let datasets = blocking(move || Ok(datasets.list()?)).await?;
    Ok(Json(DatasetList { datasets }))
}

/// One dataset: size, rows, columns and SHA-256.
#[utoipa::path(get, path = "/v1/datasets/{name}", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 200, body = DatasetInfo), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn get_dataset(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<Json<DatasetInfo>, ApiError> {
    let datasets = state.datasets.clone();
    Ok(Json(blocking(move || Ok(datasets.get(&name)?)).await?))
}

/// Removes a dataset. Versions trained on it keep working: they do not read it again.
#[utoipa::path(delete, path = "/v1/datasets/{name}", tag = "datasets",
    params(("name" = String, Path, description = "Dataset name")),
    responses((status = 204, description = "Deleted"), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_dataset(
    State(state): State<AppState>,
    AppPath(name): AppPath<String>,
) -> Result<StatusCode, ApiError> {
    let datasets = state.datasets.clone();
    blocking(move || Ok(datasets.remove(&name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
