//! [`LineDecoder`]: a byte stream in, bounded lines out. It owns framing (`\n`, `\r\n`, a
//! last line without `\n`) and length (cutting a long line into pieces, never inside a
//! character or a shown form); what each character becomes is `safe.rs`'s to say.

use super::safe::{
    REPLACEMENT, caret, first_char, is_continuation, is_utf8_prefix, joiner, joins,
    safe_prefix_len, shown, utf8_len,
};
use super::telnet::Telnet;
use super::{MAX_MAX_LINE, MIN_MAX_LINE};

/// Turns a byte stream into bounded, sanitized lines.
///
/// Feed it input in chunks of any size with [`decode`](Self::decode); the result does not
/// depend on where the chunks are split.
#[derive(Debug, Clone)]
pub struct LineDecoder {
    /// The longest line we emit, in bytes (at most [`MAX_MAX_LINE`], so 32 bits hold it
    /// and the decoder stays 40 bytes).
    max_line: u32,
    /// The sanitized text of the line not yet ended; never longer than `max_line`.
    line: Vec<u8>,
    /// Raw bytes held back at the end of a chunk because the next chunk decides what they
    /// mean: the start of a UTF-8 sequence split across reads, or a `\r` that may be
    /// followed by `\n`. At most three bytes.
    carry: Carry,
    /// Only [`with_telnet`](Self::with_telnet): where the input stands in telnet's syntax.
    telnet: Option<Telnet>,
    /// Only [`with_continuation_escape`](Self::with_continuation_escape): the byte doubled
    /// at the start of a piece that continues a cut line.
    escape: Option<u8>,
    /// Whether the current line continues one that was cut (it is not a line's start).
    continuing: bool,
}

/// A few held-back bytes, kept inline: every member has a decoder, so it stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Carry {
    bytes: [u8; 4],
    len: u8,
}

