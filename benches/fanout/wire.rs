//! The generator's lines on the wire: what a data line and a sync line look like, and how
//! their fixed-width decimal fields are written and read back.
//!
//! Every sent line is 63 bytes of text and `\n`. It starts with a marker
//! `~gcb RRRR SSSS QQQQQQQ NNNNNNNNNNNNNNN~` (run tag, sender, sequence number, send time in
//! nanoseconds), padded with letters so no server treats it specially. Receivers find the
//! marker anywhere in a received line, so the server's `ADDR: ` prefix does not matter.
//! Reading runs five times per delivery, so it allocates nothing and parses eight digits at
//! once.

/// Bytes per sent line on the wire, `\n` included.
pub const LINE_LEN: usize = 64;
/// What every marker starts with.
const MARK: &[u8] = b"~gc";
/// Where the run tag of a data line starts: `~gcb RRRR SSSS QQQQQQQ NNNNNNNNNNNNNNN~`.
pub const RUN_AT: usize = 5;
/// Where the sender's number starts.
pub const SENDER_AT: usize = 10;
/// Where the sequence number starts.
pub const SEQ_AT: usize = 15;
/// Where the send time (nanoseconds since the generator's epoch) starts.
pub const NS_AT: usize = 23;
/// Digits of the send time.
pub const NS_WIDTH: usize = 15;
/// A data marker's length, its closing `~` included.
pub const DATA_MARK_LEN: usize = 39;
/// A sync line's marker length: `~gcs RRRR KKKK~`.
pub const SYNC_MARK_LEN: usize = 15;
/// Sync numbers wrap at this (four digits).
pub const SYNC_MODULUS: u64 = 10_000;

/// Writes `v` as a zero-padded decimal filling `dst` (high digits dropped if it is wider).
pub fn put_num(dst: &mut [u8], mut v: u64) {
    for b in dst.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// A fixed-width decimal field; `None` unless every byte is a digit.
pub fn get_num(src: &[u8]) -> Option<u64> {
    let mut v = 0u64;
    let mut bad = false;
    for &b in src {
        let d = b.wrapping_sub(b'0');
        bad |= d > 9;
        v = v * 10 + u64::from(d);
    }
    (!bad).then_some(v)
}

/// The decimal field of `width` (at most 8) digits at `at` in a data marker; `None` unless
/// every byte is a digit. Eight bytes at once (SWAR): it runs five times per delivery.
#[inline(always)]
pub fn field(mk: &[u8; DATA_MARK_LEN], at: usize, width: usize) -> Option<u64> {
    const HI: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let end = at + width;
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&mk[end - 8..end]);
    // Little endian: the first byte is the lowest; the bytes before the field become '0'.
    let mut chunk = u64::from_le_bytes(bytes);
    if width < 8 {
        let mask = (1u64 << ((8 - width) * 8)) - 1;
        chunk = (chunk & !mask) | (ZEROS & mask);
    }
    if chunk & HI != ZEROS || chunk.wrapping_add(0x0606_0606_0606_0606) & HI != ZEROS {
        return None;
    }
    let v = chunk - ZEROS;
    let v = v.wrapping_mul(10) + (v >> 8);
    let v = ((v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32)))
        .wrapping_add(((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32)))
        >> 32;
    Some(v)
}

/// Where the marker (`~gc`) starts in a line, if anywhere.
#[inline(always)]
pub fn find_marker(line: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'~', &line[from..]) {
        let at = from + p;
        if line.get(at + 1..at + 3) == Some(&MARK[1..]) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A data line of run `tag` with sender, sequence and time still zero: senders copy it
/// and fill those in.
pub fn data_template(tag: u64) -> [u8; LINE_LEN] {
    let mut template = [b'.'; LINE_LEN];
    template[..DATA_MARK_LEN].copy_from_slice(b"~gcb 0000 0000 0000000 000000000000000~");
    put_num(&mut template[RUN_AT..RUN_AT + 4], tag);
    // Padding that looks like text, so no server treats the line specially.
    for (k, b) in template[DATA_MARK_LEN..LINE_LEN - 1].iter_mut().enumerate() {
        *b = b"abcdefghijklmnopqrstuvwxyz"[k % 26];
    }
    template[DATA_MARK_LEN] = b' ';
    template[LINE_LEN - 1] = b'\n';
    template
}

/// Sync line `k` (modulo [`SYNC_MODULUS`]) of run `tag`: `~gcs RRRR KKKK~\n`.
pub fn sync_line(tag: u64, k: u64) -> [u8; SYNC_MARK_LEN + 1] {
    let mut line = *b"~gcs 0000 0000~\n";
    put_num(&mut line[5..9], tag);
    put_num(&mut line[10..14], k % SYNC_MODULUS);
    line
}

/// The run tag and sync number of a sync marker (`~gcs RRRR KKKK~`), if well formed.
pub fn parse_sync(mk: &[u8]) -> Option<(u64, u64)> {
    Some((get_num(mk.get(5..9)?)?, get_num(mk.get(10..14)?)?))
}
