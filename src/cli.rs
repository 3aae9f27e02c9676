//! The command line: the argh types, the constants for their defaults and limits, and the
//! parsers for the values argh cannot read by itself (a shell's name, a thread count; sizes
//! and durations are parsed by [`crate::units`]). Nothing here acts on them.
//!
//! `gochat serve [ADDR]` opens a room, `gochat connect [ADDR]` joins one, `gochat completions
//! SHELL` prints a completion script. Every option has a default that works on a LAN, so both
//! commands run bare. Parsing errors exit with status 2 (argh's convention); everything else a
//! command does lives in [`crate::server`], [`crate::client`] and [`crate::completions`].
//!
//! The help text is the reference: each option's description says its default and gives one
//! example, and `tests/cli.rs` checks that against the constants below, the man page
//! (`man/gochat.1`) and the shipped completion scripts. The types also derive
//! [`argh::ArgsInfo`], which is what [`crate::completions`] generates the scripts from.

use std::time::Duration;

use argh::{ArgsInfo, FromArgs};

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

/// The default `--threads`. One thread: on the 2-core machine gochat is measured on, a
/// second one did not pay (the kernel's per-socket work dominates, and it competes with
/// everything else on the box); bigger rooms on bigger machines can ask for more.
pub const DEFAULT_THREADS: usize = 1;

/// The most `--threads`. More worker threads than cores only contend for the room's one
/// broadcaster and the kernel's socket locks; 256 is more cores than any machine gochat is
/// likely to share with a room, and a typo (an extra zero or three) is refused instead of
/// starting a thousand threads.
pub const MAX_THREADS: usize = 256;

/// The most `--history` lines a room keeps: each costs up to `--max-line` bytes.
pub const MAX_HISTORY: usize = 10_000;

/// The default `--history-bytes`: a screenful of history many times over, and little
/// enough that a newcomer on a slow link takes it in seconds.
pub const DEFAULT_HISTORY_BYTES: usize = 256 * 1024;

/// The most `--history-bytes`: history is held in memory, and a newcomer on the slowest
/// link the room waits for takes this long to receive it (32 KiB/s: over half an hour).
pub const MAX_HISTORY_BYTES: usize = 64 * 1024 * 1024;

/// gochat: a chat room server and its client in one binary.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(
    example = "gochat serve :8000                   # run a room on port 8000",
    example = "gochat connect localhost:8000        # join it",
    example = "gochat connect localhost:8000 < notes.txt",
    example = "nc -N localhost 8000                 # nc and telnet can join too",
    note = "Run gochat <command> --help for a command's options. Sizes are bytes or 64KiB, 1MiB;",
    note = "durations 500ms, 2s, 30m. The manual: man gochat.",
    error_code(0, "success (connect: the server closed the connection)"),
    error_code(1, "run-time failure: cannot listen or connect, network error"),
    error_code(2, "bad usage: unknown option, bad value, unparsable address")
)]
pub struct Cli {
    /// print the version and exit (e.g. gochat -V)
    #[argh(switch, short = 'V')]
    pub version: bool,

    /// what to do: serve, connect or completions
    #[argh(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
pub enum Command {
    /// Run a room.
    Serve(ServeArgs),
    /// Join a room.
    Connect(ConnectArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// Open a chat room that anyone can join with `gochat connect`, nc or telnet.
#[derive(FromArgs, ArgsInfo, Debug, Clone)]
#[argh(
    subcommand,
    name = "serve",
    example = "gochat serve                         # every interface, port 8000",
    example = "gochat serve 127.0.0.1:0 --max-clients 100 --history 50",
    note = "SIGINT or SIGTERM: members get \"gochat: server shutting down\", then up to 2s to",
    note = "read what they are owed; exit 0. A second signal exits at once (130 or 143).",
    error_code(0, "success (stopped by SIGINT or SIGTERM)"),
    error_code(1, "run-time failure: cannot listen, out of resources"),
    error_code(2, "bad usage: unknown option, bad value, unparsable address")
)]
pub struct ServeArgs {
    /// where to listen: :PORT, PORT, HOST:PORT, [::1]:PORT; port 0 picks a free port
    /// (default :8000, every interface; e.g. 127.0.0.1:0)
    #[argh(positional, default = "String::from(\":8000\")")]
    pub addr: String,

