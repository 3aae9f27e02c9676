//! Which characters reach a terminal as they are, and how the others are shown: the rules
//! that make sure no member can drive another's terminal.

/// What U+FFFD REPLACEMENT CHARACTER looks like in UTF-8.
pub(super) const REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// The longest form a character is shown in, in bytes: `<U+10FFFF>`.
pub(super) const MAX_SHOWN: usize = 10;

/// How many leading bytes of `bytes` are safe to pass on unchanged: printable ASCII, TAB,
/// and any UTF-8 character that [passes](passes). Stops before a byte that needs a look.
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
        if !is_one_char(seq) || (may_hide(seq) && !first_char(seq).is_some_and(passes)) {
            return i; // invalid, or a character to show otherwise
        }
        i += len;
    }
    i
}

/// Whether `seq`, one valid UTF-8 character, may be one that does not [pass](passes): a
/// cheap first look at its first two bytes (each pair is a block of at most 64 code
/// points), so most text is never decoded to characters.
fn may_hide(seq: &[u8]) -> bool {
    matches!(
        (seq[0], seq.get(1)),
        (0xc2, _) // C1, U+00AD
            | (0xcd, Some(0x8f)) // U+034F
            | (0xd8, Some(0x9c)) // U+061C
            | (0xe1, Some(0x85 | 0x9e | 0xa0)) // U+115F, U+17B4, U+180B
            | (0xe2, Some(0x80 | 0x81)) // U+200B..U+206F
            | (0xe3, Some(0x85)) // U+3164
            | (0xef, Some(0xbb | 0xbe | 0xbf)) // U+FEFF, U+FFA0, U+FFF0
            | (0xf0, Some(0x9b | 0x9d)) // U+1BCA0, U+1D173
            | (0xf3, Some(0xa0)) // U+E0000
    )
}

