//! What the domain needs from the world. Each adapter under `adapters/` implements one of
//! these and translates its technology's errors into the port's own.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::client::Client;
use crate::domain::fields::ClientId;
use crate::domain::import_state::ImportRecord;
use crate::domain::tenant::{KeyName, Tenant};

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

/// The clients of every tenant. Each tenant's data is reachable only through its `KeyName`.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ClientRepository: Send + Sync {
    /// The client, or `Ok(None)` when the tenant has no client with this id.
    async fn get(&self, tenant: &KeyName, id: ClientId) -> Result<Option<Client>, IoFailure>;

    /// Stores the client and, in the same atomic write, marks its XML file as owed. MUST return
    /// `Ok` only once both are durable (they survive a `kill -9` the next instant).
    async fn save(&self, tenant: &KeyName, client: &Client) -> Result<(), IoFailure>;

    /// Deletes the client and, in the same atomic write, marks its XML file as owed (to be
    /// removed). MUST return `Ok` only once durable. Deleting a missing client is `Ok`.
    async fn delete(&self, tenant: &KeyName, id: ClientId) -> Result<(), IoFailure>;

    /// Every client whose XML file is owed: written by `save`/`delete`, not yet cleared.
    async fn owed_files(&self) -> Result<Vec<(KeyName, ClientId)>, IoFailure>;

    /// Clears the owed mark once the XML file matches storage. Need not be durable: a lost
    /// clear only costs one more rewrite at the next start.
    async fn clear_owed(&self, tenant: &KeyName, id: ClientId) -> Result<(), IoFailure>;

    /// `Ok` when storage answers (for `GET /healthz`).
    async fn health(&self) -> Result<(), IoFailure>;
}

/// Where the per-client XML files go (`XML_DIR/<key_name>/<client_id>.xml`).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait XmlSink: Send + Sync {
    /// Replaces the client's file atomically and durably: a reader sees the old or the new
    /// file, never a part of one; `Ok` only once the new file is on disk.
    async fn write(&self, tenant: &KeyName, id: ClientId, xml: Vec<u8>) -> Result<(), IoFailure>;

    /// Removes the client's file durably; `Ok` when it was not there.
    async fn remove(&self, tenant: &KeyName, id: ClientId) -> Result<(), IoFailure>;

    /// Whether the client's file is there now.
    async fn exists(&self, tenant: &KeyName, id: ClientId) -> Result<bool, IoFailure>;
}

/// The combiner's state file, as the API sees it (read only).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ImportStateReader: Send + Sync {
    /// The record of one Patriot `__id`; `Ok(None)` when the file or the id is absent.
    async fn record(&self, patriot_id: &str) -> Result<Option<ImportRecord>, IoFailure>;
}

/// The tenants and their keys, as currently configured.
#[cfg_attr(test, mockall::automock)]
pub trait KeyStore: Send + Sync {
    /// The tenant of an enabled, unexpired key equal to `secret`; `None` otherwise.
    fn authenticate(&self, secret: &str) -> Option<Tenant>;

    /// The tenant named `key_name`, whatever the state of its key (to finish owed files).
    fn tenant(&self, key_name: &KeyName) -> Option<Tenant>;
}

/// The time, so that rules that depend on it can be tested.
#[cfg_attr(test, mockall::automock)]
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    /// Today's date in the server's local time zone.
    fn today_local(&self) -> NaiveDate;
}
