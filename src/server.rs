//! `gochat serve`: the process around a room.
//!
//! This module binds the listening sockets, raises the open file limit, runs the executor
//! threads, accepts connections (turning away those over `--max-clients`, and backing off
//! calmly when the process runs out of descriptors), and shuts the room down cleanly on
//! SIGINT or SIGTERM. What happens inside the room is [`crate::room`] and
//! [`crate::member`].

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use async_signal::{Signal, Signals};
use futures_lite::{FutureExt, StreamExt, future};
use smol::{Async, Executor, Timer};
use socket2::{Domain, Protocol, Socket, Type};

use crate::addr::{self, ListenAddr};
use crate::chat;
use crate::cli::{DEFAULT_MAX_CLIENTS, MAX_HISTORY, ServeArgs};
use crate::codec::{MAX_MAX_LINE, MIN_MAX_LINE};
use crate::error::{Error, describe};
use crate::member::{self, Slot};
use crate::room::{self, Config, Msg, Room};

/// Descriptors kept free for everything that is not a member: stdio, the listeners, the
/// poller, the signal pipe, executor threads, the spare descriptor. `--max-clients` is
/// capped at the open file limit minus this.
pub const FD_MARGIN: usize = 32;

/// How long the accept loop pauses after an error such as running out of descriptors,
/// unless a connection closes sooner. Short enough that newcomers barely notice, long
/// enough that a full process does not spin.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long shutdown waits for members' writers to deliver what they are owed.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// The listen backlog: connections the kernel may hold for us before we accept them.
const BACKLOG: i32 = 1024;

/// What `gochat: room is full` is sent as.
const ROOM_FULL: &[u8] = b"gochat: room is full\n";

/// Runs `gochat serve` until a signal ends it.
pub fn serve(args: &ServeArgs) -> Result<(), Error> {
    let (config, lowered) = config_from(args)?;
    let listeners = bind(&args.addr)?;
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let signals = Signals::new([Signal::Int, Signal::Term])
        .map_err(|e| Error::io("cannot handle signals", e))?;
    let listeners = listeners
        .into_iter()
        .map(Async::new)
        .collect::<io::Result<Vec<_>>>()
        .map_err(|e| Error::io("cannot watch the listening socket", e))?;

    let threads = args.threads.clamp(1, 256);
    let ex = Arc::new(Executor::new());
    // Redis, if any, before the start line: a room that cannot join its cluster never opens.
    let relay = smol::block_on(ex.run(join_cluster(args, &ex)))?;
    eprintln!("gochat: listening on {}", addr::list(&addrs));
    // After the start line, which scripts read first.
    if let Some(notice) = lowered {
        eprintln!("gochat: {notice}");
    }
    for n in 1..threads {
        let ex = Arc::clone(&ex);
        std::thread::Builder::new()
            .name(format!("gochat-{n}"))
            .spawn(move || smol::block_on(ex.run(future::pending::<()>())))
            .map_err(|e| Error::io("cannot start a worker thread", e))?;
    }

    let (room, broadcaster) = Room::new(config, relay);
    ex.spawn(broadcaster.run()).detach();
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|l| ex.spawn(accept_loop(l, Arc::clone(&room), Arc::clone(&ex))))
        .collect();
    smol::block_on(ex.run(run_until_signal(room, accepting, signals)))
}

/// Joins the Redis room `--redis` names, if it names one.
#[cfg(feature = "redis")]
async fn join_cluster(
    args: &ServeArgs,
    ex: &Arc<Executor<'static>>,
) -> Result<Option<crate::relay::Relay>, Error> {
    let Some(url) = &args.redis else {
        return Ok(None);
    };
    let settings = crate::cluster::Settings {
        url: url.clone(),
        room: args.room.clone(),
    };
    crate::cluster::join(&settings, args.history, ex)
        .await
        .map(Some)
}

/// Without the `redis` feature there is no cluster to join.
#[cfg(not(feature = "redis"))]
async fn join_cluster(
    args: &ServeArgs,
    _ex: &Arc<Executor<'static>>,
) -> Result<Option<crate::relay::Relay>, Error> {
    match args.redis {
        None => Ok(None),
        Some(_) => Err(Error::Usage(
            "--redis: this gochat was built without Redis support (the \"redis\" feature)".into(),
        )),
    }
}

