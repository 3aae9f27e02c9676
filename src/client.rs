//! `gochat connect`: the Go client's two `mustCopy`s, done carefully.
//!
//! Two copies run at once: stdin to the socket, and the socket to stdout. What goes up is
//! framed by the [codec](crate::codec), so every line the room gets is whole and bounded,
//! and a last line without a newline still arrives. At the end of stdin the client only
//! half-closes (shuts down its sending side) and keeps printing until the server closes:
//! the server echoes every line back, so when it closes, it has taken all of them. (The Go
//! client closes the whole socket at end of input, which can reset the connection and lose
//! the end of a piped file.)
//!
//! What comes down is printed as it arrives. When stdout is a terminal, it goes through the
//! codec first, so control characters from any server (not only ours) are shown, not obeyed;
//! `--raw`, or a stdout that is not a terminal, gets the bytes unchanged.

use std::io::{self, IsTerminal, Read};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt, future};
use smol::{Timer, Unblock};

use crate::addr::ConnectAddr;
use crate::chat;
use crate::cli::ConnectArgs;
use crate::codec::{self, LineDecoder, MAX_MAX_LINE, MIN_MAX_LINE};
use crate::error::Error;

/// How much is read from stdin or the socket at a time.
const CHUNK: usize = 64 * 1024;

/// Runs `gochat connect` until the server closes the connection.
pub fn connect(args: &ConnectArgs) -> Result<(), Error> {
    if !(MIN_MAX_LINE..=MAX_MAX_LINE).contains(&args.max_line) {
        return Err(Error::Usage(format!(
            "--max-line must be between {MIN_MAX_LINE} and {MAX_MAX_LINE} bytes"
        )));
    }
    if let Some(name) = &args.name {
        chat::check_name(name).map_err(|reason| Error::Usage(format!("--name: {reason}")))?;
    }
    let target = ConnectAddr::parse(&args.addr)?;
    let addrs = target.resolve(&args.addr)?;
    let sanitize = !args.raw && io::stdout().is_terminal();
    smol::block_on(async {
        let stream = dial(&addrs).await.map_err(|source| Error::Connect {
            addr: args.addr.clone(),
            source,
        })?;
        let _ = stream.set_nodelay(true);
        let (named, name_ok) = async_channel::bounded::<()>(1);
        let naming = args.name.clone().map(|name| Naming::new(name, named));
        let down = print_room(stream.clone(), sanitize, args.max_line, naming);
        let up = async {
            if args.name.is_some() && name_ok.recv().await.is_err() {
                // No name, no input: the reading side reports why.
                return future::pending().await;
            }
            match send_input(stream.clone(), args.max_line).await {
                // Stdin failed: nothing more to send, and nothing the room can fix.
                Err(Up::Stdin(e)) => Err(Error::io("cannot read standard input", e)),
                // The socket failed while sending: the reading side will see why (a
                // close, or a reset) and decide how to end.
                Ok(()) | Err(Up::Socket) => future::pending().await,
            }
        };
        down.or(up).await
    })
}

