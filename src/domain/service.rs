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
use super::file_backlog::FileBacklog;
use super::import_state::{ImportEntry, ImportFilter, ImportPage, ImportRecord, ImportStatus};
use super::tenant::{KeyName, Tenant};
use super::xml::render_client_document;
use crate::ports::{
    ClientRepository, Clock, FileWrite, ImportStateReader, IoFailure, KeyStore, OwedMark, XmlSink,
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
    /// The XML files owed to earlier writes are not being written fast enough (or at all).
    #[error("the XML files of earlier writes are not written yet; retry")]
    FilesBehind,
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
    unsynced: std::sync::Mutex<Vec<(KeyName, ClientId, Vec<OwedMark>)>>,
    /// How many of those there are, including a batch being synced: the backlog.
    unsynced_count: std::sync::atomic::AtomicU64,
    sync_wanted: tokio::sync::Notify,
    /// Files owed to answered writes, for the file writer ([`Self::run_file_writer`]).
    backlog: FileBacklog,
    /// Wakes the file writer when a file is owed.
    write_wanted: tokio::sync::Notify,
    /// Wakes writes that wait for room in the backlog.
    room_made: tokio::sync::Notify,
    /// The file writer's last batch failed (for `/healthz`): files are owed and not written.
    writer_failing: std::sync::atomic::AtomicBool,
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
            backlog: FileBacklog::default(),
            write_wanted: tokio::sync::Notify::new(),
            room_made: tokio::sync::Notify::new(),
            writer_failing: std::sync::atomic::AtomicBool::new(false),
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
        // An owed file is on its way: the writer puts the newest state in place.
        if imported
            || self.backlog.owes(key, id)
            || self.xml.exists(key, id).await.map_err(ServiceError::Xml)?
        {
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
            self.write_file(key, id, Some(render_client_document(tenant, &client)))
                .await?;
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
    /// durable with its XML file owed, and hand the file to the file writer
    /// ([`Self::run_file_writer`]), which puts it in place shortly after the answer. Until
    /// the file is written and synced, the durable owed mark stands for it: a start after a
    /// crash writes it. A failure before storage accepted the change changes nothing.
    /// Returns the client as stored (`None` after a delete).
    async fn write(
        &self,
        tenant: &Tenant,
        id: ClientId,
        decide: impl FnOnce(Option<Client>) -> Result<Change, ServiceError>,
    ) -> Result<Option<Client>, ServiceError> {
        let key = &tenant.key_name;
        self.wait_for_room().await?;
        let _turn = self.lock(key, id).await?;
        let before = self.load(key, id).await?;
        match decide(before)? {
            Change::Save(client) => {
                let client = *client;
                let size = client.representation_size();
                if size > MAX_CLIENT_BYTES {
                    return Err(ServiceError::TooLarge {
                        size,
                        max: MAX_CLIENT_BYTES,
                    });
                }
                // Rendered, and its room on disk checked, before anything is stored: a file
                // that cannot be written is refused with nothing changed.
                let xml = render_client_document(tenant, &client);
                self.xml
                    .check_room(xml.len())
                    .await
                    .map_err(ServiceError::Xml)?;
                let mark = self
                    .repo
                    .save(key, &client)
                    .await
                    .map_err(ServiceError::Storage)?;
                self.owe_file(key, id, Some(xml), mark);
                Ok(Some(client))
            }
            Change::Delete => {
                let mark = self
                    .repo
                    .delete(key, id)
                    .await
                    .map_err(ServiceError::Storage)?;
                self.owe_file(key, id, None, mark);
                Ok(None)
            }
        }
    }

    /// Waits while the backlog of owed files is full (the file writer is behind, or failing),
    /// at most the lock timeout; then answers `FilesBehind` with nothing changed.
    async fn wait_for_room(&self) -> Result<(), ServiceError> {
        let waited = tokio::time::timeout(self.lock_timeout, async {
            loop {
                let room = self.room_made.notified();
                if self.backlog.has_room() {
                    return;
                }
                room.await;
            }
        });
        waited.await.map_err(|_| ServiceError::FilesBehind)
    }

    fn owe_file(&self, key: &KeyName, id: ClientId, xml: Option<Vec<u8>>, mark: OwedMark) {
        self.backlog.owe(key, id, xml, mark);
        self.write_wanted.notify_one();
    }

    /// Writes the owed files in batches: each batch is what was owed while the last one was
    /// written (one handoff to the file system per batch, and a client written twice meanwhile
    /// is written once). Written files go to the file syncer; a batch that fails is kept
    /// owed and tried again a second later, and `/healthz` says so meanwhile. Runs for the
    /// life of the service; the composition root spawns it.
    pub async fn run_file_writer(self: Arc<Self>) {
        loop {
            self.write_wanted.notified().await;
            while self.write_owed().await.is_err() {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    /// One batch of the file writer: `Err` when a file could not be written (it stays owed).
    pub async fn write_owed(&self) -> Result<usize, ServiceError> {
        let batch = self.backlog.take();
        self.room_made.notify_waiters();
        if batch.is_empty() {
            return Ok(0);
        }
        let writes = batch
            .iter()
            .map(|f| FileWrite {
                tenant: f.tenant.clone(),
                id: f.id,
                xml: f.xml.clone(),
            })
            .collect();
        let results = self.xml.write_files(writes).await;
        let mut failed = None;
        let count = batch.len();
        for (file, result) in batch.into_iter().zip(results) {
            match result {
                Ok(()) => self.owe_sync(file.tenant, file.id, file.marks),
                Err(e) => {
                    tracing::error!(key_name = %file.tenant, client_id = %file.id, error = %e,
                        "could not write an XML file; it stays owed and is tried again");
                    failed = Some(e);
                    self.backlog.give_back(file);
                }
            }
        }
        self.backlog.done(count);
        self.writer_failing
            .store(failed.is_some(), std::sync::atomic::Ordering::Relaxed);
        match failed {
            Some(e) => Err(ServiceError::Xml(e)),
            None => Ok(count),
        }
    }

    /// Writes every owed file and syncs them (at shutdown, after the last answer).
    pub async fn finish_backlog(&self) -> Result<(), ServiceError> {
        self.write_owed().await?;
        self.sync_pending().await.map(|_| ())
    }

    /// Hands a written file to the file syncer.
    fn owe_sync(&self, key: KeyName, id: ClientId, marks: Vec<OwedMark>) {
        if let Ok(mut pending) = self.unsynced.lock() {
            pending.push((key, id, marks));
            self.unsynced_count
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.sync_wanted.notify_one();
    }

    /// Makes the written files durable in batches (one file-system sync shared by every
    /// write since the last batch) and then clears their owed marks. Batches start at most
    /// every 20 ms (`SYNC_EVERY`): a lone write is synced at once, a stream of them in batches
    /// of that long. Runs for the life of the service; the composition root spawns it.
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
        for (key, id, marks) in &batch {
            for mark in marks {
                self.clear_owed(key, *id, *mark).await;
            }
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

    /// Writes the client's file from its stored state (`None`: removes it), outside a write
    /// and at once (the caller holds the client's turn).
    async fn write_file(
        &self,
        tenant: &KeyName,
        id: ClientId,
        xml: Option<Vec<u8>>,
    ) -> Result<(), ServiceError> {
        let write = FileWrite {
            tenant: tenant.clone(),
            id,
            xml: xml.map(Arc::new),
        };
        let written = self.xml.write_files(vec![write]).await.pop();
        written
            .unwrap_or_else(|| Err(IoFailure::Failed("the file was not written".into())))
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
            let xml = self
                .load(&key, id)
                .await?
                .map(|client| render_client_document(&tenant, &client));
            self.write_file(&key, id, xml).await?;
            self.owe_sync(key, id, vec![mark]);
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
            if self.backlog.owes(&key, id)
                || self.xml.exists(&key, id).await.map_err(ServiceError::Xml)?
            {
                continue;
            }
            let _turn = self.lock(&key, id).await?;
            if self.xml.exists(&key, id).await.map_err(ServiceError::Xml)? {
                continue;
            }
            if let Some(client) = self.load(&key, id).await? {
                self.write_file(&key, id, Some(render_client_document(&tenant, &client)))
                    .await?;
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
                .load(std::sync::atomic::Ordering::Relaxed)
                + self.backlog.owed_count() as u64,
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

    /// Storage's health, and whether the file writer is keeping the XML files in line.
    pub async fn health(&self) -> Result<(), ServiceError> {
        self.repo.health().await.map_err(ServiceError::Storage)?;
        if self
            .writer_failing
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(ServiceError::FilesBehind);
        }
        Ok(())
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

    /// A sink with room for every file, which writes them without fault.
    fn writes_files(xml: &mut MockXmlSink) {
        xml.expect_check_room().returning(|_| Ok(()));
        xml.expect_write_files()
            .returning(|files| files.iter().map(|_| Ok(())).collect());
    }

    /// Whether a file write puts content holding `text` in place.
    fn holds(write: &FileWrite, text: &str) -> bool {
        write
            .xml
            .as_deref()
            .is_some_and(|xml| String::from_utf8_lossy(xml).contains(text))
    }

    /// Client 1 of tenant A has its marks 1 to `last` cleared, each once.
    fn clears_marks_once(repo: &mut MockClientRepository, last: u64) {
        for mark in 1..=last {
            repo.expect_clear_owed()
                .with(
                    eq(KeyName::new("A").unwrap()),
                    eq(id(1)),
                    eq(OwedMark(mark)),
                )
                .times(1)
                .returning(|_, _, _| Ok(()));
        }
    }

    fn service(repo: MockClientRepository, xml: MockXmlSink) -> ClientService {
        ClientService::new(
            Arc::new(repo),
            Arc::new(xml),
            Arc::new(MockImportStateReader::new()),
            Arc::new(clock()),
        )
    }

    /// The backlog the metrics show: files owed to answered writes (two writes of a client
    /// owe one file), then written files whose fsync has not run, down to zero once a batch
    /// is synced, and still counted while a failed sync keeps them.
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
        writes_files(&mut xml);
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
        assert_eq!(unsynced(&service), 1);
        assert_eq!(service.write_owed().await.unwrap(), 1);
        assert_eq!(unsynced(&service), 1);
        assert!(service.sync_pending().await.is_err());
        assert_eq!(unsynced(&service), 1, "a failed sync keeps its files owed");
        assert_eq!(service.sync_pending().await.unwrap(), 1);
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

    fn renamed() -> ClientInfoPatch {
        ClientInfoPatch {
            name: Some(Name::new("New".into()).unwrap()),
            ..Default::default()
        }
    }

    /// A file system without room for the new file refuses the write before it is stored.
    #[tokio::test]
    async fn no_room_for_the_file_refuses_the_write_with_nothing_stored() {
        let mut repo = MockClientRepository::new();
        repo.expect_get()
            .returning(|_, _| Ok(Some(client(1, "Old"))));
        repo.expect_save().never();
        let mut xml = MockXmlSink::new();
        xml.expect_check_room()
            .withf(|bytes| *bytes > 100)
            .returning(|_| Err(IoFailure::NoSpace("disk full".into())));
        xml.expect_write_files().never();
        let service = service(repo, xml);
        let err = service
            .put_client(&tenant("A"), id(1), renamed())
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, ServiceError::Xml(IoFailure::NoSpace(_))),
            "{err:?}"
        );
        assert_eq!(service.write_owed().await.unwrap(), 0, "no file owed");
    }

    /// The answer comes once storage holds the change; the file follows from the writer. A
    /// file that fails stays owed (its mark uncleared, `/healthz` failing) and is written
    /// by the next batch, with the newest state.
    #[tokio::test]
    async fn a_file_that_fails_stays_owed_and_is_written_again() {
        let mut repo = MockClientRepository::new();
        repo.expect_get()
            .returning(|_, _| Ok(Some(client(1, "Old"))));
        let mut marks = 0;
        repo.expect_save().times(2).returning(move |_, _| {
            marks += 1;
            Ok(OwedMark(marks))
        });
        repo.expect_health().returning(|| Ok(()));
        repo.expect_flush().returning(|| Ok(()));
        clears_marks_once(&mut repo, 2);
        let mut xml = MockXmlSink::new();
        xml.expect_check_room().returning(|_| Ok(()));
        let mut seq = mockall::Sequence::new();
        xml.expect_write_files()
            .withf(|files| files.len() == 1 && files[0].xml.is_some())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| vec![Err(IoFailure::Failed("EIO".into()))]);
        xml.expect_write_files()
            .withf(|files| files.len() == 1 && holds(&files[0], "Newest"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| vec![Ok(())]);
        xml.expect_sync().times(1).returning(|_| Ok(()));
        let service = service(repo, xml);
        service
            .put_client(&tenant("A"), id(1), renamed())
            .await
            .unwrap();
        assert!(service.write_owed().await.is_err());
        assert!(matches!(
            service.health().await,
            Err(ServiceError::FilesBehind)
        ));
        assert_eq!(
            service.sync_pending().await.unwrap(),
            0,
            "nothing written to sync"
        );
        let newest = ClientInfoPatch {
            name: Some(Name::new("Newest".into()).unwrap()),
            ..Default::default()
        };
        service
            .put_client(&tenant("A"), id(1), newest)
            .await
            .unwrap();
        assert_eq!(service.write_owed().await.unwrap(), 1);
        service.health().await.unwrap();
        assert_eq!(service.sync_pending().await.unwrap(), 1);
    }

    /// With the backlog full (a writer behind), a write waits for room, and after the lock
    /// timeout answers `FilesBehind` with nothing stored; once the writer takes the backlog,
    /// writes go through again.
    #[tokio::test]
    async fn a_full_backlog_holds_writes_back_until_the_writer_takes_it() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        repo.expect_save()
            .times(1)
            .returning(|_, _| Ok(OwedMark(2)));
        let mut xml = MockXmlSink::new();
        writes_files(&mut xml);
        let service = service(repo, xml).with_lock_timeout(Duration::from_millis(50));
        let full = vec![0; crate::domain::file_backlog::BACKLOG_BYTES];
        service.owe_file(&KeyName::new("A").unwrap(), id(9), Some(full), OwedMark(1));

        let held = service
            .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
            .await;
        assert!(
            matches!(held, Err(ServiceError::FilesBehind)),
            "{:?}",
            held.err()
        );
        assert_eq!(service.write_owed().await.unwrap(), 1);
        service
            .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_storage_failure_owes_no_file() {
        let mut repo = MockClientRepository::new();
        repo.expect_get().returning(|_, _| Ok(Some(client(1, "A"))));
        repo.expect_save()
            .returning(|_, _| Err(IoFailure::NoSpace("full".into())));
        let mut xml = MockXmlSink::new();
        xml.expect_check_room().returning(|_| Ok(()));
        xml.expect_write_files().never();
        let zone = Zone {
            no: ZoneNo::new(1).unwrap(),
            area: ShortText::default(),
            module_no: Default::default(),
        };
        let service = service(repo, xml);
        let result = service.put_zone(&tenant("A"), id(1), zone).await;
        assert!(matches!(
            result,
            Err(ServiceError::Storage(IoFailure::NoSpace(_)))
        ));
        assert_eq!(service.write_owed().await.unwrap(), 0);
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
        writes_files(&mut xml);
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
        xml.expect_write_files()
            .withf(|files| files.len() == 1 && files[0].id == id(1) && holds(&files[0], "Kept"))
            .times(1)
            .returning(|_| vec![Ok(())]);
        xml.expect_write_files()
            .withf(|files| files.len() == 1 && files[0].id == id(2) && files[0].xml.is_none())
            .times(1)
            .returning(|_| vec![Ok(())]);
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
        xml.expect_check_room().returning(|_| Ok(()));
        // Three writes of one client before the writer runs: one file, three marks.
        xml.expect_write_files()
            .withf(|files| files.len() == 1)
            .times(1)
            .returning(|_| vec![Ok(())]);
        xml.expect_sync()
            .withf(|files| files.len() == 1)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        // The cleared marks are made durable once for the batch.
        repo.expect_flush().times(1).returning(|| Ok(()));
        clears_marks_once(&mut repo, 3);
        let service = service(repo, xml);
        for _ in 0..3 {
            service
                .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
                .await
                .unwrap();
        }
        assert_eq!(service.write_owed().await.unwrap(), 1);
        assert_eq!(service.sync_pending().await.unwrap(), 1);
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
        writes_files(&mut xml);
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = batches.clone();
        xml.expect_sync().returning(move |files| {
            seen.lock().unwrap().push(files.len());
            Ok(())
        });
        let service = Arc::new(service(repo, xml));
        tokio::spawn(service.clone().run_file_syncer());
        tokio::spawn(service.clone().run_file_writer());
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
        writes_files(&mut xml);
        xml.expect_sync()
            .returning(|_| Err(IoFailure::Failed("EIO".into())));
        let service = service(repo, xml);
        service
            .patch_client(&tenant("A"), id(1), ClientInfoPatch::default())
            .await
            .unwrap();
        service.write_owed().await.unwrap();
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
