//! What the combiner knows of each client's import into Patriot (`combiner.md` §2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    /// Uploaded, not yet confirmed by Patriot.
    PendingImport,
    /// Patriot's results file confirmed it.
    Imported,
    /// Uploaded, and Patriot's results did not confirm it.
    Failed,
}

/// One client's entry in the state file, keyed there by its Patriot `__id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    pub status: ImportStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_batch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<u32>,
    #[serde(default)]
    pub attempts: u32,
}

/// The whole state file: `__id` → record.
pub type ImportState = BTreeMap<String, ImportRecord>;

/// The status of every client of one tenant that the state file knows, by client id.
pub type TenantStatuses = BTreeMap<u32, ImportStatus>;

/// The client id and the port of a Patriot `__id`: the id is the client id followed by the
/// port, and ports start with a letter, so the leading digits are the client id. `None` for
/// ids of any other shape.
pub fn split_patriot_id(patriot_id: &str) -> Option<(u32, &str)> {
    let digits = patriot_id.bytes().take_while(u8::is_ascii_digit).count();
    let (id, port) = patriot_id.split_at(digits);
    match (id.parse::<u32>(), port.is_empty()) {
        (Ok(id), false) => Some((id, port)),
        _ => None,
    }
}

/// How the combiner's last run went, for the API's metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// When it ran (RFC 3339).
    pub at: String,
    pub ok: bool,
    /// The summary line of the run log.
    pub summary: String,
}

/// A file on the share as it was at one moment: enough to tell that it changed, whatever the
/// resolution of the share's clock (`combiner.md` §1.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFingerprint {
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (whole seconds over SMB).
    pub modified_ns: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

impl FileFingerprint {
    pub fn of(bytes: &[u8], modified: std::time::SystemTime) -> Self {
        Self {
            size: bytes.len() as u64,
            modified_ns: modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            sha256: sha256_hex(bytes),
        }
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// What this service uploaded last, and what Patriot's results file was at that moment: any
/// change of the results file since then is Patriot's answer to that upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// SHA-256 of the uploaded `clients.xml`, hex: tells whether the share still holds it.
    pub xml_sha256: String,
    /// The results file just before the upload; `None` when there was none.
    pub results_before: Option<FileFingerprint>,
}

/// Which clients a listing of imports shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFilter {
    /// Clients the state file does not know: never uploaded.
    NotSent,
    Status(ImportStatus),
}

/// One client of a listing, with the state file's record of it (`None`: not sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportEntry {
    pub id: super::fields::ClientId,
    pub record: Option<ImportRecord>,
}

/// One page of a tenant's clients with their import state, by client id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImportPage {
    pub entries: Vec<ImportEntry>,
    /// The last id of this page when more follow.
    pub next_after: Option<super::fields::ClientId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patriot_id_is_the_client_id_then_the_port() {
        assert_eq!(split_patriot_id("9998BASE11"), Some((9998, "BASE11")));
        assert_eq!(split_patriot_id("1B"), Some((1, "B")));
        assert_eq!(split_patriot_id("9998"), None, "no port");
        assert_eq!(split_patriot_id("BASE11"), None, "no id");
        assert_eq!(split_patriot_id("99999999999BASE11"), None, "beyond u32");
        assert_eq!(split_patriot_id(""), None);
    }
}
