//! The combiner's state file (`CLIENT_STATE_FILE`), read by the API.
//!
//! The file is parsed again only when its modification time or size changed, so a `GET`
//! does not pay for parsing the whole file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;

mod store;

pub use store::{StateFileStore, LAST_RUN_FILE};

use crate::domain::import_state::{ImportRecord, ImportState, LastRun};
use crate::ports::{ImportStateReader, IoFailure};

type Stamp = (SystemTime, u64);

pub struct StateFileReader {
    path: PathBuf,
    last_run: PathBuf,
    cache: Mutex<Option<(Stamp, Arc<ImportState>)>>,
}

impl StateFileReader {
    /// `path` is `CLIENT_STATE_FILE`; `last_run` the combiner's `READY_DIR/last_run.json`.
    pub fn new(path: PathBuf, last_run: PathBuf) -> Self {
        Self {
            path,
            last_run,
            cache: Mutex::new(None),
        }
    }

    /// The whole state; empty when the file does not exist.
    pub fn load(&self) -> Result<Arc<ImportState>, IoFailure> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Arc::new(ImportState::new()))
            }
            Err(e) => return Err(e.into()),
        };
        let stamp = (meta.modified()?, meta.len());
        if let Ok(cache) = self.cache.lock() {
            if let Some((cached, state)) = cache.as_ref() {
                if *cached == stamp {
                    return Ok(state.clone());
                }
            }
        }
        let bytes = std::fs::read(&self.path)?;
        let state: ImportState = serde_json::from_slice(&bytes).map_err(|e| {
            IoFailure::Failed(format!(
                "{} is not a valid state file: {e}",
                self.path.display()
            ))
        })?;
        let state = Arc::new(state);
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((stamp, state.clone()));
        }
        Ok(state)
    }
}

#[async_trait]
impl ImportStateReader for StateFileReader {
    async fn record(&self, patriot_id: &str) -> Result<Option<ImportRecord>, IoFailure> {
        Ok(self.load()?.get(patriot_id).cloned())
    }

    async fn all(&self) -> Result<Arc<ImportState>, IoFailure> {
        self.load()
    }

    async fn last_run(&self) -> Result<Option<LastRun>, IoFailure> {
        match std::fs::read(&self.last_run) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| IoFailure::Failed(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
