//! Per-connection timing for the HTTP/1 server: a byte-counting wrapper around the TCP stream
//! and a hyper [`Timer`] that turns hyper's one header-read timer into two bounds. hyper starts
//! that timer whenever it waits for a request head — on a fresh connection and after every
//! response on a kept-alive one — so the sleep it gets from here ends
//! `keep_alive` after it started while no byte of a request has arrived (an idle connection),
//! and `header_read` after the first byte once one has (a slowloris head). Once a connection
//! is upgraded to a WebSocket hyper stops asking: WebSockets are never closed for idleness.
//! Never reads or alters the bytes it counts.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::OwnedSemaphorePermit;

/// A stream that counts the bytes read from it and holds its connection slot for as long as
/// it lives — through an upgrade, so a WebSocket counts against the connection cap too.
pub(crate) struct Counted<S> {
    inner: S,
    read: Arc<AtomicU64>,
    _slot: OwnedSemaphorePermit,
}

impl<S> Counted<S> {
    /// Wraps `inner`; the returned counter is shared with the connection's [`ConnTimer`].
    pub(crate) fn new(inner: S, slot: OwnedSemaphorePermit) -> (Self, Arc<AtomicU64>) {
        let read = Arc::new(AtomicU64::new(0));
        (
            Counted {
                inner,
                read: read.clone(),
                _slot: slot,
            },
            read,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.read.fetch_add(n as u64, Relaxed);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// One connection's timer for hyper (see the module doc).
#[derive(Clone)]
pub(crate) struct ConnTimer {
    read: Arc<AtomicU64>,
    header_read: Duration,
    keep_alive: Duration,
}

impl ConnTimer {
    pub(crate) fn new(read: Arc<AtomicU64>, header_read: Duration, keep_alive: Duration) -> Self {
        ConnTimer {
            read,
            header_read,
            keep_alive,
        }
    }
}

impl Timer for ConnTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(HeadSleep::plain(duration))
    }

    fn sleep_until(&self, _deadline: Instant) -> Pin<Box<dyn Sleep>> {
        // hyper asks only for the header-read timer here; its deadline is replaced by ours.
        let now = tokio::time::Instant::now();
        Box::pin(HeadSleep {
            read: Some((self.read.clone(), self.read.load(Relaxed))),
            header_read: self.header_read,
            got_bytes: false,
            sleep: Box::pin(tokio::time::sleep_until(now + self.keep_alive)),
        })
    }
}

/// Ends `keep_alive` after it started while no byte arrived, else `header_read` after the
/// first one.
struct HeadSleep {
    /// The connection's byte counter and its value when the wait began (`None`: plain sleep).
    read: Option<(Arc<AtomicU64>, u64)>,
    header_read: Duration,
    got_bytes: bool,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl HeadSleep {
    fn plain(d: Duration) -> Self {
        HeadSleep {
            read: None,
            header_read: d,
            got_bytes: true,
            sleep: Box::pin(tokio::time::sleep(d)),
        }
    }
}

impl Future for HeadSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // hyper polls this after every read that left the head incomplete, so the first
        // byte is seen here at (about) the time it arrived.
        if !self.got_bytes {
            if let Some((read, at_start)) = &self.read {
                if read.load(Relaxed) != *at_start {
                    let deadline = tokio::time::Instant::now() + self.header_read;
                    self.got_bytes = true;
                    self.sleep.as_mut().reset(deadline);
                }
            }
        }
        self.sleep.as_mut().poll(cx)
    }
}

impl Sleep for HeadSleep {}
