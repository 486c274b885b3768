use super::*;

fn screen(cols: u16, rows: u16, input: &str) -> Screen {
    let mut s = Screen::new(cols, rows, 1000);
    s.feed(input.as_bytes());
    s
}

fn cell(s: &Screen, x: usize, y: usize) -> Cell {
    s.row(y).cell(x)
}

#[test]
fn prints_and_wraps_at_the_margin_only_when_more_text_comes() {
    let mut s = screen(5, 3, "hello");
    assert_eq!(s.cursor_position(), (4, 0), "pending wrap keeps the cursor on the last column");
    s.feed(b"!");
    assert_eq!(s.visible_text(), vec!["hello", "!", ""]);
    assert!(s.row(0).wrapped);
}

#[test]
fn crlf_scrolls_lines_into_history() {
    let s = screen(10, 2, "a\r\nb\r\nc\r\nd");
    assert_eq!(s.visible_text(), vec!["c", "d"]);
    assert_eq!(s.history_text(), vec!["a", "b"]);
    assert_eq!(s.first_line(), 0);
    assert_eq!(s.screen_top(), 2);
}

#[test]
fn scrollback_limit_drops_the_oldest_lines() {
    let mut s = Screen::new(10, 2, 3);
    for i in 0..10 {
        s.feed(format!("{i}\r\n").as_bytes());
    }
    assert_eq!(s.history_text(), vec!["6", "7", "8"]);
}

#[test]
fn sgr_colours_and_attributes() {
    let s = screen(
        20,
        1,
        "\x1b[31ma\x1b[38;5;200mb\x1b[38;2;1;2;3mc\x1b[38:2::4:5:6md\x1b[1;2;3;4;7me\x1b[0mf\x1b[4:3mg\x1b[97;104mh",
    );
    assert_eq!(cell(&s, 0, 0).style.fg, Color::Indexed(1));
    assert_eq!(cell(&s, 1, 0).style.fg, Color::Indexed(200));
    assert_eq!(cell(&s, 2, 0).style.fg, Color::Rgb(1, 2, 3));
    assert_eq!(cell(&s, 3, 0).style.fg, Color::Rgb(4, 5, 6));
    let e = cell(&s, 4, 0).style.attrs;
    for bit in [Attrs::BOLD, Attrs::DIM, Attrs::ITALIC, Attrs::UNDERLINE, Attrs::INVERSE] {
        assert!(e.has(bit), "attribute {bit} missing");
    }
    assert_eq!(cell(&s, 5, 0).style, Style::default());
    assert!(cell(&s, 6, 0).style.attrs.has(Attrs::CURLY_UNDERLINE));
    assert_eq!(cell(&s, 7, 0).style.fg, Color::Indexed(15));
    assert_eq!(cell(&s, 7, 0).style.bg, Color::Indexed(12));
}

#[test]
fn sgr_underline_colour_is_kept_and_does_not_leak_into_attributes() {
    let s = screen(5, 1, "\x1b[58;2;255;0;0mx\x1b[58:5:3my\x1b[58:2::1:2:3mz\x1b[59mw\x1b[58;5;9;0mv");
    assert_eq!(cell(&s, 0, 0).style, Style { underline: Color::Rgb(255, 0, 0), ..Style::default() });
    assert_eq!(cell(&s, 1, 0).style.underline, Color::Indexed(3));
    assert_eq!(cell(&s, 2, 0).style.underline, Color::Rgb(1, 2, 3));
    assert_eq!(cell(&s, 3, 0).style, Style::default(), "SGR 59 resets it");
    assert_eq!(cell(&s, 4, 0).style, Style::default(), "SGR 0 after it resets it");
}

