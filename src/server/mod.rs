//! `gochat serve`: the process around a room.
//!
//! [`serve`] turns the command line into a room's settings, binds the listening sockets,
//! raises the open file limit, joins the cluster if asked, starts the executor threads and
//! hands over to [`run`], which runs a whole server on listeners it is given until a
//! shutdown future resolves. Tests call [`run`] in-process, on sockets they bound
//! themselves, as tokio's mini-redis does.
//!
//! The parts: [`listen`] (binding, and what each listener accepts), [`accept`] (the accept
//! loop), [`limits`] (the open file limit), [`signals`] (SIGINT and SIGTERM). What happens
//! inside the room is [`crate::room`] and [`crate::member`].

pub mod accept;
pub mod limits;
pub mod listen;
pub mod signals;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{FutureExt, future};
use smol::{Executor, Timer};

pub use listen::{Listener, bind};

use crate::addr;
use crate::chat;
use crate::cli::{DEFAULT_MAX_CLIENTS, MAX_HISTORY, MAX_HISTORY_BYTES, ServeArgs};
use crate::codec::{MAX_MAX_LINE, MIN_MAX_LINE};
use crate::error::Error;
use crate::relay::Relay;
use crate::room::{self, Config, Msg, Room};
use crate::units::format_bytes;

/// How long shutdown waits for members' writers to deliver what they are owed.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// Runs `gochat serve` until a signal ends it.
pub fn serve(args: &ServeArgs) -> Result<(), Error> {
    let (config, lowered) = config_from(args)?;
    let sockets = bind(&args.addr)?;
    let listeners = sockets
        .into_iter()
        .map(Listener::tcp)
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::io("cannot watch the listening socket", e))?;
    let addrs: Vec<SocketAddr> = listeners.iter().map(Listener::local_addr).collect();
    let ex = Arc::new(Executor::new());
    let stop = signals::watch(&ex)?;
    // Redis, if any, before the start line: a room that cannot join its cluster never opens.
    let relay = smol::block_on(ex.run(join_cluster(args, &ex)))?;
    eprintln!("gochat: listening on {}", addr::list(&addrs));
    // After the start line, which scripts read first.
    if let Some(notice) = lowered {
        eprintln!("gochat: {notice}");
    }
    start_threads(&ex, args.threads)?;
    let server = run(Arc::clone(&ex), listeners, config, relay, stop);
    smol::block_on(ex.run(server))
}

/// Runs a whole server: a room with `config` (in a cluster if given a `relay`), its members
/// accepted on `listeners`, until `shutdown` resolves. Then it takes no one new, tells
/// everyone, and gives their writers at most [`SHUTDOWN_FLUSH`] to deliver what they are
/// owed. The tasks run on `ex`, which the caller must be running.
pub async fn run(
    ex: Arc<Executor<'static>>,
    listeners: Vec<Listener>,
    config: Config,
    relay: Option<Relay>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    let (room, broadcaster) = Room::new(config, relay);
    ex.spawn(broadcaster.run()).detach();
    let accepting: Vec<_> = listeners
        .into_iter()
        .map(|l| l.start(Arc::clone(&room), Arc::clone(&ex)))
        .collect();
    shutdown.await;
    drop(accepting);
    // The flush limit counts from the shutdown, whatever the broadcaster was doing.
    let deadline = async {
        Timer::after(SHUTDOWN_FLUSH + Duration::from_millis(200)).await;
    };
    close(&room).or(deadline).await;
    Ok(())
}

/// Closes the room: everyone is told, and their writers finish (or the flush limit passes).
async fn close(room: &Room) {
    let (done, finished) = async_channel::bounded::<()>(1);
    if room.send(Msg::Shutdown { done }).await {
        let _ = finished.recv().await;
    }
    room::wait_until_empty(room, SHUTDOWN_FLUSH).await;
}

/// Starts `threads - 1` more threads running `ex` (the caller's is the first).
fn start_threads(ex: &Arc<Executor<'static>>, threads: usize) -> Result<(), Error> {
    for n in 1..threads {
        let ex = Arc::clone(ex);
        std::thread::Builder::new()
            .name(format!("gochat-{n}"))
            .spawn(move || smol::block_on(ex.run(future::pending::<()>())))
            .map_err(|e| Error::io("cannot start a worker thread", e))?;
    }
    Ok(())
}

/// Joins the Redis room `--redis` names, if it names one.
#[cfg(feature = "redis")]
async fn join_cluster(
    args: &ServeArgs,
    ex: &Arc<Executor<'static>>,
) -> Result<Option<Relay>, Error> {
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
) -> Result<Option<Relay>, Error> {
    match args.redis {
        None => Ok(None),
        Some(_) => Err(Error::Usage(
            "--redis: this gochat was built without Redis support (the \"redis\" feature)".into(),
        )),
    }
}

/// Turns the command line into the room's settings, checking what argh cannot; also says
/// when `--max-clients` had to be lowered to fit the open file limit.
pub fn config_from(args: &ServeArgs) -> Result<(Config, Option<String>), Error> {
    check(args)?;
    let open_files = limits::raise_open_file_limit();
    let ceiling = limits::member_ceiling(open_files);
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
        history_bytes: args.history_bytes,
        verbose: args.verbose,
    };
    Ok((config, lowered))
}

/// Checks the options that depend on each other, or on limits argh does not know.
fn check(args: &ServeArgs) -> Result<(), Error> {
    let usage = |message: String| Err(Error::Usage(message));
    if !(MIN_MAX_LINE..=MAX_MAX_LINE).contains(&args.max_line) {
        return usage(format!(
            "--max-line must be between {MIN_MAX_LINE} and {MAX_MAX_LINE} bytes"
        ));
    }
    if args.sendq < args.max_line {
        return usage("--sendq must be at least --max-line: one whole line has to fit".into());
    }
    if args.lag_limit.is_zero() {
        return usage("--lag-limit must be more than 0s".into());
    }
    if args.history > MAX_HISTORY {
        return usage(format!("--history must be at most {MAX_HISTORY} lines"));
    }
    if args.history_bytes > MAX_HISTORY_BYTES {
        return usage(format!(
            "--history-bytes must be at most {}",
            format_bytes(MAX_HISTORY_BYTES)
        ));
    }
    if !chat::follows_name_rule(&args.room) {
        return usage(format!(
            "--room: invalid room name {:?}: room {}",
            args.room,
            chat::NAME_RULE
        ));
    }
    if args.idle_timeout.is_some_and(|d| d.is_zero()) {
        return usage("--idle-timeout must be more than 0s".into());
    }
    Ok(())
}
