//! Real agent CLIs in a test world: where `./scripts/test` installed them, their settings
//! pointing at the mock LLM, and the loopback-only network they run in.

use super::Env;
use super::mock_llm::MockLlm;
use std::path::PathBuf;
use teamster::agents::AgentKind;
use teamster::agents::probe::offline_setup;

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

/// Points the agent `kind` at `mock` in `env`'s home, as a user would set it up once (the
/// same setup `teamster doctor --live` uses), and returns its `[agents.KIND]` entry for
/// teamster's config.
pub fn prepare(env: &Env, kind: &str, mock: &MockLlm) -> String {
    prepare_writable(env, kind, mock, &[])
}

/// `prepare`, letting the sandboxed agent write `writable` besides its workspace.
pub fn prepare_writable(env: &Env, kind: &str, mock: &MockLlm, writable: &[String]) -> String {
    let work = env.dir.join("work");
    let agent_kind = AgentKind::from_name(kind).expect("an agent kind");
    let offline = offline_setup(agent_kind, &env.dir.join("home"), &env.dir.join("config"), &work, &mock.url())
        .expect("agent settings");
    let mut entry = toml::Table::new();
    entry.insert("kind".into(), kind.into());
    entry.insert("command".into(), cli(kind).to_string_lossy().into_owned().into());
    entry.insert("cwd".into(), work.to_string_lossy().into_owned().into());
    entry.insert("args".into(), offline.args.into());
    if let Some(model) = offline.model {
        entry.insert("model".into(), model.into());
    }
    if !writable.is_empty() {
        entry.insert("writable".into(), writable.to_vec().into());
    }
    entry.insert("env".into(), offline.env.into_iter().map(|(k, v)| (k, v.into())).collect::<toml::Table>().into());
    let mut agents = toml::Table::new();
    agents.insert(kind.into(), entry.into());
    let mut config = toml::Table::new();
    config.insert("agents".into(), agents.into());
    // The mock is on this machine: only the user's config may send a route there.
    let mut providers = toml::Table::new();
    for (route, url) in offline.providers {
        let mut p = toml::Table::new();
        p.insert("base_url".into(), url.into());
        providers.insert(route, p.into());
    }
    if !providers.is_empty() {
        config.insert("providers".into(), providers.into());
    }
    toml::to_string(&config).expect("TOML")
}
