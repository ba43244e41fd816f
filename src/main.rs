//! The `modeld` binary: flags → config → logging → server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use modeld::config::{Config, Overrides, StoreOverrides};

/// Train, version, serve and monitor machine-learning models over HTTP.
#[derive(Parser, Debug)]
#[command(name = "modeld", version, about)]
struct Cli {
    /// A TOML config file layered over config/default.toml.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to bind (overrides config and MODELD_HOST).
    #[arg(long)]
    host: Option<String>,
    /// Port to bind (overrides config and MODELD_PORT).
    #[arg(long)]
    port: Option<u16>,
    /// Data directory; the model store is <data-dir>/models unless store.uri is set.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// gRPC port, 0 for none (overrides config and MODELD_GRPC__PORT).
    #[arg(long)]
    grpc_port: Option<u16>,
    /// Model store directory (sets store.uri; the name KServe runtimes pass it by).
    #[arg(long, alias = "model_dir")]
    model_dir: Option<String>,
    /// Name to serve a store holding one version at its top level under (store.model_name).
    #[arg(long, alias = "model_name")]
    model_name: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        host: cli.host,
        port: cli.port,
        data_dir: cli.data_dir,
        grpc: cli
            .grpc_port
            .map(|port| modeld::config::GrpcConfig { port }),
        store: StoreOverrides {
            uri: cli.model_dir,
            model_name: cli.model_name,
        }
        .given(),
    };
    let cfg = match Config::load(cli.config.as_deref(), &overrides) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("modeld: {e}");
            return ExitCode::from(2);
        }
    };
    modeld::telemetry::init(&cfg.log);
    tracing::info!(config = ?cfg, "configuration resolved");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modeld: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(modeld::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "modeld failed");
            eprintln!("modeld: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Cheaper small allocations than glibc's on the request path (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
