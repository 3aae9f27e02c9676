//! A real `gochat serve`, started on loopback port 0, its address read from its start line.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use super::member::{Member, read_together};
use super::process::{PATIENCE, Process, gochat};

/// A running `gochat serve`, killed on drop.
pub struct Server {
    process: Process,
    /// Where to connect (a loopback address, even when the server listens on all).
    pub addr: SocketAddr,
    /// Every address from the start line.
    pub listening: Vec<SocketAddr>,
    /// The lines the server logs to stderr, after the start line.
    pub log: Receiver<String>,
}

impl Server {
    /// Starts `gochat serve 127.0.0.1:0` with extra arguments.
    pub fn start(extra: &[&str]) -> Server {
        let mut args = vec!["127.0.0.1:0"];
        args.extend_from_slice(extra);
        Server::start_at(&args)
    }

    /// Starts `gochat serve` with exactly these arguments, and waits for its start line.
    pub fn start_at(args: &[&str]) -> Server {
        Server::start_with(gochat().arg("serve").args(args))
    }

    /// Starts a prepared `gochat serve` command, and waits for its start line.
    pub fn start_with(command: &mut Command) -> Server {
        let mut process = Process::spawn(
            command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        );
        let stderr = process.stderr.take().expect("stderr is piped");
        let (tx, log) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = log
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|e| panic!("gochat serve printed no start line: {e:?}"));
        let Some(list) = first.strip_prefix("gochat: listening on ") else {
            panic!("unexpected start line: {first:?}");
        };
        let listening: Vec<SocketAddr> = list
            .split(", ")
            .map(|a| a.parse().expect("a socket address"))
            .collect();
        let addr = loopback_for(listening[0]);
        Server {
            process,
            addr,
            listening,
            log,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Lowers the running server's open file limit to `n`, as an admin's `prlimit --pid`
    /// would.
    pub fn lower_open_files(&self, n: u64) {
        let limit = libc::rlimit {
            rlim_cur: n,
            rlim_max: n,
        };
        // SAFETY: prlimit on our own child, with a valid struct and no old value asked for.
        let rc = unsafe {
            libc::prlimit(
                self.pid() as libc::pid_t,
                libc::RLIMIT_NOFILE,
                &limit,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0, "prlimit failed");
    }

    /// Sends a signal to the server.
    pub fn signal(&self, signal: i32) {
        self.process.signal(signal);
    }

    /// Waits for the server to exit, failing the test after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        self.process.wait_exit(limit)
    }

    /// Waits for a log line containing `needle`, returning it.
    pub fn expect_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => continue,
                Err(e) => panic!("no log line with {needle:?}: {e:?}"),
            }
        }
    }

    /// A member joined to this room, greeting read.
    pub fn join(&self) -> Member {
        Member::join(self.addr)
    }

    /// `n` members joined to this room, each having seen every later one arrive: from
    /// here on, each reads exactly what the room says after that.
    pub fn settled(&self, n: usize) -> Vec<Member> {
        let mut members: Vec<Member> = (0..n).map(|_| self.join()).collect();
        let last = format!("{} has arrived", members[n - 1].name);
        if let Some((_, earlier)) = members.split_last_mut() {
            read_together(earlier, |member| member.lines_until(|line| line == last));
        }
        members
    }
}

/// The loopback address to reach a server listening on `addr` (which may be `[::]`).
pub fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// A loopback port nobody listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// A stand-in server on loopback that accepts one connection, sends it `bytes` and closes:
/// for what a client does with what any server (not only gochat) sends. Returns its
/// address and the thread to join.
pub fn serve_once(bytes: Vec<u8>) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        std::io::Write::write_all(&mut conn, &bytes).expect("send");
    });
    (addr, server)
}
