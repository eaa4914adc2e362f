//! The client service: every read and write of the API, with the rules that tie storage and
//! the XML files together (one writer per client, durable before answering, XML follows).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard};

use super::client::{
    Client, ClientInfo, ClientInfoPatch, MemberError, User, Zone, MAX_CLIENT_BYTES,
};
use super::field_set::MissingField;
use super::fields::{ClientId, InstallDate, PageLimit, UserNo, ZoneNo};
use super::import_state::{ImportEntry, ImportFilter, ImportPage, ImportRecord, ImportStatus};
use super::tenant::{KeyName, Tenant};
use super::xml::render_client_document;
use crate::ports::{
    ClientRepository, Clock, ImportStateReader, IoFailure, KeyStore, OwedMark, XmlSink,
};

/// The shortest time between two syncs of the XML files. Each sync is a journal commit of
/// the whole file system (and one storage flush for the cleared marks); under a stream of
/// writes, pacing them keeps that cost per batch instead of per handful of files. Files and
/// their owed marks trail the answers by at most about this long, plus the sync itself.
const SYNC_EVERY: Duration = Duration::from_millis(20);

/// Why a request to the service failed. Every variant leaves storage and files unchanged.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("client does not exist")]
    ClientNotFound,
    #[error(transparent)]
    Member(#[from] MemberError),
    #[error("client temporarily locked by another write; retry")]
    Locked,
    /// The change would make the client larger than [`MAX_CLIENT_BYTES`].
    #[error("the client would be {size} bytes, more than the {max} a client may hold")]
    TooLarge { size: usize, max: usize },
    /// An info field without a default was not sent.
    #[error("info: {0}")]
    MissingInfo(MissingField),
    #[error("storage failed: {0}")]
    Storage(IoFailure),
    #[error("XML file could not be written: {0}")]
    Xml(IoFailure),
}

/// Figures for metrics.
pub struct Operations {
    pub clients: Vec<(KeyName, u64)>,
    pub pending_files: u64,
    /// Files written whose fsync has not run yet: their owed marks stand for them.
    pub unsynced_files: u64,
    pub last_run: Option<super::import_state::LastRun>,
}

/// The outcome of `PUT /clients`.
pub struct Upserted {
    pub client: Client,
    pub created: bool,
}

/// Locks that serialise the writes to one client. Striped, so memory stays bounded whatever
/// the number of clients; two clients sharing a stripe only wait for each other briefly.
struct ClientLocks {
    stripes: Vec<Mutex<()>>,
}

impl ClientLocks {
    fn new(count: usize) -> Self {
        Self {
            stripes: (0..count).map(|_| Mutex::new(())).collect(),
        }
    }

    fn stripe(&self, tenant: &KeyName, id: ClientId) -> &Mutex<()> {
        let mut h = DefaultHasher::new();
        (tenant, id).hash(&mut h);
        &self.stripes[(h.finish() as usize) % self.stripes.len()]
    }
}

/// What one write does to storage.
enum Change {
    Save(Box<Client>),
    Delete,
}

pub struct ClientService {
    repo: Arc<dyn ClientRepository>,
    xml: Arc<dyn XmlSink>,
    imports: Arc<dyn ImportStateReader>,
    clock: Arc<dyn Clock>,
    locks: ClientLocks,
    lock_timeout: Duration,
    /// Files written but not yet fsynced, with the owed marks to clear once they are.
    unsynced: std::sync::Mutex<Vec<(KeyName, ClientId, OwedMark)>>,
    /// How many of those there are, including a batch being synced: the backlog.
    unsynced_count: std::sync::atomic::AtomicU64,
    sync_wanted: tokio::sync::Notify,
}

