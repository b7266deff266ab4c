//! Fixtures for the iCalendar reader (inline strings) and a walk over the shared corpus.

use super::*;

/// Walks `/work/shared/corpus/ics` (or `$CADENCED_ICS_CORPUS`): every file outside `broken/`
/// must parse; files in `broken/` must fail or skip cleanly. Prints one line per file.
#[test]
#[ignore = "needs the shared corpus; run with --ignored"]
fn corpus() {
    let root =
        std::env::var("CADENCED_ICS_CORPUS").unwrap_or_else(|_| "/work/shared/corpus/ics".into());
    let root = std::path::Path::new(&root);
    if !root.exists() {
        eprintln!("corpus not found at {}", root.display());
        return;
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ics") {
                files.push(path);
            }
        }
    }
    files.sort();
    let (mut parsed, mut events, mut skipped, mut warnings, mut failed) = (0, 0, 0, 0, Vec::new());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.strip_prefix(root).unwrap().display().to_string();
        let broken = name.contains("broken/");
        match parse_feed(&bytes, &name, "corpus") {
            Ok(feed) => {
                parsed += 1;
                events += feed.events.len();
                skipped += feed.skipped.len();
                warnings += feed.warnings.len();
                println!(
                    "ok   {name}: {} events, {} skipped, {} warnings",
                    feed.events.len(),
                    feed.skipped.len(),
                    feed.warnings.len()
                );
                for s in &feed.skipped {
                    println!("     skipped line {} ({:?}): {}", s.line, s.uid, s.reason);
                }
                for w in &feed.warnings {
                    println!("     warning {name} line {}: {}", w.line, w.reason);
                }
            }
            Err(e) => {
                println!("ERR  {e}");
                if !broken {
                    failed.push(e.to_string());
                }
            }
        }
    }
    println!(
        "{} files: {parsed} parsed, {events} events, {skipped} skipped, {warnings} warnings; failures outside broken/: {failed:?}",
        files.len()
    );
    assert!(failed.is_empty(), "{failed:?}");
}

/// Prints the events of the file named by `$CADENCED_ICS_DUMP` as JSON lines (a debugging aid).
#[test]
#[ignore = "debugging aid; set CADENCED_ICS_DUMP=path and run with --ignored --nocapture"]
fn dump() {
    let Ok(path) = std::env::var("CADENCED_ICS_DUMP") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    match parse_feed(&bytes, &path, "dump") {
        Ok(feed) => {
            for e in &feed.events {
                println!("{}", serde_json::to_string(e).unwrap());
            }
            for s in &feed.skipped {
                println!("SKIPPED {s:?}");
            }
            for w in &feed.warnings {
                println!("WARNING {w:?}");
            }
        }
        Err(e) => println!("ERROR {e}"),
    }
}
