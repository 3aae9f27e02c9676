//! What the integration tests share: the real `gochat` binary, started on loopback port 0,
//! and raw TCP members that behave like `nc`.
//!
//! Nothing here sleeps to synchronize: every wait is for a line (or an exit), with a
//! deadline, and every process is killed when its handle drops.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails. Generous: CI
/// machines can be slow, and a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn gochat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gochat"))
}

/// A running `gochat serve`, killed on drop.
pub struct Server {
    child: Child,
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
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gochat serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, log) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = match log.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                panic!("gochat serve printed no start line: {e:?}");
            }
        };
        let Some(list) = first.strip_prefix("gochat: listening on ") else {
            let _ = child.kill();
            panic!("unexpected start line: {first:?}");
        };
        let listening: Vec<SocketAddr> = list
            .split(", ")
            .map(|a| a.parse().expect("a socket address"))
            .collect();
        let addr = loopback_for(listening[0]);
        Server {
            child,
            addr,
            listening,
            log,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the server.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// Waits for the server to exit, failing the test after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_child(&mut self.child, limit)
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
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a child to exit, killing it and failing the test after `limit`.
pub fn wait_child(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(5)); // polling an exit, not synchronizing
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("process did not exit within {limit:?}");
            }
        }
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

/// Whether this host can use IPv6 loopback.
pub fn have_ipv6() -> bool {
    std::net::TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0)).is_ok()
}

/// A raw TCP member, as `nc` would be.
pub struct Member {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// Its name in the room (from `You are NAME`), if it read its greeting.
    pub name: String,
}

impl Member {
    /// Connects without reading anything.
    pub fn connect(addr: SocketAddr) -> Member {
        let stream = TcpStream::connect(addr).expect("connect to the room");
        let reader = BufReader::with_capacity(256 * 1024, stream.try_clone().expect("clone"));
        Member {
            stream,
            reader,
            name: String::new(),
        }
    }

    /// Connects and reads the greeting.
    pub fn join(addr: SocketAddr) -> Member {
        let mut member = Member::connect(addr);
        let greeting = member.line();
        member.name = greeting
            .strip_prefix("You are ")
            .unwrap_or_else(|| panic!("expected a greeting, got {greeting:?}"))
            .to_string();
        member
    }

    /// The raw socket, for tests that need socket options.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Sends one line (a newline is added).
    pub fn say(&mut self, text: &str) {
        self.send(format!("{text}\n").as_bytes());
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send to the room");
    }

    /// Half-closes: no more input, as nc does at end of stdin.
    pub fn finish_sending(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads one line (without its newline), failing the test after [`PATIENCE`].
    pub fn line(&mut self) -> String {
        match self.try_line(PATIENCE) {
            Ok(Some(line)) => line,
            Ok(None) => panic!("connection closed while waiting for a line"),
            Err(e) => panic!("no line within {PATIENCE:?}: {e}"),
        }
    }

    /// Reads one line within `limit`: `Ok(None)` at end of stream.
    pub fn try_line(&mut self, limit: Duration) -> std::io::Result<Option<String>> {
        let bytes = self.raw_line(limit)?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let text = String::from_utf8(bytes).expect("the room sends UTF-8");
        Ok(Some(text.strip_suffix('\n').unwrap_or(&text).to_string()))
    }

    /// Reads one line's raw bytes, newline included (empty at end of stream).
    pub fn raw_line(&mut self, limit: Duration) -> std::io::Result<Vec<u8>> {
        let deadline = Instant::now() + limit;
        let mut buf = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::new(ErrorKind::TimedOut, "deadline passed"));
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(_) if buf.ends_with(b"\n") => return Ok(buf),
                Ok(0) => return Ok(buf),
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads lines until one satisfies `done`; returns them all, that one last.
    pub fn lines_until(&mut self, mut done: impl FnMut(&str) -> bool) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line();
            let stop = done(&line);
            lines.push(line);
            if stop {
                return lines;
            }
        }
    }

    /// Expects exactly this line next.
    pub fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "member {} got the wrong line", self.name);
    }

    /// Expects the server to close the connection next (no more lines).
    pub fn expect_closed(&mut self) {
        match self.try_line(PATIENCE) {
            Ok(None) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            other => panic!("expected the connection to close, got {other:?}"),
        }
    }

    /// Reads everything until the server closes, within `limit`.
    pub fn read_to_end(&mut self, limit: Duration) -> Vec<u8> {
        let deadline = Instant::now() + limit;
        let mut all = Vec::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the connection did not close within {limit:?}"
            );
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            match self.reader.read(&mut buf) {
                Ok(0) => return all,
                Ok(n) => all.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return all,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }
}

