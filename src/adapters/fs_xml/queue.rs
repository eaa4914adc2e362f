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

/// Every `*.xml` file below `root`, with its path relative to `root` (`/`-separated).
fn xml_files(root: &Path) -> io::Result<Vec<(String, fs::Metadata)>> {
    let mut found = Vec::new();
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
            let path = entry.path();
            if kind.is_dir() {
                folders.push(path);
            } else if kind.is_symlink() {
                tracing::error!(path = %path.display(),
                    "skipped a symbolic link in XML_DIR: its files cannot be claimed; replace it by a folder");
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "xml") {
                let Ok(rel) = path.strip_prefix(root) else {
                    continue;
                };
                let rel = rel.to_string_lossy().replace('\\', "/");
                match entry.metadata() {
                    Ok(meta) => found.push((rel, meta)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(found)
}

/// How many `*.xml` files are below `root`.
pub(super) fn count_xml_files(root: &Path) -> io::Result<u64> {
    Ok(xml_files(root)?.len() as u64)
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
