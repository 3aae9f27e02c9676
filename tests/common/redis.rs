//! Redis for the cluster's tests and benches: a `redis-server` of our own (plain, with a
//! password or an ACL user, persisted to an append-only file, over TLS), and a Sentinel
//! deployment (one master, one replica, three `redis-sentinel`s), all on loopback ports
//! picked here, each process stopped by its PID when its handle drops.
//!
//! A test that finds no redis-server (or redis-sentinel) says so loudly and skips, unless
//! `GOCHAT_REQUIRE_REDIS=1` (set by `.ci/run`), where it fails with the install command.
//!
//! Self-contained (it uses nothing from `common`), so a test or a bench declares it with
//! `#[path = "common/redis.rs"] mod redis;`.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a Redis process may take to start, or a Sentinel deployment to settle.
pub const STARTUP: Duration = Duration::from_secs(20);

/// The command that installs what these tests need (Debian packages).
pub const INSTALL: &str = "sudo apt-get install redis-server redis-sentinel";

/// The master's name in the Sentinel deployment.
pub const MASTER_NAME: &str = "gochat";

/// The path of a Redis program (`redis-server`, `redis-sentinel`), or `None` after saying
/// loudly that the test did not run. With `GOCHAT_REQUIRE_REDIS=1` a missing program fails
/// the test instead, with the command that installs it.
pub fn program(name: &str) -> Option<PathBuf> {
    program_of(name, INSTALL)
}