/// A `gochat connect` process with piped stdio. Its stdout and stderr are read from the
/// start, as a terminal would, so the client is never held up by an unread pipe.
pub struct Client {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Client {
    /// Starts `gochat connect ADDR` with extra arguments.
    pub fn start(addr: SocketAddr, extra: &[&str]) -> Client {
        let child = gochat()
            .arg("connect")
            .arg(addr.to_string())
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gochat connect");
        Client::adopt(child)
    }

    /// Takes over a spawned child whose stdout and stderr are piped.
    pub fn adopt(mut child: Child) -> Client {
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(|mut out| {
            thread::spawn(move || {
                let mut all = Vec::new();
                let _ = out.read_to_end(&mut all);
                all
            })
        });
        let stderr = child.stderr.take().map(|mut err| {
            thread::spawn(move || {
                let mut all = Vec::new();
                let _ = err.read_to_end(&mut all);
                all
            })
        });
        Client {
            child,
            stdin,
            stdout,
            stderr,
        }
    }

    /// Closes the client's stdin (Ctrl-D).
    pub fn end_input(&mut self) {
        self.stdin = None;
    }

    /// Waits for the client to exit; returns status, stdout and stderr.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String, String) {
        self.stdin = None;
        let status = wait_child(&mut self.child, limit);
        let collect = |h: Option<thread::JoinHandle<Vec<u8>>>| {
            let bytes = h.map(|h| h.join().unwrap_or_default()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        let out = collect(self.stdout.take());
        let err = collect(self.stderr.take());
        (status, out, err)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a gochat command to completion (bounded), returning status, stdout, stderr.
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    let child = gochat()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gochat");
    Client::adopt(child).finish(PATIENCE)
}

/// The path of `name` on PATH, or `None` (after saying so) if it is missing and allowed to
/// be: with `GOCHAT_REQUIRE_TOOLS=1` (set by `.ci/run`, which installs every tool) a
/// missing tool fails the test instead.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        if std::env::var("GOCHAT_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{name} is required (GOCHAT_REQUIRE_TOOLS=1) but not on PATH");
        }
        eprintln!("SKIP: {name} is not installed; a test that needs it did not run");
    }
    found
}

/// `gochat ARGS --help`, which must succeed quietly.
pub fn help(args: &[&str]) -> String {
    let mut all = args.to_vec();
    all.push("--help");
    let (status, out, err) = run(&all);
    assert!(status.success(), "{all:?}: {status:?} {err}");
    assert!(err.is_empty(), "{all:?} wrote to stderr: {err}");
    out
}

/// The entries of one section of a help text ("Options:"), each with its description
/// joined onto one line.
pub fn help_section(help: &str, heading: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    let lines = help
        .lines()
        .skip_while(|l| *l != heading)
        .skip(1)
        .take_while(|l| !l.is_empty());
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        match entries.last_mut() {
            Some(last) if indent > 2 => {
                last.push(' ');
                last.push_str(line.trim());
            }
            _ => entries.push(line.trim().to_string()),
        }
    }
    entries
}

/// A loopback port nobody listens on (bound, then released).
pub fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    addr
}

/// Asserts a failure was reported as one clean line, never a panic.
pub fn assert_clean_error(stderr: &str, want: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "a panic reached the user: {stderr}"
    );
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("gochat: ") && first.contains(want),
        "expected a line with {want:?}, got {stderr:?}"
    );
}
