//! The OpenAPI document served at `/openapi.json`: the handlers' own annotations, then
//! what no single handler can say about itself — the answers the edge and the extractors
//! give on every route (a bad header or path, the API key, body limits and timeouts, load
//! shedding) and the shape of the path parameters every resource shares. Kept in one
//! place so a route cannot forget an answer it can give (scripts/schemathesis.sh checks
//! the served document against the server).

use utoipa::openapi::path::{Operation, Parameter, ParameterIn, PathItem};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::api::edge::auth::OPEN_ROUTES;
use crate::registry::NAME_PATTERN;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "modeld", description = "Train, version, serve and monitor ML models over HTTP."),
    tags(
        (name = "health", description = "Liveness, readiness, version, metrics"),
        (name = "models", description = "Registry: models, versions, aliases, reload"),
        (name = "predict", description = "Inference"),
        (name = "training", description = "Training jobs"),
        (name = "monitoring", description = "Feedback, online metrics, drift"),
        (name = "v2", description = "Open Inference Protocol (KServe V2)"),
    ),
    components(schemas(crate::api::error::ErrorBody))
)]
pub struct ApiDoc;

/// Answers any route can give, from the edge or the extractors, before or around its
/// handler.
const EVERY_ROUTE: &[(&str, &str)] = &[
    (
        "400",
        "A malformed path parameter, query or header (e.g. an `x-request-id` over 128 bytes)",
    ),
    ("500", "Internal error (details in the server log only)"),
    ("503", "Overloaded (load shed), not ready, or draining"),
    (
        "504",
        "The request took longer than `server.request_timeout_ms`",
    ),
];

/// Answers a route with a request body can give besides [`EVERY_ROUTE`].
const WITH_BODY: &[(&str, &str)] = &[
    (
        "408",
        "The body did not arrive within `server.body_timeout_ms`",
    ),
    ("413", "The body is larger than `server.body_limit_bytes`"),
    (
        "415",
        "The body was sent without the documented Content-Type",
    ),
    ("422", "The body is well-formed but its content is unusable"),
];

const UNAUTHORIZED: (&str, &str) = (
    "401",
    "`server.api_key` is set and the request lacks `Authorization: Bearer <key>`",
);

/// Adds the shared answers and parameter shapes to every operation of `doc`.
pub fn complete(mut doc: OpenApi) -> OpenApi {
    for (path, item) in doc.paths.paths.iter_mut() {
        let open = OPEN_ROUTES.contains(&path.as_str());
        for op in operations(item) {
            let mut answers: Vec<(&str, &str)> = EVERY_ROUTE.to_vec();
            if op.request_body.is_some() {
                answers.extend_from_slice(WITH_BODY);
            }
            if !open {
                answers.push(UNAUTHORIZED);
            }
            let has_name = op
                .parameters
                .iter()
                .flatten()
                .any(|p| p.parameter_in == ParameterIn::Path && p.name == "name");
            if has_name {
                answers.push(("404", "No such model, version or alias"));
            }
            for (status, description) in answers {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| error_response(description));
            }
            for p in op.parameters.iter_mut().flatten() {
                shape_parameter(p);
            }
        }
    }
    doc
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

/// Model and alias names follow the registry's rule and versions start at 1, on every
/// route (v2's `{version}` is a string in KServe's spec, but modeld's are integers).
fn shape_parameter(p: &mut Parameter) {
    if p.parameter_in != ParameterIn::Path {
        if p.name == "version" {
            p.schema = Some(version_schema());
        }
        return;
    }
    match p.name.as_str() {
        "name" | "alias" => {
            p.schema = Some(RefOr::T(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(128))
                    .pattern(Some(NAME_PATTERN))
                    .into(),
            ));
        }
        "version" => p.schema = Some(version_schema()),
        _ => {}
    }
}

fn version_schema() -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::T(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .into(),
    )
}
