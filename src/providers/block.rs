//! cadenced's delimited block in an event's description (docs/design.md, Writing to calendars),
//! shared by the three linkers of `write.rs` (Google's description, Graph's text body, CalDAV's
//! DESCRIPTION).
//!
//! Invariants: [`add`] only appends (a separator and the block) and never touches a byte of what
//! was there; [`remove`] takes away exactly what [`add`] appended, so `remove(add(d)) == d` for
//! every description `d`; [`find`] recognizes the block on later runs whatever the link inside.

/// The first line of the block.
pub const BEGIN: &str = "-- cadenced agenda --";
/// The last line of the block.
pub const END: &str = "-- end of cadenced agenda --";
/// What separates the block from a non-empty description before it.
const SEP: &str = "\n\n";

/// The block for a link.
pub fn block(title: &str, url: &str) -> String {
    format!("{BEGIN}\n{title}\n{url}\n{END}")
}

/// The byte range of the block (with its separator when there is one), if present.
pub fn find(description: &str) -> Option<std::ops::Range<usize>> {
    let start = description.find(BEGIN)?;
    let end = description[start..].find(END)? + start + END.len();
    let start = if description[..start].ends_with(SEP) {
        start - SEP.len()
    } else {
        start
    };
    Some(start..end)
}

/// The URL inside the block, if present.
pub fn link_in(description: &str) -> Option<&str> {
    let r = find(description)?;
    description[r]
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("https://") || l.starts_with("http://"))
}

/// The description with the block appended (`None`: the event had no description).
pub fn add(description: Option<&str>, block: &str) -> String {
    match description {
        Some(d) if !d.is_empty() => format!("{d}{SEP}{block}"),
        _ => block.to_string(),
    }
}

/// The description without the block; `None` when nothing else is left (remove the field).
pub fn remove(description: &str) -> Option<String> {
    let r = find(description)?;
    let mut out = String::with_capacity(description.len());
    out.push_str(&description[..r.start]);
    out.push_str(&description[r.end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_undoes_add_exactly() {
        let b = block("Alice ⇄ Mika — 1on1", "https://x.example/a.md");
        for d in [
            "",
            "Plain text",
            "Ends with blank lines\n\n",
            "<b>HTML</b><br>Join Zoom Meeting\nhttps://zoom.us/j/1\n",
        ] {
            let added = add(Some(d), &b);
            assert!(added.starts_with(d));
            assert_eq!(remove(&added).as_deref(), Some(d));
            assert_eq!(link_in(&added), Some("https://x.example/a.md"));
        }
        assert_eq!(remove(&add(None, &b)).as_deref(), Some(""));
        assert_eq!(find("no block"), None);
    }
}
