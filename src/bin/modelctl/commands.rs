//! One function per command: build the request from the server's types, send it, show
//! the answer.

use std::path::Path;

use modeld::api::models::{AliasRequest, AliasResponse, ModelList, VersionList};
use modeld::api::onnx::Imported;
use modeld::api::predict::PredictResponse;
use modeld::api::train::{JobAccepted, JobList, TrainRequest};
use modeld::train::{Algorithm, Params};
use reqwest::Method;
use serde_json::{json, Value};

use crate::client::{encode, Body, CliError, Client, NO_BODY};
use crate::{data, follow, output, Cli, Command};

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let client = Client::new(&cli.url, cli.api_key.as_deref())?;
    let json = cli.json;
    match cli.command {
        Command::Models => {
            let list: ModelList = client.get("/v1/models").await?;
            show(json, &list, output::models)
        }
        Command::Versions { model } => {
            let list: VersionList = client
                .get(&format!("/v1/models/{}/versions", encode(&model)))
                .await?;
            show(json, &list, output::versions)
        }
        Command::Train {
            model,
            algorithm,
            data,
            target,
            params,
            validation_split,
            alias,
            detach,
        } => {
            let params = train_params(&params)?;
            let train = Train {
                model: &model,
                algorithm,
                data: &data,
                target: &target,
                params,
                validation_split,
                alias,
            };
            train.run(&client, json, detach).await
        }
        Command::Jobs => {
            let list: JobList = client.get("/v1/jobs").await?;
            show(json, &list, |l| output::jobs(&l.jobs))
        }
        Command::Watch { job_id } => follow::follow(&client, &job_id, json).await.map(drop),
        Command::Predict {
            model,
            version,
            alias,
            data,
        } => predict(&client, json, &model, version, alias, data.as_deref()).await,
        Command::Promote {
            model,
            version,
            alias,
        } => {
            let path = format!("/v1/models/{}/aliases/{}", encode(&model), encode(&alias));
            let res: AliasResponse = client
                .json(Method::PUT, &path, Body::Json(&AliasRequest { version }))
                .await?;
            show(json, &res, |r| {
                format!("{}: {} -> version {}\n", r.model, r.alias, r.version)
            })
        }
        Command::Compress {
            model,
            version,
            method,
            params,
            data,
            target,
            max_metric_drop,
            target_model,
            alias,
        } => {
            let mut body = json!({"method": method, "params": data::params(&params)?});
            if let Some(path) = data {
                let spec = data::upload(&client, &path, &target).await?;
                body["data"] = serde_json::to_value(spec)
                    .map_err(|e| CliError::Failed(format!("cannot encode --data: {e}")))?;
            }
            let optional = [
                ("max_metric_drop", max_metric_drop.map(Value::from)),
                ("target_model", target_model.map(Value::from)),
                ("alias", alias.map(Value::from)),
            ];
            for (key, value) in optional {
                if let Some(v) = value {
                    body[key] = v;
                }
            }
            let path = format!("/v1/models/{}/versions/{version}/compress", encode(&model));
            let accepted: JobAccepted = client.json(Method::POST, &path, Body::Json(&body)).await?;
            follow::follow(&client, &accepted.job_id, json)
                .await
                .map(drop)
        }
        Command::Export {
            model,
            version,
            output: file,
        } => {
            let path = format!(
                "/v1/models/{}/versions/{version}/export?format=onnx",
                encode(&model)
            );
            let bytes = client.send(Method::GET, &path, NO_BODY).await?;
            std::fs::write(&file, &bytes)
                .map_err(|e| CliError::Failed(format!("cannot write {}: {e}", file.display())))?;
            let done = json!({"model": model, "version": version,
                "file": file.display().to_string(), "bytes": bytes.len()});
            show(json, &done, |_| {
                format!("wrote {} ({} bytes)\n", file.display(), bytes.len())
            })
        }
        Command::Import { model, file, alias } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
            let mut path = format!("/v1/models/{}/versions", encode(&model));
            if let Some(a) = alias {
                path.push_str(&format!("?alias={}", encode(&a)));
            }
            let res: Imported = client
                .json(Method::POST, &path, Body::<()>::Octets(bytes))
                .await?;
            show(json, &res, |r| {
                format!("{model}: imported as version {}\n", r.version)
            })
        }
    }
}

/// The table (or the JSON) of an answer.
fn show<T: serde::Serialize>(
    json: bool,
    value: &T,
    table: impl FnOnce(&T) -> String,
) -> Result<(), CliError> {
    if json {
        output::json(value)
    } else {
        print!("{}", table(value));
        Ok(())
    }
}

/// `--param` pairs checked against the server's own [`Params`]: an unknown name or a
/// value of the wrong type is a usage error here, before the CSV is uploaded.
fn train_params(pairs: &[String]) -> Result<Params, CliError> {
    let map = data::params(pairs)?;
    serde_json::from_value(Value::Object(map)).map_err(|e| CliError::Usage(format!("--param: {e}")))
}

struct Train<'a> {
    model: &'a str,
    algorithm: Algorithm,
    data: &'a Path,
    target: &'a str,
    params: Params,
    validation_split: f64,
    alias: Option<String>,
}

impl Train<'_> {
    async fn run(self, client: &Client, json: bool, detach: bool) -> Result<(), CliError> {
        let request = TrainRequest {
            algorithm: self.algorithm,
            data: data::upload(client, self.data, self.target).await?,
            params: self.params,
            validation_split: self.validation_split,
            alias: self.alias,
        };
        let path = format!("/v1/models/{}/train", encode(self.model));
        let accepted: JobAccepted = client
            .json(Method::POST, &path, Body::Json(&request))
            .await?;
        if detach {
            return show(json, &accepted, |a| format!("{}\n", a.job_id));
        }
        if !json {
            eprintln!("job {} started", accepted.job_id);
        }
        follow::follow(client, &accepted.job_id, json)
            .await
            .map(drop)
    }
}

async fn predict(
    client: &Client,
    json: bool,
    model: &str,
    version: Option<u64>,
    alias: Option<String>,
    csv: Option<&Path>,
) -> Result<(), CliError> {
    let instances = data::instances(csv)?;
    let mut path = format!("/v1/models/{}/predict", encode(model));
    if let Some(v) = version {
        path.push_str(&format!("?version={v}"));
    } else if let Some(a) = alias {
        path.push_str(&format!("?alias={}", encode(&a)));
    }
    let body = json!({ "instances": instances });
    let res: PredictResponse<'static> = client.json(Method::POST, &path, Body::Json(&body)).await?;
    show(json, &res, output::predictions)
}
