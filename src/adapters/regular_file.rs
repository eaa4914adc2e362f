//! Reading files that a local admin could replace by something else. A FIFO, a device or a
//! symlink to one in place of a state file would make a plain `read` wait forever; these
//! helpers open without blocking and refuse anything that is not a regular file.

use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::SystemTime;

/// What identifies a version of a file cheaply: its modification time and size.
pub type Stamp = (SystemTime, u64);

fn not_regular(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is not a regular file; refusing to read it",
            path.display()
        ),
    )
}

/// The stamp of a regular file; `Ok(None)` when it does not exist.
pub fn stamp(path: &Path) -> io::Result<Option<Stamp>> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some((meta.modified()?, meta.len()))),
        Ok(_) => Err(not_regular(path)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The content of a regular file; `Ok(None)` when it does not exist. Never waits on a FIFO:
/// the file is opened non-blocking and checked after opening, so a swap between a check and
/// the open cannot make it wait either.
pub fn read(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path);
    let mut file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(not_regular(path));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_are_refused_without_waiting() {
        let dir = tempfile::TempDir::new().unwrap();
        let fifo = dir.path().join("state.json");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        for path in [&fifo, &link] {
            assert_eq!(read(path).unwrap_err().kind(), io::ErrorKind::InvalidInput);
            assert!(stamp(path).is_err());
        }
        assert_eq!(read(&dir.path().join("absent")).unwrap(), None);
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(read(&file).unwrap(), Some(b"x".to_vec()));
    }
}
