//! Refusing writes before the disk is full. sled does not recover from running out of space
//! in the middle of a write (its error sticks until the process restarts), so writes are
//! refused with "no space" while the file system has less than a reserve left.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ports::IoFailure;

/// How long a reading of the free space stands in for a new one, when it was far above the
/// reserve. Every write asked the file system (`statfs`, 2 % of a create's CPU); within this
/// time no write through this service comes near using up the headroom below.
const READING_STANDS_FOR: Duration = Duration::from_millis(10);
/// How far above the reserve a reading must be to stand in for the next ones.
const HEADROOM: u64 = 64 << 20;

/// The free space a write needs on one file system.
#[derive(Debug)]
pub struct SpaceGuard {
    path: PathBuf,
    reserve: u64,
    /// The last reading that was far enough above the reserve: when it was taken, and the
    /// free bytes it found.
    last_ample: Mutex<Option<(Instant, u64)>>,
}

impl SpaceGuard {
    pub fn new(path: &Path, reserve_bytes: u64) -> Self {
        Self {
            path: path.to_owned(),
            reserve: reserve_bytes,
            last_ample: Mutex::new(None),
        }
    }

    /// `Err(NoSpace)` when less than the reserve is free for unprivileged writers.
    pub fn check(&self) -> Result<(), IoFailure> {
        self.check_for(0)
    }

    /// `Err(NoSpace)` when less than the reserve and `bytes` more are free for unprivileged
    /// writers.
    pub fn check_for(&self, bytes: u64) -> Result<(), IoFailure> {
        let needed = self.reserve.saturating_add(bytes);
        let now = Instant::now();
        if self.last_ample.lock().is_ok_and(|last| {
            last.is_some_and(|(at, free)| still_stands(at, now) && is_ample(free, needed))
        }) {
            return Ok(());
        }
        let stat = rustix::fs::statvfs(&self.path)
            .map_err(|e| IoFailure::from(std::io::Error::from(e)))?;
        let free = stat.f_bavail.saturating_mul(stat.f_frsize);
        if let Ok(mut last) = self.last_ample.lock() {
            *last = is_ample(free, needed).then_some((now, free));
        }
        if free < needed {
            return Err(IoFailure::NoSpace(format!(
                "{} has {free} bytes free, less than the {needed} a write needs with the reserve",
                self.path.display(),
            )));
        }
        Ok(())
    }
}

/// Whether `free` is so far above `reserve` that the reading may stand in for the next ones.
fn is_ample(free: u64, reserve: u64) -> bool {
    free >= reserve.saturating_add(HEADROOM)
}

/// Whether an ample reading taken `at` still stands `now`.
fn still_stands(at: Instant, now: Instant) -> bool {
    now.saturating_duration_since(at) < READING_STANDS_FOR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_reading_far_above_the_reserve_stands_in() {
        assert!(is_ample(HEADROOM + 100, 100));
        assert!(!is_ample(HEADROOM + 99, 100));
        assert!(
            !is_ample(u64::MAX - 1, u64::MAX),
            "no overflow near the top"
        );
    }

    #[test]
    fn a_reading_stands_in_only_briefly() {
        let at = Instant::now();
        assert!(still_stands(at, at));
        assert!(still_stands(at, at + READING_STANDS_FOR / 2));
        assert!(!still_stands(at, at + READING_STANDS_FOR));
    }

    /// A reserve larger than the file system refuses every time, and never lets a reading
    /// stand in; a reserve of nothing lets the reading stand in.
    #[test]
    fn check_reads_again_unless_the_last_reading_was_ample() {
        let dir = tempfile::TempDir::new().unwrap();
        let refusing = SpaceGuard::new(dir.path(), u64::MAX);
        for _ in 0..2 {
            assert!(matches!(refusing.check(), Err(IoFailure::NoSpace(_))));
            assert!(refusing.last_ample.lock().unwrap().is_none());
        }
        let free = rustix::fs::statvfs(dir.path()).unwrap();
        if free.f_bavail.saturating_mul(free.f_frsize) >= HEADROOM {
            let ample = SpaceGuard::new(dir.path(), 0);
            ample.check().unwrap();
            let first = ample.last_ample.lock().unwrap().unwrap().0;
            ample.check().unwrap();
            let second = ample.last_ample.lock().unwrap().unwrap().0;
            // Unless the machine stalled between the two checks for longer than a reading
            // stands, the second used the first one's.
            assert!(
                first == second || second.duration_since(first) >= READING_STANDS_FOR,
                "the second check read again"
            );
        }
    }
}
