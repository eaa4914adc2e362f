//! Group commit: concurrent writers share one fsync.
//!
//! sled 0.34's `flush_async` can deadlock when called concurrently (sled #1308, #1241), so
//! the blocking `flush` runs on the blocking pool, one at a time. A writer takes a ticket
//! after its write is applied; a flush that starts after the ticket was taken covers it.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use crate::ports::IoFailure;

pub struct GroupFlush {
    db: sled::Db,
    /// Tickets handed out: each stands for a write applied before it was taken.
    issued: AtomicU64,
    /// Every ticket up to this one is durable.
    durable: AtomicU64,
    /// Held while a flush runs; waiting on it is how a writer joins the next group.
    running: Mutex<()>,
    /// The first failed flush. sled keeps a failed log write as its global error until the
    /// database is opened again, so every later flush fails too: the store needs a restart.
    failed: std::sync::OnceLock<String>,
}

impl GroupFlush {
    pub fn new(db: sled::Db) -> Self {
        Self {
            db,
            issued: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            running: Mutex::new(()),
            failed: std::sync::OnceLock::new(),
        }
    }

    /// Returns once every write applied before the call is on disk.
    pub async fn flush(&self) -> Result<(), IoFailure> {
        let ticket = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let _running = self.running.lock().await;
        if self.durable.load(Ordering::SeqCst) >= ticket {
            return Ok(()); // a flush that started after our write already covered it
        }
        let covers = self.issued.load(Ordering::SeqCst);
        let db = self.db.clone();
        let flushed = tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| IoFailure::Failed(format!("flush task failed: {e}")))?;
        if let Err(e) = flushed {
            let _ = self.failed.set(e.to_string());
            return Err(super::failure(e));
        }
        self.durable.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }

    /// Why the store cannot make writes durable any more, once a flush has failed.
    pub fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }
}