/// The path of `name`, which `install` installs; `None` (said loudly) if it is missing.
fn program_of(name: &str, install: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = on_path
        .into_iter()
        .chain(["/usr/bin", "/usr/local/bin", "/usr/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|path| path.is_file());
    if found.is_none() {
        if std::env::var("GOCHAT_REQUIRE_REDIS").as_deref() == Ok("1") {
            panic!("{name} is required (GOCHAT_REQUIRE_REDIS=1) but not installed: {install}");
        }
        eprintln!("SKIP: {name} is not installed ({install}); this cluster test did not run");
    }
    found
}

/// A free loopback port (bound, then released for the process that will listen on it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("its address").port()
}

/// A directory of our own under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty one.
    pub fn new(what: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "gochat-{what}-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends `signal` to process `pid` (one we started).
pub fn signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// How a redis-server is started.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `requirepass`: clients must `AUTH PASSWORD` (the URL `redis://:PASSWORD@HOST/`).
    pub password: Option<String>,
    /// An ACL user with every right (the URL `redis://USER:PASSWORD@HOST/`).
    pub user: Option<(String, String)>,
    /// Persist every write to an append-only file, fsynced every second (Redis's default
    /// for AOF), so a restart reloads what was written up to about a second before.
    pub aof: bool,
    /// Replicate this master (a port on loopback).
    pub replica_of: Option<u16>,
    /// Also listen for TLS, with a certificate made for the test.
    pub tls: bool,
}

/// Files for TLS: a certificate authority, and a certificate for 127.0.0.1 it signed.
pub struct Tls {
    /// The CA's certificate: what a client must trust (`SSL_CERT_FILE`).
    pub ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Tls {
    /// Makes a CA and a server certificate for `127.0.0.1` it signed, in `dir`, with
    /// openssl (all files named there, relative to `dir`).
    fn make(dir: &Path) -> Tls {
        std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").expect("write ext");
        let new_key = "req -newkey rsa:2048 -nodes -days 2";
        openssl(
            dir,
            &format!("{new_key} -x509 -keyout ca.key -out ca.pem"),
            "/CN=gochat test CA",
        );
        openssl(
            dir,
            &format!("{new_key} -keyout redis.key -out redis.csr"),
            "/CN=127.0.0.1",
        );
        let sign = "x509 -req -in redis.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2";
        openssl(dir, &format!("{sign} -extfile ext.cnf -out redis.pem"), "");
        Tls {
            ca: dir.join("ca.pem"),
            cert: dir.join("redis.pem"),
            key: dir.join("redis.key"),
        }
    }
}

/// Runs `openssl ARGS` in `dir` (with `-subj SUBJECT` unless it is empty), which must
/// succeed.
fn openssl(dir: &Path, args: &str, subject: &str) {
    let mut command = Command::new("openssl");
    command
        .args(args.split(' '))
        .current_dir(dir)
        .stdin(Stdio::null());
    if !subject.is_empty() {
        command.args(["-subj", subject]);
    }
    let out = command.output().expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A redis-server of our own on a loopback port, killed on drop.
pub struct Redis {
    binary: PathBuf,
    /// The plain (non-TLS) port, which the test's own commands use.
    pub port: u16,
    /// The TLS port, with [`Config::tls`].
    pub tls_port: Option<u16>,
    /// The TLS files, with [`Config::tls`].
    pub tls: Option<Tls>,
    config: Config,
    child: Option<Child>,
    /// Its working directory: the append-only file lives here.
    dir: TempDir,
}

impl Redis {
    /// Starts a plain one (no persistence, no password), or returns `None` if
    /// redis-server is missing and that is allowed (see [`program`]).
    pub fn start() -> Option<Redis> {
        Redis::start_with(Config::default())
    }

    /// Starts one as `config` says, on a free port.
    pub fn start_with(config: Config) -> Option<Redis> {
        let binary = program("redis-server")?;
        if config.tls {
            program_of("openssl", "sudo apt-get install openssl")?;
        }
        let dir = TempDir::new("redis");
        let tls = config.tls.then(|| Tls::make(dir.path()));
        let mut redis = Redis {
            binary,
            port: free_port(),
            tls_port: config.tls.then(free_port),
            tls,
            config,
            child: None,
            dir,
        };
        redis.start_again();
        Some(redis)
    }

    /// The arguments it runs with.
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.path().to_string_lossy().into_owned(),
            "--save".into(),
            String::new(),
            "--appendonly".into(),
            if self.config.aof { "yes" } else { "no" }.into(),
            "--appendfsync".into(),
            "everysec".into(),
        ];
        if let Some(password) = &self.config.password {
            args.extend(["--requirepass".into(), password.clone()]);
            // A replica of this master needs it too; harmless on the master itself.
            args.extend(["--masterauth".into(), password.clone()]);
        }
        if let Some((user, password)) = &self.config.user {
            // One directive, its words as separate arguments, as redis-server reads them.
            let rule = [
                user.as_str(),
                "on",
                &format!(">{password}"),
                "~*",
                "&*",
                "+@all",
            ];
            args.push("--user".into());
            args.extend(rule.map(String::from));
        }
        if let Some(master) = self.config.replica_of {
            args.extend(["--replicaof".into(), "127.0.0.1".into(), master.to_string()]);
        }
        if let (Some(port), Some(tls)) = (self.tls_port, &self.tls) {
            let path = |p: &Path| p.to_string_lossy().into_owned();
            args.extend(["--tls-port".into(), port.to_string()]);
            args.extend(["--tls-cert-file".into(), path(&tls.cert)]);
            args.extend(["--tls-key-file".into(), path(&tls.key)]);
            args.extend(["--tls-ca-cert-file".into(), path(&tls.ca)]);
            args.extend(["--tls-auth-clients".into(), "no".into()]);
        }
        args
    }

    /// Starts the process again (after [`Redis::kill`]) on the same port, in the same
    /// directory: with [`Config::aof`] it reloads what it had written.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "redis-server is already running");
        let child = Command::new(&self.binary)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits until it answers PING (and has loaded its data), within [`STARTUP`].
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Ok(Reply::Status(pong)) = self.try_command(&["PING"]) {
                if pong == "PONG" {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("redis-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            thread::sleep(Duration::from_millis(20)); // polling a start, not synchronizing
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The URL gochat joins it with (its password or user in it, if it has one).
    pub fn url(&self) -> String {
        format!("redis://{}127.0.0.1:{}/", self.userinfo(), self.port)
    }

    /// The `rediss://` URL of its TLS port.
    pub fn tls_url(&self) -> String {
        let port = self.tls_port.expect("started with tls");
        format!("rediss://{}127.0.0.1:{port}/", self.userinfo())
    }

    fn userinfo(&self) -> String {
        match (&self.config.user, &self.config.password) {
            (Some((user, password)), _) => format!("{user}:{password}@"),
            (None, Some(password)) => format!(":{password}@"),
            (None, None) => String::new(),
        }
    }

    /// Stops it (SIGSTOP): it holds its connections and answers nothing.
    pub fn pause(&self) {
        signal(self.pid(), rustix::process::Signal::STOP);
    }

    /// Lets it go on (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid(), rustix::process::Signal::CONT);
    }

    /// Kills it (SIGKILL: nothing saved beyond what its append-only file already has).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills it and starts it again on the same port, empty (unless it keeps an
    /// append-only file).
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }

    /// Runs a command on it, as the test (authenticated if it needs to be).
    pub fn command(&self, args: &[&str]) -> Reply {
        self.try_command(args)
            .unwrap_or_else(|e| panic!("redis {args:?}: {e}"))
    }

    /// Runs a command on it, or says why it could not.
    pub fn try_command(&self, args: &[&str]) -> std::io::Result<Reply> {
        let mut auth: Vec<&str> = Vec::new();
        if let Some((user, password)) = &self.config.user {
            auth = vec!["AUTH", user, password];
        } else if let Some(password) = &self.config.password {
            auth = vec!["AUTH", password];
        }
        command_at(self.port, &auth, args)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.resume(); // a stopped process does not die of SIGKILL until continued
        self.kill();
    }
}

/// A Redis reply, as the test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...`
    Error(String),
    /// `:1`
    Int(i64),
    /// A bulk string (`None`: nil).
    Bulk(Option<String>),
    /// An array (`None`: nil).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a bulk or status reply.
    pub fn text(&self) -> Option<&str> {
        match self {
            Reply::Status(s) | Reply::Bulk(Some(s)) => Some(s),
            _ => None,
        }
    }
}

/// Runs `args` on the Redis (or Sentinel) at `port`, after the `auth` command if any.
pub fn command_at(port: u16, auth: &[&str], args: &[&str]) -> std::io::Result<Reply> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    if !auth.is_empty() {
        writer.write_all(&encode(auth))?;
        if let Reply::Error(e) = read_reply(&mut reader)? {
            return Err(std::io::Error::other(format!("AUTH: {e}")));
        }
    }
    writer.write_all(&encode(args))?;
    let reply = read_reply(&mut reader);
    let _ = writer.shutdown(Shutdown::Both);
    reply
}