/// Connects to the first address that answers, trying each in the resolver's order
/// (`localhost` may be ::1 and 127.0.0.1), and reports the last failure.
async fn dial(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to connect to");
    for addr in addrs {
        match TcpStream::connect(*addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Why sending stopped early.
enum Up {
    Stdin(io::Error),
    Socket,
}

/// Copies stdin to the room, line by line, then half-closes.
async fn send_input(mut stream: TcpStream, max_line: usize) -> Result<(), Up> {
    let stdin = read_stdin();
    // A long line goes in pieces; only its first may be a command, as the server's own
    // reader would have it: a later piece that starts with `/` goes as `//`.
    let mut decoder = LineDecoder::new(max_line).with_continuation_escape(chat::COMMAND_START);
    let mut lines = Vec::with_capacity(CHUNK + CHUNK / 8);
    loop {
        let chunk = match stdin.recv().await {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => return Err(Up::Stdin(e)),
            Err(_) => Vec::new(), // the reading thread ended: end of input
        };
        if chunk.is_empty() {
            decoder.finish(&mut lines);
        } else {
            decoder.decode(&chunk, &mut lines);
        }
        if !lines.is_empty() {
            stream.write_all(&lines).await.map_err(|_| Up::Socket)?;
            lines.clear();
        }
        if chunk.is_empty() {
            stream.shutdown(Shutdown::Write).map_err(|_| Up::Socket)?;
            return Ok(());
        }
    }
}

/// Reads stdin on a thread of its own, a chunk at a time; an empty chunk is the end of
/// input. A plain blocking read is the only reliable way to see a terminal's end of input:
/// Ctrl-D after a typed line makes exactly one read return 0, which a buffering reader
/// that reads ahead would swallow. The channel is small, so a slow room slows the reading.
fn read_stdin() -> async_channel::Receiver<io::Result<Vec<u8>>> {
    let (chunks, received) = async_channel::bounded(4);
    let spawned = std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let chunk = match stdin.read(&mut buf) {
                    Ok(n) => Ok(buf[..n].to_vec()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let last = !matches!(&chunk, Ok(c) if !c.is_empty());
                if chunks.send_blocking(chunk).is_err() || last {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        let (failed, received) = async_channel::bounded(1);
        let _ = failed.try_send(Err(e));
        return received;
    }
    received
}

/// Prints what the room sends until the server closes the connection. With `naming`, it
/// first takes the name: `/nick NAME` right after the greeting, then the room's answer.
async fn print_room(
    mut stream: TcpStream,
    sanitize: bool,
    max_line: usize,
    mut naming: Option<Naming>,
) -> Result<(), Error> {
    let mut stdout = Unblock::with_capacity(CHUNK, io::stdout());
    let mut decoder = sanitize.then(|| LineDecoder::new(max_line));
    let mut buf = vec![0u8; CHUNK];
    let mut shown = Vec::new();
    let naming_deadline = Instant::now() + NAMING_PATIENCE;
    loop {
        let read = async {
            loop {
                match stream.read(&mut buf).await {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => return Some(other),
                }
            }
        };
        let result = match naming {
            Some(_) => {
                read.or(async {
                    Timer::at(naming_deadline).await;
                    None
                })
                .await
            }
            None => read.await,
        };
        let n = match result {
            Some(Ok(n)) => n,
            Some(Err(e)) => return Err(Error::io("connection lost", e)),
            None => {
                return Err(Naming::refused(
                    "the server did not answer /nick (is it a gochat server?)",
                ));
            }
        };
        if let Some(taking) = naming.as_mut() {
            if n == 0 {
                return Err(Naming::refused("the server closed the connection"));
            }
            if taking.hear(&buf[..n], &mut stream).await? {
                naming = None;
            }
        }
        let out: &[u8] = match decoder.as_mut() {
            Some(decoder) => {
                shown.clear();
                if n == 0 {
                    decoder.finish(&mut shown);
                } else {
                    decoder.decode(&buf[..n], &mut shown);
                }
                &shown
            }
            None => &buf[..n],
        };
        let printed = async {
            stdout.write_all(out).await?;
            stdout.flush().await
        };
        match printed.await {
            Ok(()) => {}
            // Whoever reads our output stopped (`gochat connect | head`): we are done.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(Error::io("cannot write standard output", e)),
        }
        if n == 0 {
            return Ok(());
        }
    }
}

/// How long `--name` waits for the room to answer `/nick`.
const NAMING_PATIENCE: Duration = Duration::from_secs(10);

/// The most of one line `--name` keeps while it waits for the room's answer. The lines it
/// looks for (the greeting, the answer to `/nick`, a refusal) are all well under this;
/// a longer line (a newcomer's history can hold lines of up to the server's `--max-line`)
/// is none of them and is skipped, so no server can make the client hold more.
const NAMING_LINE: usize = 1024;

/// Taking a name on joining (`--name`): watch the first lines for the greeting, ask for
/// the name, and wait for the room's answer before sending any input.
struct Naming {
    name: String,
    /// Who the greeting says we are, once it has come.
    me: Option<String>,
    /// The start of a line not yet complete: at most [`NAMING_LINE`] bytes.
    partial: Vec<u8>,
    /// Whether the line being read is longer than [`NAMING_LINE`], so none of ours.
    overlong: bool,
    /// Sent one message when the name is ours, so input may flow.
    named: async_channel::Sender<()>,
}

impl Naming {
    fn new(name: String, named: async_channel::Sender<()>) -> Naming {
        Naming {
            name,
            me: None,
            partial: Vec::new(),
            overlong: false,
            named,
        }
    }

    fn refused(reason: &str) -> Error {
        Error::Name(reason.to_string())
    }

    /// Looks at what the room sent. Returns true once the name is ours, an error if the
    /// room refused it.
    async fn hear(&mut self, mut bytes: &[u8], stream: &mut TcpStream) -> Result<bool, Error> {
        while !bytes.is_empty() {
            let (piece, ended) = match memchr::memchr(b'\n', bytes) {
                Some(end) => (&bytes[..end], true),
                None => (bytes, false),
            };
            bytes = &bytes[(piece.len() + 1).min(bytes.len())..];
            let room = NAMING_LINE - self.partial.len();
            self.partial
                .extend_from_slice(&piece[..piece.len().min(room)]);
            self.overlong |= piece.len() > room;
            if !ended {
                break;
            }
            let line = std::mem::take(&mut self.partial);
            let whole = !std::mem::replace(&mut self.overlong, false);
            if whole && self.heard_line(&line, stream).await? {
                return Ok(true);
            }
            self.partial = line;
            self.partial.clear();
        }
        Ok(false)
    }

    /// Looks at one whole line from the room (without its newline).
    async fn heard_line(&mut self, line: &[u8], stream: &mut TcpStream) -> Result<bool, Error> {
        let line = String::from_utf8_lossy(line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        match &self.me {
            None => {
                if let Some(me) = line.strip_prefix("You are ") {
                    self.me = Some(me.to_string());
                    let ask = format!("/nick {}\n", self.name);
                    stream
                        .write_all(ask.as_bytes())
                        .await
                        .map_err(|e| Error::io("connection lost", e))?;
                }
            }
            Some(me) => {
                if line == format!("{me} is now known as {}", self.name) {
                    let _ = self.named.try_send(());
                    return Ok(true);
                }
                if line == format!("{me}: /nick {}", self.name) {
                    return Err(Naming::refused(
                        "the server does not know /nick (is it a gochat server?)",
                    ));
                }
                if let Some(reason) = line.strip_prefix("gochat: ") {
                    // Printed on stderr, often a terminal: shown, never obeyed.
                    return Err(Naming::refused(
                        codec::sanitize(reason.as_bytes()).trim_end(),
                    ));
                }
            }
        }
        Ok(false)
    }
}
