//! The accept loop: every listener's, whatever its transport.
//!
//! It takes a place in the room for each connection (or turns it away when the room is
//! full), tunes the socket, and hands it to its listener's [`Entrance`] on a task of its
//! own, so a slow handshake never holds up the next connection. It never spins and never
//! floods the log: when the process runs out of descriptors it logs once, turns the waiting
//! connections away with a spare descriptor, and pauses until a connection closes; once a
//! second has passed without an error since things got better, it says so, with a count.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use rustix::io::Errno;
use smol::{Async, Executor, Timer};

use crate::error::describe;
use crate::member::{self, Entrance, tcp};
use crate::room::{Room, Slot};

/// How long the accept loop pauses after an error such as running out of descriptors,
/// unless a connection closes sooner. Short enough that newcomers barely notice, long
/// enough that a full process does not spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What `gochat: room is full` is sent as.
const ROOM_FULL: &[u8] = b"gochat: room is full\n";

/// How long accepting must go without an error before a run of trouble counts as over:
/// at the descriptor ceiling every freed descriptor lets one connection in before the next
/// error, and that is one episode, not a pair of log lines per connection.
pub const QUIET: Duration = Duration::from_secs(1);

/// Accepts connections until cancelled.
pub async fn accept_loop<E: Entrance>(
    listener: Async<TcpListener>,
    entrance: Arc<E>,
    room: Arc<Room>,
    ex: Arc<Executor<'static>>,
) {
    let mut spare = Spare::open();
    let mut trouble: Option<Trouble> = None;
    loop {
        match next_event(&listener, &room, trouble.as_ref()).await {
            Event::Accepted(Ok((stream, peer))) => {
                if let Some(episode) = trouble.as_mut() {
                    episode.recovered = true;
                }
                admit(stream, peer, &entrance, &room, &ex);
            }
            Event::Accepted(Err(e)) if one_connection_failed(&e) => {}
            Event::Accepted(Err(e)) => {
                let episode = trouble.get_or_insert_with(|| Trouble::start(&e));
                episode.failed();
                if out_of_descriptors(&e) && spare.turn_away(listener.get_ref()) {
                    episode.turned_away += 1;
                }
                // Wait for a connection to close (or a moment) before trying again.
                let closed = room.closed.listen();
                let freed = async {
                    closed.await;
                    true
                };
                let backoff = async {
                    Timer::after(ACCEPT_BACKOFF).await;
                    false
                };
                episode.recovered = freed.or(backoff).await;
            }
            Event::Freed => {
                if let Some(episode) = trouble.as_mut() {
                    episode.recovered = true;
                }
            }
            Event::Quiet => {
                if let Some(episode) = trouble.take() {
                    episode.log_end();
                }
            }
        }
    }
}

/// What the accept loop waits for.
enum Event {
    /// A connection, or an error accepting one.
    Accepted(io::Result<(Async<TcpStream>, SocketAddr)>),
    /// In trouble: a connection closed, so a descriptor is free again.
    Freed,
    /// In trouble: things have gone well for [`QUIET`]; the episode is over.
    Quiet,
}

/// Waits for the next connection, or, during a run of trouble, for it to clear.
async fn next_event(
    listener: &Async<TcpListener>,
    room: &Room,
    trouble: Option<&Trouble>,
) -> Event {
    let accepted = async { Event::Accepted(listener.accept().await) };
    let Some(episode) = trouble else {
        return accepted.await;
    };
    if episode.recovered {
        let quiet = async {
            Timer::at(episode.last_error + QUIET).await;
            Event::Quiet
        };
        return accepted.or(quiet).await;
    }
    let freed = async {
        room.closed.listen().await;
        Event::Freed
    };
    accepted.or(freed).await
}

/// A run of accept errors (say, out of descriptors): logged once when it starts, and once
/// with a count when it is over: accepting has worked, or a descriptor was freed, and no
/// error came for [`QUIET`].
struct Trouble {
    /// Connections told the room is full meanwhile.
    turned_away: usize,
    /// When accepting last failed.
    last_error: Instant,
    /// Whether things got better since then.
    recovered: bool,
}

impl Trouble {
    fn start(e: &io::Error) -> Trouble {
        eprintln!(
            "gochat: cannot accept: {}; new members wait until a connection closes",
            describe(e)
        );
        Trouble {
            turned_away: 0,
            last_error: Instant::now(),
            recovered: false,
        }
    }

    fn failed(&mut self) {
        self.last_error = Instant::now();
        self.recovered = false;
    }

    fn log_end(&self) {
        eprintln!(
            "gochat: accepting again ({} turned away meanwhile)",
            self.turned_away
        );
    }
}

/// Lets a new connection in, if the room has a place for it: its entrance makes it a
/// member, on a task of its own.
fn admit<E: Entrance>(
    stream: Async<TcpStream>,
    peer: SocketAddr,
    entrance: &Arc<E>,
    room: &Arc<Room>,
    ex: &Arc<Executor<'static>>,
) {
    let Some(slot) = Slot::take(room) else {
        turn_away(stream.get_ref());
        return;
    };
    // A socket we cannot tune still works; the options only make it better.
    let _ = tcp::tune_socket(stream.get_ref());
    let (entrance, tasks) = (Arc::clone(entrance), Arc::clone(ex));
    ex.spawn(async move {
        if let Some(transport) = entrance.open(stream, peer).await {
            member::run(transport, peer, slot, tasks).await;
        }
    })
    .detach();
}

/// Tells a connection the room is full, and closes it.
fn turn_away(stream: &TcpStream) {
    let _ = (&mut &*stream).write(ROOM_FULL);
    let _ = stream.shutdown(Shutdown::Write);
}

/// Errors that concern one connection only (it was gone before we took it): just go on.
fn one_connection_failed(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
        || matches!(
            Errno::from_io_error(e),
            Some(Errno::CONNABORTED | Errno::PROTO | Errno::PERM | Errno::INTR)
        )
}

/// Errors that mean the process (or system) has no descriptor for a new connection.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(Errno::from_io_error(e), Some(Errno::MFILE | Errno::NFILE))
}

/// A descriptor held in reserve, so that when the process runs out we can still accept a
/// waiting connection to tell it the room is full, instead of leaving it hanging.
struct Spare(Option<std::fs::File>);

impl Spare {
    fn open() -> Spare {
        Spare(std::fs::File::open("/dev/null").ok())
    }

    /// Frees the spare, turns one waiting connection away with it, and takes it back.
    fn turn_away(&mut self, listener: &TcpListener) -> bool {
        if self.0.take().is_none() {
            *self = Spare::open();
            return false;
        }
        let turned = match listener.accept() {
            Ok((stream, _)) => {
                turn_away(&stream);
                true
            }
            Err(_) => false,
        };
        *self = Spare::open();
        turned
    }
}
