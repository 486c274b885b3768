//! Tables of events, state and the verdicts expected, over the policies
//! `config.example.toml` ships.

use super::*;
use std::path::Path;

/// The `[[policy]]` tables of config.example.toml, compiled.
fn example_rules() -> Vec<Rule> {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(default)]
        policy: Vec<RuleConfig>,
    }
    let text = include_str!("../../config.example.toml");
    let table: toml::Table = toml::from_str(text).expect("config.example.toml is TOML");
    let only: Only = toml::Value::Table(table).try_into().expect("its policies");
    only.policy.iter().enumerate().map(|(i, c)| Rule::compile(c, i).expect("a valid example rule")).collect()
}

fn ctx(session_spend: f64, marks: &[(&str, f64)]) -> Context {
    Context {
        agent: "claude".into(),
        kind: "claude".into(),
        session_spend,
        day_spend: session_spend,
        marks: marks.iter().map(|(n, s)| (n.to_string(), Mark { spend: *s, at: 1 })).collect(),
        now: 2,
    }
}

fn shell(command: &str) -> Event {
    Event::ToolCall {
        tool: "Bash".into(),
        command: Some(command.into()),
        paths: vec![],
        cwd: "/work/repo".into(),
        workspace: "/work/repo".into(),
        branch: Some("feature".into()),
        home: "/home/me".into(),
    }
}

fn llm() -> Event {
    Event::LlmRequest { provider: "anthropic".into(), model: Some("claude-sonnet-4-5".into()) }
}

fn place() -> Place {
    Place { session: "work".into(), workspace: "/work/repo".into() }
}

/// The verdict's word, for compact tables.
fn word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Allow => "allow",
        Verdict::Deny { .. } => "deny",
        Verdict::Ask { .. } => "ask",
        Verdict::Defer => "defer",
    }
}

#[test]
fn the_shipped_examples_decide_as_documented() {
    let rules = example_rules();
    let installed = [("packages-installed", 0.0)];
    let mut cases: Vec<(&str, Event, Context, &str, Option<&str>)> = vec![
        // Spend: a step of $100, approval buys the next; hard caps per session and per day.
        ("under the first step", llm(), ctx(99.99, &[]), "defer", None),
        ("at the first $100", llm(), ctx(100.0, &[]), "ask", Some("pause every $100")),
        ("approved at $100, now $150", llm(), ctx(150.0, &[("spend-step", 100.0)]), "defer", None),
        ("approved at $100, now $200", llm(), ctx(200.0, &[("spend-step", 100.0)]), "ask", Some("pause every $100")),
        ("at the session cap", llm(), ctx(500.0, &[("spend-step", 450.0)]), "deny", Some("spend cap per session")),
        ("at the day cap", llm(), Context { day_spend: 1000.0, ..ctx(10.0, &[]) }, "deny", Some("spend cap per day")),
        // A push is judged on the wire (`on = "push"`), not by its command line.
        ("a push", shell("git push origin feature"), ctx(0.0, &[]), "defer", None),
        ("a push after npm install", shell("git push origin feature"), ctx(0.0, &installed), "defer", None),
    ];
    let force = "no force-push to protected branches (early)";
    let rm = "rm -r outside the workspace";
    // The courtesies, read as a shell reads the command: force-pushing to a protected
    // branch, named or checked out, however it is spelt.
    for command in [
        "git push --force origin main",
        "git push origin +HEAD:master",
        "git -C . push -uf origin main",
        "git push -f origin refs/heads/main",
        "git push -f origin HEAD:refs/heads/main",
        "git --no-pager push --force-with-lease origin main",
        "sh -c 'git push -f origin main'",
    ] {
        cases.push((command, shell(command), ctx(0.0, &[]), "deny", Some(force)));
    }
    cases.push(("force-push to a feature branch", shell("git push -f origin feature"), ctx(0.0, &[]), "defer", None));
    cases.push(("a plain push to main", shell("git push origin main"), ctx(0.0, &[]), "defer", None));
    // rm -r: inside the workspace is the agent's business; outside, ask, however spelt.
    cases.push(("rm -rf inside", shell("rm -rf target build/tmp"), ctx(0.0, &[]), "defer", None));
    for command in [
        "rm -rf /etc/nginx",
        "cd src && rm -fr ../../other",
        "rm -r -f ~/.cache/x",
        "rm -Rf /tmp/x",
        "rm -r --force /tmp/x",
        "rm -rf \"$HOME/x\"",
        "cd $HOME && rm -rf x",
        "find /var/tmp -name '*.log' -delete",
        "rm -rf $SOMEWHERE",
    ] {
        cases.push((command, shell(command), ctx(0.0, &[]), "ask", Some(rm)));
    }
    cases.push(("rm of one file outside", shell("rm /tmp/x"), ctx(0.0, &[]), "defer", None));
    for (what, event, context, want, rule) in cases {
        let d = evaluate(&rules, &[], &event, &place(), &context);
        assert_eq!((word(&d.verdict), d.rule.as_deref()), (want, rule), "{what}");
    }
}

