//! Reads a shell command line the way a POSIX shell (plus common bash syntax) would, and
//! returns the simple commands it would run, in a canonical form, so that rules written as
//! regexes (`\bgit\s+push\b`) also catch their rephrasings (`git -C . push`, `'git' "push"`,
//! `sh -c 'git push'`, `push -uf`, `rm -Rf`...). Words the parser cannot know (variables,
//! command substitutions, globs, git aliases) are marked, never guessed silently.
//!
//! Two stages: a lexer turns the text into tokens (words keep their quoting as parts, so
//! expansion can tell `*` from `'*'`), then a forgiving parser walks the tokens, tracking
//! `cd`, and canonicalises each simple command. Nothing here panics or touches the system.

use std::path::Path;

/// Nesting beyond this (`sh -c` in `$( )` in `eval`...) is reported as one unknown word.
const MAX_DEPTH: usize = 8;

/// One word of a simple command as the shell would pass it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Word {
    /// Its value is certain: quotes removed, escapes applied, `~`, `$HOME`, `${HOME}` expanded to the home given.
    Known(String),
    /// Its value depends on something the parser cannot know (a variable other than HOME, `$IFS`, `$(...)`, backticks, `$((...))`, a glob with `*?[` unquoted, brace expansion `{a,b}`, an alias). `as_written` is the text as it appeared (for messages), `known_part` is the concatenation of the literal parts (e.g. `git${IFS}push` -> "gitpush"), for guessing.
    Unknown { as_written: String, known_part: String },
}

/// One simple command: its words after the wrappers, and the directory it runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simple {
    pub words: Vec<Word>,
    /// Where it runs relative to the command line's start: `None` if no `cd` came before it in the same list; `Some(Known(path))` after `cd path` (path joined onto previous cd's, `~`/$HOME expanded, `cd` alone or `cd ~` = home, may be relative); `Some(Unknown..)` after `cd $X`, `cd -` or a cd inside something unknown.
    pub dir: Option<Word>,
}

/// Every simple command a shell would run for `command`, in order, including those inside
/// `sh -c`/`bash -lc` strings, `eval`, subshells, groups, command substitutions (whose outer
/// word is also Unknown), pipelines, lists, `if`/`while`/`for`/`case` bodies and functions.
pub fn parse(command: &str, home: &Path) -> Vec<Simple> {
    let home = home.to_string_lossy().into_owned();
    parse_at(command, &home, 0, None).0
}

/// The words of `s` as one line for regexes: Known words as they are, Unknown words as `as_written`, joined by single spaces.
pub fn line(s: &Simple) -> String {
    let texts: Vec<&str> = s.words.iter().map(written).collect();
    texts.join(" ")
}

/// The text a word shows in a line: its value, or as written.
fn written(w: &Word) -> &str {
    match w {
        Word::Known(s) => s,
        Word::Unknown { as_written, .. } => as_written,
    }
}

/// The value of a word that is there and Known.
fn known(w: Option<&Word>) -> Option<&str> {
    match w {
        Some(Word::Known(s)) => Some(s),
        _ => None,
    }
}

/// Shorthand for `Word::Unknown`.
fn unknown(as_written: &str, known_part: &str) -> Word {
    Word::Unknown { as_written: as_written.to_string(), known_part: known_part.to_string() }
}

/// Parses one command line at a nesting depth, starting in `dir`; also returns the dir at
/// its end (what `eval` leaves behind).
fn parse_at(text: &str, home: &str, depth: usize, dir: Option<Word>) -> (Vec<Simple>, Option<Word>) {
    if depth > MAX_DEPTH {
        return (vec![Simple { words: vec![unknown(text, text)], dir: dir.clone() }], dir);
    }
    let (toks, bodies) = Lexer::new(text, depth).run();
    let mut p = Parser { home, depth, out: Vec::new(), pipe_dir: dir.clone(), dir, in_pipe: false, frames: Vec::new() };
    p.run(&toks, &bodies);
    (p.out, p.dir)
}

// ---------------------------------------------------------------------------------------
// Lexer

/// A piece of a word, kept apart so expansion knows what was quoted.
#[derive(Clone, Debug)]
enum Part {
    /// Literal text; `true` if quoted or escaped (no globbing, no `~`).
    Lit(String, bool),
    /// `$HOME` or `${HOME}`.
    Home,
    /// A variable or arithmetic whose value is unknown.
    Dynamic,
    /// A command substitution: its inner command text.
    Sub(String),
}

/// A word as lexed: its parts, and its source text.
#[derive(Clone, Debug)]
struct Raw {
    parts: Vec<Part>,
    written: String,
}

impl Raw {
    /// Unquoted plain text: only such a word can be a reserved word like `if` or `{`.
    fn plain(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit(s, false)] => Some(s),
            _ => None,
        }
    }
}