#[test]
fn underline_styles_each_keep_their_kind() {
    let s = screen(10, 1, "\x1b[4ma\x1b[4:2mb\x1b[4:3mc\x1b[4:4md\x1b[4:5me\x1b[21mf\x1b[4:0mg\x1b[53mh\x1b[55mi");
    let kinds = [
        Attrs::UNDERLINE,
        Attrs::DOUBLE_UNDERLINE,
        Attrs::CURLY_UNDERLINE,
        Attrs::DOTTED_UNDERLINE,
        Attrs::DASHED_UNDERLINE,
        Attrs::DOUBLE_UNDERLINE,
        0,
        Attrs::OVERLINE,
        0,
    ];
    for (x, want) in kinds.into_iter().enumerate() {
        assert_eq!(cell(&s, x, 0).style.attrs, Attrs(want), "column {x}");
    }
}

#[test]
fn hyperlinks_mark_their_text_until_an_empty_one() {
    let mut s = Screen::new(20, 2, 100);
    s.feed(b"a\x1b]8;;https://x.test/1\x07bc\x1b[0;1md\x1b]8;;\x07e\x1b]8;id=7;file:///tmp/f\x1b\\g\r\n");
    let link = |x| s.links().url(s.row(0).cell(x).style.link).map(str::to_string);
    assert_eq!(link(0), None);
    assert_eq!(link(1).as_deref(), Some("https://x.test/1"));
    assert_eq!(link(3).as_deref(), Some("https://x.test/1"), "SGR 0 keeps the link");
    assert!(s.row(0).cell(3).style.attrs.has(Attrs::BOLD));
    assert_eq!(link(4), None);
    assert_eq!(link(5).as_deref(), Some("file:///tmp/f"));
    // A link with a control character in it is no link; its text stays.
    s.feed(b"\x1b]8;;https://x/\xc2\x9b31m \x07h\x1b]8;;\x07");
    assert_eq!(s.row(1).cell(0).ch, 'h');
    assert_eq!(s.row(1).cell(0).style.link, 0);
    // Erased cells take no link.
    s.feed(b"\x1b]8;;https://x.test/2\x07\x1b[2K");
    assert_eq!(s.row(1).cell(0).style.link, 0);
}

#[test]
fn control_characters_printed_as_utf8_are_never_stored() {
    // C1 CSI and OSC (an OSC 52 clipboard write) and NEL, as a program prints them in
    // UTF-8; each is dropped (as tmux does), the text around them kept.
    let s = screen(40, 2, "a\u{9b}31mb\u{9d}52;c;Y3VybA==\u{9c}c\u{85}d\u{90}q\u{7}");
    assert_eq!(s.visible_text(), vec!["a31mb52;c;Y3VybA==cdq", ""]);
    for y in 0..2 {
        let row = crate::protocol::WireRow::from_row(s.row(y), s.links());
        for run in &row.runs {
            assert!(!run.text.chars().any(char::is_control), "{row:?}");
            for (_, mark) in &run.marks {
                assert!(!mark.chars().any(char::is_control), "{row:?}");
            }
        }
        for x in 0..40 {
            assert!(!s.row(y).cell(x).ch.is_control(), "column {x}");
            assert!(s.row(y).combining_at(x).is_none_or(|m| !m.chars().any(char::is_control)), "column {x}");
        }
    }
    assert_eq!(s.cursor_position(), (21, 0));
}

#[test]
fn wide_characters_take_two_cells_and_wrap_early_at_the_margin() {
    let s = screen(5, 2, "ab中文");
    assert_eq!(cell(&s, 2, 0).width, Width::Wide);
    assert_eq!(cell(&s, 3, 0).width, Width::Spacer);
    assert_eq!(s.visible_text(), vec!["ab中", "文"]);
}

#[test]
fn overwriting_half_a_wide_character_blanks_the_other_half() {
    let s = screen(6, 1, "中文\x1b[2Gx");
    assert_eq!(s.visible_text(), vec![" x文"]);
    assert_eq!(cell(&s, 0, 0).width, Width::Narrow);
}

