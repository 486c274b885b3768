//! Where a route may lead, and whether the real key may go with it.
//!
//! A route's upstream comes from somewhere: the provider's own API (teamster knows it),
//! the user's teamster config, or something the agent could write (a settings file in the
//! workspace or its own state, a hook payload). Only the first two get the real key, and
//! only the last is confined: it must be `https`, carry no user info, name a host
//! `allow_hosts` lets agents reach (on that port), and lead, by every address it resolves
//! to, away from this machine and every private network.
//!
//! URLs are parsed by the WHATWG parser (`url`), the one reqwest itself uses, so the host
//! checked here is the host connected to: `https://api.anthropic.com:443@evil` is user
//! info and the host `evil`, and `https://0x7f000001`, `https://2130706433` and
//! `https://127.1` are all 127.0.0.1.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use url::{Host, Url};

/// Who named a route's upstream. Decided by the runner from where the route came from,
/// never by what a payload says of itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RouteOrigin {
    /// The provider's own API, as teamster knows it: gets the provider's real key.
    Official,
    /// An upstream the user's own teamster config names (`[providers.X]`, an agent's
    /// `env`): gets the real key, and may be on this machine.
    UserConfig,
    /// Named by something the agent can write: no key, and confined (see the module).
    #[default]
    Agent,
}

impl RouteOrigin {
    /// For the audit log and error messages.
    pub fn words(self) -> &'static str {
        match self {
            RouteOrigin::Official => "the provider's own API",
            RouteOrigin::UserConfig => "your teamster config",
            RouteOrigin::Agent => "the agent (its settings files or hooks)",
        }
    }

    /// Whether the real key may go to an upstream of this origin.
    pub fn gets_key(self) -> bool {
        matches!(self, RouteOrigin::Official | RouteOrigin::UserConfig)
    }
}

/// The hosts of each provider family's own APIs.
fn official_hosts(provider: &str) -> &'static [&'static str] {
    match provider {
        "anthropic" => &["api.anthropic.com"],
        "openai" => &["api.openai.com", "chatgpt.com"],
        "google" => &["generativelanguage.googleapis.com", "cloudcode-pa.googleapis.com"],
        _ => &[],
    }
}

