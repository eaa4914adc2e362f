//! A plain log file that lines are appended to (the combiner's run and import error logs).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct AppendLog {
    path: PathBuf,
}

impl AppendLog {
    /// Checks at once that the file can be written, so a bad path stops the start.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            path: path.to_owned(),
        })
    }

    pub fn append(&self, line: &str) {
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            tracing::warn!(file = %self.path.display(), error = %e, "could not append to log");
        }
    }
}
