//! A real `gochat connect` (or any client program) with piped stdio.

use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ExitStatus, Stdio};
use std::thread;
use std::time::Duration;

use super::process::{Process, collect, drain, gochat};

/// A client process with piped stdio. Its stdout and stderr are read from the start, as a
/// terminal would, so the client is never held up by an unread pipe; killed on drop.
pub struct Client {
    process: Process,
    /// Where the test types; `None` once the input has ended.
    pub stdin: Option<ChildStdin>,
    stdout: Option<thread::JoinHandle<Vec<u8>>>,
    stderr: Option<thread::JoinHandle<Vec<u8>>>,
}

impl Client {
    /// Starts `gochat connect ADDR` with extra arguments.
    pub fn start(addr: SocketAddr, extra: &[&str]) -> Client {
        let process = Process::spawn(
            gochat()
                .arg("connect")
                .arg(addr.to_string())
                .args(extra)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        Client::adopt(process)
    }

    /// Takes over a started process whose stdout and stderr are piped (unless the caller
    /// took them to read itself).
    pub fn adopt(mut process: Process) -> Client {
        let stdin = process.stdin.take();
        let stdout = process.stdout.take().map(drain);
        let stderr = process.stderr.take().map(drain);
        Client {
            process,
            stdin,
            stdout,
            stderr,
        }
    }

    /// The client's process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.process
    }

    /// Closes the client's stdin (Ctrl-D).
    pub fn end_input(&mut self) {
        self.stdin = None;
    }

    /// Ends the input, waits for the client to exit; returns status, stdout and stderr.
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, String, String) {
        self.stdin = None;
        let status = self.process.wait_exit(limit);
        let out = collect(self.stdout.take());
        let err = collect(self.stderr.take());
        (status, out, err)
    }
}
