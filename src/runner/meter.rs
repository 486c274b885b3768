//! The runner's side of the metering proxy: which pane a request is from and where its
//! route leads, the spend gate, and booking what each call used.

use super::Runner;
use super::control::Action;
use super::store::DecisionRecord;
use crate::agents::Route;
use crate::approval::Verdict;
use crate::config::Config;
use crate::effects::{Effect, HostKind, registry};
use crate::meter::ca::Authority;
use crate::meter::proxy::{Meter, Target};
use crate::meter::upstream::{self, RouteOrigin};
use crate::meter::usage::Reading;
use std::sync::Arc;

/// Where a route was learnt: the adapter's launch (which says when the user's teamster
/// config named the upstream), or an agent's hook, whose routes are the agent's whatever
/// its payload says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteSource {
    Launch,
    Hook,
}

/// `routes` as the runner takes them from `source`: a hook's are the agent's; any that
/// leads to its provider's own API (parsed, not pattern-matched) is official.
pub fn classify(mut routes: Vec<Route>, source: RouteSource) -> Vec<Route> {
    for r in &mut routes {
        if source == RouteSource::Hook {
            r.origin = RouteOrigin::Agent;
        }
        if upstream::official(&r.provider, &r.upstream) {
            r.origin = RouteOrigin::Official;
        }
    }
    routes
}

/// Where a call on route `r` goes now, and who named it: the config's upstream for the
/// route or its provider outranks the agent's own; ChatGPT login goes to the backend the
/// adapter knows (official only if it is).
fn destination(config: &Config, r: &Route, chatgpt: bool) -> (String, RouteOrigin) {
    // `[providers.ROUTE]` is exactly where that route's calls go; `[providers.FAMILY]` is
    // the family's API root as the provider documents it, the agent's own path after it.
    let configured = match config.providers.get(&r.id).filter(|_| r.id != r.provider) {
        Some(p) => Some(p.base_url.clone()),
        None => config.providers.get(&r.provider).map(|p| format!("{}{}", p.base_url.trim_end_matches('/'), r.root)),
    };
    match (configured, chatgpt, &r.chatgpt) {
        (Some(url), _, _) => (url, RouteOrigin::UserConfig),
        (None, true, Some(backend)) => {
            let official = upstream::official(&r.provider, backend);
            (backend.clone(), if official { RouteOrigin::Official } else { RouteOrigin::Agent })
        }
        (None, _, _) => (r.upstream.clone(), r.origin),
    }
}

/// What can be said of a route before a call uses it: where it leads, and, for an
/// upstream the agent named, whether it may lead there at all (its addresses are checked
/// at each call).
fn route_verdict(config: &Config, r: &Route) -> (String, RouteOrigin, Result<(), String>) {
    let (url, origin) = destination(config, r, false);
    let verdict = upstream::check(origin, &r.provider, &url).and_then(|u| match origin {
        RouteOrigin::Agent => {
            let (host, port) = upstream::host_port(&u);
            allowed(config, &host, port).map(|_| ())
        }
        RouteOrigin::Official | RouteOrigin::UserConfig => Ok(()),
    });
    (url, origin, verdict)
}

/// Whether agents may reach `host:port` (`allow_hosts`); `Ok(true)` when the entry that
/// allows it names the address itself (only then may it lead to this machine).
fn allowed(config: &Config, host: &str, port: u16) -> Result<bool, String> {
    crate::sandbox::host_allowed(&config.sandbox.allow_hosts, host, port).ok_or_else(|| {
        format!("{host}:{port} is not among the hosts agents may reach; add it to `allow_hosts` under [sandbox] in the config")
    })
}

impl Meter for Runner {
    fn target(&self, token: &str, route: &str, chatgpt: bool) -> Option<Target> {
        let pane = self.pane_of_token(token)?;
        let (r, secrets) = {
            let m = pane.meta.lock();
            (m.routes.iter().find(|r| r.id == route)?.clone(), m.secrets.clone())
        };
        let (upstream, origin) = destination(&self.config.read(), &r, chatgpt);
        // A real key goes only with its provider's own credentials, and only to the
        // provider's own API or an upstream the user's teamster config names: the agent
        // can write the settings files (and send the hook payloads) its other upstreams
        // come from.
        let names = super::sandbox::credentials_of(&r.provider);
        let secrets = secrets
            .into_iter()
            .filter(|(name, _)| origin.gets_key() && names.contains(&name.as_str()))
            .map(|(name, real)| (super::sandbox::placeholder(&name), real))
            .collect();
        Some(Target { pane: pane.id, provider: r.provider, upstream, secrets, origin })
    }

    fn egress(&self, host: &str, port: u16) -> Result<bool, String> {
        allowed(&self.config.read(), host, port)
    }

    fn refuse(&self, token: &str, what: &str, why: &str) {
        self.refuse_about(token, what, why, crate::sandbox::Subject::Other)
    }

    fn refuse_about(&self, token: &str, what: &str, why: &str, subject: crate::sandbox::Subject) {
        if let Some(pane) = self.pane_of_token(token) {
            self.sandbox_refused(pane.id, what, why, subject);
        }
    }

