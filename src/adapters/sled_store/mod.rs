//! The client repository on sled, the embedded database.
//!
//! One tree per tenant (`clients/<key_name>`), so no lookup can reach another tenant's data.
//! Inside a tree, `c<id>` holds the client and `i<id>` says it is there; the value of `i<id>`
//! is empty, or the owed mark of the client's XML file while that file is not yet durable.
//! A deleted client's file is owed by `o<id>`, since its `i<id>` goes with it. The keys are
//! written one at a time, the mark first (`apply_durably` says why that is safe and why not
//! a batch). Durability comes from [`GroupFlush`]: writers that arrive while a flush runs
//! share the next one.

pub mod group_flush;
pub mod record;

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
/// The owed mark of a deleted client's file (and, in databases written by earlier builds, of
/// every client's file).
const OWED: u8 = b'o';
/// A key per stored client, written with the client: the id index is read from these at
/// start. Its value is empty, or the owed mark of the client's file (a save owes its file
/// here, so a create writes two keys rather than three). sled keeps values inline in its
/// leaves, so a scan of the client keys pages in every client (about 70 MB held after start
/// with 100,000); these keys sit in leaves of their own.
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
    /// Each tenant's tree once opened: sled's `open_tree` wants the name as a new string and
    /// looks it up under its own lock, on every request.
    trees: std::sync::RwLock<std::collections::HashMap<KeyName, sled::Tree>>,
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
    record_key_of(PRESENT, id)
}

fn record_key(kind: u8, id: ClientId) -> [u8; 5] {
    record_key_of(kind, id.get())
}

fn record_key_of(kind: u8, id: u32) -> [u8; 5] {
    let mut key = [kind, 0, 0, 0, 0];
    key[1..].copy_from_slice(&id.to_be_bytes());
    key
}

/// The owed mark a present key's value holds, if any.
fn mark_in(value: &[u8]) -> Option<OwedMark> {
    <[u8; 8]>::try_from(value)
        .ok()
        .map(|b| OwedMark(u64::from_be_bytes(b)))
}

