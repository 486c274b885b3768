//! The byte-level parser: the DEC ANSI state machine (vt100.net/emu/dec_ansi_parser) plus
//! UTF-8. Runs of printable ASCII in the ground state are handed over whole, which is most
//! of what programs print and what makes `cat` of a large file fast.

/// What the parser found; `Term` implements it.
pub trait Handler {
    /// A run of printable ASCII (0x20..=0x7e).
    fn print_ascii(&mut self, run: &[u8]);
    fn print(&mut self, c: char);
    fn execute(&mut self, byte: u8);
    /// Private markers (`?`, `>`, `<`, `=`) come first in `intermediates`.
    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], action: char);
    fn esc_dispatch(&mut self, intermediates: &[u8], byte: u8);
    /// The OSC payload split at `;`, and whether BEL (not ST) ended it.
    fn osc_dispatch(&mut self, params: &[&[u8]], bell_terminated: bool);
    fn hook(&mut self, params: &Params, intermediates: &[u8], action: char);
    fn put(&mut self, byte: u8);
    fn unhook(&mut self);
}

const MAX_PARAMS: usize = 32;
const MAX_INTERMEDIATES: usize = 2;
/// OSC strings longer than this are dropped (clipboard payloads are the big ones); a
/// program cannot make the runner hold an unbounded string.
const MAX_OSC: usize = 1 << 20;

/// CSI parameters. Each parameter may carry colon-separated sub-parameters
/// (`38:2::r:g:b`); `iter` yields each parameter with its sub-parameters as one slice.
#[derive(Default)]
pub struct Params {
    values: [u16; MAX_PARAMS],
    /// Bit i set: value i is a sub-parameter of the value before it.
    sub: u32,
    len: usize,
}