#[test]
fn marks_are_set_by_one_rule_and_seen_by_the_next() {
    let rules = example_rules();
    // The install itself sets the mark, and goes on to the agent's own rules.
    let d = evaluate(&rules, &[], &shell("npm install left-pad"), &place(), &ctx(0.0, &[]));
    assert_eq!(d.verdict, Verdict::Defer);
    assert_eq!(d.marks, vec![MarkChange::Set("packages-installed".into())]);
    // Any installer, however it is run.
    for command in ["npm ci", "yarn add x", "bash -c 'pip3 install requests'", "npx cowsay hi"] {
        let d = evaluate(&rules, &[], &shell(command), &place(), &ctx(0.0, &[]));
        assert_eq!(d.marks, vec![MarkChange::Set("packages-installed".into())], "{command}");
    }
    // Approving a spend step sets its mark.
    let d = evaluate(&rules, &[], &llm(), &place(), &ctx(100.0, &[]));
    assert_eq!(d.on_approve, vec![MarkChange::Set("spend-step".into())]);
}

#[test]
fn always_allow_answers_asks_in_its_scope_but_never_a_deny() {
    let mut rules = example_rules();
    let ask: RuleConfig = toml::from_str(
        "on = \"tool_call\"\ncommand = 'git push'\nmarked = [\"packages-installed\"]\nverdict = \"ask\"",
    )
    .expect("rule");
    rules.push(Rule::compile(&ask, 99).expect("rule"));
    let push = shell("git push origin feature");
    let marked = ctx(0.0, &[("packages-installed", 0.0)]);
    let allow = |scope: Scope, what: &str| Allowance { id: 7, scope, tool: "Bash".into(), what: what.into() };
    let cases = vec![
        (allow(Scope::Session("work".into()), "git push origin feature"), "allow"),
        (allow(Scope::Session("other".into()), "git push origin feature"), "ask"),
        (allow(Scope::Workspace("/work/repo".into()), "git push origin feature"), "allow"),
        (allow(Scope::Workspace("/elsewhere".into()), "git push origin feature"), "ask"),
        (allow(Scope::Everywhere, "git push origin feature"), "allow"),
        (allow(Scope::Everywhere, "git push"), "ask"),
    ];
    for (a, want) in cases {
        let d = evaluate(&rules, std::slice::from_ref(&a), &push, &place(), &marked);
        assert_eq!(word(&d.verdict), want, "{a:?}");
        if want == "allow" {
            assert_eq!(d.rule.as_deref(), Some(format!("always allowed {} (#7)", a.scope.words()).as_str()));
        }
    }
    let force = shell("git push --force origin main");
    let d =
        evaluate(&rules, &[allow(Scope::Everywhere, "git push --force origin main")], &force, &place(), &ctx(0.0, &[]));
    assert_eq!(word(&d.verdict), "deny", "an allowance does not override a deny");
}

#[test]
fn conditions_one_by_one() {
    let rule = |toml: &str| {
        let c: RuleConfig = toml::from_str(toml).expect("rule TOML");
        Rule::compile(&c, 0).expect("valid")
    };
    let c = ctx(0.0, &[]);
    let r = rule("on = \"tool_call\"\nagent = [\"codex\"]\nverdict = \"deny\"");
    assert!(!r.matches(&shell("ls"), &c));
    assert!(r.matches(&shell("ls"), &Context { kind: "codex".into(), ..c.clone() }));
    assert!(r.matches(&shell("ls"), &Context { agent: "codex".into(), ..c.clone() }));
    let r = rule("on = \"tool_call\"\ntool = [\"shell\"]\nverdict = \"deny\"");
    for tool in ["Bash", "bash", "exec_command", "run_shell_command"] {
        let mut e = shell("ls");
        if let Event::ToolCall { tool: t, .. } = &mut e {
            *t = tool.into();
        }
        assert!(r.matches(&e, &c), "{tool}");
    }
    let write = Event::ToolCall {
        tool: "Write".into(),
        command: None,
        paths: vec!["/etc/passwd".into()],
        cwd: "/work/repo".into(),
        workspace: "/work/repo".into(),
        branch: None,
        home: "/home/me".into(),
    };
    assert!(!r.matches(&write, &c));
    let r = rule("on = \"tool_call\"\ntool = [\"write\", \"edit\"]\noutside_workspace = true\nverdict = \"ask\"");
    assert!(r.matches(&write, &c), "a file outside, named by the call");
    let r = rule("on = \"tool_call\"\nunmarked = [\"x\"]\nverdict = \"allow\"");
    assert!(r.matches(&shell("ls"), &c));
    assert!(!r.matches(&shell("ls"), &ctx(0.0, &[("x", 0.0)])));
    let r = rule("on = \"session_start\"\nclear_mark = [\"packages-installed\"]");
    assert!(r.matches(&Event::SessionStart, &c) && !r.matches(&llm(), &c));
}

