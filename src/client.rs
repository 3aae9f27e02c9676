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

use std::io::{self, IsTerminal};
use std::net::{Shutdown, SocketAddr};

use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt, future};
use smol::Unblock;

use crate::addr::ConnectAddr;
use crate::cli::ConnectArgs;
use crate::codec::{LineDecoder, MAX_MAX_LINE, MIN_MAX_LINE};
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
    let target = ConnectAddr::parse(&args.addr)?;
    let addrs = target.resolve(&args.addr)?;
    let sanitize = !args.raw && io::stdout().is_terminal();
    smol::block_on(async {
        let stream = dial(&addrs).await.map_err(|source| Error::Connect {
            addr: args.addr.clone(),
            source,
        })?;
        let _ = stream.set_nodelay(true);
        let down = print_room(stream.clone(), sanitize, args.max_line);
        let up = async {
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
    let mut stdin = Unblock::with_capacity(CHUNK, io::stdin());
    let mut decoder = LineDecoder::new(max_line);
    let mut buf = vec![0u8; CHUNK];
    let mut lines = Vec::with_capacity(CHUNK + CHUNK / 8);
    loop {
        let n = match stdin.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Up::Stdin(e)),
        };
        if n == 0 {
            decoder.finish(&mut lines);
        } else {
            decoder.decode(&buf[..n], &mut lines);
        }
        if !lines.is_empty() {
            stream.write_all(&lines).await.map_err(|_| Up::Socket)?;
            lines.clear();
        }
        if n == 0 {
            stream.shutdown(Shutdown::Write).map_err(|_| Up::Socket)?;
            return Ok(());
        }
    }
}

/// Prints what the room sends until the server closes the connection.
async fn print_room(mut stream: TcpStream, sanitize: bool, max_line: usize) -> Result<(), Error> {
    let mut stdout = Unblock::with_capacity(CHUNK, io::stdout());
    let mut decoder = sanitize.then(|| LineDecoder::new(max_line));
    let mut buf = vec![0u8; CHUNK];
    let mut shown = Vec::new();
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("connection lost", e)),
        };
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
