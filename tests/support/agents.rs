//! Real agent CLIs in a test world: where `./scripts/test` installed them, the settings
//! that point each at the mock LLM with no first-run dialogs, and the loopback-only
//! network they run in.

use super::Env;
use super::mock_llm::MockLlm;
use std::path::PathBuf;

/// The cache `./scripts/test` installs the agent CLIs into.
pub fn cache() -> PathBuf {
    match std::env::var_os("TEAMSTER_TEST_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/teamster-tests"),
    }
}

/// The installed CLI of an agent kind.
pub fn cli(kind: &str) -> PathBuf {
    let bin = cache().join("npm").join(kind).join("node_modules/.bin").join(kind);
    assert!(
        bin.exists(),
        "{} is not installed; `./scripts/test` installs the agent CLIs (it runs npm into {})",
        bin.display(),
        cache().join("npm").display()
    );
    bin
}

/// Makes sure nothing here can reach beyond this machine: the tests must run in a network
/// namespace with only loopback (`unshare -rn`, as `./scripts/test` runs them). Brings
/// loopback up there.
pub fn isolate() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dev = std::fs::read_to_string("/proc/self/net/dev").expect("/proc/self/net/dev");
        let interfaces: Vec<&str> = dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(str::trim).collect();
        assert_eq!(
            interfaces,
            ["lo"],
            "agent tests run real agent CLIs and must not reach a real LLM provider: run them in a \
             loopback-only network namespace, `unshare -rn cargo test --test agents -- --ignored` \
             (./scripts/test does this)"
        );
        lo_up();
    });
}

fn lo_up() {
    // SAFETY: an ifreq for "lo" on a socket of ours, with the flags the kernel gave.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        assert_eq!(
            libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req),
            0,
            "SIOCGIFFLAGS: {}",
            std::io::Error::last_os_error()
        );
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        assert_eq!(
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &mut req),
            0,
            "SIOCSIFFLAGS: {}",
            std::io::Error::last_os_error()
        );
        libc::close(fd);
    }
}

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write agent settings");
}

/// Points the agent `kind` at `mock` in `env`'s home, as a user would set it up once, and
/// returns its `[agents.KIND]` entry for teamster's config.
pub fn prepare(env: &Env, kind: &str, mock: &MockLlm) -> String {
    let home = env.dir.join("home");
    let work = env.dir.join("work");
    let url = mock.url();
    let env_table = match kind {
        "claude" => {
            let state = serde_json::json!({
                "hasCompletedOnboarding": true,
                "projects": { work.to_string_lossy(): { "hasTrustDialogAccepted": true } },
            });
            write(home.join(".claude.json"), &state.to_string());
            format!(
                "{{ ANTHROPIC_BASE_URL = \"{url}\", ANTHROPIC_AUTH_TOKEN = \"mock\", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\" }}"
            )
        }
        "codex" => {
            write(
                home.join(".codex/config.toml"),
                &format!(
                    "model = \"mock-model\"\nmodel_provider = \"mock\"\ncheck_for_update_on_startup = false\n\n\
                     [model_providers.mock]\nname = \"mock\"\nbase_url = \"{url}/v1\"\nenv_key = \"MOCK_API_KEY\"\n\
                     wire_api = \"responses\"\nsupports_websockets = false\nrequest_max_retries = 0\nstream_max_retries = 0\n\n\
                     [analytics]\nenabled = false\n"
                ),
            );
            "{ MOCK_API_KEY = \"mock\" }".to_string()
        }
        "pi" => {
            // Pi speaks OpenAI Chat Completions here, so that wire format is tested too.
            let models = serde_json::json!({ "providers": { "mock": {
                "baseUrl": format!("{url}/v1"), "api": "openai-completions", "apiKey": "mock",
                "compat": { "supportsDeveloperRole": false, "supportsReasoningEffort": false },
                "models": [{ "id": "mock-model", "name": "Mock", "reasoning": false, "input": ["text"],
                             "contextWindow": 200000, "maxTokens": 8192,
                             "cost": { "input": 3, "output": 15, "cacheRead": 0.3, "cacheWrite": 3.75 } }],
            }}});
            write(home.join(".pi/agent/models.json"), &models.to_string());
            "{ PI_OFFLINE = \"1\" }".to_string()
        }
        "gemini" => {
            let settings = serde_json::json!({
                "security": { "auth": { "selectedType": "gemini-api-key" } },
                "privacy": { "usageStatisticsEnabled": false }, "telemetry": { "enabled": false },
            });
            write(home.join(".gemini/settings.json"), &settings.to_string());
            format!("{{ GEMINI_API_KEY = \"mock\", GOOGLE_GEMINI_BASE_URL = \"{url}\" }}")
        }
        "opencode" => {
            let config_dir = env.dir.join("config/opencode");
            let config = serde_json::json!({
                "provider": { "anthropic": { "options": { "baseURL": format!("{url}/v1"), "apiKey": "mock" } } },
                "model": "anthropic/claude-sonnet-4-5",
            });
            write(config_dir.join("opencode.json"), &config.to_string());
            // Offline, opencode would wait a minute on npm for each config directory.
            let deps = serde_json::json!({ "dependencies": { "@opencode-ai/plugin": "*" } });
            write(config_dir.join("package.json"), &deps.to_string());
            write(
                config_dir.join("package-lock.json"),
                &serde_json::json!({ "lockfileVersion": 3, "packages": { "": deps } }).to_string(),
            );
            std::fs::create_dir_all(config_dir.join("node_modules")).expect("mkdir");
            "{ OPENCODE_DISABLE_MODELS_FETCH = \"1\", OPENCODE_DISABLE_AUTOUPDATE = \"1\", \
             OPENCODE_DISABLE_LSP_DOWNLOAD = \"1\", OPENCODE_DISABLE_SHARE = \"1\" }"
                .to_string()
        }
        other => panic!("no test setup for agent kind {other}"),
    };
    let model = if kind == "pi" { "model = \"mock/mock-model\"\n" } else { "" };
    let args = if kind == "codex" { "args = [\"--disable\", \"plugins\", \"--disable\", \"apps\"]\n" } else { "" };
    format!(
        "[agents.{kind}]\nkind = \"{kind}\"\ncommand = \"{}\"\ncwd = \"{}\"\n{model}{args}env = {env_table}\n",
        cli(kind).display(),
        work.display()
    )
}