/// A command as RESP: an array of bulk strings.
fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len());
    for arg in args {
        let _ = write!(out, "${}\r\n{arg}\r\n", arg.len());
    }
    out.into_bytes()
}

/// Reads one RESP2 reply.
fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::other("redis closed the connection"));
    }
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1.min(line.len()));
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| std::io::Error::other(format!("bad reply {line:?}")))
    };
    Ok(match kind {
        "+" => Reply::Status(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Int(number()?),
        "$" if number()? < 0 => Reply::Bulk(None),
        "$" => {
            let mut bytes = vec![0u8; number()? as usize + 2];
            reader.read_exact(&mut bytes)?;
            bytes.truncate(bytes.len() - 2);
            Reply::Bulk(Some(String::from_utf8_lossy(&bytes).into_owned()))
        }
        "*" if number()? < 0 => Reply::Array(None),
        "*" => {
            let items = (0..number()?)
                .map(|_| read_reply(reader))
                .collect::<std::io::Result<Vec<_>>>()?;
            Reply::Array(Some(items))
        }
        _ => return Err(std::io::Error::other(format!("bad reply {line:?}"))),
    })
}

/// A `redis-sentinel` of our own, killed on drop.
struct SentinelProcess {
    port: u16,
    child: Child,
    _dir: TempDir,
}

