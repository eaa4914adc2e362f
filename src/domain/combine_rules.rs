//! The combine rules as pure functions: joining rows, reading Patriot's results, moving
//! each client's import state along (`combiner.md`).

use std::collections::{HashMap, HashSet};
use std::io::Write;

use chrono::{DateTime, FixedOffset};

use super::import_state::{FileFingerprint, ImportRecord, ImportState, ImportStatus, UploadRecord};
use super::rows::Row;

/// The phrase of a results line that confirms a client.
const SUCCESS: &str = "Completed processing client";

/// The rows of one claimed file.
#[derive(Debug, Clone)]
pub struct BatchFile {
    pub rel_path: String,
    pub rows: Vec<Row>,
}

/// Joins rows under one `<Clients>` root: one row per `__id`, the newest file winning (files
/// come oldest first), each id where it first appeared. Returns the document and its ids.
pub fn combine(files: &[BatchFile]) -> (Vec<u8>, Vec<String>) {
    let mut order: Vec<&str> = Vec::new();
    let mut newest: HashMap<&str, &Row> = HashMap::new();
    for row in files.iter().flat_map(|f| &f.rows) {
        if newest.insert(row.id.as_str(), row).is_none() {
            order.push(row.id.as_str());
        }
    }
    let size = newest.values().map(|r| r.bytes.len() + 3).sum::<usize>() + 64;
    let mut doc = Vec::with_capacity(size);
    // Rows are copied byte for byte; writing into a Vec cannot fail.
    let _ = doc.write_all(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Clients>\n");
    for id in &order {
        if let Some(row) = newest.get(id) {
            let _ = doc.write_all(b"  ");
            let _ = doc.write_all(&row.bytes);
            let _ = doc.write_all(b"\n");
        }
    }
    let _ = doc.write_all(b"</Clients>\n");
    (doc, order.into_iter().map(str::to_owned).collect())
}

/// The ids that Patriot confirmed: whole words of the lines that report success.
pub fn confirmed_ids(results: &str) -> HashSet<&str> {
    results
        .lines()
        .filter(|line| line.contains(SUCCESS))
        .flat_map(|line| line.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|word| !word.is_empty())
        .collect()
}

/// The name the share's current `clients.xml` is rotated to; `attempt` 0 is the plain name,
/// then `_1`, `_2`, … for names already taken.
pub fn rotation_name(now: DateTime<FixedOffset>, attempt: usize) -> String {
    let stamp = now.format("%Y%m%d_%H%M%S");
    match attempt {
        0 => format!("clients_{stamp}.xml"),
        n => format!("clients_{stamp}_{n}.xml"),
    }
}

/// The tenant and client a per-client file belongs to, from its path `<key_name>/<id>.xml`.
pub fn owner_of(rel_path: &str) -> Option<(String, u32)> {
    let (folder, file) = rel_path.rsplit_once('/')?;
    let key_name = folder.rsplit('/').next()?;
    let id = file.strip_suffix(".xml")?.parse().ok()?;
    Some((key_name.to_owned(), id))
}

/// An id that Patriot did not confirm, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    pub id: String,
    pub reason: &'static str,
}

/// What the share says about the file uploaded last.
pub struct LastImport<'a> {
    /// The `__id`s of the share's current `clients.xml`.
    pub uploaded: &'a [String],
    /// Patriot's results, when the results file is its answer to that `clients.xml`
    /// ([`results_answer_upload`]).
    pub results: Option<&'a str>,
    /// This run is about to rotate the file away.
    pub rotating: bool,
    /// The ids of this run's batch (sent again, so not failed by the rotation).
    pub next_batch: &'a HashSet<String>,
}

fn set_failed(
    state: &mut ImportState,
    id: &str,
    reason: &'static str,
    out: &mut Vec<ImportFailure>,
) {
    let record = state.entry(id.to_owned()).or_insert_with(|| ImportRecord {
        status: ImportStatus::PendingImport,
        last_batch: None,
        key_name: None,
        client_id: None,
        attempts: 0,
    });
    // Logged when it becomes failed, so at most once per batch.
    if record.status != ImportStatus::Failed {
        record.status = ImportStatus::Failed;
        out.push(ImportFailure {
            id: id.to_owned(),
            reason,
        });
    }
}

/// Moves the state of the last upload's ids along; returns the ids that became `failed`.
/// Whether the share's results file is Patriot's answer to the share's `clients.xml`
/// (`combiner.md` §1.6). For a `clients.xml` this service uploaded (its digest is the one
/// recorded), any change of the results file since the upload counts, whatever the clocks
/// say: Patriot often answers within the second of the upload, and SMB times are whole
/// seconds. For any other `clients.xml` (uploaded by something else, or the record is lost),
/// the results file must be strictly newer than it.
pub fn results_answer_upload(
    record: Option<&UploadRecord>,
    xml_sha256: &str,
    xml_modified: std::time::SystemTime,
    results: Option<&FileFingerprint>,
) -> bool {
    let Some(results) = results else {
        return false;
    };
    match record {
        Some(record) if record.xml_sha256 == xml_sha256 => {
            record.results_before.as_ref() != Some(results)
        }
        _ => {
            let xml_ns = xml_modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
            results.modified_ns > xml_ns
        }
    }
}