/// Makes the present keys of owed clients agree with their records again. A crash between
/// the single-key writes of [`SledClientRepository::apply_durably`] can leave a present key
/// without its record (a create or a delete cut short) or, in a database written by an
/// earlier build, a record without its present key; only on a client whose owed mark was
/// written first, so the owed clients are all there is to check. A present key that goes takes its
/// mark along, so the mark moves to an `o` key: the file stays owed (to be made absent).
/// Returns whether it changed anything.
fn repair_present_keys(
    tree: &sled::Tree,
    ids: &mut std::collections::BTreeSet<u32>,
    marked: &[(u32, OwedMark)],
) -> Result<bool, IoFailure> {
    let mut owed: Vec<(u32, Option<OwedMark>)> =
        marked.iter().map(|&(id, m)| (id, Some(m))).collect();
    for key in tree.scan_prefix([OWED]).keys() {
        owed.extend(id_of(&key.map_err(failure)?).map(|id| (id, None)));
    }
    let mut changed = false;
    for (id, mark) in owed {
        let stored = tree
            .contains_key(record_key_of(CLIENT, id))
            .map_err(failure)?;
        if stored && !ids.contains(&id) {
            tree.insert(present_key(id), &[]).map_err(failure)?;
            ids.insert(id);
            changed = true;
        } else if !stored && ids.contains(&id) {
            if let Some(mark) = mark {
                tree.insert(record_key_of(OWED, id), &mark.0.to_be_bytes())
                    .map_err(failure)?;
            }
            tree.remove(present_key(id)).map_err(failure)?;
            ids.remove(&id);
            changed = true;
        }
    }
    Ok(changed)
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
            trees: Default::default(),
        };
        let mut ids = std::collections::HashMap::new();
        let mut completed = false;
        let mut repaired = false;
        for (key_name, tree) in repo.tenant_trees()? {
            let kind = if tree.contains_key(PRESENT_COMPLETE).map_err(failure)? {
                PRESENT
            } else {
                completed = true;
                CLIENT
            };
            let mut set = std::collections::BTreeSet::new();
            let mut marked = Vec::new();
            for entry in tree.scan_prefix([kind]) {
                let (key, value) = entry.map_err(failure)?;
                let Some(id) = id_of(&key) else {
                    continue;
                };
                set.insert(id);
                if kind == PRESENT {
                    marked.extend(mark_in(&value).map(|mark| (id, mark)));
                }
            }
            if kind == CLIENT {
                // In chunks, each flushed: unflushed, 100,000 keys held sled at 500 MB. A start
                // that dies half way finds no marker and does it again. Single inserts, not
                // a batch: see `apply_durably` for what a batch costs.
                for chunk in set.iter().collect::<Vec<_>>().chunks(4096) {
                    for &&id in chunk {
                        tree.insert(present_key(id), &[]).map_err(failure)?;
                    }
                    tree.flush().map_err(failure)?;
                }
                tree.insert(PRESENT_COMPLETE, &[]).map_err(failure)?;
            }
            repaired |= repair_present_keys(&tree, &mut set, &marked)?;
            if !set.is_empty() {
                ids.insert(key_name, set);
            }
        }
        if completed || repaired {
            repo.db.flush().map_err(failure)?;
        }
        if let Ok(mut slot) = repo.ids.write() {
            *slot = ids;
        }
        Ok(repo)
    }

    fn knows_tenant(&self, tenant: &KeyName) -> bool {
        self.ids.read().is_ok_and(|ids| ids.contains_key(tenant))
    }

    /// Whether the index says the client is not stored, so that sled need not be asked. A
    /// poisoned index says nothing, and sled is asked.
    fn surely_absent(&self, tenant: &KeyName, id: ClientId) -> bool {
        self.ids
            .read()
            .is_ok_and(|ids| ids.get(tenant).is_none_or(|set| !set.contains(&id.get())))
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
        if let Some(tree) = self.trees.read().ok().and_then(|t| t.get(tenant).cloned()) {
            return Ok(tree);
        }
        let tree = self
            .db
            .open_tree(format!("{TREE_PREFIX}{tenant}"))
            .map_err(failure)?;
        if let Ok(mut trees) = self.trees.write() {
            trees.insert(tenant.clone(), tree.clone());
        }
        Ok(tree)
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

    /// Changes one client (`Some(record)` stores it, `None` deletes it), owes its XML file
    /// and makes both durable. When the flush fails, the change is undone in memory, so no
    /// reader ever sees a write that was refused.
    ///
    /// Single-key writes, no `sled::Batch`: in sled 0.34 the first batch switches the whole
    /// database, for the rest of the process, to a global reader-writer lock that every later
    /// read and write takes, and a batch takes it exclusively (the bare reference server:
    /// 24,000 creates/s with one insert and a flush each, 14,000 with a three-key batch and
    /// no flush at all). The order makes every crash point safe, since sled recovers a
    /// linearizable prefix of its log (its `pagecache/segment.rs`): the owed mark comes
    /// first, so any change that survives a crash has its file owed. A save writes it as
    /// the present key's value, then the record; a delete writes an `o` key, removes the
    /// record, then the present key. The only mismatch a crash can leave is a present key
    /// without its record, on an owed client, and [`Self::open`] repairs those.
    async fn apply_durably(
        &self,
        tenant: &KeyName,
        id: ClientId,
        record: Option<Vec<u8>>,
    ) -> Result<OwedMark, IoFailure> {
        if let Some(space) = &self.space {
            space.check()?;
        }
        let tree = self.tree(tenant)?;
        // A tree made by this write is complete from its first client on. A tenant the index
        // knows has its marker already (set at open, or by its first write), so only a new
        // tree costs the look.
        if !self.knows_tenant(tenant) && !tree.contains_key(PRESENT_COMPLETE).map_err(failure)? {
            tree.insert(PRESENT_COMPLETE, &[]).map_err(failure)?;
        }
        let mark = self.next_mark()?;
        let mut change = Undoable::new(&tree);
        let stored = record.is_some();
        let applied = (|| match &record {
            Some(bytes) => {
                change.set(present_key(id.get()), Some(&mark.0.to_be_bytes()))?;
                change.set(record_key(CLIENT, id), Some(bytes))
            }
            None => {
                change.set(record_key(OWED, id), Some(&mark.0.to_be_bytes()))?;
                change.set(record_key(CLIENT, id), None)?;
                change.set(present_key(id.get()), None)
            }
        })();
        let existed = change.existed(record_key(CLIENT, id));
        if let Err(e) = applied {
            change.undo();
            return Err(e);
        }
        self.index(tenant, &[(id.get(), stored)]);
        if let Err(e) = self.flush.flush().await {
            change.undo();
            self.index(tenant, &[(id.get(), existed)]);
            return Err(e);
        }
        Ok(mark)
    }
}

