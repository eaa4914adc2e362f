//! The state file held in memory compactly: the API reads it on every request, and with
//! 100,000 clients a map of `String` → record with three strings each took about 80 MB (and
//! twice that while a new version was parsed next to the old one). Here each client is one
//! small fixed-size entry under its tenant's port, the texts it repeats (batch times and key
//! names: a handful of distinct values) are stored once, and the file is parsed entry by
//! entry into this form, never as a whole map.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::Deserializer;

use crate::domain::import_state::{split_patriot_id, ImportRecord, ImportStatus, TenantStatuses};

/// One record without its id (the map key) and with its texts as indexes into
/// [`Compact::texts`] (0: none).
#[derive(Debug, Clone, Copy)]
struct Packed {
    status: ImportStatus,
    attempts: u32,
    last_batch: u32,
    key_name: u32,
    client_id: Option<u32>,
}

/// The records of the clients of one port.
#[derive(Debug, Default)]
struct PortRecords {
    /// Handed out whole to listings, which filter by status.
    statuses: Arc<TenantStatuses>,
    records: BTreeMap<u32, Packed>,
}

/// The whole state file.
#[derive(Debug, Default)]
pub struct Compact {
    /// Index `i` is text `i + 1` of a [`Packed`].
    texts: Vec<Arc<str>>,
    ports: HashMap<String, PortRecords>,
    /// Ids that are not a client id followed by a port: kept as they are (none are expected).
    others: BTreeMap<String, ImportRecord>,
}

impl Compact {
    /// Parses a state file's JSON (an object of `__id` → record) one entry at a time.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let compact = Builder::default().deserialize(&mut de)?;
        de.end()?;
        Ok(compact)
    }

    /// The record of one `__id`.
    pub fn record(&self, patriot_id: &str) -> Option<ImportRecord> {
        match split_patriot_id(patriot_id) {
            Some((id, port)) => {
                let packed = self.ports.get(port)?.records.get(&id)?;
                Some(self.unpack(packed))
            }
            None => self.others.get(patriot_id).cloned(),
        }
    }

    /// The status of each client of one port, by client id.
    pub fn statuses(&self, port: &str) -> Arc<TenantStatuses> {
        self.ports
            .get(port)
            .map(|p| p.statuses.clone())
            .unwrap_or_default()
    }

    /// Every record whose status is `failed`, with its `__id`.
    pub fn failed(&self) -> Vec<(String, ImportRecord)> {
        let packed = self.ports.iter().flat_map(|(port, records)| {
            records
                .records
                .iter()
                .filter(|(_, p)| p.status == ImportStatus::Failed)
                .map(move |(id, p)| (format!("{id}{port}"), self.unpack(p)))
        });
        let others = self
            .others
            .iter()
            .filter(|(_, r)| r.status == ImportStatus::Failed)
            .map(|(id, r)| (id.clone(), r.clone()));
        packed.chain(others).collect()
    }

    fn text(&self, index: u32) -> Option<String> {
        let i = usize::try_from(index).ok()?.checked_sub(1)?;
        self.texts.get(i).map(|t| t.to_string())
    }

    fn unpack(&self, p: &Packed) -> ImportRecord {
        ImportRecord {
            status: p.status,
            last_batch: self.text(p.last_batch),
            key_name: self.text(p.key_name),
            client_id: p.client_id,
            attempts: p.attempts,
        }
    }
}

/// Builds a [`Compact`] while the file is parsed.
#[derive(Default)]
struct Builder {
    compact: Compact,
    interned: HashMap<Arc<str>, u32>,
    statuses: HashMap<String, TenantStatuses>,
}

impl Builder {
    fn intern(&mut self, text: Option<String>) -> u32 {
        let Some(text) = text else { return 0 };
        if let Some(&index) = self.interned.get(text.as_str()) {
            return index;
        }
        let text: Arc<str> = text.into();
        self.compact.texts.push(text.clone());
        let index = u32::try_from(self.compact.texts.len()).unwrap_or(u32::MAX);
        self.interned.insert(text, index);
        index
    }

