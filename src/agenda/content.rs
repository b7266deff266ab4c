//! The text of an agenda section (docs/design.md, Agenda documents), rendered with minijinja from the built-in English
//! or Japanese template (`templates/{en,ja}.md.j2`) or from the user's template file.
//!
//! Invariants: the section marker (see `carryover.rs`) is added by [`render_section`] itself, so
//! a user template can never break the recognition of sections; rendering is a pure function of
//! its [`SectionContext`] (the prompts rotate with the section's ordinal, not with the clock).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::carryover::{FollowUp, section_marker};
use crate::config::{AgendaTemplate, Locale};

const EN: &str = include_str!("templates/en.md.j2");
const JA: &str = include_str!("templates/ja.md.j2");

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("cannot read the agenda template {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("the agenda template {name} does not render: {reason}")]
    Render { name: String, reason: String },
}

/// A template ready to render sections.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    source: String,
}

impl Template {
    /// The configured template: the built-in one for `locale`, or the user's file.
    pub fn load(template: &AgendaTemplate, locale: Locale) -> Result<Template, ContentError> {
        match template {
            AgendaTemplate::Builtin => Ok(Template::builtin(locale)),
            AgendaTemplate::File(path) => {
                let source =
                    std::fs::read_to_string(path).map_err(|source| ContentError::Read {
                        path: path.clone(),
                        source,
                    })?;
                let t = Template {
                    name: path.display().to_string(),
                    source,
                };
                // Fail early (and once) on a template that does not even parse.
                t.env()?;
                Ok(t)
            }
        }
    }

    pub fn builtin(locale: Locale) -> Template {
        Template {
            name: format!("builtin:{}", locale.as_str()),
            source: match locale {
                Locale::En => EN,
                Locale::Ja => JA,
            }
            .to_string(),
        }
    }

    fn env(&self) -> Result<minijinja::Environment<'_>, ContentError> {
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.add_template("section", &self.source)
            .map_err(|e| self.error(e))?;
        Ok(env)
    }

    fn error(&self, e: minijinja::Error) -> ContentError {
        ContentError::Render {
            name: self.name.clone(),
            reason: e.to_string(),
        }
    }
}

/// A person as templates see them.
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    pub name: String,
    pub email: String,
}

/// The session as templates see it (times in the manager's zone).
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Short weekday in the template's language (`Tue`, `火`).
    pub weekday: String,
    /// `HH:MM`.
    pub start: String,
    pub end: String,
    /// IANA name of the manager's zone.
    pub timezone: String,
    pub title: String,
    /// RFC 3339 UTC.
    pub start_utc: String,
}

impl SessionView {
    pub fn new(
        title: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        zone: Tz,
        locale: Locale,
    ) -> Self {
        let (s, e) = (start.with_timezone(&zone), end.with_timezone(&zone));
        let weekday = match locale {
            Locale::En => s.format("%a").to_string(),
            Locale::Ja => {
                use chrono::Datelike;
                ["月", "火", "水", "木", "金", "土", "日"]
                    [s.weekday().num_days_from_monday() as usize]
                    .to_string()
            }
        };
        SessionView {
            date: s.format("%Y-%m-%d").to_string(),
            weekday,
            start: s.format("%H:%M").to_string(),
            end: e.format("%H:%M").to_string(),
            timezone: zone.name().to_string(),
            title: title.to_string(),
            start_utc: start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        }
    }
}

/// Where the previous section or document is.
#[derive(Debug, Clone, Serialize)]
pub struct PreviousView {
    pub label: String,
    /// A relative link (session mode: the previous document), or none (series mode: below).
    pub href: Option<String>,
}

/// The rotating prompts of one section.
#[derive(Debug, Clone, Serialize)]
pub struct Prompts {
    pub growth: String,
    pub wellbeing: String,
    pub manager: String,
    pub share: String,
}

