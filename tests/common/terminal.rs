//! A program on a pseudo-terminal, as a person at a keyboard runs it: script(1) gives it
//! the terminal, types what the test writes, and shows what the terminal would.
//!
//! Needs `script` (util-linux's, from Debian's bsdutils): mark tests with
//! `#[cfg_attr(not(has_script), ignore = "needs script: apt-get install bsdutils")]`.

use std::io::{Read, Write};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread;
use std::time::Instant;

use super::process::{PATIENCE, Process};
use super::tools::tool;

/// A shell command line running on a pseudo-terminal; killed on drop.
pub struct Terminal {
    process: Process,
    /// The keyboard.
    input: Option<ChildStdin>,
    /// What the terminal shows, as it shows it.
    output: Receiver<Vec<u8>>,
    /// Everything shown so far.
    seen: Vec<u8>,
}

impl Terminal {
    /// Runs `gochat ARGS` on a terminal. `args` is shell text: `connect ADDR < /dev/null`
    /// is fine.
    pub fn gochat(args: &str) -> Terminal {
        Terminal::run(&format!("{} {args}", env!("CARGO_BIN_EXE_gochat")))
    }

    /// Runs a shell command line on a terminal.
    pub fn run(command: &str) -> Terminal {
        let mut process = Process::spawn(
            Command::new(tool("script"))
                .args(["-qec", command, "/dev/null"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let input = process.stdin.take();
        let mut stdout = process.stdout.take().expect("stdout is piped");
        let (shown, output) = channel();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || shown.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            process,
            input,
            output,
            seen: Vec::new(),
        }
    }

    /// Types keys: `b"hello\r"`, Ctrl-D as `b"\x04"`, Ctrl-C as `b"\x03"`.
    pub fn type_keys(&mut self, keys: &[u8]) {
        let input = self.input.as_mut().expect("the keyboard is still there");
        input.write_all(keys).expect("type into the terminal");
        input.flush().expect("flush");
    }

    /// Waits until the terminal has shown `text`.
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !String::from_utf8_lossy(&self.seen).contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.extend_from_slice(&bytes),
                Err(_) => panic!(
                    "the terminal never showed {text:?}: {:?}",
                    String::from_utf8_lossy(&self.seen)
                ),
            }
        }
    }

    /// Waits for the command (and so script) to exit.
    pub fn exits(mut self) -> ExitStatus {
        self.process.wait_exit(PATIENCE)
    }

    /// Waits for the command to exit; returns its status and all the terminal showed.
    pub fn finish(mut self) -> (ExitStatus, Vec<u8>) {
        let status = self.process.wait_exit(PATIENCE);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(bytes) => self.seen.extend_from_slice(&bytes),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => panic!("the terminal never closed"),
            }
        }
        (status, std::mem::take(&mut self.seen))
    }
}