/// Turns the command line into the room's settings, checking what argh cannot; also says
/// when `--max-clients` had to be lowered to fit the open file limit.
fn config_from(args: &ServeArgs) -> Result<(Config, Option<String>), Error> {
    if !(MIN_MAX_LINE..=MAX_MAX_LINE).contains(&args.max_line) {
        return Err(Error::Usage(format!(
            "--max-line must be between {MIN_MAX_LINE} and {MAX_MAX_LINE} bytes"
        )));
    }
    if args.sendq < args.max_line {
        return Err(Error::Usage(
            "--sendq must be at least --max-line: one whole line has to fit".into(),
        ));
    }
    if args.lag_limit.is_zero() {
        return Err(Error::Usage("--lag-limit must be more than 0s".into()));
    }
    if args.threads == 0 {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    if args.history > MAX_HISTORY {
        return Err(Error::Usage(format!(
            "--history must be at most {MAX_HISTORY} lines"
        )));
    }
    if !chat::follows_name_rule(&args.room) {
        return Err(Error::Usage(format!(
            "--room: invalid room name {:?}: room {}",
            args.room,
            chat::NAME_RULE
        )));
    }
    if args.idle_timeout.is_some_and(|d| d.is_zero()) {
        return Err(Error::Usage("--idle-timeout must be more than 0s".into()));
    }
    let open_files = raise_open_file_limit();
    let ceiling = open_files.saturating_sub(FD_MARGIN).max(1);
    let mut lowered = None;
    let max_clients = match args.max_clients {
        Some(0) => return Err(Error::Usage("--max-clients must be at least 1".into())),
        Some(n) if n > ceiling => {
            lowered = Some(format!(
                "--max-clients lowered to {ceiling}: the open file limit is {open_files}"
            ));
            ceiling
        }
        Some(n) => n,
        None => DEFAULT_MAX_CLIENTS.min(ceiling),
    };
    let config = Config {
        max_line: args.max_line,
        sendq: args.sendq,
        lag_limit: args.lag_limit,
        max_clients,
        idle_timeout: args.idle_timeout,
        history: args.history,
        verbose: args.verbose,
    };
    Ok((config, lowered))
}

/// Raises the soft open file limit to the hard limit (each member is a descriptor) and
/// returns the limit now in force.
fn raise_open_file_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

/// Binds every address `typed` names. `:PORT` (or a bare port) is one dual-stack socket on
/// `[::]` that takes IPv4 too, or `0.0.0.0` on a host without IPv6. A host name may give
/// several addresses (`localhost`: 127.0.0.1 and ::1): all are bound, on the same port.
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
    e.kind() == io::ErrorKind::AddrNotAvailable
        || e.raw_os_error() == Some(libc::EAFNOSUPPORT)
        || e.raw_os_error() == Some(libc::EPROTONOSUPPORT)
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

/// Accepts connections until cancelled. Errors never make it spin or flood the log: it
/// logs once per run of trouble, pauses until a connection closes (or briefly), and tries
/// again.
async fn accept_loop(listener: Async<TcpListener>, room: Arc<Room>, ex: Arc<Executor<'static>>) {
    let mut spare = Spare::open();
    let mut trouble: Option<usize> = None; // how many were turned away during it
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if let Some(turned_away) = trouble.take() {
                    eprintln!("gochat: accepting again ({turned_away} turned away meanwhile)");
                }
                admit(stream, peer, &room, &ex);
            }
            Err(e) if one_connection_failed(&e) => continue,
            Err(e) => {
                let turned_away = trouble.get_or_insert_with(|| {
                    eprintln!(
                        "gochat: cannot accept: {}; new members wait until a connection closes",
                        describe(&e)
                    );
                    0
                });
                if out_of_descriptors(&e) && spare.turn_away(listener.get_ref()) {
                    *turned_away += 1;
                }
                let closed = room.closed.listen();
                closed
                    .or(async {
                        Timer::after(ACCEPT_BACKOFF).await;
                    })
                    .await;
            }
        }
    }
}

/// Lets a new connection in, if the room has a place for it.
fn admit(
    stream: Async<TcpStream>,
    peer: SocketAddr,
    room: &Arc<Room>,
    ex: &Arc<Executor<'static>>,
) {
    let Some(slot) = Slot::take(room) else {
        turn_away(stream.get_ref());
        return;
    };
    // A socket we cannot tune still works; the options only make it better.
    let _ = member::tune_socket(stream.get_ref());
    let member = member::run(Arc::clone(room), stream, peer, slot, Arc::clone(ex));
    ex.spawn(member).detach();
}

/// Tells a connection the room is full, and closes it.
fn turn_away(stream: &TcpStream) {
    let _ = (&mut &*stream).write(ROOM_FULL);
    let _ = stream.shutdown(Shutdown::Write);
}

/// Errors that concern one connection only (it was gone before we took it): just go on.
fn one_connection_failed(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED | libc::EPROTO | libc::EPERM | libc::EINTR)
    ) || e.kind() == io::ErrorKind::WouldBlock
}

/// Errors that mean the process (or system) has no descriptor for a new connection.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
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

/// Waits for SIGINT or SIGTERM, then shuts the room down: no new members, everyone told,
/// at most [`SHUTDOWN_FLUSH`] for their writers to finish. A second signal ends the
/// process at once.
async fn run_until_signal<T>(
    room: Arc<Room>,
    accepting: Vec<smol::Task<T>>,
    mut signals: Signals,
) -> Result<(), Error> {
    let first = signals.next().await;
    drop(accepting);
    eprintln!(
        "gochat: {}, shutting down",
        match first {
            Some(Ok(Signal::Int)) => "interrupted",
            _ => "terminated",
        }
    );
    let shut_down = async {
        let (done, finished) = async_channel::bounded::<()>(1);
        if room.send(Msg::Shutdown { done }).await {
            let _ = finished.recv().await;
        }
        room::wait_until_empty(&room, SHUTDOWN_FLUSH).await;
    };
    let second = async {
        let signal = signals.next().await;
        eprintln!("gochat: second signal, exiting now");
        let code = match signal {
            Some(Ok(Signal::Int)) => 130,
            _ => 143,
        };
        std::process::exit(code);
    };
    // The flush limit counts from the first signal, whatever the broadcaster was doing.
    let deadline = async {
        Timer::after(SHUTDOWN_FLUSH + Duration::from_millis(200)).await;
    };
    shut_down.or(deadline).or(second).await;
    Ok(())
}
