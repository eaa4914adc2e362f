//! A service that is never called, so the OpenAPI document can be produced without storage.

use std::sync::Arc;

use async_trait::async_trait;

use crate::adapters::clock::SystemClock;
use crate::domain::client::Client;
use crate::domain::fields::ClientId;
use crate::domain::import_state::{ImportRecord, ImportState, LastRun};
use crate::domain::service::ClientService;
use crate::domain::tenant::KeyName;
use crate::ports::{ClientRepository, ImportStateReader, IoFailure, OwedMark, XmlSink};

struct Offline;

fn offline<T>() -> Result<T, IoFailure> {
    Err(IoFailure::Failed("not serving".into()))
}

#[async_trait]
impl ClientRepository for Offline {
    async fn get(&self, _: &KeyName, _: ClientId) -> Result<Option<Client>, IoFailure> {
        offline()
    }
    async fn save(&self, _: &KeyName, _: &Client) -> Result<OwedMark, IoFailure> {
        offline()
    }
    async fn delete(&self, _: &KeyName, _: ClientId) -> Result<OwedMark, IoFailure> {
        offline()
    }
    async fn owed_files(&self) -> Result<Vec<(KeyName, ClientId, OwedMark)>, IoFailure> {
        offline()
    }
    async fn clear_owed(&self, _: &KeyName, _: ClientId, _: OwedMark) -> Result<(), IoFailure> {
        offline()
    }
    async fn flush(&self) -> Result<(), IoFailure> {
        offline()
    }
    async fn health(&self) -> Result<(), IoFailure> {
        offline()
    }
    async fn count_by_tenant(&self) -> Result<Vec<(KeyName, u64)>, IoFailure> {
        offline()
    }
}

#[async_trait]
impl XmlSink for Offline {
    async fn write(&self, _: &KeyName, _: ClientId, _: Vec<u8>) -> Result<(), IoFailure> {
        offline()
    }
    async fn remove(&self, _: &KeyName, _: ClientId) -> Result<(), IoFailure> {
        offline()
    }
    async fn exists(&self, _: &KeyName, _: ClientId) -> Result<bool, IoFailure> {
        offline()
    }
    async fn pending_count(&self) -> Result<u64, IoFailure> {
        offline()
    }
    async fn sync(&self, _: &[(KeyName, ClientId)]) -> Result<(), IoFailure> {
        offline()
    }
}

#[async_trait]
impl ImportStateReader for Offline {
    async fn record(&self, _: &str) -> Result<Option<ImportRecord>, IoFailure> {
        offline()
    }
    async fn all(&self) -> Result<Arc<ImportState>, IoFailure> {
        offline()
    }
    async fn last_run(&self) -> Result<Option<LastRun>, IoFailure> {
        offline()
    }
}

pub fn offline_service() -> Arc<ClientService> {
    let offline = Arc::new(Offline);
    Arc::new(ClientService::new(
        offline.clone(),
        offline.clone(),
        offline,
        Arc::new(SystemClock),
    ))
}
