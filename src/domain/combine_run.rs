//! One combine run (`combiner.md` §1), seeing only ports: the per-client files, the share and
//! the state file. Whatever fails, every claimed file goes back, so no update is lost.

use std::collections::HashSet;
use std::sync::Arc;

use super::combine_rules::{
    check_last_import, combine, mark_uploaded, owner_of, results_answer_upload, rotation_name,
    BatchFile, ImportFailure, LastImport,
};
use super::import_state::{sha256_hex, FileFingerprint, ImportStatus, UploadRecord};
use super::rows::read_rows;
use crate::ports::{Clock, ImportShare, ImportStateStore, IoFailure, ShareError, XmlQueue};

/// Names on the share and the size of a batch.
#[derive(Debug, Clone)]
pub struct CombinerConfig {
    pub max_clients_per_run: usize,
    /// The file Patriot imports (`SMB_REMOTE_PATH`, default `clients.xml`).
    pub remote_name: String,
    /// Patriot's results (`SMB_RESULTS_FILENAME`, default `clients_Import_Results.txt`).
    pub results_name: String,
}

/// What a run did, for the summary line and the import error log.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Staged files of a run that died, put back first.
    pub recovered: usize,
    /// Per-client files taken into this run's `clients.xml`.
    pub picked: usize,
    /// Rows (distinct `__id`s) in this run's `clients.xml`.
    pub rows: usize,
    /// Files that did not parse: path below `XML_DIR` and why. Left where they are.
    pub broken: Vec<(String, String)>,
    /// Ids Patriot did not confirm, newly failed in this run.
    pub failures: Vec<ImportFailure>,
    /// Ids of the last upload that Patriot confirmed.
    pub imported: usize,
    /// What the share's previous `clients.xml` was renamed to.
    pub rotated_to: Option<String>,
    pub uploaded: bool,
    /// `SHARE=none`: only `READY_DIR/clients.xml` was written.
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("stopped before it finished")]
    Stopped,
    #[error("local files: {0}")]
    Local(#[from] IoFailure),
    #[error("share: {0}")]
    Share(#[from] ShareError),
}

/// A run that failed; its claimed files were put back.
#[derive(Debug)]
pub struct RunFailed {
    pub report: RunReport,
    pub error: RunError,
}

/// Asks a run in progress to stop at its next step (SIGTERM); the run then puts its files back.
#[derive(Debug, Default)]
pub struct StopFlag(std::sync::atomic::AtomicBool);

impl StopFlag {
    pub fn stop(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), RunError> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            Err(RunError::Stopped)
        } else {
            Ok(())
        }
    }
}

pub struct Combiner {
    queue: Arc<dyn XmlQueue>,
    /// `None` for `SHARE=none` (a dry run).
    share: Option<Arc<dyn ImportShare>>,
    state: Arc<dyn ImportStateStore>,
    clock: Arc<dyn Clock>,
    config: CombinerConfig,
}

impl Combiner {
    pub fn new(
        queue: Arc<dyn XmlQueue>,
        share: Option<Arc<dyn ImportShare>>,
        state: Arc<dyn ImportStateStore>,
        clock: Arc<dyn Clock>,
        config: CombinerConfig,
    ) -> Self {
        Self {
            queue,
            share,
            state,
            clock,
            config,
        }
    }

    /// Puts back every staged file (a dead run's, or an aborted one's). Returns how many.
    async fn recover(&self) -> Result<usize, IoFailure> {
        let staged = self.queue.staged().await?;
        for rel in &staged {
            self.queue.restore(rel).await?;
        }
        Ok(staged.len())
    }

