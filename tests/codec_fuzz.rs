//! The codec under arbitrary input: what the network can send, split wherever it likes.
//!
//! No panic, every line within `max_line` and free of control characters, bidi controls
//! and invisible characters, the same result however the input is split, and the text
//! itself surviving (modulo the sanitizing, as computed here by a separate, deliberately
//! simple reference).

use gochat::codec::{LineDecoder, lines};
use proptest::prelude::*;

/// Decodes `input` split at `cuts` (positions, any order, duplicates allowed).
fn decode_split(max_line: usize, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut decoder = LineDecoder::new(max_line);
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        decoder.decode(&input[from..cut], &mut out);
        assert!(
            decoder.pending() <= decoder.max_line() + 3,
            "buffered past max_line"
        );
        from = cut;
    }
    decoder.finish(&mut out);
    out
}

/// Bidi controls, line separators and invisible characters: shown by code point.
fn hidden(c: char) -> bool {
    matches!(c as u32,
        0xAD | 0x34F | 0x61C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFEFF | 0xFFA0
        | 0xFFF0..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// ZWNJ and ZWJ, which pass right after a character they join.
fn joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// Characters a joiner joins: emoji, and the Arabic and Indic scripts.
fn joins(c: char) -> bool {
    matches!(c as u32,
        0x600..=0x8FF | 0x900..=0xDFF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFE | 0xFE0F
        | 0x2300..=0x23FF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x1F000..=0x1FAFF)
}

/// The reference: each input line, lossily decoded, with control characters in caret
/// notation and hidden characters as `<U+XXXX>`. A `\r` that ends a line (before `\n` or
/// at the end of input) is dropped.
fn reference_lines(input: &[u8]) -> Vec<String> {
    if input.is_empty() {
        return Vec::new();
    }
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    body.split(|&b| b == b'\n')
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let mut shown = String::new();
            for c in String::from_utf8_lossy(line).chars() {
                match c as u32 {
                    0x09 => shown.push('\t'),
                    n @ 0x00..=0x1f => shown.push_str(&format!("^{}", char::from(n as u8 + 0x40))),
                    0x7f => shown.push_str("^?"),
                    n @ 0x80..=0x9f => {
                        shown.push_str(&format!("M-^{}", char::from((n - 0x80) as u8 + 0x40)))
                    }
                    _ if joiner(c) && shown.chars().last().is_some_and(joins) => shown.push(c),
                    n if hidden(c) => shown.push_str(&format!("<U+{n:04X}>")),
                    _ => shown.push(c),
                }
            }
            shown
        })
        .collect()
}

