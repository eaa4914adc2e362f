//! Refusing writes before the disk is full. sled does not recover from running out of space
//! in the middle of a write (its error sticks until the process restarts), so writes are
//! refused with "no space" while the file system has less than a reserve left.

use std::path::{Path, PathBuf};

use crate::ports::IoFailure;

/// The free space a write needs on one file system.
#[derive(Debug, Clone)]
pub struct SpaceGuard {
    path: PathBuf,
    reserve: u64,
}

impl SpaceGuard {
    pub fn new(path: &Path, reserve_bytes: u64) -> Self {
        Self {
            path: path.to_owned(),
            reserve: reserve_bytes,
        }
    }

    /// `Err(NoSpace)` when less than the reserve is free for unprivileged writers.
    pub fn check(&self) -> Result<(), IoFailure> {
        let stat = rustix::fs::statvfs(&self.path)
            .map_err(|e| IoFailure::from(std::io::Error::from(e)))?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        if free < self.reserve {
            return Err(IoFailure::NoSpace(format!(
                "{} has {free} bytes free, less than the {} kept in reserve",
                self.path.display(),
                self.reserve
            )));
        }
        Ok(())
    }
}
