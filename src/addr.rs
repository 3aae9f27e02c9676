//! Addresses as users type them, and as the room shows them.
//!
//! `serve` and `connect` take Go-style addresses: `:8000` (every interface, IPv4 and IPv6),
//! `HOST:PORT`, `[::1]:8000`, or a bare port. This module turns that text into something to
//! bind or dial, with a clear error for anything else, and formats a member's address the
//! way the Go server does (`127.0.0.1:53412`, `[::1]:53412`), so the wire stays compatible.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use crate::error::Error;

/// The port a room uses when the user names none.
pub const DEFAULT_PORT: u16 = 8000;

/// Where `serve` should listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// Every interface, like Go's `:PORT`: IPv6 and IPv4 where the host has IPv6.
    AllInterfaces(u16),
    /// The addresses one host name or literal resolves to, all on the same port.
    Host {
        /// The host part as typed (a name, or an IP literal without brackets).
        host: String,
        /// The port (0 for any free port).
        port: u16,
    },
}

impl ListenAddr {
    /// Parses a listen address: `:PORT`, `PORT`, `HOST:PORT`, `[V6]:PORT`. Empty means
    /// `:8000`.
    pub fn parse(text: &str) -> Result<ListenAddr, Error> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(ListenAddr::AllInterfaces(DEFAULT_PORT));
        }
        let (host, port) = split_host_port(text)?;
        Ok(match host {
            None => ListenAddr::AllInterfaces(port),
            Some(host) => ListenAddr::Host { host, port },
        })
    }

    /// The socket addresses to bind, in order. Resolving a host name may ask the system's
    /// resolver (and so block briefly), which is fine once at start.
    pub fn resolve(&self, typed: &str) -> Result<Vec<SocketAddr>, Error> {
        match self {
            ListenAddr::AllInterfaces(port) => Ok(vec![SocketAddr::new(
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                *port,
            )]),
            ListenAddr::Host { host, port } => resolve(host, *port, typed),
        }
    }
}

/// Where `connect` should dial: a host and port, ready for the resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectAddr {
    /// The host to dial (`localhost` when the user typed only a port).
    pub host: String,
    /// The port to dial.
    pub port: u16,
}

impl ConnectAddr {
    /// Parses a dial address: `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` (this machine).
    /// Empty means `localhost:8000`.
    pub fn parse(text: &str) -> Result<ConnectAddr, Error> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(ConnectAddr {
                host: "localhost".into(),
                port: DEFAULT_PORT,
            });
        }
        let (host, port) = split_host_port(text)?;
        if port == 0 {
            return Err(invalid(text, "port 0 cannot be dialled"));
        }
        Ok(ConnectAddr {
            host: host.unwrap_or_else(|| "localhost".into()),
            port,
        })
    }

    /// The socket addresses to try, in the resolver's order.
    pub fn resolve(&self, typed: &str) -> Result<Vec<SocketAddr>, Error> {
        resolve(&self.host, self.port, typed)
    }
}

/// How the room names a member: its address as the Go server prints it. IPv4 peers of a
/// dual-stack socket arrive as `::ffff:a.b.c.d`; Go shows them as plain IPv4, and so do we.
pub fn peer_name(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()).to_string(),
            None => SocketAddr::new(IpAddr::V6(*v6.ip()), v6.port()).to_string(),
        },
        v4 => v4.to_string(),
    }
}

/// Formats the addresses a server is listening on, for its start line.
pub fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits `HOST:PORT`, `[V6]:PORT`, `:PORT` or `PORT` into an optional host and a port.
fn split_host_port(text: &str) -> Result<(Option<String>, u16), Error> {
    if !text.contains(':') {
        return Ok((None, parse_port(text, text)?));
    }
    let (host, port) = text.rsplit_once(':').unwrap_or(("", text));
    let port = parse_port(port, text)?;
    let host = if let Some(inner) = host.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| invalid(text, "missing ']' after the IPv6 address"))?;
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(invalid(text, &format!("{inner:?} is not an IPv6 address")));
        }
        inner.to_string()
    } else if host.contains(':') {
        return Err(invalid(
            text,
            "an IPv6 address needs brackets, as in [::1]:8000",
        ));
    } else {
        host.to_string()
    };
    if host.is_empty() {
        Ok((None, port))
    } else {
        Ok((Some(host), port))
    }
}

