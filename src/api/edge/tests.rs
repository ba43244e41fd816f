//! The edge over small routers, and over the app.
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::ServiceExt;

use super::*;
use crate::config::Config;

type App = Edge<Router>;

fn app(limit: usize, router: Router<AppState>) -> (App, tempfile::TempDir) {
    let (app, _, dir) = app_and_state(limit, router);
    (app, dir)
}

fn app_and_state(limit: usize, router: Router<AppState>) -> (App, AppState, tempfile::TempDir) {
    app_with(|cfg| cfg.server.concurrency_limit = limit, router)
}

/// The edge with `direct` hot routes over `router`, which gets the route-label layer
/// as the app's router does.
fn edge_over(
    state: &AppState,
    router: Router<AppState>,
    direct: impl IntoIterator<Item = Direct>,
) -> App {
    let hot = HotRoutes::new(direct).unwrap();
    let router = router
        .layer(axum::middleware::from_fn(metrics::label_route))
        .with_state(state.clone());
    EdgeLayer::new(state.clone(), hot).layer(router)
}

fn app_with(
    configure: impl FnOnce(&mut Config),
    router: Router<AppState>,
) -> (App, AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    configure(&mut cfg);
    let state = AppState::new(cfg).unwrap();
    let app = edge_over(&state, router, []);
    (app, state, dir)
}

/// State over a temporary data dir with the configuration `configure` leaves.
fn state_with(configure: impl FnOnce(&mut Config)) -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    configure(&mut cfg);
    (AppState::new(cfg).unwrap(), dir)
}

/// State over a temporary data dir with the default configuration.
fn default_state() -> (AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let state = AppState::new(Config {
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    })
    .unwrap();
    (state, dir)
}

async fn call(app: App, path: &str) -> Response {
    let req = Request::get(path).body(Body::empty()).unwrap();
    app.oneshot(req).await.unwrap()
}

async fn body_json(response: Response) -> serde_json::Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_panicking_handler_answers_500_json_and_frees_its_slot() {
    let router = Router::new().route(
        "/boom",
        get(|| async {
            if true {
                panic!("kaboom");
            }
            "unreachable"
        }),
    );
    let (app, _dir) = app(1, router);
    // With one slot, a slot leaked by the panic would turn the second call into 503.
    for _ in 0..3 {
        let response = call(app.clone(), "/boom").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().contains_key(REQUEST_ID));
        let body = body_json(response).await;
        assert_eq!(body["code"], "internal");
        assert_eq!(body["error"], "internal error");
    }
}

#[tokio::test]
async fn the_limit_counts_requests_in_flight_and_not_requests_seen() {
    let (started, mut running) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (release, wait) = tokio::sync::watch::channel(false);
    let router = Router::new().route(
        "/slow",
        get(move || {
            let (started, mut wait) = (started.clone(), wait.clone());
            async move {
                let _ = started.send(());
                let _ = wait.wait_for(|go| *go).await;
                "done"
            }
        }),
    );
    let (app, _dir) = app(2, router);
    let first = tokio::spawn(call(app.clone(), "/slow"));
    let second = tokio::spawn(call(app.clone(), "/slow"));
    running.recv().await.unwrap();
    running.recv().await.unwrap();
    let shed = call(app.clone(), "/slow").await;
    assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body_json(shed).await["code"], "overloaded");
    release.send(true).unwrap();
    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
    assert_eq!(second.await.unwrap().status(), StatusCode::OK);
    // Both slots are free again: two requests may run at once.
    let third = tokio::spawn(call(app.clone(), "/slow"));
    let fourth = tokio::spawn(call(app.clone(), "/slow"));
    assert_eq!(third.await.unwrap().status(), StatusCode::OK);
    assert_eq!(fourth.await.unwrap().status(), StatusCode::OK);
    // The shed request gave its slot back too.
    assert_eq!(app.in_flight(), 0);
}

