//! Self-tests of the Microsoft Graph fake (`tests/fake_graph/`), driven over loopback HTTP with
//! reqwest. They check the fake against microsoft-graph.md and the sample bodies.

mod fake_graph;

use fake_graph::FakeGraph;

#[tokio::test]
async fn starts_and_answers_404_shape() {
    let g = FakeGraph::start();
    let r = reqwest::get(format!("{}/v1.0/nothing", g.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