#[test]
fn combining_marks_join_the_previous_cell() {
    let s = screen(6, 1, "e\u{301}x");
    assert_eq!(s.visible_text(), vec!["e\u{301}x"]);
    assert_eq!(s.cursor_position(), (2, 0));
}

#[test]
fn emoji_zwj_sequences_stay_in_one_cell() {
    let s = screen(8, 1, "👩\u{200d}💻z");
    assert_eq!(s.visible_text(), vec!["👩\u{200d}💻z"]);
    assert_eq!(s.cursor_position(), (3, 0));
}

#[test]
fn cursor_movement() {
    let mut s = screen(10, 5, "\x1b[3;4H");
    assert_eq!(s.cursor_position(), (3, 2));
    s.feed(b"\x1b[2A\x1b[5C");
    assert_eq!(s.cursor_position(), (8, 0));
    s.feed(b"\x1b[20B\x1b[100D");
    assert_eq!(s.cursor_position(), (0, 4));
    s.feed(b"\x1b[7G\x1b[2d");
    assert_eq!(s.cursor_position(), (6, 1));
}

#[test]
fn erase_keeps_the_background_colour() {
    let s = screen(4, 2, "abcd\x1b[44m\x1b[1;2H\x1b[K");
    assert_eq!(s.visible_text()[0], "a   ", "erased cells keep the blue background, so they are content");
    assert_eq!(cell(&s, 2, 0).style.bg, Color::Indexed(4));
}

#[test]
fn erase_display_variants() {
    let mut s = screen(3, 3, "abc\r\ndef\r\nghi\x1b[2;2H\x1b[J");
    assert_eq!(s.visible_text(), vec!["abc", "d", ""]);
    s.feed(b"\x1b[1J");
    assert_eq!(s.visible_text(), vec!["", "", ""]);
}

#[test]
fn clearing_the_screen_keeps_its_lines_in_history() {
    let s = screen(5, 2, "one\r\ntwo\x1b[2J");
    assert_eq!(s.history_text(), vec!["one", "two"]);
    assert_eq!(s.visible_text(), vec!["", ""]);
}

#[test]
fn erase_scrollback_clears_history_and_renumbers() {
    let s0 = screen(5, 2, "1\r\n2\r\n3\r\n");
    let epoch = s0.epoch();
    let mut s = s0;
    s.feed(b"\x1b[3J");
    assert!(s.history_text().is_empty());
    assert_ne!(s.epoch(), epoch);
}

#[test]
fn scroll_region_scrolls_only_inside_and_keeps_history_only_from_the_top() {
    let mut s = screen(5, 4, "A\r\nB\r\nC\r\nD\x1b[2;3r\x1b[3;1H\nX");
    assert_eq!(s.visible_text(), vec!["A", "C", "X", "D"]);
    assert!(s.history_text().is_empty(), "a region below the top keeps no history");
    s.feed(b"\x1b[1;3r\x1b[3;1H\nY");
    assert_eq!(s.visible_text(), vec!["C", "X", "Y", "D"]);
    assert_eq!(s.history_text(), vec!["A"]);
}

#[test]
fn reverse_index_at_the_top_scrolls_down() {
    let s = screen(3, 3, "a\r\nb\x1b[H\x1bMz");
    assert_eq!(s.visible_text(), vec!["z", "a", "b"]);
}

#[test]
fn insert_and_delete_lines_and_characters() {
    let mut s = screen(5, 3, "abcde\r\nfghij\r\nklmno\x1b[2;1H\x1b[L");
    assert_eq!(s.visible_text(), vec!["abcde", "", "fghij"]);
    s.feed(b"\x1b[M");
    assert_eq!(s.visible_text(), vec!["abcde", "fghij", ""]);
    s.feed(b"\x1b[1;2H\x1b[2@");
    assert_eq!(s.visible_text()[0], "a  bc");
    s.feed(b"\x1b[3P");
    assert_eq!(s.visible_text()[0], "ac");
    s.feed(b"\x1b[1;1H\x1b[4hXY");
    assert_eq!(s.visible_text()[0], "XYac");
}

