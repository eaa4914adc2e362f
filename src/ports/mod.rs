//! What the domain needs from the world. Each adapter under `adapters/` implements one of
//! these and translates its technology's errors into the port's own.

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::domain::client::{Client, ClientInfoPatch, User, Zone};
use crate::domain::fields::{ClientId, PageLimit, UserNo, ZoneNo};
use crate::domain::import_state::{
    ImportFilter, ImportPage, ImportRecord, ImportState, LastRun, TenantStatuses, UploadRecord,
};
use crate::domain::service::{Operations, ServiceError, Upserted};
use crate::domain::tenant::{KeyName, Tenant};

/// The inbound port: what the HTTP adapter asks of the application, one operation of
/// `api.md` §4 per method, always for one tenant. Implemented by
/// [`crate::domain::service::ClientService`].
///
/// Every write MUST answer `Ok` only once the change is durable, and MUST change nothing when
/// it answers `Err`. No method may reach another tenant's clients: a client of another tenant
/// MUST be `ClientNotFound`.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ClientApi: Send + Sync {
    /// The client; writes its XML file again when it is missing and Patriot has not
    /// confirmed it.
    async fn get_client(&self, tenant: &Tenant, id: ClientId) -> Result<Client, ServiceError>;
    /// `get_client` with the combiner's record of the client (`None` when it has none or the
    /// state cannot be read: a broken state file MUST NOT fail the read).
    async fn read_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
    ) -> Result<(Client, Option<ImportRecord>), ServiceError>;
    /// The combiner's record of the client, when it has one; `None` too when the state cannot
    /// be read (a broken state file MUST NOT fail the answer it decorates).
    async fn import_record(&self, tenant: &Tenant, id: ClientId) -> Option<ImportRecord>;
    /// Creates the client or replaces its info; omitted fields take their defaults.
    async fn put_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
        info: ClientInfoPatch,
    ) -> Result<Upserted, ServiceError>;
    /// Changes the info fields sent; the client MUST exist.
    async fn patch_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
        info: ClientInfoPatch,
    ) -> Result<Client, ServiceError>;
    async fn delete_client(&self, tenant: &Tenant, id: ClientId) -> Result<(), ServiceError>;
    /// Creates or replaces the zone as a whole.
    async fn put_zone(
        &self,
        tenant: &Tenant,
        id: ClientId,
        zone: Zone,
    ) -> Result<Zone, ServiceError>;
    async fn delete_zone(
        &self,
        tenant: &Tenant,
        id: ClientId,
        no: ZoneNo,
    ) -> Result<(), ServiceError>;
    /// Adds a user; MUST refuse a `UserNo` the client has.
    async fn add_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        user: User,
    ) -> Result<User, ServiceError>;
    /// Replaces an existing user as a whole.
    async fn replace_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        user: User,
    ) -> Result<User, ServiceError>;
    async fn delete_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        no: UserNo,
    ) -> Result<(), ServiceError>;
    /// `Ok` when storage answers.
    async fn health(&self) -> Result<(), ServiceError>;
    /// Figures for `/metrics`.
    async fn operations(&self) -> Result<Operations, ServiceError>;
    /// A page of the tenant's clients with their import state, by client id, after `after`,
    /// only those that `filter` keeps. MUST read only (no file written).
    async fn list_imports(
        &self,
        tenant: &Tenant,
        filter: Option<ImportFilter>,
        after: Option<ClientId>,
        limit: PageLimit,
    ) -> Result<ImportPage, ServiceError>;
}

/// A failure of storage or of the file system, as the domain needs to tell it apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IoFailure {
    /// The disk is full: the caller may try again once space is freed.
    #[error("no space left: {0}")]
    NoSpace(String),
    #[error("{0}")]
    Failed(String),
}

impl From<std::io::Error> for IoFailure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28) {
            IoFailure::NoSpace(e.to_string())
        } else {
            IoFailure::Failed(e.to_string())
        }
    }
}

/// Names one write's "XML file owed" mark, so that clearing it never clears the mark of a
/// later write to the same client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwedMark(pub u64);

