//! The state file as the combiner keeps it: read whole, replaced atomically.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::adapters::fs_xml::write_atomically;
use crate::domain::import_state::{ImportState, LastRun, UploadRecord};
use crate::ports::{ImportStateStore, IoFailure};

/// Where the combiner records its last run, in `READY_DIR`.
pub const LAST_RUN_FILE: &str = "last_run.json";
/// Where the combiner records its last upload, in `READY_DIR`.
pub const LAST_UPLOAD_FILE: &str = "last_upload.json";

pub struct StateFileStore {
    path: PathBuf,
    last_run: PathBuf,
    last_upload: PathBuf,
}

impl StateFileStore {
    /// `path` is `CLIENT_STATE_FILE`; the run and upload records go to `ready_dir`.
    pub fn new(path: PathBuf, ready_dir: &std::path::Path) -> Self {
        Self {
            path,
            last_run: ready_dir.join(LAST_RUN_FILE),
            last_upload: ready_dir.join(LAST_UPLOAD_FILE),
        }
    }
}

async fn write_json<T: serde::Serialize>(
    path: &std::path::Path,
    value: &T,
) -> Result<(), IoFailure> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| IoFailure::Failed(e.to_string()))?;
    bytes.push(b'\n');
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
        .await
        .map_err(|e| IoFailure::Failed(e.to_string()))?
        .map_err(IoFailure::from)
}

#[async_trait]
impl ImportStateStore for StateFileStore {
    async fn load(&self) -> Result<ImportState, IoFailure> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                IoFailure::Failed(format!("{} is not a valid state file: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ImportState::new()),
            Err(e) => Err(e.into()),
        })
        .await
        .map_err(|e| IoFailure::Failed(e.to_string()))?
    }

    async fn save(&self, state: &ImportState) -> Result<(), IoFailure> {
        write_json(&self.path, state).await
    }

    async fn save_last_run(&self, run: &LastRun) -> Result<(), IoFailure> {
        write_json(&self.last_run, run).await
    }

    async fn load_upload(&self) -> Result<Option<UploadRecord>, IoFailure> {
        let path = self.last_upload.clone();
        tokio::task::spawn_blocking(move || match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes)
                .inspect_err(|e| {
                    tracing::warn!(file = %path.display(), error = %e,
                        "the upload record is unreadable; the import is judged by times");
                })
                .ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        })
        .await
        .map_err(|e| IoFailure::Failed(e.to_string()))?
    }

    async fn save_upload(&self, record: &UploadRecord) -> Result<(), IoFailure> {
        write_json(&self.last_upload, record).await
    }
}