#[test]
fn alternate_screen_saves_and_restores_the_primary() {
    let mut s = screen(6, 2, "shell\x1b[?1049h\x1b[Hvim");
    assert!(s.alt_screen());
    assert_eq!(s.visible_text(), vec!["vim", ""]);
    s.feed(b"\x1b[?1049l");
    assert!(!s.alt_screen());
    assert_eq!(s.visible_text(), vec!["shell", ""]);
    assert_eq!(s.cursor_position(), (5, 0));
}

#[test]
fn answers_the_queries_programs_wait_for() {
    let mut s = screen(10, 5, "\x1b[2;3H\x1b[6n\x1b[c\x1b[>c\x1b[5n");
    let r = String::from_utf8(s.take_responses()).unwrap();
    assert_eq!(r, "\x1b[2;3R\x1b[?62;22c\x1b[>1;10;0c\x1b[0n");
    s.set_reported_colors(ReportedColors { fg: (1, 2, 3), bg: (0xff, 0x80, 0), cursor: (0, 0, 0) });
    s.feed(b"\x1b]11;?\x07\x1b]10;?\x1b\\");
    let r = String::from_utf8(s.take_responses()).unwrap();
    assert_eq!(r, "\x1b]11;rgb:ffff/8080/0000\x07\x1b]10;rgb:0101/0202/0303\x1b\\");
}

#[test]
fn answers_mode_and_version_queries() {
    let mut s = screen(10, 5, "\x1b[?2004h\x1b[?2004$p\x1b[?2026$p\x1b[?9999$p\x1b[>q");
    let r = String::from_utf8(s.take_responses()).unwrap();
    assert!(r.starts_with("\x1b[?2004;1$y\x1b[?2026;2$y\x1b[?9999;0$y\x1bP>|teamster "), "{r:?}");
}

#[test]
fn modes_programs_set() {
    let s = screen(10, 5, "\x1b[?1h\x1b[?2004h\x1b[?1002h\x1b[?1006h\x1b[?1004h\x1b[?25l");
    let m = s.modes();
    assert!(m.app_cursor && m.bracketed_paste && m.focus_events && !m.cursor_visible);
    assert_eq!(m.mouse, MouseMode::Drag);
    assert_eq!(m.mouse_encoding, MouseEncoding::Sgr);
}

#[test]
fn dec_line_drawing() {
    let s = screen(5, 1, "\x1b(0lqk\x1b(Bq");
    assert_eq!(s.visible_text(), vec!["┌─┐q"]);
}

#[test]
fn tabs_stop_every_eight_columns_and_can_be_set() {
    let mut s = screen(20, 1, "a\tb");
    assert_eq!(s.cursor_position(), (9, 0));
    s.feed(b"\r\x1b[3g\x1b[5G\x1bH\r\t");
    assert_eq!(s.cursor_position(), (4, 0));
}

#[test]
fn title_bell_clipboard_and_notifications_become_events() {
    let mut s = screen(10, 2, "\x1b]2;my title\x07\x07\x1b]52;c;aGk=\x07\x1b]9;done\x07\x1b]777;notify;T;B\x07");
    assert_eq!(s.title(), "my title");
    assert_eq!(
        s.take_events(),
        vec![
            ScreenEvent::Title("my title".into()),
            ScreenEvent::Bell,
            ScreenEvent::Clipboard("aGk=".into()),
            ScreenEvent::Notify { title: String::new(), body: "done".into() },
            ScreenEvent::Notify { title: "T".into(), body: "B".into() },
        ]
    );
}

#[test]
fn row_generations_mark_only_changed_rows() {
    let mut s = screen(5, 3, "a\r\nb\r\nc");
    let seen = s.generation();
    s.feed(b"\x1b[2;1Hx");
    let changed: Vec<usize> = (0..3).filter(|&y| s.row_generations()[y] > seen).collect();
    assert_eq!(changed, vec![1]);
}

