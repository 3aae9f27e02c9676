//! Raw TCP members, as `nc` would be: they send bytes and read lines, each wait bounded.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::process::PATIENCE;

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

/// Runs `read` on every member at once, each on a thread of its own, as independent
/// clients read: a member left unread while another is read falls behind, and past the
/// lag limit the room removes it. Returns what each `read` returned, in order; a failure in
/// any fails the test.
///
/// ```ignore
/// let seen = read_together(&mut members, |m| m.lines_until(|l| l == "ada: bye"));
/// ```
pub fn read_together<T: Send>(
    members: &mut [Member],
    read: impl Fn(&mut Member) -> T + Sync,
) -> Vec<T> {
    let read = &read;
    thread::scope(|scope| {
        let readers: Vec<_> = members
            .iter_mut()
            .map(|member| scope.spawn(move || read(member)))
            .collect();
        readers
            .into_iter()
            .map(|reader| {
                reader
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    })
}
