//! Connection guards against slow and greedy clients: a cap on open connections, and a
//! deadline for each request to arrive once its first byte has.
//!
//! poem has an idle timeout (no byte at all for a while) but no header or body deadline, so
//! a client trickling one byte at a time (slowloris) would hold a connection forever. Here a
//! request that is still arriving when its deadline passes loses its connection; a client
//! that stops sending altogether is closed by the idle timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use poem::http::uri::Scheme;
use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct GuardedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    request_deadline: Duration,
}

impl<A> GuardedAcceptor<A> {
    /// At most `max_connections` open at once (more wait in the listen backlog); each
    /// request must arrive within `request_deadline` of its first byte.
    pub fn new(inner: A, max_connections: usize, request_deadline: Duration) -> Self {
        Self {
            inner,
            permits: Arc::new(Semaphore::new(max_connections.max(1))),
            request_deadline,
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
            deadline: self.request_deadline,
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
    deadline: Duration,
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            if buf.filled().len() > before {
                match self.request_started {
                    Some(started) if started.elapsed() > self.deadline => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "request not received within its deadline",
                        )));
                    }
                    Some(_) => {}
                    None => self.request_started = Some(Instant::now()),
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
        if let Poll::Ready(Ok(n)) = result {
            if n > 0 {
                // The answer is going out: the next bytes read start the next request.
                self.request_started = None;
            }
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
