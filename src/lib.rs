//! gochat: a chat room server and its client in one small binary.
//!
//! `gochat serve :8000` opens a room; `gochat connect localhost:8000`, `nc` or `telnet` join
//! it. The wire protocol is the classic Go chat server's, line for line: `You are ADDR`,
//! `ADDR has arrived`, `ADDR: text`, `ADDR has left`.
//!
//! # Layout
//!
//! Each module owns one idea; a folder, an idea with parts. Dependencies go one way: the
//! server uses members, members use the room, the room uses the feed and the codec.
//!
//! - [`cli`]: the command line: argh types, their defaults and limits, their value parsers.
//! - [`completions`]: the bash, zsh and fish completion scripts, generated from [`cli`]: a
//!   file per shell, each with its script template beside it.
//! - [`codec`]: what a line is: framing, the longest line, sanitizing, telnet's commands.
//!   Shared by both sides.
//! - [`chat`]: the room's commands (`/nick`, `/who`, ...) and the rules for names.
//! - [`addr`]: addresses as users type them and as the room shows them.
//! - [`server`]: `gochat serve`: binding, accepting, signals, the executor threads, and
//!   [`server::run`], a whole server in-process.
//! - [`member`]: one connection: its reader and writer tasks, over a
//!   [`Transport`](member::Transport) (plain TCP in [`member::tcp`]).
//! - [`room`]: the broadcaster, the one task that orders the room; its members, names,
//!   commands and history; the [`Link`](room::Link) it shares with each member's tasks; and
//!   the [sequencer](room::sequencer) seam between a single server and a cluster.
//! - [`outbox`]: the room's output stored once, and each member's position in it.
//! - [`relay`]: what the broadcaster and a cluster backend say to each other.
//! - `cluster` (feature `redis`, on by default): one room across many servers, on Redis.
//! - [`client`]: `gochat connect`: stdin to the room, the room to stdout.
//! - [`units`]: durations and sizes as people type them.
//! - [`error`]: errors as values, and the exit status each one means.
//!
//! The path of a line: member transport → reader (codec) → room channel → broadcaster
//! (formats `ADDR: text` once, appends to the feed) → each member's outbox → writer (one
//! write for everything waiting) → member transport.

#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms)]

pub mod addr;
pub mod chat;
pub mod cli;
pub mod client;
#[cfg(feature = "redis")]
pub mod cluster;
pub mod codec;
pub mod completions;
pub mod error;
pub mod member;
pub mod outbox;
pub mod relay;
pub mod room;
pub mod server;
pub mod units;

pub use error::Error;
