//! One line per request to `REQUEST_LOG` (and to tracing): time, peer, key name, method,
//! path, client id, status, duration. The key itself is never written anywhere.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// The standard methods; any other is logged and counted as `other`, so that a client cannot
/// grow the log or the metrics with invented methods (it is answered 405 by the routes).
/// One longer than [`LONGEST_METHOD`] is refused before routing.
/// Longer than any method a client of this API has a reason to send.
pub const LONGEST_METHOD: usize = 16;

pub const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// A value as it may go into a log line: control characters, line and paragraph separators
/// and the bidirectional controls (which can make a line read as something else) are
/// written as `\u{…}` escapes, and so is the backslash, so nothing a client sends can
/// start a new line or disguise one.
pub fn log_safe(value: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || c == '\\'
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{061C}' | '\u{200E}' | '\u{200F}'
            )
            || ('\u{202A}'..='\u{202E}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    }
    if !value.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Lines waiting for the writer, and whether someone waits for them to be written.
#[derive(Default)]
struct Pending {
    lines: Vec<String>,
    /// Lines handed to the file so far (for [`RequestLog::flush`]).
    written: u64,
    queued: u64,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// How often the writer hands queued lines to the file: how far `tail -f` may trail.
const WRITE_EVERY: Duration = Duration::from_millis(100);
/// A queue this long wakes the writer at once, so a burst stays bounded in memory.
const WAKE_AT: usize = 4096;

/// Appends lines to the request log from a thread of its own. A request only pushes its line
/// under a short lock; the writer wakes every [`WRITE_EVERY`] (or when the queue is long),
/// not once per line, and writes the batch with one `write` call.
#[derive(Clone)]
pub struct RequestLog {
    shared: Arc<Shared>,
    trust_proxy_headers: bool,
}

impl RequestLog {
    pub fn open(path: &Path, trust_proxy_headers: bool) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("request-log".into())
            .spawn(move || {
                let mut out = BufWriter::with_capacity(1 << 16, file);
                let mut batch = Vec::new();
                loop {
                    let queued = {
                        let Ok(guard) = writer.pending.lock() else {
                            return;
                        };
                        let Ok((mut guard, _)) = writer.wake.wait_timeout(guard, WRITE_EVERY)
                        else {
                            return;
                        };
                        std::mem::swap(&mut guard.lines, &mut batch);
                        guard.queued
                    };
                    if batch.is_empty() {
                        continue;
                    }
                    let mut ok = true;
                    for line in batch.drain(..) {
                        ok &= writeln!(out, "{line}").is_ok();
                    }
                    if !(ok && out.flush().is_ok()) {
                        tracing::warn!("could not write to the request log");
                    }
                    if let Ok(mut guard) = writer.pending.lock() {
                        guard.written = queued;
                    }
                    writer.wake.notify_all();
                }
            })?;
        Ok(Self {
            shared,
            trust_proxy_headers,
        })
    }

    fn push(&self, line: String) {
        if let Ok(mut pending) = self.shared.pending.lock() {
            pending.lines.push(line);
            pending.queued += 1;
            if pending.lines.len() >= WAKE_AT {
                self.shared.wake.notify_all();
            }
        }
    }

    /// Waits (up to a second) until every line queued so far is in the file: at shutdown.
    pub fn flush(&self) {
        let Ok(mut pending) = self.shared.pending.lock() else {
            return;
        };
        let target = pending.queued;
        let deadline = std::time::Instant::now() + Duration::from_secs(1);
        while pending.written < target && std::time::Instant::now() < deadline {
            self.shared.wake.notify_all();
            match self
                .shared
                .wake
                .wait_timeout(pending, Duration::from_millis(20))
            {
                Ok((guard, _)) => pending = guard,
                Err(_) => return,
            }
        }
    }

    /// The peer: behind a trusted proxy, the last `X-Forwarded-For` entry (the one the proxy
    /// appended; the entries before it are whatever the client sent), and only when it is an
    /// IP address; otherwise the connection's address.
    fn peer(&self, req: &Request) -> String {
        let forwarded = self
            .trust_proxy_headers
            .then(|| {
                req.headers()
                    .get_all("X-Forwarded-For")
                    .iter()
                    .next_back()
                    .and_then(|v| v.to_str().ok())
            })
            .flatten()
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok());
        match forwarded {
            Some(addr) => addr.to_string(),
            None => match req.remote_addr().as_socket_addr() {
                Some(addr) => addr.ip().to_string(),
                None => log_safe(&req.remote_addr().to_string()).into_owned(),
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
        let known = METHODS.contains(&req.method().as_str());
        let method = if known {
            req.method().as_str()
        } else {
            "other"
        }
        .to_owned();
        let path = log_safe(req.uri().path()).into_owned();
        let response = if req.method().as_str().len() > LONGEST_METHOD {
            super::problem::method_too_long()
        } else {
            match self.inner.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => e.into_response(),
            }
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
        // One line per request on standard error would pass journald's default rate limit
        // (10,000 lines per 30 s) at a few hundred requests per second, and cost a write each:
        // it is at debug level; the request log holds every request.
        tracing::debug!(%peer, key_name, %method, %path, client_id, status, duration_ms = millis, "request");
        let line = format!(
            "{} {peer} key_name={key_name} {method} {path} client_id={client_id} status={status} duration_ms={millis:.1}",
            chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        );
        self.log.push(line);
        Ok(response)
    }
}