impl ClientService {
    pub fn new(
        repo: Arc<dyn ClientRepository>,
        xml: Arc<dyn XmlSink>,
        imports: Arc<dyn ImportStateReader>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            repo,
            xml,
            imports,
            clock,
            locks: ClientLocks::new(4096),
            lock_timeout: Duration::from_secs(5),
            unsynced: std::sync::Mutex::new(Vec::new()),
            unsynced_count: std::sync::atomic::AtomicU64::new(0),
            sync_wanted: tokio::sync::Notify::new(),
        }
    }

    /// How long a write waits for its turn on a client before answering `Locked`.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    async fn lock(
        &self,
        tenant: &KeyName,
        id: ClientId,
    ) -> Result<MutexGuard<'_, ()>, ServiceError> {
        tokio::time::timeout(self.lock_timeout, self.locks.stripe(tenant, id).lock())
            .await
            .map_err(|_| ServiceError::Locked)
    }

    async fn load(&self, tenant: &KeyName, id: ClientId) -> Result<Option<Client>, ServiceError> {
        self.repo
            .get(tenant, id)
            .await
            .map_err(ServiceError::Storage)
    }

    async fn existing(&self, tenant: &KeyName, id: ClientId) -> Result<Client, ServiceError> {
        self.load(tenant, id)
            .await?
            .ok_or(ServiceError::ClientNotFound)
    }

    /// Reads a client. Reads take no lock, so they never wait behind writes; only when the
    /// XML file has gone missing and Patriot has not confirmed the client is it written again.
    pub async fn get(&self, tenant: &Tenant, id: ClientId) -> Result<Client, ServiceError> {
        Ok(self.read(tenant, id).await?.0)
    }

    /// [`Self::get`], with the client's import record (looked up once for both).
    pub async fn read(
        &self,
        tenant: &Tenant,
        id: ClientId,
    ) -> Result<(Client, Option<ImportRecord>), ServiceError> {
        let client = self.existing(&tenant.key_name, id).await?;
        // Without the import state the file is left alone.
        let Some(record) = self.readable_import(tenant, id).await else {
            return Ok((client, None));
        };
        if let Err(e) = self.rewrite_missing_file(tenant, id, record.as_ref()).await {
            // The read itself succeeded; the file is retried on the next read.
            tracing::warn!(key_name = %tenant.key_name, client_id = %id, error = %e,
                "could not rewrite missing XML file");
        }
        Ok((client, record))
    }

    /// The import record for an answer: `None` when the state cannot be read (logged), since
    /// the import state is extra information and a broken state file must not fail a read.
    async fn readable_import(&self, tenant: &Tenant, id: ClientId) -> Option<Option<ImportRecord>> {
        match self.import_record(tenant, id).await {
            Ok(record) => Some(record),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the import state");
                None
            }
        }
    }

    /// The state file's record of this client, when the combiner has one.
    pub async fn import_record(
        &self,
        tenant: &Tenant,
        id: ClientId,
    ) -> Result<Option<ImportRecord>, ServiceError> {
        self.imports
            .record(&tenant.patriot_id(id))
            .await
            .map_err(ServiceError::Storage)
    }

    async fn rewrite_missing_file(
        &self,
        tenant: &Tenant,
        id: ClientId,
        record: Option<&ImportRecord>,
    ) -> Result<(), ServiceError> {
        let key = &tenant.key_name;
        // The state (in memory) before the file (a stat off the runtime): most clients are
        // imported, and for them the file does not matter.
        let imported = matches!(
            record,
            Some(ImportRecord {
                status: ImportStatus::Imported,
                ..
            })
        );
        if imported || self.xml.exists(key, id).await.map_err(ServiceError::Xml)? {
            return Ok(());
        }
        // Under the client's lock and from a fresh read, so a concurrent write's newer file
        // is never replaced by this older state.
        let _turn = self.lock(key, id).await?;
        if self.xml.exists(key, id).await.map_err(ServiceError::Xml)? {
            return Ok(());
        }
        if let Some(client) = self.load(key, id).await? {
            tracing::info!(key_name = %key, client_id = %id, "rewriting missing XML file");
            self.write_file(tenant, &client).await?;
        }
        Ok(())
    }

    /// Creates (`created`) or replaces the client's info; zones and users stay.
    pub async fn put_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
        info: ClientInfoPatch,
    ) -> Result<Upserted, ServiceError> {
        let today = InstallDate::from_date(self.clock.today_local());
        let mut created = false;
        let client = self
            .write(tenant, id, |current| {
                let created_on = current.as_ref().map_or(today, |c| c.created_on.clone());
                let info = ClientInfo::replaced_by(info, &created_on)
                    .map_err(ServiceError::MissingInfo)?;
                let client = match current {
                    Some(mut c) => {
                        c.info = info;
                        c
                    }
                    None => {
                        created = true;
                        Client::new(id, created_on, info)
                    }
                };
                Ok(Change::Save(Box::new(client)))
            })
            .await?;
        Ok(Upserted {
            client: client.ok_or(ServiceError::ClientNotFound)?,
            created,
        })
    }

    pub async fn patch_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
        info: ClientInfoPatch,
    ) -> Result<Client, ServiceError> {
        self.modify(tenant, id, |c| {
            c.info.merge(info);
            Ok(())
        })
        .await
    }

    pub async fn delete_client(&self, tenant: &Tenant, id: ClientId) -> Result<(), ServiceError> {
        self.write(tenant, id, |current| match current {
            Some(_) => Ok(Change::Delete),
            None => Err(ServiceError::ClientNotFound),
        })
        .await
        .map(|_| ())
    }

    /// Creates or replaces a zone.
    pub async fn put_zone(
        &self,
        tenant: &Tenant,
        id: ClientId,
        zone: Zone,
    ) -> Result<Zone, ServiceError> {
        let stored = zone.clone();
        self.modify(tenant, id, |c| {
            c.put_zone(zone);
            Ok(())
        })
        .await?;
        Ok(stored)
    }

    pub async fn delete_zone(
        &self,
        tenant: &Tenant,
        id: ClientId,
        no: ZoneNo,
    ) -> Result<(), ServiceError> {
        self.modify(tenant, id, |c| Ok(c.remove_zone(no)?))
            .await
            .map(|_| ())
    }

    pub async fn add_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        user: User,
    ) -> Result<User, ServiceError> {
        let stored = user.clone();
        self.modify(tenant, id, |c| Ok(c.add_user(user)?)).await?;
        Ok(stored)
    }

    pub async fn replace_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        user: User,
    ) -> Result<User, ServiceError> {
        let stored = user.clone();
        self.modify(tenant, id, |c| Ok(c.replace_user(user)?))
            .await?;
        Ok(stored)
    }

    pub async fn delete_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        no: UserNo,
    ) -> Result<(), ServiceError> {
        self.modify(tenant, id, |c| Ok(c.remove_user(no)?))
            .await
            .map(|_| ())
    }

    /// A write to an existing client.
    async fn modify(
        &self,
        tenant: &Tenant,
        id: ClientId,
        change: impl FnOnce(&mut Client) -> Result<(), ServiceError>,
    ) -> Result<Client, ServiceError> {
        let saved = self
            .write(tenant, id, |current| {
                let mut client = current.ok_or(ServiceError::ClientNotFound)?;
                change(&mut client)?;
                Ok(Change::Save(Box::new(client)))
            })
            .await?;
        saved.ok_or(ServiceError::ClientNotFound)
    }

    /// One write: take the client's turn, decide the change from the current state, make it
    /// durable (with the XML file owed), replace the file. A failure at any step leaves
    /// storage and file as they were. The file's own fsync is left to the file syncer
    /// ([`Self::run_file_syncer`]): until it has run, the durable owed mark stands for it, and
    /// a start after a crash writes the file again. Returns the client as stored (`None`
    /// after a delete).
    async fn write(
        &self,
        tenant: &Tenant,
        id: ClientId,
        decide: impl FnOnce(Option<Client>) -> Result<Change, ServiceError>,
    ) -> Result<Option<Client>, ServiceError> {
        let key = &tenant.key_name;
        let _turn = self.lock(key, id).await?;
        let before = self.load(key, id).await?;
        let change = decide(before.clone())?;
        let (stored, written) = match change {
            Change::Save(client) => {
                let client = *client;
                let size = client.representation_size();
                if size > MAX_CLIENT_BYTES {
                    return Err(ServiceError::TooLarge {
                        size,
                        max: MAX_CLIENT_BYTES,
                    });
                }
                // Rendered before anything is stored, so a render failure changes nothing.
                let xml = render(tenant, &client)?;
                // The new file is written aside while storage makes the change durable; only
                // putting it in place waits for that, so no reader sees a file for a change
                // that a crash could still take back.
                let (saved, staged) =
                    tokio::join!(self.repo.save(key, &client), self.xml.stage(key, id, xml));
                let mark = match saved {
                    Ok(mark) => mark,
                    Err(e) => {
                        self.discard_staged(key, id).await;
                        return Err(ServiceError::Storage(e));
                    }
                };
                (
                    Some(client),
                    (mark, self.put_in_place(key, id, staged).await),
                )
            }
            Change::Delete => {
                let mark = self
                    .repo
                    .delete(key, id)
                    .await
                    .map_err(ServiceError::Storage)?;
                (None, (mark, self.xml.remove(key, id).await))
            }
        };
        match written {
            (mark, Ok(())) => {
                self.owe_sync(key, id, mark);
                Ok(stored)
            }
            (_, Err(e)) => {
                self.roll_back(tenant, id, before).await;
                Err(ServiceError::Xml(e))
            }
        }
    }

    /// Publishes a file that `staged` says was staged; on any failure the staged file goes.
    async fn put_in_place(
        &self,
        key: &KeyName,
        id: ClientId,
        staged: Result<(), IoFailure>,
    ) -> Result<(), IoFailure> {
        let placed = match staged {
            Ok(()) => self.xml.publish(key, id).await,
            Err(e) => Err(e),
        };
        if placed.is_err() {
            self.discard_staged(key, id).await;
        }
        placed
    }

    /// Removes a staged file that will not be published. One left behind does no harm: the
    /// combiner does not take it, and the client's next write overwrites it whole.
    async fn discard_staged(&self, key: &KeyName, id: ClientId) {
        if let Err(e) = self.xml.discard(key, id).await {
            tracing::warn!(key_name = %key, client_id = %id, error = %e,
                "could not remove a staged XML file; it is removed at the next start");
        }
    }

    /// Puts back the state from before a write whose XML file could not be written, so that
    /// a failed request changes nothing. The file itself was never touched (it is replaced
    /// by rename only). If this fails too, the owed mark makes the next start reconcile.
    async fn roll_back(&self, tenant: &Tenant, id: ClientId, before: Option<Client>) {
        let key = &tenant.key_name;
        let restored = match &before {
            Some(client) => self.repo.save(key, client).await,
            None => self.repo.delete(key, id).await,
        };
        match restored {
            Ok(mark) => self.owe_sync(key, id, mark),
            Err(e) => tracing::error!(key_name = %key, client_id = %id, error = %e,
                "could not roll back a write whose XML file failed; reconciled at next start"),
        }
    }

    /// Hands a written file to the file syncer.
    fn owe_sync(&self, key: &KeyName, id: ClientId, mark: OwedMark) {
        if let Ok(mut pending) = self.unsynced.lock() {
            pending.push((key.clone(), id, mark));
            self.unsynced_count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.sync_wanted.notify_one();
    }

    /// Makes the written files durable in batches (one file-system sync shared by every
    /// write since the last batch) and then clears their owed marks. Batches start at most
    /// every [`SYNC_EVERY`]: a lone write is synced at once, a stream of them in batches of
    /// that long. Runs for the life of the service; the composition root spawns it.
    pub async fn run_file_syncer(self: Arc<Self>) {
        let mut last: Option<tokio::time::Instant> = None;
        loop {
            self.sync_wanted.notified().await;
            if let Some(last) = last {
                tokio::time::sleep_until(last + SYNC_EVERY).await;
            }
            last = Some(tokio::time::Instant::now());
            if let Err(e) = self.sync_pending().await {
                tracing::error!(error = %e, "could not make XML files durable; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.sync_wanted.notify_one();
            }
        }
    }

    /// One batch of the file syncer; on failure the batch stays pending.
    pub async fn sync_pending(&self) -> Result<usize, ServiceError> {
        let batch = match self.unsynced.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(0),
        };
        if batch.is_empty() {
            return Ok(0);
        }
        let files: Vec<(KeyName, ClientId)> =
            batch.iter().map(|(k, id, _)| (k.clone(), *id)).collect();
        if let Err(e) = self.xml.sync(&files).await {
            if let Ok(mut pending) = self.unsynced.lock() {
                pending.extend(batch);
            }
            return Err(ServiceError::Xml(e));
        }
        for (key, id, mark) in &batch {
            self.clear_owed(key, *id, *mark).await;
        }
        self.unsynced_count
            .fetch_sub(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // Cleared marks made durable too, in the background: after a crash, only the files
        // of the last moments are written again.
        if let Err(e) = self.repo.flush().await {
            tracing::warn!(error = %e, "could not make cleared owed marks durable; files are rewritten at next start");
        }
        Ok(batch.len())
    }

    async fn clear_owed(&self, key: &KeyName, id: ClientId, mark: OwedMark) {
        if let Err(e) = self.repo.clear_owed(key, id, mark).await {
            tracing::warn!(key_name = %key, client_id = %id, error = %e,
                "could not clear the owed-file mark; the file is rewritten at next start");
        }
    }

    /// Writes the client's file from its stored state, outside a write (the caller holds the
    /// client's turn): staged and put in place, as a write does.
    async fn write_file(&self, tenant: &Tenant, client: &Client) -> Result<(), ServiceError> {
        let (key, id) = (&tenant.key_name, client.id);
        let staged = self.xml.stage(key, id, render(tenant, client)?).await;
        self.put_in_place(key, id, staged)
            .await
            .map_err(ServiceError::Xml)
    }

    /// Brings every owed XML file in line with storage (run at start, before the port opens):
    /// the writes acknowledged before a crash get their files. Returns how many were done.
    pub async fn finish_owed_files(&self, keys: &dyn KeyStore) -> Result<usize, ServiceError> {
        let owed = self
            .repo
            .owed_files()
            .await
            .map_err(ServiceError::Storage)?;
        for (key, id, mark) in owed {
            let Some(tenant) = keys.tenant(&key) else {
                tracing::warn!(key_name = %key, client_id = %id,
                    "XML file owed for a key that is no longer in the keys file; left for later");
                continue;
            };
            let _turn = self.lock(&key, id).await?;
            match self.load(&key, id).await? {
                Some(client) => self.write_file(&tenant, &client).await?,
                None => self.xml.remove(&key, id).await.map_err(ServiceError::Xml)?,
            }
            self.owe_sync(&key, id, mark);
        }
        // Durable before the port opens.
        self.sync_pending().await
    }

    /// Writes again the XML file of every client that Patriot did not confirm (`failed` in
    /// the state file), still exists, has no file waiting and has been sent fewer than
    /// `max_attempts` times, so the combiner sends it again. Returns how many were written.
    pub async fn requeue_failed(
        &self,
        keys: &dyn KeyStore,
        max_attempts: u32,
    ) -> Result<usize, ServiceError> {
        let failed = self.imports.failed().await.map_err(ServiceError::Storage)?;
        let mut requeued = 0;
        for (patriot_id, record) in &failed {
            if record.status != ImportStatus::Failed || record.attempts >= max_attempts {
                continue;
            }
            let owner = record
                .key_name
                .as_deref()
                .and_then(|k| KeyName::new(k).ok())
                .zip(record.client_id.and_then(|c| ClientId::new(c.into()).ok()));
            let Some((key, id)) = owner else { continue };
            // The id must still be this tenant's: a key whose port changed is another client.
            let Some(tenant) = keys
                .tenant(&key)
                .filter(|t| t.patriot_id(id) == *patriot_id)
            else {
                continue;
            };
            if self.xml.exists(&key, id).await.map_err(ServiceError::Xml)? {
                continue;
            }
            let _turn = self.lock(&key, id).await?;
            if self.xml.exists(&key, id).await.map_err(ServiceError::Xml)? {
                continue;
            }
            if let Some(client) = self.load(&key, id).await? {
                self.write_file(&tenant, &client).await?;
                tracing::info!(key_name = %key, client_id = %id, attempts = record.attempts,
                    "re-queued a client that Patriot did not confirm");
                requeued += 1;
            }
        }
        Ok(requeued)
    }

    /// What operators watch: clients per tenant, files waiting, the combiner's last run.
    pub async fn operations(&self) -> Result<Operations, ServiceError> {
        Ok(Operations {
            clients: self
                .repo
                .count_by_tenant()
                .await
                .map_err(ServiceError::Storage)?,
            pending_files: self.xml.pending_count().await.map_err(ServiceError::Xml)?,
            unsynced_files: self
                .unsynced_count
                .load(std::sync::atomic::Ordering::Relaxed),
            last_run: self.imports.last_run().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the combiner's last run record is unreadable");
                None
            }),
        })
    }

    /// A page of the tenant's clients with their import state (`api.md` §4.1); writes
    /// nothing. With a status filter, the ids come from the state file's index (each checked
    /// against the store, which may have deleted it); otherwise from the store, in chunks,
    /// each looked up in the index.
    pub async fn list_imports(
        &self,
        tenant: &Tenant,
        filter: Option<ImportFilter>,
        after: Option<ClientId>,
        limit: PageLimit,
    ) -> Result<ImportPage, ServiceError> {
        let limit = usize::from(limit.get());
        let statuses = self
            .imports
            .statuses(tenant.port.as_str())
            .await
            .map_err(ServiceError::Storage)?;
        let mut ids = Vec::with_capacity(limit + 1);
        match filter {
            Some(ImportFilter::Status(wanted)) => {
                let from = after.map_or(0, ClientId::get);
                let candidates = statuses
                    .range((std::ops::Bound::Excluded(from), std::ops::Bound::Unbounded))
                    .filter(|(_, status)| **status == wanted);
                for (&id, _) in candidates {
                    let Ok(id) = ClientId::new(id.into()) else {
                        continue;
                    };
                    if self
                        .repo
                        .contains(&tenant.key_name, id)
                        .await
                        .map_err(ServiceError::Storage)?
                    {
                        ids.push(id);
                        if ids.len() > limit {
                            break;
                        }
                    }
                }
            }
            _ => {
                const CHUNK: usize = 1024;
                let not_sent = filter == Some(ImportFilter::NotSent);
                let mut cursor = after;
                'scan: loop {
                    let chunk = self
                        .repo
                        .client_ids(&tenant.key_name, cursor, CHUNK)
                        .await
                        .map_err(ServiceError::Storage)?;
                    for &id in &chunk {
                        if !not_sent || !statuses.contains_key(&id.get()) {
                            ids.push(id);
                            if ids.len() > limit {
                                break 'scan;
                            }
                        }
                    }
                    match chunk.last() {
                        Some(&last) if chunk.len() == CHUNK => cursor = Some(last),
                        _ => break,
                    }
                }
            }
        }
        let more = ids.len() > limit;
        ids.truncate(limit);
        let mut entries = Vec::with_capacity(ids.len());
        for id in ids.iter().copied() {
            let record = if statuses.contains_key(&id.get()) {
                self.import_record(tenant, id).await?
            } else {
                None
            };
            entries.push(ImportEntry { id, record });
        }
        Ok(ImportPage {
            next_after: more.then(|| ids.last().copied()).flatten(),
            entries,
        })
    }

    pub async fn health(&self) -> Result<(), ServiceError> {
        self.repo.health().await.map_err(ServiceError::Storage)
    }
}