fn parse_port(port: &str, text: &str) -> Result<u16, Error> {
    if port.is_empty() {
        return Err(invalid(text, "missing port"));
    }
    port.parse::<u16>()
        .map_err(|_| invalid(text, &format!("invalid port {port:?} (want 0 to 65535)")))
}

fn resolve(host: &str, port: u16, typed: &str) -> Result<Vec<SocketAddr>, Error> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let found = (host, port).to_socket_addrs().map_err(|e| {
        invalid(
            typed,
            &format!("cannot resolve {host:?}: {}", crate::error::describe(&e)),
        )
    })?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in found {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(invalid(typed, &format!("{host:?} has no address")));
    }
    Ok(addrs)
}

fn invalid(text: &str, reason: &str) -> Error {
    Error::InvalidAddress {
        addr: text.to_string(),
        reason: reason.to_string(),
    }
}

/// The IPv4 form of an all-interfaces address, for hosts without IPv6.
pub fn ipv4_fallback(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_in_every_accepted_form() {
        assert_eq!(
            ListenAddr::parse(":8000").unwrap(),
            ListenAddr::AllInterfaces(8000)
        );
        assert_eq!(
            ListenAddr::parse("9000").unwrap(),
            ListenAddr::AllInterfaces(9000)
        );
        assert_eq!(
            ListenAddr::parse("").unwrap(),
            ListenAddr::AllInterfaces(8000)
        );
        assert_eq!(
            ListenAddr::parse(":0").unwrap(),
            ListenAddr::AllInterfaces(0)
        );
        assert_eq!(
            ListenAddr::parse("[::1]:0").unwrap(),
            ListenAddr::Host {
                host: "::1".into(),
                port: 0
            }
        );
        assert_eq!(
            ListenAddr::parse("0.0.0.0:80").unwrap(),
            ListenAddr::Host {
                host: "0.0.0.0".into(),
                port: 80
            }
        );
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        let e = ListenAddr::parse("x:y").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid address \"x:y\": invalid port \"y\" (want 0 to 65535)"
        );
        let e = ListenAddr::parse("::1:80").unwrap_err().to_string();
        assert!(e.contains("needs brackets"), "{e}");
        let e = ListenAddr::parse("[::1:80").unwrap_err().to_string();
        assert!(e.contains("missing ']'"), "{e}");
        let e = ListenAddr::parse("host:").unwrap_err().to_string();
        assert!(e.contains("missing port"), "{e}");
        let e = ConnectAddr::parse("host:0").unwrap_err().to_string();
        assert!(e.contains("port 0"), "{e}");
        let e = ListenAddr::parse("99999").unwrap_err().to_string();
        assert!(e.contains("invalid port"), "{e}");
    }

    #[test]
    fn dial_addresses_default_to_this_machine() {
        let a = ConnectAddr::parse("").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("localhost", 8000));
        let a = ConnectAddr::parse(":9000").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("localhost", 9000));
        let a = ConnectAddr::parse("[::1]:9000").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 9000));
    }

    #[test]
    fn peers_are_named_as_go_names_them() {
        let v4: SocketAddr = "127.0.0.1:53412".parse().unwrap();
        assert_eq!(peer_name(v4), "127.0.0.1:53412");
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:53412".parse().unwrap();
        assert_eq!(peer_name(mapped), "127.0.0.1:53412");
        let v6: SocketAddr = "[::1]:53412".parse().unwrap();
        assert_eq!(peer_name(v6), "[::1]:53412");
    }
}
