//! Where the room's Redis is: what `--redis URL` names, and how to reach it.
//!
//! - `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`: one Redis (the redis crate reads it;
//!   `PASSWORD` alone is `requirepass`, `USER:PASSWORD` an ACL user).
//! - `rediss://...`: the same over TLS (rustls; the server's certificate is checked against
//!   the system's roots, or the file `SSL_CERT_FILE` names).
//! - `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]...]/MASTER[/DB]`: the
//!   master Redis Sentinel names `MASTER`, asked of these sentinels (port 26379 unless
//!   given) every time the link is made, so the room follows a failover. The credentials
//!   and database are the master's; the sentinels are asked without them.
//!
//! Passwords never reach a log line or an error: [`redact`] hides them.

use std::time::Duration;

use futures_lite::FutureExt;
use redis::aio::MultiplexedConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Client, RedisConnectionInfo, RedisResult};
use smol::Timer;
use smol::lock::Mutex;

/// The port a sentinel listens on unless the URL says otherwise.
const SENTINEL_PORT: u16 = 26379;

/// The scheme of a Sentinel URL.
const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// What `--redis` accepts, for error messages.
const WANTED: &str = "as in redis://HOST:6379/, rediss://HOST:6379/ or redis+sentinel://HOST:26379,HOST:26379/MASTER";

/// The room's Redis.
pub(crate) enum Target {
    /// One Redis server.
    Direct {
        /// Its client (connections are made from it).
        client: Client,
        /// Its address, for log lines.
        shown: String,
    },
    /// Whichever server the sentinels name master.
    Sentinel {
        /// The sentinels, asked for the master at every connection. A lock because asking
        /// needs the client whole (it keeps its connections to the sentinels).
        sentinels: Mutex<SentinelClient>,
        /// The master's name and the sentinels, for log lines.
        shown: String,
    },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.shown())
    }
}

impl Target {
    /// Reads `--redis URL`; the error is a line for the user.
    pub(crate) fn parse(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("--redis: {:?} {why} ({WANTED})", redact(url));
        if url.starts_with(SENTINEL_SCHEME) {
            return parse_sentinel(url).map_err(|why| bad(&why));
        }
        if url.starts_with("rediss://") {
            // The redis crate asks rustls for its process-wide crypto: ours, unless another
            // part of gochat installed one first.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = Client::open(url).map_err(|e| {
            let reason = crate::error::tidy(&e.to_string());
            bad(&format!("is not a redis URL: {reason}"))
        })?;
        let shown = client.get_connection_info().addr().to_string();
        Ok(Target::Direct { client, shown })
    }

    /// Where the room's Redis is, for log lines (no password).
    pub(crate) fn shown(&self) -> &str {
        match self {
            Target::Direct { shown, .. } | Target::Sentinel { shown, .. } => shown,
        }
    }

    /// A new connection to the room's Redis (for Sentinel: to the master it names now),
    /// and the address it reached.
    pub(crate) async fn connect(
        &self,
        config: &AsyncConnectionConfig,
        timeout: Duration,
    ) -> RedisResult<(MultiplexedConnection, String)> {
        let client = match self {
            Target::Direct { client, .. } => client.clone(),
            Target::Sentinel { sentinels, .. } => {
                let ask = async { sentinels.lock().await.async_get_client().await };
                ask.or(async {
                    Timer::after(timeout).await;
                    Err(redis::RedisError::from(std::io::Error::from(
                        std::io::ErrorKind::TimedOut,
                    )))
                })
                .await?
            }
        };
        let addr = client.get_connection_info().addr().to_string();
        let con = client
            .get_multiplexed_async_connection_with_config(config)
            .await?;
        Ok((con, addr))
    }
}

