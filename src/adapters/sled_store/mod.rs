//! The client repository on sled, the embedded database.
//!
//! One tree per tenant (`clients/<key_name>`), so no lookup can reach another tenant's data.
//! Inside a tree, `c<id>` holds the client and `o<id>` marks its XML file as owed; both are
//! changed in one atomic batch. Durability comes from [`GroupFlush`]: writers that arrive
//! while a flush runs share the next one.

pub mod group_flush;
mod record;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::adapters::disk_space::SpaceGuard;
use crate::domain::client::Client;
use crate::domain::fields::ClientId;
use crate::domain::tenant::KeyName;
use crate::ports::{ClientRepository, IoFailure, OwedMark};

use group_flush::GroupFlush;

const TREE_PREFIX: &str = "clients/";
const CLIENT: u8 = b'c';
const OWED: u8 = b'o';
/// A key with no value per stored client, written in the same batch as the client: the id
/// index is read from these at start. sled keeps values inline in its leaves, so a scan of
/// the client keys pages in every client (about 70 MB held after start with 100,000); these
/// keys sit in leaves of their own.
const PRESENT: u8 = b'i';
/// In a tenant's tree once every client there has its `PRESENT` key. A tree without it (made
/// by 0.2.0 and earlier) gets them from one scan of its clients at the next start.
const PRESENT_COMPLETE: &[u8] = b"m:present-keys";

pub struct SledClientRepository {
    db: sled::Db,
    flush: Arc<GroupFlush>,
    space: Option<SpaceGuard>,
    /// Every tenant's client ids, in memory: read at open, kept in step with each write. Lets
    /// listings and counts run without scanning the trees (a scan costs about 1 µs a key).
    ids: std::sync::RwLock<std::collections::HashMap<KeyName, std::collections::BTreeSet<u32>>>,
}

/// sled's segment size for new databases. With sled's default (512 KiB), a value above a
/// fraction of it is written as a file under `blobs/` that is never deleted, not on
/// overwrite, not on remove; at 8 MiB a client of the 1 MiB cap stays inline, and the space
/// of its old versions is used again. Fixed when a database is created.
const SEGMENT_SIZE: usize = 8 << 20;

/// The segment size an existing database was created with (sled's `conf` file: text lines,
/// then a checksum, so not UTF-8 as a whole).
fn existing_segment_size(dir: &Path) -> Option<usize> {
    let bytes = std::fs::read(dir.join("conf")).ok()?;
    String::from_utf8_lossy(&bytes)
        .lines()
        .find_map(|l| l.strip_prefix("segment_size: "))
        .and_then(|v| v.trim().parse().ok())
}

fn id_of(key: &[u8]) -> Option<u32> {
    key.get(1..5)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
}

fn failure(e: sled::Error) -> IoFailure {
    match e {
        sled::Error::Io(io) => IoFailure::from(io),
        other => IoFailure::Failed(other.to_string()),
    }
}

fn encode(client: &Client) -> Result<Vec<u8>, IoFailure> {
    record::encode(client).map_err(IoFailure::Failed)
}

use record::decode;

fn present_key(id: u32) -> [u8; 5] {
    let mut key = [PRESENT, 0, 0, 0, 0];
    key[1..].copy_from_slice(&id.to_be_bytes());
    key
}

fn record_key(kind: u8, id: ClientId) -> [u8; 5] {
    let mut key = [kind, 0, 0, 0, 0];
    key[1..].copy_from_slice(&id.get().to_be_bytes());
    key
}