    /// One run. Must be called with the run lock held. Checks `stop` between steps; a
    /// stopped run puts its claimed files back and fails with `RunError::Stopped`.
    pub async fn run(&self, stop: &StopFlag) -> Result<RunReport, RunFailed> {
        let mut report = RunReport::default();
        match self.recover().await {
            Ok(n) => report.recovered = n,
            Err(e) => {
                return Err(RunFailed {
                    report,
                    error: e.into(),
                })
            }
        }
        let Some(share) = self.share.clone() else {
            report.dry_run = true;
            return match self.dry_run(&mut report, stop).await {
                Ok(()) => Ok(report),
                Err(error) => Err(RunFailed { report, error }),
            };
        };
        let files = match self.pick(true, &mut report, stop).await {
            Ok(files) => files,
            Err(error) => return Err(self.abort(report, error).await),
        };
        match self
            .deliver(share.as_ref(), &files, &mut report, stop)
            .await
        {
            Ok(()) => {
                for file in &files {
                    if let Err(e) = self.queue.discard(&file.rel_path).await {
                        // Left staged, it is put back and sent again by the next run: harmless.
                        tracing::warn!(file = %file.rel_path, error = %e, "could not delete a delivered file");
                    }
                }
                Ok(report)
            }
            Err(error) => Err(self.abort(report, error).await),
        }
    }

    async fn abort(&self, report: RunReport, error: RunError) -> RunFailed {
        if let Err(e) = self.recover().await {
            // What stays staged is put back by the next run's recovery.
            tracing::error!(error = %e, "could not put every staged file back; the next run will");
        }
        RunFailed { report, error }
    }

    async fn dry_run(&self, report: &mut RunReport, stop: &StopFlag) -> Result<(), RunError> {
        let files = self.pick(false, report, stop).await?;
        let (doc, ids) = combine(&files);
        report.rows = ids.len();
        self.queue.write_ready(doc).await?;
        Ok(())
    }

    /// Oldest files first, up to the batch size in distinct ids; with `claim`, each taken file
    /// is moved into the staging area. A file that does not parse takes no slot and stays.
    async fn pick(
        &self,
        claim: bool,
        report: &mut RunReport,
        stop: &StopFlag,
    ) -> Result<Vec<BatchFile>, RunError> {
        let mut ids = HashSet::new();
        let mut files = Vec::new();
        for pending in self.queue.pending().await? {
            if ids.len() >= self.config.max_clients_per_run {
                break;
            }
            stop.check()?;
            let rel = pending.rel_path;
            let Some(bytes) = self.queue.read_pending(&rel).await? else {
                continue;
            };
            let mut rows = match parse(&bytes) {
                Ok(rows) => rows,
                Err(why) => {
                    report.broken.push((rel, why));
                    continue;
                }
            };
            if claim {
                let Some(claimed) = self.queue.claim(&rel).await? else {
                    continue;
                };
                if claimed != bytes {
                    // The API replaced the file between reading and claiming: send what was claimed.
                    match parse(&claimed) {
                        Ok(newer) => rows = newer,
                        Err(why) => {
                            self.queue.restore(&rel).await?;
                            report.broken.push((rel, why));
                            continue;
                        }
                    }
                }
            }
            ids.extend(rows.iter().map(|r| r.id.clone()));
            files.push(BatchFile {
                rel_path: rel,
                rows,
            });
        }
        report.picked = files.len();
        Ok(files)
    }

