//! Reading what Redis answers: stream entries (in both RESP2 and RESP3 shapes), their
//! fields, and their ids.
//!
//! Nothing read from Redis is trusted to be what we wrote: lines are sanitized again by the
//! room's own rules, and anything malformed is skipped, never a panic.

use std::cmp::Ordering;
use std::fmt;

use redis::Value;

use crate::codec::{LineDecoder, MAX_MAX_LINE};

/// An entry's fields, in the order Redis gave them.
pub(crate) type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A stream entry's id, `MS-SEQ`: ordered as Redis orders the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct EntryId {
    ms: u64,
    seq: u64,
}

impl EntryId {
    /// The id before every entry: `0-0`.
    pub(crate) const START: EntryId = EntryId { ms: 0, seq: 0 };

    /// Reads `MS-SEQ`.
    pub(crate) fn parse(text: &str) -> Option<EntryId> {
        let (ms, seq) = text.split_once('-')?;
        Some(EntryId {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl Ord for EntryId {
    fn cmp(&self, other: &EntryId) -> Ordering {
        (self.ms, self.seq).cmp(&(other.ms, other.seq))
    }
}

impl PartialOrd for EntryId {
    fn partial_cmp(&self, other: &EntryId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Reads an XREAD reply (RESP2 arrays or RESP3 maps) into `(id, fields)` pairs.
pub(crate) fn parse_stream_reply(reply: Value) -> Vec<(EntryId, Fields)> {
    let streams: Vec<Value> = match reply {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|s| match s {
                Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
                _ => None,
            })
            .collect(),
        Value::Map(pairs) => pairs.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    };
    streams.into_iter().flat_map(parse_entries).collect()
}

/// Reads a list of stream entries (XRANGE, XREVRANGE, one stream of XREAD).
pub(crate) fn parse_entries(value: Value) -> Vec<(EntryId, Fields)> {
    let Value::Array(entries) = value else {
        return Vec::new();
    };
    entries.into_iter().filter_map(parse_entry).collect()
}

/// Reads one entry: `[id, fields]`.
fn parse_entry(entry: Value) -> Option<(EntryId, Fields)> {
    let Value::Array(mut pair) = entry else {
        return None;
    };
    if pair.len() != 2 {
        return None;
    }
    let fields = pair.pop()?;
    let id = EntryId::parse(std::str::from_utf8(&bytes_of(pair.pop()?)?).ok()?)?;
    let fields = match fields {
        Value::Array(flat) => {
            let mut flat = flat.into_iter();
            let mut fields = Vec::new();
            while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                fields.push((bytes_of(k)?, bytes_of(v)?));
            }
            fields
        }
        Value::Map(pairs) => pairs
            .into_iter()
            .filter_map(|(k, v)| Some((bytes_of(k)?, bytes_of(v)?)))
            .collect(),
        _ => return None,
    };
    Some((id, fields))
}

/// The bytes of a string-like reply.
pub(crate) fn bytes_of(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        _ => None,
    }
}

/// The value of field `name`.
pub(crate) fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(k, _)| k == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

/// The value of field `name`, as text.
pub(crate) fn field_str<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    std::str::from_utf8(field(fields, name)?).ok()
}

/// The value of field `name`, as a number.
pub(crate) fn field_u64(fields: &Fields, name: &str) -> Option<u64> {
    field_str(fields, name)?.parse().ok()
}

/// Sanitizes lines read from Redis with the room's own rules (lines as long as the codec
/// allows: they carry a name in front of a line already bounded by its server).
pub(crate) fn sanitize_lines(lines: &[u8]) -> Vec<u8> {
    let mut decoder = LineDecoder::new(MAX_MAX_LINE);
    let mut out = Vec::with_capacity(lines.len());
    decoder.decode(lines, &mut out);
    decoder.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn stream_replies_are_read_in_both_protocols() {
        let entry = Value::Array(vec![
            bulk("1-0"),
            Value::Array(vec![
                bulk("sid"),
                bulk("a"),
                bulk("seq"),
                bulk("7"),
                bulk("l"),
                bulk("x: hi\n"),
            ]),
        ]);
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk("gochat:r:log"),
            Value::Array(vec![entry.clone()]),
        ])]);
        let resp3 = Value::Map(vec![(bulk("gochat:r:log"), Value::Array(vec![entry]))]);
        for reply in [resp2, resp3] {
            let got = parse_stream_reply(reply);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].0.to_string(), "1-0");
            assert_eq!(field(&got[0].1, "l"), Some(&b"x: hi\n"[..]));
            assert_eq!(field_u64(&got[0].1, "seq"), Some(7));
            assert_eq!(field_str(&got[0].1, "sid"), Some("a"));
        }
        assert!(parse_stream_reply(Value::Nil).is_empty());
    }

    #[test]
    fn malformed_entries_are_skipped() {
        let odd = Value::Array(vec![
            Value::Array(vec![bulk("not-an-id"), Value::Array(vec![])]),
            Value::Array(vec![bulk("2-0")]),
            Value::Array(vec![
                bulk("3-0"),
                Value::Array(vec![bulk("l"), bulk("x\n")]),
            ]),
        ]);
        let got = parse_entries(odd);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.to_string(), "3-0");
    }

    #[test]
    fn entry_ids_order_as_redis_orders_them() {
        let id = |s| EntryId::parse(s).unwrap();
        assert!(id("10-0") > id("9-5"));
        assert!(id("10-1") > id("10-0"));
        assert!(EntryId::START < id("0-1"));
        assert_eq!(EntryId::parse("x-1"), None);
        assert_eq!(EntryId::parse("5"), None);
    }

    #[test]
    fn lines_from_redis_are_sanitized() {
        assert_eq!(sanitize_lines(b"a: \x1b[2J\n"), b"a: ^[[2J\n");
    }
}
