//! The runner's side of the metering proxy: which pane a request is from and where its
//! route leads, the spend gate, and booking what each call used.

use super::Runner;
use super::control::{Action, Outcome};
use crate::meter::proxy::{Meter, Target};
use crate::meter::usage::Reading;
use std::sync::Arc;

impl Meter for Runner {
    fn target(&self, token: &str, route: &str, chatgpt: bool) -> Option<Target> {
        let pane = {
            let st = self.state.lock();
            let id = *st.hook_tokens.get(token)?;
            st.panes.get(&id)?.clone()
        };
        let r = pane.meta.lock().routes.iter().find(|r| r.id == route)?.clone();
        // The config's upstream for this route or its provider outranks the agent's own.
        let config = self.config();
        let configured = config.providers.get(&r.id).or_else(|| config.providers.get(&r.provider));
        let upstream = match (configured, chatgpt, &r.chatgpt) {
            (Some(p), _, _) => p.base_url.clone(),
            (None, true, Some(backend)) => backend.clone(),
            (None, _, _) => r.upstream.clone(),
        };
        let secrets = pane.meta.lock().secrets.clone();
        Some(Target { pane: pane.id, provider: r.provider, upstream, secrets })
    }

    fn egress(&self, token: &str, host: &str) -> Result<(), String> {
        let pane = {
            let st = self.state.lock();
            let id = *st.hook_tokens.get(token).ok_or("this pane is gone")?;
            st.panes.get(&id).ok_or("this pane is gone")?.clone()
        };
        let config = self.config();
        if crate::sandbox::host_allowed(&config.sandbox.allow_hosts, host) {
            return Ok(());
        }
        let why = format!(
            "{host} is not among the hosts agents may reach; add it to `allow_hosts` under [sandbox] in the config"
        );
        self.sandbox_refused(pane.id, &format!("connection to {host} through the proxy"), &why);
        Err(why)
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
    /// Starts the metering proxy on a loopback port of its own.
    pub async fn start_proxy(self: &Arc<Self>) -> std::io::Result<u16> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        *self.proxy_port.lock() = Some(port);
        tokio::spawn(crate::meter::proxy::serve(listener, self.clone(), crate::meter::proxy::Origin::Loopback));
        Ok(port)
    }
}
