//! One combine run (`combiner.md` §1), seeing only ports: the per-client files, the share and
//! the state file. Whatever fails, every claimed file goes back, so no update is lost.

use std::collections::HashSet;
use std::sync::Arc;

use super::combine::{
    check_last_import, combine, mark_uploaded, owner_of, rotation_name, BatchFile, ImportFailure,
    LastImport,
};
use super::import_state::ImportStatus;
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
    pub async fn recover(&self) -> Result<usize, IoFailure> {
        let staged = self.queue.staged().await?;
        for rel in &staged {
            self.queue.restore(rel).await?;
        }
        Ok(staged.len())
    }

    /// One run. Must be called with the run lock held.
    pub async fn run(&self) -> Result<RunReport, RunFailed> {
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
            return match self.dry_run(&mut report).await {
                Ok(()) => Ok(report),
                Err(error) => Err(RunFailed { report, error }),
            };
        };
        let files = match self.pick(true, &mut report).await {
            Ok(files) => files,
            Err(error) => return Err(self.abort(report, error).await),
        };
        match self.deliver(share.as_ref(), &files, &mut report).await {
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

    async fn dry_run(&self, report: &mut RunReport) -> Result<(), RunError> {
        let files = self.pick(false, report).await?;
        let (doc, ids) = combine(&files);
        report.rows = ids.len();
        self.queue.write_ready(doc).await?;
        Ok(())
    }

    /// Oldest files first, up to the batch size in distinct ids; with `claim`, each taken file
    /// is moved into the staging area. A file that does not parse takes no slot and stays.
    async fn pick(&self, claim: bool, report: &mut RunReport) -> Result<Vec<BatchFile>, RunError> {
        let mut ids = HashSet::new();
        let mut files = Vec::new();
        for pending in self.queue.pending().await? {
            if ids.len() >= self.config.max_clients_per_run {
                break;
            }
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
    ) -> Result<(), RunError> {
        let now = self.clock.now_local();
        let (doc, ids) = combine(files);
        report.rows = ids.len();
        if !files.is_empty() {
            self.queue.write_ready(doc.clone()).await?;
        }

        let remote = self.config.remote_name.as_str();
        let remote_modified = share.modified(remote).await?;
        if let Some(xml_modified) = remote_modified {
            let uploaded = match share.read(remote).await? {
                Some(bytes) => parse(&bytes).map(|rows| rows.into_iter().map(|r| r.id).collect()),
                None => Ok(Vec::new()),
            };
            let uploaded: Vec<String> = uploaded.unwrap_or_else(|why| {
                tracing::warn!(
                    file = remote,
                    why,
                    "the share's clients.xml is not readable; its import cannot be checked"
                );
                Vec::new()
            });
            let results_name = self.config.results_name.as_str();
            let results = match share.modified(results_name).await? {
                Some(t) if t > xml_modified => share
                    .read(results_name)
                    .await?
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
                _ => None,
            };
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

/// The rows of a file, or why it cannot be used.
fn parse(bytes: &[u8]) -> Result<Vec<super::rows::Row>, String> {
    match read_rows(bytes) {
        Ok(rows) if rows.is_empty() => Err("no row with an __id".into()),
        Ok(rows) => Ok(rows),
        Err(e) => Err(e.to_string()),
    }
}
