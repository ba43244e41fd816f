//! modeld: one binary that trains, versions, serves and monitors machine-learning models
//! behind a REST API. [`app`] builds the router (tests drive it without a socket);
//! [`run`] serves it until SIGINT/SIGTERM.

pub mod api;
pub mod compress;
pub mod config;
pub mod datasets;
pub mod demo;
pub mod jobs;
pub mod memory;
pub mod metrics;
pub mod models;
pub mod monitor;
pub mod registry;
pub mod serving;
pub mod shutdown;
pub mod state;
pub mod telemetry;
pub mod train;

use std::time::Duration;

pub use config::Config;
pub use state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("cannot open the model store at {location} (store.uri): {source}")]
    Store {
        location: String,
        source: std::io::Error,
    },
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("routes: {0}")]
    Routes(#[from] api::edge::hot::HotRouteError),
}

/// Where the gRPC server binds: `host` and `grpc.port`, or nowhere when the port is 0.
fn cfg_grpc_addr(cfg: &Config) -> Option<std::net::SocketAddr> {
    let mut addr = cfg.addr().ok()?;
    if cfg.grpc.port == 0 {
        return None;
    }
    addr.set_port(cfg.grpc.port);
    Some(addr)
}

/// The application over `state`.
pub fn app(state: AppState) -> Result<api::App, StartError> {
    Ok(api::router(state)?)
}

/// Reads the store into the registry, trains missing demo models if enabled, and marks
/// the server ready; returns false (and leaves /readyz at 503) when the store cannot be
/// read, e.g. an unreachable bucket: [`run`] then tries again every second. Blocking:
/// call it from the blocking pool.
pub fn load_store(state: &AppState) -> bool {
    match state.registry.remove_leftovers() {
        Ok(removed) if !removed.is_empty() => {
            tracing::info!(removed = ?removed, "removed leftovers of interrupted store writes");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "store leftovers could not be cleaned"),
    }
    match state.datasets.remove_leftovers() {
        Ok(removed) if !removed.is_empty() => {
            tracing::info!(removed = ?removed, "removed objects of interrupted dataset uploads");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "dataset leftovers could not be cleaned"),
    }
    match state.registry.reload_all() {
        Ok(snap) => tracing::info!(models = snap.models.len(), "model store loaded"),
        Err(e) => {
            tracing::error!(error = %e, "model store could not be read; not ready until it can");
            return false;
        }
    }
    if state.cfg.demo.enabled && !state.cfg.training.enabled {
        // Training the demo models is training too, which a serving-only replica does not do.
        tracing::info!("demo models skipped: training.enabled = false");
    } else if state.cfg.demo.enabled {
        demo::ensure(
            &state.registry,
            &state.cfg.data_dir,
            state.cfg.monitoring.drift_bins,
        );
    }
    state.lifecycle.set_loaded();
    true
}

/// Starts repository polling when `repository.poll_interval_ms` > 0 (call after
/// [`load_store`]); the task lives as long as the runtime.
pub fn spawn_poller(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let ms = state.cfg.repository.poll_interval_ms;
    if ms == 0 {
        return None;
    }
    let registry = state.registry.clone();
    Some(tokio::spawn(async move {
        let r = registry.clone();
        let Ok(mut poller) =
            tokio::task::spawn_blocking(move || crate::registry::poll::Poller::prime(&r)).await
        else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_millis(ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let r = registry.clone();
            match tokio::task::spawn_blocking(move || {
                poller.poll(&r);
                poller
            })
            .await
            {
                Ok(p) => poller = p,
                Err(e) => {
                    tracing::error!(error = %e, "repository poll crashed; polling stopped");
                    return;
                }
            }
        }
    }))
}

/// Binds, serves, loads the store in the background (readiness turns 200 when done),
/// and shuts down gracefully on a signal: /readyz turns 503, in-flight requests finish
/// within `shutdown_grace_ms`, then the process exits.
pub async fn run(cfg: Config) -> Result<(), StartError> {
    let addr = cfg.addr().map_err(|e| StartError::Bind {
        addr: format!("{}:{}", cfg.host, cfg.port),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })?;
    let grace = Duration::from_millis(cfg.server.shutdown_grace_ms);
    let state = AppState::new(cfg)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Bind {
            addr: addr.to_string(),
            source: e,
        })?;
    let grpc_listener = match cfg_grpc_addr(&state.cfg) {
        None => None,
        Some(addr) => {
            Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartError::Bind {
                        addr: addr.to_string(),
                        source: e,
                    })?,
            )
        }
    };
    if let Some(l) = &grpc_listener {
        let grpc = l.local_addr().map_err(StartError::Serve)?;
        tracing::info!(addr = %grpc, "modeld gRPC listening");
    }
    // Logged last: tests and scripts that wait for this line may use both ports.
    let local = listener.local_addr().map_err(StartError::Serve)?;
    tracing::info!(addr = %local, "modeld listening");

    let loader = state.clone();
    tokio::task::spawn(async move {
        loop {
            let l = loader.clone();
            match tokio::task::spawn_blocking(move || load_store(&l)).await {
                Ok(true) => {
                    spawn_poller(&loader);
                    return;
                }
                Ok(false) => tokio::time::sleep(Duration::from_secs(1)).await,
                Err(e) => {
                    tracing::error!(error = %e, "loading the model store crashed");
                    return;
                }
            }
        }
    });

    let lifecycle = state.lifecycle.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // Both servers drain on the one signal.
    let (drain_tx, drain_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown::signal().await;
        tracing::info!("shutdown requested: draining");
        lifecycle.start_draining();
        let _ = drain_tx.send(true);
        let _ = stop_tx.send(());
    };
    let grpc = grpc_listener.map(|l| {
        let mut drain = drain_rx.clone();
        let drained = async move {
            let _ = drain.wait_for(|d| *d).await;
        };
        tokio::spawn(api::grpc::serve(l, state.clone(), drained))
    });
    let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(app(state)?);
    let http = axum::serve(listener, service).with_graceful_shutdown(shutdown);
    let server = async move {
        let res = http.await;
        if let Some(grpc) = grpc {
            match grpc.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "gRPC server failed"),
                Err(e) => tracing::error!(error = %e, "gRPC server crashed"),
            }
        }
        res
    };
    let deadline = async move {
        if stop_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        res = server => res.map_err(StartError::Serve)?,
        () = deadline => tracing::warn!("shutdown grace period over; exiting with requests in flight"),
    }
    tracing::info!("modeld stopped");
    Ok(())
}
