//! `report --org` (docs/org-rollup.md) through the binary. The rollup's figures and suppression
//! are tested beside the code (`rollup::tests`); org mode's end-to-end runs come with org mode.

use crate::common::{Env, fixture, stderr, stdout};

#[test]
fn report_org_without_an_org_section_is_a_usage_error_in_one_sentence() {
    let env = Env::with_feed(&fixture("overrides.ics"), "Asia/Tokyo");
    let page = env.dir.path().join("org.html");
    let page = page.to_str().unwrap();
    for args in [
        &["report", "--org"][..],
        &["report", "--org", "--json"],
        &["report", "--org", "--html", page],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains("report --org needs an [org] section in the config"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    }
    assert!(!std::path::Path::new(page).exists());
    // Without --org, report is unchanged.
    let out = env.run(&["report", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
}