    /// longest line in bytes; longer lines are cut into pieces (default 4096; e.g.
    /// --max-line 64KiB)
    #[argh(
        option,
        arg_name = "bytes",
        default = "DEFAULT_MAX_LINE",
        from_str_fn(parse_bytes)
    )]
    pub max_line: usize,

    /// how far one member may fall behind, in bytes, before the room waits for it
    /// (default 256KiB; e.g. --sendq 1MiB)
    #[argh(
        option,
        arg_name = "bytes",
        default = "DEFAULT_SENDQ",
        from_str_fn(parse_bytes)
    )]
    pub sendq: usize,

    /// remove a member whose oldest undelivered line is older than this (default 2s; e.g.
    /// --lag-limit 500ms)
    #[argh(
        option,
        arg_name = "duration",
        default = "DEFAULT_LAG_LIMIT",
        from_str_fn(parse_duration)
    )]
    pub lag_limit: Duration,

    /// most members at once (default 10000, lowered to what the open file limit allows;
    /// e.g. --max-clients 100)
    #[argh(option, arg_name = "n")]
    pub max_clients: Option<usize>,

    /// remove members silent this long (default: never; e.g. --idle-timeout 30m)
    #[argh(option, arg_name = "duration", from_str_fn(parse_duration))]
    pub idle_timeout: Option<Duration>,

    /// send each newcomer the room's last N lines after its greeting (default 0, at most
    /// 10000; e.g. --history 50)
    #[argh(option, arg_name = "n", default = "0")]
    pub history: usize,

    /// keep at most this many bytes of history, the oldest lines going first (default
    /// 256KiB, at most 64MiB; e.g. --history-bytes 1MiB)
    #[argh(
        option,
        arg_name = "bytes",
        default = "DEFAULT_HISTORY_BYTES",
        from_str_fn(parse_bytes)
    )]
    pub history_bytes: usize,

    /// worker threads; more can shorten the fan-out of a very large room on a machine with
    /// cores to spare (default 1, at most 256; e.g. --threads 4)
    #[argh(
        option,
        arg_name = "n",
        default = "DEFAULT_THREADS",
        from_str_fn(parse_threads)
    )]
    pub threads: usize,

    /// join the room with servers sharing this Redis, for one room across many servers
    /// (default: none, a room of this server alone; e.g. --redis redis://10.0.0.5:6379/)
    #[argh(option, arg_name = "url")]
    pub redis: Option<String>,

    /// the room's name on Redis (default gochat; e.g. --room lab)
    #[argh(option, arg_name = "name", default = "String::from(\"gochat\")")]
    pub room: String,

    /// log every join and leave to stderr (default: off; e.g. gochat serve -v)
    #[argh(switch, short = 'v')]
    pub verbose: bool,
}

/// Join a chat room: lines typed (or piped) go to the room, the room's lines are printed.
#[derive(FromArgs, ArgsInfo, Debug, Clone)]
#[argh(
    subcommand,
    name = "connect",
    example = "gochat connect                       # localhost:8000",
    example = "gochat connect lab-box:8000 --name ada",
    example = "gochat connect lab-box:8000 < notes.txt",
    note = "The room echoes your own lines back, so a line you type shows twice: as you type",
    note = "it, and as \"ADDR: line\" (or \"NAME: line\") from the room. Ctrl-D leaves after",
    note = "printing what the room still owes you; Ctrl-C leaves at once.",
    error_code(0, "success: the server closed the connection"),
    error_code(1, "run-time failure: cannot connect, connection lost, name taken"),
    error_code(2, "bad usage: unknown option, bad value, bad address, invalid name")
)]
pub struct ConnectArgs {
    /// the room to join: HOST:PORT, [::1]:PORT, :PORT (default localhost:8000; e.g.
    /// lab-box:8000)
    #[argh(positional, default = "String::from(\"localhost:8000\")")]
    pub addr: String,

