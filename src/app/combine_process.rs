//! `patriot-api combine`: wires the combiner to its adapters, holds the run lock, writes the
//! run and import error logs, and runs once or as an hourly daemon.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::{DateTime, FixedOffset, TimeZone, Timelike};
use tokio::signal::unix::{signal, SignalKind};

use super::settings::{CombineSettings, ShareKind};
use crate::adapters::append_log::AppendLog;
use crate::adapters::clock::SystemClock;
use crate::adapters::fs_xml::FsXmlQueue;
use crate::adapters::import_state::StateFileStore;
use crate::adapters::share::{DirShare, SmbSettings, SmbShare};
use crate::adapters::systemd;
use crate::domain::combine_run::{Combiner, CombinerConfig, RunFailed, RunReport, StopFlag};
use crate::domain::import_state::LastRun;
use crate::ports::ImportStateStore;
use crate::ports::{Clock, ImportShare};

const LOCK_FILE: &str = ".combine.lock";

/// The share the settings name, checked before anything runs.
fn share(settings: &CombineSettings) -> anyhow::Result<Option<Arc<dyn ImportShare>>> {
    match settings.share {
        ShareKind::None => Ok(None),
        ShareKind::Dir => {
            let Some(dir) = &settings.share_dir else {
                bail!("SHARE=dir needs SHARE_DIR (--share-dir)");
            };
            Ok(Some(Arc::new(DirShare::new(dir.clone()))))
        }
        ShareKind::Smb => {
            let need = |value: &Option<String>, name: &str| {
                value
                    .clone()
                    .filter(|v| !v.is_empty())
                    .with_context(|| format!("SHARE=smb needs {name}"))
            };
            let smb = SmbSettings {
                server: need(&settings.smb_server, "SMB_SERVER")?,
                share: need(&settings.smb_share_name, "SMB_SHARE_NAME")?,
                username: need(&settings.smb_username, "SMB_USERNAME")?,
                password: password(settings)?,
                domain: settings.smb_domain.clone(),
                timeout: Duration::from_secs(settings.smb_timeout_secs.max(1)),
            };
            Ok(Some(Arc::new(
                SmbShare::start(smb).context("cannot start the SMB thread")?,
            )))
        }
    }
}

/// The SMB password, from `SMB_PASSWORD` or `SMB_PASSWORD_FILE` (never both).
fn password(settings: &CombineSettings) -> anyhow::Result<String> {
    match (&settings.smb_password, &settings.smb_password_file) {
        (Some(_), Some(_)) => bail!("set SMB_PASSWORD or SMB_PASSWORD_FILE, not both"),
        (Some(p), None) => Ok(p.clone()),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read SMB_PASSWORD_FILE {}", path.display()))?;
            let text = text.strip_suffix('\n').unwrap_or(&text);
            Ok(text.strip_suffix('\r').unwrap_or(text).to_owned())
        }
        (None, None) => bail!("SHARE=smb needs SMB_PASSWORD or SMB_PASSWORD_FILE"),
    }
}

/// The two log files, mirrored to standard error.
struct RunLogs {
    runs: AppendLog,
    import_errors: AppendLog,
}

impl RunLogs {
    fn summary(report: &RunReport, outcome: &str, elapsed: Duration) -> String {
        format!(
            "recovered={} picked={} rows={} broken={} imported={} failed={} share={outcome} duration_ms={}",
            report.recovered,
            report.picked,
            report.rows,
            report.broken.len(),
            report.imported,
            report.failures.len(),
            elapsed.as_millis()
        )
    }

    /// Writes the run's lines; returns its summary.
    fn record(
        &self,
        now: DateTime<FixedOffset>,
        result: &Result<RunReport, RunFailed>,
        elapsed: Duration,
    ) -> String {
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        let report = match result {
            Ok(report) | Err(RunFailed { report, .. }) => report,
        };
        for failure in &report.failures {
            tracing::warn!(id = %failure.id, reason = failure.reason, "Patriot did not confirm the import");
            self.import_errors
                .append(&format!("{at} {} {}", failure.id, failure.reason));
        }
        for (file, why) in &report.broken {
            tracing::error!(%file, why, "skipped a file that does not parse; it stays where it is");
            self.runs
                .append(&format!("{at} error: skipped {file}: {why}"));
        }
        match result {
            Ok(report) => {
                let outcome = if report.dry_run {
                    "none (dry run)".to_owned()
                } else if report.uploaded {
                    match &report.rotated_to {
                        Some(name) => format!("uploaded (previous file rotated to {name})"),
                        None => "uploaded".to_owned(),
                    }
                } else {
                    "checked (nothing to upload)".to_owned()
                };
                let line = Self::summary(report, &outcome, elapsed);
                tracing::info!("run ok: {line}");
                self.runs.append(&format!("{at} run ok: {line}"));
                format!("run ok: {line}")
            }
            Err(RunFailed { report, error }) => {
                let line = Self::summary(report, "failed", elapsed);
                tracing::error!(%error, "run failed, staged files put back: {line}");
                let line = format!("run failed: {error}; staged files put back; {line}");
                self.runs.append(&format!("{at} {line}"));
                line
            }
        }
    }
}

