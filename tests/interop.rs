//! gochat among the tools people already have: the Go chat server and client it descends
//! from (built from tests/seed/ with `go`), nc, socat and telnet.
//!
//! A test whose tool is not installed shows as ignored, with the command that installs it
//! (see `tests/common/tools.rs`); `.ci/run` installs them all and requires them.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::thread;

use common::{Client, Member, PATIENCE, Process, Server, tool};

/// The seed's server and client, built once per test run.
fn seed() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let go = tool("go");
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seed");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed");
        let build = |name: &str| {
            let binary = out.join(format!("seed-{name}"));
            let status = Command::new(&go)
                .arg("build")
                .arg("-o")
                .arg(&binary)
                .arg(source.join(format!("{name}.go")))
                .env("GOCACHE", out.join("gocache"))
                .env("GOPATH", out.join("gopath"))
                .env("GO111MODULE", "off")
                .status()
                .expect("run go build");
            assert!(status.success(), "go build {name}.go failed");
            binary
        };
        (build("server"), build("client"))
    })
}

/// Joins and waits until the member is surely in the room. The seed registers a newcomer
/// only after greeting it, so a member that just read its greeting can still miss the next
/// arrival there; the echo of its own line is how to know it is in.
fn join_settled(addr: SocketAddr) -> Member {
    let mut member = Member::join(addr);
    member.say("ready");
    member.expect(&format!("{}: ready", member.name));
    member
}

/// A running seed server on loopback, killed on drop.
struct SeedServer {
    _process: Process,
    addr: SocketAddr,
}

impl SeedServer {
    fn start(binary: &Path) -> SeedServer {
        let mut child = Process::spawn(
            Command::new(binary)
                .arg("127.0.0.1:0")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped()),
        );
        let mut first = String::new();
        let stderr = child.stderr.take().expect("piped");
        BufReader::new(stderr)
            .read_line(&mut first)
            .expect("seed start line");
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .expect("seed start line")
            .parse()
            .expect("an address");
        SeedServer {
            _process: child,
            addr,
        }
    }
}

#[test]
#[cfg_attr(not(has_go), ignore = "needs go: apt-get install golang-go")]
fn the_seeds_go_client_works_against_gochat() {
    let (_, go_client) = seed();
    let room = Server::start(&[]);
    let mut watcher = room.join();
    let mut child = Process::spawn(
        Command::new(go_client)
            .arg(room.addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    // What the Go client prints, line by line, as it prints it.
    let (printed, client_lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if printed.send(line).is_err() {
                break;
            }
        }
    });
    let mut client = Client::adopt(child);
    let printed_next = || {
        client_lines
            .recv_timeout(PATIENCE)
            .expect("the Go client printed")
    };
    let name = watcher.line().replace(" has arrived", "");
    assert_eq!(printed_next(), format!("You are {name}"));
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"hello from go\n")
        .unwrap();
    watcher.expect(&format!("{name}: hello from go"));
    assert_eq!(printed_next(), format!("{name}: hello from go"));
    watcher.say("hello from nc");
    watcher.expect(&format!("{}: hello from nc", watcher.name));
    assert_eq!(printed_next(), format!("{}: hello from nc", watcher.name));
    // The Go client never closes on its own before its stdin ends; end it. It exits at
    // once, without waiting for its other copy, whose read of the closed socket may make
    // it exit 1 (the Go client's flaw, which `gochat connect` does not have): so what it
    // printed before is checked, not its status.
    client.end_input();
    watcher.expect(&format!("{name} has left"));
    client.finish(PATIENCE);
}

#[test]
#[cfg_attr(not(has_go), ignore = "needs go: apt-get install golang-go")]
fn gochat_connect_works_against_the_seeds_go_server() {
    let (go_server, _) = seed();
    let seed = SeedServer::start(go_server);
    let mut watcher = join_settled(seed.addr);
    let mut client = Client::start(seed.addr, &[]);
    let name = watcher.line().replace(" has arrived", "");
    let file: String = (0..1000).map(|n| format!("piped line {n}\n")).collect();
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(file.as_bytes())
        .unwrap();
    for n in 0..1000 {
        watcher.expect(&format!("{name}: piped line {n}"));
    }
    client.end_input();
    watcher.expect(&format!("{name} has left"));
    let (status, out, err) = client.finish(PATIENCE);
    assert!(status.success(), "{err}");
    assert!(out.starts_with(&format!("You are {name}\n")), "{out}");
}

