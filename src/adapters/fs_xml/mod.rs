//! Per-client XML files in `XML_DIR/<key_name>/<client_id>.xml`, replaced atomically.

mod queue;
mod staged;

pub use queue::FsXmlQueue;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::adapters::disk_space::SpaceGuard;
use crate::domain::fields::ClientId;
use crate::domain::tenant::KeyName;
use crate::ports::{FileWrite, IoFailure, XmlSink};
use staged::{KeptFiles, LinkBy, NewFiles};

pub struct FsXmlSink {
    root: PathBuf,
    space: Option<SpaceGuard>,
    writer: FileWriter,
    /// The files waiting in `XML_DIR`, counted by [`FsXmlSink::count_pending_every`] in the
    /// background: a scrape of `/metrics` costs the same at 100 and 100,000 files.
    pending: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// How new staged files are made: see [`staged::probe`].
    new_files: NewFiles,
}

/// File work for the writer thread, which holds what it knows of the staged files.
type FileJob = Box<dyn FnOnce(&mut KeptFiles) + Send>;

/// One thread that creates, replaces and removes the files. Concurrent creates in one folder
/// contend for the folder's lock in the kernel (measured: a fifth of the CPU spinning at 16
/// writers); one after the other they do not, and the fsyncs are batched anyway.
#[derive(Clone)]
struct FileWriter(std::sync::mpsc::Sender<FileJob>);