#[test]
fn cursor_shape_and_visibility() {
    let s = screen(5, 1, "\x1b[5 q");
    assert_eq!(s.cursor_shape(), CursorShape::BlinkingBar);
}

#[test]
fn repeat_last_character() {
    let s = screen(10, 1, "x\x1b[3b");
    assert_eq!(s.visible_text(), vec!["xxxx"]);
}

#[test]
fn copy_text_joins_wrapped_lines_and_trims_blanks() {
    let s = screen(4, 4, "abcdef\r\ngh  \r\nij");
    let text = s.text_between(Pos { line: 0, col: 1 }, Pos { line: 3, col: 1 }, false);
    assert_eq!(text, "bcdef\ngh\nij");
    let block = s.text_between(Pos { line: 0, col: 0 }, Pos { line: 1, col: 1 }, true);
    assert_eq!(block, "ab\nef");
}

#[test]
fn search_forward_backward_and_wrapping_across_history() {
    let s = screen(10, 2, "foo one\r\nbar\r\nFoo two\r\nbaz");
    // history: "foo one", "bar"; screen: "Foo two", "baz"
    let first = s.search("foo", Pos { line: 0, col: 0 }, false).unwrap();
    assert_eq!(first, Pos { line: 2, col: 0 }, "lower-case query matches any case");
    let back = s.search("foo", first, true).unwrap();
    assert_eq!(back, Pos { line: 0, col: 0 });
    assert_eq!(s.search("Foo", Pos { line: 3, col: 0 }, false), Some(Pos { line: 2, col: 0 }));
    assert_eq!(s.search("nothing", Pos::default(), false), None);
}

#[test]
fn hostile_counts_are_bounded() {
    let mut s = screen(10, 5, "x\x1b[999999999b\x1b[999999999L\x1b[999999999@\x1b[65535;65535H");
    s.feed(b"\x1b[99999999999999999999S");
    assert_eq!(s.cursor_position(), (9, 4));
}

