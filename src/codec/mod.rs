//! The line format: the one place that knows what a line is.
//!
//! Both sides of gochat speak plain text lines, as the Go chat server it descends from does.
//! This module owns every rule about those lines, so the server's readers, the client's
//! stdin pipe and the client's terminal output all apply exactly the same ones:
//!
//! - **Framing.** A line ends at `\n`; a `\r` right before it is dropped (telnet sends CRLF).
//!   Input that ends without a newline still yields its last line ([`LineDecoder::finish`]).
//! - **Length.** No line is longer than `max_line` bytes. A longer one is cut into pieces of
//!   at most `max_line` bytes, each cut on a UTF-8 character boundary; nothing is dropped.
//!   The decoder never holds more than `max_line` bytes of an unfinished line (plus up to
//!   three bytes of a split character), whatever the input.
//! - **Sanitizing.** Bytes that are not UTF-8 become U+FFFD. Control characters (C0 except
//!   TAB, DEL and C1) are shown in caret notation (`^[` for ESC, `^?` for DEL, `M-^[` for
//!   U+009B) instead of being passed on, so no member can drive another's terminal. Bidi
//!   controls, line separators and invisible characters are shown by code point
//!   (`<U+202E>`), so no line can display differently from what it says; only the
//!   joiners pass where they join (emoji sequences, Arabic and Indic spelling).
//!   A shown form is never cut across pieces.
//!
//! - **Telnet** (an option, [`LineDecoder::with_telnet`], for what members send): telnet's
//!   commands and option negotiation (`IAC IP` for Ctrl-C, `IAC DO x`, `IAC SB ... IAC SE`)
//!   are dropped before anything else; `IAC IAC` is the byte 0xFF. Other input (a piped
//!   file) keeps its bytes as they are.
//!
//! The parts: [`LineDecoder`] (`decoder.rs`) frames and cuts; `safe.rs` says which
//! characters pass as they are and how the others are shown; `telnet.rs` knows telnet.
//!
//! Decoded lines are written to an output buffer as `text\n`, one after another. Sanitized
//! text never contains a control character, so `\n` is an unambiguous separator and the
//! buffer is at once a batch of lines and valid wire bytes.
//!
//! # Examples
//!
//! ```
//! use gochat::codec::LineDecoder;
//!
//! let mut decoder = LineDecoder::new(4096);
//! let mut out = Vec::new();
//! decoder.decode(b"hello\r\nclear \x1b[2J", &mut out);
//! decoder.decode(b" screen\n", &mut out);
//! assert_eq!(out, b"hello\nclear ^[[2J screen\n");
//! ```

/// The longest line, in bytes, unless the user says otherwise: long enough for any line a
/// person types or a log file holds, small enough that thousands of members' unfinished
/// lines stay cheap.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// The smallest `max_line` accepted: every sanitized character (at most 10 bytes, as in
/// `<U+E0041>`, `M-^[` or a 4-byte UTF-8 scalar) must fit in one piece, with room to spare.
pub const MIN_MAX_LINE: usize = 16;

/// The largest `max_line` accepted: a line is buffered whole per member, so this bounds
/// the memory one member can pin.
pub const MAX_MAX_LINE: usize = 1 << 20;

mod decoder;
mod safe;
mod telnet;

pub use decoder::LineDecoder;

/// Sanitizes one complete piece of text for display: the same rules as [`LineDecoder`],
/// with every `\n` treated as a line end. Handy for text that does not come from a stream.
///
/// ```
/// assert_eq!(gochat::codec::sanitize(b"bell\x07"), "bell^G\n");
/// ```
pub fn sanitize(text: &[u8]) -> String {
    let mut decoder = LineDecoder::new(MAX_MAX_LINE);
    let mut out = Vec::with_capacity(text.len() + 1);
    decoder.decode(text, &mut out);
    decoder.finish(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Iterates over the lines of a decoded batch (`text\n` repeated), without their newlines.
pub fn lines(batch: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = batch.strip_suffix(b"\n").unwrap_or(batch);
    let empty = batch.is_empty();
    body.split(|&b| b == b'\n').filter(move |_| !empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_iterates_a_batch() {
        let got: Vec<&[u8]> = lines(b"a\n\nbc\n").collect();
        assert_eq!(got, vec![&b"a"[..], b"", b"bc"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"\n").count(), 1);
    }

    #[test]
    fn sanitize_is_idempotent() {
        let once = sanitize(b"\x1b[31mred\x1b[0m \xff\x00");
        assert_eq!(sanitize(once.as_bytes()), once);
    }
}