/// Whether `seq` is exactly one valid UTF-8 character of 2 to 4 bytes: UTF-8's own rules
/// (no overlong forms, no surrogates, nothing past U+10FFFF), inline, as this runs for
/// every character of text that is not ASCII.
#[inline]
fn is_one_char(seq: &[u8]) -> bool {
    let cont = |b: u8| is_continuation(b);
    match *seq {
        [a, b] => (0xc2..=0xdf).contains(&a) && cont(b),
        [a, b, c] => {
            cont(c)
                && match a {
                    0xe0 => (0xa0..=0xbf).contains(&b),
                    0xed => (0x80..=0x9f).contains(&b),
                    0xe1..=0xef => cont(b),
                    _ => false,
                }
        }
        [a, b, c, d] => {
            cont(c)
                && cont(d)
                && match a {
                    0xf0 => (0x90..=0xbf).contains(&b),
                    0xf1..=0xf3 => cont(b),
                    0xf4 => (0x80..=0x8f).contains(&b),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// The character `bytes` starts with, if they start with a valid one.
pub(super) fn first_char(bytes: &[u8]) -> Option<char> {
    let len = utf8_len(*bytes.first()?).min(bytes.len());
    std::str::from_utf8(&bytes[..len]).ok()?.chars().next()
}

/// Whether a character outside ASCII reaches a terminal as it is: anything but a C1
/// control and the [hidden] characters.
fn passes(c: char) -> bool {
    !('\u{80}'..='\u{9f}').contains(&c) && !hidden(c)
}

/// Characters that change how a line looks without showing themselves, so a line could
/// display differently from what it says:
///
/// - bidi controls, which reorder what follows (Trojan Source): U+061C, U+200E, U+200F,
///   U+202A..=U+202E, U+2066..=U+2069;
/// - line and paragraph separators, which some terminals break a line at: U+2028, U+2029;
/// - Unicode's default-ignorable characters, which draw nothing: the soft hyphen U+00AD,
///   U+034F, the Hangul fillers, U+17B4 and U+17B5, the Mongolian selectors and vowel
///   separator U+180B..=U+180F, zero-width spaces and joiners U+200B..=U+200D, U+2060..=
///   U+206F, U+FEFF, U+FFF0..=U+FFF8, U+1BCA0..=U+1BCA3, U+1D173..=U+1D17A, and the tags
///   and supplementary variation selectors U+E0000..=U+E0FFF (which can smuggle hidden
///   text after an emoji); plus the interlinear annotation marks U+FFF9..=U+FFFB, which can
///   hide text.
///
/// The variation selectors U+FE00..=U+FE0F are default-ignorable too, but pass: they only
/// choose how the character before them looks, and emoji need them (`❤️`, `1️⃣`).
pub(super) fn hidden(c: char) -> bool {
    matches!(c as u32,
        0xAD | 0x34F | 0x61C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFEFF | 0xFFA0
        | 0xFFF0..=0xFFFB | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Whether `c` is a joiner (U+200C ZERO WIDTH NON-JOINER, U+200D ZERO WIDTH JOINER): hidden,
/// but passed as it is right after a character it [joins].
pub(super) fn joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// Whether a joiner right after `c` does a visible job: in an emoji sequence (`❤️‍🔥`,
/// `👨‍👩‍👧`), or in the Arabic and Indic scripts, where Persian and Hindi spelling needs
/// them. Only the character right before counts, so a joiner joins one character to the
/// next and a run of them shows.
pub(super) fn joins(c: char) -> bool {
    matches!(c as u32,
        // Arabic, Syriac, Thaana, NKo, ...; Devanagari to Sinhala; Arabic presentation forms.
        0x600..=0x8FF | 0x900..=0xDFF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFE
        // Emoji: the emoji variation selector, symbols and dingbats, the emoji planes.
        | 0xFE0F | 0x2300..=0x23FF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x1F000..=0x1FAFF)
}

/// A character as it is shown instead of itself: at most [`MAX_SHOWN`] bytes.
pub(super) struct Shown {
    bytes: [u8; MAX_SHOWN],
    len: usize,
}

impl Shown {
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn of(text: &[u8]) -> Shown {
        let mut bytes = [0; MAX_SHOWN];
        let len = text.len().min(MAX_SHOWN);
        bytes[..len].copy_from_slice(&text[..len]);
        Shown { bytes, len }
    }
}

/// How a C0 control (not TAB) or DEL is shown: caret notation, `^[` for ESC, `^?` for DEL.
pub(super) fn caret(b: u8) -> Shown {
    Shown::of(&[b'^', if b == 0x7f { b'?' } else { (b & 0x1f) + 0x40 }])
}

/// How a character that does not [pass](passes) is shown: a C1 control in caret
/// notation after `M-` (`M-^[` for U+009B), anything else by its code point (`<U+202E>`).
pub(super) fn shown(c: char) -> Shown {
    let n = c as u32;
    if (0x80..=0x9f).contains(&n) {
        let last = (n - 0x80) as u8 + 0x40;
        return Shown::of(&[b'M', b'-', b'^', last]);
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let digits = (4..6).find(|d| n >> (4 * d) == 0).unwrap_or(6);
    let mut bytes = [0; MAX_SHOWN];
    bytes[..3].copy_from_slice(b"<U+");
    for (i, byte) in bytes[3..3 + digits].iter_mut().enumerate() {
        *byte = HEX[(n >> (4 * (digits - 1 - i)) & 0xf) as usize];
    }
    bytes[3 + digits] = b'>';
    Shown {
        bytes,
        len: 4 + digits,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_char_agrees_with_the_standard_library() {
        let agree = |seq: &[u8]| {
            let std_says = std::str::from_utf8(seq).is_ok_and(|s| s.chars().count() == 1);
            assert_eq!(is_one_char(seq), std_says, "{seq:x?}");
        };
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                agree(&[a, b]);
                if a >= 0xe0 {
                    for c in 0..=255u8 {
                        agree(&[a, b, c]);
                    }
                }
            }
        }
        let edges = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
        for a in 0xf0..=0xff {
            for b in 0..=255u8 {
                for c in edges {
                    for d in edges {
                        agree(&[a, b, c, d]);
                    }
                }
            }
        }
    }

    #[test]
    fn the_first_look_sees_every_character_that_does_not_pass() {
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut utf8 = [0; 4];
            let seq = c.encode_utf8(&mut utf8).as_bytes();
            assert!(passes(c) || may_hide(seq), "{c:?} slips past may_hide");
        }
    }
}