/// Single-key writes to one tree, each with the value it replaced, so they can be undone in
/// reverse order.
struct Undoable<'t> {
    tree: &'t sled::Tree,
    replaced: Vec<([u8; 5], Option<sled::IVec>)>,
}

impl<'t> Undoable<'t> {
    fn new(tree: &'t sled::Tree) -> Self {
        Self {
            tree,
            replaced: Vec::with_capacity(3),
        }
    }

    fn set(&mut self, key: [u8; 5], value: Option<&[u8]>) -> Result<(), IoFailure> {
        let old = match value {
            Some(v) => self.tree.insert(key, v),
            None => self.tree.remove(key),
        }
        .map_err(failure)?;
        self.replaced.push((key, old));
        Ok(())
    }

    /// Whether `key` had a value before the first write to it here.
    fn existed(&self, key: [u8; 5]) -> bool {
        self.replaced
            .iter()
            .find(|(k, _)| *k == key)
            .is_some_and(|(_, old)| old.is_some())
    }

    fn undo(self) {
        for (key, old) in self.replaced.into_iter().rev() {
            let undone = match old {
                Some(v) => self.tree.insert(key, v).map(|_| ()),
                None => self.tree.remove(key).map(|_| ()),
            };
            if let Err(e) = undone {
                tracing::error!(error = %e, "could not undo a refused write");
            }
        }
    }
}

#[async_trait]
impl ClientRepository for SledClientRepository {
    async fn get(&self, tenant: &KeyName, id: ClientId) -> Result<Option<Client>, IoFailure> {
        // Every create asks first whether the client exists; the index answers that without
        // a descent of the tree (4 us of a create's 64 us of user CPU, bench/notes.md).
        if self.surely_absent(tenant, id) {
            return Ok(None);
        }
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
        self.apply_durably(tenant, client.id, Some(bytes)).await
    }