    fn add(&mut self, patriot_id: String, record: ImportRecord) {
        let Some((id, port)) = split_patriot_id(&patriot_id) else {
            self.compact.others.insert(patriot_id, record);
            return;
        };
        let packed = Packed {
            status: record.status,
            attempts: record.attempts,
            last_batch: self.intern(record.last_batch),
            key_name: self.intern(record.key_name),
            client_id: record.client_id,
        };
        self.statuses
            .entry(port.to_owned())
            .or_default()
            .insert(id, record.status);
        self.compact
            .ports
            .entry(port.to_owned())
            .or_default()
            .records
            .insert(id, packed);
    }

    fn finish(mut self) -> Compact {
        for (port, statuses) in self.statuses {
            if let Some(records) = self.compact.ports.get_mut(&port) {
                records.statuses = Arc::new(statuses);
            }
        }
        self.compact
    }
}

impl<'de> DeserializeSeed<'de> for Builder {
    type Value = Compact;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Compact, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Builder {
    type Value = Compact;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of Patriot ids and their import records")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Compact, A::Error> {
        while let Some((patriot_id, record)) = map.next_entry::<String, ImportRecord>()? {
            self.add(patriot_id, record);
        }
        Ok(self.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::import_state::ImportState;

    const FILE: &str = r#"{
        "1BASE11": {"status": "imported", "last_batch": "2025-01-01T12:59:00+01:00", "key_name": "A", "client_id": 1, "attempts": 0},
        "2BASE11": {"status": "failed", "last_batch": "2025-01-01T13:59:00+01:00", "key_name": "A", "client_id": 2, "attempts": 2},
        "2BASE22": {"status": "failed", "last_batch": "2025-01-01T13:59:00+01:00", "client_id": 2},
        "7BASE22": {"status": "pending_import"},
        "odd-id": {"status": "failed", "attempts": 1}
    }"#;

    /// Every record reads back as the plain parse has it; statuses are grouped by port.
    #[test]
    fn reads_back_what_the_plain_parse_reads() {
        let plain: ImportState = serde_json::from_str(FILE).unwrap();
        let compact = Compact::from_json(FILE.as_bytes()).unwrap();
        for (id, record) in &plain {
            assert_eq!(compact.record(id).as_ref(), Some(record), "{id}");
        }
        assert_eq!(compact.record("3BASE11"), None);
        assert_eq!(compact.record("1BASE99"), None);
        let base11: TenantStatuses =
            [(1, ImportStatus::Imported), (2, ImportStatus::Failed)].into();
        assert_eq!(*compact.statuses("BASE11"), base11);
        let base22: TenantStatuses =
            [(2, ImportStatus::Failed), (7, ImportStatus::PendingImport)].into();
        assert_eq!(*compact.statuses("BASE22"), base22);
        assert!(compact.statuses("NONE").is_empty());
        let mut failed = compact.failed();
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        let expected: Vec<(String, ImportRecord)> = plain
            .into_iter()
            .filter(|(_, r)| r.status == ImportStatus::Failed)
            .collect();
        assert_eq!(failed, expected);
    }

    /// Repeated texts are stored once.
    #[test]
    fn repeated_texts_are_stored_once() {
        let compact = Compact::from_json(FILE.as_bytes()).unwrap();
        assert_eq!(compact.texts.len(), 3, "{:?}", compact.texts);
    }

    #[test]
    fn what_the_plain_parse_refuses_is_refused() {
        for bad in [
            "[]",
            "{\"1A\": {}}",
            "{\"1A\": {\"status\": \"lost\"}}",
            "{\"1A\": {\"status\": \"failed\"}} x",
            "{\"1A\": ",
        ] {
            assert!(Compact::from_json(bad.as_bytes()).is_err(), "{bad}");
            assert!(serde_json::from_str::<ImportState>(bad).is_err(), "{bad}");
        }
    }
}
