//! The model-repository extension over gRPC (Triton's `RepositoryIndex`,
//! `RepositoryModelLoad` and `RepositoryModelUnload`, which `tritonclient.grpc` calls):
//! the same registry calls and messages as REST's `/v2/repository` routes. modeld has
//! one repository, so a named one other than the empty name is not found, and `load`
//! takes no parameters (Triton's config and file overrides have no meaning here).

use std::collections::HashMap;

use super::generated::inference::repository_index_response::ModelIndex;
use super::generated::inference::{ModelRepositoryParameter, RepositoryIndexResponse};
use crate::api::error::ApiError;
use crate::api::v2::repository::{entries, load_model, unload_model};
use crate::state::AppState;

fn one_repository(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!(
            "repository '{name}' not found; modeld has one, named by the empty string"
        )))
    }
}

/// Refuses any parameter but the `allowed` ones, naming the first it finds.
fn only_parameters(
    parameters: &HashMap<String, ModelRepositoryParameter>,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match parameters.keys().find(|k| !allowed.contains(&k.as_str())) {
        None => Ok(()),
        Some(key) => Err(ApiError::BadRequest(format!(
            "parameter '{key}' is not supported: modeld loads a model as its store holds it"
        ))),
    }
}

pub async fn index(
    state: &AppState,
    repository: &str,
    ready: bool,
) -> Result<RepositoryIndexResponse, ApiError> {
    one_repository(repository)?;
    let models = entries(state, ready)
        .await?
        .into_iter()
        .map(|e| ModelIndex {
            state: e.state().into(),
            name: e.name,
            version: e.version.map(|v| v.to_string()).unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
        })
        .collect();
    Ok(RepositoryIndexResponse { models })
}

pub async fn load(
    state: &AppState,
    repository: &str,
    model: &str,
    parameters: &HashMap<String, ModelRepositoryParameter>,
) -> Result<(), ApiError> {
    one_repository(repository)?;
    only_parameters(parameters, &[])?;
    load_model(state, model.to_string()).await
}

pub async fn unload(
    state: &AppState,
    repository: &str,
    model: &str,
    parameters: &HashMap<String, ModelRepositoryParameter>,
) -> Result<(), ApiError> {
    one_repository(repository)?;
    // Triton's `unload_dependents` is the one unload parameter; modeld models have none.
    only_parameters(parameters, &["unload_dependents"])?;
    unload_model(state, model.to_string()).await
}
