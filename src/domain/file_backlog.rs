//! The XML files owed to answered writes, waiting for the file writer: at most one per
//! client (a later write replaces an earlier one's content, which is never written), and at
//! most [`BACKLOG_BYTES`] of content, so that a writer that falls behind slows the writes
//! down instead of holding their files in memory without end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::fields::ClientId;
use super::tenant::KeyName;
use crate::ports::OwedMark;

/// The most file content the backlog holds before writes wait for the writer. At 1–2 kB per
/// created client that is a few thousand files, a fraction of a second of writing.
pub const BACKLOG_BYTES: usize = 4 << 20;

/// One client's owed file: its content (`None`: the file goes) and the owed marks of every
/// write it stands for, to be cleared once the file is durable.
#[derive(Debug, PartialEq)]
pub struct OwedFile {
    pub tenant: KeyName,
    pub id: ClientId,
    /// Shared with the writer's batch, so a file given back keeps its content uncopied.
    pub xml: Option<Arc<Vec<u8>>>,
    pub marks: Vec<OwedMark>,
}

#[derive(Default)]
pub struct FileBacklog {
    files: Mutex<Files>,
}

/// A client's owed content and the marks it stands for.
type Owed = (Option<Arc<Vec<u8>>>, Vec<OwedMark>);

#[derive(Default)]
struct Files {
    by_client: HashMap<(KeyName, ClientId), Owed>,
    bytes: usize,
    /// Files taken by the writer and not yet reported [`FileBacklog::done`]: still owed.
    taken: usize,
}

impl Files {
    fn add(
        &mut self,
        tenant: KeyName,
        id: ClientId,
        xml: Option<Arc<Vec<u8>>>,
        marks: Vec<OwedMark>,
    ) {
        let size = xml.as_ref().map_or(0, |x| x.len());
        let entry = self.by_client.entry((tenant, id)).or_default();
        self.bytes = self.bytes + size - entry.0.as_ref().map_or(0, |x| x.len());
        entry.0 = xml;
        entry.1.extend(marks);
    }
}

impl FileBacklog {
    /// Owes the client's file the content `xml` (the caller holds the client's turn, so this
    /// is its newest state).
    pub fn owe(&self, tenant: &KeyName, id: ClientId, xml: Option<Vec<u8>>, mark: OwedMark) {
        if let Ok(mut files) = self.files.lock() {
            files.add(tenant.clone(), id, xml.map(Arc::new), vec![mark]);
        }
    }

    /// Takes every owed file, for the writer.
    pub fn take(&self) -> Vec<OwedFile> {
        let Ok(mut files) = self.files.lock() else {
            return Vec::new();
        };
        files.bytes = 0;
        files.taken += files.by_client.len();
        files
            .by_client
            .drain()
            .map(|((tenant, id), (xml, marks))| OwedFile {
                tenant,
                id,
                xml,
                marks,
            })
            .collect()
    }

    /// Gives back a file the writer could not write. A newer content owed meanwhile wins;
    /// the marks of both stay owed.
    pub fn give_back(&self, file: OwedFile) {
        if let Ok(mut files) = self.files.lock() {
            let key = (file.tenant, file.id);
            match files.by_client.get_mut(&key) {
                Some((_, marks)) => marks.extend(file.marks),
                None => files.add(key.0, key.1, file.xml, file.marks),
            }
        }
    }

    /// The writer is done with `count` taken files: written, or given back.
    pub fn done(&self, count: usize) {
        if let Ok(mut files) = self.files.lock() {
            files.taken = files.taken.saturating_sub(count);
        }
    }

    /// Whether the client's file is owed (not yet taken by the writer).
    pub fn owes(&self, tenant: &KeyName, id: ClientId) -> bool {
        self.files
            .lock()
            .is_ok_and(|files| files.by_client.contains_key(&(tenant.clone(), id)))
    }

    /// How many files are owed, those the writer has taken included.
    pub fn owed_count(&self) -> usize {
        self.files
            .lock()
            .map_or(0, |files| files.by_client.len() + files.taken)
    }

    /// Whether the backlog has room for more content.
    pub fn has_room(&self) -> bool {
        self.files
            .lock()
            .is_ok_and(|files| files.bytes < BACKLOG_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> KeyName {
        KeyName::new("TenantA").unwrap()
    }

    fn id(n: i64) -> ClientId {
        ClientId::new(n).unwrap()
    }

    #[test]
    fn a_later_write_replaces_the_content_and_keeps_every_mark() {
        let backlog = FileBacklog::default();
        backlog.owe(&tenant(), id(1), Some(b"one".to_vec()), OwedMark(1));
        backlog.owe(&tenant(), id(2), Some(b"two".to_vec()), OwedMark(2));
        backlog.owe(&tenant(), id(1), None, OwedMark(3));
        assert_eq!(backlog.owed_count(), 2);
        assert!(backlog.owes(&tenant(), id(1)));
        let mut taken = backlog.take();
        taken.sort_by_key(|f| f.id);
        assert_eq!(
            taken,
            vec![
                OwedFile {
                    tenant: tenant(),
                    id: id(1),
                    xml: None,
                    marks: vec![OwedMark(1), OwedMark(3)]
                },
                OwedFile {
                    tenant: tenant(),
                    id: id(2),
                    xml: Some(Arc::new(b"two".to_vec())),
                    marks: vec![OwedMark(2)]
                },
            ]
        );
        assert_eq!(backlog.owed_count(), 2, "taken files are owed until done");
        assert!(!backlog.owes(&tenant(), id(1)));
        backlog.done(2);
        assert_eq!(backlog.owed_count(), 0);
    }

    #[test]
    fn a_file_given_back_does_not_replace_a_newer_one() {
        let backlog = FileBacklog::default();
        backlog.owe(&tenant(), id(1), Some(b"old".to_vec()), OwedMark(1));
        let taken = backlog.take().pop().unwrap();
        backlog.owe(&tenant(), id(1), Some(b"new".to_vec()), OwedMark(2));
        backlog.give_back(taken);
        let back = backlog.take().pop().unwrap();
        assert_eq!(back.xml, Some(Arc::new(b"new".to_vec())));
        assert_eq!(back.marks, vec![OwedMark(2), OwedMark(1)]);

        backlog.give_back(back);
        assert_eq!(
            backlog.take().pop().unwrap().xml,
            Some(Arc::new(b"new".to_vec()))
        );
    }

    #[test]
    fn room_runs_out_at_the_byte_bound_and_comes_back_when_taken() {
        let backlog = FileBacklog::default();
        backlog.owe(
            &tenant(),
            id(1),
            Some(vec![0; BACKLOG_BYTES - 1]),
            OwedMark(1),
        );
        assert!(backlog.has_room());
        backlog.owe(&tenant(), id(2), Some(vec![0; 1]), OwedMark(2));
        assert!(!backlog.has_room());
        // A replaced content no longer counts.
        backlog.owe(&tenant(), id(1), Some(vec![0; 10]), OwedMark(3));
        assert!(backlog.has_room());
        backlog.owe(&tenant(), id(1), Some(vec![0; BACKLOG_BYTES]), OwedMark(4));
        assert!(!backlog.has_room());
        backlog.take();
        assert!(backlog.has_room());
    }
}
