//! vrft-ui: the per-packet call-tree model and the ratatui views.
//!
//! Data arrives as [`vrft_events::Event`] batches over a crossbeam channel (live) or from a
//! recording (replay); this crate never touches BPF. Flow: events -> [`model::Model`] ->
//! [`app::App`] (selection, filter, folds) -> [`views`]. [`run::run`] is the entry point;
//! [`format::function_graph`] gives the same tree as plain text for `vrft-tui dump`.

pub mod app;
pub mod budget;
pub mod format;
pub mod headers;
pub mod input;
pub mod keys;
pub mod latency;
pub mod model;
pub mod query;
pub mod run;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod views;

pub use run::{run, Outcome};
