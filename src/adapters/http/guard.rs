//! Connection guards against slow and greedy clients: a cap on open connections, a deadline
//! for each request to arrive once its first byte has, a deadline for each answer to be taken
//! once the client stops reading, an idle timeout, and HTTP/1.1 only.
//!
//! poem has an idle timeout (no byte at all for a while) but no header or body deadline, so
//! a client trickling one byte at a time (slowloris) would hold a connection forever. Here a
//! request that is still arriving when its deadline passes loses its connection; a client
//! that stops sending altogether is closed by the idle timeout. A client that sends requests
//! but stops reading the answers would otherwise hold its connection (and a slot of
//! `MAX_CONNECTIONS`) forever: once a write has waited for the client longer than its
//! deadline, the connection is closed.
//!
//! The idle timeout is kept here rather than by poem's: poem runs a task per connection that
//! every read and write wakes and that then arms a new timer, about 4 % of a read's user CPU
//! (bench/notes.md, thirteenth part). Here a read or write only notes the time; the
//! connection's one timer is looked at when a read has to wait, and moved on only when it
//! fires early.
//!
//! hyper, under poem, also serves HTTP/2 to a client that starts with its preface ("prior
//! knowledge", h2c), where one connection carries any number of streams that neither the
//! connection cap nor these deadlines see. The service speaks HTTP/1.1 only, as the one it
//! replaces did (a proxy in front adds HTTP/2 where wanted): a connection that opens with the
//! HTTP/2 preface is closed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The first bytes of an HTTP/2 connection (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

pub struct GuardedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    deadlines: Deadlines,
}

/// How long a connection may take at each step before it is closed.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// From a request's first byte to its last.
    pub request: Duration,
    /// For a write that waits for the client to read.
    pub write: Duration,
    /// With no byte read or written at all.
    pub idle: Duration,
}

impl<A> GuardedAcceptor<A> {
    /// At most `max_connections` open at once (more wait in the listen backlog), each held
    /// to `deadlines`.
    pub fn new(inner: A, max_connections: usize, deadlines: Deadlines) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            deadlines,
        }
    }
}

impl<A: Acceptor> Acceptor for GuardedAcceptor<A> {
    type Io = GuardedIo<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(&mut self) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, Scheme)> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let (io, local, remote, scheme) = self.inner.accept().await?;
        let io = GuardedIo {
            inner: io,
            _permit: permit,
            request_started: None,
            deadlines: self.deadlines,
            write_blocked: None,
            idle: Idle::new(self.deadlines.idle),
            seen: 0,
        };
        Ok((io, local, remote, scheme))
    }
}

/// A connection that holds one permit and times the request being read.
pub struct GuardedIo<T> {
    inner: T,
    _permit: OwnedSemaphorePermit,
    /// When the first byte of the request now arriving came; cleared by the answer.
    request_started: Option<Instant>,
    /// The request and write deadlines (the idle one is kept by `idle`).
    deadlines: Deadlines,
    /// Runs while a write waits for the client to read; reset by any progress.
    write_blocked: Option<Pin<Box<tokio::time::Sleep>>>,
    idle: Idle,
    /// How many bytes of the connection have been read, up to the preface's length.
    seen: usize,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

/// The idle timeout: the time of the last byte moved, and one timer for the connection.
struct Idle {
    timeout: Duration,
    last_activity: Instant,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            last_activity: Instant::now(),
            timer: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    fn touch(&mut self, now: Instant) {
        self.last_activity = now;
    }

    /// Ready once nothing has moved for the whole timeout. The timer was set for the first
    /// possible end; when it fires after some activity, it is moved to the new end.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let end = self.last_activity + self.timeout;
            if end <= Instant::now() {
                return Poll::Ready(());
            }
            self.timer.as_mut().reset(end);
        }
    }
}

impl<T> GuardedIo<T> {
    /// For a write that is not done: fails once it has waited past the deadline.
    fn blocked_write<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        let deadline = self.deadlines.write;
        let sleep = self
            .write_blocked
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out(
                "the client did not take the answer within the write deadline",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if result.is_pending() {
            // hyper reads whenever it waits for the client: between requests, within one,
            // and while an answer is being made (to see the client leave).
            return match self.idle.poll_expired(cx) {
                Poll::Ready(()) => Poll::Ready(Err(timed_out("the connection was idle too long"))),
                Poll::Pending => Poll::Pending,
            };
        }
        if let Poll::Ready(Ok(())) = result {
            if self.seen < H2_PREFACE.len() {
                let new = &buf.filled()[before..];
                let start = self.seen;
                let n = new.len().min(H2_PREFACE.len() - start);
                if new[..n] == H2_PREFACE[start..start + n] {
                    self.seen += n;
                    if self.seen == H2_PREFACE.len() {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "HTTP/2 is not served; use HTTP/1.1",
                        )));
                    }
                } else {
                    self.seen = H2_PREFACE.len();
                }
            }
            if buf.filled().len() > before {
                // One clock reading for both timeouts.
                let now = Instant::now();
                self.idle.touch(now);
                match self.request_started {
                    Some(started) if now.duration_since(started) > self.deadlines.request => {
                        return Poll::Ready(Err(timed_out(
                            "request not received within its deadline",
                        )));
                    }
                    Some(_) => {}
                    None => self.request_started = Some(now),
                }
            }
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        match result {
            Poll::Pending => return self.blocked_write(cx),
            Poll::Ready(Ok(n)) if n > 0 => {
                // The answer is going out: the next bytes read start the next request.
                self.request_started = None;
                self.write_blocked = None;
                self.idle.touch(Instant::now());
            }
            Poll::Ready(_) => self.write_blocked = None,
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.blocked_write(cx),
            ready => {
                self.write_blocked = None;
                ready
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the idle timeout has run out, as a read that waits would ask.
    async fn expired(idle: &mut Idle) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(idle.poll_expired(cx).is_ready())).await
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_timeout_counts_from_the_last_byte_moved() {
        let mut idle = Idle::new(Duration::from_secs(10));
        assert!(!expired(&mut idle).await, "expired at once");
        tokio::time::advance(Duration::from_secs(6)).await;
        idle.touch(Instant::now());
        // The timer set at the start fires here; the activity at 6 s moves it to 16 s.
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!expired(&mut idle).await, "expired 5 s after activity");
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(!expired(&mut idle).await, "expired 9 s after activity");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(
            expired(&mut idle).await,
            "not expired after 10 s of silence"
        );
    }
}
