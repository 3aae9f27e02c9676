//! Plain TCP, the transport the Go chat server speaks, and the model for every other: the
//! member's bytes are the socket's, with no copy, no buffer and no lock in between.
//!
//! Also the socket options every member connection gets, whatever transport runs over it.

use std::future::{Future, ready};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::task::{Context, Poll};
use std::time::Duration;

use smol::Async;

use crate::member::transport::{Entrance, Transport};

/// The kernel send buffer we ask for on member sockets. Linux grows it to 4 MiB on its own,
/// which would let a stuck member soak up 4 MiB of the room's lines before the room even
/// noticed; capped, `--sendq` and `--lag-limit` are what bound a member, as documented.
/// (Linux doubles the value asked for, for its own bookkeeping.)
pub const MEMBER_SNDBUF: usize = 128 * 1024;

/// TCP keepalive on member sockets: a peer that vanished (cable pulled, laptop closed) is
/// found out after about `KEEPALIVE_IDLE + KEEPALIVE_INTERVAL * KEEPALIVE_PROBES`.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 6;

/// A member connected over plain TCP.
#[derive(Debug)]
pub struct Tcp(Async<TcpStream>);

impl Tcp {
    /// The transport over an accepted, non-blocking socket.
    pub fn new(stream: Async<TcpStream>) -> Tcp {
        Tcp(stream)
    }
}

impl Transport for Tcp {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            // An error shows up again on the read itself, which decides what it means.
            if self.0.poll_readable(cx).is_pending() {
                return Poll::Pending;
            }
            match (&mut self.0.get_ref()).read(buf) {
                Err(e) if retry(&e) => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_write(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        loop {
            let written = if bufs.len() == 1 {
                (&mut self.0.get_ref()).write(&bufs[0])
            } else {
                (&mut self.0.get_ref()).write_vectored(bufs)
            };
            match written {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Poll::Ready(Err(e)) = self.0.poll_writable(cx) {
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Pending;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_writable(cx)
    }

    fn poll_flush(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close_write(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.get_ref().shutdown(Shutdown::Write))
    }

    fn write_now(&self, line: &[u8]) {
        let _ = (&mut self.0.get_ref()).write(line);
    }

    fn close(&self) {
        let _ = self.0.get_ref().shutdown(Shutdown::Both);
    }
}

/// Whether a read failed only for now: try again.
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The plain TCP entrance: every accepted connection is a member at once.
#[derive(Debug, Default)]
pub struct TcpEntrance;

impl Entrance for TcpEntrance {
    type Transport = Tcp;

    fn open(
        &self,
        stream: Async<TcpStream>,
        _peer: SocketAddr,
    ) -> impl Future<Output = Option<Tcp>> + Send {
        ready(Some(Tcp::new(stream)))
    }
}

/// Sets the socket options a member connection wants: no Nagle delay (chat is latency), a
/// capped send buffer (see [`MEMBER_SNDBUF`]) and keepalive (dead peers leave).
pub fn tune_socket(stream: &TcpStream) -> io::Result<()> {
    let socket = socket2::SockRef::from(stream);
    socket.set_tcp_nodelay(true)?;
    socket.set_send_buffer_size(MEMBER_SNDBUF)?;
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_PROBES);
    socket.set_tcp_keepalive(&keepalive)?;
    Ok(())
}