    fn host_kind(&self, host: &str, port: u16) -> HostKind {
        let config = self.config.read();
        let s = &config.sandbox;
        if crate::sandbox::host_allowed(&s.git_hosts, host, port).is_some() {
            return HostKind::Git;
        }
        let known = registry::KNOWN.iter().find(|(h, _)| port == 443 && host.eq_ignore_ascii_case(h)).map(|(_, r)| *r);
        match known {
            Some(r) => HostKind::Registry(r),
            None if crate::sandbox::host_allowed(&s.registries, host, port).is_some() => {
                HostKind::Registry(registry::Registry::Configured)
            }
            None => HostKind::Other,
        }
    }

    fn ssh_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.config.read().sandbox.ssh_hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn authority(&self) -> Result<Arc<Authority>, String> {
        self.authority
            .get_or_init(|| Authority::open(&crate::paths::state_dir().join("authority")).map(Arc::new))
            .clone()
    }

    async fn judge(self: Arc<Self>, token: String, effect: Effect) -> Result<(), String> {
        let Some(pane) = self.pane_of_token(&token) else {
            return Err("the pane is gone".into());
        };
        match self.decide(pane.id, Action::Effect(effect)).await {
            Some(crate::approval::Decision::Deny { reason }) => Err(reason.into()),
            _ => Ok(()),
        }
    }

    async fn admit(self: Arc<Self>, pane: u32, provider: String, model: Option<String>) -> Result<(), String> {
        match self.decide(pane, Action::LlmRequest { provider, model }).await {
            Some(crate::approval::Decision::Deny { reason }) => Err(reason.into()),
            _ => Ok(()),
        }
    }

    fn record(&self, pane: u32, provider: &str, reading: Reading) {
        self.record_spend(pane, provider, reading);
    }

    fn answered(&self, pane: u32, text: String) {
        let mut st = self.state.lock();
        let Some(p) = st.panes.get(&pane).cloned() else { return };
        {
            let mut m = p.meta.lock();
            m.last_answer = Some(text);
            m.answers += 1;
        }
        if let Some(s) = st.sessions.get_mut(&p.session) {
            s.touch();
        }
    }
}

impl Runner {
    fn pane_of_token(&self, token: &str) -> Option<Arc<super::pane::Pane>> {
        let st = self.state.lock();
        st.panes.get(st.proxy_tokens.get(token)?).cloned()
    }

    /// Starts the metering proxy on a loopback port of its own.
    pub async fn start_proxy(self: &Arc<Self>) -> std::io::Result<u16> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        *self.proxy_port.lock() = Some(port);
        let origin = crate::meter::proxy::Origin::Loopback;
        tokio::spawn(crate::meter::proxy::serve(listener, self.clone(), origin, self.upstream.clone()));
        Ok(port)
    }
}

impl Runner {
    /// Routes an agent's hook reports: each replaces the pane's route of its id, and goes
    /// to the audit log with who named it.
    pub(super) fn add_routes(&self, pane: u32, routes: Vec<Route>, source: RouteSource) {
        let routes = classify(routes, source);
        let Some(p) = self.state.lock().panes.get(&pane).cloned() else { return };
        let (key, agent) = {
            let mut m = p.meta.lock();
            for r in &routes {
                m.routes.retain(|old| old.id != r.id);
                m.routes.push(r.clone());
            }
            (m.spec.key.clone(), m.spec.name.clone().unwrap_or_default())
        };
        let (session, place) = {
            let st = self.state.lock();
            let s = st.sessions.get(&p.session);
            (s.map(|s| s.name.clone()).unwrap_or_default(), s.and_then(|s| s.place_of(pane)).unwrap_or_default())
        };
        self.audit_routes(&session, &key, &place, &agent, &routes);
    }