/// Bytes that look like what people (and attackers) send: text, UTF-8, escapes, CR/LF,
/// invalid sequences.
fn chat_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        "[a-z ]{0,12}".prop_map(String::into_bytes),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\x1b[2J".to_vec()),
        Just("é€🦀".as_bytes().to_vec()),
        Just(b"/".to_vec()),
        Just(b"//nick x".to_vec()),
        Just("\u{9b}\u{85}".as_bytes().to_vec()),
        Just(
            "\u{202E}\u{2066}\u{2069}\u{061C}\u{200F}"
                .as_bytes()
                .to_vec()
        ),
        Just(
            "\u{200B}\u{FEFF}\u{00AD}\u{2028}\u{2029}\u{E0041}"
                .as_bytes()
                .to_vec()
        ),
        Just("❤\u{FE0F}\u{200D}🔥\u{200D}".as_bytes().to_vec()),
        Just("ی\u{200C}\u{200C}x\u{200D}".as_bytes().to_vec()),
        prop::char::range('\u{2000}', '\u{2070}').prop_map(|c| c.to_string().into_bytes()),
        prop::char::range('\u{E0000}', '\u{E0080}').prop_map(|c| c.to_string().into_bytes()),
        Just(vec![0xff, 0xc3, 0xe2, 0x82]),
        Just(vec![0xf0, 0x9f, 0x98]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// Pieces put back together: what a cut changes is only that a joiner cut from the
/// character it joins is shown, so it is put back as it was.
fn rejoin<'a>(pieces: impl Iterator<Item = &'a str>) -> String {
    let mut whole = String::new();
    for piece in pieces {
        let mut piece = piece;
        if whole.chars().last().is_some_and(joins) {
            for (shown, raw) in [("<U+200C>", "\u{200C}"), ("<U+200D>", "\u{200D}")] {
                if let Some(rest) = piece.strip_prefix(shown) {
                    whole.push_str(raw);
                    piece = rest;
                }
            }
        }
        whole.push_str(piece);
    }
    whole
}

fn check_output(out: &[u8], max_line: usize) {
    assert!(out.is_empty() || out.ends_with(b"\n"));
    for line in lines(out) {
        assert!(
            line.len() <= max_line,
            "a line of {} > {max_line}",
            line.len()
        );
        let text = std::str::from_utf8(line).expect("output is UTF-8");
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c)),
            "a control character survived: {text:?}"
        );
        let mut before = None;
        for c in text.chars() {
            let joins_here = joiner(c) && before.is_some_and(joins);
            assert!(!hidden(c) || joins_here, "{c:?} survived: {text:?}");
            before = Some(c);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic_and_lines_stay_bounded(
        input in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max_line in 16usize..80,
    ) {
        let out = decode_split(max_line, &input, &cuts);
        check_output(&out, max_line);
    }

    #[test]
    fn where_the_input_is_split_does_not_matter(
        input in chat_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max_line in 16usize..64,
    ) {
        let whole = decode_split(max_line, &input, &[]);
        let split = decode_split(max_line, &input, &cuts);
        prop_assert_eq!(&whole, &split);
        let bytewise: Vec<usize> = (0..input.len()).collect();
        prop_assert_eq!(&whole, &decode_split(max_line, &input, &bytewise));
        check_output(&whole, max_line);
    }

    #[test]
    fn the_text_survives_sanitized(input in chat_bytes(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        // Lines never need cutting at this size: one output line per input line.
        let out = decode_split(1 << 20, &input, &cuts);
        let got: Vec<String> = lines(&out).map(|l| String::from_utf8(l.to_vec()).unwrap()).collect();
        prop_assert_eq!(got, reference_lines(&input));
    }

    #[test]
    fn cutting_long_lines_loses_nothing(input in chat_bytes(), max_line in 16usize..40) {
        // Line by line, so that only cuts are put back together.
        let body = input.strip_suffix(b"\n").unwrap_or(&input);
        let wanted = reference_lines(&input);
        let got = if input.is_empty() { Vec::new() } else { body.split(|&b| b == b'\n').collect() };
        prop_assert_eq!(got.len(), wanted.len());
        for (line, want) in got.into_iter().zip(wanted) {
            let out = decode_split(max_line, line, &[]);
            let pieces = rejoin(lines(&out).map(|l| std::str::from_utf8(l).unwrap()));
            prop_assert_eq!(pieces, want);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// `gochat connect` on a terminal sanitizes what the server already did: it must show
    /// it exactly as it came.
    #[test]
    fn sanitized_text_is_left_alone(input in chat_bytes(), max_line in 16usize..64) {
        let once = decode_split(max_line, &input, &[]);
        prop_assert_eq!(&decode_split(max_line, &once, &[]), &once);
    }
}

/// Telnet commands as a telnet sends them: two-byte commands (IP, BRK, AYT, ..., and EOF,
/// SUSP, ABORT), option negotiation, and subnegotiations with their 0xFF doubled.
fn telnet_command() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0xf0u8..=0xf9).prop_map(|c| vec![0xff, c]),
        (236u8..=238).prop_map(|c| vec![0xff, c]),
        (251u8..=254, any::<u8>()).prop_map(|(verb, option)| vec![0xff, verb, option]),
        (0u8..255, prop::collection::vec(any::<u8>(), 0..40)).prop_map(|(option, body)| {
            let mut command = vec![0xff, 0xfa, option];
            command.extend(escape_iac(&body));
            command.extend([0xff, 0xf0]);
            command
        }),
    ]
}

