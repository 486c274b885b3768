//! Effects: what an agent does to the world, as teamster's proxy sees it on the wire,
//! whatever program did it and however its command line was spelt: a git push (which
//! refs, created, deleted, fast-forwarded or rewritten), a package download, a contact
//! with a host. Policies judge these (`on = "push"`, `"download"`, `"contact"`); the
//! rules on command strings are a courtesy beside them.

pub mod git;
pub mod registry;

pub use registry::{Download, Registry};

/// One thing an agent does, seen at the proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Push(Push),
    Download(Download),
    Contact(Contact),
}

/// A git push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Push {
    /// The git host, `host` or `host:port`.
    pub host: String,
    /// The repository's path on it, e.g. `owner/repo.git`.
    pub repository: String,
    pub refs: Vec<RefUpdate>,
    /// Over SSH, which teamster cannot read: any ref may change, any way.
    pub over_ssh: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// As git names it: `refs/heads/main`.
    pub name: String,
    pub change: Change,
}

impl RefUpdate {
    /// The branch or tag name without `refs/heads/` or `refs/tags/`.
    pub fn short(&self) -> &str {
        self.name.strip_prefix("refs/heads/").or_else(|| self.name.strip_prefix("refs/tags/")).unwrap_or(&self.name)
    }
}

/// How a push changes one ref.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Create,
    Delete,
    /// The old commit is in the new one's history.
    FastForward,
    /// It is not: commits the ref had are dropped (a force push).
    Rewrite,
    /// Whether it is a fast-forward could not be found out (the server would not say).
    Unknown,
}

impl Change {
    pub fn words(self) -> &'static str {
        match self {
            Change::Create => "new",
            Change::Delete => "deleted",
            Change::FastForward => "fast-forward",
            Change::Rewrite => "rewritten (forced)",
            Change::Unknown => "not shown to be a fast-forward",
        }
    }

    /// Whether the ref may lose commits it had: a rewrite, or one not shown not to be.
    pub fn may_rewrite(self) -> bool {
        matches!(self, Change::Rewrite | Change::Unknown)
    }
}

/// A connection to a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub host: String,
    pub port: u16,
    pub kind: HostKind,
    /// No pane of this session contacted it before.
    pub first: bool,
}

/// What teamster makes of a host: one it reads the traffic of (a git host, a registry), or
/// another, whose traffic is tunnelled as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostKind {
    Git,
    Registry(Registry),
    Other,
}

impl HostKind {
    pub fn word(self) -> &'static str {
        match self {
            HostKind::Git => "git",
            HostKind::Registry(_) => "registry",
            HostKind::Other => "other",
        }
    }
}

impl Effect {
    /// One line for the approval card and the audit log.
    pub fn describe(&self) -> String {
        match self {
            Effect::Push(p) if p.over_ssh => format!("git over SSH to {} (any ref, any way)", p.host),
            Effect::Push(p) => {
                let refs: Vec<String> =
                    p.refs.iter().map(|r| format!("{} ({})", r.short(), r.change.words())).collect();
                format!("git push to {}/{}: {}", p.host, p.repository.trim_start_matches('/'), refs.join(", "))
            }
            Effect::Download(d) => format!(
                "download {} {}{} from {}",
                d.registry.word(),
                d.package,
                d.version.as_ref().map(|v| format!(" {v}")).unwrap_or_default(),
                d.host
            ),
            Effect::Contact(c) => {
                let first = if c.first { "first contact with" } else { "contact with" };
                format!("{first} {}:{}", c.host, c.port)
            }
        }
    }

    /// The kind of effect, as the queue and the audit log name it.
    pub fn kind(&self) -> crate::approval::ActionKind {
        use crate::approval::ActionKind;
        match self {
            Effect::Push(_) => ActionKind::Push,
            Effect::Download(_) => ActionKind::Download,
            Effect::Contact(_) => ActionKind::Contact,
        }
    }
}