#[async_trait::async_trait]
impl crate::ports::ClientApi for ClientService {
    async fn get_client(&self, tenant: &Tenant, id: ClientId) -> Result<Client, ServiceError> {
        self.get(tenant, id).await
    }
    async fn read_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
    ) -> Result<(Client, Option<ImportRecord>), ServiceError> {
        self.read(tenant, id).await
    }
    async fn import_record(&self, tenant: &Tenant, id: ClientId) -> Option<ImportRecord> {
        self.readable_import(tenant, id).await.flatten()
    }
    async fn put_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
        info: ClientInfoPatch,
    ) -> Result<Upserted, ServiceError> {
        ClientService::put_client(self, tenant, id, info).await
    }
    async fn patch_client(
        &self,
        tenant: &Tenant,
        id: ClientId,
        info: ClientInfoPatch,
    ) -> Result<Client, ServiceError> {
        ClientService::patch_client(self, tenant, id, info).await
    }
    async fn delete_client(&self, tenant: &Tenant, id: ClientId) -> Result<(), ServiceError> {
        ClientService::delete_client(self, tenant, id).await
    }
    async fn put_zone(
        &self,
        tenant: &Tenant,
        id: ClientId,
        zone: Zone,
    ) -> Result<Zone, ServiceError> {
        ClientService::put_zone(self, tenant, id, zone).await
    }
    async fn delete_zone(
        &self,
        tenant: &Tenant,
        id: ClientId,
        no: ZoneNo,
    ) -> Result<(), ServiceError> {
        ClientService::delete_zone(self, tenant, id, no).await
    }
    async fn add_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        user: User,
    ) -> Result<User, ServiceError> {
        ClientService::add_user(self, tenant, id, user).await
    }
    async fn replace_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        user: User,
    ) -> Result<User, ServiceError> {
        ClientService::replace_user(self, tenant, id, user).await
    }
    async fn delete_user(
        &self,
        tenant: &Tenant,
        id: ClientId,
        no: UserNo,
    ) -> Result<(), ServiceError> {
        ClientService::delete_user(self, tenant, id, no).await
    }
    async fn health(&self) -> Result<(), ServiceError> {
        ClientService::health(self).await
    }
    async fn operations(&self) -> Result<Operations, ServiceError> {
        ClientService::operations(self).await
    }
    async fn list_imports(
        &self,
        tenant: &Tenant,
        filter: Option<ImportFilter>,
        after: Option<ClientId>,
        limit: PageLimit,
    ) -> Result<ImportPage, ServiceError> {
        ClientService::list_imports(self, tenant, filter, after, limit).await
    }
}