/// Everything a section template can use.
#[derive(Debug, Clone, Serialize)]
pub struct SectionContext {
    pub report: PersonView,
    pub manager: PersonView,
    pub session: SessionView,
    pub previous: Option<PreviousView>,
    pub carried: Vec<FollowUp>,
    pub prompts: Prompts,
    /// 0 for the first section of a report, then 1, 2, … (the prompts rotate with it).
    pub ordinal: usize,
    pub locale: &'static str,
}

/// The marker line, then the rendered template, ending with one blank line so that the next
/// (older) section stays apart.
pub fn render_section(
    template: &Template,
    start: DateTime<Utc>,
    ctx: &SectionContext,
    key: &super::carryover::MarkerKey,
) -> Result<String, ContentError> {
    let env = template.env()?;
    let t = env.get_template("section").map_err(|e| template.error(e))?;
    let body = t
        .render(minijinja::Value::from_serialize(ctx))
        .map_err(|e| template.error(e))?;
    let mut out = section_marker(start, key);
    out.push('\n');
    out.push_str(body.trim_end_matches('\n'));
    out.push_str("\n\n");
    Ok(out)
}

/// The heading of a living document: "Alice ⇄ Mika — 1on1".
pub fn document_title(report: &str, manager: &str) -> String {
    format!("{report} ⇄ {manager} — 1on1")
}

/// The text of a new document: its title line and a blank line.
pub fn new_document(title: &str) -> String {
    format!("# {title}\n\n")
}

const EN_GROWTH: &[&str] = &[
    "What would you like to be doing a year from now?",
    "Which skill do you want to build next, and how can I help?",
    "What did you learn recently that you are proud of?",
    "Is there work you would like to take on that you are not getting?",
];
const EN_WELLBEING: &[&str] = &[
    "How is your workload this week, honestly?",
    "What is draining your energy lately?",
    "Is anything outside work making this period harder?",
    "When did you last feel really good about your work?",
];
const EN_MANAGER: &[&str] = &[
    "What is one thing I could do differently to support you?",
    "Is there a decision of mine you would have made differently?",
    "Do you get enough context from me to do your work?",
    "What should I stop doing?",
];
const EN_SHARE: &[&str] = &[
    "Something I am working on and what I find hard about it.",
    "A mistake I made recently and what I learned.",
    "What I am focusing on this month and why.",
    "Something I am looking forward to.",
];
const JA_GROWTH: &[&str] = &[
    "1年後にはどんな仕事をしていたいですか？",
    "次に伸ばしたいスキルは何ですか？私にできる支援は？",
    "最近学んだことで誇らしく思うことは？",
    "挑戦してみたいのにまだ機会がない仕事はありますか？",
];
const JA_WELLBEING: &[&str] = &[
    "今週の仕事量は正直なところどうですか？",
    "最近エネルギーを奪っているものは何ですか？",
    "仕事以外で大変なことはありませんか？",
    "最近、仕事で手応えを感じたのはいつですか？",
];
const JA_MANAGER: &[&str] = &[
    "支援のために私が変えられることを一つ挙げるなら？",
    "私の判断で、あなたなら違う選択をしたものはありますか？",
    "仕事に必要な背景情報は私から十分に届いていますか？",
    "私がやめたほうがいいことは何ですか？",
];
const JA_SHARE: &[&str] = &[
    "いま取り組んでいることと、難しいと感じている点。",
    "最近の失敗と、そこから学んだこと。",
    "今月力を入れていることと、その理由。",
    "楽しみにしていること。",
];

/// The prompts for the section with this ordinal (each list rotates at its own offset so the
/// combinations vary).
pub fn prompts(locale: Locale, ordinal: usize) -> Prompts {
    let pick = |list: &[&str], shift: usize| list[(ordinal + shift) % list.len()].to_string();
    let (g, w, m, s) = match locale {
        Locale::En => (EN_GROWTH, EN_WELLBEING, EN_MANAGER, EN_SHARE),
        Locale::Ja => (JA_GROWTH, JA_WELLBEING, JA_MANAGER, JA_SHARE),
    };
    Prompts {
        growth: pick(g, 0),
        wellbeing: pick(w, 1),
        manager: pick(m, 2),
        share: pick(s, 3),
    }
}