/// Holds the run lock while alive; `None` when another run holds it.
fn try_lock(ready_dir: &Path) -> anyhow::Result<Option<File>> {
    let path = ready_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the run lock {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot take the run lock {}", path.display()))
        }
    }
}

/// The next time at minute `minute` of an hour on the local clock, strictly after `now`.
/// Steps through whole minutes of real time rather than setting the wall-clock minute, so a
/// daylight-saving change (an hour that never comes, or one that comes twice) and zones whose
/// offset is not whole hours land on the right instant.
pub fn next_run<Tz: TimeZone>(now: DateTime<Tz>, minute: u32) -> DateTime<Tz> {
    let start = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or_else(|| now.clone());
    // Two hours of minutes cover any hour that a clock change skips.
    (1..=120)
        .map(|n| start.clone() + chrono::Duration::minutes(n))
        .find(|t| t.minute() == minute && *t > now)
        .unwrap_or_else(|| now + chrono::Duration::hours(1))
}

/// What ended a run that a signal may interrupt.
enum Turn {
    Done(bool),
    /// SIGTERM came during the run; it stopped early (files put back) or had already passed
    /// its last point to stop and finished (`true`).
    Terminated(bool),
}

pub async fn run(settings: CombineSettings) -> anyhow::Result<()> {
    let xml_dir = settings.shared.xml_dir.clone();
    let queue =
        FsXmlQueue::new(xml_dir.clone(), settings.shared.ready_dir.clone()).with_context(|| {
            format!(
                "cannot use XML_DIR {} or READY_DIR {}",
                xml_dir.display(),
                settings.shared.ready_dir.display()
            )
        })?;
    let logs = RunLogs {
        runs: AppendLog::open(&settings.combine_log).with_context(|| {
            format!("cannot open COMBINE_LOG {}", settings.combine_log.display())
        })?,
        import_errors: AppendLog::open(&settings.import_error_log).with_context(|| {
            format!(
                "cannot open IMPORT_ERROR_LOG {}",
                settings.import_error_log.display()
            )
        })?,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let state = Arc::new(StateFileStore::new(
        settings.shared.client_state_file.clone(),
        &settings.shared.ready_dir,
    ));
    let combiner = Combiner::new(
        Arc::new(queue),
        share(&settings)?,
        state.clone(),
        clock.clone(),
        CombinerConfig {
            max_clients_per_run: settings.max_clients_per_run as usize,
            remote_name: settings.smb_remote_path.clone(),
            results_name: settings.smb_results_filename.clone(),
        },
    );
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let turns = Turns {
        combiner,
        logs,
        clock,
        state,
        ready_dir: settings.shared.ready_dir.clone(),
    };

    if settings.once {
        return match turns.one(&mut term).await? {
            Turn::Done(true) => Ok(()),
            Turn::Done(false) => bail!("the run failed; see {}", settings.combine_log.display()),
            Turn::Terminated(true) => Ok(()),
            Turn::Terminated(false) => {
                bail!("stopped by SIGTERM during a run; staged files put back")
            }
        };
    }
    tracing::info!(
        minute = settings.run_at_minute,
        "combiner started; runs every hour at this minute"
    );
    systemd::ready();
    loop {
        let now = turns.clock.now_local().with_timezone(&chrono::Local);
        let at = next_run(now, settings.run_at_minute);
        let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
        tracing::info!(next = %at.to_rfc3339(), "sleeping until the next run");
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = term.recv() => {
                systemd::stopping();
                tracing::info!("SIGTERM between runs: stopping");
                return Ok(());
            }
        }
        // A failed run does not stop the daemon; the next turn retries.
        match turns.one(&mut term).await? {
            Turn::Done(_) => {}
            Turn::Terminated(finished) => {
                systemd::stopping();
                if finished {
                    return Ok(());
                }
                bail!("stopped by SIGTERM during a run; staged files put back");
            }
        }
    }
}