/// A token of the command line.
#[derive(Clone, Debug)]
enum Tok {
    Word(Raw),
    /// A control operator (`;`, `&&`, `|`, `(`, newline...).
    Op(&'static str),
    /// A redirection operator; for a here-doc, the index of its body.
    Redir(&'static str, Option<usize>),
    /// `(( ... ))`: arithmetic, its text.
    Arith(String),
}

/// Longest first, so `;;` is not read as `;`.
const OPS: [&str; 23] = [
    ";;&", ";;", ";&", ";", "&&", "&>>", "&>", "&", "||", "|&", "|", "(", ")", "<<<", "<<-", "<<", "<>", "<&", "<",
    ">>", ">&", ">|", ">",
];

/// Reads the command line char by char into tokens.
struct Lexer {
    s: Vec<char>,
    i: usize,
    depth: usize,
    toks: Vec<Tok>,
    /// Here-doc bodies, and whether they expand (`$x`, `$( )`): unquoted delimiter.
    bodies: Vec<(String, bool)>,
    /// Here-docs whose bodies start after the next newline: delimiter, strip tabs, index.
    pending: Vec<(String, bool, usize)>,
}

/// Chars that end an unquoted word.
fn is_meta(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>')
}

/// Appends a char to the last literal part if it has the same quoting.
fn lit(parts: &mut Vec<Part>, c: char, quoted: bool) {
    if let Some(Part::Lit(s, q)) = parts.last_mut()
        && *q == quoted
    {
        s.push(c);
        return;
    }
    parts.push(Part::Lit(c.to_string(), quoted));
}

impl Lexer {
    /// A lexer at a nesting depth (deeper ones stop looking into `${...}`).
    fn new(text: &str, depth: usize) -> Lexer {
        Lexer { s: text.chars().collect(), i: 0, depth, toks: Vec::new(), bodies: Vec::new(), pending: Vec::new() }
    }

    /// The char `k` ahead.
    fn peek(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    /// Whether the text ahead starts with `p`.
    fn starts(&self, p: &str) -> bool {
        p.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    /// The source between two indices, clamped.
    fn text(&self, from: usize, to: usize) -> String {
        let to = to.min(self.s.len());
        self.s.get(from.min(to)..to).unwrap_or_default().iter().collect()
    }

    /// All the tokens, and the here-doc bodies they refer to.
    fn run(mut self) -> (Vec<Tok>, Vec<(String, bool)>) {
        while let Some(c) = self.peek(0) {
            if matches!(c, ' ' | '\t' | '\r') {
                self.i += 1;
            } else if self.starts("\\\n") {
                self.i += 2;
            } else if c == '#' {
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
            } else if c == '\n' {
                self.i += 1;
                self.toks.push(Tok::Op("\n"));
                self.read_heredocs();
            } else if self.starts("((") {
                // bash reads `((` here as arithmetic only (a nested subshell is an error).
                let (end, next) = self.close(self.i + 2, '(', ')', 2);
                let text = self.text(self.i + 2, end);
                self.toks.push(Tok::Arith(text));
                self.i = next;
            } else if self.starts("<(") || self.starts(">(") {
                let w = self.word();
                self.toks.push(Tok::Word(w));
            } else {
                // A file descriptor number is part of the redirection (`2>&1`).
                let digits = self.s[self.i..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0
                    && matches!(self.peek(digits), Some('<' | '>'))
                    && !matches!(self.peek(digits + 1), Some('('))
                {
                    self.i += digits;
                }
                match OPS.iter().find(|op| self.starts(op)) {
                    Some(op) => {
                        self.i += op.len();
                        self.op(op);
                    }
                    None => {
                        let start = self.i;
                        let w = self.word();
                        self.i = self.i.max(start + 1);
                        self.toks.push(Tok::Word(w));
                    }
                }
            }
        }
        (self.toks, self.bodies)
    }

    /// Records an operator; a here-doc also takes its delimiter word now.
    fn op(&mut self, op: &'static str) {
        if !matches!(op.chars().next(), Some('<' | '>')) && !op.starts_with("&>") {
            self.toks.push(Tok::Op(op));
            return;
        }
        if op == "<<" || op == "<<-" {
            while matches!(self.peek(0), Some(' ' | '\t')) {
                self.i += 1;
            }
            if self.peek(0).is_some_and(|c| !is_meta(c)) {
                let w = self.word();
                let quoted = w.written.contains(['\'', '"', '\\']);
                let delim: String = w.written.chars().filter(|c| !matches!(c, '\'' | '"' | '\\')).collect();
                self.pending.push((delim, op == "<<-", self.bodies.len()));
                self.toks.push(Tok::Redir(op, Some(self.bodies.len())));
                self.bodies.push((String::new(), !quoted));
                return;
            }
        }
        self.toks.push(Tok::Redir(op, None));
    }

    /// After a newline: the bodies of the here-docs opened on the line just ended.
    fn read_heredocs(&mut self) {
        for (delim, strip, idx) in std::mem::take(&mut self.pending) {
            let mut body = String::new();
            while self.i < self.s.len() {
                let start = self.i;
                while self.peek(0).is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
                let line = self.text(start, self.i);
                self.i += 1;
                let line = if strip { line.trim_start_matches('\t') } else { &line };
                if line == delim {
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            if let Some(b) = self.bodies.get_mut(idx) {
                b.0 = body;
            }
        }
        self.i = self.i.min(self.s.len());
    }

    /// Finds the closer that brings `depth` to zero, skipping quotes and escapes. Returns
    /// where the inner text ends and where to go on (both the end if unbalanced).
    fn close(&self, from: usize, open: char, close: char, depth: usize) -> (usize, usize) {
        let (len, mut depth, mut k) = (self.s.len(), depth, from);
        while k < len {
            let c = self.s[k];
            let prev = if k > from { self.s.get(k - 1).copied() } else { None };
            match c {
                '\\' => k += 1,
                '\'' | '"' | '`' => {
                    // `$'...'` and `"..."` honour backslashes; plain single quotes do not.
                    let escapes = c != '\'' || prev == Some('$');
                    k += 1;
                    while k < len && self.s[k] != c {
                        k += if escapes && self.s[k] == '\\' { 2 } else { 1 };
                    }
                }
                '#' if open == '(' && prev.is_none_or(char::is_whitespace) => {
                    while k + 1 < len && self.s[k + 1] != '\n' {
                        k += 1;
                    }
                }
                _ if c == open => depth += 1,
                _ if c == close => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return (k, k + 1);
                    }
                }
                _ => {}
            }
            k += 1;
        }
        (len, len)
    }

    /// One word, up to an unquoted metachar.
    fn word(&mut self) -> Raw {
        let start = self.i;
        let mut parts = Vec::new();
        if self.starts("<(") || self.starts(">(") {
            // Process substitution: a command whose output is a file name.
            let (end, next) = self.close(self.i + 2, '(', ')', 1);
            parts.push(Part::Sub(self.text(self.i + 2, end)));
            self.i = next;
        }
        while let Some(c) = self.peek(0) {
            match c {
                _ if is_meta(c) => break,
                '\\' => match self.peek(1) {
                    Some('\n') => self.i += 2,
                    Some(n) => {
                        lit(&mut parts, n, true);
                        self.i += 2;
                    }
                    None => {
                        lit(&mut parts, '\\', true);
                        self.i += 1;
                    }
                },
                '\'' => {
                    let (from, mut k) = (self.i + 1, self.i + 1);
                    while self.s.get(k).is_some_and(|&c| c != '\'') {
                        k += 1;
                    }
                    parts.push(Part::Lit(self.text(from, k), true));
                    self.i = k + 1;
                }
                '"' => {
                    self.i += 1;
                    parts.push(Part::Lit(String::new(), true));
                    self.dquote(&mut parts, Some('"'));
                }
                '$' => self.dollar(&mut parts, false),
                '`' => self.backtick(&mut parts),
                _ => {
                    lit(&mut parts, c, false);
                    self.i += 1;
                }
            }
        }
        self.i = self.i.min(self.s.len());
        Raw { parts, written: self.text(start, self.i) }
    }

    /// Double-quoted text up to `end` (or all of it: here-doc bodies, `${...}` contents).
    fn dquote(&mut self, parts: &mut Vec<Part>, end: Option<char>) {
        while let Some(c) = self.peek(0) {
            if Some(c) == end {
                self.i += 1;
                return;
            }
            match c {
                '\\' => match self.peek(1) {
                    Some('\n') => self.i += 2,
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        lit(parts, n, true);
                        self.i += 2;
                    }
                    _ => {
                        lit(parts, '\\', true);
                        self.i += 1;
                    }
                },
                '$' => self.dollar(parts, true),
                '`' => self.backtick(parts),
                _ => {
                    lit(parts, c, true);
                    self.i += 1;
                }
            }
        }
    }

    /// `` `cmd` ``: inside, a backslash escapes only `$`, `` ` `` and `\\`.
    fn backtick(&mut self, parts: &mut Vec<Part>) {
        self.i += 1;
        let mut inner = String::new();
        while let Some(c) = self.peek(0) {
            self.i += 1;
            match (c, self.peek(0)) {
                ('`', _) => break,
                ('\\', Some(n @ ('$' | '`' | '\\'))) => {
                    inner.push(n);
                    self.i += 1;
                }
                _ => inner.push(c),
            }
        }
        parts.push(Part::Sub(inner));
    }

    /// `$...`: ANSI-C and locale quotes, substitutions, arithmetic, parameters.
    fn dollar(&mut self, parts: &mut Vec<Part>, in_dq: bool) {
        match self.peek(1) {
            Some('\'') if !in_dq => {
                self.i += 2;
                self.ansi_c(parts);
            }
            Some('"') if !in_dq => {
                self.i += 2;
                parts.push(Part::Lit(String::new(), true));
                self.dquote(parts, Some('"'));
            }
            Some('(') => {
                let (end, next) = self.close(self.i + 2, '(', ')', 1);
                let inner = self.text(self.i + 2, end);
                self.i = next;
                let arith = inner.len() >= 2 && inner.starts_with('(') && inner.ends_with(')');
                if arith && !looks_like_command(&inner[1..inner.len() - 1]) {
                    parts.push(Part::Dynamic);
                    parts.extend(subs_in(&inner, self.depth));
                } else {
                    parts.push(Part::Sub(inner));
                }
            }
            Some('{') => {
                let (end, next) = self.close(self.i + 2, '{', '}', 1);
                let inner = self.text(self.i + 2, end);
                self.i = next;
                if inner == "HOME" {
                    parts.push(Part::Home);
                } else {
                    // `${X:-$(cmd)}` still runs cmd.
                    parts.push(Part::Dynamic);
                    parts.extend(subs_in(&inner, self.depth));
                }
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let len = self.s[self.i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').count();
                let name = self.text(self.i + 1, self.i + 1 + len);
                self.i += 1 + len;
                parts.push(if name == "HOME" { Part::Home } else { Part::Dynamic });
            }
            Some(c) if c.is_ascii_digit() || "@*#?-$!".contains(c) => {
                self.i += 2;
                parts.push(Part::Dynamic);
            }
            _ => {
                lit(parts, '$', in_dq);
                self.i += 1;
            }
        }
    }

    /// `$'...'`: C-style escapes, all quoted.
    fn ansi_c(&mut self, parts: &mut Vec<Part>) {
        parts.push(Part::Lit(String::new(), true));
        while let Some(c) = self.peek(0) {
            self.i += 1;
            if c == '\'' {
                return;
            }
            if c != '\\' {
                lit(parts, c, true);
                continue;
            }
            let Some(e) = self.peek(0) else { return lit(parts, '\\', true) };
            self.i += 1;
            let radix_digits = |lx: &mut Lexer, radix: u32, max: usize| {
                let n = lx.s[lx.i..].iter().take(max).take_while(|c| c.is_digit(radix)).count();
                let v = u32::from_str_radix(&lx.text(lx.i, lx.i + n), radix).ok();
                lx.i += n;
                v.and_then(char::from_u32)
            };
            let out = match e {
                'n' => Some('\n'),
                't' => Some('\t'),
                'r' => Some('\r'),
                'a' => Some('\x07'),
                'b' => Some('\x08'),
                'e' | 'E' => Some('\x1b'),
                'f' => Some('\x0c'),
                'v' => Some('\x0b'),
                '\\' | '\'' | '"' | '?' => Some(e),
                'x' => radix_digits(self, 16, 2),
                'u' => radix_digits(self, 16, 4),
                '0'..='7' => {
                    self.i -= 1;
                    radix_digits(self, 8, 3)
                }
                _ => {
                    lit(parts, '\\', true);
                    Some(e)
                }
            };
            if let Some(o) = out {
                lit(parts, o, true);
            }
        }
    }
}

/// The command substitutions in text read as if double-quoted.
fn subs_in(text: &str, depth: usize) -> Vec<Part> {
    if depth >= MAX_DEPTH {
        // Too deep to lex: hand the whole text on, where the depth limit makes it Unknown.
        return vec![Part::Sub(text.to_string())];
    }
    let mut lx = Lexer::new(text, depth + 1);
    let mut parts = Vec::new();
    lx.dquote(&mut parts, None);
    parts.into_iter().filter(|p| matches!(p, Part::Sub(_))).collect()
}

/// `$((echo hi))` is a command substitution to bash when it is not valid arithmetic; two
/// operands side by side, quotes or `;` never are.
fn looks_like_command(expr: &str) -> bool {
    let operand = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let toks: Vec<&str> = expr.split_whitespace().collect();
    expr.contains([';', '\n', '\'', '"'])
        || toks.windows(2).any(|w| w[0].ends_with(operand) && w[1].starts_with(operand))
}

// ---------------------------------------------------------------------------------------
// Words

/// A word's value after quote removal and expansion, or Unknown.
fn eval(raw: &Raw, home: &str) -> Word {
    let (mut value, mut known_part, mut dynamic) = (String::new(), String::new(), false);
    // Unquoted literal chars (None for anything else), to find globs and brace expansion.
    let mut unq: Vec<Option<char>> = Vec::new();
    for (k, part) in raw.parts.iter().enumerate() {
        match part {
            Part::Lit(text, quoted) => {
                let mut text = text.as_str();
                if k == 0 && !quoted && text.starts_with('~') {
                    let end = text.find('/').unwrap_or(text.len());
                    if end < text.len() || raw.parts.len() == 1 {
                        if end == 1 {
                            value.push_str(home);
                            known_part.push_str(home);
                            text = &text[1..];
                        } else {
                            dynamic = true; // `~user`, `~+`, `~-`
                        }
                    }
                }
                for c in text.chars() {
                    value.push(c);
                    if *quoted || !matches!(c, '*' | '?' | '[' | ']') {
                        known_part.push(c);
                    }
                    unq.push(if *quoted { None } else { Some(c) });
                }
            }
            Part::Home => {
                value.push_str(home);
                known_part.push_str(home);
                unq.push(None);
            }
            Part::Dynamic | Part::Sub(_) => {
                dynamic = true;
                unq.push(None);
            }
        }
    }
    if dynamic || is_pattern(&unq) {
        Word::Unknown { as_written: raw.written.clone(), known_part }
    } else {
        Word::Known(value)
    }
}

/// Globs (`*`, `?`, `[...]`) and brace expansion (`{a,b}`, `{1..3}`) in unquoted text.
fn is_pattern(unq: &[Option<char>]) -> bool {
    let mut open: Option<usize> = None;
    for (k, c) in unq.iter().enumerate() {
        match c {
            Some('*' | '?') => return true,
            Some('[') if unq[k..].contains(&Some(']')) => return true,
            Some('{') => open = Some(k),
            Some('}') => {
                if let Some(o) = open.take() {
                    let inner = &unq[o + 1..k];
                    if inner.contains(&Some(',')) || inner.windows(2).any(|w| w == [Some('.'), Some('.')]) {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

/// `NAME=value` or `NAME+=value`.
fn is_assignment(text: &str) -> bool {
    let Some((name, _)) = text.split_once('=') else { return false };
    let name = name.strip_suffix('+').unwrap_or(name);
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `VAR=value` before a command: only when the name part is unquoted.
fn raw_assignment(raw: &Raw) -> bool {
    matches!(raw.parts.first(), Some(Part::Lit(s, false)) if is_assignment(s))
}

/// The words of a text, as a shell would split them (for `env -S`).
fn words_of(text: &str, home: &str, depth: usize) -> Vec<Word> {
    let (toks, _) = Lexer::new(text, depth + 1).run();
    toks.iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(eval(w, home)),
            _ => None,
        })
        .collect()
}

/// Joins a cd target onto the dir so far, lexically: `.` and empty parts go, `..` stays.
fn join_dir(base: &Option<Word>, p: &str) -> Word {
    let norm = |p: &str| {
        let abs = p.starts_with('/');
        let parts: Vec<&str> = p.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        match (abs, parts.is_empty()) {
            (true, _) => format!("/{}", parts.join("/")),
            (false, true) => ".".to_string(),
            (false, false) => parts.join("/"),
        }
    };
    match base {
        _ if p.starts_with('/') => Word::Known(norm(p)),
        None => Word::Known(norm(p)),
        Some(Word::Known(b)) => Word::Known(norm(&format!("{b}/{p}"))),
        Some(Word::Unknown { as_written, known_part }) => {
            unknown(&format!("{as_written}/{p}"), &format!("{known_part}/{p}"))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parser

/// Where a `(` or `{` began: a subshell gives back the dir on `)`, a group does not.
struct Frame {
    subshell: bool,
    dir: Option<Word>,
    pipe_dir: Option<Word>,
    in_pipe: bool,
}

/// What the parser expects next, for the compound commands that take words of their own.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Normal,
    /// After `for`/`select`: its variable name.
    ForName,
    /// After the name: `in` or `do`.
    ForIn,
    /// The words after `in`, up to `;` or a newline.
    ForWords,
    /// After `case`: the word matched (not a command).
    CaseWord,
    /// After that word: `in`, then patterns.
    CaseIn,
    /// After `function`: the name.
    FuncName,
}

/// Reserved words that are skipped at a command's start (the commands around them count).
const RESERVED: [&str; 11] = ["if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "coproc"];

/// Walks the tokens of one command line, collecting simple commands and tracking `cd`.
struct Parser<'h> {
    home: &'h str,
    depth: usize,
    out: Vec<Simple>,
    /// Where the next command runs.
    dir: Option<Word>,
    /// The dir when the current pipeline began: each of its parts runs in a subshell.
    pipe_dir: Option<Word>,
    /// A `|` came since the last list operator.
    in_pipe: bool,
    /// Open `(` and `{`.
    frames: Vec<Frame>,
}

impl Parser<'_> {
    /// The whole token list: words gather into the current command until an operator ends it.
    fn run(&mut self, toks: &[Tok], bodies: &[(String, bool)]) {
        let (mut cur, mut stdin): (Vec<Raw>, Option<Word>) = (Vec::new(), None);
        let (mut state, mut pattern, mut cases) = (State::Normal, false, 0usize);
        let mut i = 0;
        while let Some(tok) = toks.get(i) {
            i += 1;
            match tok {
                Tok::Arith(text) => {
                    self.subs(&subs_in(text, self.depth));
                    if state == State::ForName {
                        state = State::ForIn;
                    }
                }
                Tok::Redir(op, heredoc) => {
                    if let Some((body, expand)) = heredoc.and_then(|b| bodies.get(b)) {
                        let raw = if *expand {
                            let mut lx = Lexer::new(body, self.depth);
                            let mut parts = Vec::new();
                            lx.dquote(&mut parts, None);
                            Raw { parts, written: body.clone() }
                        } else {
                            Raw { parts: vec![Part::Lit(body.clone(), true)], written: body.clone() }
                        };
                        self.subs(&raw.parts);
                        stdin = Some(eval(&raw, self.home));
                    } else if let Some(Tok::Word(w)) = toks.get(i) {
                        // The target is no word of the command, but its substitutions run.
                        i += 1;
                        self.subs(&w.parts);
                        if *op == "<<<" {
                            stdin = Some(match eval(w, self.home) {
                                Word::Known(s) => Word::Known(s + "\n"),
                                u => u,
                            });
                        }
                    }
                }
                Tok::Word(w) => {
                    self.subs(&w.parts);
                    let plain = w.plain().unwrap_or("");
                    if pattern {
                        if plain == "esac" {
                            pattern = false;
                            cases = cases.saturating_sub(1);
                        }
                        continue;
                    }
                    match state {
                        State::ForName => state = State::ForIn,
                        State::ForIn => state = if plain == "in" { State::ForWords } else { State::Normal },
                        State::ForWords => {}
                        State::CaseWord => state = State::CaseIn,
                        State::CaseIn => {
                            (state, pattern, cases) = (State::Normal, true, cases + 1);
                        }
                        State::FuncName => {
                            state = State::Normal;
                            if matches!(toks.get(i..i + 2), Some([Tok::Op("("), Tok::Op(")")])) {
                                i += 2;
                            }
                        }
                        State::Normal if !cur.is_empty() => cur.push(w.clone()),
                        State::Normal => match plain {
                            _ if RESERVED.contains(&plain) => {}
                            "{" => {
                                self.push_frame(false);
                            }
                            "}" => self.pop_frame(),
                            "for" | "select" => state = State::ForName,
                            "case" => state = State::CaseWord,
                            "function" => state = State::FuncName,
                            "esac" => cases = cases.saturating_sub(1),
                            _ => cur.push(w.clone()),
                        },
                    }
                }
                Tok::Op(op) => {
                    if pattern {
                        // Inside a case pattern only `)` matters: it ends the pattern.
                        pattern = *op != ")";
                        continue;
                    }
                    if matches!(state, State::CaseWord | State::CaseIn) && *op == "\n" {
                        continue;
                    }
                    if !matches!(*op, "(" | ")") {
                        self.finish(std::mem::take(&mut cur), stdin.take());
                    }
                    match *op {
                        "(" => {
                            if cur.len() == 1 && matches!(toks.get(i), Some(Tok::Op(")"))) {
                                // `f() { ...; }`: the body follows as an ordinary command.
                                i += 1;
                                cur.clear();
                                continue;
                            }
                            if cur.last().is_some_and(|w| raw_assignment(w) && w.written.ends_with('=')) {
                                // `a=(x y)`: array elements, not a subshell.
                                while let Some(t) = toks.get(i) {
                                    i += 1;
                                    match t {
                                        Tok::Op(")") => break,
                                        Tok::Word(w) => self.subs(&w.parts),
                                        _ => {}
                                    }
                                }
                                continue;
                            }
                            self.finish(std::mem::take(&mut cur), stdin.take());
                            self.push_frame(true);
                        }
                        ")" => {
                            self.finish(std::mem::take(&mut cur), stdin.take());
                            self.pop_frame();
                        }
                        "|" | "|&" => {
                            self.dir = self.pipe_dir.clone();
                            self.in_pipe = true;
                        }
                        "&" => {
                            // A background job runs in a subshell: its cd does not stay.
                            self.dir = self.pipe_dir.clone();
                            self.in_pipe = false;
                            self.pipe_dir = self.dir.clone();
                        }
                        _ => {
                            if self.in_pipe {
                                self.dir = self.pipe_dir.clone();
                                self.in_pipe = false;
                            }
                            if matches!(state, State::ForName | State::ForIn | State::ForWords) {
                                state = State::Normal;
                            }
                            if op.starts_with(";;") || *op == ";&" {
                                pattern = cases > 0;
                            }
                            // The next pipeline starts here.
                            self.pipe_dir = self.dir.clone();
                        }
                    }
                }
            }
        }
        self.finish(cur, stdin);
        if self.in_pipe {
            self.dir = self.pipe_dir.clone();
        }
    }

    /// Enters `(` or `{`: a new list starts, and its pipeline with it.
    fn push_frame(&mut self, subshell: bool) {
        self.frames.push(Frame {
            subshell,
            dir: self.dir.clone(),
            pipe_dir: self.pipe_dir.clone(),
            in_pipe: self.in_pipe,
        });
        self.pipe_dir = self.dir.clone();
        self.in_pipe = false;
    }

    /// Leaves `)` or `}` (a stray one is ignored).
    fn pop_frame(&mut self) {
        if let Some(f) = self.frames.pop() {
            if f.subshell {
                self.dir = f.dir;
            }
            (self.pipe_dir, self.in_pipe) = (f.pipe_dir, f.in_pipe);
        }
    }

    /// Parses a nested command line here (a substitution, `sh -c`, `eval`); returns the dir it ends in.
    fn nested(&mut self, text: &str) -> Option<Word> {
        let (out, dir) = parse_at(text, self.home, self.depth + 1, self.dir.clone());
        self.out.extend(out);
        dir
    }

    /// The commands inside a word's substitutions run (before the word's own command).
    fn subs(&mut self, parts: &[Part]) {
        for p in parts {
            if let Part::Sub(inner) = p {
                self.nested(inner);
            }
        }
    }

    /// Ends the current simple command: leading assignments go, the words are expanded.
    fn finish(&mut self, raw: Vec<Raw>, stdin: Option<Word>) {
        let start = raw.iter().position(|w| !raw_assignment(w)).unwrap_or(raw.len());
        let words: Vec<Word> = raw[start..].iter().map(|w| eval(w, self.home)).collect();
        if !words.is_empty() {
            self.simple(words, stdin);
        }
    }

    /// Runs words given as a command line (`eval`, `watch`): all Known, they are parsed;
    /// else one Unknown word. `leak`: it runs in this shell, so a cd in it stays.
    fn run_words(&mut self, args: &[Word], leak: bool) {
        if args.is_empty() {
            return;
        }
        let texts: Vec<&str> = args.iter().map(written).collect();
        if args.iter().all(|w| matches!(w, Word::Known(_))) {
            let dir = self.nested(&texts.join(" "));
            if leak {
                self.dir = dir;
            }
            return;
        }
        let parts: Vec<&str> = args
            .iter()
            .map(|w| match w {
                Word::Known(s) => s.as_str(),
                Word::Unknown { known_part, .. } => known_part.as_str(),
            })
            .collect();
        let w = unknown(&texts.join(" "), &parts.join(" "));
        self.out.push(Simple { words: vec![w], dir: self.dir.clone() });
        if leak {
            self.dir = Some(unknown(&texts.join(" "), ""));
        }
    }

    /// One simple command: wrappers off, nested shells followed, then canonical options.
    fn simple(&mut self, mut words: Vec<Word>, stdin: Option<Word>) {
        for _ in 0..16 {
            basename(&mut words);
            let Some((start, via_shell)) = wrapper_end(&mut words, self.home, self.depth) else { break };
            if start == 0 || start >= words.len() {
                break;
            }
            if via_shell {
                return self.run_words(&words[start..], false);
            }
            words.drain(..start);
        }
        let name = known(words.first()).unwrap_or("").to_string();
        match name.as_str() {
            "eval" => {
                let skip = if known(words.get(1)) == Some("--") { 2 } else { 1 };
                return self.run_words(words.get(skip..).unwrap_or(&[]), true);
            }
            "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "ash" | "yash" | "fish" => {
                match shell_script(&words, stdin) {
                    Some(Word::Known(text)) => return drop(self.nested(&text)),
                    Some(u) => return self.out.push(Simple { words: vec![u], dir: self.dir.clone() }),
                    None => {}
                }
            }
            "git" => git(&mut words),
            "rm" => rm(&mut words),
            _ => {}
        }
        let dir = self.dir.clone();
        if matches!(name.as_str(), "cd" | "pushd" | "popd") {
            self.cd(&words);
        }
        self.out.push(Simple { words, dir });
    }

    /// `cd`/`pushd`/`popd`: where the commands after it run.
    fn cd(&mut self, words: &[Word]) {
        let name = known(words.first()).unwrap_or("");
        let mut args =
            words.iter().skip(1).skip_while(|w| known(Some(w)).is_some_and(|s| s.len() > 1 && s.starts_with('-')));
        self.dir = match (name, args.next()) {
            ("popd", _) | ("pushd", None) => Some(unknown(name, "")),
            (_, None) => Some(Word::Known(self.home.to_string())),
            (_, Some(Word::Known(p))) if p == "-" => Some(unknown("-", "")),
            (_, Some(Word::Known(p))) if p.is_empty() => return,
            (_, Some(Word::Known(p))) => Some(join_dir(&self.dir, p)),
            (_, Some(u)) => Some(u.clone()),
        };
    }
}

/// `/usr/bin/git` runs git: a Known first word becomes its basename.
fn basename(words: &mut [Word]) {
    if let Some(Word::Known(w)) = words.first_mut()
        && let Some(base) = w.trim_end_matches('/').rsplit('/').next().filter(|b| !b.is_empty())
    {
        *w = base.to_string();
    }
}

/// Index of the first word after a program's options: letters in `short_arg` take a value
/// (the rest of their cluster, or the next word), as do `long_arg` names without `=`.
fn skip_options(words: &[Word], short_arg: &str, long_arg: &[&str], assignments: bool) -> usize {
    let mut i = 1;
    while let Some(w) = known(words.get(i)) {
        i += 1;
        if w == "--" {
            break;
        } else if assignments && is_assignment(w) {
        } else if let Some(long) = w.strip_prefix("--") {
            i += usize::from(long_arg.contains(&long));
        } else if w.len() > 1 && w.starts_with('-') {
            let flags = &w[1..];
            if let Some(k) = flags.find(|c| short_arg.contains(c)) {
                i += usize::from(k + 1 == flags.len());
            }
        } else {
            return i - 1;
        }
    }
    i.min(words.len())
}

/// For a wrapper program (`sudo`, `env`, `timeout`...): where the wrapped command starts,
/// and whether the wrapper runs it through `sh -c` (`watch`).
fn wrapper_end(words: &mut Vec<Word>, home: &str, depth: usize) -> Option<(usize, bool)> {
    let name = known(words.first())?.to_string();
    let end = match name.as_str() {
        "env" => {
            // `env -S 'a b'` splits its string into words: put them in its place.
            for _ in 0..8 {
                let end = skip_options(words, "uCS", &["unset", "chdir", "split-string"], true);
                let found = (1..end).find_map(|k| {
                    let w = known(words.get(k))?;
                    match w.strip_prefix("--split-string=").or_else(|| w.strip_prefix("-S")) {
                        Some("") => Some((k, 2, known(words.get(k + 1))?.to_string())),
                        Some(t) => Some((k, 1, t.to_string())),
                        None if w == "--split-string" => Some((k, 2, known(words.get(k + 1))?.to_string())),
                        None => None,
                    }
                });
                let Some((k, n, text)) = found else { break };
                let end = (k + n).min(words.len());
                words.splice(k..end, words_of(&text, home, depth));
            }
            skip_options(words, "uCS", &["unset", "chdir", "split-string"], true)
        }
        "sudo" => skip_options(
            words,
            "ugCDhprtTUR",
            &["user", "group", "close-from", "chdir", "host", "prompt", "role", "type", "other-user", "chroot"],
            true,
        ),
        "doas" => skip_options(words, "uC", &[], false),
        "nice" => skip_options(words, "n", &["adjustment"], false),
        "nohup" | "builtin" | "busybox" => 1,
        "time" => skip_options(words, "fo", &["format", "output"], false),
        "command" if words.iter().skip(1).any(|w| matches!(known(Some(w)), Some("-v" | "-V"))) => return None,
        "command" => skip_options(words, "", &[], false),
        "exec" => skip_options(words, "a", &[], false),
        "timeout" => skip_options(words, "ks", &["kill-after", "signal"], false) + 1,
        "stdbuf" => skip_options(words, "ioe", &["input", "output", "error"], false),
        "xargs" => skip_options(
            words,
            "adEILnPs",
            &["arg-file", "delimiter", "max-args", "max-procs", "max-chars", "process-slot-var"],
            false,
        ),
        "watch" => {
            let end = skip_options(words, "nq", &["interval", "equexit"], false);
            let exec = words[1..end.min(words.len())].iter().any(|w| matches!(known(Some(w)), Some("-x" | "--exec")));
            return Some((end, !exec));
        }
        _ => return None,
    };
    Some((end, false))
}

/// The script a shell would run: the `-c` string, or its stdin when it has no script file.
fn shell_script(words: &[Word], stdin: Option<Word>) -> Option<Word> {
    let (mut i, mut c, mut s) = (1, false, false);
    while let Some(w) = known(words.get(i)) {
        if w == "--" || w == "-" {
            i += 1;
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            c |= long == "command";
            i += if matches!(long, "rcfile" | "init-file") { 2 } else { 1 };
            continue;
        }
        if w.len() < 2 || !(w.starts_with('-') || w.starts_with('+')) {
            break;
        }
        if w.starts_with('-') {
            c |= w.contains('c');
            s |= w.contains('s');
        }
        i += 1 + usize::from(w.contains(['o', 'O']));
    }
    if c {
        return words.get(i).cloned();
    }
    if s || i >= words.len() { stdin } else { None }
}

/// git's own commands; any other subcommand may be an alias.
const GIT_COMMANDS: &str = "add am apply archive bisect blame branch bundle cat-file check-ignore checkout cherry cherry-pick \
     clean clone commit config count-objects describe diff diff-files diff-index diff-tree difftool fetch \
     for-each-ref format-patch fsck gc grep gui help init log ls-files ls-remote ls-tree merge merge-base \
     mergetool mv notes pull push range-diff rebase reflog remote repack replace reset restore rev-list \
     rev-parse revert rm shortlog show show-ref sparse-checkout stash status submodule switch \
     symbolic-ref tag update-index update-ref verify-commit version whatchanged worktree write-tree lfs \
     maintenance hash-object mktree commit-tree read-tree fast-export fast-import filter-branch prune";

/// Whether a space-separated list holds a word.
fn has(list: &str, w: &str) -> bool {
    list.split_whitespace().any(|x| x == w)
}

/// git's global options that take a value (as the next word, or after `=` for long ones).
const GIT_VALUE_OPTIONS: &str = "-C -c --git-dir --work-tree --namespace --config-env --super-prefix --attr-source";

/// git's global options that stand alone.
const GIT_FLAGS: &str = "-p --paginate -P --no-pager --bare --no-replace-objects --literal-pathspecs --glob-pathspecs \
     --noglob-pathspecs --icase-pathspecs --no-optional-locks --exec-path --no-advice --no-lazy-fetch";

/// `git [global options] SUB args` -> `git SUB args`, with `push` canonical.
fn git(words: &mut Vec<Word>) {
    let mut i = 1;
    while let Some(w) = known(words.get(i)) {
        let takes_value = has(GIT_VALUE_OPTIONS, w);
        // `--git-dir=x`, `--exec-path=x`: the value in the same word.
        let joined = w
            .split_once('=')
            .is_some_and(|(k, _)| k.starts_with("--") && (has(GIT_VALUE_OPTIONS, k) || has(GIT_FLAGS, k)));
        let flag = has(GIT_FLAGS, w) || joined;
        if !takes_value && !flag {
            break;
        }
        i += 1 + usize::from(takes_value);
    }
    words.drain(1..i.min(words.len()));
    if let Some(Word::Known(sub)) = words.get_mut(1) {
        if sub == "send-pack" || sub == "http-push" {
            *sub = "push".to_string();
        } else if !has(GIT_COMMANDS, sub) && !sub.starts_with('-') {
            let s = sub.clone();
            words[1] = unknown(&s, &s);
        }
    }
    if known(words.get(1)) == Some("push") {
        push(words);
    }
}

/// `git push` options: short flags split, every way to force as one `--force`, `+ref` too.
fn push(words: &mut Vec<Word>) {
    let args: Vec<Word> = words.drain(2..).collect();
    let (mut out, mut force_at, mut first_operand, mut opts_done) = (Vec::new(), None, None, false);
    let mut it = args.into_iter();
    while let Some(w) = it.next() {
        let s = match &w {
            Word::Known(s) => s.clone(),
            Word::Unknown { as_written, .. } => {
                first_operand.get_or_insert(out.len());
                if as_written.starts_with('+') {
                    force_at.get_or_insert(out.len());
                }
                out.push(w);
                continue;
            }
        };
        if opts_done || !s.starts_with('-') || s == "-" {
            first_operand.get_or_insert(out.len());
            match s.strip_prefix('+') {
                Some(r) => {
                    force_at.get_or_insert(out.len());
                    out.push(Word::Known(r.to_string()));
                }
                None => out.push(w),
            }
        } else if s == "--" {
            opts_done = true;
            out.push(w);
        } else if s.starts_with("--") {
            if matches!(s.as_str(), "--force" | "--force-if-includes" | "--force-with-lease")
                || s.starts_with("--force-with-lease=")
            {
                force_at.get_or_insert(out.len());
                continue;
            }
            let value = matches!(s.as_str(), "--repo" | "--receive-pack" | "--exec" | "--push-option");
            out.push(w);
            if value {
                out.extend(it.next());
            }
        } else {
            for (k, c) in s.char_indices().skip(1) {
                if c == 'f' {
                    force_at.get_or_insert(out.len());
                    continue;
                }
                out.push(Word::Known(format!("-{c}")));
                if c == 'o' {
                    // `-o` takes a value: the rest of the cluster, or the next word.
                    let rest = &s[k + 1..];
                    if rest.is_empty() {
                        out.extend(it.next());
                    } else {
                        out.push(Word::Known(rest.to_string()));
                    }
                    break;
                }
            }
        }
    }
    if let Some(at) = force_at {
        // Placed where the first force flag was, or before the operands for a `+ref` alone.
        let at = at.min(first_operand.unwrap_or(at)).min(out.len());
        out.insert(at, Word::Known("--force".to_string()));
    }
    words.extend(out);
}

/// `rm` options: each once, lowercase `-r`, long forms short, `-r -f` first, flags before operands.
fn rm(words: &mut Vec<Word>) {
    let (mut flags, mut operands, mut opts_done): (Vec<String>, Vec<Word>, bool) = (Vec::new(), Vec::new(), false);
    let add = |f: String, flags: &mut Vec<String>| {
        if !flags.contains(&f) {
            flags.push(f);
        }
    };
    for w in words.drain(1..) {
        let s = match &w {
            Word::Known(s) if !opts_done && s.len() > 1 && s.starts_with('-') => s.clone(),
            _ => {
                operands.push(w);
                continue;
            }
        };
        match s.as_str() {
            "--" => opts_done = true,
            "--recursive" => add("-r".into(), &mut flags),
            "--force" => add("-f".into(), &mut flags),
            "--dir" => add("-d".into(), &mut flags),
            "--verbose" => add("-v".into(), &mut flags),
            _ if s.starts_with("--") => add(s, &mut flags),
            _ => s.chars().skip(1).for_each(|c| add(format!("-{}", if c == 'R' { 'r' } else { c }), &mut flags)),
        }
    }
    // `-r` and `-f` lead whatever order they came in (`-fr` = `-Rf`); the rest keep theirs.
    flags.sort_by_key(|f| match f.as_str() {
        "-r" => 0,
        "-f" => 1,
        _ => 2,
    });
    // `--` stays only where an operand would read as an option.
    let dashes = operands.iter().any(|w| known(Some(w)).is_some_and(|s| s.starts_with('-')));
    words.extend(flags.into_iter().map(Word::Known));
    if dashes {
        words.push(Word::Known("--".into()));
    }
    words.extend(operands);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(cmd: &str) -> Vec<Simple> {
        parse(cmd, Path::new("/home/u"))
    }

    fn lines(cmd: &str) -> Vec<String> {
        p(cmd).iter().map(line).collect()
    }

    fn one(cmd: &str) -> String {
        let l = lines(cmd);
        assert_eq!(l.len(), 1, "{cmd:?} gave {l:?}");
        l[0].clone()
    }

    fn has(cmd: &str, want: &str) -> bool {
        lines(cmd).iter().any(|l| l == want)
    }

    #[test]
    fn rephrasings_of_git_push() {
        for cmd in ["git -C . push", "git --no-pager push", "'git' \"push\"", "g\\it push", "/usr/bin/git push"] {
            assert_eq!(one(cmd), "git push", "{cmd}");
        }
        assert_eq!(one("git -c user.name=x --git-dir=.git --work-tree w --exec-path=/x -p push"), "git push");
        assert_eq!(one("git --version"), "git --version");
        assert_eq!(one("git send-pack x"), "git push x");
        assert_eq!(one("git\\\n push"), "git push");
    }

    #[test]
    fn nested_commands() {
        for cmd in [
            "sh -c 'git push'",
            "bash -lc \"cd x && git push\"",
            "true; git push",
            "a | git push",
            "(git push)",
            "{ git push; }",
            "echo $(git push)",
            "echo `git push`",
            "eval \"git push\"",
            "if true; then git push; fi",
            "while x; do git push; done",
            "for b in a c; do git push; done",
            "case $x in a|b) git push;; *) ls;; esac",
            "f() { git push; }",
            "diff <(git push) x",
            "echo \"${X:-$(git push)}\"",
            "sudo -E bash -c 'git push'",
            "xargs -n1 sh -c 'git push'",
            "env -S 'git push'",
            "watch -n 5 'git push'",
            "bash <<'EOF'\ngit push\nEOF",
            "echo $((echo x; git push))",
            "cat <<EOF\n$(git push)\nEOF",
        ] {
            assert!(has(cmd, "git push"), "{cmd}: {:?}", lines(cmd));
        }
        let s = p("bash -lc \"cd x && git push\"");
        let push = s.iter().find(|s| line(s) == "git push");
        assert_eq!(push.and_then(|s| s.dir.clone()), Some(Word::Known("x".into())));
        assert_eq!(lines("if a; then b; else c; fi"), ["a", "b", "c"]);
        assert_eq!(lines("echo $((1 + 2))"), ["echo $((1 + 2))"]);
    }

    #[test]
    fn unknown_words() {
        let s = p("eval $X");
        assert!(matches!(s.as_slice(), [Simple { words, .. }] if matches!(words.as_slice(), [Word::Unknown { .. }])));
        assert_eq!(p("git${IFS}push")[0].words, [unknown("git${IFS}push", "gitpush")]);
        assert!(matches!(p("$CMD push")[0].words[0], Word::Unknown { .. }));
        assert_eq!(p("git p")[0].words[1], unknown("p", "p"));
        assert_eq!(p("ls *.rs")[0].words[1], unknown("*.rs", ".rs"));
        assert_eq!(p("ls '*.rs'")[0].words[1], Word::Known("*.rs".into()));
        assert!(matches!(p("echo {a,b}")[0].words[1], Word::Unknown { .. }));
        assert!(matches!(p("ls ~bob")[0].words[1], Word::Unknown { .. }));
        assert_eq!(p("sh -c \"$X\"")[0].words, [unknown("\"$X\"", "")]);
        assert_eq!(p("[ -f x ]")[0].words[0], Word::Known("[".into()));
        assert_eq!(p("find . -name x -exec rm {} \\;")[0].words.len(), 8);
    }

    #[test]
    fn canonical_options() {
        assert_eq!(one("git push -uf origin main"), "git push -u --force origin main");
        assert_eq!(one("git push origin +main"), "git push --force origin main");
        assert_eq!(one("git push -f origin HEAD:refs/heads/main"), "git push --force origin HEAD:refs/heads/main");
        assert_eq!(one("git push --force-with-lease=main -f o +x"), "git push --force o x");
        for cmd in ["rm -Rf a", "rm -r --force a", "rm -fr a", "rm a -rf", "rm --recursive -f -- a"] {
            assert_eq!(one(cmd), "rm -r -f a", "{cmd}");
        }
        assert_eq!(one("rm -rf \"$HOME/x\""), "rm -r -f /home/u/x");
        assert_eq!(one("rm -f ~/x ${HOME}/y"), "rm -f /home/u/x /home/u/y");
        assert_eq!(one("find . -delete"), "find . -delete");
        assert_eq!(one("echo $'a\\tb\\x41'"), "echo a\tbA");
    }

    #[test]
    fn wrappers_and_assignments() {
        for cmd in [
            "env FOO=1 sudo -u root nice -n 5 git push",
            "timeout 5 git push",
            "FOO=1 git push",
            "nohup time -p git push",
            "command git push",
            "exec git push",
            "busybox git push",
            "stdbuf -oL git push",
        ] {
            assert_eq!(one(cmd), "git push", "{cmd}");
        }
        assert!(p("FOO=1").is_empty());
        assert_eq!(one("command -v git"), "command -v git");
        assert_eq!(one("sudo"), "sudo");
    }

    #[test]
    fn dirs() {
        let s = p("cd $HOME && rm -rf x");
        assert_eq!(s[1].dir, Some(Word::Known("/home/u".into())));
        assert_eq!(s[0].dir, None);
        let s = p("cd a; cd ../b; ls; (cd c; ls); ls; cd; ls; cd $X; ls");
        let dirs: Vec<Option<Word>> = s.iter().filter(|s| line(s) == "ls").map(|s| s.dir.clone()).collect();
        assert_eq!(dirs[0], Some(Word::Known("a/../b".into())));
        assert_eq!(dirs[1], Some(Word::Known("a/../b/c".into())));
        assert_eq!(dirs[2], Some(Word::Known("a/../b".into())));
        assert_eq!(dirs[3], Some(Word::Known("/home/u".into())));
        assert!(matches!(dirs[4], Some(Word::Unknown { .. })));
        assert_eq!(p("cd x | true; ls")[2].dir, None);
        assert_eq!(p("eval 'cd x'; ls")[1].dir, Some(Word::Known("x".into())));
        assert_eq!(p("sh -c 'cd x'; ls")[1].dir, None);
    }

    #[test]
    fn heredocs_comments_redirections() {
        assert_eq!(lines("cat <<EOF\ngit push\nEOF\necho hi"), ["cat", "echo hi"]);
        assert_eq!(lines("cat <<-'X' >out\n\tgit push\n\tX\necho hi"), ["cat", "echo hi"]);
        assert_eq!(lines("echo hi # git push"), ["echo hi"]);
        assert_eq!(one("git push 2>&1 >/dev/null <in &>x"), "git push");
        assert_eq!(one("echo a#b"), "echo a#b");
        assert_eq!(lines("a=(x y); ls"), ["ls"]);
    }

    #[test]
    fn no_panics() {
        for cmd in [
            "",
            "'",
            "\"",
            "$(",
            "`",
            "((((",
            ")))",
            "sh -c",
            "eval",
            "git -C",
            "<<",
            "a &&& b",
            "$'\\",
            "$'\\x",
            "${",
            "$((",
            "\\",
            "cat <<",
            "cat <<E\nx",
            "case",
            "case x in",
            "for",
            "function",
            "}",
            "{",
            "f(",
            "git push -o",
            "env -S",
            "env -S '-S -S'",
            "rm --",
            "cd",
            "popd",
            "git",
            "$",
            "~",
            "2>",
            "<(",
            ">(x",
            "a=(",
            "\u{e9}$'\\u00e9'",
        ] {
            let _ = p(cmd);
        }
        let mut deep = "git push".to_string();
        for _ in 0..20 {
            deep = format!("sh -c \"{}\"", deep.replace('\\', "\\\\").replace('"', "\\\""));
        }
        assert!(p(&deep).iter().any(|s| s.words.iter().any(|w| matches!(w, Word::Unknown { .. }))));
        let subs = format!("{}git push{}", "$(".repeat(40), ")".repeat(40));
        let _ = p(&subs);
        let _ = p(&"${a:-".repeat(50));
        // A little fuzzing over shell syntax characters.
        let alphabet: Vec<char> = "ab $(){}[]'\"`\\;&|<>#~=*?\n\t-+%!,.0123456789cdEOF".chars().collect();
        let mut seed = 0x2545_f491_u64;
        for _ in 0..3000 {
            let len = (seed % 40) as usize;
            let s: String = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    alphabet[((seed >> 33) as usize) % alphabet.len()]
                })
                .collect();
            let _ = p(&s);
        }
    }
}
