//! Self-tests of the Google fake (`tests/fake_google/`), driven over loopback HTTP with reqwest.

mod fake_google;

use fake_google::FakeGoogle;

#[test]
fn starts() {
    let g = FakeGoogle::start();
    assert!(g.url().starts_with("http://127.0.0.1:"));
}
