//! The import share over SMB, through pavao (libsmbclient).
//!
//! pavao keeps one process-wide libsmbclient context that any dropped `SmbClient` frees, and
//! every call blocks. So one client lives on one dedicated thread for the whole process, and
//! the async side sends it jobs. `SmbFile` borrows the client and is not `Send`: files are
//! opened, used and dropped inside one job.

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use pavao::{SmbClient, SmbCredentials, SmbError, SmbOpenOptions, SmbOptions};
use tokio::sync::oneshot;

use crate::ports::{ImportShare, ShareError};

/// How to reach the share. The password is never logged (`Debug` leaves it out).
#[derive(Clone)]
pub struct SmbSettings {
    /// Host, or `host:port` (445 when absent).
    pub server: String,
    pub share: String,
    pub username: String,
    pub password: String,
    pub domain: String,
    pub timeout: Duration,
}

impl std::fmt::Debug for SmbSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbSettings")
            .field("server", &self.server)
            .field("share", &self.share)
            .field("username", &self.username)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

type Job = Box<dyn FnOnce(Result<&SmbClient, &str>) + Send>;

pub struct SmbShare {
    jobs: mpsc::Sender<Job>,
}

/// libsmbclient decodes URLs, so a literal `%` must be written `%25`.
fn encode(name: &str) -> String {
    format!("/{}", name.replace('%', "%25"))
}

fn failure(e: SmbError) -> ShareError {
    ShareError(e.to_string())
}

fn is_absent(e: &SmbError) -> bool {
    matches!(e, SmbError::Io(io) if io.kind() == std::io::ErrorKind::NotFound)
}

impl SmbShare {
    /// Starts the thread that owns the one SMB client of this process.
    pub fn start(settings: SmbSettings) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("smb-share".into())
            .spawn(move || {
                let client = connect(&settings);
                let client = client.as_ref().map_err(String::as_str);
                while let Ok(job) = rx.recv() {
                    job(client);
                }
            })?;
        Ok(Self { jobs: tx })
    }

    async fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&SmbClient) -> Result<T, ShareError> + Send + 'static,
    ) -> Result<T, ShareError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |client| {
            let result = match client {
                Ok(client) => work(client),
                Err(why) => Err(ShareError(why.to_owned())),
            };
            let _ = tx.send(result);
        });
        self.jobs
            .send(job)
            .map_err(|_| ShareError("the SMB thread has stopped".into()))?;
        rx.await
            .map_err(|_| ShareError("the SMB thread has stopped".into()))?
    }
}

fn connect(s: &SmbSettings) -> Result<SmbClient, String> {
    let client = SmbClient::new(
        SmbCredentials::default()
            .server(format!("smb://{}", s.server))
            .share(format!("/{}", s.share.trim_start_matches('/')))
            .username(&s.username)
            .password(&s.password)
            .workgroup(&s.domain),
        SmbOptions::default()
            .one_share_per_server(true)
            .no_auto_anonymous_login(true),
    )
    .map_err(|e| format!("cannot set up the SMB client: {e}"))?;
    client
        .set_timeout(s.timeout)
        .map_err(|e| format!("cannot set the SMB timeout: {e}"))?;
    Ok(client)
}

#[async_trait]
impl ImportShare for SmbShare {
    async fn modified(&self, name: &str) -> Result<Option<SystemTime>, ShareError> {
        let path = encode(name);
        self.call(move |c| match c.stat(&path) {
            Ok(stat) => Ok(Some(stat.modified)),
            Err(e) if is_absent(&e) => Ok(None),
            Err(e) => Err(failure(e)),
        })
        .await
    }

    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, ShareError> {
        let path = encode(name);
        self.call(move |c| {
            let mut file = match c.open_with(&path, SmbOpenOptions::default().read(true)) {
                Ok(file) => file,
                Err(e) if is_absent(&e) => return Ok(None),
                Err(e) => return Err(failure(e)),
            };
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .map_err(|e| ShareError(e.to_string()))?;
            Ok(Some(bytes))
        })
        .await
    }

    async fn write(&self, name: &str, bytes: Vec<u8>) -> Result<(), ShareError> {
        let path = encode(name);
        self.call(move |c| {
            let mut file = c
                .open_with(
                    &path,
                    SmbOpenOptions::default()
                        .create(true)
                        .write(true)
                        .truncate(true),
                )
                .map_err(failure)?;
            file.write_all(&bytes)
                .map_err(|e| ShareError(e.to_string()))?;
            file.flush().map_err(|e| ShareError(e.to_string()))
        })
        .await
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), ShareError> {
        let (from, to) = (encode(from), encode(to));
        self.call(move |c| c.rename(&from, &to).map_err(failure))
            .await
    }
}
