//! Per-client XML files in `XML_DIR/<key_name>/<client_id>.xml`, replaced atomically.

mod queue;

pub use queue::FsXmlQueue;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::adapters::disk_space::SpaceGuard;
use crate::domain::fields::ClientId;
use crate::domain::tenant::KeyName;
use crate::ports::{FileWrite, IoFailure, XmlSink};

pub struct FsXmlSink {
    root: PathBuf,
    space: Option<SpaceGuard>,
    writer: FileWriter,
    /// The files waiting in `XML_DIR`, counted by [`FsXmlSink::count_pending_every`] in the
    /// background: a scrape of `/metrics` costs the same at 100 and 100,000 files.
    pending: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether new staged files are written unnamed (`O_TMPFILE`): see [`write_staged`].
    unnamed_files: bool,
}

/// A staged file with no kept version behind it, most often a new client's.
enum NewStaged {
    /// Written under the staged name (a file system without unnamed files, or an empty
    /// file left under that name).
    Named,
    /// Written as an unnamed file, held open until [`publish_staged`] gives it its name.
    Unnamed(File),
}

type FileJob = Box<dyn FnOnce() + Send>;

/// One thread that creates, replaces and removes the files. Concurrent creates in one folder
/// contend for the folder's lock in the kernel (measured: a fifth of the CPU spinning at 16
/// writers); one after the other they do not, and the fsyncs are batched anyway.
#[derive(Clone)]
struct FileWriter(std::sync::mpsc::Sender<FileJob>);

impl FileWriter {
    fn start() -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<FileJob>();
        std::thread::Builder::new()
            .name("xml-writer".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job();
                }
            })?;
        Ok(Self(tx))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> Result<T, IoFailure> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: FileJob = Box::new(move || {
            let _ = tx.send(work());
        });
        self.0
            .send(job)
            .map_err(|_| IoFailure::Failed("the XML writer thread has stopped".into()))?;
        rx.await
            .map_err(|_| IoFailure::Failed("the XML writer thread has stopped".into()))?
            .map_err(IoFailure::from)
    }
}

impl FsXmlSink {
    /// Counts the waiting files now, and then every `interval` on a blocking-pool thread
    /// (the combiner removes files without telling the API, so they are counted, not
    /// tracked).
    pub async fn count_pending_every(&self, interval: std::time::Duration) {
        let (root, pending) = (self.root.clone(), self.pending.clone());
        let count = move || {
            let root = root.clone();
            let pending = pending.clone();
            async move {
                match blocking(move || queue::count_xml_files(&root)).await {
                    Ok(n) => pending.store(n, std::sync::atomic::Ordering::Relaxed),
                    Err(e) => tracing::warn!(error = %e, "could not count the waiting XML files"),
                }
            }
        };
        count().await;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                count().await;
            }
        });
    }

    /// Files go under `root`, which is created when missing. Temporary files that a crash
    /// left behind are removed, except the clients' staged files: those are kept between
    /// writes anyway, and the next write overwrites one whole before it is put in place.
    pub fn new(root: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&root)?;
        refuse_linked_tenant_folders(&root)?;
        for tenant in fs::read_dir(&root)? {
            let tenant = tenant?;
            if !tenant.file_type()?.is_dir() {
                continue;
            }
            for file in fs::read_dir(tenant.path())? {
                let file = file?;
                let name = file.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(TEMP_PREFIX)
                    && name.ends_with(TEMP_SUFFIX)
                    && !is_staged_name(&name)
                {
                    tracing::info!(file = %file.path().display(), "removing a temporary file left by a crash");
                    remove_durably(&file.path())?;
                }
            }
        }
        let unnamed_files = unnamed_files_work(&root);
        if !unnamed_files {
            tracing::info!(xml_dir = %root.display(),
                "the file system does not make unnamed files; new files are staged under a temporary name");
        }
        Ok(Self {
            root,
            space: None,
            pending: Default::default(),
            unnamed_files,
            writer: FileWriter::start()?,
        })
    }

    /// New staged files under their temporary name, as on a file system without unnamed
    /// files: the tests run both ways.
    #[cfg(test)]
    fn without_unnamed_files(mut self) -> Self {
        self.unnamed_files = false;
        self
    }

    /// Refuses writes while the folder's file system has less than `reserve_bytes` free.
    pub fn with_space_reserve(mut self, reserve_bytes: u64) -> Self {
        self.space = Some(SpaceGuard::new(&self.root, reserve_bytes));
        self
    }

    fn folder(&self, tenant: &KeyName) -> PathBuf {
        // KeyName holds only [A-Za-z0-9_-], so it cannot leave the root.
        self.root.join(tenant.as_str())
    }

    fn path(&self, tenant: &KeyName, id: ClientId) -> PathBuf {
        self.folder(tenant).join(format!("{id}.xml"))
    }

    /// The one staged file a client can have (its writes take turns): a temporary name, so
    /// the combiner never takes it. Between writes it holds the version the last publish
    /// replaced (see [`publish_staged`]).
    fn staged_path(&self, tenant: &KeyName, id: ClientId) -> PathBuf {
        self.folder(tenant)
            .join(format!("{TEMP_PREFIX}{id}{TEMP_SUFFIX}"))
    }
}