#[test]
fn mistakes_name_the_key() {
    let compile = |toml: &str| {
        let c: RuleConfig = toml::from_str(toml).expect("rule TOML");
        Rule::compile(&c, 2).map(|_| ()).unwrap_err()
    };
    let cases = [
        ("verdict = \"deny\"", "on", "says when the rule applies"),
        ("on = \"llm_request\"\ncommand = \"x\"\nverdict = \"deny\"", "command", "on = \"tool_call\" only"),
        (
            "on = \"tool_call\"\ncommand = \"(unclosed\"\nverdict = \"deny\"",
            "command",
            "not a valid regular expression",
        ),
        ("on = \"tool_call\"", "verdict", "does nothing"),
        ("on = \"llm_request\"\nsession_spend_over = -1.0\nverdict = \"deny\"", "session_spend_over", "0 or more"),
        (
            "on = \"llm_request\"\nspent_since = { mark = \"m\", over = 0.0 }\nverdict = \"ask\"",
            "spent_since.over",
            "above 0",
        ),
        ("on = \"tool_call\"\nverdict = \"deny\"\non_approve = { set_mark = [\"m\"] }", "on_approve", "only an ask"),
    ];
    for (toml, key, says) in cases {
        let (k, msg) = compile(toml);
        assert_eq!(k, key, "{toml}");
        assert!(msg.contains(says), "{toml}: {msg}");
    }
}

#[test]
fn paths_outside_resolve_without_the_disk() {
    let (cwd, ws, home) = (Path::new("/w/repo/src"), Path::new("/w/repo"), Path::new("/home/me"));
    let out = |cmd: &str| paths_outside(Some(cmd), &[], cwd, ws, home);
    assert!(out("rm -rf ../target ./x y").is_empty());
    assert_eq!(out("rm -rf ../../etc \"/tmp/a b\""), ["../../etc", "/tmp/a b"]);
    assert_eq!(out("cat ~/.ssh/id_rsa > /w/repo/k"), ["/home/me/.ssh/id_rsa"]);
    assert_eq!(out("cd /tmp && ls x"), ["/tmp", "x"]);
}

#[test]
fn the_status_bar_budget_is_the_next_limit() {
    let rules = example_rules();
    assert_eq!(next_limit(&rules, &ctx(12.0, &[])), Some((100.0, "pause every $100".to_string())));
    assert_eq!(
        next_limit(&rules, &ctx(130.0, &[("spend-step", 110.0)])),
        Some((210.0, "pause every $100".to_string()))
    );
    assert_eq!(
        next_limit(&rules, &ctx(480.0, &[("spend-step", 460.0)])),
        Some((500.0, "spend cap per session".to_string()))
    );
}

#[test]
fn a_rule_describes_itself_in_words() {
    let rules = example_rules();
    let marking = rules.iter().find(|r| r.verdict().is_none()).expect("a rule that only marks");
    let text = marking.describe();
    assert!(text.contains("set packages-installed mark") && !text.contains("Set("), "{text}");
}

fn push(refs: &[(&str, crate::effects::Change)], over_ssh: bool) -> Event {
    use crate::effects::{Effect, Push, RefUpdate};
    let refs = refs.iter().map(|(n, c)| RefUpdate { name: format!("refs/heads/{n}"), change: *c }).collect();
    Event::Effect(Effect::Push(Push { host: "github.com".into(), repository: "o/r.git".into(), refs, over_ssh }))
}

