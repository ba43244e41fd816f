//! The embedded dashboard (API.md "Web dashboard"): static files compiled into the binary
//! and served at `/` and under `/ui/`. The page reads only the public JSON API, so this
//! module knows nothing of models; it is a file table.

use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::api::error::ApiError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("assets/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";

const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

const ASSETS: &[Asset] = &[
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("chart.js", JS),
    asset!("runs.js", JS),
    asset!("curves.js", JS),
    asset!("monitor.js", JS),
    asset!("aliases.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Scripts come only from this server and nothing is evaluated from strings, so a name
/// that slipped past the page's escaping still could not run.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// Whether `path` is one of the dashboard's: they hold no data, so they are open even
/// when an API key is set (the page asks for the key when the JSON API answers 401).
pub fn serves(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(file))
}

async fn index() -> Response {
    serve(&INDEX)
}

/// An asset by name; a view of the page (a deep link: `models/...`, where model names may
/// hold dots, or any extension-less path) gets the page itself.
async fn file(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == path) {
        Some(asset) => serve(asset),
        None if path.starts_with("models/") || !path.contains('.') => serve(&INDEX),
        None => ApiError::NotFound(format!("the dashboard has no file '{path}'")).into_response(),
    }
}

fn serve(asset: &Asset) -> Response {
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        // The files change with the binary: revalidate rather than serve a stale page.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ),
    ];
    (headers, asset.bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_page_loads_is_embedded() {
        let page = String::from_utf8_lossy(INDEX.bytes);
        for asset in ASSETS {
            assert!(!asset.bytes.is_empty(), "{} is empty", asset.name);
        }
        for needed in ["style.css", "app.js", "favicon.svg"] {
            assert!(page.contains(&format!("/ui/{needed}")), "{needed}");
        }
        let scripts: Vec<&str> = ASSETS
            .iter()
            .filter(|a| a.content_type == JS)
            .map(|a| a.name)
            .collect();
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            let text = String::from_utf8_lossy(asset.bytes);
            for import in text.lines().filter_map(|l| l.split("from './").nth(1)) {
                let name = import.split('\'').next().unwrap_or_default();
                assert!(
                    scripts.contains(&name),
                    "{} imports missing {name}",
                    asset.name
                );
            }
        }
    }

    #[test]
    fn only_dashboard_paths_are_open() {
        assert!(serves("/") && serves("/ui") && serves("/ui/app.js"));
        assert!(!serves("/v1/models") && !serves("/uix") && !serves("/metrics"));
    }
}