/// Data as telnet sends it: 0xFF doubled.
fn escape_iac(data: &[u8]) -> Vec<u8> {
    data.iter()
        .flat_map(|&b| if b == 0xff { vec![0xff, 0xff] } else { vec![b] })
        .collect()
}

/// Decodes `input` split at `cuts`, with telnet's commands dropped.
fn decode_telnet_split(max_line: usize, input: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    let mut decoder = LineDecoder::new(max_line).with_telnet();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts.into_iter().chain([input.len()]) {
        decoder.decode(&input[from..cut], &mut out);
        from = cut;
    }
    decoder.finish(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn telnet_commands_anywhere_leave_the_text_as_it_was(
        input in chat_bytes(),
        commands in prop::collection::vec((any::<usize>(), telnet_command()), 0..8),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max_line in 16usize..64,
    ) {
        let mut at: Vec<(usize, Vec<u8>)> = commands
            .into_iter()
            .map(|(i, command)| (i % (input.len() + 1), command))
            .collect();
        at.sort_by_key(|(i, _)| *i);
        let mut stream = Vec::new();
        let mut from = 0;
        for (i, command) in at {
            stream.extend(escape_iac(&input[from..i]));
            stream.extend(command);
            from = i;
        }
        stream.extend(escape_iac(&input[from..]));
        let want = decode_split(max_line, &input, &[]);
        let got = decode_telnet_split(max_line, &stream, &cuts);
        prop_assert_eq!(&got, &want);
        check_output(&got, max_line);
    }

    #[test]
    fn with_telnet_arbitrary_bytes_stay_bounded_and_never_hold_iac(
        input in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max_line in 16usize..80,
    ) {
        let out = decode_telnet_split(max_line, &input, &cuts);
        check_output(&out, max_line);
        prop_assert!(!out.contains(&0xff), "IAC in the output");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn only_a_lines_first_piece_can_start_with_the_escape_byte_alone(
        input in chat_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max_line in 16usize..40,
    ) {
        let escaping = |input: &[u8], cuts: &[usize]| {
            let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (input.len() + 1)).collect();
            cuts.sort_unstable();
            let mut decoder = LineDecoder::new(max_line).with_continuation_escape(b'/');
            let mut out = Vec::new();
            let mut from = 0;
            for cut in cuts.into_iter().chain([input.len()]) {
                decoder.decode(&input[from..cut], &mut out);
                from = cut;
            }
            decoder.finish(&mut out);
            out
        };
        let whole = escaping(&input, &[]);
        prop_assert_eq!(&escaping(&input, &cuts), &whole);
        check_output(&whole, max_line);
        // Line by line: continuations start with `//` where they would start with `/`, and
        // with one `/` taken off, the pieces make the line.
        let body = input.strip_suffix(b"\n").unwrap_or(&input);
        let wanted = reference_lines(&input);
        let got = if input.is_empty() { Vec::new() } else { body.split(|&b| b == b'\n').collect() };
        for (line, want) in got.into_iter().zip(wanted) {
            let out = escaping(line, &[]);
            let pieces: Vec<&str> = lines(&out).map(|l| std::str::from_utf8(l).unwrap()).collect();
            for piece in pieces.iter().skip(1) {
                prop_assert!(!piece.starts_with('/') || piece.starts_with("//"), "{:?}", piece);
            }
            let unescaped = pieces
                .iter()
                .enumerate()
                .map(|(i, piece)| if i > 0 { piece.strip_prefix('/').unwrap_or(piece) } else { piece });
            prop_assert_eq!(rejoin(unescaped), want);
        }
    }
}