fn render(tenant: &Tenant, client: &Client) -> Result<Vec<u8>, ServiceError> {
    render_client_document(tenant, client).map_err(|e| ServiceError::Xml(IoFailure::from(e)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mockall::predicate::eq;

    use super::*;
    use crate::domain::fields::{Name, ShortText};
    use crate::domain::tenant::{PortCode, XmlText};
    use crate::ports::{
        MockClientRepository, MockClock, MockImportStateReader, MockKeyStore, MockXmlSink,
    };

    fn tenant(name: &str) -> Tenant {
        Tenant {
            key_name: KeyName::new(name).unwrap(),
            port: PortCode::new("P1").unwrap(),
            installer_name: XmlText::new("I").unwrap(),
            installer_email: XmlText::new("i@i.no").unwrap(),
            xml_fields: vec![],
        }
    }

    fn id(n: i64) -> ClientId {
        ClientId::new(n).unwrap()
    }

    fn client(n: i64, name: &str) -> Client {
        crate::domain::client::sample_client(n, name)
    }

    fn clock() -> MockClock {
        let mut clock = MockClock::new();
        clock
            .expect_today_local()
            .returning(|| chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap());
        clock
    }

    /// A sink whose staged files are put in place without fault.
    fn stages_and_publishes(xml: &mut MockXmlSink) {
        xml.expect_stage().returning(|_, _, _| Ok(()));
        xml.expect_publish().returning(|_, _| Ok(()));
    }

    fn service(repo: MockClientRepository, xml: MockXmlSink) -> ClientService {
        ClientService::new(
            Arc::new(repo),
            Arc::new(xml),
            Arc::new(MockImportStateReader::new()),
            Arc::new(clock()),
        )
    }

    /// The backlog the metrics show: written files whose fsync has not run, down to zero
    /// once a batch is synced, and still counted while a failed sync keeps them.
    #[tokio::test]
    async fn unsynced_files_are_counted_until_their_batch_is_synced() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        repo.expect_save().returning(|_, _| Ok(OwedMark(7)));
        repo.expect_clear_owed()
            .withf(|_, _, mark| *mark == OwedMark(7))
            .times(2)
            .returning(|_, _, _| Ok(()));
        repo.expect_flush().returning(|| Ok(()));
        repo.expect_count_by_tenant().returning(|| Ok(vec![]));
        let mut xml = MockXmlSink::new();
        stages_and_publishes(&mut xml);
        xml.expect_pending_count().returning(|| Ok(0));
        let mut seq = mockall::Sequence::new();
        xml.expect_sync()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(IoFailure::Failed("EIO".into())));
        xml.expect_sync()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        let mut imports = MockImportStateReader::new();
        imports.expect_last_run().returning(|| Ok(None));
        let service = ClientService::new(
            Arc::new(repo),
            Arc::new(xml),
            Arc::new(imports),
            Arc::new(clock()),
        );
        let unsynced = |s: &ClientService| {
            futures_util::FutureExt::now_or_never(s.operations())
                .unwrap()
                .unwrap()
                .unsynced_files
        };
        for _ in 0..2 {
            service
                .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
                .await
                .unwrap();
        }
        assert_eq!(unsynced(&service), 2);
        assert!(service.sync_pending().await.is_err());
        assert_eq!(unsynced(&service), 2, "a failed sync keeps its files owed");
        assert_eq!(service.sync_pending().await.unwrap(), 2);
        assert_eq!(unsynced(&service), 0);
    }

    /// A read looks the import state up once, answers with it, and for a client Patriot
    /// confirmed never touches the file; a state that cannot be read fails nothing.
    #[tokio::test]
    async fn a_read_takes_the_import_record_once() {
        let mut repo = MockClientRepository::new();
        let stored = client(1, "Ola");
        repo.expect_get()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let mut imports = MockImportStateReader::new();
        let record = ImportRecord {
            status: ImportStatus::Imported,
            last_batch: None,
            key_name: None,
            client_id: None,
            attempts: 0,
        };
        let answer = record.clone();
        let mut seq = mockall::Sequence::new();
        imports
            .expect_record()
            .withf(|id| id == "1P1")
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_| Ok(Some(answer.clone())));
        imports
            .expect_record()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Err(IoFailure::Failed("EIO".into())));
        // No expectation on the XML sink: an `exists` or `write` would panic.
        let service = ClientService::new(
            Arc::new(repo),
            Arc::new(MockXmlSink::new()),
            Arc::new(imports),
            Arc::new(clock()),
        );
        let (read, import) = service.read(&tenant("A"), id(1)).await.unwrap();
        assert_eq!(read, client(1, "Ola"));
        assert_eq!(import, Some(record));
        let (_, import) = service.read(&tenant("A"), id(1)).await.unwrap();
        assert_eq!(import, None);
    }

    /// A store holding `old` that takes the write of a client named "New" and then, as the
    /// roll-back, `old` again, in that order.
    fn repo_rolled_back_to(old: Client) -> MockClientRepository {
        let mut repo = MockClientRepository::new();
        let stored = old.clone();
        repo.expect_get()
            .returning(move |_, _| Ok(Some(stored.clone())));
        let mut seq = mockall::Sequence::new();
        repo.expect_save()
            .withf(|_, c| c.info.name.as_str() == "New")
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(OwedMark(1)));
        repo.expect_save()
            .withf(move |_, c| *c == old)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(OwedMark(2)));
        repo
    }

    #[tokio::test]
    async fn a_failed_xml_write_puts_the_old_state_back() {
        let repo = repo_rolled_back_to(client(1, "Old"));
        // The file system is full when the new file is staged: nothing is put in place.
        let mut xml = MockXmlSink::new();
        xml.expect_stage()
            .returning(|_, _, _| Err(IoFailure::NoSpace("disk full".into())));
        xml.expect_publish().never();
        xml.expect_discard().times(1).returning(|_, _| Ok(()));

        let patch = ClientInfoPatch {
            name: Some(Name::new("New".into()).unwrap()),
            ..Default::default()
        };
        let err = service(repo, xml)
            .put_client(&tenant("A"), id(1), patch)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ServiceError::Xml(IoFailure::NoSpace(_))),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_failed_publish_puts_the_old_state_back_and_drops_the_staged_file() {
        let repo = repo_rolled_back_to(client(1, "Old"));
        let mut xml = MockXmlSink::new();
        xml.expect_stage()
            .withf(|_, i, bytes| *i == id(1) && String::from_utf8_lossy(bytes).contains("New"))
            .times(1)
            .returning(|_, _, _| Ok(()));
        xml.expect_publish()
            .times(1)
            .returning(|_, _| Err(IoFailure::Failed("EIO".into())));
        xml.expect_discard()
            .with(eq(KeyName::new("A").unwrap()), eq(id(1)))
            .times(1)
            .returning(|_, _| Ok(()));
        let patch = ClientInfoPatch {
            name: Some(Name::new("New".into()).unwrap()),
            ..Default::default()
        };
        let result = service(repo, xml)
            .put_client(&tenant("A"), id(1), patch)
            .await;
        assert!(matches!(result, Err(ServiceError::Xml(_))));
    }

    #[tokio::test]
    async fn a_failed_xml_write_of_a_new_client_deletes_it_again() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(None));
        repo.expect_save()
            .times(1)
            .returning(|_, _| Ok(OwedMark(1)));
        repo.expect_delete()
            .with(eq(KeyName::new("A").unwrap()), eq(id(5)))
            .times(1)
            .returning(|_, _| Ok(OwedMark(2)));
        let mut xml = MockXmlSink::new();
        xml.expect_stage()
            .returning(|_, _, _| Err(IoFailure::Failed("read-only".into())));
        xml.expect_publish().never();
        xml.expect_discard().returning(|_, _| Ok(()));
        let patch = ClientInfoPatch {
            name: Some(Name::new("New".into()).unwrap()),
            ..Default::default()
        };
        let result = service(repo, xml)
            .put_client(&tenant("A"), id(5), patch)
            .await;
        assert!(matches!(result, Err(ServiceError::Xml(_))));
    }

    #[tokio::test]
    async fn a_storage_failure_puts_no_file_in_place() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        repo.expect_save()
            .returning(|_, _| Err(IoFailure::NoSpace("full".into())));
        // Staged while storage worked; never published, and removed again.
        let mut xml = MockXmlSink::new();
        xml.expect_stage().times(1).returning(|_, _, _| Ok(()));
        xml.expect_publish().never();
        xml.expect_discard().times(1).returning(|_, _| Ok(()));
        let zone = Zone {
            no: ZoneNo::new(1).unwrap(),
            area: ShortText::default(),
            module_no: Default::default(),
        };
        let result = service(repo, xml).put_zone(&tenant("A"), id(1), zone).await;
        assert!(matches!(
            result,
            Err(ServiceError::Storage(IoFailure::NoSpace(_)))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_waits_too_long_is_locked_out() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        // The first write holds the client's turn inside `save` until the test lets it go.
        let (inside_tx, inside_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = std::sync::Mutex::new(release_rx);
        repo.expect_save().times(1).returning(move |_, _| {
            inside_tx.send(()).unwrap();
            release_rx.lock().unwrap().recv().unwrap();
            Ok(OwedMark(1))
        });
        let mut xml = MockXmlSink::new();
        stages_and_publishes(&mut xml);
        let service = Arc::new(service(repo, xml).with_lock_timeout(Duration::from_millis(50)));
        let slow = {
            let service = service.clone();
            tokio::spawn(async move {
                service
                    .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
                    .await
            })
        };
        tokio::task::spawn_blocking(move || inside_rx.recv().unwrap())
            .await
            .unwrap();
        let second = service
            .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
            .await;
        assert!(
            matches!(second, Err(ServiceError::Locked)),
            "{:?}",
            second.err()
        );
        release_tx.send(()).unwrap();
        assert!(slow.await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn owed_files_are_finished_for_known_tenants() {
        let mut repo = MockClientRepository::new();
        repo.expect_owed_files().returning(|| {
            Ok(vec![
                (KeyName::new("A").unwrap(), id(1), OwedMark(10)),
                (KeyName::new("A").unwrap(), id(2), OwedMark(20)),
                (KeyName::new("Gone").unwrap(), id(3), OwedMark(30)),
            ])
        });
        repo.expect_get()
            .with(eq(KeyName::new("A").unwrap()), eq(id(1)))
            .returning(|_, _| Ok(Some(client(1, "Kept"))));
        repo.expect_get()
            .with(eq(KeyName::new("A").unwrap()), eq(id(2)))
            .returning(|_, _| Ok(None));
        repo.expect_clear_owed()
            .with(eq(KeyName::new("A").unwrap()), eq(id(1)), eq(OwedMark(10)))
            .times(1)
            .returning(|_, _, _| Ok(()));
        repo.expect_clear_owed()
            .with(eq(KeyName::new("A").unwrap()), eq(id(2)), eq(OwedMark(20)))
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut xml = MockXmlSink::new();
        xml.expect_stage()
            .withf(|_, i, bytes| *i == id(1) && String::from_utf8_lossy(bytes).contains("Kept"))
            .times(1)
            .returning(|_, _, _| Ok(()));
        xml.expect_publish()
            .withf(|_, i| *i == id(1))
            .times(1)
            .returning(|_, _| Ok(()));
        xml.expect_remove()
            .withf(|_, i| *i == id(2))
            .times(1)
            .returning(|_, _| Ok(()));
        // One sync for the whole batch, before any mark is cleared.
        xml.expect_sync()
            .withf(|files| files.len() == 2)
            .times(1)
            .returning(|_| Ok(()));
        repo.expect_flush().times(1).returning(|| Ok(()));
        let mut keys = MockKeyStore::new();
        keys.expect_tenant()
            .returning(|k| (k.as_str() == "A").then(|| tenant("A")));
        let done = service(repo, xml).finish_owed_files(&keys).await.unwrap();
        assert_eq!(done, 2);
    }

    #[tokio::test]
    async fn written_files_are_synced_in_one_batch_then_their_marks_cleared() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        let mut marks = 0;
        repo.expect_save().times(3).returning(move |_, _| {
            marks += 1;
            Ok(OwedMark(marks))
        });
        let mut seq = mockall::Sequence::new();
        let mut xml = MockXmlSink::new();
        xml.expect_stage().times(3).returning(|_, _, _| Ok(()));
        xml.expect_publish().times(3).returning(|_, _| Ok(()));
        xml.expect_sync()
            .withf(|files| files.len() == 3)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        // The cleared marks are made durable once for the batch.
        repo.expect_flush().times(1).returning(|| Ok(()));
        for mark in 1..=3 {
            repo.expect_clear_owed()
                .with(
                    eq(KeyName::new("A").unwrap()),
                    eq(id(1)),
                    eq(OwedMark(mark)),
                )
                .times(1)
                .returning(|_, _, _| Ok(()));
        }
        let service = service(repo, xml);
        for _ in 0..3 {
            service
                .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
                .await
                .unwrap();
        }
        assert_eq!(service.sync_pending().await.unwrap(), 3);
        assert_eq!(service.sync_pending().await.unwrap(), 0);
    }

    /// A lone write is synced at once; writes that follow within `SYNC_EVERY` wait and are
    /// synced together.
    #[tokio::test(start_paused = true)]
    async fn syncs_are_paced_under_a_stream_of_writes() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        repo.expect_save().returning(|_, _| Ok(OwedMark(1)));
        repo.expect_clear_owed().returning(|_, _, _| Ok(()));
        repo.expect_flush().returning(|| Ok(()));
        let mut xml = MockXmlSink::new();
        stages_and_publishes(&mut xml);
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = batches.clone();
        xml.expect_sync().returning(move |files| {
            seen.lock().unwrap().push(files.len());
            Ok(())
        });
        let service = Arc::new(service(repo, xml));
        tokio::spawn(service.clone().run_file_syncer());
        let write = |n: i64| {
            let service = service.clone();
            async move {
                service
                    .patch_client(&tenant("A"), id(n), ClientInfoPatch::default())
                    .await
                    .unwrap();
            }
        };
        let settle = || async {
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
        };
        write(1).await;
        settle().await;
        assert_eq!(
            *batches.lock().unwrap(),
            [1],
            "a lone write is synced at once"
        );
        write(2).await;
        settle().await;
        write(3).await;
        settle().await;
        assert_eq!(
            *batches.lock().unwrap(),
            [1],
            "the next sync waits for its turn"
        );
        tokio::time::sleep(SYNC_EVERY * 2).await;
        assert_eq!(*batches.lock().unwrap(), [1, 2]);
    }

    #[tokio::test]
    async fn a_failed_sync_keeps_the_marks() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        repo.expect_save().returning(|_, _| Ok(OwedMark(7)));
        repo.expect_clear_owed().never();
        let mut xml = MockXmlSink::new();
        stages_and_publishes(&mut xml);
        xml.expect_sync()
            .returning(|_| Err(IoFailure::Failed("EIO".into())));
        let service = service(repo, xml);
        service
            .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
            .await
            .unwrap();
        assert!(service.sync_pending().await.is_err());
        assert!(
            service.sync_pending().await.is_err(),
            "still pending after a failure"
        );
    }

    #[tokio::test]
    async fn put_without_a_name_is_refused_before_anything_is_stored() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(None));
        let result = service(repo, MockXmlSink::new())
            .put_client(&tenant("A"), id(1), ClientInfoPatch::default())
            .await;
        match result {
            Err(ServiceError::MissingInfo(e)) => assert_eq!(e.0, "Name"),
            other => panic!("{:?}", other.err()),
        }
    }
}