/// The clients of every tenant. Each tenant's data is reachable only through its `KeyName`.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ClientRepository: Send + Sync {
    /// The client, or `Ok(None)` when the tenant has no client with this id.
    async fn get(&self, tenant: &KeyName, id: ClientId) -> Result<Option<Client>, IoFailure>;

    /// Stores the client and, in the same atomic write, marks its XML file as owed. MUST return
    /// `Ok` only once both are durable (they survive a `kill -9` the next instant).
    async fn save(&self, tenant: &KeyName, client: &Client) -> Result<OwedMark, IoFailure>;

    /// Deletes the client and, in the same atomic write, marks its XML file as owed (to be
    /// removed). MUST return `Ok` only once durable. Deleting a missing client is `Ok`.
    async fn delete(&self, tenant: &KeyName, id: ClientId) -> Result<OwedMark, IoFailure>;

    /// Every client whose XML file is owed: written by `save`/`delete`, not yet cleared.
    async fn owed_files(&self) -> Result<Vec<(KeyName, ClientId, OwedMark)>, IoFailure>;

    /// Clears the owed mark once the XML file matches storage durably, unless a later write
    /// has marked the client again. Need not be durable: a lost clear only costs one more
    /// rewrite at the next start.
    async fn clear_owed(
        &self,
        tenant: &KeyName,
        id: ClientId,
        mark: OwedMark,
    ) -> Result<(), IoFailure>;

    /// Makes every change so far durable, cleared owed marks included (so that a restart
    /// does not write again files that are already in place).
    async fn flush(&self) -> Result<(), IoFailure>;

    /// `Ok` when storage answers (for `GET /healthz`).
    async fn health(&self) -> Result<(), IoFailure>;

    /// How many clients each tenant has (for metrics).
    async fn count_by_tenant(&self) -> Result<Vec<(KeyName, u64)>, IoFailure>;

    /// Whether the tenant has this client.
    async fn contains(&self, tenant: &KeyName, id: ClientId) -> Result<bool, IoFailure>;

    /// Up to `max` ids of the tenant's clients, in ascending order, after `after` (from the
    /// first when `None`). MUST NOT block the async runtime while it scans.
    async fn client_ids(
        &self,
        tenant: &KeyName,
        after: Option<ClientId>,
        max: usize,
    ) -> Result<Vec<ClientId>, IoFailure>;
}

/// One file for [`XmlSink::write_files`]: the client's new content, or `None` to remove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWrite {
    pub tenant: KeyName,
    pub id: ClientId,
    pub xml: Option<std::sync::Arc<Vec<u8>>>,
}

/// Where the per-client XML files go (`XML_DIR/<key_name>/<client_id>.xml`).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait XmlSink: Send + Sync {
    /// Refuses with `NoSpace` when the folder's file system cannot take `bytes` more and
    /// keep its reserve: asked before a write is stored, so a file that cannot be written is
    /// refused with nothing changed.
    async fn check_room(&self, bytes: usize) -> Result<(), IoFailure>;

    /// Brings each client's file to the given content, one after the other: replaced
    /// atomically (`Some`: a reader sees the old or the new file, never a part of one), or removed with anything kept for it
    /// (`None`: a deleted client's data does not linger; `Ok` when it was not there). One
    /// result per file, in order; a failed file leaves its old version in place. Durable once
    /// `sync` has covered them.
    async fn write_files(&self, files: Vec<FileWrite>) -> Vec<Result<(), IoFailure>>;

    /// Makes the current files (or their absence) of these clients durable.
    async fn sync(&self, files: &[(KeyName, ClientId)]) -> Result<(), IoFailure>;

    /// Whether the client's file is there now.
    async fn exists(&self, tenant: &KeyName, id: ClientId) -> Result<bool, IoFailure>;

    /// How many files wait for the combiner (for metrics).
    async fn pending_count(&self) -> Result<u64, IoFailure>;
}

/// The combiner's state file, as the API sees it (read only).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ImportStateReader: Send + Sync {
    /// The record of one Patriot `__id`; `Ok(None)` when the file or the id is absent.
    async fn record(&self, patriot_id: &str) -> Result<Option<ImportRecord>, IoFailure>;

    /// Every record whose status is `failed`, with its `__id`; empty when the file is absent.
    /// Called now and then (the re-queue), not per request.
    async fn failed(&self) -> Result<Vec<(String, ImportRecord)>, IoFailure>;
    /// The status of each client of the tenant with this port, by client id
    /// (the leading digits of each `__id`: [`crate::domain::import_state::split_patriot_id`]). MUST answer from memory: it is
    /// called for each listing request.
    async fn statuses(&self, port: &str) -> Result<std::sync::Arc<TenantStatuses>, IoFailure>;

    /// The combiner's last run; `Ok(None)` before the first.
    async fn last_run(&self) -> Result<Option<LastRun>, IoFailure>;
}