#[test]
fn the_shipped_examples_judge_what_agents_do_on_the_wire() {
    use crate::effects::{Change, Contact, Download, Effect, HostKind, Registry};
    let rules = example_rules();
    let installed = [("packages-installed", 0.0)];
    let contact =
        |kind, first| Event::Effect(Effect::Contact(Contact { host: "h.example".into(), port: 443, kind, first }));
    let download = Event::Effect(Effect::Download(Download {
        registry: Registry::Npm,
        host: "registry.npmjs.org".into(),
        package: "left-pad".into(),
        version: Some("1.3.0".into()),
    }));
    let cases: Vec<(&str, Event, Context, &str, Option<&str>)> = vec![
        ("a push of a branch", push(&[("feature", Change::FastForward)], false), ctx(0.0, &[]), "defer", None),
        (
            "a push once packages were installed",
            push(&[("feature", Change::FastForward)], false),
            ctx(0.0, &installed),
            "ask",
            Some("push after installing packages"),
        ),
        (
            "a rewrite of main",
            push(&[("feature", Change::FastForward), ("main", Change::Rewrite)], false),
            ctx(0.0, &installed),
            "deny",
            Some("no rewriting protected branches"),
        ),
        ("a rewrite of a branch of one's own", push(&[("mine", Change::Rewrite)], false), ctx(0.0, &[]), "defer", None),
        (
            "main deleted",
            push(&[("main", Change::Delete)], false),
            ctx(0.0, &[]),
            "deny",
            Some("no deleting protected branches"),
        ),
        ("main fast-forwarded", push(&[("main", Change::FastForward)], false), ctx(0.0, &[]), "defer", None),
        (
            "main, not shown to be a fast-forward: asked, not refused on a guess",
            push(&[("main", Change::Unknown)], false),
            ctx(0.0, &[]),
            "ask",
            Some("no rewriting protected branches"),
        ),
        ("over SSH: anything", push(&[], true), ctx(0.0, &[]), "ask", Some("no rewriting protected branches")),
        ("a download", download.clone(), ctx(0.0, &[]), "defer", None),
        (
            "a host not seen before",
            contact(HostKind::Other, true),
            ctx(0.0, &[]),
            "ask",
            Some("a host not seen before"),
        ),
        ("a host seen before", contact(HostKind::Other, false), ctx(0.0, &[]), "defer", None),
        ("a registry", contact(HostKind::Registry(Registry::Npm), true), ctx(0.0, &[]), "defer", None),
    ];
    for (what, event, context, want, rule) in cases {
        let d = evaluate(&rules, &[], &event, &place(), &context);
        assert_eq!((word(&d.verdict), d.rule.as_deref()), (want, rule), "{what}");
    }
    // Any download marks the session, whatever installed it.
    let d = evaluate(&rules, &[], &download, &place(), &ctx(0.0, &[]));
    assert_eq!(d.marks, vec![MarkChange::Set("packages-installed".into())]);
    let Verdict::Ask { reason } = evaluate(&rules, &[], &push(&[], true), &place(), &ctx(0.0, &[])).verdict else {
        panic!("asked")
    };
    assert!(reason.contains("perhaps: git over SSH"), "{reason}");
}

#[test]
fn effect_conditions_belong_to_their_events() {
    let compile = |toml: &str| {
        let c: RuleConfig = toml::from_str(toml).expect("rule TOML");
        Rule::compile(&c, 0).map(|_| ())
    };
    let (key, msg) = compile("on = \"tool_call\"\nforced = true\nverdict = \"deny\"").unwrap_err();
    assert_eq!(key, "forced");
    assert!(msg.contains("on = \"push\" only"), "{msg}");
    let (key, msg) = compile("on = \"download\"\nregistry = [\"npmm\"]\nverdict = \"deny\"").unwrap_err();
    assert_eq!(key, "registry");
    assert!(msg.contains("\"npmm\" is not one of npm"), "{msg}");
    assert!(compile("on = \"push\"\nbranch = [\"main\"]\nforced = true\nverdict = \"deny\"").is_ok());
    assert!(compile("on = \"contact\"\nfirst_contact = true\nhost_kind = [\"other\"]\nverdict = \"ask\"").is_ok());
}

#[test]
fn a_rule_on_a_command_reads_it_as_a_shell_would() {
    let rule: RuleConfig =
        toml::from_str("on = \"tool_call\"\ncommand = '\\bgit\\s+push\\b'\nverdict = \"allow\"").expect("rule");
    let rules = [Rule::compile(&rule, 0).expect("rule")];
    let verdict = |command: &str| word(&evaluate(&rules, &[], &shell(command), &place(), &ctx(0.0, &[])).verdict);
    // Spelt another way, it is the same command.
    for command in [
        "git -C . push",
        "git --no-pager push",
        "'git' \"push\"",
        "g\\it push",
        "sh -c 'git push'",
        "bash -lc \"cd x && git push\"",
        "eval \"git push\"",
        "true; (git push) | cat",
        "/usr/bin/git push",
        "git send-pack origin",
    ] {
        assert_eq!(verdict(command), "allow", "{command}");
    }
    // A word nobody can know before it runs makes the rule ask, never allow.
    for command in ["git${IFS}push", "$G push", "eval \"$X\"", "git p origin", "git -c alias.p=push p"] {
        assert_eq!(verdict(command), "ask", "{command}");
    }
    // Unknown words elsewhere, or other commands, are not its business.
    for command in ["echo $HOME $X", "ls", "git status", "echo 'git push'"] {
        assert_eq!(verdict(command), "defer", "{command}");
    }
}
