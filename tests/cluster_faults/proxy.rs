//! A pausable TCP proxy on loopback, for cutting one gochat server off from Redis as a
//! pulled cable would: while paused, every connection through it (old and new) carries
//! nothing either way, and the kernel holds what was sent; when resumed, it all goes on.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

/// Whether bytes may pass.
struct Gate {
    paused: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn set(&self, paused: bool) {
        *self.paused.lock().unwrap_or_else(PoisonError::into_inner) = paused;
        self.opened.notify_all();
    }

    /// Waits while paused.
    fn pass(&self) {
        let mut paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        while *paused {
            paused = self
                .opened
                .wait(paused)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A proxy from a loopback port of its own to `127.0.0.1:TARGET`, stopped on drop.
pub struct Proxy {
    /// Where to connect to reach the target through it.
    pub port: u16,
    gate: Arc<Gate>,
    stop: Arc<AtomicBool>,
    /// Every socket it holds, to close them all when it stops.
    sockets: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts one to `target` (a loopback port).
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("its address").port();
        let gate = Arc::new(Gate {
            paused: Mutex::new(false),
            opened: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let sockets = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (gate, stop, sockets) =
                (Arc::clone(&gate), Arc::clone(&stop), Arc::clone(&sockets));
            thread::spawn(move || accept_loop(listener, target, gate, stop, sockets))
        };
        Proxy {
            port,
            gate,
            stop,
            sockets,
            accept: Some(accept),
        }
    }

    /// Nothing passes from now on.
    pub fn pause(&self) {
        self.gate.set(true);
    }

    /// Everything passes again, what was held first.
    pub fn resume(&self) {
        self.gate.set(false);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.resume();
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wakes the accept loop
        for socket in self
            .sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = socket.shutdown(Shutdown::Both);
        }
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Accepts connections and joins each to a new connection to the target.
fn accept_loop(
    listener: TcpListener,
    target: u16,
    gate: Arc<Gate>,
    stop: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
) {
    for client in listener.incoming() {
        if stop.load(Ordering::Acquire) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
            continue; // the target is down: the client sees its connection close
        };
        let clones = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        );
        let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = clones else {
            continue;
        };
        sockets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend([c2, s2]);
        let (up, down) = (Arc::clone(&gate), Arc::clone(&gate));
        thread::spawn(move || pump(client, server, &up));
        thread::spawn(move || pump(s1, c1, &down));
    }
}

/// Copies `from` to `to` through the gate until either side ends; then closes both.
fn pump(mut from: TcpStream, mut to: TcpStream, gate: &Gate) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        gate.pass();
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
