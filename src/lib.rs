//! vrft-tui library: everything the binary does, so that integration tests can
//! drive the same code (recordings, dump formatting, tracer configuration).

pub mod cli;
pub mod list;
