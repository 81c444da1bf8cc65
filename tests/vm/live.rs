//! The UI live in the guest (issue 6): vrft-tui runs in a terminal while traffic flows.

use super::scenario::Scenario;

pub fn scenarios() -> Vec<Scenario> {
    Vec::new()
}
