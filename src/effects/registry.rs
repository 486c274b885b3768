//! Package downloads, recognised by the path of a request to a package registry: npm's
//! tarballs, PyPI's wheels and sdists, crates, Debian packages, Go modules, gems, and the
//! same shapes on a registry of the config's own.

/// Which registry a host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registry {
    Npm,
    Pypi,
    Crates,
    Debian,
    Go,
    Rubygems,
    /// One the config names (`registries` under `[sandbox]`).
    Configured,
}

impl Registry {
    pub fn word(self) -> &'static str {
        match self {
            Registry::Npm => "npm",
            Registry::Pypi => "pypi",
            Registry::Crates => "crates",
            Registry::Debian => "debian",
            Registry::Go => "go",
            Registry::Rubygems => "rubygems",
            Registry::Configured => "configured",
        }
    }
}

/// The public registries teamster knows, by host.
pub const KNOWN: [(&str, Registry); 14] = [
    ("registry.npmjs.org", Registry::Npm),
    ("registry.yarnpkg.com", Registry::Npm),
    ("pypi.org", Registry::Pypi),
    ("files.pythonhosted.org", Registry::Pypi),
    ("crates.io", Registry::Crates),
    ("static.crates.io", Registry::Crates),
    ("index.crates.io", Registry::Crates),
    ("deb.debian.org", Registry::Debian),
    ("security.debian.org", Registry::Debian),
    ("proxy.golang.org", Registry::Go),
    ("sum.golang.org", Registry::Go),
    ("rubygems.org", Registry::Rubygems),
    ("index.rubygems.org", Registry::Rubygems),
    ("rubygems.pkg.github.com", Registry::Rubygems),
];

/// A package fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Download {
    pub registry: Registry,
    pub host: String,
    pub package: String,
    pub version: Option<String>,
}

/// The package a GET of `path` (no query) on a registry fetches, if it fetches one: the
/// archive shapes of every registry are tried, whichever registry the host is (a company
/// mirror serves several).
pub fn download(registry: Registry, host: &str, path: &str) -> Option<Download> {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path);
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    let file = *segments.last()?;
    let found = |package: &str, version: Option<&str>| Download {
        registry,
        host: host.to_string(),
        package: package.to_string(),
        version: version.map(str::to_string),
    };
    // npm: /NAME/-/NAME-VER.tgz, /@SCOPE/NAME/-/NAME-VER.tgz
    if let Some(dash) = segments.iter().position(|s| *s == "-")
        && file.ends_with(".tgz")
        && dash > 0
    {
        let package = segments[..dash].join("/");
        let base = package.rsplit('/').next().unwrap_or(&package);
        let version = file.strip_suffix(".tgz").and_then(|f| f.strip_prefix(base)).and_then(|v| v.strip_prefix('-'));
        return Some(found(&package, version));
    }
    // crates.io: /crates/NAME/NAME-VER.crate, /api/v1/crates/NAME/VER/download
    if let Some(stem) = file.strip_suffix(".crate") {
        let name = segments.len().checked_sub(2).map(|i| segments[i]).unwrap_or(stem);
        return Some(found(name, stem.strip_prefix(name).and_then(|v| v.strip_prefix('-'))));
    }
    if file == "download" && segments.len() >= 4 && segments[segments.len() - 4] == "crates" {
        return Some(found(segments[segments.len() - 3], Some(segments[segments.len() - 2])));
    }
    // Go modules: /MODULE/@v/VER.zip
    if let Some(at) = segments.iter().position(|s| *s == "@v")
        && let Some(version) = file.strip_suffix(".zip")
    {
        return Some(found(&segments[..at].join("/"), Some(version)));
    }
    // Debian: NAME_VER_ARCH.deb
    if let Some(stem) = file.strip_suffix(".deb").or_else(|| file.strip_suffix(".udeb")) {
        let mut parts = stem.splitn(3, '_');
        return Some(found(parts.next().unwrap_or(stem), parts.next()));
    }
    // RubyGems: NAME-VER.gem; PyPI: NAME-VER.tar.gz, NAME-VER-TAGS.whl, NAME-VER.zip
    for ext in [".gem", ".whl", ".tar.gz", ".tar.bz2", ".zip", ".tgz", ".jar", ".nupkg"] {
        if let Some(stem) = file.strip_suffix(ext) {
            return Some(name_version(stem).map_or_else(|| found(stem, None), |(n, v)| found(n, Some(v))));
        }
    }
    None
}

/// `name-1.2.3...` split where the version starts (the first `-` before a digit).
fn name_version(stem: &str) -> Option<(&str, &str)> {
    let at = stem.char_indices().find(|(i, c)| *c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))?.0;
    let version = stem[at + 1..].split('-').next().unwrap_or("");
    Some((&stem[..at], version))
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_registrys_archives_are_downloads() {
        let cases = [
            (Registry::Npm, "/left-pad/-/left-pad-1.3.0.tgz", Some(("left-pad", Some("1.3.0")))),
            (Registry::Npm, "/@types%2fnode/-/node-20.1.0.tgz", Some(("@types/node", Some("20.1.0")))),
            (Registry::Npm, "/@scope/pkg/-/pkg-2.0.0.tgz", Some(("@scope/pkg", Some("2.0.0")))),
            (Registry::Npm, "/left-pad", None),
            (Registry::Crates, "/crates/serde/serde-1.0.1.crate", Some(("serde", Some("1.0.1")))),
            (Registry::Crates, "/api/v1/crates/serde/1.0.1/download", Some(("serde", Some("1.0.1")))),
            (Registry::Crates, "/se/rd/serde", None),
            (Registry::Go, "/golang.org/x/text/@v/v0.3.0.zip", Some(("golang.org/x/text", Some("v0.3.0")))),
            (Registry::Go, "/golang.org/x/text/@v/list", None),
            (Registry::Debian, "/debian/pool/main/c/curl/curl_7.88.1-10_amd64.deb", Some(("curl", Some("7.88.1-10")))),
            (Registry::Pypi, "/packages/ab/cd/requests-2.31.0-py3-none-any.whl", Some(("requests", Some("2.31.0")))),
            (Registry::Pypi, "/packages/source/f/flask/flask-3.0.0.tar.gz", Some(("flask", Some("3.0.0")))),
            (Registry::Pypi, "/simple/requests/", None),
            (Registry::Rubygems, "/gems/rails-7.1.0.gem", Some(("rails", Some("7.1.0")))),
        ];
        for (registry, path, want) in cases {
            let got = download(registry, "h", path).map(|d| (d.package, d.version));
            let want = want.map(|(p, v)| (p.to_string(), v.map(str::to_string)));
            assert_eq!(got, want, "{path}");
        }
    }
}
