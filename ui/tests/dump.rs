//! The plain-text function graph that `vrft-tui dump` prints.

mod common;

use vrft_ui::format::function_graph;
use vrft_ui::model::Model;

#[test]
fn function_graph_of_every_packet() {
    let s = common::Synth::scenario();
    let mut m = Model::new();
    m.ingest(&s.events);
    m.finish();
    let text: Vec<String> = m
        .packets()
        .iter()
        .flat_map(|p| function_graph(p, &s.info))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}
