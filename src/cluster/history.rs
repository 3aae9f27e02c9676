//! A newcomer's history: the room's last lines, read from the log when this server joins,
//! so that it is the same on every server and survives every server restarting.

use redis::RedisResult;
use redis::aio::MultiplexedConnection;

use super::keys::Keys;
use super::reply::{EntryId, field, parse_entries, sanitize_lines};

/// Reads the room's last `lines` lines from the log, and the id to read on from.
pub(crate) async fn load(
    con: &mut MultiplexedConnection,
    keys: &Keys,
    lines: usize,
) -> RedisResult<(Vec<u8>, EntryId)> {
    let newest = redis::cmd("XREVRANGE")
        .arg(&keys.log)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(lines.max(1))
        .query_async(con)
        .await?;
    let entries = parse_entries(newest);
    let last = entries.first().map_or(EntryId::START, |(id, _)| *id);
    if lines == 0 {
        return Ok((Vec::new(), last));
    }
    let mut all = Vec::new();
    for (_, fields) in entries.iter().rev() {
        if let Some(text) = field(fields, "l") {
            all.extend_from_slice(&sanitize_lines(text));
        }
    }
    Ok((last_lines(&all, lines).to_vec(), last))
}

/// The last `lines` lines of `all` (each ending in `\n`).
fn last_lines(all: &[u8], lines: usize) -> &[u8] {
    let count = memchr::memchr_iter(b'\n', all).count();
    let skip = count.saturating_sub(lines);
    let start = memchr::memchr_iter(b'\n', all)
        .nth(skip.wrapping_sub(1))
        .filter(|_| skip > 0)
        .map_or(0, |at| at + 1);
    &all[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_lines() {
        assert_eq!(last_lines(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(last_lines(b"a\nb\nc\n", 3), b"a\nb\nc\n");
        assert_eq!(last_lines(b"a\nb\nc\n", 5), b"a\nb\nc\n");
        assert_eq!(last_lines(b"a\nb\nc\n", 1), b"c\n");
        assert_eq!(last_lines(b"", 1), b"");
    }
}