#[test]
#[cfg_attr(not(has_go), ignore = "needs go: apt-get install golang-go")]
fn gochat_matches_the_seed_byte_for_byte() {
    let (go_server, _) = seed();
    let seed = SeedServer::start(go_server);
    let ours = Server::start(&[]);
    let mut transcripts = Vec::new();
    for addr in [seed.addr, ours.addr] {
        let mut a = join_settled(addr);
        let mut b = Member::join(addr);
        a.expect(&format!("{} has arrived", b.name));
        b.say("tab\tand spaces  ");
        let mut seen = vec![
            a.line().replace(&b.name, "B"),
            b.line().replace(&b.name, "B"),
        ];
        let b_name = b.name.clone();
        drop(b);
        seen.push(a.line().replace(&b_name, "B"));
        transcripts.push(seen);
    }
    assert_eq!(transcripts[0], transcripts[1]);
}

/// A tool joins a room, says one line, and leaves at end of its input; a raw member
/// watches. Returns the tool's exit status and what it printed, with its name in the room.
fn chat_through(
    program: PathBuf,
    args: impl Fn(SocketAddr) -> Vec<String>,
) -> (bool, String, String) {
    let room = Server::start(&[]);
    let mut watcher = room.join();
    let child = Process::spawn(
        Command::new(&program)
            .args(args(room.addr))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut client = Client::adopt(child);
    let name = watcher.line().replace(" has arrived", "");
    let said = format!("hi from {}", program.display());
    client
        .stdin
        .as_mut()
        .unwrap()
        .write_all(format!("{said}\n").as_bytes())
        .unwrap();
    // Telnet sends CRLF: the room must show the line without the CR.
    watcher.expect(&format!("{name}: {said}"));
    client.end_input();
    watcher.expect(&format!("{name} has left"));
    let (status, out, _) = client.finish(PATIENCE);
    (status.success(), out, name)
}

#[test]
#[cfg_attr(not(has_nc), ignore = "needs nc: apt-get install netcat-openbsd")]
fn nc_can_chat() {
    let nc = tool("nc");
    // -N: shut the socket down at end of input (OpenBSD nc, Debian's default).
    let (_, out, name) = chat_through(nc, |addr| {
        vec!["-N".into(), addr.ip().to_string(), addr.port().to_string()]
    });
    assert!(out.starts_with(&format!("You are {name}\n")), "{out}");
}

#[test]
#[cfg_attr(not(has_socat), ignore = "needs socat: apt-get install socat")]
fn socat_can_chat() {
    let socat = tool("socat");
    let (ok, out, name) = chat_through(socat, |addr| vec!["-".into(), format!("TCP:{addr}")]);
    assert!(ok);
    assert!(out.starts_with(&format!("You are {name}\n")), "{out}");
}

#[test]
#[cfg_attr(not(has_telnet), ignore = "needs telnet: apt-get install telnet")]
fn telnet_can_chat_and_its_crlf_is_dropped() {
    let telnet = tool("telnet");
    chat_through(telnet, |addr| {
        vec![addr.ip().to_string(), addr.port().to_string()]
    });
}

#[test]
#[cfg_attr(not(has_go), ignore = "needs go: apt-get install golang-go")]
fn connect_with_a_name_says_when_the_server_knows_no_names() {
    let (go_server, _) = seed();
    let seed = SeedServer::start(go_server);
    let mut client = Client::start(seed.addr, &["--name", "ada"]);
    let stdin = client.stdin.take(); // input open: only the refusal ends it
    let (status, _, err) = client.finish(PATIENCE);
    drop(stdin);
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(
        err,
        "gochat: cannot take the name: the server does not know /nick (is it a gochat server?)\n"
    );
}
