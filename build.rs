//! Finds the programs the integration tests drive (go, nc, the shells, redis-server, ...) and
//! tells the tests which are here, so a test whose program is missing shows up as *ignored*
//! in `cargo test`'s summary, with the command that installs it, instead of passing without
//! having run.
//!
//! For each program in [`TOOLS`] found on `PATH`, this sets the cfg `has_NAME` (the name
//! with `-` as `_`: `has_redis_server`). A test that needs one says so:
//!
//! ```ignore
//! #[test]
//! #[cfg_attr(not(has_nc), ignore = "needs nc: apt-get install netcat-openbsd")]
//! fn nc_can_chat() {
//!     let nc = common::tool("nc");
//!     // ...
//! }
//! ```
//!
//! `has_ipv6_loopback` is set the same way when this host can bind `[::1]`.
//!
//! A new program is one line in [`TOOLS`] (and its package in `.ci/run`). With
//! `GOCHAT_REQUIRE_TOOLS=1` (set by `.ci/run`, which installs them all) a missing program
//! fails the build instead, naming the packages to install; `GOCHAT_REQUIRE_REDIS=1`
//! requires redis-server alone.
//!
//! Cargo keeps a build script's answer until something it was told to watch changes: `PATH`
//! and the two variables above; each program found (so removing it is noticed); and, while
//! any is missing, the `PATH` directories themselves (installing a program adds an entry,
//! which changes its directory).

use std::env;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Every program a test may need: its name on `PATH` and the Debian package that has it.
const TOOLS: &[(&str, &str)] = &[
    ("bash", "bash"),
    ("fish", "fish"),
    ("go", "golang-go"),
    ("groff", "groff-base"),
    ("nc", "netcat-openbsd"),
    ("redis-server", "redis-server"),
    ("script", "bsdutils"),
    ("shellcheck", "shellcheck"),
    ("socat", "socat"),
    ("telnet", "telnet"),
    ("zsh", "zsh"),
];

/// The cfg set when this host has an IPv6 loopback (`::1`) to test on.
const IPV6_LOOPBACK: &str = "has_ipv6_loopback";

fn main() -> ExitCode {
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["PATH", "GOCHAT_REQUIRE_TOOLS", "GOCHAT_REQUIRE_REDIS"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let cfgs: Vec<String> = TOOLS.iter().map(|(name, _)| cfg_name(name)).collect();
    println!(
        "cargo::rustc-check-cfg=cfg({}, {IPV6_LOOPBACK})",
        cfgs.join(", ")
    );
    // Not a program, but a test needs it the same way; no CI machine is required to have it.
    if std::net::TcpListener::bind("[::1]:0").is_ok() {
        println!("cargo::rustc-cfg={IPV6_LOOPBACK}");
    }

    let dirs: Vec<PathBuf> = env::var_os("PATH")
        .map(|path| env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut missing = Vec::new();
    for &(name, package) in TOOLS {
        match find(&dirs, name) {
            Some(path) => {
                println!("cargo::rustc-cfg={}", cfg_name(name));
                println!("cargo::rerun-if-changed={}", path.display());
            }
            None => missing.push((name, package)),
        }
    }
    if missing.is_empty() {
        return ExitCode::SUCCESS;
    }
    for dir in dirs.iter().filter(|dir| dir.is_absolute() && dir.is_dir()) {
        println!("cargo::rerun-if-changed={}", dir.display());
    }
    let (required, allowed): (Vec<_>, Vec<_>) =
        missing.into_iter().partition(|&(name, _)| required(name));
    if !required.is_empty() {
        eprintln!(
            "gochat: GOCHAT_REQUIRE_TOOLS or GOCHAT_REQUIRE_REDIS is 1, and the tests need \
             programs that are not on PATH: {}",
            not_on_path(&required)
        );
        return ExitCode::FAILURE;
    }
    println!(
        "cargo::warning=not on PATH: {}; the tests that need them will show as ignored",
        not_on_path(&allowed)
    );
    ExitCode::SUCCESS
}

/// The missing programs and how to install them: "go, zsh (apt-get install golang-go zsh)".
fn not_on_path(missing: &[(&str, &str)]) -> String {
    let names: Vec<&str> = missing.iter().map(|&(name, _)| name).collect();
    let packages: Vec<&str> = missing.iter().map(|&(_, package)| package).collect();
    format!(
        "{} (apt-get install {})",
        names.join(", "),
        packages.join(" ")
    )
}

/// The cfg a test names for a program: `has_redis_server` for `redis-server`.
fn cfg_name(program: &str) -> String {
    format!("has_{}", program.replace('-', "_"))
}

/// Whether the environment says this program must be there.
fn required(program: &str) -> bool {
    let set = |var: &str| env::var(var).as_deref() == Ok("1");
    set("GOCHAT_REQUIRE_TOOLS") || (program == "redis-server" && set("GOCHAT_REQUIRE_REDIS"))
}

/// The first file called `program` in the `PATH` directories, as a shell would find it.
fn find(dirs: &[PathBuf], program: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(|dir| dir.join(program))
        .find(|path| is_executable(path))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
