//! The people-ops page (`/org` on the daemon's listener, `report --org --html FILE`): the
//! `Rollup` as one self-contained HTML page in the dashboard's style
//! (inline CSS, no script, no external resource), each 12-week trend an inline SVG.
//!
//! Invariants: the page shows only what the rollup holds (aggregates, org units, senior managers'
//! names); a suppressed figure reads "fewer than N" (or says it is hidden so that a smaller group
//! cannot be worked out), never a number; every value is auto-escaped by the template.

use serde::Serialize;

use super::{DashboardError, STYLE};
use crate::rollup::{GroupKind, Rollup, suppressed_text};

const TEMPLATE: &str = include_str!("assets/org.html");
/// The trend's drawing box.
const SPARK_W: f64 = 120.0;
const SPARK_H: f64 = 28.0;

#[derive(Debug, Clone, Serialize)]
struct Page {
    now: String,
    min_group: usize,
    trend_from: String,
    rows: Vec<Row>,
    managers_left_out: usize,
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    id: String,
    kind: &'static str,
    kind_label: &'static str,
    name: String,
    manager: Option<String>,
    depth: usize,
    /// Shown figures, or `hidden` with why.
    people: Option<usize>,
    held: Option<String>,
    held_percent: Option<f64>,
    median_per_30d: Option<f64>,
    median_expected: Option<f64>,
    reports_hidden: Option<String>,
    managers: Option<usize>,
    open: Option<usize>,
    managers_hidden: Option<String>,
    /// The SVG polyline's points, and the values in words for assistive technology.
    spark: Option<String>,
    spark_label: String,
}

fn spark(points: &[Option<f64>]) -> Option<String> {
    let values: Option<Vec<f64>> = points.iter().copied().collect();
    let values = values?;
    if values.is_empty() {
        return None;
    }
    let step = if values.len() > 1 {
        SPARK_W / (values.len() - 1) as f64
    } else {
        0.0
    };
    Some(
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let y = 2.0 + (SPARK_H - 4.0) * (1.0 - v.clamp(0.0, 100.0) / 100.0);
                format!("{:.1},{:.1}", i as f64 * step, y)
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The page as HTML.
pub fn render(r: &Rollup) -> Result<String, DashboardError> {
    let rows = r
        .groups
        .iter()
        .map(|g| {
            let f = &g.reports;
            let m = &g.managers;
            let spark_points = spark(&f.trend_held_30d_percent);
            Row {
                id: g.id.clone(),
                kind: match g.kind {
                    GroupKind::Org => "org",
                    GroupKind::OrgUnit => "org_unit",
                    GroupKind::ManagerOfManagers => "manager_of_managers",
                },
                kind_label: match g.kind {
                    GroupKind::Org => "",
                    GroupKind::OrgUnit => "org unit",
                    GroupKind::ManagerOfManagers => "under",
                },
                name: g.name.clone(),
                manager: g.manager.clone(),
                depth: g.depth,
                people: f.people,
                held: f.held_30d.map(|h| h.to_string()),
                held_percent: f.held_30d_percent,
                median_per_30d: f.median_per_30d,
                median_expected: f.median_expected_interval_days,
                reports_hidden: f
                    .suppressed
                    .then(|| suppressed_text(f.suppressed_reason, r.min_group)),
                managers: m.managers,
                open: m.with_open_gap_or_no_series,
                managers_hidden: m
                    .suppressed
                    .then(|| suppressed_text(m.suppressed_reason, r.min_group)),
                spark_label: if spark_points.is_some() {
                    let values: Vec<String> = f
                        .trend_held_30d_percent
                        .iter()
                        .flatten()
                        .map(|p| format!("{p}%"))
                        .collect();
                    format!("held in 30 days, week by week: {}", values.join(", "))
                } else {
                    String::new()
                },
                spark: spark_points,
            }
        })
        .collect();
    let page = Page {
        now: r.now.clone(),
        min_group: r.min_group,
        trend_from: r.trend_ends.first().cloned().unwrap_or_default(),
        rows,
        managers_left_out: r.managers_left_out,
    };
    let mut env = minijinja::Environment::new();
    // The name's `.html` turns on HTML auto-escaping for every value.
    env.add_template("org.html", TEMPLATE)
        .map_err(|e| DashboardError::Render(e.to_string()))?;
    let template = env
        .get_template("org.html")
        .map_err(|e| DashboardError::Render(e.to_string()))?;
    template
        .render(minijinja::context! {
            d => minijinja::Value::from_serialize(&page),
            style => minijinja::Value::from_safe_string(STYLE.to_string()),
            spark_w => SPARK_W,
            spark_h => SPARK_H,
        })
        .map_err(|e| DashboardError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollup::{ManagerInput, ReportInput, RollupInput, rollup};
    use chrono::{Duration, TimeZone, Utc};

    fn input() -> RollupInput {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).single().unwrap();
        let report = |e: String, d: i64| ReportInput {
            email: e,
            held_starts: vec![now - Duration::days(d)],
            expected_interval_days: 14.0,
            open_kinds: vec![],
        };
        let mut managers = vec![ManagerInput {
            email: "boss@x".into(),
            name: "<b>Boss</b> & co".into(),
            manager_of: None,
            org_unit: Some("R&D <lab>".into()),
            reports: (0..6).map(|i| report(format!("lead{i}@x"), 3)).collect(),
        }];
        for i in 0..6 {
            managers.push(ManagerInput {
                email: format!("lead{i}@x"),
                name: format!("Lead {i}"),
                manager_of: Some("boss@x".into()),
                org_unit: Some(if i < 5 { "R&D <lab>" } else { "Tiny" }.into()),
                reports: (0..5)
                    .map(|j| report(format!("secret{i}{j}@x"), 10 * j))
                    .collect(),
            });
        }
        RollupInput {
            now,
            min_group: 5,
            managers,
            managers_left_out: 0,
        }
    }

    #[test]
    fn the_page_escapes_names_hides_small_groups_and_names_no_report() {
        let r = rollup(&input()).unwrap();
        let html = render(&r).unwrap();
        assert!(html.contains("&lt;b&gt;Boss&lt;&#x2f;b&gt; &amp; co"));
        assert!(!html.contains("<b>Boss"));
        assert!(html.contains("R&amp;D &lt;lab&gt;"));
        assert!(!html.contains("secret"));
        assert!(!html.contains("lead0@x"));
        assert!(!html.contains("<script"));
        // The org unit "Tiny" has one manager and five reports: its managers' figure is hidden.
        let tiny = html.split("data-id=\"unit:Tiny\"").nth(1).unwrap();
        let tiny = tiny.split("</tr>").next().unwrap();
        assert!(tiny.contains("fewer than 5"), "{tiny}");
        // The organisation's trend is drawn.
        assert!(html.contains("<polyline"));
        // Every row's cells come from the rollup.
        for g in &r.groups {
            assert!(
                html.contains(&format!(
                    "data-id=\"{}\"",
                    g.id.replace('&', "&amp;")
                        .replace('<', "&lt;")
                        .replace('>', "&gt;")
                )),
                "{}",
                g.id
            );
        }
    }

    #[test]
    fn a_suppressed_trend_is_not_drawn() {
        let points = vec![None; 12];
        assert_eq!(spark(&points), None);
        let points: Vec<Option<f64>> = (0..12).map(|i| Some(i as f64 * 10.0)).collect();
        let s = spark(&points).unwrap();
        assert!(s.starts_with("0.0,26.0 "));
        assert!(s.ends_with("120.0,2.0"), "{s}");
    }
}