impl FileWriter {
    fn start(mut kept: KeptFiles) -> io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel::<FileJob>();
        std::thread::Builder::new()
            .name("xml-writer".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut kept);
                }
            })?;
        Ok(Self(tx))
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut KeptFiles) -> io::Result<T> + Send + 'static,
    ) -> Result<T, IoFailure> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: FileJob = Box::new(move |kept| {
            let _ = tx.send(work(kept));
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
        let mut kept = KeptFiles::default();
        for tenant in fs::read_dir(&root)? {
            let tenant = tenant?;
            if !tenant.file_type()?.is_dir() {
                continue;
            }
            let folder = tenant.file_name();
            let folder = folder.to_string_lossy();
            for file in fs::read_dir(tenant.path())? {
                let file = file?;
                let name = file.file_name();
                let name = name.to_string_lossy();
                if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
                    continue;
                }
                if let Some(id) = staged::staged_id(&name) {
                    kept.set(&folder, id, true);
                } else {
                    tracing::info!(file = %file.path().display(), "removing a temporary file left by a crash");
                    remove_durably(&file.path())?;
                }
            }
        }
        let new_files = staged::probe(&root);
        match new_files {
            NewFiles::Unnamed(LinkBy::Fd) => {}
            NewFiles::Unnamed(LinkBy::Proc) => tracing::info!(
                "the kernel does not name unnamed files by descriptor; they are named through /proc"
            ),
            NewFiles::Named => tracing::info!(xml_dir = %root.display(),
                "the file system does not make unnamed files; new files are staged under a temporary name"),
        }
        Ok(Self {
            root,
            space: None,
            pending: Default::default(),
            new_files,
            writer: FileWriter::start(kept)?,
        })
    }

    /// New staged files made another way than the probe found (the tests run every way).
    #[cfg(test)]
    fn making_new_files(mut self, new_files: NewFiles) -> Self {
        self.new_files = new_files;
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
    /// replaced (see [`staged::write_one`]).
    fn staged_path(&self, tenant: &KeyName, id: ClientId) -> PathBuf {
        self.folder(tenant)
            .join(format!("{TEMP_PREFIX}{id}{TEMP_SUFFIX}"))
    }
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
        let jobs: Vec<(PathBuf, PathBuf, FileWrite)> = files
            .into_iter()
            .map(|f| {
                (
                    self.staged_path(&f.tenant, f.id),
                    self.path(&f.tenant, f.id),
                    f,
                )
            })
            .collect();
        let new_files = self.new_files;
        // One job for the whole batch: the writer thread is woken once, not twice per file.
        let written = self
            .writer
            .run(move |kept| {
                Ok(jobs
                    .into_iter()
                    .map(|(staged, path, f)| {
                        let (folder, id) = (f.tenant.as_str(), f.id.get());
                        let xml = f.xml.as_deref().map(Vec::as_slice);
                        let maybe_kept = kept.may_have(folder, id);
                        let (written, kept_after) =
                            staged::write_one(&staged, &path, xml, new_files, maybe_kept);
                        kept.set(folder, id, kept_after);
                        written.map_err(IoFailure::from)
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

    /// Every way of making new files, each test runs them all.
    const NEW_FILES: [NewFiles; 3] = [
        NewFiles::Unnamed(LinkBy::Fd),
        NewFiles::Unnamed(LinkBy::Proc),
        NewFiles::Named,
    ];

    /// The sink on a new folder, making new files `new_files`. The probe must find unnamed
    /// files named by descriptor: the file systems the tests run on have them, and the tests
    /// run as root or on Linux 6.10 or later, so a probe that stopped finding them fails here.
    fn sink_in(root: &Path, new_files: NewFiles) -> FsXmlSink {
        let sink = FsXmlSink::new(root.to_path_buf()).unwrap();
        assert_eq!(sink.new_files, NewFiles::Unnamed(LinkBy::Fd));
        sink.making_new_files(new_files)
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
        for new_files in NEW_FILES {
            files_are_written_whole_and_in_batches_with(new_files).await;
        }
    }

    async fn files_are_written_whole_and_in_batches_with(new_files: NewFiles) {
        let root = tempfile::TempDir::new().unwrap();
        let sink = sink_in(root.path(), new_files);
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
        // Folders in the way of both names: no file can be put in place for 11.
        fs::create_dir(folder.join(".tmp-11.part")).unwrap();
        fs::create_dir(folder.join("11.xml")).unwrap();
        let results = sink
            .write_files(vec![
                write(10, Some(b"<ten/>")),
                write(11, Some(b"<eleven/>")),
                write(7, None),
            ])
            .await;
        assert!(results[0].is_ok() && results[1].is_err() && results[2].is_ok());
        assert_eq!(fs::read(folder.join("10.xml")).unwrap(), b"<ten/>");
        assert_eq!(names(&folder), [".tmp-11.part", "10.xml", "11.xml"]);
        fs::remove_dir(folder.join(".tmp-11.part")).unwrap();
        fs::remove_dir(folder.join("11.xml")).unwrap();

        fs::write(
            folder.join(".tmp-a1B2c3.part"),
            b"left by a crash, and long",
        )
        .unwrap();
        fs::write(folder.join(".tmp-8.part"), b"left by a crash, and long").unwrap();
        drop(sink);
        let sink = FsXmlSink::new(root.path().to_path_buf())
            .unwrap()
            .making_new_files(new_files);
        assert_eq!(names(&folder), [".tmp-8.part", "10.xml"]);
        // The staged file found at start is written in place, and put in place whole.
        let kept = inode(&folder.join(".tmp-8.part"));
        put(&sink, 8, Some(b"<eight/>")).await.unwrap();
        assert_eq!(fs::read(folder.join("8.xml")).unwrap(), b"<eight/>");
        assert_eq!(inode(&folder.join("8.xml")), kept);
        assert_eq!(names(&folder), ["10.xml", "8.xml"]);
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
        for new_files in NEW_FILES {
            a_replaced_file_is_written_again_in_place_with(new_files).await;
        }
    }

    async fn a_replaced_file_is_written_again_in_place_with(new_files: NewFiles) {
        let root = tempfile::TempDir::new().unwrap();
        let sink = sink_in(root.path(), new_files);
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

    /// A link planted under a staged name is not followed, whether the writer knows of a
    /// staged file there (it refuses to write) or not (the link goes, or stays unused): the
    /// file it points to stays.
    #[tokio::test]
    async fn staging_does_not_follow_a_planted_link() {
        for new_files in NEW_FILES {
            let root = tempfile::TempDir::new().unwrap();
            let sink = sink_in(root.path(), new_files);
            let victim = root.path().join("victim");
            fs::write(&victim, b"precious").unwrap();
            let plant = |id: u32| {
                let staged = root.path().join(format!("A/.tmp-{id}.part"));
                let _ = fs::remove_file(&staged);
                std::os::unix::fs::symlink(&victim, staged).unwrap();
            };
            fs::create_dir(root.path().join("A")).unwrap();

            // Without unnamed files the staged name is opened, and refuses; with them, a link
            // the writer does not know of is not even opened.
            let expect_past_plant =
                |id: u32, xml: &'static [u8], written: Result<(), _>| match new_files {
                    NewFiles::Named => assert!(written.is_err()),
                    NewFiles::Unnamed(_) => {
                        written.unwrap();
                        let file = root.path().join(format!("A/{id}.xml"));
                        assert_eq!(fs::read(file).unwrap(), xml);
                    }
                };
            // A new client.
            plant(7);
            expect_past_plant(7, b"<x/>", put(&sink, 7, Some(b"<x/>")).await);
            // A client with a file in place, and none staged that the writer knows of.
            put(&sink, 8, Some(b"<one/>")).await.unwrap();
            plant(8);
            expect_past_plant(8, b"<two/>", put(&sink, 8, Some(b"<two/>")).await);
            // A client whose staged file the writer knows of.
            for version in [b"<one/>", b"<two/>"] {
                put(&sink, 9, Some(version)).await.unwrap();
            }
            plant(9);
            assert!(put(&sink, 9, Some(b"<three/>")).await.is_err());
            assert_eq!(fs::read(&victim).unwrap(), b"precious", "{new_files:?}");
        }
    }
}