/// Reads a `redis+sentinel://` URL; the error says what is wrong with it.
fn parse_sentinel(url: &str) -> Result<Target, String> {
    let rest = &url[SENTINEL_SCHEME.len()..];
    let (authority, path) = rest
        .split_once('/')
        .ok_or("names no master (/MASTER after the sentinels)")?;
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let nodes = hosts
        .split(',')
        .map(sentinel_node)
        .collect::<Result<Vec<String>, String>>()?;
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let master = segments
        .next()
        .ok_or("names no master (/MASTER after the sentinels)")?;
    let mut redis = RedisConnectionInfo::default();
    if let Some(db) = segments.next() {
        let db: i64 = db
            .parse()
            .map_err(|_| format!("has a bad database {db:?}"))?;
        redis = redis.set_db(db);
    }
    if let Some(userinfo) = userinfo {
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        if !user.is_empty() {
            redis = redis.set_username(decode(user)?);
        }
        if !password.is_empty() {
            redis = redis.set_password(decode(password)?);
        }
    }
    let node_info = SentinelNodeConnectionInfo::default().set_redis_connection_info(redis);
    let shown = format!("{master} (sentinels {hosts})");
    let sentinels =
        SentinelClient::build(nodes, master, Some(node_info), SentinelServerType::Master)
            .map_err(|e| crate::error::tidy(&e.to_string()))?;
    Ok(Target::Sentinel {
        sentinels: Mutex::new(sentinels),
        shown,
    })
}

/// A sentinel's `HOST[:PORT]` as the URL the redis crate wants.
fn sentinel_node(node: &str) -> Result<String, String> {
    if node.is_empty() {
        return Err("names an empty sentinel".into());
    }
    let (host, port) = match node.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port: u16 = port
                .parse()
                .map_err(|_| format!("has a bad sentinel port {port:?}"))?;
            (host, port)
        }
        _ => (node, SENTINEL_PORT),
    };
    if host.is_empty() {
        return Err(format!("names a sentinel without a host ({node:?})"));
    }
    Ok(format!("redis://{host}:{port}/"))
}

/// Undoes `%XX` escapes (a password with `@`, `:` or `/` in it must be written so).
fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).unwrap_or_default();
            let byte = u8::from_str_radix(hex, 16).map_err(|_| "has a bad %-escape".to_string())?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "has a %-escape that is not UTF-8".into())
}

/// `url` with its password (if any) replaced by `***`, to be shown.
pub(crate) fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|at| at + 3) else {
        return url.to_string();
    };
    let authority_end = url[start..].find('/').map_or(url.len(), |at| start + at);
    let Some(at) = url[start..authority_end].rfind('@').map(|at| start + at) else {
        return url.to_string();
    };
    match url[start..at].find(':').map(|colon| start + colon) {
        Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(redact("redis://:secret@h:1/"), "redis://:***@h:1/");
        assert_eq!(redact("redis://ada:s:e@h:1/0"), "redis://ada:***@h:1/0");
        assert_eq!(
            redact("redis+sentinel://u:p@a:1,b:2/m"),
            "redis+sentinel://u:***@a:1,b:2/m"
        );
        assert_eq!(redact("redis://h:1/"), "redis://h:1/");
        assert_eq!(redact("nonsense"), "nonsense");
    }

    #[test]
    fn sentinel_urls_are_read() {
        let Ok(Target::Sentinel { shown, .. }) =
            Target::parse("redis+sentinel://:pw@127.0.0.1:5000,[::1],h/gochat/2")
        else {
            panic!("a sentinel URL");
        };
        assert_eq!(shown, "gochat (sentinels 127.0.0.1:5000,[::1],h)");
        assert_eq!(sentinel_node("h").unwrap(), "redis://h:26379/");
        assert_eq!(sentinel_node("[::1]:7").unwrap(), "redis://[::1]:7/");
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_the_password() {
        let error = |url| Target::parse(url).expect_err("refused");
        assert!(error("redis+sentinel://:pw@h:1").contains("names no master"));
        assert!(error("redis+sentinel://h:1/").contains("names no master"));
        assert!(error("redis+sentinel://h:x/m").contains("bad sentinel port"));
        assert!(error("redis+sentinel://h:1,/m").contains("empty sentinel"));
        assert!(error("redis+sentinel://h/m/x").contains("bad database"));
        let nonsense = error("nonsense://:pw@x");
        assert!(nonsense.starts_with("--redis: \"nonsense://:***@x\" is not a redis URL"));
        assert!(!nonsense.contains("pw"));
    }

    #[test]
    fn escapes_in_passwords_are_undone() {
        assert_eq!(decode("a%40b%3Ac").unwrap(), "a@b:c");
        assert!(decode("a%4").is_err());
    }
}
