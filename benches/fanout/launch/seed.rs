//! `--compare-seed`: builds the Go server gochat descends from (`tests/seed/server.go`) with
//! the `go` on PATH, into the bench's own target directory, with caches of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest `go build` may take.
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// Builds the seed; returns its binary.
pub fn build_seed() -> Result<PathBuf, String> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fanout-seed");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let binary = out.join("seed-server");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/seed/server.go");
    let log_path = out.join("go-build.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot dup a file descriptor: {e}"))?;
    let mut child = Command::new("go")
        .arg("build")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .env("GOCACHE", out.join("gocache"))
        .env("GOPATH", out.join("gopath"))
        .env("GO111MODULE", "off")
        .env("GOTOOLCHAIN", "local")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("--compare-seed needs `go` on PATH: cannot run go: {e}"))?;
    let deadline = Instant::now() + BUILD_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(binary),
            Ok(Some(status)) => {
                let said = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!(
                    "go build {} failed ({status}): {}",
                    source.display(),
                    said.trim()
                ));
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "go build took more than {} s; gave up",
                    BUILD_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("waiting for go build: {e}")),
        }
    }
}