    async fn deliver(
        &self,
        share: &dyn ImportShare,
        files: &[BatchFile],
        report: &mut RunReport,
        stop: &StopFlag,
    ) -> Result<(), RunError> {
        stop.check()?;
        let now = self.clock.now_local();
        let (doc, ids) = combine(files);
        report.rows = ids.len();
        if !files.is_empty() {
            self.queue.write_ready(doc.clone()).await?;
        }

        let remote = self.config.remote_name.as_str();
        let remote_modified = share.modified(remote).await?;
        if let Some(xml_modified) = remote_modified {
            let remote_bytes = share.read(remote).await?.unwrap_or_default();
            let uploaded: Vec<String> = parse(&remote_bytes)
                .map(|rows| rows.into_iter().map(|r| r.id).collect())
                .unwrap_or_else(|why| {
                    tracing::warn!(
                        file = remote,
                        why,
                        "the share's clients.xml is not readable; its import cannot be checked"
                    );
                    Vec::new()
                });
            let (results_now, results_bytes) = self.results_file(share).await?;
            let record = self.state.load_upload().await?;
            let answered = results_answer_upload(
                record.as_ref(),
                &sha256_hex(&remote_bytes),
                xml_modified,
                results_now.as_ref(),
            );
            let results = results_bytes
                .filter(|_| answered)
                .map(|b| String::from_utf8_lossy(&b).into_owned());
            let next_batch: HashSet<String> = ids.iter().cloned().collect();
            let mut state = self.state.load().await?;
            report.failures = check_last_import(
                &mut state,
                &LastImport {
                    uploaded: &uploaded,
                    results: results.as_deref(),
                    rotating: !files.is_empty(),
                    next_batch: &next_batch,
                },
            );
            report.imported = uploaded
                .iter()
                .filter(|id| {
                    results.is_some()
                        && state
                            .get(*id)
                            .is_some_and(|r| r.status == ImportStatus::Imported)
                })
                .count();
            // Recorded now, whatever happens to the rotation and upload below.
            self.state.save(&state).await?;
        }
        if files.is_empty() {
            return Ok(());
        }
        // The last point to stop: past it, the share is changed.
        stop.check()?;

        if remote_modified.is_some() {
            let mut attempt = 0;
            let rotated = loop {
                let name = rotation_name(now, attempt);
                if share.modified(&name).await?.is_none() {
                    break name;
                }
                attempt += 1;
            };
            share.rename(remote, &rotated).await?;
            report.rotated_to = Some(rotated);
        }
        // What the results file is just before the upload: any change after it is Patriot's
        // answer to this file. Recorded before the file goes up, so no answer can precede it.
        let (results_before, _) = self.results_file(share).await?;
        self.state
            .save_upload(&UploadRecord {
                xml_sha256: sha256_hex(&doc),
                results_before,
            })
            .await?;
        // Under a temporary name first, so Patriot never reads half a file.
        let temporary = format!("{remote}.uploading");
        share.write(&temporary, doc).await?;
        share.rename(&temporary, remote).await?;
        report.uploaded = true;

        let mut batch: Vec<(String, Option<(String, u32)>)> = Vec::with_capacity(ids.len());
        let mut owners = std::collections::HashMap::new();
        for file in files {
            for row in &file.rows {
                owners.insert(row.id.as_str(), owner_of(&file.rel_path));
            }
        }
        for id in &ids {
            batch.push((id.clone(), owners.get(id.as_str()).cloned().flatten()));
        }
        let mut state = self.state.load().await?;
        mark_uploaded(&mut state, &batch, now);
        self.state.save(&state).await?;
        Ok(())
    }
}

impl Combiner {
    /// Patriot's results file as it is now, and its content; `None` when there is none.
    async fn results_file(
        &self,
        share: &dyn ImportShare,
    ) -> Result<(Option<FileFingerprint>, Option<Vec<u8>>), ShareError> {
        let name = self.config.results_name.as_str();
        let Some(modified) = share.modified(name).await? else {
            return Ok((None, None));
        };
        Ok(match share.read(name).await? {
            Some(bytes) => (Some(FileFingerprint::of(&bytes, modified)), Some(bytes)),
            None => (None, None),
        })
    }
}