#[tokio::test]
async fn a_timed_out_request_answers_504_and_frees_its_slot() {
    let router = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/boom", get(|| async { "fast" }));
    let (app, _state, _dir) = app_with(
        |cfg| {
            cfg.server.concurrency_limit = 1;
            cfg.server.request_timeout_ms = 50;
        },
        router,
    );
    let late = call(app.clone(), "/slow").await;
    assert_eq!(late.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body_json(late).await["code"], "timeout");
    assert_eq!(app.in_flight(), 0);
    // With one slot, a leaked one would shed this request with 503.
    assert_eq!(call(app, "/boom").await.status(), StatusCode::OK);
}

/// Calls every documented (method, route) once, each parameter filled with a plain value
/// no route knows, and checks the answer is counted under the route's template; `want`
/// is the status every route must answer, if one is required.
async fn call_every_route(api_key: Option<&str>, want: Option<StatusCode>) {
    let (state, _dir) = state_with(|cfg| {
        cfg.server.api_key = api_key.map(crate::config::Secret::from);
    });
    let app = crate::api::router(state.clone()).unwrap();
    let doc = crate::api::openapi_document();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 30, "{paths:?}");
    for (template, item) in paths {
        let path = template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "zz" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let req = Request::builder()
                .method(method.clone())
                .uri(&path)
                .body(Body::empty())
                .unwrap();
            let status = app.clone().oneshot(req).await.unwrap().status();
            let open = auth::OPEN_ROUTES.contains(&template.as_str());
            if let (Some(want), false) = (want, open) {
                assert_eq!(status, want, "{method} {path}");
            }
            let counted = state
                .metrics
                .http_requests
                .with_label_values(&[method.as_str(), template, status.as_str()])
                .get();
            assert_eq!(
                counted, 1,
                "{method} {path} ({status}) not counted as {template}"
            );
        }
    }
    assert_eq!(app.in_flight(), 0);
}

#[tokio::test]
async fn every_documented_route_is_labelled_by_its_template() {
    call_every_route(None, None).await;
}

/// A refused request is answered inside the router by the label layer, before its
/// handler: counted under the route and, for every route, 401.
#[tokio::test]
async fn without_the_key_every_route_but_the_open_ones_answers_401_under_its_label() {
    call_every_route(Some("a-long-enough-key"), Some(StatusCode::UNAUTHORIZED)).await;
}

#[tokio::test]
async fn each_method_and_status_is_counted_under_its_own_labels() {
    let router = Router::new().route(
        "/items/{id}",
        get(
            |axum::extract::Path(id): axum::extract::Path<u32>| async move {
                if id == 0 {
                    Err(ApiError::NotFound("no item 0".into()))
                } else {
                    Ok("item")
                }
            },
        ),
    );
    let (app, state, _dir) = app_and_state(8, router);
    for path in ["/items/1", "/items/2", "/items/0", "/items/3"] {
        call(app.clone(), path).await;
    }
    let head = Request::head("/items/1").body(Body::empty()).unwrap();
    assert_eq!(app.oneshot(head).await.unwrap().status(), StatusCode::OK);
    let m = &state.metrics;
    let count = |method: &str, status: &str| {
        m.http_requests
            .with_label_values(&[method, "/items/{id}", status])
            .get()
    };
    assert_eq!(count("GET", "200"), 3);
    assert_eq!(count("GET", "404"), 1);
    assert_eq!(count("HEAD", "200"), 1);
    let observed = |method: &str| {
        m.http_duration
            .with_label_values(&[method, "/items/{id}"])
            .get_sample_count()
    };
    assert_eq!((observed("GET"), observed("HEAD")), (4, 1));
}

fn echo_param(_: AppState, param: String, _: Request) -> DirectFuture {
    Box::pin(async move {
        if param == "boom" {
            panic!("direct handler failed");
        }
        Ok(format!("direct {param}").into_response())
    })
}

