//! vrft-ui: the per-packet call-tree model and the ratatui views.
//!
//! Data arrives as [`event::Event`] batches over a crossbeam channel (live) or
//! from a recording (replay); this crate never touches BPF.

pub mod event;
pub mod model;
pub mod session;
pub mod format;
pub mod query;
