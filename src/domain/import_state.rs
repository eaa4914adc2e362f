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

/// How the combiner's last run went, for the API's metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// When it ran (RFC 3339).
    pub at: String,
    pub ok: bool,
    /// The summary line of the run log.
    pub summary: String,
}