/// Writes `bytes` to the client's staged file, `path`. That file usually exists: it holds the
/// version the last [`publish_staged`] replaced, and is overwritten in place (then cut to
/// length) rather than replaced, so the file system neither makes an inode nor frees blocks
/// for it. Never follows a link, so a link planted under the temporary name cannot redirect
/// the write. Readable by the service's user only, like the files `tempfile` makes: they
/// hold contact data and passwords.
///
/// When there is no kept version (a new client, most often) and `unnamed` holds, the bytes go
/// to an unnamed file (`O_TMPFILE`) that gets the client's name when it is published: one
/// directory entry made instead of a temporary one made, then moved, then removed (file CPU
/// per new file about 25 -> 15-19 us in a loop on this disk, bench/notes.md). Returns what
/// was written when it is new.
fn write_staged(path: &Path, bytes: &[u8], unnamed: bool) -> io::Result<Option<NewStaged>> {
    use std::os::unix::fs::MetadataExt;
    if let Some(mut file) = open_kept(path)? {
        let meta = file.metadata()?;
        // A second name on the inode is the combiner's (a restore links a claimed file back,
        // and an exchange can take that file an instant before the combiner removes its own
        // name): never write into a file someone else may read; it goes, and a new one is made.
        if meta.nlink() <= 1 {
            file.write_all(bytes)?;
            // Only a longer old version leaves bytes past the new end; cutting a file to the
            // length it has is a journalled change all the same (1 % of a create's samples).
            if meta.len() > bytes.len() as u64 {
                file.set_len(bytes.len() as u64)?;
            }
            return Ok((meta.len() == 0).then_some(NewStaged::Named));
        }
        drop(file);
        remove_if_there(path)?;
    }
    if unnamed {
        let mut file = open_unnamed(path.parent().unwrap_or(Path::new(".")))?;
        file.write_all(bytes)?;
        return Ok(Some(NewStaged::Unnamed(file)));
    }
    open_staged(path)?.write_all(bytes)?;
    Ok(Some(NewStaged::Named))
}

