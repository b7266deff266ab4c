//! The smallest Word document that Word for the web opens and edits, and the two operations the
//! OneDrive store needs on any `.docx` (whoever last saved it): reading its text, one line per
//! paragraph, and inserting new paragraphs before the first paragraph of a given text.
//!
//! Invariants: [`insert_before`] copies every other part of the package unchanged (raw copies,
//! not even recompressed) and adds paragraphs to `word/document.xml` without touching any of the
//! existing ones; [`text`] of a document written by [`new_document`] gives back its lines.

use std::io::{Cursor, Read, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

const DOCUMENT: &str = "word/document.xml";
const W_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";

#[derive(Debug, thiserror::Error)]
pub enum DocxError {
    #[error("not a Word document: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("not a Word document: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a Word document: {0}")]
    Shape(&'static str),
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `<w:p>` elements, one per line of `text`.
fn paragraphs(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                "<w:p/>".to_string()
            } else {
                format!(
                    "<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>",
                    escape(l)
                )
            }
        })
        .collect()
}

/// A new `.docx` holding `text`, one paragraph per line.
pub fn new_document(text: &str) -> Result<Vec<u8>, DocxError> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let parts: [(&str, String); 3] = [
        (
            "[Content_Types].xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>".to_string(),
        ),
        (
            "_rels/.rels",
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>".to_string(),
        ),
        (
            DOCUMENT,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<w:document xmlns:w=\"{W_NS}\"><w:body>{}<w:sectPr/></w:body></w:document>",
                paragraphs(text)
            ),
        ),
    ];
    for (name, content) in parts {
        w.start_file(name, opts)?;
        w.write_all(content.as_bytes())?;
    }
    Ok(w.finish()?.into_inner())
}

fn document_xml(docx: &[u8]) -> Result<String, DocxError> {
    let mut zip = ZipArchive::new(Cursor::new(docx))?;
    let mut f = zip.by_name(DOCUMENT)?;
    let mut xml = String::new();
    f.read_to_string(&mut xml)?;
    Ok(xml)
}

/// The paragraphs of a `<w:body>`: (byte range in the XML, text).
fn body_paragraphs(xml: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(rel) = xml[pos..].find("<w:p") {
        let start = pos + rel;
        let after = &xml[start + 4..];
        // `<w:p>` or `<w:p …>` or `<w:p/>`, not `<w:pPr>` and the like.
        let next = after.chars().next().unwrap_or(' ');
        if !(next == '>' || next == ' ' || next == '/') {
            pos = start + 4;
            continue;
        }
        let open_end = match xml[start..].find('>') {
            Some(e) => start + e + 1,
            None => break,
        };
        if xml[..open_end].ends_with("/>") {
            out.push((start..open_end, String::new()));
            pos = open_end;
            continue;
        }
        let end = match xml[open_end..].find("</w:p>") {
            Some(e) => open_end + e + "</w:p>".len(),
            None => break,
        };
        let inner = &xml[open_end..end];
        let mut text = String::new();
        let mut p = 0;
        while let Some(r) = inner[p..].find("<w:t") {
            let t = p + r;
            let c = inner[t + 4..].chars().next().unwrap_or(' ');
            let Some(gt) = inner[t..].find('>') else {
                break;
            };
            if (c == '>' || c == ' ') && !inner[..t + gt + 1].ends_with("/>") {
                let from = t + gt + 1;
                let Some(close) = inner[from..].find("</w:t>") else {
                    break;
                };
                text.push_str(&unescape(&inner[from..from + close]));
                p = from + close;
            } else {
                p = t + 4;
            }
        }
        out.push((start..end, text));
        pos = end;
    }
    out
}

/// The document's text, one line per paragraph.
pub fn text(docx: &[u8]) -> Result<String, DocxError> {
    let xml = document_xml(docx)?;
    let mut s = String::new();
    for (_, t) in body_paragraphs(&xml) {
        s.push_str(&t);
        s.push('\n');
    }
    Ok(s)
}

/// The document with `text`'s lines as new paragraphs before the first paragraph whose text
/// starts with `before` (or at the end of the body when there is none).
pub fn insert_before(docx: &[u8], before: &str, text: &str) -> Result<Vec<u8>, DocxError> {
    let xml = document_xml(docx)?;
    let at = match body_paragraphs(&xml)
        .into_iter()
        .find(|(_, t)| t.trim_start().starts_with(before))
    {
        Some((r, _)) => r.start,
        None => {
            let body_end = xml
                .rfind("</w:body>")
                .ok_or(DocxError::Shape("no w:body"))?;
            // Before the final section properties, which close the body.
            match xml[..body_end].rfind("<w:sectPr") {
                Some(s)
                    if xml[s..body_end].trim_end().ends_with("</w:sectPr>")
                        || xml[s..body_end].trim_end().ends_with("/>") =>
                {
                    s
                }
                _ => body_end,
            }
        }
    };
    let new_xml = format!("{}{}{}", &xml[..at], paragraphs(text), &xml[at..]);
    let mut src = ZipArchive::new(Cursor::new(docx))?;
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for i in 0..src.len() {
        let f = src.by_index_raw(i)?;
        if f.name()? == DOCUMENT {
            drop(f);
            w.start_file(DOCUMENT, opts)?;
            w.write_all(new_xml.as_bytes())?;
        } else {
            w.raw_copy_file(f)?;
        }
    }
    Ok(w.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_insert_keep_the_rest() {
        let doc =
            new_document("# Alice ⇄ Mika — 1on1\n\n<!-- cadenced:section x -->\n- [ ] a & b\n")
                .unwrap();
        assert_eq!(
            text(&doc).unwrap(),
            "# Alice ⇄ Mika — 1on1\n\n<!-- cadenced:section x -->\n- [ ] a & b\n"
        );
        let doc2 = insert_before(
            &doc,
            "<!-- cadenced:section",
            "<!-- cadenced:section y -->\nnew\n",
        )
        .unwrap();
        assert_eq!(
            text(&doc2).unwrap(),
            "# Alice ⇄ Mika — 1on1\n\n<!-- cadenced:section y -->\nnew\n<!-- cadenced:section x -->\n- [ ] a & b\n"
        );
        let appended = insert_before(&new_document("# T\n").unwrap(), "<!--", "s\n").unwrap();
        assert_eq!(text(&appended).unwrap(), "# T\ns\n");
    }
}
