//! Telnet's commands in a member's input (RFC 854, 855): recognized and dropped.
//!
//! telnet(1) sends more than text. Ctrl-C sends `IAC IP`, Ctrl-Z `IAC SUSP`, Ctrl-\ `IAC BRK`,
//! each followed by `IAC DO TIMING-MARK`; a telnet that negotiates sends `IAC WILL x`,
//! `IAC DO x` and subnegotiations `IAC SB x ... IAC SE`. None of it is text for the room,
//! so a decoder [with telnet](super::LineDecoder::with_telnet) drops it before anything
//! else looks at the bytes. `IAC IAC` is the data byte 0xFF (which is then not UTF-8, and
//! shown as U+FFFD like any other).
//!
//! The room agrees to no option (it never sends IAC: its output is UTF-8, where 0xFF cannot
//! occur), so a telnet that follows the RFC sends no subnegotiation; one is skipped anyway,
//! up to [`MAX_SUBNEGOTIATION`] bytes.

/// Interpret As Command: what starts every telnet command.
const IAC: u8 = 255;
/// Subnegotiation Begin: `IAC SB option ... IAC SE`.
const SB: u8 = 250;
/// Subnegotiation End.
const SE: u8 = 240;
/// WILL (251), WONT (252), DO (253) and DONT (254): each names one option byte after it.
const WILL: u8 = 251;
const DONT: u8 = 254;

/// The most bytes of one subnegotiation skipped. We agree to no option, so a telnet never
/// owes us one; what starts like one in other bytes (a binary file piped through nc) must
/// not swallow all that follows. Real ones (a terminal type, a window size) are far
/// shorter.
pub const MAX_SUBNEGOTIATION: usize = 512;

/// Where the input stands in telnet's syntax, carried from one read to the next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Telnet {
    /// In plain data.
    #[default]
    Data,
    /// Right after an IAC.
    Iac,
    /// After `IAC WILL` (WONT, DO, DONT): the option byte is next.
    Option,
    /// In a subnegotiation, this many bytes into it.
    Sub(u16),
    /// Right after an IAC in a subnegotiation, this many bytes into it.
    SubIac(u16),
}

impl Telnet {
    /// The data bytes of `input`, its telnet commands dropped: `input` itself when it
    /// holds none (the usual case, no copy), else `scratch`, filled with them.
    pub(super) fn strip<'a>(&mut self, input: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
        if *self == Telnet::Data && memchr::memchr(IAC, input).is_none() {
            return input;
        }
        scratch.clear();
        scratch.extend(input.iter().filter_map(|&b| self.step(b)));
        scratch
    }

    /// Takes one byte: the data byte it is, if it is one.
    fn step(&mut self, b: u8) -> Option<u8> {
        let (next, data) = match *self {
            Telnet::Data if b == IAC => (Telnet::Iac, None),
            Telnet::Data => (Telnet::Data, Some(b)),
            Telnet::Iac => match b {
                IAC => (Telnet::Data, Some(IAC)),
                SB => (Telnet::Sub(0), None),
                WILL..=DONT => (Telnet::Option, None),
                // Any other byte is a command of its own: IP, BRK, AYT, ... and EOF, SUSP,
                // ABORT (236-238, RFC 1184).
                _ => (Telnet::Data, None),
            },
            Telnet::Option => (Telnet::Data, None),
            Telnet::Sub(len) if b == IAC => (Telnet::SubIac(len), None),
            // Too long to be a subnegotiation: take what follows as data again.
            Telnet::Sub(len) if usize::from(len) >= MAX_SUBNEGOTIATION => (Telnet::Data, Some(b)),
            Telnet::Sub(len) => (Telnet::Sub(len + 1), None),
            Telnet::SubIac(_) if b == SE => (Telnet::Data, None),
            Telnet::SubIac(len) if b == IAC => (Telnet::Sub(len + 1), None),
            // IAC and anything else inside a subnegotiation ends it, as a command.
            Telnet::SubIac(_) => {
                *self = Telnet::Iac;
                return self.step(b);
            }
        };
        *self = next;
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_all(input: &[u8]) -> (Vec<u8>, Telnet) {
        let mut telnet = Telnet::Data;
        let mut scratch = Vec::new();
        let data = telnet.strip(input, &mut scratch).to_vec();
        (data, telnet)
    }

    #[test]
    fn plain_data_is_not_copied() {
        let mut telnet = Telnet::Data;
        let mut scratch = Vec::new();
        let input = b"no commands here";
        assert!(std::ptr::eq(telnet.strip(input, &mut scratch), &input[..]));
        assert_eq!(scratch.capacity(), 0);
    }

    #[test]
    fn the_state_is_carried_across_reads() {
        assert_eq!(strip_all(b"a\xff"), (b"a".to_vec(), Telnet::Iac));
        assert_eq!(strip_all(b"a\xff\xfd"), (b"a".to_vec(), Telnet::Option));
        assert_eq!(
            strip_all(b"a\xff\xfa\x18x"),
            (b"a".to_vec(), Telnet::Sub(2))
        );
        assert_eq!(strip_all(b"\xff\xfa\x18\xff"), (vec![], Telnet::SubIac(1)));
        assert_eq!(strip_all(b"\xff\xff"), (vec![0xff], Telnet::Data));
    }
}
