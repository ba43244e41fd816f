//! `modelctl`, the command-line client of modeld (API.md "Command-line client"): every
//! command is one or two API calls, read and written with the server's own types.
//! Exit codes: 0 success, 1 an API (or server-side job) error, 2 a usage error.

mod client;
mod commands;
mod data;
mod follow;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use modeld::train::Algorithm;

/// Command-line client for a modeld server: list, train, watch, predict, promote,
/// compress, export and import models.
#[derive(Parser)]
#[command(name = "modelctl", version, about)]
pub struct Cli {
    /// The server's base URL.
    #[arg(
        long,
        global = true,
        env = "MODELD_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// API key, sent as `Authorization: Bearer <key>` (needed when the server sets
    /// server.api_key).
    #[arg(long, global = true, env = "MODELD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Print the server's JSON instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// List models with their versions and aliases.
    Models,
    /// The runs table of one model: every version's status, family and metrics.
    Versions { model: String },
    /// Upload a CSV, start training and follow the job with a progress bar.
    Train {
        model: String,
        /// linear_regression, logistic_regression, softmax_regression, mlp_regressor or
        /// mlp_classifier.
        #[arg(long, value_parser = parse_algorithm)]
        algorithm: Algorithm,
        /// Training data: a CSV file with a header line.
        #[arg(long)]
        data: PathBuf,
        /// The target column.
        #[arg(long, default_value = "target")]
        target: String,
        /// A hyperparameter, KEY=VALUE with a JSON value or a bare string
        /// (e.g. l2=0.1, hidden_layers=[16,8], optimizer=adam); repeatable.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Fraction of rows held out for validation metrics.
        #[arg(long, default_value_t = 0.2)]
        validation_split: f64,
        /// Point this alias (e.g. production) at the new version when the job succeeds.
        #[arg(long)]
        alias: Option<String>,
        /// Start the job and print its id without following it.
        #[arg(long)]
        detach: bool,
    },
    /// List training jobs, newest first.
    Jobs,
    /// Follow an existing job until it ends.
    Watch { job_id: String },
    /// Predict with a model: rows from a CSV (columns by name) or JSON rows on stdin.
    Predict {
        model: String,
        /// Version number to use.
        #[arg(long, conflicts_with = "alias")]
        version: Option<u64>,
        /// Alias to use (default: production, else the newest version).
        #[arg(long)]
        alias: Option<String>,
        /// A CSV of feature columns; without it, JSON rows are read from stdin.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Point an alias at a version (promote, or roll back).
    Promote {
        model: String,
        version: u64,
        #[arg(long, default_value = "production")]
        alias: String,
    },
    /// Compress a version (quantize, prune or distill) into a new version.
    Compress {
        model: String,
        version: u64,
        /// quantize, prune or distill.
        #[arg(long)]
        method: String,
        /// A method parameter, KEY=VALUE (bits=8, sparsity=0.8, ...); repeatable.
        #[arg(long = "param", value_name = "KEY=VALUE")]
        params: Vec<String>,
        /// Evaluation (and, for distill, transfer) data: a CSV file.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The target column of --data.
        #[arg(long, default_value = "target")]
        target: String,
        /// Keep the result only if the metric drops by at most this much.
        #[arg(long)]
        max_metric_drop: Option<f64>,
        /// Register the result under this model instead.
        #[arg(long)]
        target_model: Option<String>,
        /// Point this alias at the compressed version.
        #[arg(long)]
        alias: Option<String>,
    },
    /// Save a version as an ONNX file.
    Export {
        model: String,
        version: u64,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Import an ONNX file as a new version.
    Import {
        model: String,
        file: PathBuf,
        /// Point this alias at the imported version.
        #[arg(long)]
        alias: Option<String>,
    },
}

/// Algorithm names parse as the server parses them, so the lists cannot differ.
fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    // clap exits 2 on a usage error and 0 for --help/--version.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("modelctl: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(commands::run(cli));
    // A question left unanswered after a second Ctrl-C blocks a thread on the terminal;
    // dropping the runtime would wait for it.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modelctl: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
