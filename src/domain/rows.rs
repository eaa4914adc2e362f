//! Reading rows back from Patriot XML (`xml.md` §3): every child of the root that has an
//! `__id` child is a row, whatever it is called, and its bytes are kept exactly.

use quick_xml::events::Event;
use quick_xml::Reader;

/// One client row: its Patriot `__id` and its bytes as they stand in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub bytes: Vec<u8>,
}

/// Why a file could not be read as rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a well-formed XML document: {0}")]
pub struct RowError(String);

/// The rows of one document, in document order.
pub fn read_rows(xml: &[u8]) -> Result<Vec<Row>, RowError> {
    let mut reader = Reader::from_reader(xml);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.trim_text(false);

    let mut rows = Vec::new();
    let mut depth = 0usize;
    let mut seen_root = false;
    // Where the current child of the root starts, and its `__id` once seen.
    let mut row_start = 0usize;
    let mut row_id: Option<String> = None;
    let mut in_id = false;
    let mut id_text = String::new();
    let mut buf = Vec::new();
    loop {
        let before = reader.buffer_position() as usize;
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| RowError(format!("at byte {}: {e}", reader.error_position())))?;
        match event {
            Event::Start(e) => {
                if depth == 0 {
                    if seen_root {
                        return Err(RowError("more than one root element".into()));
                    }
                    seen_root = true;
                } else if depth == 1 {
                    row_start = before;
                    row_id = None;
                } else if depth == 2 && e.name().as_ref() == b"__id" {
                    in_id = true;
                    id_text.clear();
                }
                depth += 1;
            }
            Event::Empty(_) if depth == 0 => {
                if seen_root {
                    return Err(RowError("more than one root element".into()));
                }
                seen_root = true;
            }
            Event::Text(t) if in_id => {
                let text = t.unescape().map_err(|e| RowError(e.to_string()))?;
                id_text.push_str(&text);
            }
            Event::CData(t) if in_id => {
                id_text.push_str(&String::from_utf8_lossy(&t));
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if depth == 2 && in_id {
                    in_id = false;
                    let id = id_text.trim();
                    if !id.is_empty() && row_id.is_none() {
                        row_id = Some(id.to_owned());
                    }
                } else if depth == 1 {
                    if let Some(id) = row_id.take() {
                        let end = reader.buffer_position() as usize;
                        rows.push(Row {
                            id,
                            bytes: xml[row_start..end].to_vec(),
                        });
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return Err(RowError("no root element".into()));
    }
    if depth != 0 {
        return Err(RowError("the document ends inside an element".into()));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_their_bytes_whatever_their_name() {
        let xml = "<?xml version=\"1.0\"?>\n<Clients>\n  <Client>\n    <__id>1A</__id>\n    <Name>Ø &amp; x</Name>\n  </Client>\n  <Other><__id> 2B </__id><X/></Other>\n  <NoId><Name>skip</Name></NoId>\n  <Empty/>\n</Clients>\n";
        let rows = read_rows(xml.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "1A");
        assert_eq!(
            String::from_utf8(rows[0].bytes.clone()).unwrap(),
            "<Client>\n    <__id>1A</__id>\n    <Name>Ø &amp; x</Name>\n  </Client>"
        );
        assert_eq!(rows[1].id, "2B");
        assert_eq!(rows[1].bytes, b"<Other><__id> 2B </__id><X/></Other>");
    }

    #[test]
    fn an_id_deeper_down_does_not_make_a_row() {
        let xml = b"<Clients><Client><Users><__id>9</__id></Users></Client></Clients>";
        assert!(read_rows(xml).unwrap().is_empty());
    }

    #[test]
    fn broken_documents_are_errors() {
        for bad in [
            &b""[..],
            b"<Clients><Client><__id>1</__id></Client>",
            b"<Clients><Client><__id>1</__id></Wrong></Clients>",
            b"<a/><b/>",
            b"<Clients><Client><__id>1&bogus;</__id></Client></Clients>",
            b"not xml at all",
        ] {
            assert!(
                read_rows(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_bytes_give_rows_or_an_error_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_rows(&bytes);
        }

        #[test]
        fn any_markup_like_text_gives_rows_or_an_error(text in "[<>/a-zA-Z_ &;#\"=!?\\[\\]-]{0,200}") {
            let _ = read_rows(format!("<Clients>{text}</Clients>").as_bytes());
            let _ = read_rows(text.as_bytes());
        }

        #[test]
        fn rows_read_back_what_was_written(ids in proptest::collection::vec("[0-9]{1,5}[A-Z]{1,3}", 0..20)) {
            let body: String = ids.iter().map(|id| format!("<Client><__id>{id}</__id><X>&amp;</X></Client>")).collect();
            let rows = read_rows(format!("<Clients>{body}</Clients>").as_bytes()).unwrap();
            prop_assert_eq!(rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids);
        }
    }
}