impl SledClientRepository {
    /// Opens (or creates) the database in `dir`. `cache_bytes` bounds sled's page cache.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, IoFailure> {
        let segment_size = match existing_segment_size(dir) {
            Some(size) if size != SEGMENT_SIZE => {
                tracing::warn!(
                    segment_size = size,
                    "this database was created with a smaller segment size: clients larger \
                     than a fraction of it are kept as blob files that sled never deletes; \
                     move it with `patriot-api export` and `import` into a new DATA_DIR"
                );
                size
            }
            _ => SEGMENT_SIZE,
        };
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .segment_size(segment_size)
            .open()
            .map_err(failure)?;
        let flush = Arc::new(GroupFlush::new(db.clone()));
        let repo = Self {
            db,
            flush,
            space: None,
            ids: Default::default(),
        };
        let mut ids = std::collections::HashMap::new();
        let mut completed = false;
        for (key_name, tree) in repo.tenant_trees()? {
            let kind = if tree.contains_key(PRESENT_COMPLETE).map_err(failure)? {
                PRESENT
            } else {
                completed = true;
                CLIENT
            };
            let mut set = std::collections::BTreeSet::new();
            for key in tree.scan_prefix([kind]).keys() {
                set.extend(id_of(&key.map_err(failure)?));
            }
            if kind == CLIENT {
                // In small batches, each flushed: unflushed, 100,000 keys held sled at 500 MB. A start
                // that dies half way finds no marker and does it again.
                for chunk in set.iter().collect::<Vec<_>>().chunks(4096) {
                    let mut batch = sled::Batch::default();
                    for &&id in chunk {
                        batch.insert(&present_key(id), &[]);
                    }
                    tree.apply_batch(batch).map_err(failure)?;
                    tree.flush().map_err(failure)?;
                }
                tree.insert(PRESENT_COMPLETE, &[]).map_err(failure)?;
            }
            if !set.is_empty() {
                ids.insert(key_name, set);
            }
        }
        if completed {
            repo.db.flush().map_err(failure)?;
        }
        if let Ok(mut slot) = repo.ids.write() {
            *slot = ids;
        }
        Ok(repo)
    }

    /// Records in the id index which clients a write made present or absent.
    fn index(&self, tenant: &KeyName, present: &[(u32, bool)]) {
        if present.is_empty() {
            return;
        }
        if let Ok(mut ids) = self.ids.write() {
            let set = ids.entry(tenant.clone()).or_default();
            for &(id, here) in present {
                if here {
                    set.insert(id);
                } else {
                    set.remove(&id);
                }
            }
        }
    }

    /// Refuses writes while `dir`'s file system has less than `reserve_bytes` free.
    pub fn with_space_reserve(mut self, dir: &Path, reserve_bytes: u64) -> Self {
        self.space = Some(SpaceGuard::new(dir, reserve_bytes));
        self
    }

    fn tree(&self, tenant: &KeyName) -> Result<sled::Tree, IoFailure> {
        self.db
            .open_tree(format!("{TREE_PREFIX}{tenant}"))
            .map_err(failure)
    }

    /// Every client of every tenant, tenants by name and clients by id: the backup.
    pub fn export_all(&self) -> Result<Vec<(KeyName, Vec<Client>)>, IoFailure> {
        let mut tenants = Vec::new();
        for (key_name, tree) in self.tenant_trees()? {
            let mut clients = Vec::new();
            for entry in tree.scan_prefix([CLIENT]).values() {
                let bytes = entry.map_err(failure)?;
                let client = decode(&bytes).map_err(|e| {
                    IoFailure::Failed(format!("a stored client of {key_name} is unreadable: {e}"))
                })?;
                clients.push(client);
            }
            if !clients.is_empty() {
                tenants.push((key_name, clients));
            }
        }
        tenants.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(tenants)
    }

    /// Whether no tenant has any client.
    pub fn is_empty(&self) -> Result<bool, IoFailure> {
        for (_, tree) in self.tenant_trees()? {
            if tree.scan_prefix([CLIENT]).next().is_some() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Loads clients as they are, without owing XML files (Patriot has them already), and
    /// makes them durable. Meant for an empty database.
    pub fn import_all(&self, tenants: &[(KeyName, Vec<Client>)]) -> Result<usize, IoFailure> {
        let mut count = 0;
        for (key_name, clients) in tenants {
            let mut batch = sled::Batch::default();
            for client in clients {
                batch.insert(&record_key(CLIENT, client.id), encode(client)?);
                batch.insert(&present_key(client.id.get()), &[]);
                count += 1;
            }
            batch.insert(PRESENT_COMPLETE, &[]);
            self.tree(key_name)?.apply_batch(batch).map_err(failure)?;
            let present: Vec<(u32, bool)> = clients.iter().map(|c| (c.id.get(), true)).collect();
            self.index(key_name, &present);
        }
        self.db.flush().map_err(failure)?;
        Ok(count)
    }

    /// A fresh mark, unique across restarts (sled persists its id generator).
    fn next_mark(&self) -> Result<OwedMark, IoFailure> {
        self.db.generate_id().map(OwedMark).map_err(failure)
    }

    /// Every tenant's tree.
    fn tenant_trees(&self) -> Result<Vec<(KeyName, sled::Tree)>, IoFailure> {
        let mut trees = Vec::new();
        for name in self.db.tree_names() {
            let Some(key_name) = std::str::from_utf8(&name)
                .ok()
                .and_then(|n| n.strip_prefix(TREE_PREFIX))
                .and_then(|n| KeyName::new(n).ok())
            else {
                continue;
            };
            trees.push((key_name, self.db.open_tree(&name).map_err(failure)?));
        }
        Ok(trees)
    }

    /// Applies the changes and makes them durable. When the flush fails, the changes are
    /// undone in memory, so no reader ever sees a write that was refused.
    async fn apply_durably(
        &self,
        tenant: &KeyName,
        changes: &[([u8; 5], Option<Vec<u8>>)],
    ) -> Result<(), IoFailure> {
        if let Some(space) = &self.space {
            space.check()?;
        }
        let tree = self.tree(tenant)?;
        let mut batch = sled::Batch::default();
        let mut undo = sled::Batch::default();
        // A tree made by this write is complete from its first client on.
        if !tree.contains_key(PRESENT_COMPLETE).map_err(failure)? {
            batch.insert(PRESENT_COMPLETE, &[]);
            undo.remove(PRESENT_COMPLETE);
        }
        let (mut after, mut before) = (Vec::new(), Vec::new());
        for (key, value) in changes {
            let old = tree.get(key).map_err(failure)?;
            if key[0] == CLIENT {
                if let Some(id) = id_of(key) {
                    after.push((id, value.is_some()));
                    before.push((id, old.is_some()));
                }
            }
            match old {
                Some(old) => undo.insert(key, old),
                None => undo.remove(key),
            }
            match value {
                Some(v) => batch.insert(key, v.as_slice()),
                None => batch.remove(key),
            }
        }
        tree.apply_batch(batch).map_err(failure)?;
        self.index(tenant, &after);
        if let Err(e) = self.flush.flush().await {
            if let Err(undo_error) = tree.apply_batch(undo) {
                tracing::error!(error = %undo_error, "could not undo a write whose flush failed");
            } else {
                self.index(tenant, &before);
            }
            return Err(e);
        }
        Ok(())
    }
}

#[async_trait]
impl ClientRepository for SledClientRepository {
    async fn get(&self, tenant: &KeyName, id: ClientId) -> Result<Option<Client>, IoFailure> {
        let Some(bytes) = self
            .tree(tenant)?
            .get(record_key(CLIENT, id))
            .map_err(failure)?
        else {
            return Ok(None);
        };
        decode(&bytes).map(Some).map_err(|e| {
            IoFailure::Failed(format!("stored client {tenant}/{id} is unreadable: {e}"))
        })
    }

    async fn save(&self, tenant: &KeyName, client: &Client) -> Result<OwedMark, IoFailure> {
        let bytes = encode(client)?;
        let mark = self.next_mark()?;
        let changes = [
            (record_key(CLIENT, client.id), Some(bytes)),
            (present_key(client.id.get()), Some(Vec::new())),
            (
                record_key(OWED, client.id),
                Some(mark.0.to_be_bytes().to_vec()),
            ),
        ];
        self.apply_durably(tenant, &changes).await?;
        Ok(mark)
    }

    async fn delete(&self, tenant: &KeyName, id: ClientId) -> Result<OwedMark, IoFailure> {
        let mark = self.next_mark()?;
        let changes = [
            (record_key(CLIENT, id), None),
            (present_key(id.get()), None),
            (record_key(OWED, id), Some(mark.0.to_be_bytes().to_vec())),
        ];
        self.apply_durably(tenant, &changes).await?;
        Ok(mark)
    }

    async fn count_by_tenant(&self) -> Result<Vec<(KeyName, u64)>, IoFailure> {
        let ids = self
            .ids
            .read()
            .map_err(|_| IoFailure::Failed("the id index is poisoned".into()))?;
        let mut counts: Vec<(KeyName, u64)> = ids
            .iter()
            .map(|(name, set)| (name.clone(), set.len() as u64))
            .collect();
        counts.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(counts)
    }

    async fn owed_files(&self) -> Result<Vec<(KeyName, ClientId, OwedMark)>, IoFailure> {
        let mut owed = Vec::new();
        for (key_name, tree) in self.tenant_trees()? {
            for entry in tree.scan_prefix([OWED]) {
                let (key, value) = entry.map_err(failure)?;
                let id = <[u8; 4]>::try_from(&key[1..])
                    .ok()
                    .and_then(|b| ClientId::new(u32::from_be_bytes(b) as i64).ok());
                let mark = <[u8; 8]>::try_from(value.as_ref()).map_or(0, u64::from_be_bytes);
                if let Some(id) = id {
                    owed.push((key_name.clone(), id, OwedMark(mark)));
                }
            }
        }
        Ok(owed)
    }

    async fn clear_owed(
        &self,
        tenant: &KeyName,
        id: ClientId,
        mark: OwedMark,
    ) -> Result<(), IoFailure> {
        let key = record_key(OWED, id);
        let tree = self.tree(tenant)?;
        let Some(current) = tree.get(key).map_err(failure)? else {
            return Ok(());
        };
        let current_mark = <[u8; 8]>::try_from(current.as_ref()).map_or(0, u64::from_be_bytes);
        if current_mark == mark.0 {
            // Compare-and-swap: a write that marks the client meanwhile keeps its mark.
            let _ = tree
                .compare_and_swap(key, Some(current), None as Option<&[u8]>)
                .map_err(failure)?;
        }
        Ok(())
    }

    async fn flush(&self) -> Result<(), IoFailure> {
        self.flush.flush().await
    }

    async fn contains(&self, tenant: &KeyName, id: ClientId) -> Result<bool, IoFailure> {
        let ids = self
            .ids
            .read()
            .map_err(|_| IoFailure::Failed("the id index is poisoned".into()))?;
        Ok(ids.get(tenant).is_some_and(|set| set.contains(&id.get())))
    }

    async fn client_ids(
        &self,
        tenant: &KeyName,
        after: Option<ClientId>,
        max: usize,
    ) -> Result<Vec<ClientId>, IoFailure> {
        let ids = self
            .ids
            .read()
            .map_err(|_| IoFailure::Failed("the id index is poisoned".into()))?;
        let Some(set) = ids.get(tenant) else {
            return Ok(Vec::new());
        };
        let from = after.map_or(std::ops::Bound::Unbounded, |a| {
            std::ops::Bound::Excluded(a.get())
        });
        Ok(set
            .range((from, std::ops::Bound::Unbounded))
            .take(max)
            .filter_map(|&id| ClientId::new(id.into()).ok())
            .collect())
    }

    async fn health(&self) -> Result<(), IoFailure> {
        // A failed flush stays failed in sled until restart, and a read would still succeed
        // from the cache: the flush's own record is what tells.
        if let Some(reason) = self.flush.failure() {
            return Err(IoFailure::Failed(format!(
                "storage cannot make writes durable until the service restarts: {reason}"
            )));
        }
        // A read through the whole stack: fails when the database has failed.
        self.db.get(b"health").map(|_| ()).map_err(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        crate::domain::client::sample_client(9, "Ola æøå")
    }

    /// A database created by 0.1.0 (sled's default segment size) still opens, with its size.
    #[tokio::test]
    async fn a_database_with_the_old_segment_size_opens() {
        let dir = tempfile::TempDir::new().unwrap();
        {
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            db.open_tree("clients/A")
                .unwrap()
                .insert(
                    record_key(CLIENT, ClientId::new(1).unwrap()),
                    record::encode(&client()).unwrap(),
                )
                .unwrap();
            db.flush().unwrap();
        }
        assert_eq!(existing_segment_size(dir.path()), Some(512 * 1024));
        let repo = SledClientRepository::open(dir.path(), 1 << 20).unwrap();
        let a = KeyName::new("A").unwrap();
        assert_eq!(
            repo.get(&a, ClientId::new(1).unwrap()).await.unwrap(),
            Some(client())
        );
        drop(repo);
        let fresh = tempfile::TempDir::new().unwrap();
        drop(SledClientRepository::open(fresh.path(), 1 << 20).unwrap());
        assert_eq!(existing_segment_size(fresh.path()), Some(SEGMENT_SIZE));
    }

    #[tokio::test]
    async fn tenants_are_trees_of_their_own() {
        let dir = tempfile::TempDir::new().unwrap();
        let repo = SledClientRepository::open(dir.path(), 1 << 20).unwrap();
        let (a, b) = (KeyName::new("A").unwrap(), KeyName::new("B").unwrap());
        let mark = repo.save(&a, &client()).await.unwrap();
        assert_eq!(repo.get(&a, client().id).await.unwrap(), Some(client()));
        assert_eq!(repo.get(&b, client().id).await.unwrap(), None);
        assert_eq!(
            repo.owed_files().await.unwrap(),
            vec![(a.clone(), client().id, mark)]
        );
        // A stale mark does not clear a later write's mark.
        let later = repo.save(&a, &client()).await.unwrap();
        repo.clear_owed(&a, client().id, mark).await.unwrap();
        assert_eq!(repo.owed_files().await.unwrap().len(), 1);
        repo.clear_owed(&a, client().id, later).await.unwrap();
        assert!(repo.owed_files().await.unwrap().is_empty());
        // B has looked (its tree exists) but holds nothing: it has no count.
        assert_eq!(repo.count_by_tenant().await.unwrap(), vec![(a.clone(), 1)]);
        assert!(repo.contains(&a, client().id).await.unwrap());
        assert!(!repo.contains(&b, client().id).await.unwrap());
        assert_eq!(
            repo.client_ids(&a, None, 10).await.unwrap(),
            vec![client().id]
        );
        // The id index is rebuilt from the trees at open.
        repo.delete(&a, client().id).await.unwrap();
        let other = crate::domain::client::sample_client(3, "Tre");
        repo.save(&a, &other).await.unwrap();
        drop(repo);
        let repo = reopen(dir.path());
        assert_eq!(repo.client_ids(&a, None, 10).await.unwrap(), vec![other.id]);
        assert_eq!(repo.count_by_tenant().await.unwrap(), vec![(a, 1)]);
    }

    /// Opens again once sled's own threads have let go of the database's lock (shortly
    /// after the drop).
    fn reopen(dir: &Path) -> SledClientRepository {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match SledClientRepository::open(dir, 1 << 20) {
                Ok(repo) => return repo,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("reopen: {e}"),
            }
        }
    }

    /// The id index is read from the `PRESENT` keys; a tree without them (0.2.0) gets them
    /// from its clients at open, and a tree a write creates has them from the start.
    #[tokio::test]
    async fn the_id_index_is_read_from_present_keys() {
        let dir = tempfile::TempDir::new().unwrap();
        let (a, b) = (KeyName::new("A").unwrap(), KeyName::new("B").unwrap());
        let ids = [1, 2, 70_000].map(|n| ClientId::new(n).unwrap());
        {
            let db = sled::Config::new().path(dir.path()).open().unwrap();
            let tree = db.open_tree("clients/A").unwrap();
            for id in ids {
                tree.insert(record_key(CLIENT, id), record::encode(&client()).unwrap())
                    .unwrap();
            }
            db.flush().unwrap();
        }
        let repo = SledClientRepository::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(repo.client_ids(&a, None, 10).await.unwrap(), ids.to_vec());
        let tree = repo.tree(&a).unwrap();
        assert!(tree.contains_key(PRESENT_COMPLETE).unwrap());
        for id in ids {
            assert!(tree.contains_key(present_key(id.get())).unwrap(), "{id}");
        }
        // Writes keep the keys: a delete removes one, a save to a new tenant makes its tree
        // complete.
        repo.delete(&a, ids[0]).await.unwrap();
        assert!(!tree.contains_key(present_key(1)).unwrap());
        repo.save(&b, &client()).await.unwrap();
        let tree_b = repo.tree(&b).unwrap();
        assert!(tree_b.contains_key(PRESENT_COMPLETE).unwrap());
        assert!(tree_b.contains_key(present_key(client().id.get())).unwrap());
        // Shown to be the source: a client record removed behind the keys' back stays listed.
        tree.remove(record_key(CLIENT, ids[1])).unwrap();
        drop((tree, tree_b, repo));
        let repo = reopen(dir.path());
        assert_eq!(
            repo.client_ids(&a, None, 10).await.unwrap(),
            vec![ids[1], ids[2]]
        );
        assert_eq!(
            repo.client_ids(&b, None, 10).await.unwrap(),
            vec![client().id]
        );
    }
}
