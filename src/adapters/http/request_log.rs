//! One line per request to `REQUEST_LOG` (and to tracing): time, peer, key name, method,
//! path, client id, status, duration. The key itself is never written anywhere.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use poem::{Endpoint, IntoResponse, Request, Response};

use super::metrics::Metrics;
use crate::domain::tenant::Tenant;

/// What the handlers learn about a request that the log line needs.
#[derive(Clone, Default)]
pub struct RequestNote(Arc<NoteInner>);

#[derive(Default)]
struct NoteInner {
    /// The tenant, shared rather than its name copied: most requests have one.
    tenant: OnceLock<Arc<Tenant>>,
    client_id: OnceLock<u32>,
}

impl RequestNote {
    pub fn set_tenant(&self, tenant: &Arc<Tenant>) {
        let _ = self.0.tenant.set(tenant.clone());
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

/// Where a request came from, as its line names it.
enum Peer {
    Ip(std::net::IpAddr),
    /// A listener address that is no IP socket, already made [`log_safe`].
    Other(String),
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Ip(addr) => addr.fmt(f),
            Peer::Other(text) => f.write_str(text),
        }
    }
}

/// One request's line as values. The writer thread turns it into text, so a request pays
/// for a few moves, not for formatting the time, the address and the line.
struct Entry {
    at: std::time::SystemTime,
    peer: Peer,
    tenant: Option<Arc<Tenant>>,
    method: &'static str,
    /// As the request sent it; made [`log_safe`] when written.
    path: String,
    client_id: Option<u32>,
    status: u16,
    duration: Duration,
}

impl Entry {
    fn write_to(&self, out: &mut impl Write) -> std::io::Result<()> {
        let at = chrono::DateTime::<chrono::Local>::from(self.at)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false);
        write!(
            out,
            "{at} {} key_name={} {} {} client_id=",
            self.peer,
            self.tenant.as_ref().map_or("-", |t| t.key_name.as_str()),
            self.method,
            log_safe(&self.path),
        )?;
        match self.client_id {
            Some(id) => write!(out, "{id}")?,
            None => out.write_all(b"-")?,
        }
        writeln!(
            out,
            " status={} duration_ms={:.1}",
            self.status,
            self.duration.as_secs_f64() * 1000.0
        )
    }
}

/// Lines waiting for the writer, and whether someone waits for them to be written.
#[derive(Default)]
struct Pending {
    lines: Vec<Entry>,
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
/// under a short lock; the writer wakes every 100 ms (`WRITE_EVERY`, or when the queue is long),
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
                    for entry in batch.drain(..) {
                        ok &= entry.write_to(&mut out).is_ok();
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

    fn push(&self, entry: Entry) {
        if let Ok(mut pending) = self.shared.pending.lock() {
            pending.lines.push(entry);
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
    fn peer(&self, req: &Request) -> Peer {
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
            Some(addr) => Peer::Ip(addr),
            None => match req.remote_addr().as_socket_addr() {
                Some(addr) => Peer::Ip(addr.ip()),
                None => Peer::Other(log_safe(&req.remote_addr().to_string()).into_owned()),
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
        let at = std::time::SystemTime::now();
        let note = RequestNote::default();
        req.extensions_mut().insert(note.clone());
        let peer = self.log.peer(&req);
        let method = METHODS
            .iter()
            .find(|m| **m == req.method().as_str())
            .copied()
            .unwrap_or("other");
        let path = req.uri().path().to_owned();
        let response = if req.method().as_str().len() > LONGEST_METHOD {
            super::problem::method_too_long()
        } else {
            match self.inner.call(req).await {
                Ok(r) => r.into_response(),
                Err(e) => e.into_response(),
            }
        };
        let status = response.status().as_u16();
        let duration = started.elapsed();
        self.metrics.observe(method, &path, status, duration);
        let (tenant, client_id) = (
            note.0.tenant.get().cloned(),
            note.0.client_id.get().copied(),
        );
        let key_name = tenant.as_ref().map(|t| t.key_name.as_str());
        // One line per request on standard error would pass journald's default rate limit
        // (10,000 lines per 30 s) at a few hundred requests per second, and cost a write each:
        // it is at debug level; the request log holds every request.
        tracing::debug!(%peer, key_name, method, path = %log_safe(&path), client_id, status,
            duration_ms = duration.as_secs_f64() * 1000.0, "request");
        self.log.push(Entry {
            at,
            peer,
            tenant,
            method,
            path,
            client_id,
            status,
            duration,
        });
        Ok(response)
    }
}