/// What every turn of the combiner needs.
struct Turns {
    combiner: Combiner,
    logs: RunLogs,
    clock: Arc<dyn Clock>,
    state: Arc<StateFileStore>,
    ready_dir: PathBuf,
}

impl Turns {
    fn stamp(&self) -> String {
        self.clock
            .now_local()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
    }

    /// One run under the lock. `Done(false)` when it failed or another run held the lock.
    async fn one(&self, term: &mut tokio::signal::unix::Signal) -> anyhow::Result<Turn> {
        let Some(_lock) = try_lock(&self.ready_dir)? else {
            tracing::warn!("another combine run holds the lock; skipping this turn");
            self.logs.runs.append(&format!(
                "{} run skipped: another run holds the lock",
                self.stamp()
            ));
            return Ok(Turn::Done(false));
        };
        let started = Instant::now();
        let now = self.clock.now_local();
        let stop = StopFlag::default();
        let run = self.combiner.run(&stop);
        tokio::pin!(run);
        tokio::select! {
            result = &mut run => {
                let ok = result.is_ok();
                let summary = self.logs.record(now, &result, started.elapsed());
                let last = LastRun {
                    at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                    ok,
                    summary,
                };
                if let Err(e) = self.state.save_last_run(&last).await {
                    tracing::warn!(error = %e, "could not record the last run for the API's metrics");
                }
                Ok(Turn::Done(ok))
            }
            _ = term.recv() => {
                // The run stops at its next step and puts its files back itself.
                stop.stop();
                let result = run.await;
                let summary = self.logs.record(now, &result, started.elapsed());
                tracing::warn!("SIGTERM during a run: {summary}");
                Ok(Turn::Terminated(result.is_ok()))
            }
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn next_run_is_the_next_matching_minute() {
        let tz = FixedOffset::east_opt(3600).unwrap();
        let at = |h, m, s| tz.with_ymd_and_hms(2025, 1, 1, h, m, s).unwrap();
        assert_eq!(next_run(at(12, 30, 0), 59), at(12, 59, 0));
        assert_eq!(next_run(at(12, 59, 0), 59), at(13, 59, 0));
        assert_eq!(next_run(at(12, 59, 30), 59), at(13, 59, 0));
        assert_eq!(
            next_run(at(23, 59, 1), 59),
            tz.with_ymd_and_hms(2025, 1, 2, 0, 59, 0).unwrap()
        );
        assert_eq!(next_run(at(12, 0, 0), 0), at(13, 0, 0));
    }

    /// Europe/Oslo's changes of 2025, with the real zone rules: runs stay one hour apart in
    /// real time and each is at minute 59 of the local clock.
    #[test]
    fn next_run_across_daylight_saving_changes_in_oslo() {
        use chrono_tz::Europe::Oslo;
        let utc = |mo, d, h, m, s| {
            chrono::Utc
                .with_ymd_and_hms(2025, mo, d, h, m, s)
                .unwrap()
                .with_timezone(&Oslo)
        };
        // Spring: 02:00 CET becomes 03:00 CEST. After 01:59 CET the next :59 is 03:59 CEST.
        let before = utc(3, 30, 0, 59, 30); // 01:59:30 CET
        let next = next_run(before, 59);
        assert_eq!(next, utc(3, 30, 1, 59, 0));
        assert_eq!(next.format("%H:%M %Z").to_string(), "03:59 CEST");
        // Autumn: 03:00 CEST becomes 02:00 CET; 02:59 comes twice and both are runs.
        let first = next_run(utc(10, 26, 0, 30, 0), 59); // from 02:30 CEST
        assert_eq!(first.format("%H:%M %Z").to_string(), "02:59 CEST");
        let second = next_run(first, 59);
        assert_eq!(second.format("%H:%M %Z").to_string(), "02:59 CET");
        assert_eq!(second - first, chrono::Duration::hours(1));
        // A minute that is not on the hour, across the spring change.
        let next = next_run(utc(3, 30, 0, 40, 0), 15); // 01:40 CET
        assert_eq!(next.format("%H:%M %Z").to_string(), "03:15 CEST");
    }

    #[test]
    fn next_run_in_a_zone_off_the_whole_hour() {
        let india = FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
        let now = india.with_ymd_and_hms(2025, 1, 1, 10, 10, 0).unwrap();
        assert_eq!(
            next_run(now, 59),
            india.with_ymd_and_hms(2025, 1, 1, 10, 59, 0).unwrap()
        );
    }
}
