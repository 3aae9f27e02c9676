//! The codec under arbitrary input: what the network can send, split wherever it likes.
//!
//! No panic, every line within `max_line` and free of control characters, the same result
//! however the input is split, and the text itself surviving (modulo the sanitizing, as
//! computed here by a separate, deliberately simple reference).

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

/// The reference: each input line, lossily decoded, with control characters in caret
/// notation. A `\r` that ends a line (before `\n` or at the end of input) is dropped.
fn reference_lines(input: &[u8]) -> Vec<String> {
    if input.is_empty() {
        return Vec::new();
    }
    let body = input.strip_suffix(b"\n").unwrap_or(input);
    body.split(|&b| b == b'\n')
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            String::from_utf8_lossy(line)
                .chars()
                .map(|c| match c as u32 {
                    0x09 => "\t".to_string(),
                    n @ 0x00..=0x1f => format!("^{}", char::from(n as u8 + 0x40)),
                    0x7f => "^?".to_string(),
                    n @ 0x80..=0x9f => format!("M-^{}", char::from((n - 0x80) as u8 + 0x40)),
                    _ => c.to_string(),
                })
                .collect()
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
        Just("\u{9b}\u{85}".as_bytes().to_vec()),
        Just(vec![0xff, 0xc3, 0xe2, 0x82]),
        Just(vec![0xf0, 0x9f, 0x98]),
        any::<u8>().prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
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
        let out = decode_split(max_line, &input, &[]);
        let pieces: String = lines(&out).map(|l| std::str::from_utf8(l).unwrap()).collect();
        let whole: String = reference_lines(&input).concat();
        prop_assert_eq!(pieces, whole);
    }
}
