//! The state file as the combiner keeps it: read whole, replaced atomically.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::adapters::fs_xml::write_atomically;
use crate::domain::import_state::ImportState;
use crate::ports::{ImportStateStore, IoFailure};

pub struct StateFileStore {
    path: PathBuf,
}

impl StateFileStore {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }
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
        let mut bytes =
            serde_json::to_vec_pretty(state).map_err(|e| IoFailure::Failed(e.to_string()))?;
        bytes.push(b'\n');
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| IoFailure::Failed(e.to_string()))?
            .map_err(IoFailure::from)
    }
}
