//! The redis-server of the bench's own that joins the `--cluster` servers into one room:
//! on a free loopback port, with nothing saved to disk, pinned like the servers, killed
//! when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{spawn_tied, tied_command};

/// Where Debian and a source build put redis-server.
const REDIS_SERVER: [&str; 2] = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"];

/// How long redis-server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RedisProc {
    child: Child,
    port: u16,
}

impl RedisProc {
    pub fn start(core: Option<usize>) -> Result<RedisProc, String> {
        let binary = REDIS_SERVER
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or("the cluster scenario needs redis-server (Debian: apt install redis-server)")?;
        let port = free_port()?;
        let mut cmd = tied_command(binary, core)?;
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn_tied(&mut cmd, binary)?;
        let redis = RedisProc { child, port };
        redis.await_pong()?;
        Ok(redis)
    }

    /// Waits until the server answers PING.
    fn await_pong(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut pong = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut pong).is_ok()
                    && &pong == b"+PONG\r\n"
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("redis-server did not answer PING".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RedisProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port for redis: {e}"))
}
