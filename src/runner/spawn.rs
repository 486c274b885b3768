//! Starting panes: a session's first pane, a new pane's program (agent launch, the start
//! policy, the sandbox, the environment, the PTY, metering), and where it goes.

use super::*;

impl Runner {
    /// A session with no client attached; returns its first pane and its name.
    pub fn new_session(
        self: &Arc<Self>,
        name: Option<String>,
        spawn: Option<Spawn>,
        size: Size,
        context: Context,
    ) -> Result<(PaneId, String), String> {
        let size = Size { cols: size.cols.max(10), rows: size.rows.max(3) };
        let id = self.create_session(name, spawn, size, context, None)?;
        let st = self.state.lock();
        let s = session_ref(&st, id)?;
        let pane = s.tabs.first().map(|t| t.focused).ok_or("the session has no panes")?;
        Ok((pane, s.name.clone()))
    }

    pub(super) fn create_session(
        self: &Arc<Self>,
        name: Option<String>,
        spawn: Option<Spawn>,
        size: Size,
        context: Context,
        colors: Option<TermColors>,
    ) -> Result<u32, String> {
        let config = self.config();
        let spawns: Vec<Spawn> = match spawn {
            Some(s) => vec![s],
            None if config.start.is_empty() => vec![Spawn::Shell],
            None => config
                .start
                .iter()
                .map(|n| if n == "shell" { Spawn::Shell } else { Spawn::Agent { name: n.clone() } })
                .collect(),
        };
        let mut st = self.state.lock();
        if let Some(n) = &name
            && st.sessions.values().any(|s| &s.name == n)
        {
            return Err(format!("a session named `{n}` already exists; attach to it with `teamster attach -t {n}`"));
        }
        // A new key: nothing is recorded under it yet.
        let id = self.insert_session(&mut st, name, random_hex(8)?, Default::default(), size, context, colors);
        st.next_tab += 1;
        let tab_id = st.next_tab;
        // The first pane fills the tab; more start-up agents split it side by side.
        let mut layout: Option<Layout> = None;
        let mut first_error = None;
        for spawn in &spawns {
            let pane_id = st.new_pane_id();
            let area = Rect::new(0, 0, size.cols, size.rows);
            let mut candidate = layout.clone().unwrap_or(Layout::Pane(pane_id));
            if let Some(l) = &layout {
                let last = *l.panes().last().unwrap_or(&0);
                if candidate.split(last, pane_id, Direction::Right, area).is_err() {
                    continue;
                }
            }
            let inner = pane_size(&candidate, pane_id, area);
            let started = self
                .spec_for(&st, id, spawn, None, None)
                .and_then(|spec| self.spawn_pane(&mut st, id, pane_id, spec, inner));
            match started {
                Ok(_) => {
                    candidate.equalize();
                    layout = Some(candidate);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(layout) = layout else {
            st.sessions.remove(&id);
            return Err(first_error.unwrap_or_else(|| "nothing to start".into()));
        };
        let focused = layout.panes()[0];
        let s = st.sessions.get_mut(&id).ok_or("session vanished")?;
        s.tabs.push(Tab::new(tab_id, String::new(), layout, focused));
        self.relayout(&mut st, id);
        self.persist(&st);
        if let Some(e) = first_error {
            log(&format!("session {id}: {e}"));
        }
        Ok(id)
    }

    /// A new, empty session; the caller gives it tabs. `kept`: the spend and marks recorded
    /// under its key (nothing, for a key made just now).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insert_session(
        &self,
        st: &mut State,
        name: Option<String>,
        key: String,
        (spend, marks): (f64, crate::policy::Marks),
        size: Size,
        context: Context,
        colors: Option<TermColors>,
    ) -> u32 {
        let id = st.next_session;
        st.next_session += 1;
        let name = name.unwrap_or_else(|| {
            (0..).map(|i: u32| i.to_string()).find(|n| !st.sessions.values().any(|s| &s.name == n)).unwrap_or_default()
        });
        let (changed, _) = watch::channel(0);
        let (events, _) = broadcast::channel(64);
        st.sessions.insert(
            id,
            Session {
                id,
                key,
                spend,
                marks,
                cap_hit: None,
                contacted: Default::default(),
                name,
                tabs: Vec::new(),
                active: 0,
                size,
                owner: None,
                clients: BTreeMap::new(),
                context,
                colors,
                changed,
                version: 0,
                events,
                created: now_secs(),
                last_used: now_secs(),
            },
        );
        id
    }

    /// Where `spawn` starts in `session` (the agent's directory, the caller's, the
    /// session's), the agent's name, and the environment.
    pub(super) fn place_for(
        &self,
        st: &State,
        session: u32,
        spawn: &Spawn,
        context: Option<&Context>,
    ) -> Result<(PathBuf, Option<String>, Context), String> {
        let s = session_ref(st, session)?;
        let context = context.filter(|c| !c.env.is_empty()).unwrap_or(&s.context).clone();
        let config = self.config();
        let (name, agent_cwd) = match spawn {
            Spawn::Agent { name } => {
                let agent = crate::agents::resolve(&config, name)?;
                (Some(agent.name), agent.cwd.map(|c| crate::config::expand_home(&c)))
            }
            _ => (None, None),
        };
        let home = crate::paths::home();
        let cwd = agent_cwd.or_else(|| context.cwd.clone().map(PathBuf::from)).filter(|p| p.is_dir()).unwrap_or(home);
        Ok((cwd, name, context))
    }

    /// How to start `spawn` in `session`: where (see `place_for`, or the git worktree
    /// made for it), with what environment, under which key.
    pub(super) fn spec_for(
        &self,
        st: &State,
        session: u32,
        spawn: &Spawn,
        context: Option<&Context>,
        worktree: Option<worktree::Worktree>,
    ) -> Result<PaneSpec, String> {
        let (cwd, name, context) = self.place_for(st, session, spawn, context)?;
        Ok(PaneSpec {
            key: random_hex(8)?,
            spawn: spawn.clone(),
            name,
            cwd: worktree.as_ref().map_or(cwd, |w| w.path.clone()),
            worktree,
            conversation: None,
            env: context.env,
            ask_first: false,
            restored_screen: None,
            setup: Vec::new(),
            fresh: true,
        })
    }

    /// Starts a pane's program as pane `id` (from `State::new_pane_id`); the caller puts
    /// the pane in a layout.
    pub(super) fn spawn_pane(
        self: &Arc<Self>,
        st: &mut State,
        session: u32,
        id: PaneId,
        spec: PaneSpec,
        size: Size,
    ) -> Result<(), String> {
        let config = self.config();
        let session_name = session_ref(st, session)?.name.clone();
        let token = random_hex(16)?;
        let home = crate::paths::home();
        let mut routes = Vec::new();
        let mut sandbox: Option<sandbox::Prepared> = None;
        let mut hook_task: Option<hooks::Listening> = None;
        let (mut holds_calls, mut notice) = (false, None::<String>);
        let mut sandboxed = false;
        let (argv, arg0, extra_env, display, agent) = match &spec.spawn {
            Spawn::Shell => {
                let shell = config.shell();
                let base = Path::new(&shell)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| shell.clone());
                (vec![shell.clone()], Some(format!("-{base}")), Vec::new(), base, None)
            }
            Spawn::Agent { name } => {
                let agent = crate::agents::resolve(&config, name)?;
                self.admit_start(st, session, &agent.name, agent.kind.name(), &spec.key)?;
                let dir = crate::paths::state_dir().join("panes").join(&spec.key);
                let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("teamster"));
                sandboxed = agent.sandbox == crate::sandbox::Mode::On;
                // A sandboxed agent's only way out is the proxy, metered or not.
                let proxy = self
                    .proxy_port
                    .lock()
                    .filter(|_| config.meter || sandboxed)
                    .map(|port| format!("http://127.0.0.1:{port}/t/{token}"));
                let hook_socket = self.hooks_dir.join(format!("{id}.sock"));
                let ctx = crate::agents::LaunchContext {
                    teamster: &exe,
                    dir: &dir,
                    home: &home,
                    cwd: &spec.cwd,
                    resume: spec.conversation.as_deref(),
                    socket: &hook_socket,
                    env: &spec.env,
                    proxy: proxy.as_deref(),
                    sandboxed,
                };
                let launch = crate::agents::launch(&agent, &ctx)?;
                holds_calls = launch.holds_calls;
                notice = launch.notice.clone();
                routes = meter::classify(launch.routes.clone(), meter::RouteSource::Launch);
                launch.write()?;
                let generated: Vec<PathBuf> = launch.files.iter().map(|(p, _)| p.clone()).collect();
                let display = agent.command_line();
                let mut env = launch.env;
                env.push(("TEAMSTER_HOOK_SOCKET".to_string(), hook_socket.to_string_lossy().into_owned()));
                hook_task = Some(hooks::listen(self, id, &hook_socket)?);
                let program =
                    launch.argv.first().and_then(|p| crate::paths::which(p)).and_then(|p| p.canonicalize().ok());
                let mut argv = match spec.setup.is_empty() {
                    true => launch.argv,
                    false => pane::after_setup(&spec.setup, launch.argv),
                };
                if sandboxed {
                    let agent_env: Vec<(String, String)> =
                        spec.env.iter().cloned().chain(env.iter().cloned()).collect();
                    let pane = sandbox::PaneFiles {
                        dir: &dir,
                        hook_socket: &hook_socket,
                        generated: &generated,
                        program,
                        worktree: spec.worktree.as_ref(),
                        user_env: &spec.env,
                    };
                    sandbox = Some(self.prepare_sandbox(&agent, &spec.cwd, &pane, &home, &agent_env)?);
                    // The helper reads its plan from descriptor 3, then becomes the agent.
                    argv.splice(0..0, [exe.to_string_lossy().into_owned(), "sandbox-exec".into(), "--".into()]);
                }
                (argv, None, env, display, Some(agent.kind))
            }
            Spawn::Command { argv } => {
                if argv.is_empty() {
                    return Err("no command given".into());
                }
                // After a restart: says what ran, and runs it again only on Enter, in the
                // same process (what the pane runs from then on is the command itself).
                let run = if spec.ask_first {
                    let ask = "printf 'was running: %s\r\nEnter runs it again\r\n' \"$*\"; read -r _ && exec \"$@\"";
                    ["/bin/sh", "-c", ask, "teamster"]
                        .iter()
                        .map(|a| a.to_string())
                        .chain(argv.iter().cloned())
                        .collect()
                } else if !spec.setup.is_empty() {
                    pane::after_setup(&spec.setup, argv.clone())
                } else {
                    argv.clone()
                };
                (run, None, Vec::new(), argv.join(" "), None)
            }
        };
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .filter(|(k, _)| !k.starts_with("TEAMSTER_") && !OUTER_TERMINAL_VARS.contains(&k.as_str()))
            .filter(|(k, _)| !matches!(k.as_str(), "TERM" | "COLORTERM" | "TERM_PROGRAM" | "TERM_PROGRAM_VERSION"))
            .cloned()
            .collect();
        env.extend([
            ("TERM".into(), "xterm-256color".into()),
            ("COLORTERM".into(), "truecolor".into()),
            ("TERM_PROGRAM".into(), "teamster".into()),
            ("TERM_PROGRAM_VERSION".into(), env!("CARGO_PKG_VERSION").into()),
            ("TEAMSTER_SOCKET".into(), self.socket_path.to_string_lossy().into_owned()),
            ("TEAMSTER_SESSION".into(), session_name),
            ("TEAMSTER_PANE".into(), id.to_string()),
        ]);
        env.extend(extra_env);
        let secrets =
            sandbox.as_ref().map(|s| sandbox::confine_env(&mut env, &s.tmp, s.plan.port, &s.trust)).unwrap_or_default();
        let report = sandbox.as_ref().map(|s| std::os::fd::AsRawFd::as_raw_fd(&s.theirs));
        let spawned = pty::spawn(&argv, arg0.as_deref(), &env, &spec.cwd, size, report).map_err(|e| e.to_string())?;
        let s = session_ref(st, session)?;
        let (changed, colors) = (s.changed.clone(), Runner::reported_colors(s.colors));
        // A pane that comes back (restored, started again) keeps what it spent; a new one
        // has a key nothing is recorded under, and asks the database nothing.
        let (spend, spend_unknown) = match spec.fresh {
            true => (0.0, false),
            false => {
                let asked = spec.key.clone();
                self.store.read(move |db| db.pane_spend(&asked)).unwrap_or_default()
            }
        };
        // Every route the pane starts with goes to the audit log, with who named it.
        let audit_routes = routes.clone();
        let audit_as = (s.name.clone(), spec.key.clone(), spec.name.clone().unwrap_or_default());
        let launched_with = launch_settings(&config, &spec.spawn);
        let meta = PaneMeta {
            started: std::time::Instant::now(),
            launched_with,
            restart_applies: false,
            dialog_answer: None,
            turns: 0,
            last_answer: None,
            answers: 0,
            spec,
            command: display,
            title: String::new(),
            state: PaneState::Running,
            attention: false,
            size,
            agent,
            agent_state: crate::agents::AgentState::Starting,
            last_output: std::time::Instant::now(),
            proxy_token: agent.map(|_| token.clone()),
            routes,
            spend,
            spend_unknown,
            secrets,
            sandboxed,
            sandbox_plan: sandbox.as_ref().map(|s| std::sync::Arc::new(s.plan.clone())),
            check: None,
            check_again: false,
            check_task: None,
            worked: false,
            holds_calls,
            codex_choices: (0, None),
            refused: 0,
            recent_refusals: Vec::new(),
            expected_refusals: Vec::new(),
            proxy_task: None,
            hook_task,
        };
        let pane =
            pane::start(self.pane_events.clone(), id, session, spawned, meta, config.scrollback_lines, colors, changed)
                .map_err(|e| e.to_string())?;
        // How teamster mapped a mode of the agent's own: first on its screen, and said.
        if let Some(notice) = notice {
            pane.screen.lock().feed(format!("\x1b[33mteamster: {notice}\x1b[0m\r\n").as_bytes());
            log(&format!("pane {id}: {notice}"));
            if let Some(s) = st.sessions.get(&session) {
                let kind = AlertKind::Notify { title: "teamster".into(), body: notice };
                let _ = s.events.send(SessionEvent::Message(ServerMsg::Alert { pane: id, kind }));
            }
        }
        if agent.is_some() {
            st.proxy_tokens.insert(token.clone(), id);
        }
        if let Some(prepared) = sandbox {
            sandbox::start_watch(self, id, token, prepared, sandbox::Watched::Pane);
        }
        if let Some(kind) = agent {
            tokio::spawn(pane::watch_screen(Arc::downgrade(self), Arc::downgrade(&pane), kind));
        }
        st.panes.insert(id, pane);
        if !audit_routes.is_empty() {
            let place = st.sessions.get(&session).and_then(|s| s.place_of(id)).unwrap_or_default();
            self.audit_routes(&audit_as.0, &audit_as.1, &place, &audit_as.2, &audit_routes);
        }
        Ok(())
    }

