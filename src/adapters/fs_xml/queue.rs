//! The combiner's side of the per-client files: `XML_DIR` and the staging area under
//! `READY_DIR`. Claims are renames, so `XML_DIR` and `READY_DIR` must be on one file system.
//!
//! Claims, restores and deletions are not fsynced one by one: a rename is atomic, so after a
//! crash each file is in one of its two places, and the next run's recovery puts a staged
//! file back. The worst a lost rename or deletion can do is send a client to Patriot twice.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use async_trait::async_trait;

use super::{blocking, remove_if_there, write_atomically};
use crate::ports::{IoFailure, PendingFile, Restored, XmlQueue};

const STAGING: &str = "staging";
const READY_FILE: &str = "clients.xml";

pub struct FsXmlQueue {
    xml_dir: PathBuf,
    ready_dir: PathBuf,
}

impl FsXmlQueue {
    /// Creates both folders when missing.
    pub fn new(xml_dir: PathBuf, ready_dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&xml_dir)?;
        super::refuse_linked_tenant_folders(&xml_dir)?;
        fs::create_dir_all(ready_dir.join(STAGING))?;
        Ok(Self { xml_dir, ready_dir })
    }

    fn staging(&self) -> PathBuf {
        self.ready_dir.join(STAGING)
    }
}

/// Calls `visit` with every `*.xml` file below `root`, one directory entry at a time, so a
/// walk holds one folder's listing, never a list of every file. Symbolic links are skipped
/// and logged.
fn for_each_xml_file(
    root: &Path,
    mut visit: impl FnMut(&fs::DirEntry) -> io::Result<()>,
) -> io::Result<()> {
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_symlink() {
                tracing::error!(path = %entry.path().display(),
                    "skipped a symbolic link in XML_DIR: its files cannot be claimed; replace it by a folder");
            } else if kind.is_file()
                && Path::new(&entry.file_name())
                    .extension()
                    .is_some_and(|e| e == "xml")
            {
                visit(&entry)?;
            }
        }
    }
    Ok(())
}

/// Every `*.xml` file below `root`, with its path relative to `root` (`/`-separated).
fn xml_files(root: &Path) -> io::Result<Vec<(String, fs::Metadata)>> {
    let mut found = Vec::new();
    for_each_xml_file(root, |entry| {
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            return Ok(());
        };
        let rel = rel.to_string_lossy().replace('\\', "/");
        match entry.metadata() {
            Ok(meta) => found.push((rel, meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(())
    })?;
    Ok(found)
}

/// How many `*.xml` files are below `root`: counted as the folders are read, without a
/// file's metadata or a list. Listing them first held 40 MB for a moment with 200,000 files
/// waiting, every time `/metrics`' count was refreshed (the peak RSS of W1 at 100,000
/// stored, bench/notes.md).
pub(super) fn count_xml_files(root: &Path) -> io::Result<u64> {
    let mut count = 0;
    for_each_xml_file(root, |_| {
        count += 1;
        Ok(())
    })?;
    Ok(count)
}

fn read_if_there(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Renames, creating the target's folder when needed.
fn move_file(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::rename(from, to)
}

#[async_trait]
impl XmlQueue for FsXmlQueue {
    async fn pending(&self) -> Result<Vec<PendingFile>, IoFailure> {
        let root = self.xml_dir.clone();
        blocking(move || {
            let mut files: Vec<PendingFile> = xml_files(&root)?
                .into_iter()
                .map(|(rel_path, meta)| PendingFile {
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    rel_path,
                })
                .collect();
            files.sort_by(|a, b| {
                a.modified
                    .cmp(&b.modified)
                    .then_with(|| a.rel_path.cmp(&b.rel_path))
            });
            Ok(files)
        })
        .await
    }

    async fn read_pending(&self, rel_path: &str) -> Result<Option<Vec<u8>>, IoFailure> {
        let path = self.xml_dir.join(rel_path);
        blocking(move || read_if_there(&path)).await
    }

    async fn claim(&self, rel_path: &str) -> Result<Option<Vec<u8>>, IoFailure> {
        let from = self.xml_dir.join(rel_path);
        let to = self.staging().join(rel_path);
        blocking(move || {
            match move_file(&from, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
            read_if_there(&to)
        })
        .await
    }

    async fn staged(&self) -> Result<Vec<String>, IoFailure> {
        let root = self.staging();
        blocking(move || Ok(xml_files(&root)?.into_iter().map(|(rel, _)| rel).collect())).await
    }

    async fn restore(&self, rel_path: &str) -> Result<Restored, IoFailure> {
        let staged = self.staging().join(rel_path);
        let home = self.xml_dir.join(rel_path);
        blocking(move || {
            if let Some(parent) = home.parent() {
                fs::create_dir_all(parent)?;
            }
            // A hard link never replaces an existing file, so a newer file the API writes at
            // this very moment wins without a race.
            let outcome = match fs::hard_link(&staged, &home) {
                Ok(()) => Restored::MovedBack,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Restored::Superseded,
                Err(e) => return Err(e),
            };
            remove_if_there(&staged)?;
            Ok(outcome)
        })
        .await
    }

    async fn discard(&self, rel_path: &str) -> Result<(), IoFailure> {
        let staged = self.staging().join(rel_path);
        blocking(move || remove_if_there(&staged)).await
    }

    async fn write_ready(&self, bytes: Vec<u8>) -> Result<(), IoFailure> {
        let path = self.ready_dir.join(READY_FILE);
        blocking(move || write_atomically(&path, &bytes)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count and the list agree: `*.xml` files in every tenant folder, nothing else, no
    /// file behind a symbolic link.
    #[test]
    fn the_count_is_the_length_of_the_list() {
        let root = tempfile::TempDir::new().unwrap();
        let (a, b) = (root.path().join("A"), root.path().join("B"));
        fs::create_dir_all(&a).unwrap();
        fs::create_dir_all(b.join("deeper")).unwrap();
        for path in [a.join("1.xml"), a.join("2.xml"), b.join("deeper/3.xml")] {
            fs::write(path, b"<x/>").unwrap();
        }
        for path in [a.join(".tmp-1.part"), b.join("notes.txt"), b.join("xml")] {
            fs::write(path, b"not a client").unwrap();
        }
        let outside = tempfile::TempDir::new().unwrap();
        fs::write(outside.path().join("9.xml"), b"<x/>").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("linked")).unwrap();
        std::os::unix::fs::symlink(a.join("1.xml"), b.join("4.xml")).unwrap();

        let mut listed: Vec<String> = xml_files(root.path())
            .unwrap()
            .into_iter()
            .map(|(rel, _)| rel)
            .collect();
        listed.sort();
        assert_eq!(listed, ["A/1.xml", "A/2.xml", "B/deeper/3.xml"]);
        assert_eq!(count_xml_files(root.path()).unwrap(), 3);
    }
}