impl Carry {
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn len(&self) -> usize {
        usize::from(self.len)
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len()]
    }

    fn push(&mut self, b: u8) {
        // Never more than a UTF-8 sequence's worth; anything past that is not kept.
        if self.len() < self.bytes.len() {
            self.bytes[self.len()] = b;
            self.len += 1;
        }
    }

    fn extend_from_slice(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

impl LineDecoder {
    /// A decoder that emits lines of at most `max_line` bytes.
    ///
    /// `max_line` is clamped to [`MIN_MAX_LINE`]`..=`[`MAX_MAX_LINE`].
    pub fn new(max_line: usize) -> Self {
        LineDecoder {
            max_line: u32::try_from(max_line.clamp(MIN_MAX_LINE, MAX_MAX_LINE)).unwrap_or(u32::MAX),
            line: Vec::new(),
            carry: Carry::default(),
            telnet: None,
            escape: None,
            continuing: false,
        }
    }

    /// The same decoder, that never starts a piece continuing a cut line with a lone
    /// `byte`: it doubles it there. For a reader that takes a line starting with `byte` to
    /// mean something (the room's commands start with `/`, and `//` sends a `/`), so that
    /// only a line's first piece can: the rest of an over-long line stays text. The doubled
    /// byte counts toward `max_line`.
    ///
    /// ```
    /// use gochat::codec::LineDecoder;
    ///
    /// let mut decoder = LineDecoder::new(16).with_continuation_escape(b'/');
    /// let mut out = Vec::new();
    /// decoder.decode(b"/me 456789abcdef/quit\n", &mut out);
    /// assert_eq!(out, b"/me 456789abcdef\n//quit\n");
    /// ```
    pub fn with_continuation_escape(mut self, byte: u8) -> Self {
        self.escape = Some(byte);
        self
    }

    /// The same decoder, that also drops telnet's commands and option negotiation from
    /// its input (see `telnet.rs`), whatever reads they are split across: for what members
    /// send to the server, where telnet is a client. `IAC IAC` stays the byte 0xFF.
    ///
    /// ```
    /// use gochat::codec::LineDecoder;
    ///
    /// // What telnet sends for Ctrl-C: IAC IP, IAC DO TIMING-MARK.
    /// let mut decoder = LineDecoder::new(4096).with_telnet();
    /// let mut out = Vec::new();
    /// decoder.decode(b"\xff\xf4\xff\xfd\x06after ctrl-c\r\n", &mut out);
    /// assert_eq!(out, b"after ctrl-c\n");
    /// ```
    pub fn with_telnet(mut self) -> Self {
        self.telnet = Some(Telnet::Data);
        self
    }

    /// The longest line this decoder emits.
    pub fn max_line(&self) -> usize {
        self.max_line as usize
    }

    /// Bytes of unfinished input held, waiting for the rest of their line.
    pub fn pending(&self) -> usize {
        self.line.len() + self.carry.len()
    }

    /// Decodes `input`, appending every line it completes to `out` as `text\n`.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut scratch = Vec::new();
        let mut input = match self.telnet.as_mut() {
            Some(telnet) => telnet.strip(input, &mut scratch),
            None => input,
        };
        if input.is_empty() {
            return; // nothing new: what is carried still waits for what comes next
        }
        if !self.carry.is_empty() {
            input = self.resolve_carry(input, out);
        }
        while let Some(newline) = memchr::memchr(b'\n', input) {
            let mut text = &input[..newline];
            if let [rest @ .., b'\r'] = text {
                text = rest;
            }
            self.push_text(text, true, out);
            self.end_line(out);
            input = &input[newline + 1..];
        }
        if let [rest @ .., b'\r'] = input {
            self.push_text(rest, false, out);
            if self.carry.is_empty() {
                self.carry.push(b'\r');
            } else {
                // A split UTF-8 sequence cannot be followed by `\r`: it was invalid.
                self.carry.clear();
                self.push_unit(REPLACEMENT, out);
                self.carry.push(b'\r');
            }
        } else {
            self.push_text(input, false, out);
        }
        if self.line.is_empty() && self.line.capacity() > 2 * self.max_line().min(4096) {
            // Give back what a burst of long lines grew, so an idle member stays small.
            self.line = Vec::new();
        }
    }

    /// Ends the input: a last line without a newline is still a line.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let unfinished = !self.line.is_empty() || !self.carry.is_empty();
        match self.carry.as_slice() {
            // A `\r` at the very end ends the line, as it would before `\n`.
            [] | [b'\r'] => {}
            _ => self.push_unit(REPLACEMENT, out),
        }
        self.carry.clear();
        if unfinished {
            self.end_line(out);
        }
        self.line = Vec::new();
    }

    /// Settles the bytes held back from the previous chunk, now that `input` follows them,
    /// and returns the rest of `input`.
    fn resolve_carry<'a>(&mut self, input: &'a [u8], out: &mut Vec<u8>) -> &'a [u8] {
        if self.carry.as_slice() == b"\r" {
            self.carry.clear();
            if input.first() == Some(&b'\n') {
                self.end_line(out);
                return &input[1..];
            }
            self.push_unit(b"^M", out);
            return input;
        }
        // Complete the split UTF-8 sequence with the bytes that follow it, as long as they
        // keep it a possible character (E0 A0, not ED A0: the rules are UTF-8's own).
        let want = utf8_len(self.carry.as_slice()[0]);
        let mut used = 0;
        while self.carry.len() < want && used < input.len() && is_continuation(input[used]) {
            let mut candidate = self.carry.clone();
            candidate.push(input[used]);
            if !is_utf8_prefix(candidate.as_slice()) {
                break;
            }
            self.carry = candidate;
            used += 1;
        }
        let stuck = used < input.len() || self.carry.len() == want;
        if self.carry.len() < want && !stuck {
            return &input[used..]; // still incomplete: keep waiting
        }
        let held = std::mem::take(&mut self.carry);
        self.push_text(held.as_slice(), true, out);
        &input[used..]
    }

    /// Appends sanitized `text` (which holds no `\n`) to the current line, emitting a piece
    /// whenever the line would grow past `max_line`. When `complete` is false, a UTF-8
    /// sequence cut off by the end of `text` is held back instead of being replaced.
    fn push_text(&mut self, text: &[u8], complete: bool, out: &mut Vec<u8>) {
        let mut rest = text;
        while !rest.is_empty() {
            let safe = safe_prefix_len(rest);
            if safe > 0 {
                self.push_run(&rest[..safe], out);
                rest = &rest[safe..];
                continue;
            }
            let b = rest[0];
            if b < 0x80 {
                // C0 control (TAB is safe, `\n` never reaches here) or DEL.
                self.push_unit(caret(b).as_bytes(), out);
                rest = &rest[1..];
                continue;
            }
            match std::str::from_utf8(&rest[..rest.len().min(4)]) {
                Ok(_) => {}
                Err(e) if e.valid_up_to() > 0 => {}
                Err(e) if e.error_len().is_none() && !complete && rest.len() < 4 => {
                    // A character split by the end of this chunk: wait for the rest.
                    self.carry.extend_from_slice(rest);
                    return;
                }
                Err(e) => {
                    self.push_unit(REPLACEMENT, out);
                    rest = &rest[e.error_len().unwrap_or(rest.len().min(4))..];
                    continue;
                }
            }
            // A valid character that `safe_prefix_len` stopped at.
            let len = utf8_len(b);
            if let Some(c) = first_char(rest) {
                self.push_char(c, &rest[..len], out);
            }
            rest = &rest[len..];
        }
    }

    /// Appends character `c` (whose UTF-8 is `raw`), which does not pass as it is: a joiner
    /// where it joins the character before it in the same piece, its shown form otherwise
    /// (so no piece starts with an invisible joiner).
    fn push_char(&mut self, c: char, raw: &[u8], out: &mut Vec<u8>) {
        let fits = self.line.len() + raw.len() <= self.max_line();
        if joiner(c) && fits && self.last_char().is_some_and(joins) {
            self.push_unit(raw, out);
        } else {
            self.push_unit(shown(c).as_bytes(), out);
        }
    }

    /// The last character of the current line (which is sanitized, so valid UTF-8).
    fn last_char(&self) -> Option<char> {
        let tail = &self.line[self.line.len().saturating_sub(4)..];
        let start = tail.iter().rposition(|&b| !is_continuation(b))?;
        first_char(&tail[start..])
    }

    /// Appends a run of bytes that need no change, cutting on character boundaries.
    fn push_run(&mut self, mut run: &[u8], out: &mut Vec<u8>) {
        while !run.is_empty() {
            self.escape_continuation(run[0]);
            let room = self.max_line() - self.line.len();
            if run.len() <= room {
                self.line.extend_from_slice(run);
                return;
            }
            let mut cut = room;
            while cut > 0 && is_continuation(run[cut]) {
                cut -= 1;
            }
            self.line.extend_from_slice(&run[..cut]);
            self.cut_line(out);
            run = &run[cut..];
        }
    }

    /// Appends one indivisible unit (a replacement or caret notation).
    fn push_unit(&mut self, unit: &[u8], out: &mut Vec<u8>) {
        if self.line.len() + unit.len() > self.max_line() {
            self.cut_line(out);
        }
        if let Some(&first) = unit.first() {
            self.escape_continuation(first); // 1 + a unit's 10 bytes fit in any piece
        }
        self.line.extend_from_slice(unit);
    }

    /// At the start of a piece that continues a cut line, doubles the escape byte if the
    /// piece is about to start with it.
    fn escape_continuation(&mut self, first: u8) {
        if self.continuing && self.line.is_empty() && self.escape == Some(first) {
            self.line.push(first);
        }
    }

    /// Emits the current line: its line ends here.
    fn end_line(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.line);
        out.push(b'\n');
        self.line.clear();
        self.continuing = false;
    }

    /// Emits the current line as a piece of a longer one, which goes on in the next.
    fn cut_line(&mut self, out: &mut Vec<u8>) {
        self.end_line(out);
        self.continuing = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::lines;
    use crate::codec::telnet::MAX_SUBNEGOTIATION;

    fn decode_all(max_line: usize, chunks: &[&[u8]]) -> Vec<u8> {
        let mut decoder = LineDecoder::new(max_line);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.decode(chunk, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    fn decode_bytewise(max_line: usize, input: &[u8]) -> Vec<u8> {
        let chunks: Vec<&[u8]> = input.chunks(1).collect();
        decode_all(max_line, &chunks)
    }

    #[test]
    fn plain_lines_pass_through() {
        assert_eq!(decode_all(4096, &[b"a\nbc\n\n"]), b"a\nbc\n\n");
    }

    #[test]
    fn crlf_is_a_line_end_even_when_split() {
        assert_eq!(decode_all(4096, &[b"hi\r\n"]), b"hi\n");
        assert_eq!(
            decode_all(4096, &[b"hi\r", b"\nthere\r", b"\n"]),
            b"hi\nthere\n"
        );
    }

    #[test]
    fn a_lone_carriage_return_is_shown() {
        assert_eq!(decode_all(4096, &[b"a\rb\n"]), b"a^Mb\n");
        assert_eq!(decode_all(4096, &[b"a\r", b"b\n"]), b"a^Mb\n");
    }

    #[test]
    fn last_line_without_newline_is_a_line() {
        assert_eq!(decode_all(4096, &[b"one\ntwo"]), b"one\ntwo\n");
        assert_eq!(decode_all(4096, &[b"two\r"]), b"two\n");
        assert_eq!(decode_all(4096, &[b"\r"]), b"\n");
        assert_eq!(decode_all(4096, &[b""]), b"");
    }

    #[test]
    fn escapes_become_visible_text() {
        assert_eq!(decode_all(4096, &[b"\x1b[2J\n"]), b"^[[2J\n");
        assert_eq!(
            decode_all(4096, &[b"\x1b]52;c;aGk=\x07\n"]),
            b"^[]52;c;aGk=^G\n"
        );
        assert_eq!(decode_all(4096, &[b"nul\0del\x7f\n"]), b"nul^@del^?\n");
        assert_eq!(decode_all(4096, &[b"tab\tok\n"]), b"tab\tok\n");
        assert_eq!(
            decode_all(4096, &["csi\u{9b}2J\n".as_bytes()]),
            b"csiM-^[2J\n"
        );
    }

    #[test]
    fn bidi_and_invisible_characters_are_shown_by_their_code_point() {
        // Trojan-source reordering: shown, so the line reads as it is.
        assert_eq!(
            decode_all(4096, &["a\u{202E}1.0.0.721\u{202C}b\n".as_bytes()]),
            b"a<U+202E>1.0.0.721<U+202C>b\n"
        );
        let shown = [
            ('\u{202A}', "<U+202A>"),
            ('\u{202D}', "<U+202D>"),
            ('\u{2066}', "<U+2066>"),
            ('\u{2069}', "<U+2069>"),
            ('\u{200E}', "<U+200E>"),
            ('\u{200F}', "<U+200F>"),
            ('\u{061C}', "<U+061C>"),
            ('\u{200B}', "<U+200B>"),
            ('\u{2060}', "<U+2060>"),
            ('\u{2064}', "<U+2064>"),
            ('\u{FEFF}', "<U+FEFF>"),
            ('\u{180E}', "<U+180E>"),
            ('\u{00AD}', "<U+00AD>"),
            ('\u{034F}', "<U+034F>"),
            ('\u{3164}', "<U+3164>"),
            ('\u{FFA0}', "<U+FFA0>"),
            ('\u{FFF9}', "<U+FFF9>"),
            ('\u{1D173}', "<U+1D173>"),
            ('\u{E0041}', "<U+E0041>"),
            // Line and paragraph separators: no member starts a line of its own.
            ('\u{2028}', "<U+2028>"),
            ('\u{2029}', "<U+2029>"),
        ];
        for (c, want) in shown {
            let input = format!("x{c}y\n");
            let want = format!("x{want}y\n");
            assert_eq!(
                decode_all(4096, &[input.as_bytes()]),
                want.as_bytes(),
                "{c:?}"
            );
            assert_eq!(decode_bytewise(4096, input.as_bytes()), want.as_bytes());
        }
        // Visible characters and the emoji variation selector pass as they are.
        for fine in ["é€🦀", "日本語", "❤️", "1️⃣", "\u{00A0}", "\u{3000}"] {
            let input = format!("{fine}\n");
            assert_eq!(decode_all(4096, &[input.as_bytes()]), input.as_bytes());
        }
    }

    #[test]
    fn joiners_pass_only_where_they_join() {
        // Emoji sequences and Persian or Hindi spelling keep their joiners.
        for fine in [
            "❤️\u{200D}🔥",
            "👨\u{200D}👩\u{200D}👧",
            "🏃🏽\u{200D}♂️",
            "می\u{200C}خواهم",
            "क्\u{200D}ष",
        ] {
            let input = format!("{fine}\n");
            assert_eq!(
                decode_all(4096, &[input.as_bytes()]),
                input.as_bytes(),
                "{fine}"
            );
            assert_eq!(decode_bytewise(4096, input.as_bytes()), input.as_bytes());
        }
        // Anywhere else they are invisible, so they are shown.
        assert_eq!(
            decode_all(4096, &["ad\u{200D}min\n".as_bytes()]),
            b"ad<U+200D>min\n"
        );
        assert_eq!(
            decode_all(4096, &["\u{200C}x\n".as_bytes()]),
            b"<U+200C>x\n"
        );
        // A joiner joins one character: a second one in a row is shown.
        assert_eq!(
            decode_all(4096, &["🔥\u{200D}\u{200D}\n".as_bytes()]),
            "🔥\u{200D}<U+200D>\n".as_bytes()
        );
    }

    #[test]
    fn shown_code_points_are_never_split_across_pieces() {
        // 12 bytes, then 8 that do not fit in a piece of 16: they start the next one.
        let out = decode_all(16, &["0123456789ab\u{202E}cd\n".as_bytes()]);
        assert_eq!(out, b"0123456789ab\n<U+202E>cd\n");
        let out = decode_all(16, &["0123456\u{E0041}\n".as_bytes()]);
        assert_eq!(out, b"0123456<U+E0041>\n");
        // A joiner cut from what it joins would start a piece invisibly: it is shown.
        let out = decode_all(16, &["0123456789ab🔥\u{200D}🔥\n".as_bytes()]);
        assert_eq!(out, "0123456789ab🔥\n<U+200D>🔥\n".as_bytes());
    }

    /// What telnet(1) sent for `hello`, Ctrl-C, `after ctrl-c`, Ctrl-Z and Ctrl-\\ (seen on
    /// the wire): IAC IP, IAC SUSP and IAC BRK, each followed by IAC DO TIMING-MARK.
    const TELNET_SESSION: &[u8] = b"hello\r\n\xff\xf4\xff\xfd\x06after ctrl-c\r\n\
        \xff\xed\xff\xfd\x06\xff\xf3\xff\xfd\x06";

    fn decode_telnet(chunks: &[&[u8]]) -> Vec<u8> {
        let mut decoder = LineDecoder::new(4096).with_telnet();
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.decode(chunk, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    #[test]
    fn telnet_commands_are_dropped_however_they_are_split() {
        assert_eq!(decode_telnet(&[TELNET_SESSION]), b"hello\nafter ctrl-c\n");
        for split in 0..TELNET_SESSION.len() {
            let (a, b) = TELNET_SESSION.split_at(split);
            assert_eq!(decode_telnet(&[a, b]), b"hello\nafter ctrl-c\n", "{split}");
        }
        let bytewise: Vec<&[u8]> = TELNET_SESSION.chunks(1).collect();
        assert_eq!(decode_telnet(&bytewise), b"hello\nafter ctrl-c\n");
    }

    #[test]
    fn a_read_of_telnet_commands_alone_changes_nothing_pending() {
        // CR, then a read holding only IAC NOP, then LF: still one line end.
        assert_eq!(decode_telnet(&[b"hi\r", b"\xff\xf1", b"\n"]), b"hi\n");
        // Half a character, then only a command, then the rest.
        assert_eq!(
            decode_telnet(&[b"\xc3", b"\xff\xfd\x06", b"\xa9\n"]),
            "\u{e9}\n".as_bytes()
        );
    }

    #[test]
    fn telnet_negotiation_and_subnegotiation_are_dropped() {
        // WILL, WONT, DO, DONT with an option; NOP, GA, AYT, EOF (236, from RFC 1184).
        let input = b"a\xff\xfb\x01b\xff\xfc\x03c\xff\xfd\x18d\xff\xfe\x1fe\xff\xf1\xff\xf9\xff\xf6\xff\xecf\n";
        assert_eq!(decode_telnet(&[input]), b"abcdef\n");
        // SB ... SE, with a doubled IAC inside.
        let input = b"x\xff\xfa\x18\x00xterm\xff\xff\xff\xf0y\n";
        assert_eq!(decode_telnet(&[input]), b"xy\n");
        // IAC inside a subnegotiation that is not SE or IAC ends it, as a command.
        assert_eq!(decode_telnet(&[b"x\xff\xfa\x18ab\xff\xf4y\n"]), b"xy\n");
    }

    #[test]
    fn telnet_iac_iac_is_a_byte_and_not_text() {
        // 0xFF alone is not UTF-8: it becomes U+FFFD, as without telnet.
        assert_eq!(decode_telnet(&[b"a\xff\xffb\n"]), "a\u{FFFD}b\n".as_bytes());
    }

    #[test]
    fn an_endless_subnegotiation_swallows_a_bounded_amount() {
        // Past MAX_SUBNEGOTIATION bytes, what follows is shown again.
        let mut input = b"\xff\xfa".to_vec();
        input.extend_from_slice(&[b'x'; 600]);
        input.push(b'\n');
        let out = decode_telnet(&[&input]);
        assert_eq!(out, [&[b'x'; 600 - MAX_SUBNEGOTIATION][..], b"\n"].concat());
    }

    #[test]
    fn without_telnet_its_bytes_are_text_as_ever() {
        // The client's stdin and anything else that is not a member's socket.
        let want = "hello\n\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}^Fafter ctrl-c\n\
            \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}^F\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}^F\n";
        assert_eq!(decode_all(4096, &[TELNET_SESSION]), want.as_bytes());
    }

    #[test]
    fn a_decoder_stays_small() {
        // Every member holds one, idle or not.
        assert!(std::mem::size_of::<LineDecoder>() <= 40);
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(
            decode_all(4096, &[b"a\xffb\xc3\n"]),
            "a\u{FFFD}b\u{FFFD}\n".as_bytes()
        );
        // Same answer as the standard library's lossy conversion.
        let input = b"\xe2\x82 \xf0\x9f\x98 ok \xed\xa0\x80";
        let want = format!("{}\n", String::from_utf8_lossy(input));
        assert_eq!(decode_all(4096, &[input]), want.as_bytes());
        assert_eq!(decode_bytewise(4096, input), want.as_bytes());
    }

    #[test]
    fn a_split_invalid_sequence_is_replaced_as_if_whole() {
        // ED A0 starts a surrogate, never valid: two replacements, split or not.
        let want = "\u{FFFD}\u{FFFD}\n".as_bytes();
        assert_eq!(decode_all(16, &[b"\xed\xa0"]), want);
        assert_eq!(decode_all(16, &[b"\xed", b"\xa0"]), want);
        // E0 A0 80 is valid (U+0800), split anywhere.
        assert_eq!(
            decode_all(16, &[b"\xe0", b"\xa0", b"\x80"]),
            "\u{800}\n".as_bytes()
        );
    }

    #[test]
    fn multibyte_characters_survive_any_split() {
        let text = "héllo wörld ✓ 🦀\n".as_bytes();
        for split in 0..text.len() {
            assert_eq!(decode_all(4096, &[&text[..split], &text[split..]]), text);
        }
        assert_eq!(decode_bytewise(4096, text), text);
    }

    #[test]
    fn long_lines_are_cut_into_pieces_on_char_boundaries() {
        let out = decode_all(16, &[b"0123456789abcdefXYZ\n"]);
        assert_eq!(out, b"0123456789abcdef\nXYZ\n");
        // 'é' is two bytes: the cut moves back rather than split it.
        let out = decode_all(16, &["0123456789abcdeé!\n".as_bytes()]);
        assert_eq!(out, "0123456789abcde\né!\n".as_bytes());
        // A line of exactly max_line bytes is one piece.
        assert_eq!(
            decode_all(16, &[b"0123456789abcdef\n"]),
            b"0123456789abcdef\n"
        );
    }

    fn decode_escaping(max_line: usize, chunks: &[&[u8]]) -> Vec<u8> {
        let mut decoder = LineDecoder::new(max_line).with_continuation_escape(b'/');
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.decode(chunk, &mut out);
        }
        decoder.finish(&mut out);
        out
    }

    #[test]
    fn a_piece_that_continues_a_line_never_starts_with_the_escape_byte_alone() {
        let input = b"0123456789abcdef/nick sneaky\n";
        assert_eq!(
            decode_escaping(16, &[input]),
            b"0123456789abcdef\n//nick sneaky\n"
        );
        // However the input is split, also right at the cut.
        for split in 0..input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(
                decode_escaping(16, &[a, b]),
                b"0123456789abcdef\n//nick sneaky\n"
            );
        }
        // Without the option, pieces are as ever.
        assert_eq!(
            decode_all(16, &[input]),
            b"0123456789abcdef\n/nick sneaky\n"
        );
    }

    #[test]
    fn the_escape_counts_toward_max_line_and_spares_whole_lines() {
        // 16 + 20 slashes: each continuation holds 15 of them after its escape.
        let input = [&b"0123456789abcdef"[..], &[b'/'; 20], b"\n"].concat();
        assert_eq!(
            decode_escaping(16, &[&input]),
            b"0123456789abcdef\n////////////////\n//////\n"
        );
        // A first piece, and a line after a line of exactly max_line bytes, are lines.
        assert_eq!(
            decode_escaping(16, &[b"/who\n0123456789abcdef\n/who\n"]),
            b"/who\n0123456789abcdef\n/who\n"
        );
        // Any byte can be the escape, also one a shown form starts with.
        let mut decoder = LineDecoder::new(16).with_continuation_escape(b'^');
        let mut out = Vec::new();
        decoder.decode(b"0123456789abcdef\x1b[\n", &mut out);
        assert_eq!(out, b"0123456789abcdef\n^^[[\n");
        // A continuation that starts otherwise is left alone.
        assert_eq!(
            decode_escaping(16, &[b"0123456789abcdefx/y\n"]),
            b"0123456789abcdef\nx/y\n"
        );
    }

    #[test]
    fn caret_notation_is_never_split_across_pieces() {
        let out = decode_all(16, &[b"0123456789abcde\x1b\n"]);
        assert_eq!(out, b"0123456789abcde\n^[\n");
    }

    #[test]
    fn memory_held_is_bounded_by_max_line() {
        let mut decoder = LineDecoder::new(64);
        let mut out = Vec::new();
        for _ in 0..1000 {
            decoder.decode(&[b'x'; 1000], &mut out);
            assert!(decoder.pending() <= 64 + 3);
        }
        // A full piece is held until we know whether more of its line follows.
        assert_eq!(out.len(), (1000 * 1000 / 64 - 1) * 65);
        decoder.finish(&mut out);
        assert!(lines(&out).all(|line| line.len() == 64));
        assert_eq!(out.len(), 1000 * 1000 / 64 * 65);
    }
}