/// A small deterministic generator (xorshift) from `seed`.
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[test]
fn random_bytes_never_panic() {
    // A small deterministic generator: the screen must survive any byte stream.
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let alphabet: &[u8] = b"\x1b[;?0123456789mHJKABCDlhrstuPM@LXSTbcdn\x07\r\n\t \xe4\xb8\xad\xcc\x81abc]";
    for size in [(1, 1), (2, 3), (10, 4), (80, 24)] {
        let mut s = Screen::new(size.0, size.1, 50);
        let mut buf = Vec::new();
        for _ in 0..20_000 {
            buf.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        for chunk in buf.chunks(97) {
            s.feed(chunk);
            if next() % 50 == 0 {
                s.resize((next() % 30 + 1) as u16, (next() % 10 + 1) as u16);
            }
        }
        let (x, y) = s.cursor_position();
        let (cols, rows) = s.size();
        assert!(x < cols && y < rows);
        for y in 0..rows as usize {
            let row = s.row(y);
            assert!(row.stored().len() <= cols as usize, "row {y} stores cells past the width");
        }
    }
}

/// Whatever a program prints, in whatever charset and mode, no cell ends up holding a
/// control character (its text goes to the user's terminal as it is).
#[test]
fn random_output_never_leaves_a_control_character_in_a_cell() {
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let pieces: &[&str] = &[
        "\u{9b}",
        "\u{9d}",
        "\u{9c}",
        "\u{90}",
        "\u{85}",
        "\u{80}",
        "\u{9f}",
        "\u{7f}",
        "\u{200d}",
        "\u{fe0f}",
        "\u{301}",
        "\u{e0001}",
        "\u{e001b}",
        "\u{202e}",
        "中",
        "a",
        " ",
        "\x1b(0",
        "\x1b(B",
        "\x0e",
        "\x0f",
        "\x1bN",
        "\x1b[4h",
        "\x1b[4l",
        "\x1b[b",
        "\x1b[3b",
        "\r\n",
        "\x1b]8;;https://x/\x1b\\",
        "\x1b]8;;\x1b\\",
        "❤",
    ];
    let mut s = Screen::new(12, 4, 20);
    for _ in 0..20_000 {
        s.feed(pieces[(next() % pieces.len() as u64) as usize].as_bytes());
    }
    for abs in s.first_line()..s.end_line() {
        let Some(row) = s.line(abs) else { continue };
        let wire = crate::protocol::WireRow::from_row(&row, s.links());
        for run in &wire.runs {
            assert!(!run.text.contains(char::is_control), "line {abs}: {wire:?}");
            assert!(run.marks.iter().all(|(_, m)| !m.contains(char::is_control)), "line {abs}: {wire:?}");
        }
    }
}

fn fuzz_replay(data: &[u8]) -> Screen {
    super::fuzz_feed(data).expect("a fuzz input has at least three bytes")
}

#[test]
fn fuzz_regression_termcap_request_is_not_echoed_into_the_programs_input() {
    // Found by the fuzzer: XTGETTCAP (`DCS + q ... ST`) answered with the request's bytes
    // as they came, so a program's output could type into its own input.
    fuzz_replay(include_bytes!("../../tests/fuzz-regressions/screen-xtgettcap-echo.bin"));
    let mut s = Screen::new(20, 3, 10);
    s.feed(b"\x1bP+q\r\nrm -rf ~\r\n\x1b\\\x1bP+q544e;636f\x1b\\");
    assert_eq!(s.take_responses(), b"\x1bP0+r\x1b\\\x1bP0+r544e;636f\x1b\\");
}

#[test]
fn the_kitty_keyboard_stack_is_kept_per_screen_and_answered() {
    let mut s = screen(20, 5, "\x1b[?u");
    assert_eq!(s.take_responses(), b"\x1b[?0u");
    // Push, query, set bits, reset bits, pop.
    let steps: [(&str, u8); 6] =
        [("\x1b[>1u", 1), ("\x1b[>3u", 3), ("\x1b[=8;2u", 11), ("\x1b[=2;3u", 9), ("\x1b[<u", 1), ("\x1b[<5u", 0)];
    for (seq, want) in steps {
        s.feed(seq.as_bytes());
        assert_eq!(s.modes().keyboard, want, "{seq:?}");
        s.feed(b"\x1b[?u");
        assert_eq!(s.take_responses(), format!("\x1b[?{want}u").as_bytes(), "{seq:?}");
    }
    // The alternate screen has a stack of its own, gone when it is left.
    s.feed(b"\x1b[>1u\x1b[?1049h");
    assert_eq!(s.modes().keyboard, 0);
    s.feed(b"\x1b[>9u");
    assert_eq!(s.modes().keyboard, 9);
    s.feed(b"\x1b[?1049l");
    assert_eq!(s.modes().keyboard, 1);
    s.feed(b"\x1b[?1049h");
    assert_eq!(s.modes().keyboard, 0);
    // A full reset forgets everything; so many pushes drop the oldest, not memory.
    s.feed(b"\x1bc");
    assert_eq!(s.modes().keyboard, 0);
    for _ in 0..1000 {
        s.feed(b"\x1b[>1u");
    }
    s.feed(b"\x1b[<100u");
    assert_eq!(s.modes().keyboard, 0);
}

#[test]
fn modify_other_keys_is_set_and_reset() {
    let mut s = screen(20, 5, "\x1b[>4;2m");
    assert_eq!(s.modes().modify_other_keys, 2);
    // Not an SGR: the pen is untouched.
    s.feed(b"x");
    assert_eq!(cell(&s, 0, 0).style, Style::default());
    s.feed(b"\x1b[>4m");
    assert_eq!(s.modes().modify_other_keys, 0);
    s.feed(b"\x1b[>4;1m");
    assert_eq!(s.modes().modify_other_keys, 1);
}

#[test]
fn erasing_right_after_the_last_column_keeps_it() {
    // top writes its header to the last column, then erases the rest of the line.
    for erase in ["\x1b[K", "\x1b[0K", "\x1b[J"] {
        let s = screen(5, 2, &format!("abcde{erase}"));
        assert_eq!(s.row(0).text(), "abcde", "{erase:?}");
    }
    // Before the last column, the cursor's cell goes.
    let s = screen(5, 2, "abcd\x1b[D\x1b[K");
    assert_eq!(s.row(0).text(), "abc");
}

#[test]
fn rep_repeats_only_what_was_printed_just_before() {
    let s = screen(10, 2, "a\x1b[2b\x1b[2b");
    assert_eq!(s.row(0).text(), "aaaaa");
    let s = screen(10, 2, "a\x1b[C\x1b[2b|");
    assert_eq!(s.row(0).text(), "a |");
    let s = screen(10, 2, "a\r\x1b[2b");
    assert_eq!(s.row(0).text(), "a");
}

#[test]
fn an_emoji_asked_for_with_vs16_takes_two_cells_and_keeps_what_follows() {
    let s = screen(8, 1, "❤\u{fe0f}z");
    assert_eq!(cell(&s, 0, 0).width, Width::Wide);
    assert_eq!(cell(&s, 2, 0).ch, 'z');
    assert_eq!(s.cursor_position(), (3, 0));
    assert_eq!(s.visible_text(), vec!["❤\u{fe0f}z"]);
    // Without VS16 it is the narrow text symbol; a VS16 after a letter changes nothing.
    let s = screen(8, 1, "❤z a\u{fe0f}b");
    assert_eq!((cell(&s, 1, 0).ch, cell(&s, 4, 0).ch), ('z', 'b'));
    // At the right margin it moves to the next line whole, as a wide character does.
    let s = screen(3, 2, "ab❤\u{fe0f}c");
    assert_eq!(s.visible_text(), vec!["ab", "❤\u{fe0f}c"]);
}

#[test]
fn the_whole_dec_special_graphics_set() {
    let s = screen(40, 1, "\x1b(0_`abcdefghijklmnopqrstuvwxyz{|}~\x1b(B");
    assert_eq!(s.visible_text(), vec![" ◆▒␉␌␍␊°±␤␋┘┐┌└┼⎺⎻─⎼⎽├┤┴┬│≤≥π≠£·"]);
}

#[test]
fn the_cursor_colour_is_kept_answered_and_reset() {
    let mut s = screen(10, 2, "\x1b]12;rgb:ff/80/00\x07");
    assert_eq!(s.cursor_color(), Some((0xff, 0x80, 0)));
    s.feed(b"\x1b]12;?\x1b\\");
    assert_eq!(s.take_responses(), b"\x1b]12;rgb:ffff/8080/0000\x1b\\");
    s.feed(b"\x1b]12;#0f0\x07");
    assert_eq!(s.cursor_color(), Some((0, 0xff, 0)));
    // Nonsense keeps what was set.
    s.feed(b"\x1b]12;no-such-colour\x07");
    assert_eq!(s.cursor_color(), Some((0, 0xff, 0)));
    s.feed(b"\x1b]112\x07");
    assert_eq!(s.cursor_color(), None);
    for (spec, want) in [
        ("rgb:f/8/0", Some((0xff, 0x88, 0))),
        ("rgb:ffff/8080/0000", Some((0xff, 0x80, 0))),
        ("#102030", Some((0x10, 0x20, 0x30))),
        ("#fff", Some((0xff, 0xff, 0xff))),
        ("#ggg", None),
        ("rgb:1/2", None),
        ("", None),
    ] {
        assert_eq!(parse_color_spec(spec), want, "{spec}");
    }
}
