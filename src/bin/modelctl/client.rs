//! The HTTP side of `modelctl`: one [`Client`] that sends the API key, reads the server's
//! JSON with the server's own types, and turns every failure into a [`CliError`] whose
//! message a user can act on and whose exit code the contract fixes.

use std::fmt;

use modeld::api::error::ErrorBody;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a command failed; [`CliError::exit_code`] is API.md's exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments or input found before anything was sent: exit 2.
    Usage(String),
    /// The server answered with an error body: exit 1.
    Api { status: StatusCode, body: ErrorBody },
    /// Nothing answered at the URL: exit 1.
    Unreachable { url: String, reason: String },
    /// Anything else (a local file, an unreadable answer, a failed job): exit 1.
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(msg) | CliError::Failed(msg) => f.write_str(msg),
            CliError::Api { status, .. } if *status == StatusCode::UNAUTHORIZED => {
                f.write_str("unauthorized: check --api-key / MODELD_API_KEY")
            }
            CliError::Api { status, body } => write!(
                f,
                "{} (code {}, HTTP {})",
                body.error,
                body.code,
                status.as_u16()
            ),
            CliError::Unreachable { url, reason } => write!(
                f,
                "cannot reach modeld at {url}: {reason} (is the server running? set --url or MODELD_URL)"
            ),
        }
    }
}

/// A connection to one modeld.
pub struct Client {
    base: String,
    key: Option<HeaderValue>,
    http: reqwest::Client,
}

/// A request body: JSON, raw bytes (ONNX import), a CSV (dataset upload), or none.
pub enum Body<'a, T: Serialize> {
    None,
    Json(&'a T),
    Octets(Vec<u8>),
    Csv(Vec<u8>),
}

/// `Body::None` without naming a JSON type.
pub const NO_BODY: Body<'static, ()> = Body::None;

impl Client {
    pub fn new(url: &str, api_key: Option<&str>) -> Result<Self, CliError> {
        let key = match api_key {
            Some(k) => {
                let mut v = HeaderValue::from_str(&format!("Bearer {k}")).map_err(|_| {
                    CliError::Usage("the API key has characters a header cannot carry".into())
                })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            // Only connecting is bounded: an upload or a long export may take its time.
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| CliError::Failed(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Client {
            base: url.trim_end_matches('/').to_string(),
            key,
            http,
        })
    }

    /// Sends a request and returns the successful answer's bytes, or the server's error.
    pub async fn send<T: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Body<'_, T>,
    ) -> Result<Vec<u8>, CliError> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(key) = &self.key {
            req = req.header(AUTHORIZATION, key.clone());
        }
        req = match body {
            Body::None => req,
            Body::Json(value) => {
                let bytes = serde_json::to_vec(value)
                    .map_err(|e| CliError::Failed(format!("cannot encode the request: {e}")))?;
                req.header(CONTENT_TYPE, "application/json").body(bytes)
            }
            Body::Octets(bytes) => req
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
            Body::Csv(bytes) => req.header(CONTENT_TYPE, "text/csv").body(bytes),
        };
        let res = req.send().await.map_err(|e| self.transport(e))?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| self.transport(e))?.to_vec();
        if status.is_success() {
            return Ok(bytes);
        }
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
            // Not modeld's error body (a proxy, another server): show what came back.
            error: String::from_utf8_lossy(&bytes)
                .trim()
                .chars()
                .take(200)
                .collect(),
            code: status.canonical_reason().unwrap_or("error").into(),
        });
        Err(CliError::Api { status, body })
    }

    /// [`Client::send`], decoding the answer as `R`.
    pub async fn json<R: DeserializeOwned, T: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Body<'_, T>,
    ) -> Result<R, CliError> {
        let bytes = self.send(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::Failed(format!("unexpected answer from {}{path}: {e}", self.base))
        })
    }

    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, CliError> {
        self.json(Method::GET, path, NO_BODY).await
    }

    fn transport(&self, e: reqwest::Error) -> CliError {
        CliError::Unreachable {
            url: self.base.clone(),
            reason: root_cause(&e),
        }
    }
}

/// The innermost error's text: "connection refused" says more than reqwest's outer
/// "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Percent-encodes a path segment or query value (model names are plain, aliases and
/// job ids too, but a typo should give a 404, not a different route).
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