#[tokio::test]
async fn the_direct_route_skips_the_router_only_for_its_method_and_plain_params() {
    let router =
        Router::new().route(
            "/items/{id}",
            get(
                |axum::extract::Path(id): axum::extract::Path<String>| async move {
                    format!("router {id}")
                },
            ),
        );
    let (state, _dir) = default_state();
    let direct = Direct {
        template: "/items/{id}",
        method: Method::GET,
        handler: echo_param,
    };
    let app = edge_over(&state, router, [direct]);
    let text = |response: Response| async move {
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    };
    let plain = app
        .clone()
        .oneshot(Request::get("/items/7").body(Body::empty()).unwrap());
    let plain = plain.await.unwrap();
    assert!(plain.headers().contains_key(REQUEST_ID));
    assert_eq!(text(plain).await, "direct 7");
    // A parameter the router would percent-decode goes to the router, which does.
    let encoded = Request::get("/items/a%20b").body(Body::empty()).unwrap();
    assert_eq!(
        text(app.clone().oneshot(encoded).await.unwrap()).await,
        "router a b"
    );
    // Another method is the router's to answer (here 405).
    let post = Request::post("/items/7").body(Body::empty()).unwrap();
    let refused = app.clone().oneshot(post).await.unwrap();
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
    // A panic in the direct handler is caught like one behind the router.
    let boom = Request::get("/items/boom").body(Body::empty()).unwrap();
    let failed = app.clone().oneshot(boom).await.unwrap();
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body_json(failed).await["code"], "internal");
    assert_eq!(app.in_flight(), 0);
    // Both paths are counted under the template.
    let count = |method: &str, status: &str| {
        state
            .metrics
            .http_requests
            .with_label_values(&[method, "/items/{id}", status])
            .get()
    };
    assert_eq!(count("GET", "200"), 2);
    assert_eq!(count("GET", "500"), 1);
    assert_eq!(count("POST", "405"), 1);
}

#[tokio::test]
async fn the_app_serves_predict_and_v2_infer_directly() {
    let (state, _dir) = default_state();
    let app = crate::api::router(state).unwrap();
    let hot = &app.shared.hot;
    let mut templates: Vec<&str> = hot.iter().map(|d| d.template).collect();
    templates.sort_unstable();
    assert_eq!(
        templates,
        ["/v1/models/{name}/predict", "/v2/models/{name}/infer"]
    );
    let post = |path: &str| hot.find(&Method::POST, path).map(|(_, _, p)| p.to_string());
    assert_eq!(post("/v1/models/iris/predict").as_deref(), Some("iris"));
    assert_eq!(post("/v2/models/iris/infer").as_deref(), Some("iris"));
    assert_eq!(post("/v1/models/ir%69s/predict"), None);
    assert_eq!(post("/v2/models/iris/versions/1/infer"), None);
    assert_eq!(post("/v1/models//predict"), None);
    assert!(hot.find(&Method::GET, "/v1/models/iris/predict").is_none());
}

#[test]
fn a_hot_route_the_router_does_not_serve_stops_start_up() {
    let hot = HotRoutes::new([Direct {
        template: "/items/{id}",
        method: Method::GET,
        handler: echo_param,
    }])
    .unwrap();
    let routed = [(Method::GET, "/items/{id}")];
    assert!(hot::check(&hot, routed.iter().cloned()).is_ok());
    let wrong_method = [(Method::POST, "/items/{id}")];
    assert!(hot::check(&hot, wrong_method.iter().cloned()).is_err());
    let other_template = [(Method::GET, "/item/{id}")];
    assert!(hot::check(&hot, other_template.iter().cloned()).is_err());
    let two_params = HotRoutes::new([Direct {
        template: "/a/{x}/{y}",
        method: Method::GET,
        handler: echo_param,
    }]);
    assert!(two_params.is_err());
}

#[tokio::test]
async fn routes_are_labelled_by_template_and_unknown_paths_as_unmatched() {
    let router = Router::new().route("/items/{id}", get(|| async { "item" }));
    let (app, state, _dir) = app_and_state(8, router);
    let post = Request::post("/items/7").body(Body::empty()).unwrap();
    let refused = app.clone().oneshot(post).await.unwrap();
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body_json(refused).await["code"], "method_not_allowed");
    let missing = call(app.clone(), "/items/7/extra").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let m = &state.metrics;
    let count = |method: &str, route: &str, status: &str| {
        m.http_requests
            .with_label_values(&[method, route, status])
            .get()
    };
    assert_eq!(count("POST", "/items/{id}", "405"), 1);
    assert_eq!(count("GET", "unmatched", "404"), 1);
    // Raw paths never become labels.
    assert_eq!(count("GET", "/items/7/extra", "404"), 0);
}
