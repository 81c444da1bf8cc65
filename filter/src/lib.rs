//! Packet filters: see docs/filters.md.