/// The client's kept staged file, opened for writing; `None` when it has none.
fn open_kept(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match fs::OpenOptions::new()
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A new file in `dir` with no name yet (`O_TMPFILE`); a crash before it is named leaves
/// nothing behind.
fn open_unnamed(dir: &Path) -> io::Result<File> {
    use rustix::fs::{open, Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(0o600);
    let fd = match open(dir, flags, mode) {
        Err(rustix::io::Errno::NOENT) => {
            fs::create_dir_all(dir)?;
            open(dir, flags, mode)?
        }
        other => other?,
    };
    Ok(File::from(fd))
}

/// Gives an unnamed file the name `at` (its `/proc/self/fd` link, as `open(2)` describes);
/// fails with `AlreadyExists` when the name is taken, and replaces nothing.
fn link_unnamed(file: &File, at: &Path) -> io::Result<()> {
    use rustix::fs::{linkat, AtFlags, CWD};
    use std::os::fd::AsRawFd;
    let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
    linkat(CWD, by_fd.as_str(), CWD, at, AtFlags::SYMLINK_FOLLOW).map_err(io::Error::from)
}

/// Whether unnamed files can be made and named in `dir` (a file system with `O_TMPFILE`:
/// ext4, XFS, btrfs, tmpfs; and `/proc` mounted). Asked once, at start.
fn unnamed_files_work(dir: &Path) -> bool {
    let probe = dir.join(format!("{TEMP_PREFIX}probe{TEMP_SUFFIX}"));
    let _ = remove_if_there(&probe);
    let named = open_unnamed(dir).and_then(|file| link_unnamed(&file, &probe));
    let _ = remove_if_there(&probe);
    named.is_ok()
}

/// A new staged file under its temporary name, where unnamed files cannot be made; its
/// folder is made when missing.
fn open_staged(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            open()
        }
        other => other,
    }
}

/// Puts the staged file in place of the client's file in one atomic step. When the client
/// has a file, the two names are exchanged (`RENAME_EXCHANGE`): the replaced version stays
/// under the staged name for the next [`write_staged`] instead of being freed. Replacing by
/// a plain rename freed the old file's blocks on every write, which on a file system mounted
/// with `discard` is a synchronous discard: zone updates ran at 6,650/s with it and 9,950/s
/// with the exchange, system CPU per update 127 -> 73 us (bench/notes.md).
///
/// A staged file that was new (`new`) is most often a new client's, with no file in place:
/// it is first given the client's name without replacing anything (an unnamed file linked,
/// a named one renamed), which saves a create the failed exchange. When a file is in place
/// after all (the client's second write, or a file the combiner put back), that fails and the
/// exchange follows (an unnamed file first takes the staged name), which leaves a kept version
/// from then on.
fn publish_staged(staged: &Path, path: &Path, new: Option<NewStaged>) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match new {
        Some(NewStaged::Unnamed(file)) => match link_unnamed(&file, path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => link_unnamed(&file, staged)?,
            Err(e) => return Err(e),
        },
        Some(NewStaged::Named) => {
            match renameat_with(CWD, staged, CWD, path, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(()),
                Err(Errno::EXIST) => {}
                // A file system without the flag: a plain rename replaces atomically too.
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                    return fs::rename(staged, path)
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => {}
    }
    match renameat_with(CWD, staged, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        // No file in place (a new client, or the combiner took it), or a file system
        // without the exchange: a plain rename, which replaces atomically too.
        Err(Errno::NOENT | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::XDEV) => {
            fs::rename(staged, path)
        }
        Err(e) => Err(e.into()),
    }
}

/// Brings one client's file at `path` to `xml` through its staged file (a staged file that
/// fails is removed: it may hold part of a version), or removes it when `xml` is `None`,
/// with the staged file, which holds an earlier version.
fn write_one(staged: &Path, path: &Path, xml: Option<&[u8]>, unnamed: bool) -> io::Result<()> {
    match xml {
        Some(xml) => write_staged(staged, xml, unnamed)
            .and_then(|new| publish_staged(staged, path, new))
            .inspect_err(|_| {
                let _ = remove_if_there(staged);
            }),
        None => remove_if_there(path).and_then(|()| remove_if_there(staged)),
    }
}

/// Whether a name in a tenant folder is a client's staged file (`.tmp-<client id>.part`),
/// kept between writes; other temporary names are a crash's leftovers.
fn is_staged_name(name: &str) -> bool {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// Temporary files: the combiner only takes `*.xml`, so it never sees one.
const TEMP_PREFIX: &str = ".tmp-";
const TEMP_SUFFIX: &str = ".part";

/// Refuses an `XML_DIR` whose tenant folders include a symbolic link. The API would write
/// through it, but the combiner claims files by renaming them into `READY_DIR`, which works
/// only on one file system, and it does not follow links (a link could lead anywhere): those
/// clients would never reach Patriot. Checked by both programs at start.
pub fn refuse_linked_tenant_folders(root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_symlink() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; tenant folders in XML_DIR must be real folders \
                     (the combiner does not follow links), so replace the link by the folder \
                     it points to",
                    entry.path().display()
                ),
            ));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, and the new