    async fn delete(&self, tenant: &KeyName, id: ClientId) -> Result<OwedMark, IoFailure> {
        self.apply_durably(tenant, id, None).await
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
            for entry in tree.scan_prefix([OWED]).chain(tree.scan_prefix([PRESENT])) {
                let (key, value) = entry.map_err(failure)?;
                let Some(id) = id_of(&key).and_then(|id| ClientId::new(id as i64).ok()) else {
                    continue;
                };
                let mark = match key.first() {
                    Some(&PRESENT) => mark_in(&value),
                    // An `o` key owes its file whatever its value.
                    _ => Some(mark_in(&value).unwrap_or(OwedMark(0))),
                };
                if let Some(mark) = mark {
                    owed.push((key_name.clone(), id, mark));
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
        // Compare-and-swap against the mark itself: a write that marked the client again
        // meanwhile keeps its mark (the swap then fails, which is the answer wanted), and no
        // read of the mark is needed first. A save's mark is on the present key; a delete's
        // (or an older version's) on an `o` key.
        let tree = self.tree(tenant)?;
        let expected = mark.0.to_be_bytes();
        let on_present = tree
            .compare_and_swap(present_key(id.get()), Some(&expected[..]), Some(&[][..]))
            .map_err(failure)?;
        if on_present.is_err() {
            let _ = tree
                .compare_and_swap(
                    record_key(OWED, id),
                    Some(&expected[..]),
                    None as Option<&[u8]>,
                )
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

    /// The states a crash between the single-key writes can leave, each on an owed client:
    /// a present key holding its mark whose record was never written (a create cut short),
    /// the same from a version that owed files by `o` keys, a present key left after its
    /// record was removed (a delete cut short), and a record without its present key (an
    /// older version's). Set up by hand, then the database is opened again.
    #[tokio::test]
    async fn a_crash_between_single_key_writes_is_repaired_at_open() {
        let dir = tempfile::TempDir::new().unwrap();
        let a = KeyName::new("A").unwrap();
        let (kept, created, deleted, cut_short) = (client(), 41u32, 42u32, 43u32);
        {
            let repo = SledClientRepository::open(dir.path(), 1 << 20).unwrap();
            repo.save(&a, &kept).await.unwrap();
            let deleted_client = crate::domain::client::sample_client(deleted as i64, "Kari");
            repo.save(&a, &deleted_client).await.unwrap();
            let tree = repo.tree(&a).unwrap();
            // A create cut short after its present key: owed, present, no record.
            tree.insert(record_key_of(OWED, created), &7u64.to_be_bytes())
                .unwrap();
            tree.insert(present_key(created), &[]).unwrap();
            // The same now: the mark is the present key's value.
            tree.insert(present_key(cut_short), &9u64.to_be_bytes())
                .unwrap();
            // A delete cut short after its record: owed, no record, present key left.
            tree.remove(record_key_of(CLIENT, deleted)).unwrap();
            // A record without its present key, owed by an `o` key (only an older version's
            // writes could leave this): still listed once repaired.
            tree.insert(record_key(OWED, kept.id), &8u64.to_be_bytes())
                .unwrap();
            tree.remove(present_key(kept.id.get())).unwrap();
            repo.flush().await.unwrap();
        }
        let repo = reopen(dir.path());
        let listed: Vec<u32> = repo
            .client_ids(&a, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|id| id.get())
            .collect();
        assert_eq!(listed, vec![kept.id.get()]);
        let tree = repo.tree(&a).unwrap();
        assert!(tree.contains_key(present_key(kept.id.get())).unwrap());
        assert!(!tree.contains_key(present_key(created)).unwrap());
        assert!(!tree.contains_key(present_key(deleted)).unwrap());
        assert!(!tree.contains_key(present_key(cut_short)).unwrap());
        // Its file is still owed (to be made absent), by the mark it had.
        let owed = repo.owed_files().await.unwrap();
        assert!(
            owed.contains(&(
                a.clone(),
                ClientId::new(cut_short as i64).unwrap(),
                OwedMark(9)
            )),
            "{owed:?}"
        );
        drop((tree, repo));
        // The repair was made durable: a second open finds nothing to change.
        let repo = reopen(dir.path());
        let tree = repo.tree(&a).unwrap();
        assert!(tree.contains_key(present_key(kept.id.get())).unwrap());
        assert!(!tree.contains_key(present_key(created)).unwrap());
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
        // A save owes its file on the present key, which stays once the mark is cleared.
        assert_eq!(
            repo.tree(&a)
                .unwrap()
                .get(present_key(client().id.get()))
                .unwrap(),
            Some(sled::IVec::from(&[][..]))
        );
        // A delete owes the file's removal by a mark of its own, cleared the same way.
        let gone = crate::domain::client::sample_client(5, "Borte");
        repo.save(&a, &gone).await.unwrap();
        let deleted = repo.delete(&a, gone.id).await.unwrap();
        assert_eq!(
            repo.owed_files().await.unwrap(),
            vec![(a.clone(), gone.id, deleted)]
        );
        repo.clear_owed(&a, gone.id, deleted).await.unwrap();
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
