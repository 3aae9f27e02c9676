//! Child processes that cannot outlive their test, and the `gochat` binary run as one.
//!
//! A [`Process`] kills and reaps its child when dropped, however the test ends (a failed
//! assertion included), and every wait on one has a deadline.

use std::io::Read;
use std::ops::{Deref, DerefMut};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails. Generous: CI
/// machines can be slow, and a passing test never waits this long.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The binary under test.
pub fn gochat() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gochat"))
}

/// A running child process, killed and reaped on drop. It derefs to the [`Child`], for its
/// pipes and its id.
pub struct Process {
    child: Child,
    /// The program, for messages.
    what: String,
}

impl Process {
    /// Starts a prepared command, failing the test if it cannot start.
    pub fn spawn(command: &mut Command) -> Process {
        let what = command.get_program().to_string_lossy().into_owned();
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Process { child, what }
    }

    /// Sends a signal (`libc::SIGTERM`, ...).
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child, which is not reaped before we are dropped.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "cannot signal {} ({signal})", self.what);
    }

    /// Waits for the process to exit, killing it and failing the test after `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5)); // polling an exit, not synchronizing
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!("{} did not exit within {limit:?}", self.what);
                }
            }
        }
    }
}

impl Deref for Process {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a pipe to its end on a thread of its own, so the child never blocks on it.
pub fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut all = Vec::new();
        let _ = pipe.read_to_end(&mut all);
        all
    })
}

/// Runs a prepared command to completion, stdin empty, bounded by [`PATIENCE`]: status,
/// stdout and stderr.
pub fn run_command(command: &mut Command) -> (ExitStatus, String, String) {
    let mut process = Process::spawn(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let out = process.stdout.take().map(drain);
    let err = process.stderr.take().map(drain);
    let status = process.wait_exit(PATIENCE);
    (status, collect(out), collect(err))
}

/// What a [`drain`] thread read, as text.
pub fn collect(drained: Option<thread::JoinHandle<Vec<u8>>>) -> String {
    let bytes = drained
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `gochat ARGS` to completion (bounded): status, stdout, stderr.
pub fn run(args: &[&str]) -> (ExitStatus, String, String) {
    run_command(gochat().args(args))
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

/// A process's peak resident memory so far (`VmHWM`), in KiB, from /proc.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|kib| kib.split_whitespace().next()?.parse().ok())
        .expect("a VmHWM line")
}
