//! The runner's side of the metering proxy: which pane a request is from and where its
//! route leads, the spend gate, and booking what each call used.

use super::Runner;
use super::control::{Action, Outcome};
use crate::meter::proxy::{Meter, Target};
use crate::meter::usage::Reading;
use std::sync::Arc;

impl Meter for Runner {
    fn target(&self, token: &str, route: &str, chatgpt: bool) -> Option<Target> {
        let pane = self.pane_of_token(token)?;
        let (r, secrets) = {
            let m = pane.meta.lock();
            (m.routes.iter().find(|r| r.id == route)?.clone(), m.secrets.clone())
        };
        // The config's upstream for this route or its provider outranks the agent's own.
        let config = self.config.read();
        let configured = config.providers.get(&r.id).or_else(|| config.providers.get(&r.provider));
        let upstream = match (configured, chatgpt, &r.chatgpt) {
            (Some(p), _, _) => p.base_url.clone(),
            (None, true, Some(backend)) => backend.clone(),
            (None, _, _) => r.upstream.clone(),
        };
        // A real key goes only with its provider's own credentials, and only to the
        // provider's own host or an upstream this config names: the agent can write the
        // settings files its other upstreams come from.
        let trusted = configured.is_some() || super::sandbox::official_upstream(&upstream);
        let names = super::sandbox::credentials_of(&r.provider);
        let secrets = secrets
            .into_iter()
            .filter(|(name, _)| trusted && names.contains(&name.as_str()))
            .map(|(name, real)| (super::sandbox::placeholder(&name), real))
            .collect();
        Some(Target { pane: pane.id, provider: r.provider, upstream, secrets })
    }

    fn egress(&self, host: &str, port: u16) -> Result<bool, String> {
        crate::sandbox::host_allowed(&self.config.read().sandbox.allow_hosts, host, port).ok_or_else(|| {
            format!(
                "{host}:{port} is not among the hosts agents may reach; add it to `allow_hosts` under [sandbox] in the config"
            )
        })
    }

    fn refuse(&self, token: &str, what: &str, why: &str) {
        if let Some(pane) = self.pane_of_token(token) {
            self.sandbox_refused(pane.id, what, why);
        }
    }

    async fn admit(self: Arc<Self>, pane: u32, provider: String, model: Option<String>) -> Result<(), String> {
        match self.decide(pane, Action::LlmRequest { provider, model }).await {
            Outcome::Allow | Outcome::Defer => Ok(()),
            Outcome::Deny(reason) => Err(reason),
        }
    }

    fn record(&self, pane: u32, provider: &str, reading: Reading) {
        self.record_spend(pane, provider, reading);
    }
}

impl Runner {
    fn pane_of_token(&self, token: &str) -> Option<Arc<super::pane::Pane>> {
        let st = self.state.lock();
        st.panes.get(st.hook_tokens.get(token)?).cloned()
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