impl SentinelProcess {
    /// Starts one watching the master on `master` (a loopback port).
    fn start(binary: &Path, master: u16, quorum: usize) -> SentinelProcess {
        let dir = TempDir::new("sentinel");
        let port = free_port();
        let config = dir.path().join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master} {quorum}\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 10000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n",
            dir.path().display()
        );
        std::fs::write(&config, text).expect("write sentinel.conf");
        let child = Command::new(binary)
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-sentinel");
        SentinelProcess {
            port,
            child,
            _dir: dir,
        }
    }

    fn ask(&self, args: &[&str]) -> Option<Reply> {
        command_at(self.port, &[], args).ok()
    }
}

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Sentinel deployment: one master, one replica, three sentinels (quorum 2) that fail
/// over to the replica about a second after the master stops answering.
pub struct Sentinels {
    /// The master (`None` once killed).
    pub master: Option<Redis>,
    /// The replica, promoted by a failover.
    pub replica: Redis,
    sentinels: Vec<SentinelProcess>,
}

impl Sentinels {
    /// Starts it and waits until the sentinels know the replica and each other (so a
    /// failover can be agreed), or returns `None` if redis-sentinel or redis-server is
    /// missing and that is allowed.
    pub fn start() -> Option<Sentinels> {
        let sentinel = program("redis-sentinel")?;
        let master = Redis::start()?;
        let replica = Redis::start_with(Config {
            replica_of: Some(master.port),
            ..Config::default()
        })?;
        let sentinels = (0..3)
            .map(|_| SentinelProcess::start(&sentinel, master.port, 2))
            .collect();
        let deployment = Sentinels {
            master: Some(master),
            replica,
            sentinels,
        };
        deployment.wait_settled();
        Some(deployment)
    }

    /// The URL gochat follows the deployment with.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        format!("redis+sentinel://{}/{MASTER_NAME}", nodes.join(","))
    }

    /// The sentinels' ports.
    pub fn ports(&self) -> Vec<u16> {
        self.sentinels.iter().map(|s| s.port).collect()
    }

    /// Waits until the replica is in sync and every sentinel sees it and the two others.
    fn wait_settled(&self) {
        let deadline = Instant::now() + STARTUP;
        let count = |reply: Option<Reply>| match reply {
            Some(Reply::Array(Some(items))) => items.len(),
            _ => 0,
        };
        loop {
            let synced = self
                .replica
                .try_command(&["INFO", "replication"])
                .ok()
                .and_then(|r| r.text().map(|t| t.contains("master_link_status:up")))
                .unwrap_or(false);
            let known = self.sentinels.iter().all(|s| {
                count(s.ask(&["SENTINEL", "replicas", MASTER_NAME])) == 1
                    && count(s.ask(&["SENTINEL", "sentinels", MASTER_NAME])) == 2
            });
            if synced && known {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the sentinel deployment did not settle"
            );
            thread::sleep(Duration::from_millis(100)); // polling a start, not synchronizing
        }
    }

    /// Kills the master (SIGKILL): the sentinels will promote the replica.
    pub fn kill_master(&mut self) {
        if let Some(mut master) = self.master.take() {
            master.kill();
        }
    }

    /// The port the sentinels name as the master now, by a majority of them.
    pub fn master_port(&self) -> Option<u16> {
        let mut votes: Vec<u16> = self
            .sentinels
            .iter()
            .filter_map(
                |s| match s.ask(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME]) {
                    Some(Reply::Array(Some(addr))) => addr.get(1)?.text()?.parse().ok(),
                    _ => None,
                },
            )
            .collect();
        votes.sort_unstable();
        votes.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }

    /// Waits until the replica is the master, within `limit`.
    pub fn wait_promoted(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.master_port() != Some(self.replica.port) {
            assert!(
                Instant::now() < deadline,
                "no failover to the replica within {limit:?}"
            );
            thread::sleep(Duration::from_millis(50)); // polling a failover, not synchronizing
        }
    }
}
