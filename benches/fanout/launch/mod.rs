//! Which servers the bench measures and how each is started: gochat, a server already
//! running at `--addr`, a cluster of gochat servers on a redis-server of the bench's own
//! (`--cluster`), the Go seed (`--compare-seed`) and any other line-based chat server
//! (`--server-cmd`).
//!
//! Every child the bench starts is tied to it by [`tied_command`]: it dies with the bench,
//! even when the bench is killed hard, and runs on the server core from its first
//! instruction. Both are done by util-linux wrappers that exec the program in place (so
//! the child's pid is the program's), because setting a child's death signal or affinity
//! between fork and exec would need `unsafe` (`pre_exec`), which the bench forbids:
//!
//! - `setpriv --pdeathsig KILL`: the kernel kills the child when the bench exits.
//! - `taskset -c CORE`: the CPU affinity is set before the program starts, so every thread
//!   it ever starts inherits it. (Setting it on the child's pid after spawning would race
//!   with the threads the program starts first: a multi-threaded server, the Go runtime or
//!   redis-server, would keep some threads unpinned.)

mod redis;
mod seed;
mod server;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;

pub use redis::RedisProc;
pub use server::ServerProc;

use crate::args::Args;

/// How to get a server for one run.
pub enum Launch {
    Spawn {
        program: PathBuf,
        args: Vec<String>,
    },
    External {
        addr: SocketAddr,
        pid: Option<u32>,
    },
    /// `servers` gochat servers forming one room on a redis-server of their own.
    Cluster {
        program: PathBuf,
        servers: usize,
    },
}

/// A server under test: one table.
pub struct Target {
    pub label: String,
    pub launch: Launch,
}

impl Target {
    /// Whether the bench starts this server itself (and so pins it).
    pub fn is_spawned(&self) -> bool {
        !matches!(self.launch, Launch::External { .. })
    }
}

/// The gochat binary this bench was built with.
fn gochat() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gochat"))
}

/// The servers to measure, in the order of their tables.
pub fn targets(args: &Args) -> Result<Vec<Target>, String> {
    let mut targets = vec![first_target(args)?];
    if args.cluster {
        targets.push(Target {
            label: "gochat cluster (2 servers, 1 redis-server, all on the server core)".into(),
            launch: Launch::Cluster {
                program: gochat(),
                servers: 2,
            },
        });
    }
    if args.compare_seed {
        targets.push(Target {
            label: "seed (tests/seed/server.go)".into(),
            launch: Launch::Spawn {
                program: seed::build_seed()?,
                args: vec!["127.0.0.1:0".into()],
            },
        });
    }
    if let Some(cmd) = &args.server_cmd {
        targets.push(server_cmd_target(cmd)?);
    }
    Ok(targets)
}

/// gochat, or the server at `--addr` instead.
fn first_target(args: &Args) -> Result<Target, String> {
    Ok(match &args.addr {
        Some(addr) => Target {
            label: format!("server at {addr}"),
            launch: Launch::External {
                addr: resolve(addr)?,
                pid: args.pid,
            },
        },
        None => Target {
            label: "gochat".into(),
            launch: Launch::Spawn {
                program: gochat(),
                args: vec!["serve".into(), "127.0.0.1:0".into()],
            },
        },
    })
}

/// `--server-cmd "PROGRAM ARGS"`: `{addr}` in ARGS becomes 127.0.0.1:0 (appended if absent).
fn server_cmd_target(cmd: &str) -> Result<Target, String> {
    let mut words: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    if words.is_empty() {
        return Err("--server-cmd is empty".into());
    }
    let program = PathBuf::from(words.remove(0));
    let mut has_addr = false;
    for w in &mut words {
        if w.contains("{addr}") {
            *w = w.replace("{addr}", "127.0.0.1:0");
            has_addr = true;
        }
    }
    if !has_addr {
        words.push("127.0.0.1:0".into());
    }
    Ok(Target {
        label: format!("`{cmd}`"),
        launch: Launch::Spawn {
            program,
            args: words,
        },
    })
}

/// The first address `addr` resolves to; a server listening on every interface is reached
/// over loopback.
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    let mut found = addr
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr:?} resolves to no address"))?;
    if found.ip().is_unspecified() {
        found.set_ip(match found.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(found)
}

/// A command that runs `program`, killed when the bench dies and pinned to `core` (see the
/// module doc for why through `setpriv` and `taskset`). Fails, naming the program, when the
/// program is not there: the wrappers would only say so on the child's stderr.
pub fn tied_command(program: &Path, core: Option<usize>) -> Result<Command, String> {
    let found = locate(program).map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "KILL", "--"]);
    if let Some(core) = core {
        cmd.args(["taskset", "-c", &core.to_string()]);
    }
    cmd.arg(found);
    Ok(cmd)
}

/// `program` as a path to an existing file: as given if it names a directory, else found
/// on PATH, as the shell would.
fn locate(program: &Path) -> Result<PathBuf, String> {
    let is_file = |p: &Path| std::fs::metadata(p).map(|m| m.is_file());
    if program.components().count() > 1 || program.is_absolute() {
        return match is_file(program) {
            Ok(true) => Ok(program.to_path_buf()),
            Ok(false) => Err("not a file".into()),
            Err(e) => Err(e.to_string()),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_file(p).unwrap_or(false))
        .ok_or_else(|| "not found on PATH".into())
}

/// Spawns a tied command, saying which wrapper is missing if one is.
pub fn spawn_tied(cmd: &mut Command, program: &Path) -> Result<std::process::Child, String> {
    cmd.spawn().map_err(|e| {
        format!(
            "cannot start {} through setpriv and taskset (util-linux; Debian: apt install \
             util-linux): {e}",
            program.display()
        )
    })
}