    /// `teamster new`: a pane in an existing session, beside `near` or the focused pane.
    /// A git worktree for it is made first, off the state lock and the runtime's thread.
    pub async fn new_pane(self: &Arc<Self>, mut request: crate::protocol::NewPane) -> Result<(PaneId, String), String> {
        let _ = self.reload_config();
        // Where the pane would run, for its worktree or a forked transcript: looked up once.
        let (cwd, label) = match request.worktree.is_some() || request.resume.is_some() {
            true => {
                let st = self.state.lock();
                let id = session_for(&st, request.session.as_deref(), request.near)?;
                let (cwd, name, _) = self.place_for(&st, id, &request.spawn, Some(&request.context))?;
                (cwd, name.unwrap_or_else(|| "pane".into()))
            }
            false => (std::path::PathBuf::new(), String::new()),
        };
        let made = match request.worktree.take() {
            Some(branch) => {
                let cwd = cwd.clone();
                let mut config = self.config().worktree;
                if let Some(base) = request.base.take() {
                    config.base = Some(base);
                }
                let made = tokio::task::spawn_blocking(move || worktree::create(&cwd, Some(&branch), &label, &config));
                Some(made.await.map_err(|e| format!("making the worktree failed: {e}"))??)
            }
            None => None,
        };
        if let Some(resume) = request.resume.take() {
            // Where the pane's agent will run: its transcript goes where it looks from there
            // (moved, not copied: it may be megabytes; the pane keeps only the conversation).
            let cwd = made.as_ref().map_or(cwd, |w| w.path.clone());
            let placed = self.place_transcript(&request.spawn, &request.context, &cwd, *resume);
            // Its own name for it here (an agent that names conversations by file).
            let conversation =
                tokio::task::spawn_blocking(placed).await.map_err(|e| format!("the fork failed: {e}"))??;
            request.resume =
                Some(Box::new(crate::protocol::Resume { conversation, transcript: None, transcript_path: None }));
        }
        self.add_pane(request, made)
    }

