//! The programs tests drive besides gochat (go, nc, the shells, redis-server, ...).
//!
//! `build.rs` looks for each on `PATH` when the tests are built and sets the cfg
//! `has_NAME` (`-` as `_`) for those it finds. A test that needs one is marked so that
//! `cargo test` shows it *ignored*, with the install command, when the program is missing:
//!
//! ```ignore
//! #[test]
//! #[cfg_attr(not(has_socat), ignore = "needs socat: apt-get install socat")]
//! fn socat_can_chat() {
//!     let socat = tool("socat");
//!     // ...
//! }
//! ```
//!
//! A new program: add it to `TOOLS` in `build.rs` (name and Debian package) and to
//! `.ci/run`'s package list, then mark its tests as above. With `GOCHAT_REQUIRE_TOOLS=1`
//! (`.ci/run`) a missing program fails the build. A host without an IPv6 loopback has no
//! `has_ipv6_loopback`, and its IPv6 tests show as ignored the same way.

use std::path::PathBuf;

/// Where `name` is on `PATH`. Only for tests marked with its `has_NAME` cfg: the program
/// was there when the tests were built, so its absence now fails the test.
pub fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        })
        .unwrap_or_else(|| {
            panic!("{name} was on PATH when the tests were built, and is not now: reinstall it")
        })
}