pub fn check_last_import(state: &mut ImportState, last: &LastImport<'_>) -> Vec<ImportFailure> {
    let mut failures = Vec::new();
    match last.results {
        Some(results) => {
            let confirmed = confirmed_ids(results);
            for id in last.uploaded {
                if confirmed.contains(id.as_str()) {
                    let record = state.entry(id.clone()).or_insert_with(|| ImportRecord {
                        status: ImportStatus::Imported,
                        last_batch: None,
                        key_name: None,
                        client_id: None,
                        attempts: 0,
                    });
                    record.status = ImportStatus::Imported;
                    record.attempts = 0;
                } else {
                    set_failed(state, id, "not confirmed by Patriot", &mut failures);
                }
            }
        }
        None if last.rotating => {
            for id in last
                .uploaded
                .iter()
                .filter(|id| !last.next_batch.contains(*id))
            {
                set_failed(state, id, "not processed before rotation", &mut failures);
            }
        }
        None => {}
    }
    failures
}

/// Every id of an uploaded batch is now waiting for Patriot.
pub fn mark_uploaded(
    state: &mut ImportState,
    batch: &[(String, Option<(String, u32)>)],
    now: DateTime<FixedOffset>,
) {
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    for (id, owner) in batch {
        let record = state.entry(id.clone()).or_insert_with(|| ImportRecord {
            status: ImportStatus::PendingImport,
            last_batch: None,
            key_name: None,
            client_id: None,
            attempts: 0,
        });
        record.status = ImportStatus::PendingImport;
        record.last_batch = Some(stamp.clone());
        record.attempts += 1;
        if let Some((key_name, client_id)) = owner {
            record.key_name = Some(key_name.clone());
            record.client_id = Some(*client_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn row(id: &str, body: &str) -> Row {
        Row {
            id: id.into(),
            bytes: format!("<Client><__id>{id}</__id>{body}</Client>").into_bytes(),
        }
    }

    fn at() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2025, 1, 1, 12, 59, 0)
            .unwrap()
    }

    /// The decision of `combiner.md` §1.6, case by case.
    #[test]
    fn when_the_results_file_answers_an_upload() {
        use std::time::{Duration, UNIX_EPOCH};
        let second = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        let fp = |content: &[u8], s: u64| FileFingerprint::of(content, second(s));
        let ours = UploadRecord {
            xml_sha256: "ours".into(),
            results_before: Some(fp(b"earlier import", 50)),
        };
        let none_before = UploadRecord {
            xml_sha256: "ours".into(),
            results_before: None,
        };
        type Case<'a> = (
            &'a str,
            Option<&'a UploadRecord>,
            &'a str,
            u64,
            Option<FileFingerprint>,
            bool,
        );
        let cases: &[Case] = &[
            // what, record, digest of the share's clients.xml, its time, results now, answered
            (
                "no results file at all",
                Some(&ours),
                "ours",
                100,
                None,
                false,
            ),
            (
                "results unchanged since the upload",
                Some(&ours),
                "ours",
                100,
                Some(fp(b"earlier import", 50)),
                false,
            ),
            (
                "rewritten in the second of the upload",
                Some(&ours),
                "ours",
                100,
                Some(fp(b"new answer", 100)),
                true,
            ),
            (
                "same size, same second, other content",
                Some(&ours),
                "ours",
                100,
                Some(fp(b"earlier impor7", 50)),
                true,
            ),
            (
                "first results file ever, same second",
                Some(&none_before),
                "ours",
                100,
                Some(fp(b"x", 100)),
                true,
            ),
            // A clients.xml this service did not upload (or whose record is lost): times decide.
            (
                "not ours, results older",
                Some(&ours),
                "theirs",
                100,
                Some(fp(b"x", 99)),
                false,
            ),
            (
                "not ours, results in the same second",
                Some(&ours),
                "theirs",
                100,
                Some(fp(b"x", 100)),
                false,
            ),
            (
                "not ours, results newer",
                Some(&ours),
                "theirs",
                100,
                Some(fp(b"x", 101)),
                true,
            ),
            (
                "no record, results newer",
                None,
                "ours",
                100,
                Some(fp(b"x", 101)),
                true,
            ),
            (
                "no record, same second",
                None,
                "ours",
                100,
                Some(fp(b"x", 100)),
                false,
            ),
        ];
        for (what, record, digest, xml_secs, results, expected) in cases {
            assert_eq!(
                results_answer_upload(*record, digest, second(*xml_secs), results.as_ref()),
                *expected,
                "{what}"
            );
        }
    }

    #[test]
    fn newest_file_wins_and_each_id_appears_once() {
        let files = vec![
            BatchFile {
                rel_path: "A/1.xml".into(),
                rows: vec![row("1A", "old")],
            },
            BatchFile {
                rel_path: "A/2.xml".into(),
                rows: vec![row("2A", "two")],
            },
            BatchFile {
                rel_path: "B/1.xml".into(),
                rows: vec![row("1A", "new")],
            },
        ];
        let (doc, ids) = combine(&files);
        let doc = String::from_utf8(doc).unwrap();
        assert_eq!(ids, ["1A", "2A"]);
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Clients>\n  <Client><__id>1A</__id>new</Client>\n  <Client><__id>2A</__id>two</Client>\n</Clients>\n"
        );
        let rows = crate::domain::rows::read_rows(doc.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn results_confirm_whole_words_only() {
        let results = "2025-01-01 Completed processing client 9998BASE11\n\
                       Completed processing client 19998BASE11x\n\
                       Error processing client 7BASE11\n\
                       Completed processing client(5BASE11)";
        let ok = confirmed_ids(results);
        assert!(ok.contains("9998BASE11"));
        assert!(ok.contains("5BASE11"));
        assert!(!ok.contains("998BASE11"));
        assert!(!ok.contains("7BASE11"));
        assert!(!ok.contains("19998BASE11"));
    }

    #[test]
    fn rotation_names() {
        assert_eq!(rotation_name(at(), 0), "clients_20250101_125900.xml");
        assert_eq!(rotation_name(at(), 2), "clients_20250101_125900_2.xml");
    }

    #[test]
    fn owners_come_from_the_path() {
        assert_eq!(owner_of("Alarm24/9998.xml"), Some(("Alarm24".into(), 9998)));
        assert_eq!(owner_of("x/Alarm24/1.xml"), Some(("Alarm24".into(), 1)));
        assert_eq!(owner_of("9998.xml"), None);
        assert_eq!(owner_of("A/abc.xml"), None);
    }

    #[test]
    fn results_move_the_state_and_failures_are_reported_once() {
        let mut state = ImportState::new();
        let batch = vec![
            ("1A".to_string(), Some(("A".to_string(), 1))),
            ("2A".to_string(), Some(("A".to_string(), 2))),
        ];
        mark_uploaded(&mut state, &batch, at());
        assert_eq!(state["1A"].attempts, 1);
        assert_eq!(
            state["1A"].last_batch.as_deref(),
            Some("2025-01-01T12:59:00+01:00")
        );
        let uploaded = vec!["1A".to_string(), "2A".to_string(), "3X".to_string()];
        let none = HashSet::new();
        let last = LastImport {
            uploaded: &uploaded,
            results: Some("Completed processing client 1A"),
            rotating: false,
            next_batch: &none,
        };
        let failed = check_last_import(&mut state, &last);
        assert_eq!(
            failed.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
            ["2A", "3X"]
        );
        assert_eq!(state["1A"].status, ImportStatus::Imported);
        assert_eq!(state["1A"].attempts, 0);
        assert_eq!(state["2A"].status, ImportStatus::Failed);
        assert_eq!(state["2A"].key_name.as_deref(), Some("A"));
        assert_eq!(
            state["3X"].status,
            ImportStatus::Failed,
            "unknown ids are added"
        );
        // The same results seen again log nothing new.
        assert!(check_last_import(&mut state, &last).is_empty());
    }

    #[test]
    fn unprocessed_ids_fail_only_when_rotated_away_without_being_resent() {
        let mut state = ImportState::new();
        let uploaded = vec!["1A".to_string(), "2A".to_string()];
        let next: HashSet<String> = ["2A".to_string()].into();
        let mut last = LastImport {
            uploaded: &uploaded,
            results: None,
            rotating: false,
            next_batch: &next,
        };
        assert!(check_last_import(&mut state, &last).is_empty());
        last.rotating = true;
        let failed = check_last_import(&mut state, &last);
        assert_eq!(
            failed,
            vec![ImportFailure {
                id: "1A".into(),
                reason: "not processed before rotation"
            }]
        );
        assert!(!state.contains_key("2A"));
    }
}

#[cfg(test)]
mod properties {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::domain::rows::read_rows;

    proptest! {
        /// Whatever the files hold, the result has one row per id: the one of the newest file.
        #[test]
        fn one_row_per_id_the_newest(files in proptest::collection::vec(
            proptest::collection::vec((0u8..6, 0u32..1000), 1..4), 0..12)) {
            let batch: Vec<BatchFile> = files.iter().enumerate().map(|(n, rows)| BatchFile {
                rel_path: format!("T/{n}.xml"),
                rows: rows.iter().map(|(id, v)| Row {
                    id: format!("{id}P"),
                    bytes: format!("<Client><__id>{id}P</__id><V>{n}-{v}</V></Client>").into_bytes(),
                }).collect(),
            }).collect();
            let mut newest: HashMap<String, Vec<u8>> = HashMap::new();
            for file in &batch {
                for row in &file.rows {
                    newest.insert(row.id.clone(), row.bytes.clone());
                }
            }
            let (doc, ids) = combine(&batch);
            let rows = read_rows(&doc).unwrap();
            prop_assert_eq!(rows.len(), newest.len());
            prop_assert_eq!(ids.len(), newest.len());
            for row in rows {
                prop_assert_eq!(&row.bytes, &newest[&row.id]);
            }
        }
    }
}