    /// What puts a forked conversation's transcript where the pane's agent, started in
    /// `cwd`, reads it when it resumes; run off the runtime's thread. One there already (a
    /// fork taken twice) is kept.
    fn place_transcript(
        &self,
        spawn: &Spawn,
        context: &Context,
        cwd: &std::path::Path,
        resume: crate::protocol::Resume,
    ) -> impl FnOnce() -> Result<String, String> + Send + 'static {
        let config = self.config();
        let agent = match spawn {
            Spawn::Agent { name } => crate::agents::resolve(&config, name).ok(),
            _ => None,
        };
        let env = context.env.clone();
        let cwd = cwd.to_path_buf();
        move || {
            let agent = agent.ok_or("only an agent's pane resumes a conversation")?;
            let transcript = resume.transcript.ok_or("the fork brought no transcript")?;
            let bytes = crate::share::crypto::unb64(&transcript)
                .map_err(|e| format!("the conversation's transcript is not base64: {e}"))?;
            let var = |k: &str| crate::agents::setting_in(&agent, &env, k);
            let adapter = crate::agents::adapter::adapter(agent.kind);
            let root = adapter.conversations(&crate::paths::home(), &var, &cwd)?.ok_or_else(|| {
                format!("teamster cannot resume {}'s conversations from a fork", crate::text::visible(&agent.name))
            })?;
            // Beneath the agent's place, named as the sharer's agent named it: the peer's
            // words, so only exactly the name this agent gives that conversation's file.
            let rel = resume.transcript_path.unwrap_or_default();
            if !adapter.transcript_fits(&rel, &resume.conversation) {
                return Err(format!(
                    "the conversation's file name `{}` is not one an agent makes",
                    crate::text::visible(&rel)
                ));
            }
            let path = root.join(&rel);
            let base = crate::nofollow::base_of(&path).map_err(|e| e.to_string())?;
            crate::nofollow::write_new(&base, &path, &bytes)
                .map_err(|e| format!("cannot write the conversation to {}: {e}", path.display()))?;
            Ok(adapter.resumed_as(&root, &rel, &resume.conversation))
        }
    }

    pub(super) fn add_pane(
        self: &Arc<Self>,
        request: crate::protocol::NewPane,
        worktree: Option<worktree::Worktree>,
    ) -> Result<(PaneId, String), String> {
        let crate::protocol::NewPane { session, near, spawn, tab: new_tab, dir, context, name: label, resume, .. } =
            request;
        let mut st = self.state.lock();
        let st = &mut *st;
        let id = session_for(st, session.as_deref(), near)?;
        let s = st.sessions.get(&id).ok_or("the session ended")?;
        let name = s.name.clone();
        let target = near
            .filter(|p| s.tab_of(*p).is_some())
            .or_else(|| s.tabs.get(s.active).map(|t| t.focused))
            .ok_or("the session has no panes")?;
        let fresh = worktree.is_some();
        let mut spec = self.spec_for(st, id, &spawn, Some(&context), worktree)?;
        if let Some(resume) = resume {
            spec.conversation = Some(resume.conversation);
        }
        if fresh {
            spec.setup = self.config().worktree.setup;
        }
        if let Some(label) = label.map(|l| l.trim().to_string()).filter(|l| !l.is_empty()) {
            spec.name = Some(label);
        }
        if new_tab {
            let pane = self.new_tab(st, id, spec)?;
            self.persist(st);
            return Ok((pane, name));
        }
        // Where nobody said where: beside the focused pane along its longer side, while
        // every pane stays usable; past that, the tab becomes a tiled grid.
        let pane = match dir {
            Some(dir) => self.split(st, id, target, dir, spec)?,
            None => {
                let pane = st.new_pane_id();
                let placement = session_ref(st, id)?.plan_in_tab(target, pane, |layout, area| {
                    *layout = place_beside(layout, target, pane, area)?;
                    Ok(())
                })?;
                self.start_placed(st, id, spec, placement)?
            }
        };
        self.persist(st);
        Ok((pane, name))
    }
}

