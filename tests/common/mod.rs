//! What the integration tests share: the real `gochat` binary, started on loopback port 0,
//! raw TCP members that behave like `nc`, and the other programs tests drive.
//!
//! Nothing here sleeps to synchronize: every wait is for a line (or an exit), with a
//! deadline, and every process is killed when its handle drops.
//!
//! - [`process`]: [`Process`] (a child killed on drop), `gochat`, `run`, [`PATIENCE`].
//! - [`server`]: [`Server`], a running `gochat serve`, and loopback addresses.
//! - [`member`]: [`Member`], a raw TCP member, and [`read_together`] for several.
//! - [`client`]: [`Client`], a running `gochat connect` (or another client program).
//! - [`terminal`]: [`Terminal`], a command on a pseudo-terminal, typed into.
//! - [`tools`]: [`tool`], and how a test that needs a program says so.
//! - [`help`]: `--help` texts, section by section.

#![allow(dead_code, unused_imports)]

pub mod client;
pub mod help;
pub mod member;
pub mod process;
pub mod server;
pub mod terminal;
pub mod tools;

pub use client::Client;
pub use help::{help, help_section};
pub use member::{Member, read_together};
pub use process::{
    PATIENCE, Process, assert_clean_error, drain, gochat, peak_rss_kib, run, run_command,
};
pub use server::{Server, closed_port, loopback_for, serve_once};
pub use terminal::Terminal;
pub use tools::tool;
