//! A whole server run in-process with `gochat::server::run`, on a listener the test bound
//! itself, as tokio's mini-redis tests do: no child process, the same room, the same bytes.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use argh::FromArgs;
use gochat::cli::ServeArgs;
use gochat::server::{self, Listener};
use smol::Executor;

use common::{Member, PATIENCE};

/// A server running on a thread of the test process, until told to stop.
struct InProcess {
    addr: SocketAddr,
    stop: async_channel::Sender<()>,
    thread: Option<JoinHandle<Result<(), gochat::Error>>>,
}

impl InProcess {
    /// Starts a server on 127.0.0.1, port 0, with `gochat serve` options `options`.
    fn start(options: &[&str]) -> InProcess {
        let args = ServeArgs::from_args(&["serve"], options).expect("valid serve options");
        let (config, _) = server::config_from(&args).expect("a valid room");
        let socket = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = socket.local_addr().expect("a bound address");
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            let ex = Arc::new(Executor::new());
            let listener = Listener::tcp(socket).expect("watch the socket");
            let shutdown = async move {
                let _ = stopped.recv().await;
            };
            let server = server::run(Arc::clone(&ex), vec![listener], config, None, shutdown);
            smol::block_on(ex.run(server))
        });
        InProcess {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Tells it to shut down, and waits (within `limit`) for `run` to return.
    fn shut_down(&mut self, limit: Duration) -> Result<(), gochat::Error> {
        self.stop.close();
        let thread = self.thread.take().expect("running");
        let deadline = Instant::now() + limit;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "run did not return within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(5)); // polling an exit, not synchronizing
        }
        thread.join().expect("the server thread did not panic")
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        // A test that failed midway still stops its server (run returns within the flush
        // limit; the thread is then left to finish).
        self.stop.close();
    }
}

#[test]
fn a_room_runs_in_process_and_stops_when_told() {
    let mut server = InProcess::start(&["127.0.0.1:0"]);
    let mut ada = Member::join(server.addr);
    let mut bob = Member::join(server.addr);
    ada.expect(&format!("{} has arrived", bob.name));
    bob.say("hello from the test process");
    let line = format!("{}: hello from the test process", bob.name);
    ada.expect(&line);
    bob.expect(&line);
    assert!(server.shut_down(PATIENCE).is_ok());
    ada.expect("gochat: server shutting down");
    bob.expect("gochat: server shutting down");
    ada.expect_closed();
    bob.expect_closed();
}

#[test]
fn the_room_in_process_has_the_options_of_the_command_line() {
    let mut server = InProcess::start(&["127.0.0.1:0", "--history", "1", "--max-line", "16"]);
    let mut ada = Member::join(server.addr);
    ada.say("one");
    ada.say("0123456789abcdefXYZ");
    ada.expect(&format!("{}: one", ada.name));
    ada.expect(&format!("{}: 0123456789abcdef", ada.name));
    ada.expect(&format!("{}: XYZ", ada.name));
    let mut bob = Member::join(server.addr);
    bob.expect(&format!("{}: XYZ", ada.name));
    assert!(server.shut_down(PATIENCE).is_ok());
}