/// one survives a crash once this returns: temp file in the same folder, fsync, rename,
/// fsync of the folder. The temp file's name does not end in `.xml`, so the combiner never
/// picks a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Makes files written or removed without their fsyncs durable: one `syncfs` of the file
/// system that holds them. However many files a batch holds, that is one journal commit,
/// where a fsync per file and folder would be one each.
fn sync_files(root: &Path) -> io::Result<()> {
    let dir = File::open(root)?;
    rustix::fs::syncfs(&dir).map_err(io::Error::from)
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_durably(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => path.parent().map_or(Ok(()), sync_dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes a file; `Ok` when it was not there.
fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Runs file work on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, IoFailure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| IoFailure::Failed(format!("file task failed: {e}")))?
        .map_err(IoFailure::from)
}

#[async_trait]
impl XmlSink for FsXmlSink {
    async fn check_room(&self, bytes: usize) -> Result<(), IoFailure> {
        match &self.space {
            Some(space) => space.check_for(bytes as u64),
            None => Ok(()),
        }
    }

    async fn write_files(&self, files: Vec<FileWrite>) -> Vec<Result<(), IoFailure>> {
        let count = files.len();
        let jobs: Vec<(PathBuf, PathBuf, Option<std::sync::Arc<Vec<u8>>>)> = files
            .into_iter()
            .map(|f| {
                (
                    self.staged_path(&f.tenant, f.id),
                    self.path(&f.tenant, f.id),
                    f.xml,
                )
            })
            .collect();
        let unnamed = self.unnamed_files;
        // One job for the whole batch: the writer thread is woken once, not twice per file.
        let written = self
            .writer
            .run(move || {
                Ok(jobs
                    .into_iter()
                    .map(|(staged, path, xml)| {
                        write_one(&staged, &path, xml.as_deref().map(Vec::as_slice), unnamed)
                            .map_err(IoFailure::from)
                    })
                    .collect::<Vec<_>>())
            })
            .await;
        match written {
            Ok(results) => results,
            Err(e) => (0..count).map(|_| Err(e.clone())).collect(),
        }
    }

    async fn sync(&self, files: &[(KeyName, ClientId)]) -> Result<(), IoFailure> {
        if files.is_empty() {
            return Ok(());
        }
        let root = self.root.clone();
        blocking(move || sync_files(&root)).await
    }

    async fn exists(&self, tenant: &KeyName, id: ClientId) -> Result<bool, IoFailure> {
        let path = self.path(tenant, id);
        blocking(move || path.try_exists()).await
    }

    async fn pending_count(&self) -> Result<u64, IoFailure> {
        Ok(self.pending.load(std::sync::atomic::Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The sink on a new folder: with unnamed files (the file systems the tests run on have
    /// them, and a probe that stopped finding them fails here), and without.
    fn sink_in(root: &Path, unnamed: bool) -> FsXmlSink {
        let sink = FsXmlSink::new(root.to_path_buf()).unwrap();
        assert!(sink.unnamed_files, "O_TMPFILE and /proc/self/fd work here");
        if unnamed {
            sink
        } else {
            sink.without_unnamed_files()
        }
    }

    /// Writes one file through [`XmlSink::write_files`] (`None`: removes it).
    async fn put(sink: &FsXmlSink, id: u32, xml: Option<&[u8]>) -> Result<(), IoFailure> {
        let write = FileWrite {
            tenant: KeyName::new("A").unwrap(),
            id: ClientId::new(id.into()).unwrap(),
            xml: xml.map(|x| std::sync::Arc::new(x.to_vec())),
        };
        sink.write_files(vec![write]).await.pop().unwrap()
    }

    /// A written file is in place whole under its `.xml` name, as private as the files
    /// `tempfile` makes; a leftover staged file is replaced whole; a batch answers one result
    /// per file; a start removes a crash's temporary names and keeps the staged files.
    #[tokio::test]
    async fn files_are_written_whole_and_in_batches() {
        for unnamed in [true, false] {
            files_are_written_whole_and_in_batches_with(unnamed).await;
        }
    }

    async fn files_are_written_whole_and_in_batches_with(unnamed: bool) {
        let root = tempfile::TempDir::new().unwrap();
        let sink = sink_in(root.path(), unnamed);
        let folder = root.path().join("A");

        put(&sink, 7, Some(b"<one/>")).await.unwrap();
        assert_eq!(names(&folder), ["7.xml"]);
        let mode = fs::metadata(folder.join("7.xml")).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );

        // A longer leftover is replaced whole by the next write.
        fs::write(folder.join(".tmp-7.part"), b"left by a crash, and long").unwrap();
        put(&sink, 7, Some(b"<three/>")).await.unwrap();
        assert_eq!(fs::read(folder.join("7.xml")).unwrap(), b"<three/>");
        // The replaced version is kept under the staged name, never under an `.xml` one.
        assert_eq!(names(&folder), [".tmp-7.part", "7.xml"]);
        assert_eq!(queue::count_xml_files(root.path()).unwrap(), 1);

        let write = |id: i64, xml: Option<&[u8]>| FileWrite {
            tenant: KeyName::new("A").unwrap(),
            id: ClientId::new(id).unwrap(),
            xml: xml.map(|x| std::sync::Arc::new(x.to_vec())),
        };
        fs::create_dir(folder.join(".tmp-11.part")).unwrap();
        let results = sink
            .write_files(vec![
                write(10, Some(b"<ten/>")),
                write(11, Some(b"<eleven/>")),
                write(7, None),
            ])
            .await;
        assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
        assert_eq!(fs::read(folder.join("10.xml")).unwrap(), b"<ten/>");
        assert_eq!(names(&folder), [".tmp-11.part", "10.xml"]);
        fs::remove_dir(folder.join(".tmp-11.part")).unwrap();

        fs::write(folder.join(".tmp-a1B2c3.part"), b"left by a crash").unwrap();
        fs::write(folder.join(".tmp-8.part"), b"left by a crash").unwrap();
        drop(sink);
        FsXmlSink::new(root.path().to_path_buf()).unwrap();
        assert_eq!(names(&folder), [".tmp-8.part", "10.xml"]);
    }

    /// Room is refused when the file system cannot take the file and keep the reserve.
    #[tokio::test]
    async fn room_is_refused_beyond_what_the_disk_has() {
        let root = tempfile::TempDir::new().unwrap();
        let sink = FsXmlSink::new(root.path().to_path_buf())
            .unwrap()
            .with_space_reserve(0);
        sink.check_room(1000).await.unwrap();
        assert!(matches!(
            sink.check_room(usize::MAX / 2).await,
            Err(IoFailure::NoSpace(_))
        ));
    }

    fn inode(path: &Path) -> u64 {
        std::os::unix::fs::MetadataExt::ino(&fs::metadata(path).unwrap())
    }

    /// Replacing a client's file frees nothing: the replaced file becomes the next staged
    /// file and is written in place, so from the third write on the client's file is the
    /// inode of the one before last, with the new version in it, cut to its length.
    #[tokio::test]
    async fn a_replaced_file_is_written_again_in_place() {
        for unnamed in [true, false] {
            a_replaced_file_is_written_again_in_place_with(unnamed).await;
        }
    }

    async fn a_replaced_file_is_written_again_in_place_with(unnamed: bool) {
        let root = tempfile::TempDir::new().unwrap();
        let sink = sink_in(root.path(), unnamed);
        let (file, staged) = (
            root.path().join("A/7.xml"),
            root.path().join("A/.tmp-7.part"),
        );
        for (version, expected_staged) in [
            (&b"<one, the longest of the three/>"[..], None),
            (b"<two/>", Some(&b"<one, the longest of the three/>"[..])),
            (b"<three/>", Some(&b"<two/>"[..])),
        ] {
            let file_before = fs::metadata(&file).is_ok().then(|| inode(&file));
            let staged_before = fs::metadata(&staged).is_ok().then(|| inode(&staged));
            put(&sink, 7, Some(version)).await.unwrap();
            assert_eq!(fs::read(&file).unwrap(), version);
            assert_eq!(fs::read(&staged).ok().as_deref(), expected_staged);
            if let Some(before) = file_before {
                assert_eq!(
                    inode(&staged),
                    before,
                    "the replaced file is kept, not freed"
                );
            }
            if let Some(before) = staged_before {
                assert_eq!(inode(&file), before, "the kept file is written in place");
            }
        }

        // A deleted client's earlier version goes with its file.
        put(&sink, 7, None).await.unwrap();
        assert!(names(&root.path().join("A")).is_empty());

        // A new staged file over a file in place (one the combiner put back) replaces it
        // whole and keeps it, as an exchange does; a new one with nothing in place is
        // renamed, and leaves no staged file.
        fs::write(&file, b"<put back/>").unwrap();
        put(&sink, 7, Some(b"<four/>")).await.unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"<four/>");
        assert_eq!(fs::read(&staged).unwrap(), b"<put back/>");
        put(&sink, 8, Some(b"<new/>")).await.unwrap();
        assert_eq!(fs::read(root.path().join("A/8.xml")).unwrap(), b"<new/>");
        assert_eq!(
            names(&root.path().join("A")),
            [".tmp-7.part", "7.xml", "8.xml"]
        );
    }

    /// A staged file that has a second name (the combiner linking a claimed file back just
    /// before an exchange took it) is never written into: the other name keeps its bytes.
    #[tokio::test]
    async fn a_staged_file_with_another_name_is_not_written_into() {
        let root = tempfile::TempDir::new().unwrap();
        let sink = FsXmlSink::new(root.path().to_path_buf()).unwrap();
        for version in [b"<one/>", b"<two/>"] {
            put(&sink, 7, Some(version)).await.unwrap();
        }
        let other = root.path().join("claimed.xml");
        fs::hard_link(root.path().join("A/.tmp-7.part"), &other).unwrap();
        put(&sink, 7, Some(b"<three/>")).await.unwrap();
        assert_eq!(fs::read(&other).unwrap(), b"<one/>");
        assert_eq!(fs::read(root.path().join("A/7.xml")).unwrap(), b"<three/>");
    }

    /// A link planted under a staged name is not followed: the file it points to stays.
    #[tokio::test]
    async fn staging_does_not_follow_a_planted_link() {
        let root = tempfile::TempDir::new().unwrap();
        let sink = FsXmlSink::new(root.path().to_path_buf()).unwrap();
        let victim = root.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::create_dir(root.path().join("A")).unwrap();
        std::os::unix::fs::symlink(&victim, root.path().join("A/.tmp-7.part")).unwrap();
        assert!(put(&sink, 7, Some(b"<x/>")).await.is_err());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }
}
