//! `patriot-api serve`: wires the adapters to the service and runs the HTTP server.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::Server;
use tokio::signal::unix::{signal, SignalKind};

use super::settings::ServeSettings;
use crate::adapters::clock::SystemClock;
use crate::adapters::fs_xml::FsXmlSink;
use crate::adapters::http::{app, Deadlines, GuardedAcceptor, MetricsPlace, RequestLog};
use crate::adapters::import_state::{StateFileReader, LAST_RUN_FILE};
use crate::adapters::keys_file::KeysFileStore;
use crate::adapters::sled_store::SledClientRepository;
use crate::adapters::systemd;
use crate::domain::service::ClientService;
use crate::ports::KeyStore;

/// How often the keys file is checked for a change.
const KEYS_POLL: Duration = Duration::from_secs(1);
/// How long requests in flight may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn run(settings: ServeSettings) -> anyhow::Result<()> {
    let clock = Arc::new(SystemClock);
    let keys = Arc::new(KeysFileStore::open(
        settings.key_file.clone(),
        clock.clone(),
    )?);
    std::fs::create_dir_all(&settings.data.data_dir).with_context(|| {
        format!(
            "cannot create DATA_DIR {}",
            settings.data.data_dir.display()
        )
    })?;
    let repo = SledClientRepository::open(
        &settings.data.data_dir,
        settings.data.cache_mb * 1024 * 1024,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database in DATA_DIR {}: {e}",
            settings.data.data_dir.display()
        )
    })?;
    let reserve = settings.min_free_mb << 20;
    let repo = repo.with_space_reserve(&settings.data.data_dir, reserve);
    let xml = FsXmlSink::new(settings.shared.xml_dir.clone())
        .with_context(|| format!("cannot use XML_DIR {}", settings.shared.xml_dir.display()))?
        .with_space_reserve(reserve);
    xml.count_pending_every(PENDING_COUNT_INTERVAL).await;
    let imports = Arc::new(StateFileReader::new(
        settings.shared.client_state_file.clone(),
        settings.shared.ready_dir.join(LAST_RUN_FILE),
    ));
    imports.watch();
    let service = Arc::new(
        ClientService::new(Arc::new(repo), Arc::new(xml), imports, clock)
            .with_lock_timeout(Duration::from_millis(settings.lock_timeout_ms)),
    );

    // Writes acknowledged before a crash get their XML files before anyone can call us.
    let finished = service
        .finish_owed_files(keys.as_ref())
        .await
        .map_err(|e| {
            anyhow::anyhow!("cannot finish the XML files owed from before the start: {e}")
        })?;
    if finished > 0 {
        tracing::info!(
            files = finished,
            "finished XML files owed from before the start"
        );
    }

    let log = RequestLog::open(&settings.request_log, settings.trust_proxy_headers)
        .with_context(|| format!("cannot open REQUEST_LOG {}", settings.request_log.display()))?;
    let addr = SocketAddr::new(settings.host, settings.port);
    let acceptor = GuardedAcceptor::new(
        TcpListener::bind(addr)
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {addr}"))?,
        settings.max_connections as usize,
        Deadlines {
            request: Duration::from_secs(settings.request_timeout_secs),
            write: Duration::from_secs(settings.write_timeout_secs),
            idle: Duration::from_secs(settings.idle_timeout_secs),
        },
    );
    let bound = acceptor
        .local_addr()
        .first()
        .map_or_else(|| addr.to_string(), ToString::to_string);
    // Installed before the port is announced: the default actions would end the process.
    let hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    tokio::spawn(watch_keys(keys.clone(), hangup));
    tokio::spawn(service.clone().run_file_syncer());
    tokio::spawn(service.clone().run_file_writer());
    tokio::spawn(requeue_failed(
        service.clone(),
        keys.clone(),
        settings.shared.max_import_attempts,
        Duration::from_secs(settings.requeue_interval_secs),
    ));
    // /metrics: on a listener of its own unless METRICS_ADDR=main.
    let (place, metrics_listener) = if settings.metrics_addr == "main" {
        (MetricsPlace::Main, None)
    } else {
        let addr: SocketAddr = settings.metrics_addr.parse().with_context(|| {
            format!(
                "METRICS_ADDR {:?} is neither host:port nor main",
                settings.metrics_addr
            )
        })?;
        let listener = TcpListener::bind(addr)
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on METRICS_ADDR {addr}"))?;
        if let Some(bound) = listener.local_addr().first() {
            tracing::info!(
                "metrics on http://{}/metrics",
                bound.to_string().trim_start_matches("socket://")
            );
        }
        (MetricsPlace::Apart, Some(listener))
    };
    tracing::info!(
        "listening on http://{}",
        bound.trim_start_matches("socket://")
    );
    systemd::ready();

    let store: Arc<dyn KeyStore> = keys;
    let apps = app(service.clone(), store, log.clone(), place);
    if let Some(listener) = metrics_listener {
        // Few, trusted scrapers: a small server of its own, ending with the process.
        tokio::spawn(async move {
            if let Err(e) = Server::new_with_acceptor(listener)
                .idle_timeout(Duration::from_secs(60))
                .run(apps.metrics)
                .await
            {
                tracing::error!(error = %e, "the metrics listener failed");
            }
        });
    }
    // The idle timeout is the acceptor's (`guard`), not poem's.
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(apps.api, shutdown_signal(term, int), Some(SHUTDOWN_GRACE))
        .await
        .context("the HTTP server failed")?;
    log.flush();
    // The files of the last writes are written and made durable before leaving (else the
    // next start does).
    if let Err(e) = service.finish_backlog().await {
        tracing::warn!(error = %e, "could not make the last XML files durable; the next start will");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How often the files waiting for the combiner are counted for `/metrics`.
const PENDING_COUNT_INTERVAL: Duration = Duration::from_secs(5);

/// Resolves on SIGTERM or SIGINT. The handlers are installed by the caller before the port
/// is announced, so a signal right after readiness is not the default (fatal) action.
async fn shutdown_signal(
    mut term: tokio::signal::unix::Signal,
    mut int: tokio::signal::unix::Signal,
) {
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing requests in flight"),
        _ = int.recv() => tracing::info!("SIGINT: finishing requests in flight"),
    }
    systemd::stopping();
}

