//! One line per request to `REQUEST_LOG` (and to tracing): time, peer, key name, method,
//! path, client id, status, duration. The key itself is never written anywhere.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response};

use super::metrics::Metrics;

/// What the handlers learn about a request that the log line needs.
#[derive(Clone, Default)]
pub struct RequestNote(Arc<NoteInner>);

#[derive(Default)]
struct NoteInner {
    key_name: OnceLock<String>,
    client_id: OnceLock<u32>,
}

impl RequestNote {
    pub fn set_key_name(&self, name: &str) {
        let _ = self.0.key_name.set(name.to_owned());
    }
    pub fn set_client_id(&self, id: u32) {
        let _ = self.0.client_id.set(id);
    }
}

/// Records the client id a request is about, for its log line.
pub fn note_client(req: &Request, id: u32) {
    if let Some(note) = req.extensions().get::<RequestNote>() {
        note.set_client_id(id);
    }
}

/// Appends lines to the request log from a thread of its own, so requests never wait on it.
#[derive(Clone)]
pub struct RequestLog {
    lines: std::sync::mpsc::Sender<String>,
    trust_proxy_headers: bool,
}

impl RequestLog {
    pub fn open(path: &Path, trust_proxy_headers: bool) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                let mut out = BufWriter::new(file);
                while let Ok(line) = rx.recv() {
                    let mut ok = writeln!(out, "{line}").is_ok();
                    // Write out whatever queued meanwhile, then hand it to the OS.
                    while let Ok(line) = rx.try_recv() {
                        ok &= writeln!(out, "{line}").is_ok();
                    }
                    if !(ok && out.flush().is_ok()) {
                        tracing::warn!("could not write to the request log");
                    }
                }
            })?;
        Ok(Self {
            lines: tx,
            trust_proxy_headers,
        })
    }

    fn peer(&self, req: &Request) -> String {
        let forwarded = self
            .trust_proxy_headers
            .then(|| req.header("X-Forwarded-For"))
            .flatten()
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        match forwarded {
            Some(addr) => addr.to_owned(),
            None => match req.remote_addr().as_socket_addr() {
                Some(addr) => addr.ip().to_string(),
                None => req.remote_addr().to_string(),
            },
        }
    }

    /// Wraps `inner` so that each of its requests is logged.
    pub fn wrap<E: Endpoint>(self, inner: E, metrics: Arc<Metrics>) -> Logged<E> {
        Logged {
            log: self,
            metrics,
            inner,
        }
    }
}

/// An endpoint whose requests are logged.
pub struct Logged<E> {
    log: RequestLog,
    metrics: Arc<Metrics>,
    inner: E,
}

impl<E: Endpoint> Endpoint for Logged<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let note = RequestNote::default();
        req.extensions_mut().insert(note.clone());
        let peer = self.log.peer(&req);
        let method = req.method().to_string();
        let path = req.uri().path().to_owned();
        let response = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        let status = response.status().as_u16();
        let elapsed = started.elapsed();
        self.metrics.observe(&method, &path, status, elapsed);
        let millis = elapsed.as_secs_f64() * 1000.0;
        let key_name = note.0.key_name.get().map_or("-", String::as_str);
        let client_id = note
            .0
            .client_id
            .get()
            .map_or("-".to_owned(), u32::to_string);
        tracing::info!(%peer, key_name, %method, %path, client_id, status, duration_ms = millis, "request");
        let line = format!(
            "{} {peer} key_name={key_name} {method} {path} client_id={client_id} status={status} duration_ms={millis:.1}",
            chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        );
        let _ = self.log.lines.send(line);
        Ok(response)
    }
}