    /// longest line in bytes sent, or shown on a terminal; longer lines are cut into pieces
    /// (default 4096; e.g. --max-line 64KiB)
    #[argh(
        option,
        arg_name = "bytes",
        default = "DEFAULT_MAX_LINE",
        from_str_fn(parse_bytes)
    )]
    pub max_line: usize,

    /// take this name in the room on joining: 1 to 32 letters, digits, '_', '-' or '.';
    /// a taken name exits 1, an invalid one 2 (default: none, the room shows your address;
    /// e.g. --name ada)
    #[argh(option, arg_name = "name")]
    pub name: Option<String>,

    /// print what the room sends byte for byte, even to a terminal (default: off, control
    /// characters are made visible when stdout is a terminal; e.g. --raw for a trusted
    /// room's colours)
    #[argh(switch)]
    pub raw: bool,
}

/// Print a shell completion script for bash, zsh or fish.
#[derive(FromArgs, ArgsInfo, Debug, Clone)]
#[argh(
    subcommand,
    name = "completions",
    example = "gochat completions bash > ~/.local/share/bash-completion/completions/gochat",
    example = "gochat completions zsh > ~/.zfunc/_gochat      # a directory in $fpath",
    example = "gochat completions fish > ~/.config/fish/completions/gochat.fish",
    error_code(0, "success: the script is on stdout"),
    error_code(1, "run-time failure: stdout could not be written"),
    error_code(2, "bad usage: missing or unknown shell")
)]
pub struct CompletionsArgs {
    /// the shell to complete for: bash, zsh or fish
    #[argh(positional, arg_name = "shell", from_str_fn(parse_shell))]
    pub shell: Shell,
}

/// A shell `gochat completions` can write a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shell {
    /// GNU bash, with or without the bash-completion package.
    Bash,
    /// zsh, through its completion system (`compinit`).
    Zsh,
    /// fish.
    Fish,
}

impl Shell {
    /// Every shell, in the order help and errors list them.
    pub const ALL: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

    /// The shell's name, as typed after `gochat completions`.
    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }
}

/// Parses `--threads`: 1 to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("at least 1 worker thread".into()),
        Ok(n) if n <= MAX_THREADS => Ok(n),
        Ok(_) => Err(format!("at most {MAX_THREADS} worker threads")),
        Err(_) if text.bytes().all(|b| b.is_ascii_digit()) && !text.is_empty() => {
            Err(format!("at most {MAX_THREADS} worker threads"))
        }
        Err(_) => Err(format!("{text:?} is not a number of threads (as in 4)")),
    }
}

/// Parses a shell name for `gochat completions SHELL`.
pub fn parse_shell(text: &str) -> Result<Shell, String> {
    Shell::ALL
        .into_iter()
        .find(|shell| shell.name() == text)
        .ok_or_else(|| format!("unknown shell {text:?}: use bash, zsh or fish"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_1_to_256() {
        assert_eq!(parse_threads("1"), Ok(1));
        assert_eq!(parse_threads("256"), Ok(MAX_THREADS));
        assert_eq!(parse_threads("0"), Err("at least 1 worker thread".into()));
        for many in ["257", "1000000", "99999999999999999999999"] {
            assert_eq!(
                parse_threads(many),
                Err("at most 256 worker threads".into())
            );
        }
        assert!(parse_threads("four").unwrap_err().contains("not a number"));
        assert!(parse_threads("-1").unwrap_err().contains("not a number"));
    }

    #[test]
    fn shells_parse_by_name_and_nothing_else() {
        for shell in Shell::ALL {
            assert_eq!(parse_shell(shell.name()), Ok(shell));
        }
        assert!(
            parse_shell("tcsh")
                .unwrap_err()
                .contains("bash, zsh or fish")
        );
    }
}
