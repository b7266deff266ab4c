//! iCalendar feeds (`provider = "ics"`): reading a file or URL into normalized events.
// TEMPORARY stub until the parser lands.

pub mod fetch;

pub use fetch::FeedSource;

use crate::model::Event;

pub struct ParsedFeed {
    pub events: Vec<Event>,
    pub skipped: Vec<SkippedItem>,
}

pub struct SkippedItem {
    pub line: usize,
    pub uid: Option<String>,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IcsError {
    #[error("{source_name}: empty")]
    Empty { source_name: String },
}

pub fn parse_feed(_text: &[u8], source: &str, _calendar: &str) -> Result<ParsedFeed, IcsError> {
    Err(IcsError::Empty {
        source_name: source.to_string(),
    })
}
