//! Which characters reach a terminal as they are, and how the others are shown: the rules
//! that make sure no member can drive another's terminal.

/// What U+FFFD REPLACEMENT CHARACTER looks like in UTF-8.
pub(super) const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// How many leading bytes of `bytes` are safe to pass on unchanged: printable ASCII, TAB,
/// and any UTF-8 character outside C0, DEL and C1. Stops before a byte that needs a look.
pub(super) fn safe_prefix_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if (0x20..0x7f).contains(&b) || b == b'\t' {
            i += 1;
            continue;
        }
        if b < 0x80 {
            return i;
        }
        let len = utf8_len(b);
        if len < 2 || i + len > bytes.len() {
            return i;
        }
        let seq = &bytes[i..i + len];
        if std::str::from_utf8(seq).is_err() || (b == 0xc2 && seq[1] < 0xa0) {
            return i; // invalid, or a C1 control (U+0080..=U+009F)
        }
        i += len;
    }
    i
}

/// The length of the UTF-8 sequence a leading byte announces (1 for anything else).
pub(super) fn utf8_len(lead: u8) -> usize {
    match lead {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => 1,
    }
}

/// Whether `bytes` is valid UTF-8 so far: a whole character, or the start of one.
pub(super) fn is_utf8_prefix(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// Whether `b` continues a UTF-8 sequence.
pub(super) fn is_continuation(b: u8) -> bool {
    (0x80..0xc0).contains(&b)
}
