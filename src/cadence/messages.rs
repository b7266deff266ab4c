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

    pub fn gap(&self, days: Option<f64>, expected: f64, next: Option<DateTime<Utc>>) -> String {
        let n = self.name;
        match (self.locale, days) {
            (Locale::En, Some(d)) => {
                format!(
                    "No 1on1 with {n} for {} days (expected every {}).",
                    d.floor() as i64,
                    num(expected)
                )
            }
            (Locale::Ja, Some(d)) => {
                format!(
                    "{n}さんとの1on1が{}日間ありません（想定: {}日ごと）。",
                    d.floor() as i64,
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

    pub fn no_series(&self, last: Option<DateTime<Utc>>, lookback_days: f64) -> String {
        let n = self.name;
        match (self.locale, last) {
            (Locale::En, Some(t)) => format!(
                "No 1on1 with {n} since {} and none scheduled: set up a recurring 1on1.",
                self.date(t)
            ),
            (Locale::En, None) => format!(
                "No 1on1 with {n} in the last {} days and none scheduled: set up a recurring 1on1.",
                num(lookback_days)
            ),
            (Locale::Ja, Some(t)) => {
                format!(
                    "{n}さんとの1on1は{}以降なく、予定もありません。定例の1on1を設定しましょう。",
                    self.date(t)
                )
            }
            (Locale::Ja, None) => format!(
                "{n}さんとの1on1は過去{}日間なく、予定もありません。定例の1on1を設定しましょう。",
                num(lookback_days)
            ),
        }
    }

    pub fn skipped(&self, at: DateTime<Utc>, declined: bool) -> String {
        let (n, d) = (self.name, self.date(at));
        match (self.locale, declined) {
            (Locale::En, true) => {
                format!("The 1on1 with {n} on {d} was declined and not made up: reschedule it.")
            }
            (Locale::En, false) => {
                format!("The 1on1 with {n} on {d} was cancelled and not made up: reschedule it.")
            }
            (Locale::Ja, true) => format!(
                "{d}の{n}さんとの1on1は辞退され、振り替えられていません。再設定しましょう。"
            ),
            (Locale::Ja, false) => format!(
                "{d}の{n}さんとの1on1はキャンセルされ、振り替えられていません。再設定しましょう。"
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

    pub fn series_ending(&self, last: DateTime<Utc>) -> String {
        let (n, d) = (self.name, self.date(last));
        match self.locale {
            Locale::En => {
                format!("The recurring 1on1 with {n} ends on {d} and nothing follows: extend it.")
            }
            Locale::Ja => format!(
                "{n}さんとの定例1on1は{d}で終了し、その後の予定がありません。延長しましょう。"
            ),
        }
    }
}
