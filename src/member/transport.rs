//! The seam between a member's tasks and the bytes on the wire.
//!
//! A member's [reader](super::reader) and [writer](super::writer) do not know what carries
//! their bytes: plain TCP ([`super::tcp`]), TLS, a WebSocket. They work through a
//! [`Transport`], shared by both tasks (`&self` everywhere: the reader and the writer run at
//! the same time, on any thread). Everything the room promises (its order, the outbox and
//! the lag limit, `--sendq`, `--max-line`, sanitizing) is kept above this seam, so it holds
//! for every transport alike. A connection becomes a transport through an [`Entrance`]: the
//! accept loop takes a connection, and the entrance of its listener turns it into a member's
//! transport (or into nothing, for a connection that is not to be a member).
//!
//! Adding a transport is one file: a type that implements [`Transport`] and an [`Entrance`]
//! for it, plus a listener that uses the entrance.
//!
//! # The contract
//!
//! **Reading.** [`Transport::poll_read`] gives the member's input as a byte stream in which
//! `\n` ends a line, exactly as the [codec](crate::codec) is to frame it: plain TCP gives
//! the socket's bytes; a message-based transport gives each text message followed by `\n`.
//! `Ready(Ok(0))` is the end of input, `Ready(Err(_))` a broken connection (the member
//! leaves either way), `Pending` means nothing to read yet and that `cx` will be woken
//! when there is. It is called with a buffer of [`READ_CHUNK`](super::reader::READ_CHUNK)
//! bytes, borrowed for the call only: a transport keeps no read buffer of its own for an
//! idle member if it can help it (an idle member's memory is the room's biggest cost).
//!
//! **Writing.** [`Transport::poll_write`] is offered the room's wire bytes, whole lines in
//! order, gathered in slices (the last line offered may be cut short by the writer's chunk
//! size). It takes as many bytes as it can now and says how many (it may take fewer than
//! offered, for instance only whole lines; the rest is offered again, at the front of the
//! next call), or returns `Pending` and wakes `cx` when it can take more. A byte counts as
//! delivered once taken: what a transport holds back after taking it must be bounded (a
//! few records or frames), flushed by [`Transport::poll_flush`], and never let a member
//! escape the lag limit. [`Transport::poll_write_ready`] waits for the transport to take
//! more without offering anything: a writer that found the transport full waits on it,
//! not on the room.
//!
//! **Ending.** [`Transport::poll_close_write`] ends our sending side after all taken bytes
//! are out (TCP: FIN; TLS: close_notify then FIN; WebSocket: a Close frame), so the member
//! reads to the end and nothing is lost. [`Transport::write_now`] writes a last line on the
//! way out (the too-slow notice) only if it fits at once: it never waits. [`Transport::close`]
//! closes both directions for good; the member's reader then still reads what the member
//! sent before (a broken connection's last lines are not lost), then sees the end.
//!
//! **Costs.** The plain-TCP transport is the model: no copy, no buffer, no lock, one system
//! call per read and one `writev` per write. A transport is shared through an `Arc` by the
//! member's two tasks, and its size counts toward every idle member's memory.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::task::{Context, Poll};

use smol::Async;

/// What a member's reader and writer need from whatever carries their bytes. See the
/// module docs for the contract.
pub trait Transport: Send + Sync + 'static {
    /// Reads the member's input into `buf`: `Ok(0)` at its end.
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Takes as many of the room's bytes in `bufs` as it can now; says how many.
    fn poll_write(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>>;

    /// Ready when [`poll_write`](Self::poll_write) can take more (or would fail).
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Sends on what was taken and held back, if anything was.
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Ends our sending side once everything taken is out.
    fn poll_close_write(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Writes `line` now if it fits at once, without waiting; best effort.
    fn write_now(&self, line: &[u8]);

    /// Closes the connection both ways, for good.
    fn close(&self);
}

/// How an accepted connection becomes a member's [`Transport`]: at once (plain TCP), after
/// a handshake (TLS), or after an HTTP upgrade (WebSocket).
pub trait Entrance: Send + Sync + 'static {
    /// The transport this entrance gives.
    type Transport: Transport;

    /// Turns a connection from `peer` into a member's transport; `None` when it is not to
    /// be a member (a failed handshake, an HTTP request for a page). Whatever this waits for
    /// must be bounded in time: the connection holds a place in the room meanwhile.
    fn open(
        &self,
        stream: Async<std::net::TcpStream>,
        peer: SocketAddr,
    ) -> impl Future<Output = Option<Self::Transport>> + Send;
}
