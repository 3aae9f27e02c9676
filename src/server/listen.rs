//! Listening sockets: binding what the user typed, and what each one accepts.
//!
//! `:PORT` (or a bare port) is one dual-stack socket on `[::]` that takes IPv4 too, or
//! `0.0.0.0` on a host without IPv6. A host name may give several addresses (`localhost`:
//! 127.0.0.1 and ::1): all are bound, on the same port. Each bound socket becomes a
//! [`Listener`] with the [`Entrance`] its connections go through (plain TCP here; TLS and
//! the web next), and runs its own [accept loop](super::accept).

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use smol::{Async, Executor, Task};
use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::{self, ListenAddr};
use crate::error::Error;
use crate::member::Entrance;
use crate::member::tcp::TcpEntrance;
use crate::room::Room;
use crate::server::accept;

/// The listen backlog: connections the kernel may hold for us before we accept them.
const BACKLOG: i32 = 1024;

/// Starts a listener's accept loop in a room: a task that runs until dropped.
type Start = Box<dyn FnOnce(Arc<Room>, Arc<Executor<'static>>) -> Task<()> + Send>;

/// A bound socket, and what its connections become.
pub struct Listener {
    /// Where it listens.
    addr: SocketAddr,
    start: Start,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Listener {
    /// A listener whose connections become members through `entrance`.
    pub fn new<E: Entrance>(socket: TcpListener, entrance: E) -> io::Result<Listener> {
        let addr = socket.local_addr()?;
        let socket = Async::new(socket)?;
        let entrance = Arc::new(entrance);
        let start: Start = Box::new(move |room, ex| {
            let accepting = accept::accept_loop(socket, entrance, room, Arc::clone(&ex));
            ex.spawn(accepting)
        });
        Ok(Listener { addr, start })
    }

    /// A listener for plain TCP members (nc, telnet, `gochat connect`, the Go client).
    pub fn tcp(socket: TcpListener) -> io::Result<Listener> {
        Listener::new(socket, TcpEntrance)
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts accepting into `room`; stops when the task is dropped.
    pub fn start(self, room: Arc<Room>, ex: Arc<Executor<'static>>) -> Task<()> {
        (self.start)(room, ex)
    }
}

/// Binds every address `typed` names.
pub fn bind(typed: &str) -> Result<Vec<TcpListener>, Error> {
    let spec = ListenAddr::parse(typed)?;
    let wanted = spec.resolve(typed)?;
    let fail = |source| Error::Listen {
        addr: typed.to_string(),
        source,
    };
    let mut listeners: Vec<TcpListener> = Vec::new();
    for (i, mut addr) in wanted.into_iter().enumerate() {
        if let Some(first) = listeners.first() {
            addr.set_port(first.local_addr().map_err(fail)?.port());
        }
        match bind_one(addr) {
            Ok(listener) => listeners.push(listener),
            Err(e) if i == 0 && no_ipv6(&e) && matches!(spec, ListenAddr::AllInterfaces(_)) => {
                listeners.push(bind_one(addr::ipv4_fallback(addr)).map_err(fail)?);
            }
            // One of several addresses this host cannot use (say ::1 without IPv6).
            Err(e) if i > 0 && no_ipv6(&e) => {}
            Err(e) => return Err(fail(e)),
        }
    }
    Ok(listeners)
}

/// Whether a bind failed because the host has no IPv6.
fn no_ipv6(e: &io::Error) -> bool {
    use rustix::io::Errno;
    e.kind() == io::ErrorKind::AddrNotAvailable
        || matches!(
            Errno::from_io_error(e),
            Some(Errno::AFNOSUPPORT | Errno::PROTONOSUPPORT)
        )
}

/// Binds and listens on one address. The unspecified IPv6 address takes IPv4 as well.
fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As Go does: a restarted server can bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    if let SocketAddr::V6(v6) = addr {
        socket.set_only_v6(!v6.ip().is_unspecified())?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
