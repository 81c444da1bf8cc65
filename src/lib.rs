//! vrft-tui library: everything the binary does, so that integration tests can
//! drive the same code (recordings, dump formatting, tracer configuration).

pub mod cli;
pub mod dump;
pub mod export;
pub mod list;
pub mod live;
pub mod netns;
pub mod open;
pub mod record_cmd;
pub mod replay;
pub mod self_traffic;
pub mod signals;
pub mod trace_args;
pub use vrft_tracer as tracer;