/// The tenants and their keys, as currently configured.
#[cfg_attr(test, mockall::automock)]
pub trait KeyStore: Send + Sync {
    /// The tenant of an enabled, unexpired key equal to `secret`; `None` otherwise.
    fn authenticate(&self, secret: &str) -> Option<std::sync::Arc<Tenant>>;

    /// The tenant named `key_name`, whatever the state of its key (to finish owed files).
    fn tenant(&self, key_name: &KeyName) -> Option<Tenant>;
}

/// The time, so that rules that depend on it can be tested.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Today's date in the server's local time zone.
    fn today_local(&self) -> NaiveDate;
    /// Now in the server's local time zone, with its offset.
    fn now_local(&self) -> DateTime<FixedOffset>;
}

/// A failure of the import share (SMB server down, wrong password, missing folder…).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShareError(pub String);

/// The folder Patriot imports from (a Windows share, or a local folder). Names are plain
/// file names in that folder.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ImportShare: Send + Sync {
    /// The file's modification time; `Ok(None)` when it does not exist.
    async fn modified(&self, name: &str) -> Result<Option<std::time::SystemTime>, ShareError>;

    /// The file's content; `Ok(None)` when it does not exist.
    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, ShareError>;

    /// Creates or replaces the file with `bytes`.
    async fn write(&self, name: &str, bytes: Vec<u8>) -> Result<(), ShareError>;

    /// Renames `from` to `to`. MAY overwrite an existing `to`: callers check first.
    async fn rename(&self, from: &str, to: &str) -> Result<(), ShareError>;
}

/// A per-client file waiting in `XML_DIR`, named by its path below it (`<key_name>/<id>.xml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFile {
    pub rel_path: String,
    pub modified: std::time::SystemTime,
}

/// What happened to a staged file that went back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// It is in `XML_DIR` again.
    MovedBack,
    /// The API wrote a newer file meanwhile; the staged one was dropped.
    Superseded,
}

/// The per-client files the API writes and the combiner's staging area (`READY_DIR`).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait XmlQueue: Send + Sync {
    /// Every pending file, oldest modification first (ties by path). Reads no content.
    async fn pending(&self) -> Result<Vec<PendingFile>, IoFailure>;

    /// The content of a pending file; `Ok(None)` when it has gone meanwhile.
    async fn read_pending(&self, rel_path: &str) -> Result<Option<Vec<u8>>, IoFailure>;

    /// Moves a pending file into the staging area (atomic rename) and returns the content
    /// that was claimed; `Ok(None)` when it has gone meanwhile.
    async fn claim(&self, rel_path: &str) -> Result<Option<Vec<u8>>, IoFailure>;

    /// Files in the staging area (left by this run, or by a run that died).
    async fn staged(&self) -> Result<Vec<String>, IoFailure>;

    /// Puts a staged file back in `XML_DIR`, unless a newer file for that client is there.
    async fn restore(&self, rel_path: &str) -> Result<Restored, IoFailure>;

    /// Deletes a staged file once it has been delivered.
    async fn discard(&self, rel_path: &str) -> Result<(), IoFailure>;

    /// Replaces `READY_DIR/clients.xml` atomically.
    async fn write_ready(&self, bytes: Vec<u8>) -> Result<(), IoFailure>;
}

/// The combiner's state file, read and written by the combiner.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ImportStateStore: Send + Sync {
    /// The whole state; empty when the file does not exist.
    async fn load(&self) -> Result<ImportState, IoFailure>;

    /// Replaces the state file atomically.
    async fn save(&self, state: &ImportState) -> Result<(), IoFailure>;

    /// Records how the run that just ended went.
    async fn save_last_run(&self, run: &LastRun) -> Result<(), IoFailure>;

    /// The record of the last upload; `Ok(None)` when there is none or it is unreadable
    /// (the run then falls back to comparing times, `combiner.md` §1.6).
    async fn load_upload(&self) -> Result<Option<UploadRecord>, IoFailure>;

    /// Replaces the record of the last upload. MUST be durable before it returns: it is
    /// written just before the upload it describes.
    async fn save_upload(&self, record: &UploadRecord) -> Result<(), IoFailure>;
}
