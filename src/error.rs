//! Errors as values, with the context a user needs to act on them.
//!
//! Every way gochat can fail ends up here, so the binary prints each one the same way: one
//! line on stderr, `gochat: ` and the message, and an exit status that tells scripts what
//! kind of failure it was (see [`Error::exit_code`]).

use std::fmt;
use std::io;

/// Why a gochat command failed.
#[derive(Debug)]
pub enum Error {
    /// An address the user gave could not be understood.
    InvalidAddress {
        /// The address as typed.
        addr: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not listen on an address.
    Listen {
        /// The address as typed.
        addr: String,
        /// The error the system gave.
        source: io::Error,
    },
    /// The client could not reach the server.
    Connect {
        /// The address as typed.
        addr: String,
        /// The error the system gave.
        source: io::Error,
    },
    /// A running connection or the terminal failed.
    Io {
        /// What gochat was doing.
        context: &'static str,
        /// The error the system gave.
        source: io::Error,
    },
    /// The room would not give the client the name it asked for with `--name`.
    Name(String),
    /// Redis (for a cluster) cannot be reached.
    Redis {
        /// The URL as given.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The command line is wrong in a way the argument parser cannot see.
    Usage(String),
}

impl Error {
    /// The process exit status for this error: 2 for bad usage (argh's convention for
    /// argument errors), 1 for everything that went wrong at run time.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::InvalidAddress { .. } | Error::Usage(_) => 2,
            Error::Listen { .. }
            | Error::Connect { .. }
            | Error::Io { .. }
            | Error::Name(_)
            | Error::Redis { .. } => 1,
        }
    }

    /// An I/O error that happened while doing `context`.
    pub fn io(context: &'static str, source: io::Error) -> Self {
        Error::Io { context, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidAddress { addr, reason } => {
                write!(f, "invalid address {addr:?}: {reason}")
            }
            Error::Listen { addr, source } => {
                write!(f, "cannot listen on {addr}: {}", describe(source))
            }
            Error::Connect { addr, source } => {
                write!(f, "cannot connect to {addr}: {}", describe(source))
            }
            Error::Io { context, source } => write!(f, "{context}: {}", describe(source)),
            Error::Name(reason) => write!(f, "cannot take the name: {reason}"),
            Error::Redis { url, reason } => write!(f, "cannot reach redis at {url}: {reason}"),
            Error::Usage(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Listen { source, .. }
            | Error::Connect { source, .. }
            | Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A short, lowercase description of an I/O error, as a person would say it
/// ("connection refused", not "Connection refused (os error 111)").
pub fn describe(error: &io::Error) -> String {
    use io::ErrorKind::*;
    let known = match error.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset by peer",
        ConnectionAborted => "connection aborted",
        AddrInUse => "address in use",
        AddrNotAvailable => "address not available on this host",
        PermissionDenied => "permission denied",
        TimedOut => "timed out",
        BrokenPipe => "connection closed by peer",
        HostUnreachable => "host unreachable",
        NetworkUnreachable => "network unreachable",
        NetworkDown => "network down",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    tidy(&error.to_string())
}

/// An error message as gochat words its own: no "(os error N)", and a lowercase start.
pub fn tidy(message: &str) -> String {
    let text = match message.find(" (os error") {
        Some(at) => &message[..at],
        None => message,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_a_sentence() {
        let e = Error::Connect {
            addr: "localhost:8000".into(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(
            e.to_string(),
            "cannot connect to localhost:8000: connection refused"
        );
        assert_eq!(e.exit_code(), 1);
        let e = Error::InvalidAddress {
            addr: "x:y".into(),
            reason: "invalid port \"y\"".into(),
        };
        assert_eq!(e.to_string(), "invalid address \"x:y\": invalid port \"y\"");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn os_error_numbers_are_dropped() {
        let e = io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(describe(&e), "too many open files");
    }
}