/// What identifies a version of the keys file: a replacement by rename changes the inode.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Reloads the keys file when it changes (checked every second) and on SIGHUP.
async fn watch_keys(keys: Arc<KeysFileStore>, mut hangup: tokio::signal::unix::Signal) {
    let mut seen = file_stamp(keys.path());
    let mut tick = tokio::time::interval(KEYS_POLL);
    loop {
        let forced = tokio::select! {
            _ = tick.tick() => false,
            Some(_) = hangup.recv() => true,
        };
        let stamp = file_stamp(keys.path());
        if !forced && stamp == seen {
            tracing::debug!("keys file unchanged");
            continue;
        }
        seen = stamp;
        let reload = keys.clone();
        match tokio::task::spawn_blocking(move || reload.reload()).await {
            Ok(Ok(count)) => tracing::info!(keys = count, "keys file reloaded"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "keys file refused; the previous keys stay in force")
            }
            Err(e) => tracing::error!(error = %e, "keys file reload failed"),
        }
    }
}

/// Sends again, now and then, the clients that Patriot did not confirm.
async fn requeue_failed(
    service: Arc<ClientService>,
    keys: Arc<KeysFileStore>,
    max_attempts: u32,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        match service.requeue_failed(keys.as_ref(), max_attempts).await {
            Ok(written) => tracing::debug!(written, "re-queue pass done"),
            Err(e) => tracing::warn!(error = %e, "could not re-queue failed imports"),
        }
    }
}
