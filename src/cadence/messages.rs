//! Alert severities and messages, in the manager's locale (English or Japanese). Each message
//! names the report, what happened, since when, and the one action that helps.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::analyse::AlertKind;
use crate::config::{Config, Locale};
use crate::tz::Zone;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
        }
    }
}

/// How urgent each kind is: missing 1on1s and ending series need action; the rest is a nudge.
pub fn severity(kind: AlertKind) -> Severity {
    match kind {
        AlertKind::Gap | AlertKind::NoSeries | AlertKind::SeriesEnding | AlertKind::Uneven => {
            Severity::Warning
        }
        AlertKind::Skipped | AlertKind::Irregular => Severity::Info,
    }
}

/// The message texts for one report.
pub struct Texts<'a> {
    locale: Locale,
    zone: Zone,
    name: &'a str,
}

fn num(x: f64) -> String {
    if (x - x.round()).abs() < 0.05 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

impl<'a> Texts<'a> {
    pub fn new(config: &Config, name: &'a str) -> Self {
        Texts {
            locale: config.manager.locale,
            zone: config.manager.zone(),
            name,
        }
    }

    fn date(&self, t: DateTime<Utc>) -> String {
        let local = self.zone.from_utc(t);
        match self.locale {
            Locale::En => local.format("%b %-d").to_string(),
            Locale::Ja => local.format("%-m月%-d日").to_string(),
        }
    }

    /// Several dates, in the locale's list form ("Sep 10, Sep 17 and Sep 24"; "9月10日、9月17日").
    fn dates(&self, ts: &[DateTime<Utc>]) -> String {
        let ds: Vec<String> = ts.iter().map(|t| self.date(*t)).collect();
        match (self.locale, ds.as_slice()) {
            (_, []) => String::new(),
            (_, [one]) => one.clone(),
            (Locale::En, [init @ .., last]) => format!("{} and {last}", init.join(", ")),
            (Locale::Ja, all) => all.join("、"),
        }
    }

    /// `days` are calendar days in the manager's zone (the same figure as the table's).
    pub fn gap(&self, days: Option<i64>, expected: f64, next: Option<DateTime<Utc>>) -> String {
        let n = self.name;
        match (self.locale, days) {
            (Locale::En, Some(d)) => format!(
                "No 1on1 with {n} for {d} {} (expected every {}).",
                plural(d, "day", "days"),
                num(expected)
            ),
            (Locale::Ja, Some(d)) => {
                format!(
                    "{n}さんとの1on1が{d}日間ありません（想定: {}日ごと）。",
                    num(expected)
                )
            }
            (Locale::En, None) => format!(
                "No 1on1 with {n} has been held yet; the first is scheduled for {}.",
                next.map_or_else(|| "later".into(), |t| self.date(t))
            ),
            (Locale::Ja, None) => format!(
                "{n}さんとの1on1はまだ一度も実施されていません（初回予定: {}）。",
                next.map_or_else(|| "未定".into(), |t| self.date(t))
            ),
        }
    }

    /// `joined`: the tenure start when it falls inside the lookback (a new report).
    pub fn no_series(
        &self,
        last: Option<DateTime<Utc>>,
        lookback_days: f64,
        joined: Option<chrono::NaiveDate>,
    ) -> String {
        let n = self.name;
        let joined_en = |d: chrono::NaiveDate| d.format("%b %-d").to_string();
        let joined_ja = |d: chrono::NaiveDate| d.format("%-m月%-d日").to_string();
        match (self.locale, last, joined) {
            (Locale::En, Some(t), _) => format!(
                "No 1on1 with {n} since {} and none scheduled: set up a recurring 1on1.",
                self.date(t)
            ),
            (Locale::En, None, Some(d)) => format!(
                "No 1on1 with {n} since they joined on {} and none scheduled: set up a recurring 1on1.",
                joined_en(d)
            ),
            (Locale::En, None, None) => format!(
                "No 1on1 with {n} in the last {} days and none scheduled: set up a recurring 1on1.",
                num(lookback_days)
            ),
            (Locale::Ja, Some(t), _) => {
                format!(
                    "{n}さんとの1on1は{}以降なく、予定もありません。定例の1on1を設定しましょう。",
                    self.date(t)
                )
            }
            (Locale::Ja, None, Some(d)) => format!(
                "{n}さんとの1on1は着任（{}）以来なく、予定もありません。定例の1on1を設定しましょう。",
                joined_ja(d)
            ),
            (Locale::Ja, None, None) => format!(
                "{n}さんとの1on1は過去{}日間なく、予定もありません。定例の1on1を設定しましょう。",
                num(lookback_days)
            ),
        }
    }

    /// A run of skipped sessions: each `(start, declined)`, in order (at least one).
    pub fn skipped(&self, run: &[(DateTime<Utc>, bool)]) -> String {
        let n = self.name;
        let starts: Vec<DateTime<Utc>> = run.iter().map(|(t, _)| *t).collect();
        let d = self.dates(&starts);
        let declined = run.iter().filter(|(_, x)| *x).count();
        let how = |en: bool| match (declined, run.len() - declined, en) {
            (0, _, true) => "cancelled",
            (_, 0, true) => "declined",
            (_, _, true) => "cancelled or declined",
            (0, _, false) => "キャンセルされ",
            (_, 0, false) => "辞退され",
            (_, _, false) => "キャンセルまたは辞退され",
        };
        match (self.locale, run.len()) {
            (Locale::En, 1) => format!(
                "The 1on1 with {n} on {d} was {} and not made up: reschedule it.",
                how(true)
            ),
            (Locale::En, k) => format!(
                "{k} 1on1s in a row with {n} were {} and not made up ({d}): reschedule one soon.",
                how(true)
            ),
            (Locale::Ja, 1) => format!(
                "{d}の{n}さんとの1on1は{}、振り替えられていません。再設定しましょう。",
                how(false)
            ),
            (Locale::Ja, k) => format!(
                "{n}さんとの1on1が{k}回続けて{}、振り替えられていません（{d}）。早めに再設定しましょう。",
                how(false)
            ),
        }
    }

    pub fn uneven(&self, per_30d: f64, median: f64) -> String {
        let n = self.name;
        match self.locale {
            Locale::En => format!(
                "{n} gets {per_30d:.1} 1on1s per 30 days, far below the team median of {median:.1}: meet {n} more often."
            ),
            Locale::Ja => format!(
                "{n}さんとの1on1は30日あたり{per_30d:.1}回で、チームの中央値（{median:.1}回）を大きく下回っています。頻度を上げましょう。"
            ),
        }
    }

    pub fn irregular(&self, shortest: f64, longest: f64) -> String {
        let n = self.name;
        match self.locale {
            Locale::En => format!(
                "1on1s with {n} are irregular (gaps from {} to {} days): keep them on a fixed rhythm.",
                num(shortest),
                num(longest)
            ),
            Locale::Ja => format!(
                "{n}さんとの1on1の間隔が不規則です（{}〜{}日）。一定のリズムで実施しましょう。",
                num(shortest),
                num(longest)
            ),
        }
    }

    /// `ended`: the last occurrence is already past (nothing has followed it).
    pub fn series_ending(&self, last: DateTime<Utc>, ended: bool) -> String {
        let (n, d) = (self.name, self.date(last));
        match (self.locale, ended) {
            (Locale::En, false) => {
                format!("The recurring 1on1 with {n} ends on {d} and nothing follows: extend it.")
            }
            (Locale::En, true) => format!(
                "The recurring 1on1 with {n} ended on {d} and nothing is scheduled: set up the next one."
            ),
            (Locale::Ja, false) => format!(
                "{n}さんとの定例1on1は{d}で終了し、その後の予定がありません。延長しましょう。"
            ),
            (Locale::Ja, true) => format!(
                "{n}さんとの定例1on1は{d}で終了し、予定がありません。次の1on1を設定しましょう。"
            ),
        }
    }
}

/// `one` for 1 (and −1), else `many`.
pub fn plural<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n.abs() == 1 { one } else { many }
}