    /// One audit record per route a pane got: where it leads, who named it, and whether
    /// a call may take it (and with the key).
    pub(super) fn audit_routes(&self, session: &str, pane_key: &str, place: &str, agent: &str, routes: &[Route]) {
        // With each record, whether it is news for the sidebar's history: a route the agent
        // named, or one refused. Routes to the provider's own API or the user's config go to
        // the log only.
        let records: Vec<(DecisionRecord, bool)> = {
            let config = self.config.read();
            routes
                .iter()
                .map(|r| {
                    let (url, origin, verdict) = route_verdict(&config, r);
                    let key = if origin.gets_key() { "with the key" } else { "without the key" };
                    let news = origin == RouteOrigin::Agent || verdict.is_err();
                    let record = DecisionRecord {
                        ts: super::now_secs(),
                        session: session.to_string(),
                        pane: pane_key.to_string(),
                        place: place.to_string(),
                        agent: agent.to_string(),
                        kind: crate::approval::ActionKind::Route,
                        // As it came: whatever prints the audit log shows it made visible.
                        what: format!("route {} ({}) to {url}, named by {}", r.id, r.provider, origin.words()),
                        verdict: if verdict.is_ok() { Verdict::Allow } else { Verdict::Deny },
                        by: crate::approval::DecidedBy::Teamster,
                        rule: None,
                        reason: Some(match verdict {
                            Ok(()) => format!("model calls go there {key}"),
                            Err(why) => format!("{why}; model calls on it are refused"),
                        }),
                    };
                    (record, news)
                })
                .collect()
        };
        for (record, news) in records {
            if news {
                self.audit(record);
            } else {
                self.store.write(move |db| db.add_decision(&record).map(drop).map_err(|e| format!("audit log: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(upstream: &str, origin: RouteOrigin) -> Route {
        Route { origin, ..Route::new("r", "anthropic", upstream) }
    }

    #[test]
    fn who_named_a_route_is_the_runners_call_not_the_payloads() {
        // A hook's route is the agent's, whatever it claims; the provider's own API is
        // official wherever it was learnt; a host hidden behind user info is not.
        let cases = [
            ("https://api.anthropic.com", RouteOrigin::UserConfig, RouteSource::Hook, RouteOrigin::Official),
            ("https://evil.example", RouteOrigin::UserConfig, RouteSource::Hook, RouteOrigin::Agent),
            ("https://evil.example", RouteOrigin::Official, RouteSource::Hook, RouteOrigin::Agent),
            ("https://api.anthropic.com:443@evil.example", RouteOrigin::Agent, RouteSource::Launch, RouteOrigin::Agent),
            ("https://api.anthropic.com.evil.example", RouteOrigin::Agent, RouteSource::Launch, RouteOrigin::Agent),
            ("https://api.openai.com", RouteOrigin::Agent, RouteSource::Launch, RouteOrigin::Agent),
            ("https://API.ANTHROPIC.COM/", RouteOrigin::Agent, RouteSource::Launch, RouteOrigin::Official),
            ("http://127.0.0.1:9", RouteOrigin::UserConfig, RouteSource::Launch, RouteOrigin::UserConfig),
        ];
        for (url, claimed, source, want) in cases {
            let got = classify(vec![route(url, claimed)], source);
            assert_eq!(got[0].origin, want, "{url} from {source:?}");
        }
    }

    #[test]
    fn one_provider_setting_means_the_api_root_for_every_agent() {
        // The root as Anthropic documents it: Claude Code's calls (`/v1/messages`) go on
        // after it, opencode's (`/messages`, its base URL ends in /v1) after its /v1.
        let text = "[providers.anthropic]\nbase_url = \"http://127.0.0.1:18080/\"\n";
        let config = Config::parse(std::path::Path::new("c.toml"), text).unwrap();
        let claude = Route::new("anthropic", "anthropic", "https://api.anthropic.com");
        let opencode =
            Route { root: "/v1".into(), ..Route::new("oc-anthropic", "anthropic", "https://api.anthropic.com/v1") };
        assert_eq!(destination(&config, &claude, false).0, "http://127.0.0.1:18080");
        assert_eq!(destination(&config, &opencode, false).0, "http://127.0.0.1:18080/v1");
        // A route named by its own id goes exactly where it says.
        let text = "[providers.oc-anthropic]\nbase_url = \"http://127.0.0.1:9/v1\"\n";
        let config = Config::parse(std::path::Path::new("c.toml"), text).unwrap();
        assert_eq!(destination(&config, &opencode, false).0, "http://127.0.0.1:9/v1");
    }

    #[test]
    fn the_users_config_outranks_the_agents_upstream_and_agents_need_allow_hosts() {
        let text = "[providers.anthropic]\nbase_url = \"http://127.0.0.1:4000\"\n";
        let config = Config::parse(std::path::Path::new("c.toml"), text).unwrap();
        let r = route("https://evil.example", RouteOrigin::Agent);
        assert_eq!(destination(&config, &r, false), ("http://127.0.0.1:4000".into(), RouteOrigin::UserConfig));
        let config = Config::default();
        let (_, origin, verdict) = route_verdict(&config, &r);
        assert_eq!(origin, RouteOrigin::Agent);
        assert!(verdict.is_err_and(|e| e.contains("allow_hosts")));
        let text = "[sandbox]\nallow_hosts = [\"evil.example\"]\n";
        let config = Config::parse(std::path::Path::new("c.toml"), text).unwrap();
        assert!(route_verdict(&config, &r).2.is_ok());
        // Allowed or not, never this machine, and never another port than the entry's.
        let text = "[sandbox]\nallow_hosts = [\"127.0.0.1:4000\", \"evil.example\"]\n";
        let config = Config::parse(std::path::Path::new("c.toml"), text).unwrap();
        assert!(route_verdict(&config, &route("https://127.0.0.1:4000", RouteOrigin::Agent)).2.is_err());
        assert!(route_verdict(&config, &route("https://evil.example:8443", RouteOrigin::Agent)).2.is_err());
        // ChatGPT's backend is OpenAI's own.
        let codex =
            Route { chatgpt: Some(crate::agents::CHATGPT_BACKEND.into()), ..Route::new("openai", "openai", "x") };
        assert_eq!(destination(&config, &codex, true).1, RouteOrigin::Official);
    }
}
