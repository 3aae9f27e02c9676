//! How a member reaches the server: the one place that knows what kind of connection a
//! member has. Plain TCP today; members over TLS and WebSocket (issues 13 and 15) become
//! variants of [`Dial`] and [`Conn`] here, each a non-blocking connection the epoll loop
//! watches by its descriptor and reads and writes as bytes of lines, so nothing else in the
//! generator changes.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::io::Errno;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// The kind of connection a member makes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dial {
    /// A plain TCP connection, `TCP_NODELAY` (as nc would, and as a chat user wants).
    Tcp,
}

/// One member's connection: non-blocking, registered with the epoll loop by [`Conn::fd`].
pub struct Conn {
    sock: Socket,
}

impl Dial {
    /// Starts a non-blocking connect to `addr`; the connection is usable once it is
    /// readable or writable. Errors say which step failed.
    pub fn start(self, addr: SocketAddr) -> Result<Conn, String> {
        match self {
            Dial::Tcp => tcp(addr).map(|sock| Conn { sock }),
        }
    }
}

fn tcp(addr: SocketAddr) -> Result<Socket, String> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("socket: {e}"))?;
    sock.set_nonblocking(true)
        .map_err(|e| format!("set_nonblocking: {e}"))?;
    sock.set_tcp_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(sock),
        Err(e) if e.raw_os_error() == Some(Errno::INPROGRESS.raw_os_error()) => Ok(sock),
        Err(e) => Err(format!("connect to {addr}: {e}")),
    }
}

impl Conn {
    /// What the epoll loop watches.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Reads what the server sent so far (`WouldBlock` if nothing; `Ok(0)` at its end).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.sock).read(buf)
    }

    /// Writes as much of `buf` as the connection takes now (`WouldBlock` if nothing).
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        (&self.sock).write(buf)
    }
}
