//! A server the bench starts: spawned tied to the bench, its `listening on ADDR` line
//! awaited on stderr, the rest of its stderr counted for the report, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::{resolve, spawn_tied, tied_command};

/// How long a server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server that closed its stderr may take to exit, for the error message.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// How long [`ServerProc::finish`] waits for the last of the server's stderr.
const LOG_DRAIN: Duration = Duration::from_secs(1);

/// What the server's stderr said besides its listening line.
#[derive(Default)]
pub struct ServerLog {
    /// Whether stderr has ended (all of it is counted).
    done: bool,
    /// Lines saying a member was removed as too slow.
    pub too_slow: u64,
    /// Other lines: how many, and the first few.
    pub other_count: u64,
    pub other: Vec<String>,
}

/// A spawned server, killed when dropped (error paths included).
pub struct ServerProc {
    child: Child,
    log: Arc<Mutex<ServerLog>>,
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in a `... listening on ADDR[, ADDR]...` line.
fn listening_addr(line: &str) -> Option<String> {
    let at = line.find("listening on ")?;
    let rest = &line[at + "listening on ".len()..];
    let first = rest.split(", ").next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// Reads the server's stderr until it ends: the first listening line goes to `addr`, the
/// rest is counted in `log`.
fn read_stderr(stderr: ChildStderr, addr: mpsc::Sender<String>, log: Arc<Mutex<ServerLog>>) {
    let mut addr = Some(addr);
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if addr.is_some() {
            if let Some(found) = listening_addr(&line) {
                if let Some(tx) = addr.take() {
                    let _ = tx.send(found);
                }
                continue;
            }
        }
        let Ok(mut log) = log.lock() else { break };
        if line.contains("too slow") {
            log.too_slow += 1;
        } else {
            log.other_count += 1;
            if log.other.len() < 5 {
                log.other.push(line);
            }
        }
    }
    if let Ok(mut log) = log.lock() {
        log.done = true;
    }
}

impl ServerProc {
    /// Starts `program args`, pinned to `core`, and waits for `listening on ADDR` on stderr.
    pub fn start(
        program: &Path,
        args: &[String],
        core: Option<usize>,
    ) -> Result<(ServerProc, SocketAddr), String> {
        let mut cmd = tied_command(program, core)?;
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn_tied(&mut cmd, program)?;
        let stderr = child.stderr.take();
        let log = Arc::new(Mutex::new(ServerLog::default()));
        let mut server = ServerProc {
            child,
            log: Arc::clone(&log),
        };
        let Some(stderr) = stderr else {
            return Err("no stderr pipe to the server".into());
        };
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || read_stderr(stderr, tx, log));
        match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                let addr = resolve(&addr)
                    .map_err(|e| format!("{}: bad listening line: {e}", program.display()))?;
                Ok((server, addr))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "{} did not print `listening on ADDR` within {} s{}",
                program.display(),
                START_TIMEOUT.as_secs(),
                server.stderr_tail()
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(server.exit_error(program)),
        }
    }

    /// Stderr closed before the listening line: the server exited (or is exiting).
    fn exit_error(&mut self, program: &Path) -> String {
        let deadline = Instant::now() + EXIT_GRACE;
        let mut status = None;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let status = status.map_or_else(|| "still running".into(), |s| s.to_string());
        format!(
            "{} exited before listening ({status}){}",
            program.display(),
            self.stderr_tail()
        )
    }

    /// Kills the server and returns what its stderr said (waiting at most [`LOG_DRAIN`]
    /// for the reader thread to see the end of it).
    pub fn finish(mut self) -> ServerLog {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let deadline = Instant::now() + LOG_DRAIN;
        loop {
            if let Ok(mut log) = self.log.lock() {
                if log.done || Instant::now() > deadline {
                    return std::mem::take(&mut *log);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr_tail(&self) -> String {
        // Give the reader thread a moment to collect the last words.
        std::thread::sleep(Duration::from_millis(100));
        match self.log.lock() {
            Ok(log) if !log.other.is_empty() => format!("; its stderr: {}", log.other.join(" | ")),
            _ => String::new(),
        }
    }

    /// `Some(description)` if the server has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }
}