/// Variables that tell programs which terminal they run in. Inside a pane that terminal
/// is teamster, so the outer terminal's are removed.
const OUTER_TERMINAL_VARS: &[&str] = &[
    "TMUX",
    "TMUX_PANE",
    "KITTY_WINDOW_ID",
    "KITTY_PID",
    "KITTY_LISTEN_ON",
    "WEZTERM_PANE",
    "WEZTERM_EXECUTABLE",
    "WEZTERM_UNIX_SOCKET",
    "ITERM_SESSION_ID",
    "TERM_SESSION_ID",
    "VTE_VERSION",
    "WT_SESSION",
    "ALACRITTY_WINDOW_ID",
    "ALACRITTY_SOCKET",
    "GHOSTTY_RESOURCES_DIR",
    "KONSOLE_VERSION",
    "ZELLIJ",
    "ZELLIJ_SESSION_NAME",
    "ZELLIJ_PANE_ID",
];

/// What of the config a pane's program was started with: its agent's entry (or the shell),
/// and what every agent's start takes (the sandbox, providers, metering). A reload that
/// changes it leaves the running program as it is and says a restart would apply it.
pub(super) fn launch_settings(config: &Config, spawn: &Spawn) -> String {
    let own = match spawn {
        Spawn::Agent { name } => serde_json::to_value(config.agents.get(name)).unwrap_or_default(),
        Spawn::Shell => serde_json::to_value(&config.shell).unwrap_or_default(),
        Spawn::Command { .. } => serde_json::Value::Null,
    };
    let common = match spawn {
        Spawn::Agent { .. } => serde_json::json!([config.sandbox, config.providers, config.meter]),
        _ => serde_json::Value::Null,
    };
    serde_json::json!([own, common]).to_string()
}