/// The rows of a file, or why it cannot be used.
fn parse(bytes: &[u8]) -> Result<Vec<super::rows::Row>, String> {
    match read_rows(bytes) {
        Ok(rows) if rows.is_empty() => Err("no row with an __id".into()),
        Ok(rows) => Ok(rows),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    use async_trait::async_trait;
    use chrono::{FixedOffset, TimeZone};
    use mockall::predicate::eq;

    use super::*;
    use crate::domain::import_state::{ImportRecord, ImportState};
    use crate::ports::{MockClock, MockImportShare, PendingFile, Restored};

    /// `XML_DIR` and the staging area in memory.
    #[derive(Default)]
    struct FakeQueue {
        files: Mutex<BTreeMap<String, (u64, Vec<u8>)>>,
        staged: Mutex<BTreeMap<String, (u64, Vec<u8>)>>,
        ready: Mutex<Option<Vec<u8>>>,
        /// A file the API replaces between the combiner's read and its claim.
        replaced_before_claim: Mutex<Option<(String, Vec<u8>)>>,
    }

    impl FakeQueue {
        fn with(files: &[(&str, u64, &str)]) -> Arc<Self> {
            let queue = Self::default();
            for (rel, age, xml) in files {
                queue
                    .files
                    .lock()
                    .unwrap()
                    .insert(rel.to_string(), (*age, xml.as_bytes().to_vec()));
            }
            Arc::new(queue)
        }
        fn names(&self) -> Vec<String> {
            self.files.lock().unwrap().keys().cloned().collect()
        }
        fn staged_names(&self) -> Vec<String> {
            self.staged.lock().unwrap().keys().cloned().collect()
        }
    }

    #[async_trait]
    impl XmlQueue for FakeQueue {
        async fn pending(&self) -> Result<Vec<PendingFile>, IoFailure> {
            let mut files: Vec<PendingFile> = self
                .files
                .lock()
                .unwrap()
                .iter()
                .map(|(rel, (age, _))| PendingFile {
                    rel_path: rel.clone(),
                    modified: SystemTime::UNIX_EPOCH + Duration::from_secs(*age),
                })
                .collect();
            files.sort_by(|a, b| {
                a.modified
                    .cmp(&b.modified)
                    .then(a.rel_path.cmp(&b.rel_path))
            });
            Ok(files)
        }
        async fn read_pending(&self, rel: &str) -> Result<Option<Vec<u8>>, IoFailure> {
            Ok(self.files.lock().unwrap().get(rel).map(|f| f.1.clone()))
        }
        async fn claim(&self, rel: &str) -> Result<Option<Vec<u8>>, IoFailure> {
            let Some(mut file) = self.files.lock().unwrap().remove(rel) else {
                return Ok(None);
            };
            if let Some((replaced, bytes)) = self.replaced_before_claim.lock().unwrap().take() {
                if replaced == rel {
                    file.1 = bytes;
                }
            }
            let bytes = file.1.clone();
            self.staged.lock().unwrap().insert(rel.into(), file);
            Ok(Some(bytes))
        }
        async fn staged(&self) -> Result<Vec<String>, IoFailure> {
            Ok(self.staged_names())
        }
        async fn restore(&self, rel: &str) -> Result<Restored, IoFailure> {
            let file = self.staged.lock().unwrap().remove(rel).expect("staged");
            let mut files = self.files.lock().unwrap();
            if files.contains_key(rel) {
                Ok(Restored::Superseded)
            } else {
                files.insert(rel.into(), file);
                Ok(Restored::MovedBack)
            }
        }
        async fn discard(&self, rel: &str) -> Result<(), IoFailure> {
            self.staged.lock().unwrap().remove(rel);
            Ok(())
        }
        async fn write_ready(&self, bytes: Vec<u8>) -> Result<(), IoFailure> {
            *self.ready.lock().unwrap() = Some(bytes);
            Ok(())
        }
    }

    #[derive(Default)]
    struct FakeState(Mutex<ImportState>, Mutex<Option<UploadRecord>>);

    #[async_trait]
    impl ImportStateStore for FakeState {
        async fn load(&self) -> Result<ImportState, IoFailure> {
            Ok(self.0.lock().unwrap().clone())
        }
        async fn save(&self, state: &ImportState) -> Result<(), IoFailure> {
            *self.0.lock().unwrap() = state.clone();
            Ok(())
        }
        async fn save_last_run(
            &self,
            _: &crate::domain::import_state::LastRun,
        ) -> Result<(), IoFailure> {
            Ok(())
        }
        async fn load_upload(&self) -> Result<Option<UploadRecord>, IoFailure> {
            Ok(self.1.lock().unwrap().clone())
        }
        async fn save_upload(&self, record: &UploadRecord) -> Result<(), IoFailure> {
            *self.1.lock().unwrap() = Some(record.clone());
            Ok(())
        }
    }

    fn client(id: &str) -> String {
        format!("<?xml version=\"1.0\"?>\n<Clients>\n  <Client>\n    <__id>{id}</__id>\n  </Client>\n</Clients>\n")
    }

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now_local().returning(|| {
            FixedOffset::east_opt(3600)
                .unwrap()
                .with_ymd_and_hms(2025, 1, 1, 12, 59, 0)
                .unwrap()
        });
        Arc::new(clock)
    }

    fn config(max: usize) -> CombinerConfig {
        CombinerConfig {
            max_clients_per_run: max,
            remote_name: "clients.xml".into(),
            results_name: "clients_Import_Results.txt".into(),
        }
    }

    fn combiner(
        queue: &Arc<FakeQueue>,
        share: MockImportShare,
        state: &Arc<FakeState>,
    ) -> Combiner {
        Combiner::new(
            queue.clone(),
            Some(Arc::new(share)),
            state.clone(),
            clock(),
            config(300),
        )
    }

    fn two_files() -> Arc<FakeQueue> {
        FakeQueue::with(&[
            ("A/1.xml", 10, &client("1BASE")),
            ("A/2.xml", 20, &client("2BASE")),
        ])
    }

    /// A share with no files on it, that accepts an upload.
    fn empty_share() -> MockImportShare {
        let mut share = MockImportShare::new();
        share.expect_modified().returning(|_| Ok(None));
        share.expect_write().returning(|_, _| Ok(()));
        share.expect_rename().returning(|_, _| Ok(()));
        share
    }

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[tokio::test]
    async fn a_good_run_uploads_under_a_temporary_name_and_marks_the_batch() {
        let queue = two_files();
        let state = Arc::new(FakeState::default());
        let mut share = MockImportShare::new();
        let mut seq = mockall::Sequence::new();
        share
            .expect_modified()
            .with(eq("clients.xml"))
            .returning(|_| Ok(None));
        share
            .expect_modified()
            .with(eq("clients_Import_Results.txt"))
            .returning(|_| Ok(None));
        share
            .expect_write()
            .withf(|name, bytes| {
                name == "clients.xml.uploading" && bytes.windows(6).any(|w| w == b"2BASE<")
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        share
            .expect_rename()
            .with(eq("clients.xml.uploading"), eq("clients.xml"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(()));
        let report = combiner(&queue, share, &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        assert_eq!((report.picked, report.rows, report.uploaded), (2, 2, true));
        assert!(queue.names().is_empty() && queue.staged_names().is_empty());
        let s = state.0.lock().unwrap();
        assert_eq!(s["1BASE"].status, ImportStatus::PendingImport);
        assert_eq!(s["1BASE"].key_name.as_deref(), Some("A"));
        assert_eq!(s["2BASE"].client_id, Some(2));
        assert_eq!(s["2BASE"].attempts, 1);
        assert!(queue.ready.lock().unwrap().is_some());
    }

    /// A share kept in memory: names to (content, modification time in whole seconds, as
    /// SMB gives them).
    /// Name to content and modification time in whole seconds.
    type ShareFiles = BTreeMap<String, (Vec<u8>, u64)>;

    #[derive(Clone, Default)]
    struct MemoryShare(Arc<Mutex<ShareFiles>>);

    impl MemoryShare {
        fn put(&self, name: &str, bytes: &[u8], secs: u64) {
            self.0
                .lock()
                .unwrap()
                .insert(name.into(), (bytes.to_vec(), secs));
        }
        fn mock(&self, now_secs: u64) -> MockImportShare {
            let mut share = MockImportShare::new();
            let files = self.0.clone();
            share.expect_modified().returning(move |name| {
                Ok(files
                    .lock()
                    .unwrap()
                    .get(name)
                    .map(|(_, secs)| SystemTime::UNIX_EPOCH + Duration::from_secs(*secs)))
            });
            let files = self.0.clone();
            share
                .expect_read()
                .returning(move |name| Ok(files.lock().unwrap().get(name).map(|(b, _)| b.clone())));
            let files = self.0.clone();
            share.expect_write().returning(move |name, bytes| {
                files.lock().unwrap().insert(name.into(), (bytes, now_secs));
                Ok(())
            });
            let files = self.0.clone();
            share.expect_rename().returning(move |from, to| {
                let mut files = files.lock().unwrap();
                let file = files.remove(from).unwrap();
                files.insert(to.into(), file);
                Ok(())
            });
            share
        }
    }

    fn results_for(ids: &[&str]) -> Vec<u8> {
        ids.iter()
            .map(|id| format!("Completed processing client {id}\n"))
            .collect::<String>()
            .into_bytes()
    }

    /// `combiner.md` §1.6, run by run: the results file counts as Patriot's answer when it
    /// changed since the upload, even within the same second; an unchanged one does not.
    #[tokio::test]
    async fn a_results_file_written_in_the_second_of_the_upload_counts() {
        let share = MemoryShare::default();
        let state = Arc::new(FakeState::default());
        // An old results file, from an earlier import, at second 100.
        share.put("clients_Import_Results.txt", b"old results", 100);
        let queue = two_files();
        combiner(&queue, share.mock(1000), &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        // Patriot answers within the same second as the upload, confirming one id.
        share.put("clients_Import_Results.txt", &results_for(&["1BASE"]), 1000);
        let queue = FakeQueue::with(&[("A/3.xml", 30, &client("3BASE"))]);
        let report = combiner(&queue, share.mock(1000), &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        let s = state.0.lock().unwrap().clone();
        assert_eq!(s["1BASE"].status, ImportStatus::Imported);
        assert_eq!(s["2BASE"].status, ImportStatus::Failed);
        assert_eq!(report.failures.len(), 1);
        assert_eq!(report.failures[0].reason, "not confirmed by Patriot");

        // Nothing changed since this upload: its id stays pending (no rotation: nothing new).
        let queue = FakeQueue::with(&[]);
        combiner(&queue, share.mock(1000), &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        assert_eq!(
            state.0.lock().unwrap()["3BASE"].status,
            ImportStatus::PendingImport
        );
    }

    /// Every share call that can fail: the run fails, every file is back, nothing uploaded
    /// is recorded as such.
    #[tokio::test]
    async fn every_share_failure_puts_the_files_back() {
        for failing in ["modified", "read", "rotate", "write", "rename"] {
            let queue = two_files();
            let state = Arc::new(FakeState::default());
            let mut share = MockImportShare::new();
            fn down<T>() -> Result<T, ShareError> {
                Err(ShareError("connection refused".into()))
            }
            share.expect_modified().returning(move |name| {
                if failing == "modified" {
                    return down();
                }
                Ok((name == "clients.xml").then(|| t(100)))
            });
            share.expect_read().returning(move |_| {
                if failing == "read" {
                    return down();
                }
                Ok(Some(client("9OLD").into_bytes()))
            });
            share
                .expect_write()
                .returning(move |_, _| if failing == "write" { down() } else { Ok(()) });
            share.expect_rename().returning(move |from, _| {
                let fail = (failing == "rotate" && from == "clients.xml")
                    || (failing == "rename" && from == "clients.xml.uploading");
                if fail {
                    down()
                } else {
                    Ok(())
                }
            });
            let failed = combiner(&queue, share, &state)
                .run(&StopFlag::default())
                .await
                .unwrap_err();
            assert!(matches!(failed.error, RunError::Share(_)), "{failing}");
            assert_eq!(queue.names(), ["A/1.xml", "A/2.xml"], "{failing}");
            assert!(queue.staged_names().is_empty(), "{failing}");
            let s = state.0.lock().unwrap();
            assert!(
                !s.contains_key("1BASE"),
                "{failing}: batch must keep its state"
            );
        }
    }

    #[tokio::test]
    async fn results_are_recorded_even_when_the_upload_then_fails() {
        let queue = two_files();
        let state = Arc::new(FakeState::default());
        let mut share = MockImportShare::new();
        share.expect_modified().returning(|name| {
            Ok(match name {
                "clients.xml" => Some(t(100)),
                "clients_Import_Results.txt" => Some(t(200)),
                _ => None,
            })
        });
        share.expect_read().returning(|name| {
            Ok(Some(match name {
                "clients.xml" => b"<Clients><Client><__id>7OK</__id></Client><Client><__id>8BAD</__id></Client></Clients>".to_vec(),
                _ => b"12:00 Completed processing client 7OK\n12:00 Error processing client 8BAD\n".to_vec(),
            }))
        });
        share.expect_rename().returning(|_, _| Ok(()));
        share
            .expect_write()
            .returning(|_, _| Err(ShareError("disk full".into())));
        let failed = combiner(&queue, share, &state)
            .run(&StopFlag::default())
            .await
            .unwrap_err();
        assert_eq!(failed.report.failures.len(), 1);
        assert_eq!(failed.report.failures[0].id, "8BAD");
        assert_eq!(failed.report.imported, 1);
        let s = state.0.lock().unwrap();
        assert_eq!(s["7OK"].status, ImportStatus::Imported);
        assert_eq!(s["8BAD"].status, ImportStatus::Failed);
        assert_eq!(queue.names().len(), 2);
    }

    #[tokio::test]
    async fn rotation_never_overwrites_an_existing_name() {
        let queue = two_files();
        let state = Arc::new(FakeState::default());
        let mut share = MockImportShare::new();
        share.expect_modified().returning(|name| {
            Ok(match name {
                "clients.xml" | "clients_20250101_125900.xml" | "clients_20250101_125900_1.xml" => {
                    Some(t(1))
                }
                _ => None,
            })
        });
        share
            .expect_read()
            .returning(|_| Ok(Some(client("9OLD").into_bytes())));
        share
            .expect_rename()
            .with(eq("clients.xml"), eq("clients_20250101_125900_2.xml"))
            .times(1)
            .returning(|_, _| Ok(()));
        share
            .expect_rename()
            .with(eq("clients.xml.uploading"), eq("clients.xml"))
            .returning(|_, _| Ok(()));
        share.expect_write().returning(|_, _| Ok(()));
        let report = combiner(&queue, share, &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        assert_eq!(
            report.rotated_to.as_deref(),
            Some("clients_20250101_125900_2.xml")
        );
        // The old file was not processed and its client is not in this batch: sent again.
        assert_eq!(state.0.lock().unwrap()["9OLD"].status, ImportStatus::Failed);
    }

    #[tokio::test]
    async fn a_dead_runs_staging_is_recovered_first() {
        let queue = two_files();
        queue
            .staged
            .lock()
            .unwrap()
            .insert("B/5.xml".into(), (1, client("5B").into_bytes()));
        // A newer file of the same client was written meanwhile: it wins.
        queue
            .staged
            .lock()
            .unwrap()
            .insert("A/2.xml".into(), (1, client("2OLD").into_bytes()));
        let state = Arc::new(FakeState::default());
        let mut share = MockImportShare::new();
        share
            .expect_modified()
            .returning(|_| Err(ShareError("down".into())));
        let failed = combiner(&queue, share, &state)
            .run(&StopFlag::default())
            .await
            .unwrap_err();
        assert_eq!(failed.report.recovered, 2);
        assert_eq!(queue.names(), ["A/1.xml", "A/2.xml", "B/5.xml"]);
        let files = queue.files.lock().unwrap();
        assert_eq!(files["A/2.xml"].1, client("2BASE").into_bytes());
    }

    /// The API replaced a file between the combiner's read and its claim: what was claimed
    /// is what goes out.
    #[tokio::test]
    async fn a_file_replaced_before_its_claim_is_sent_as_claimed() {
        let queue = two_files();
        let newer = client("1BASE").replace("</__id>", "</__id><Name>Newer</Name>");
        *queue.replaced_before_claim.lock().unwrap() = Some(("A/1.xml".into(), newer.into()));
        let state = Arc::new(FakeState::default());
        combiner(&queue, empty_share(), &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        let sent = String::from_utf8(queue.ready.lock().unwrap().clone().unwrap()).unwrap();
        assert!(sent.contains("<Name>Newer</Name>"), "{sent}");
    }

    /// The report counts the uploaded ids that Patriot confirmed.
    #[tokio::test]
    async fn the_report_counts_the_confirmed_ids() {
        let share = MemoryShare::default();
        let state = Arc::new(FakeState::default());
        combiner(&two_files(), share.mock(1000), &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        share.put(
            "clients_Import_Results.txt",
            &results_for(&["1BASE", "2BASE"]),
            1001,
        );
        let report = combiner(&FakeQueue::with(&[]), share.mock(1001), &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        assert_eq!(report.imported, 2);
    }

    #[tokio::test]
    async fn broken_files_stay_and_take_no_slot() {
        let queue = FakeQueue::with(&[
            (
                "A/0.xml",
                0,
                "<?xml version=\"1.0\"?>\n<Clients>\n</Clients>\n",
            ),
            ("A/1.xml", 1, "<Clients><Client><__id>1A"),
            ("A/2.xml", 2, &client("2A")),
            ("A/3.xml", 3, &client("3A")),
        ]);
        let state = Arc::new(FakeState::default());
        let combiner = Combiner::new(
            queue.clone(),
            Some(Arc::new(empty_share())),
            state.clone(),
            clock(),
            config(1),
        );
        let report = combiner.run(&StopFlag::default()).await.unwrap();
        assert_eq!(report.broken.len(), 2);
        assert_eq!(
            (report.broken[0].0.as_str(), report.broken[0].1.as_str()),
            ("A/0.xml", "no row with an __id")
        );
        assert_eq!(report.broken[1].0, "A/1.xml");
        assert_eq!(report.rows, 1);
        assert_eq!(
            queue.names(),
            ["A/0.xml", "A/1.xml", "A/3.xml"],
            "oldest good file went, the broken ones stay"
        );
    }

    #[tokio::test]
    async fn nothing_to_send_still_checks_the_share() {
        let queue = FakeQueue::with(&[]);
        let state = Arc::new(FakeState::default());
        let mut share = MockImportShare::new();
        share
            .expect_modified()
            .returning(|_| Err(ShareError("unreachable".into())));
        assert!(combiner(&queue, share, &state)
            .run(&StopFlag::default())
            .await
            .is_err());

        let report = combiner(&queue, empty_share(), &state)
            .run(&StopFlag::default())
            .await
            .unwrap();
        assert!(!report.uploaded);
    }

    #[tokio::test]
    async fn a_stopped_run_puts_its_files_back_and_leaves_the_share_alone() {
        let queue = two_files();
        let state = Arc::new(FakeState::default());
        let stop = StopFlag::default();
        stop.stop();
        let share = MockImportShare::new(); // any call would fail the test
        let failed = combiner(&queue, share, &state)
            .run(&stop)
            .await
            .unwrap_err();
        assert!(matches!(failed.error, RunError::Stopped));
        assert_eq!(queue.names(), ["A/1.xml", "A/2.xml"]);
        assert!(queue.staged_names().is_empty());
    }

    #[tokio::test]
    async fn a_dry_run_leaves_the_files_in_place() {
        let queue = two_files();
        let state = Arc::new(FakeState::default());
        state.0.lock().unwrap().insert(
            "x".into(),
            ImportRecord {
                status: ImportStatus::Imported,
                last_batch: None,
                key_name: None,
                client_id: None,
                attempts: 0,
            },
        );
        let combiner = Combiner::new(queue.clone(), None, state.clone(), clock(), config(300));
        let report = combiner.run(&StopFlag::default()).await.unwrap();
        assert!(report.dry_run);
        assert_eq!(report.rows, 2);
        assert_eq!(queue.names().len(), 2);
        assert!(queue.ready.lock().unwrap().is_some());
        assert_eq!(state.0.lock().unwrap().len(), 1, "state untouched");
    }
}
