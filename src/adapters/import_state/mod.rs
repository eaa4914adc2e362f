//! The combiner's state file (`CLIENT_STATE_FILE`), read by the API.
//!
//! Requests never touch the disk for it: the parsed state is held in memory and a watcher
//! re-reads the file, off the async workers, when its modification time or size changed
//! (checked every [`WATCH_INTERVAL`]). A file that is not a regular file (a FIFO, a device)
//! is refused with a log line and the last good state stays, as it does for a file that does
//! not parse.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;

mod compact;
mod store;

pub use store::{StateFileStore, LAST_RUN_FILE};

use crate::adapters::regular_file::{self, Stamp};
use crate::domain::import_state::{ImportRecord, LastRun, TenantStatuses};
use crate::ports::{ImportStateReader, IoFailure};
use compact::Compact;

/// How often the watcher looks at the state file: how long a change may take to show.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(200);

pub struct StateFileReader {
    path: PathBuf,
    last_run: PathBuf,
    current: RwLock<Arc<Compact>>,
    /// The version of the file last looked at.
    seen: Mutex<Option<Seen>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    File(Option<Stamp>),
    Refused(String),
}

impl StateFileReader {
    /// `path` is `CLIENT_STATE_FILE`; `last_run` the combiner's `READY_DIR/last_run.json`.
    /// Reads the file once now (blocking: call it before serving, or off the runtime).
    pub fn new(path: PathBuf, last_run: PathBuf) -> Self {
        let reader = Self {
            path,
            last_run,
            current: RwLock::new(Arc::default()),
            seen: Mutex::new(None),
        };
        reader.refresh();
        reader
    }

    /// Re-reads the file when it changed. Blocking; a refusal is logged once per version of
    /// the file and keeps the last good state.
    pub fn refresh(&self) {
        let now = match regular_file::stamp(&self.path) {
            Ok(stamp) => Seen::File(stamp),
            Err(e) => Seen::Refused(e.to_string()),
        };
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.as_ref() == Some(&now) {
            return;
        }
        *seen = Some(now.clone());
        drop(seen);
        let state = match now {
            Seen::Refused(why) => return self.refused(&why),
            Seen::File(None) => Compact::default(),
            Seen::File(Some(_)) => match regular_file::read(&self.path) {
                Ok(None) => Compact::default(),
                Ok(Some(bytes)) => match Compact::from_json(&bytes) {
                    Ok(state) => state,
                    Err(e) => return self.refused(&format!("not a valid state file: {e}")),
                },
                Err(e) => return self.refused(&e.to_string()),
            },
        };
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(state);
        }
    }

    fn refused(&self, why: &str) {
        tracing::warn!(file = %self.path.display(), why,
            "state file refused; the last good state stays");
    }

    /// Keeps the state current: every [`WATCH_INTERVAL`], a blocking-pool thread looks at the
    /// file. Ends when the reader is dropped elsewhere.
    pub fn watch(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(reader) = weak.upgrade() else { return };
                if tokio::task::spawn_blocking(move || reader.refresh())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }

    fn snapshot(&self) -> Arc<Compact> {
        self.current.read().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl ImportStateReader for StateFileReader {
    async fn record(&self, patriot_id: &str) -> Result<Option<ImportRecord>, IoFailure> {
        Ok(self.snapshot().record(patriot_id))
    }

    async fn failed(&self) -> Result<Vec<(String, ImportRecord)>, IoFailure> {
        Ok(self.snapshot().failed())
    }

    async fn statuses(&self, port: &str) -> Result<Arc<TenantStatuses>, IoFailure> {
        Ok(self.snapshot().statuses(port))
    }

    async fn last_run(&self) -> Result<Option<LastRun>, IoFailure> {
        let path = self.last_run.clone();
        let bytes = tokio::task::spawn_blocking(move || regular_file::read(&path))
            .await
            .map_err(|e| IoFailure::Failed(e.to_string()))??;
        match bytes {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| IoFailure::Failed(e.to_string())),
            None => Ok(None),
        }
    }
}
