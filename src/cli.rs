//! The command line: argh types and nothing else.
//!
//! `gochat serve [ADDR]` opens a room, `gochat connect [ADDR]` joins one. Every option has a
//! default that works on a LAN, so both commands run bare. Parsing errors exit with status 2
//! (argh's convention); everything else a command does lives in [`crate::server`] and
//! [`crate::client`].

use std::time::Duration;

use argh::FromArgs;

use crate::codec::DEFAULT_MAX_LINE;
use crate::units::{parse_bytes, parse_duration};

/// The default `--sendq`: how far (in bytes) one member may fall behind before the room
/// waits for it. 256 KiB is several seconds of a busy room's text, and 10,000 members
/// stalled at once would still cost at most 2.5 GiB.
pub const DEFAULT_SENDQ: usize = 256 * 1024;

/// The default `--lag-limit`: how old a member's oldest undelivered line may grow before the
/// member is removed. Two seconds is long enough for any healthy client on a busy LAN and
/// short enough that a stuck one cannot hold the room back noticeably.
pub const DEFAULT_LAG_LIMIT: Duration = Duration::from_secs(2);

/// The default `--max-clients`.
pub const DEFAULT_MAX_CLIENTS: usize = 10_000;

/// The most `--history` lines a room keeps: each costs up to `--max-line` bytes.
pub const MAX_HISTORY: usize = 10_000;

/// gochat: a chat room server and its client in one binary.
#[derive(FromArgs, Debug)]
pub struct Cli {
    /// print the version and exit
    #[argh(switch, short = 'V')]
    pub version: bool,

    /// what to do: serve or connect
    #[argh(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Command {
    /// Run a room.
    Serve(ServeArgs),
    /// Join a room.
    Connect(ConnectArgs),
}

/// Open a chat room that anyone can join with `gochat connect`, nc or telnet.
#[derive(FromArgs, Debug, Clone)]
#[argh(
    subcommand,
    name = "serve",
    example = "gochat serve :8000",
    example = "gochat serve 127.0.0.1:0 --max-clients 100"
)]
pub struct ServeArgs {
    /// where to listen (default :8000, every interface): :PORT, PORT, HOST:PORT, [::1]:PORT;
    /// port 0 picks a free port
    #[argh(positional, default = "String::from(\":8000\")")]
    pub addr: String,

    /// longest line in bytes; longer lines are cut into pieces (default 4096)
    #[argh(option, default = "DEFAULT_MAX_LINE", from_str_fn(parse_bytes))]
    pub max_line: usize,

    /// how far one member may fall behind, in bytes, before the room waits for it
    /// (default 256KiB)
    #[argh(option, default = "DEFAULT_SENDQ", from_str_fn(parse_bytes))]
    pub sendq: usize,

    /// remove a member whose oldest undelivered line is older than this (default 2s)
    #[argh(option, default = "DEFAULT_LAG_LIMIT", from_str_fn(parse_duration))]
    pub lag_limit: Duration,

    /// most members at once (default 10000, lowered to what the open file limit allows)
    #[argh(option)]
    pub max_clients: Option<usize>,

    /// remove members silent this long, e.g. 30m (default: never)
    #[argh(option, from_str_fn(parse_duration))]
    pub idle_timeout: Option<Duration>,

    /// send each newcomer the room's last N lines after its greeting (default 0, at most
    /// 10000)
    #[argh(option, default = "0")]
    pub history: usize,

    /// worker threads (default: one per available core)
    #[argh(option)]
    pub threads: Option<usize>,

    /// log every join and leave to stderr
    #[argh(switch, short = 'v')]
    pub verbose: bool,
}

/// Join a chat room: lines typed (or piped) go to the room, the room's lines are printed.
#[derive(FromArgs, Debug, Clone)]
#[argh(
    subcommand,
    name = "connect",
    example = "gochat connect localhost:8000",
    example = "gochat connect host:8000 < notes.txt"
)]
pub struct ConnectArgs {
    /// the room to join (default localhost:8000): HOST:PORT, [::1]:PORT, :PORT
    #[argh(positional, default = "String::from(\"localhost:8000\")")]
    pub addr: String,

    /// longest line in bytes sent or shown; longer lines are cut into pieces (default 4096)
    #[argh(option, default = "DEFAULT_MAX_LINE", from_str_fn(parse_bytes))]
    pub max_line: usize,

    /// take this name in the room on joining (1-32 letters, digits, '_', '-', '.'); a
    /// taken name is an error
    #[argh(option)]
    pub name: Option<String>,

    /// print what the room sends byte for byte, even to a terminal (default: control
    /// characters are made visible when stdout is a terminal)
    #[argh(switch)]
    pub raw: bool,
}
