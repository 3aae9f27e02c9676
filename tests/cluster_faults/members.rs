//! Members that talk steadily and record every line they get, with when, each read on a
//! thread of its own as an independent client (never a slow member).

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a member says a line while it talks: 100 lines a second each.
pub const PACE: Duration = Duration::from_millis(10);

/// The lines a member got, with when, shared with its reader thread.
#[derive(Default)]
pub struct Record {
    lines: Mutex<Vec<(Instant, String)>>,
    grew: Condvar,
    /// Set when the room closed the connection.
    closed: AtomicBool,
}

impl Record {
    /// The lines so far.
    pub fn lines(&self) -> MutexGuard<'_, Vec<(Instant, String)>> {
        self.lines.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `done` holds for the lines (or the connection closed), until
    /// `deadline`. Returns whether it holds.
    pub fn wait_for(
        &self,
        deadline: Instant,
        mut done: impl FnMut(&[(Instant, String)]) -> bool,
    ) -> bool {
        let mut lines = self.lines();
        loop {
            if done(&lines) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.closed.load(Ordering::Acquire) {
                return false;
            }
            lines = self
                .grew
                .wait_timeout(lines, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// One member of the room under test.
pub struct Talker {
    /// Its name in the room (`m0`, `m1`, ...), once it took it.
    pub name: String,
    /// Its address, as the room showed it at first.
    pub addr: String,
    /// Which server it is on (0 or 1).
    pub server: usize,
    /// What it got.
    pub record: Arc<Record>,
    out: TcpStream,
    /// How many numbered lines it sent.
    pub sent: Arc<AtomicUsize>,
    talking: Option<JoinHandle<()>>,
}

impl Talker {
    /// Joins the room at `addr`, and starts recording what it gets.
    pub fn join(addr: SocketAddr, server: usize) -> Talker {
        let stream = TcpStream::connect(addr).expect("join the room");
        let out = stream.try_clone().expect("clone");
        let record = Arc::new(Record::default());
        let reader = Arc::clone(&record);
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                reader.lines().push((Instant::now(), line));
                reader.grew.notify_all();
            }
            reader.closed.store(true, Ordering::Release);
            reader.grew.notify_all();
        });
        let greeted = record.wait_for(Instant::now() + Duration::from_secs(20), |l| !l.is_empty());
        assert!(greeted, "no greeting");
        let greeting = record.lines()[0].1.clone();
        let addr = greeting
            .strip_prefix("You are ")
            .expect("a greeting")
            .to_string();
        Talker {
            name: addr.clone(),
            addr,
            server,
            record,
            out,
            sent: Arc::new(AtomicUsize::new(0)),
            talking: None,
        }
    }

    /// Sends one line.
    pub fn say(&self, text: &str) {
        (&self.out)
            .write_all(format!("{text}\n").as_bytes())
            .expect("send to the room");
    }

    /// Waits until it got `line`, within `limit`; returns whether it did.
    pub fn wait_line(&self, line: &str, limit: Duration) -> bool {
        self.record.wait_for(Instant::now() + limit, |lines| {
            lines.iter().any(|(_, l)| l == line)
        })
    }

    /// Starts saying `0`, `1`, `2`, ... every [`PACE`] until `stop`, then `end`. A server
    /// that dies ends it early.
    pub fn talk(&mut self, stop: Arc<AtomicBool>) {
        let mut out = self.out.try_clone().expect("clone");
        let sent = Arc::clone(&self.sent);
        self.talking = Some(thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                if out.write_all(format!("{n}\n").as_bytes()).is_err() {
                    return;
                }
                n += 1;
                sent.store(n, Ordering::Release);
                thread::sleep(PACE); // a steady talker, not a sync
            }
            let _ = out.write_all(b"end\n");
        }));
    }

    /// Waits for it to stop talking.
    pub fn stop_talking(&mut self) {
        if let Some(talking) = self.talking.take() {
            let _ = talking.join();
        }
    }

    /// Whether the room closed its connection.
    pub fn closed(&self) -> bool {
        self.record.closed.load(Ordering::Acquire)
    }
}