impl Params {
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u16]> {
        let mut i = 0;
        std::iter::from_fn(move || {
            if i >= self.len {
                return None;
            }
            let start = i;
            i += 1;
            while i < self.len && self.sub & (1 << i) != 0 {
                i += 1;
            }
            Some(&self.values[start..i])
        })
    }

    fn clear(&mut self) {
        self.len = 0;
        self.sub = 0;
    }

    fn push_digit(&mut self, d: u8) {
        if self.len == 0 {
            self.len = 1;
            self.values[0] = 0;
        }
        let v = &mut self.values[self.len - 1];
        *v = v.saturating_mul(10).saturating_add((d - b'0') as u16);
    }

    fn next(&mut self, sub: bool) {
        if self.len == 0 {
            self.len = 1;
            self.values[0] = 0;
        }
        if self.len < MAX_PARAMS {
            if sub {
                self.sub |= 1 << self.len;
            }
            self.values[self.len] = 0;
            self.len += 1;
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum State {
    #[default]
    Ground,
    Escape,
    EscapeIntermediate,
    CsiEntry,
    CsiParam,
    CsiIntermediate,
    CsiIgnore,
    DcsEntry,
    DcsParam,
    DcsIntermediate,
    DcsPassthrough,
    DcsIgnore,
    OscString,
    /// SOS, PM and APC strings: consumed and ignored.
    IgnoreString,
}

/// The states a CSI or a DCS moves through; their parameters parse alike.
#[derive(Clone, Copy)]
struct SequenceStates {
    entry: State,
    param: State,
    intermediate: State,
    ignore: State,
}

const CSI: SequenceStates = SequenceStates {
    entry: State::CsiEntry,
    param: State::CsiParam,
    intermediate: State::CsiIntermediate,
    ignore: State::CsiIgnore,
};
const DCS: SequenceStates = SequenceStates {
    entry: State::DcsEntry,
    param: State::DcsParam,
    intermediate: State::DcsIntermediate,
    ignore: State::DcsIgnore,
};

#[derive(Default)]
pub struct Parser {
    state: State,
    params: Params,
    intermediates: [u8; MAX_INTERMEDIATES],
    n_intermediates: usize,
    ignoring: bool,
    osc: Vec<u8>,
    osc_too_long: bool,
    utf8: [u8; 4],
    utf8_len: usize,
    utf8_need: usize,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    pub fn advance<H: Handler>(&mut self, h: &mut H, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.state == State::Ground && self.utf8_need == 0 {
                // Fast path: a run of printable ASCII.
                let run = bytes[i..].iter().position(|&b| !(0x20..0x7f).contains(&b)).unwrap_or(bytes.len() - i);
                if run > 0 {
                    h.print_ascii(&bytes[i..i + run]);
                    i += run;
                    continue;
                }
            }
            self.byte(h, bytes[i]);
            i += 1;
        }
    }

    fn byte<H: Handler>(&mut self, h: &mut H, b: u8) {
        if self.utf8_need > 0 {
            if (0x80..0xc0).contains(&b) {
                self.utf8[self.utf8_len] = b;
                self.utf8_len += 1;
                if self.utf8_len == self.utf8_need {
                    self.utf8_need = 0;
                    let c = std::str::from_utf8(&self.utf8[..self.utf8_len])
                        .ok()
                        .and_then(|s| s.chars().next())
                        .unwrap_or('\u{fffd}');
                    h.print(c);
                }
                return;
            }
            // A sequence cut short: show that something was lost, then treat the byte anew.
            self.utf8_need = 0;
            h.print('\u{fffd}');
        }
        // "Anywhere" transitions.
        match b {
            0x18 | 0x1a if self.state != State::OscString => {
                self.state = State::Ground;
                h.execute(b);
                return;
            }
            0x1b => {
                match self.state {
                    State::OscString => self.end_osc(h, false),
                    State::DcsPassthrough => h.unhook(),
                    _ => {}
                }
                self.enter(State::Escape);
                return;
            }
            _ => {}
        }
        match self.state {
            State::Ground => self.ground(h, b),
            State::Escape => match b {
                0x00..=0x1f => h.execute(b),
                0x20..=0x2f => {
                    self.collect(b);
                    self.state = State::EscapeIntermediate;
                }
                b'[' => self.enter(State::CsiEntry),
                b']' => {
                    self.osc.clear();
                    self.osc_too_long = false;
                    self.state = State::OscString;
                }
                b'P' => self.enter(State::DcsEntry),
                b'X' | b'^' | b'_' => self.state = State::IgnoreString,
                0x30..=0x7e => {
                    h.esc_dispatch(self.intermediates(), b);
                    self.state = State::Ground;
                }
                _ => {}
            },
            State::EscapeIntermediate => match b {
                0x00..=0x1f => h.execute(b),
                0x20..=0x2f => self.collect(b),
                0x30..=0x7e => {
                    if !self.ignoring {
                        h.esc_dispatch(self.intermediates(), b);
                    }
                    self.state = State::Ground;
                }
                _ => {}
            },
            State::CsiEntry | State::CsiParam | State::CsiIntermediate if b < 0x20 => h.execute(b),
            State::CsiEntry | State::CsiParam => {
                if let Some(f) = self.param_byte(b, CSI) {
                    self.csi(h, f)
                }
            }
            State::CsiIntermediate => {
                if let Some(f) = self.intermediate_byte(b, CSI) {
                    self.csi(h, f)
                }
            }
            State::CsiIgnore => match b {
                0x00..=0x1f => h.execute(b),
                0x40..=0x7e => self.state = State::Ground,
                _ => {}
            },
            State::DcsEntry | State::DcsParam => {
                if let Some(f) = self.param_byte(b, DCS) {
                    self.hook(h, f)
                }
            }
            State::DcsIntermediate => {
                if let Some(f) = self.intermediate_byte(b, DCS) {
                    self.hook(h, f)
                }
            }
            State::DcsPassthrough => {
                if b != 0x7f {
                    h.put(b)
                }
            }
            State::DcsIgnore | State::IgnoreString => {}
            State::OscString => match b {
                0x07 => self.end_osc(h, true),
                0x00..=0x1f => {}
                _ => {
                    if self.osc.len() < MAX_OSC {
                        self.osc.push(b);
                    } else {
                        self.osc_too_long = true;
                    }
                }
            },
        }
    }

    /// A byte of a CSI's or DCS's parameters (digits, separators, private markers) or the
    /// start of its intermediates. Returns the final byte when the sequence is complete.
    fn param_byte(&mut self, b: u8, states: SequenceStates) -> Option<u8> {
        match b {
            b'0'..=b'9' => {
                self.params.push_digit(b);
                self.state = states.param;
            }
            b';' | b':' => {
                self.params.next(b == b':');
                self.state = states.param;
            }
            // Private markers (`?`, `>`...) only as the first byte.
            0x3c..=0x3f if self.state == states.entry => {
                self.collect(b);
                self.state = states.param;
            }
            0x3c..=0x3f => self.state = states.ignore,
            0x20..=0x2f => {
                self.collect(b);
                self.state = states.intermediate;
            }
            0x40..=0x7e => return Some(b),
            _ => {}
        }
        None
    }

    /// A byte after a CSI's or DCS's intermediates began.
    fn intermediate_byte(&mut self, b: u8, states: SequenceStates) -> Option<u8> {
        match b {
            0x20..=0x2f => self.collect(b),
            0x30..=0x3f => self.state = states.ignore,
            0x40..=0x7e => return Some(b),
            _ => {}
        }
        None
    }

    fn ground<H: Handler>(&mut self, h: &mut H, b: u8) {
        match b {
            0x00..=0x1f => h.execute(b),
            0x20..=0x7e => h.print_ascii(&[b]),
            0x7f => {}
            0xc2..=0xdf => self.start_utf8(b, 2),
            0xe0..=0xef => self.start_utf8(b, 3),
            0xf0..=0xf4 => self.start_utf8(b, 4),
            _ => h.print('\u{fffd}'),
        }
    }

    fn start_utf8(&mut self, b: u8, need: usize) {
        self.utf8[0] = b;
        self.utf8_len = 1;
        self.utf8_need = need;
    }

    fn enter(&mut self, state: State) {
        self.state = state;
        self.params.clear();
        self.n_intermediates = 0;
        self.ignoring = false;
    }

    fn collect(&mut self, b: u8) {
        if self.n_intermediates < MAX_INTERMEDIATES {
            self.intermediates[self.n_intermediates] = b;
            self.n_intermediates += 1;
        } else {
            self.ignoring = true;
        }
    }

    fn intermediates(&self) -> &[u8] {
        &self.intermediates[..self.n_intermediates]
    }

    fn csi<H: Handler>(&mut self, h: &mut H, b: u8) {
        if !self.ignoring {
            h.csi_dispatch(&self.params, &self.intermediates[..self.n_intermediates], b as char);
        }
        self.state = State::Ground;
    }

    fn hook<H: Handler>(&mut self, h: &mut H, b: u8) {
        if self.ignoring {
            self.state = State::DcsIgnore;
        } else {
            h.hook(&self.params, &self.intermediates[..self.n_intermediates], b as char);
            self.state = State::DcsPassthrough;
        }
    }

    fn end_osc<H: Handler>(&mut self, h: &mut H, bell: bool) {
        self.state = State::Ground;
        if self.osc_too_long {
            self.osc.clear();
            return;
        }
        let parts: Vec<&[u8]> = self.osc.splitn(16, |&b| b == b';').collect();
        h.osc_dispatch(&parts, bell);
        self.osc.clear();
        if self.osc.capacity() > 4096 {
            self.osc.shrink_to(4096);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log(Vec<String>);
    impl Handler for Log {
        fn print_ascii(&mut self, run: &[u8]) {
            self.0.push(format!("text {}", String::from_utf8_lossy(run)));
        }
        fn print(&mut self, c: char) {
            self.0.push(format!("char {c}"));
        }
        fn execute(&mut self, b: u8) {
            self.0.push(format!("exec {b:#x}"));
        }
        fn csi_dispatch(&mut self, p: &Params, i: &[u8], a: char) {
            let p: Vec<Vec<u16>> = p.iter().map(|s| s.to_vec()).collect();
            self.0.push(format!("csi {p:?} {:?} {a}", String::from_utf8_lossy(i)));
        }
        fn esc_dispatch(&mut self, i: &[u8], b: u8) {
            self.0.push(format!("esc {:?} {}", String::from_utf8_lossy(i), b as char));
        }
        fn osc_dispatch(&mut self, p: &[&[u8]], bell: bool) {
            let p: Vec<String> = p.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
            self.0.push(format!("osc {p:?} {bell}"));
        }
        fn hook(&mut self, _: &Params, i: &[u8], a: char) {
            self.0.push(format!("hook {:?} {a}", String::from_utf8_lossy(i)));
        }
        fn put(&mut self, b: u8) {
            self.0.push(format!("put {}", b as char));
        }
        fn unhook(&mut self) {
            self.0.push("unhook".into());
        }
    }

    fn parse(chunks: &[&[u8]]) -> Vec<String> {
        let mut p = Parser::new();
        let mut log = Log::default();
        for c in chunks {
            p.advance(&mut log, c);
        }
        log.0
    }

    #[test]
    fn text_controls_and_sequences() {
        assert_eq!(
            parse(&[b"ab\r\n\x1b[1;31mc\x1b[?25l\x1b7"]),
            vec![
                "text ab",
                "exec 0xd",
                "exec 0xa",
                "csi [[1], [31]] \"\" m",
                "text c",
                "csi [[25]] \"?\" l",
                "esc \"\" 7"
            ]
        );
    }

    #[test]
    fn subparameters_group_with_their_parameter() {
        assert_eq!(parse(&[b"\x1b[38:2::1:2:3;4m"]), vec!["csi [[38, 2, 0, 1, 2, 3], [4]] \"\" m"]);
    }

    #[test]
    fn sequences_and_utf8_split_across_reads() {
        assert_eq!(parse(&[b"\x1b[3", b"1m\xe4", b"\xb8\xad"]), vec!["csi [[31]] \"\" m", "char 中"]);
    }

    #[test]
    fn osc_with_bell_or_st_and_dcs() {
        assert_eq!(
            parse(&[b"\x1b]0;hi;there\x07\x1b]11;?\x1b\\\x1bP$qm\x1b\\"]),
            vec![
                "osc [\"0\", \"hi\", \"there\"] true",
                "osc [\"11\", \"?\"] false",
                "esc \"\" \\",
                "hook \"$\" q",
                "put m",
                "unhook",
                "esc \"\" \\"
            ]
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(parse(&[b"\xff\xe4a"]), vec!["char \u{fffd}", "char \u{fffd}", "text a"]);
    }

    #[test]
    fn oversized_osc_is_dropped_not_kept() {
        let mut big = b"\x1b]52;c;".to_vec();
        big.extend(std::iter::repeat_n(b'A', MAX_OSC + 10));
        big.extend_from_slice(b"\x07ok");
        assert_eq!(parse(&[&big]), vec!["text ok"]);
    }

    #[test]
    fn apc_strings_are_ignored() {
        assert_eq!(parse(&[b"\x1b_Gf=100;AAAA\x1b\\x"]), vec!["esc \"\" \\", "text x"]);
    }
}