/// Parses `text` as an absolute URL with a host and nothing hidden in it: no user info
/// (where `https://api.anthropic.com:443@evil` hides its real host), no fragment.
pub fn parse(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("`{}` is not a URL ({e})", crate::text::visible(text)))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("`{}`: only https (or http on this machine) is forwarded", crate::text::visible(text)));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{}` carries user info before its host (`user@host`); name the host alone",
            crate::text::visible(text)
        ));
    }
    if url.host().is_none() {
        return Err(format!("`{}` names no host", crate::text::visible(text)));
    }
    if url.fragment().is_some() || url.query().is_some() {
        return Err(format!("`{}`: a base URL takes no query or fragment", crate::text::visible(text)));
    }
    Ok(url)
}

/// Whether `url` (parsed) is one of `provider`'s own APIs: https, its exact host, the
/// default port.
pub fn is_official(provider: &str, url: &Url) -> bool {
    let host = match url.host() {
        Some(Host::Domain(d)) => d,
        _ => return false,
    };
    url.scheme() == "https" && url.port().is_none() && official_hosts(provider).contains(&host)
}

/// Whether `text` is one of `provider`'s own APIs.
pub fn official(provider: &str, text: &str) -> bool {
    parse(text).is_ok_and(|u| is_official(provider, &u))
}

/// What can be said of an upstream of `origin` from its URL alone (an agent's must also
/// pass `allow_hosts`, and lead nowhere `forbidden` by the addresses it has at each call):
/// the runner's audit and the proxy judge with this one function.
///
/// The providers' own APIs and the user's config go where they say (the user may run a
/// gateway on this machine), but the key never crosses the network in the clear.
pub fn check(origin: RouteOrigin, provider: &str, text: &str) -> Result<Url, String> {
    if origin == RouteOrigin::Agent {
        return check_agent(text);
    }
    let url = parse(text)?;
    let shown = crate::text::visible(text);
    if origin == RouteOrigin::Official && !is_official(provider, &url) {
        return Err(format!("{shown} is not {provider}'s own API"));
    }
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d == "localhost",
        None => false,
    };
    if url.scheme() != "https" && !loopback {
        return Err(format!(
            "{shown} is plain http away from this machine: the key would cross the network in the clear; use https"
        ));
    }
    Ok(url)
}

/// The first of `addrs` an agent's upstream must not lead to, and what it is.
pub fn first_forbidden(addrs: &[SocketAddr]) -> Option<(IpAddr, &'static str)> {
    addrs.iter().find_map(|a| forbidden(a.ip()).map(|what| (a.ip(), what)))
}

/// The host and port a parsed URL connects to; an IP literal in its address form.
pub fn host_port(url: &Url) -> (String, u16) {
    let host = match url.host() {
        Some(Host::Ipv6(v6)) => v6.to_string(),
        Some(h) => h.to_string(),
        None => String::new(),
    };
    (host, url.port_or_known_default().unwrap_or(443))
}

/// Checks what can be checked of an agent's upstream without looking its name up: https,
/// no user info, and no address literal or name that leads to this machine or a private
/// network. (`allow_hosts` and the addresses a name resolves to are checked by the caller.)
pub fn check_agent(text: &str) -> Result<Url, String> {
    let url = parse(text)?;
    if url.scheme() != "https" {
        return Err(format!(
            "`{}`: an upstream the agent names must use https; name it in `[providers]` of your teamster config to use it as it is",
            crate::text::visible(text)
        ));
    }
    match url.host() {
        Some(Host::Ipv4(v4)) => refuse_ip(IpAddr::V4(v4))?,
        Some(Host::Ipv6(v6)) => refuse_ip(IpAddr::V6(v6))?,
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            if d == "localhost" || d.ends_with(".localhost") || d.is_empty() {
                return Err(format!("`{}` leads to this machine", crate::text::visible(text)));
            }
        }
        None => return Err(format!("`{}` names no host", crate::text::visible(text))),
    }
    Ok(url)
}

fn refuse_ip(ip: IpAddr) -> Result<(), String> {
    match forbidden(ip) {
        Some(what) => Err(format!("{ip} is {what}, where an agent's upstream may not lead")),
        None => Ok(()),
    }
}

/// What `ip` is, when it is somewhere an agent must not be let in: this machine, a
/// private or link-local network, an address that means "any" or "many", or an IPv4
/// address of those kinds spelt as IPv6 (mapped, compatible, translated, NAT64, 6to4,
/// Teredo). `None`: a public address.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, _, _) => "this machine (loopback)",
        (0, _, _) => "unspecified (\"this network\", which reaches this machine)",
        (10, _, _) | (192, 168, _) => "a private network",
        (172, b, _) if b & 0xf0 == 16 => "a private network",
        (169, 254, _) => "link-local (cloud metadata lives there)",
        (100, b, _) if b & 0xc0 == 64 => "shared address space (CGNAT, 100.64.0.0/10)",
        (192, 0, 0) => "reserved for protocol assignments",
        (198, b, _) if b & 0xfe == 18 => "reserved for benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved (or broadcast)",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if ip.is_loopback() {
        return Some("this machine (loopback)");
    }
    if ip.is_unspecified() {
        return Some("unspecified (it reaches this machine)");
    }
    match s {
        // IPv4-mapped (::ffff:a.b.c.d), IPv4-translated (::ffff:0:a.b.c.d) and
        // IPv4-compatible (::a.b.c.d): the IPv4 address is what is reached.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0xffff, 0, hi, lo] | [0, 0, 0, 0, 0, 0, hi, lo] => {
            return forbidden_v4(embedded(hi, lo))
                .map(|_| "an IPv4 address of this machine or a private network, spelt as IPv6");
        }
        // NAT64, well-known prefix: the gateway reaches the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            return forbidden_v4(embedded(hi, lo)).map(|_| "a private IPv4 address through NAT64");
        }
        _ => {}
    }
    Some(match s[0] {
        // Local-use NAT64 (64:ff9b:1::/48): whatever a local translator makes of it.
        0x64 if s[1] == 0xff9b => "local-use NAT64",
        // 6to4: the relay reaches the IPv4 address in the next 32 bits.
        0x2002 => return forbidden_v4(embedded(s[1], s[2])).map(|_| "a private IPv4 address through 6to4"),
        // Teredo: the client's IPv4 address, inverted, in the last 32 bits.
        0x2001 if s[1] == 0 => {
            return forbidden_v4(embedded(!s[6], !s[7])).map(|_| "a private IPv4 address through Teredo");
        }
        // Discard-only.
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only",
        x if x & 0xfe00 == 0xfc00 => "a unique-local (private) network",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "site-local (private)",
        x if x & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_hosts_are_seen_for_what_they_are() {
        // (URL, what an agent may name, whether it is Anthropic's own API)
        let cases: &[(&str, Result<&str, &str>, bool)] = &[
            ("https://api.anthropic.com", Ok("api.anthropic.com"), true),
            ("https://API.Anthropic.COM/v1", Ok("api.anthropic.com"), true),
            ("https://api.anthropic.com:443", Ok("api.anthropic.com"), true),
            ("https://api.anthropic.com:8443", Ok("api.anthropic.com"), false),
            ("https://api.anthropic.com.", Ok("api.anthropic.com."), false),
            ("http://api.anthropic.com", Err("must use https"), false),
            ("http://api.anthropic.com:443@evil.example", Err("user info"), false),
            ("https://api.anthropic.com:443@evil.example", Err("user info"), false),
            ("https://user@api.anthropic.com", Err("user info"), false),
            ("https://:pw@api.anthropic.com", Err("user info"), false),
            ("https://api.anthropic.com.evil.com", Ok("api.anthropic.com.evil.com"), false),
            ("https://api.anthropic.com%2eevil.com", Ok("api.anthropic.com.evil.com"), false),
            ("https://evil.com#@api.anthropic.com", Err("fragment"), false),
            ("https://evil.com?@api.anthropic.com", Err("query"), false),
            ("https://evil.com\\@api.anthropic.com", Ok("evil.com"), false),
            ("https://[::ffff:127.0.0.1]", Err("spelt as IPv6"), false),
            ("https://[::ffff:7f00:1]/v1", Err("spelt as IPv6"), false),
            ("https://[::127.0.0.1]", Err("spelt as IPv6"), false),
            ("https://[::ffff:0:10.0.0.1]", Err("spelt as IPv6"), false),
            ("https://[64:ff9b::a9fe:a9fe]", Err("NAT64"), false),
            ("https://[64:ff9b:1::1]", Err("local-use NAT64"), false),
            ("https://[2002:7f00:1::]", Err("6to4"), false),
            ("https://[2002:c0a8:101::1]", Err("6to4"), false),
            ("https://[::1]", Err("loopback"), false),
            ("https://[::]", Err("unspecified"), false),
            ("https://[fd00::1]", Err("unique-local"), false),
            ("https://[fe80::1]", Err("link-local"), false),
            ("https://[ff02::1]", Err("multicast"), false),
            ("https://0x7f000001", Err("loopback"), false),
            ("https://2130706433", Err("loopback"), false),
            ("https://127.1", Err("loopback"), false),
            ("https://0177.0.0.1", Err("loopback"), false),
            ("https://0177.1", Err("loopback"), false),
            ("https://127.000.000.001", Err("loopback"), false),
            ("https://0", Err("unspecified"), false),
            ("https://0.0.0.0", Err("unspecified"), false),
            ("https://10.1.2.3", Err("private"), false),
            ("https://012.1.2.3", Err("private"), false),
            ("https://172.16.0.1", Err("private"), false),
            ("https://172.31.255.255", Err("private"), false),
            ("https://192.168.1.1.", Err("private"), false),
            ("https://169.254.169.254", Err("link-local"), false),
            ("https://100.64.0.1", Err("CGNAT"), false),
            ("https://100.127.255.255", Err("CGNAT"), false),
            ("https://224.0.0.1", Err("multicast"), false),
            ("https://255.255.255.255", Err("broadcast"), false),
            ("https://localhost", Err("this machine"), false),
            ("https://LOCALHOST.", Err("this machine"), false),
            ("https://x.localhost", Err("this machine"), false),
            ("https://172.32.0.1", Ok("172.32.0.1"), false),
            ("https://100.128.0.1", Ok("100.128.0.1"), false),
            ("https://[2606:4700::1]", Ok("2606:4700::1"), false),
            ("https://[::ffff:8.8.8.8]", Ok("::ffff:8.8.8.8"), false),
            ("ftp://api.anthropic.com", Err("only https"), false),
            ("api.anthropic.com", Err("not a URL"), false),
            ("https://", Err("not a URL"), false),
        ];
        for (text, want, official) in cases {
            let got = check_agent(text);
            match (want, &got) {
                (Ok(host), Ok(url)) => assert_eq!(host_port(url).0, *host, "{text}"),
                (Err(why), Err(e)) => assert!(e.contains(why), "{text}: {e}"),
                _ => panic!("{text}: got {got:?}, wanted {want:?}"),
            }
            let parsed = parse(text).ok();
            assert_eq!(parsed.is_some_and(|u| is_official("anthropic", &u)), *official, "{text}");
        }
        // Another provider's host is not this provider's own.
        assert!(!is_official("anthropic", &parse("https://api.openai.com").unwrap()));
        assert!(is_official("openai", &parse("https://chatgpt.com/backend-api/codex").unwrap()));
    }

    #[test]
    fn addresses_of_this_machine_and_private_networks_in_every_spelling() {
        let forbidden_ones = [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:100.64.0.1",
            "::ffff:0.0.0.0",
            "::127.0.0.1",
            "::10.0.0.1",
            "::ffff:0:127.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::10.1.1.1",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:0001::1",
            "2002:a00:1::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "fc00::1",
            "fdff:ffff::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "100::1",
        ];
        let public = [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "192.0.2.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ];
        let table = forbidden_ones.iter().map(|a| (a, true)).chain(public.iter().map(|a| (a, false)));
        for (a, refused) in table {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(forbidden(ip).is_some(), refused, "{a}: {:?}", forbidden(ip));
        }
        // A name's addresses: one local address among public ones is enough to refuse it.
        let addrs: Vec<SocketAddr> = ["8.8.8.8:443", "[::ffff:127.0.0.1]:443"].map(|a| a.parse().unwrap()).to_vec();
        assert_eq!(first_forbidden(&addrs).map(|(ip, _)| ip.to_string()), Some("::ffff:127.0.0.1".into()));
        assert_eq!(first_forbidden(&addrs[..1]), None);
    }
}
