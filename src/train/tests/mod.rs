//! Unit tests of the training pipeline (reference-data tests read
//! `tests/fixtures/data` relative to the crate root).

mod common;
mod csv_paths;
mod data;
mod errors;
mod fitting;
mod mlp;
mod quality;
mod reference;
mod schedules;
mod split;
mod streamed;
mod threads;
