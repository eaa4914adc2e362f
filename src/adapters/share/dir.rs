//! A local folder as the import share (`SHARE=dir`), e.g. a share mounted with cifs.

use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

use async_trait::async_trait;

use crate::ports::{ImportShare, ShareError};

pub struct DirShare {
    root: PathBuf,
}

impl DirShare {
    /// The folder is not created: a missing folder means the share is not mounted.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, name: &str) -> Result<PathBuf, ShareError> {
        if name.is_empty() || name.contains('/') || name.contains('\\') || name == ".." {
            return Err(ShareError(format!("{name:?} is not a plain file name")));
        }
        Ok(self.root.join(name))
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> Result<T, ShareError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            if !root.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("share folder {} does not exist", root.display()),
                ));
            }
            work()
        })
        .await
        .map_err(|e| ShareError(e.to_string()))?
        .map_err(|e| ShareError(e.to_string()))
    }
}

fn absent_is_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl ImportShare for DirShare {
    async fn modified(&self, name: &str) -> Result<Option<SystemTime>, ShareError> {
        let path = self.path(name)?;
        self.blocking(move || absent_is_none(std::fs::metadata(&path).and_then(|m| m.modified())))
            .await
    }

    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, ShareError> {
        let path = self.path(name)?;
        self.blocking(move || absent_is_none(std::fs::read(&path)))
            .await
    }

    async fn write(&self, name: &str, bytes: Vec<u8>) -> Result<(), ShareError> {
        let path = self.path(name)?;
        self.blocking(move || {
            let file = std::fs::File::create(&path)?;
            io::Write::write_all(&mut &file, &bytes)?;
            file.sync_all()
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), ShareError> {
        let (from, to) = (self.path(from)?, self.path(to)?);
        self.blocking(move || std::fs::rename(&from, &to)).await
    }
}
