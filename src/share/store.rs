//! What the share server keeps: the shares (hashes of their tokens, never the tokens or
//! the session key) and an audit of who joined, typed and approved. One small interface
//! with two implementations: SQLite in a file (one server, nothing to install) and
//! PostgreSQL (any number of replicas share their records there).
//!
//! The interface is asynchronous: the server's connections run on a runtime whose threads
//! must never wait on a disk or a database, so SQLite's calls run on the blocking pool and
//! PostgreSQL's are plain async queries. Each schema is versioned and brought up to date
//! when the server starts (`MIGRATIONS`), by whichever replica gets there first.

use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareRecord {
    pub id: String,
    /// SHA-256 (hex) of the runner's token, the viewers' and the drivers'.
    pub runner_hash: String,
    pub read_hash: String,
    pub drive_hash: Option<String>,
    pub created: u64,
    pub expires: Option<u64>,
    pub revoked: Option<u64>,
    /// The member whose token registered it (None: the team token, or an open server).
    pub member: Option<String>,
}

/// A person let in to register shares, by an invite (`teamster serve invite`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    /// SHA-256 (hex) of the token their `teamster join` was given.
    pub token_hash: String,
    pub joined: u64,
    pub revoked: Option<u64>,
}

/// A one-time join URL's record: the hash of its code, never the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invite {
    pub code_hash: String,
    /// Whom it is for: their member name once used.
    pub name: String,
    pub created: u64,
    pub expires: u64,
}

/// Why an invite could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteRefused {
    Unknown,
    Used,
    Expired,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub ts: u64,
    pub share: String,
    pub conn: u64,
    /// The name a viewer gave, or `runner`.
    pub who: String,
    pub role: String,
    /// joined, left, refused, typed, approved, command, query, revoked, rejected...
    pub event: String,
    pub detail: String,
}

/// What a store's calls return: a future that owns what it needs.
pub type Fut<T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send>>;

pub trait ShareStore: Send + Sync {
    fn share(&self, id: &str) -> Fut<Option<ShareRecord>>;
    fn create(&self, share: &ShareRecord) -> Fut<()>;
    fn revoke(&self, id: &str, at: u64) -> Fut<()>;
    /// Forgets a share (it expired): its link no longer opens anything.
    fn remove(&self, id: &str) -> Fut<()>;
    /// Forgets every share whose expiry is at or before `now` (one kept without an expiry
    /// lasts `longest` seconds from its creation); returns their ids.
    fn remove_expired(&self, now: u64, longest: u64) -> Fut<Vec<String>>;
    fn audit(&self, event: &AuditEvent) -> Fut<()>;
    fn audit_log(&self, share: Option<&str>) -> Fut<Vec<AuditEvent>>;
    /// A number for a new replica of the server, never given to another one that uses
    /// the same records: it keeps connection ids apart across replicas.
    fn new_replica(&self) -> Fut<u32>;
    fn create_invite(&self, invite: &Invite) -> Fut<()>;
    /// Uses the invite whose code hashes to `code_hash`, once: `member` (named as the
    /// invite says) joins, in one transaction with marking the invite used.
    fn redeem(&self, code_hash: &str, now: u64, member: &Member) -> Fut<Result<Member, InviteRefused>>;
    fn member_by_token(&self, token_hash: &str) -> Fut<Option<Member>>;
    fn member(&self, id: &str) -> Fut<Option<Member>>;
    fn members(&self) -> Fut<Vec<Member>>;
    /// Revokes the members named `who` (by name or id), and the shares they registered (no
    /// one joins those any more); returns the members revoked now.
    fn revoke_member(&self, who: &str, at: u64) -> Fut<Vec<Member>>;
}

/// Where a server keeps its records: `--db FILE` or `--database postgres://...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// `postgres://` and `postgresql://` URLs name PostgreSQL; anything else is refused
    /// (a file is given with `--db`).
    pub fn database(url: &str) -> Result<Target, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_string()));
        }
        Err(format!(
            "--database takes a PostgreSQL URL (postgres://USER@HOST/DB), not `{}`; for a file of its own, use --db FILE",
            crate::text::visible(&redacted(url))
        ))
    }

    /// For messages: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(path) => path.display().to_string(),
            Target::Postgres(url) => redacted(url),
        }
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Target::Postgres(_))
    }

    pub async fn open(&self) -> Result<Arc<dyn ShareStore>, String> {
        Ok(match self {
            Target::Sqlite(path) => Arc::new(Sqlite::open(path)?),
            Target::Postgres(url) => Arc::new(Postgres::connect(url).await?),
        })
    }
}

/// A URL with its password replaced, for messages and logs.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(a URL that does not parse)".to_string(),
    }
}

/// The schema, one step per version, applied in order and each once. A step is never
/// changed once released: a new version adds a step. The SQL is written for both engines.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY, runner_hash TEXT NOT NULL, read_hash TEXT NOT NULL, drive_hash TEXT,
    created BIGINT NOT NULL, expires BIGINT, revoked BIGINT);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts BIGINT NOT NULL, share TEXT NOT NULL, conn BIGINT NOT NULL,
    who TEXT NOT NULL, role TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_share ON audit(share);
",
    "
CREATE TABLE IF NOT EXISTS members (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
    joined BIGINT NOT NULL, revoked BIGINT);
CREATE TABLE IF NOT EXISTS invites (
    code_hash TEXT PRIMARY KEY, name TEXT NOT NULL, created BIGINT NOT NULL,
    expires BIGINT NOT NULL, used BIGINT);
ALTER TABLE shares ADD COLUMN member TEXT;
",
];

/// What PostgreSQL needs beside `MIGRATIONS`, by the same version: its audit ids come from
/// a sequence (SQLite's INTEGER PRIMARY KEY numbers rows itself), and replicas are numbered.
const POSTGRES_EXTRA: &[&str] = &[
    "
CREATE SEQUENCE IF NOT EXISTS audit_ids OWNED BY audit.id;
ALTER TABLE audit ALTER COLUMN id SET DEFAULT nextval('audit_ids');
CREATE SEQUENCE IF NOT EXISTS replicas;
",
    "",
];

pub struct Sqlite {
    db: Arc<Mutex<Connection>>,
}

fn sqlite_err(e: rusqlite::Error) -> String {
    format!("the share server's database: {e}")
}

impl Sqlite {
    pub fn open(path: &Path) -> Result<Sqlite, String> {
        let db = Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;").map_err(sqlite_err)?;
        let version =
            db.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(sqlite_err)?.max(0) as usize;
        if version > MIGRATIONS.len() {
            return Err(format!(
                "{} was written by a newer teamster (schema version {version}, this one knows {}): upgrade teamster",
                path.display(),
                MIGRATIONS.len()
            ));
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
            let batch = format!("BEGIN; {step} PRAGMA user_version = {}; COMMIT;", i + 1);
            db.execute_batch(&batch).map_err(sqlite_err)?;
        }
        Ok(Sqlite { db: Arc::new(Mutex::new(db)) })
    }

    /// Runs `f` on the connection, off the runtime's threads.
    fn with<T: Send + 'static>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static) -> Fut<T> {
        let db = self.db.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&db.lock()).map_err(sqlite_err))
                .await
                .map_err(|e| format!("the share server's database: {e}"))?
        })
    }
}

fn record_from_sqlite(r: &rusqlite::Row) -> rusqlite::Result<ShareRecord> {
    Ok(ShareRecord {
        id: r.get(0)?,
        runner_hash: r.get(1)?,
        read_hash: r.get(2)?,
        drive_hash: r.get(3)?,
        created: r.get::<_, i64>(4)? as u64,
        expires: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
        revoked: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        member: r.get(7)?,
    })
}

fn member_from_sqlite(r: &rusqlite::Row) -> rusqlite::Result<Member> {
    Ok(Member {
        id: r.get(0)?,
        name: r.get(1)?,
        token_hash: r.get(2)?,
        joined: r.get::<_, i64>(3)? as u64,
        revoked: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
    })
}

/// Whether an invite can be used now: its record's `expires` and `used`.
fn usable(expires: i64, used: Option<i64>, now: u64) -> Result<(), InviteRefused> {
    match used {
        Some(_) => Err(InviteRefused::Used),
        None if expires as u64 <= now => Err(InviteRefused::Expired),
        None => Ok(()),
    }
}

const SELECT_SHARE: &str =
    "SELECT id, runner_hash, read_hash, drive_hash, created, expires, revoked, member FROM shares";
const SELECT_MEMBER: &str = "SELECT id, name, token_hash, joined, revoked FROM members";
const INSERT_SHARE: &str = "INSERT INTO shares (id, runner_hash, read_hash, drive_hash, created, expires, revoked, member) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const INSERT_MEMBER: &str = "INSERT INTO members (id, name, token_hash, joined, revoked) VALUES ($1, $2, $3, $4, NULL)";
const INSERT_INVITE: &str =
    "INSERT INTO invites (code_hash, name, created, expires, used) VALUES ($1, $2, $3, $4, NULL)";
const REVOKE_SHARES_OF: &str = "UPDATE shares SET revoked = $2 WHERE member = $1 AND revoked IS NULL";
const REVOKE_MEMBER: &str = "UPDATE members SET revoked = $2 WHERE (id = $1 OR name = $1) AND revoked IS NULL RETURNING id, name, token_hash, joined, revoked";
const SELECT_AUDIT: &str = "SELECT ts, share, conn, who, role, event, detail FROM audit";

impl ShareStore for Sqlite {
    fn share(&self, id: &str) -> Fut<Option<ShareRecord>> {
        let id = id.to_string();
        self.with(move |db| {
            db.query_row(&format!("{SELECT_SHARE} WHERE id = ?1"), params![id], record_from_sqlite).optional()
        })
    }

    fn create(&self, s: &ShareRecord) -> Fut<()> {
        let s = s.clone();
        self.with(move |db| {
            db.execute(
                &INSERT_SHARE.replace('$', "?"),
                params![
                    s.id,
                    s.runner_hash,
                    s.read_hash,
                    s.drive_hash,
                    s.created as i64,
                    s.expires.map(|v| v as i64),
                    s.revoked.map(|v| v as i64),
                    s.member
                ],
            )
            .map(|_| ())
        })
    }

    fn revoke(&self, id: &str, at: u64) -> Fut<()> {
        let id = id.to_string();
        self.with(move |db| {
            db.execute("UPDATE shares SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL", params![id, at as i64])
                .map(|_| ())
        })
    }

    fn remove(&self, id: &str) -> Fut<()> {
        let id = id.to_string();
        self.with(move |db| db.execute("DELETE FROM shares WHERE id = ?1", params![id]).map(|_| ()))
    }

    fn remove_expired(&self, now: u64, longest: u64) -> Fut<Vec<String>> {
        self.with(move |db| {
            const WHERE: &str = "WHERE COALESCE(expires, created + ?2) <= ?1";
            let args = params![now as i64, longest as i64];
            let ids = {
                let mut stmt = db.prepare(&format!("SELECT id FROM shares {WHERE}"))?;
                let rows = stmt.query_map(args, |r| r.get::<_, String>(0))?;
                rows.collect::<Result<Vec<_>, _>>()?
            };
            db.execute(&format!("DELETE FROM shares {WHERE}"), args)?;
            Ok(ids)
        })
    }

    fn audit(&self, e: &AuditEvent) -> Fut<()> {
        let e = e.clone();
        self.with(move |db| {
            db.execute(
                "INSERT INTO audit (ts, share, conn, who, role, event, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.ts as i64, e.share, e.conn as i64, e.who, e.role, e.event, e.detail],
            )
            .map(|_| ())
        })
    }

    fn audit_log(&self, share: Option<&str>) -> Fut<Vec<AuditEvent>> {
        let share = share.map(str::to_string);
        self.with(move |db| {
            let mut stmt = db.prepare(&format!("{SELECT_AUDIT} WHERE ?1 IS NULL OR share = ?1 ORDER BY id"))?;
            let rows = stmt.query_map(params![share], |r| {
                Ok(AuditEvent {
                    ts: r.get::<_, i64>(0)? as u64,
                    share: r.get(1)?,
                    conn: r.get::<_, i64>(2)? as u64,
                    who: r.get(3)?,
                    role: r.get(4)?,
                    event: r.get(5)?,
                    detail: r.get(6)?,
                })
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        })
    }

    fn new_replica(&self) -> Fut<u32> {
        // A file has one server: nothing to keep apart.
        Box::pin(async { Ok(0) })
    }

    fn create_invite(&self, i: &Invite) -> Fut<()> {
        let i = i.clone();
        self.with(move |db| {
            db.execute(
                &INSERT_INVITE.replace('$', "?"),
                params![i.code_hash, i.name, i.created as i64, i.expires as i64],
            )
            .map(|_| ())
        })
    }

    fn redeem(&self, code_hash: &str, now: u64, m: &Member) -> Fut<Result<Member, InviteRefused>> {
        let (code_hash, m) = (code_hash.to_string(), m.clone());
        self.with(move |db| {
            let tx = db.unchecked_transaction()?;
            let invite = tx
                .query_row("SELECT name, expires, used FROM invites WHERE code_hash = ?1", params![code_hash], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<i64>>(2)?))
                })
                .optional()?;
            let Some((name, expires, used)) = invite else { return Ok(Err(InviteRefused::Unknown)) };
            if let Err(why) = usable(expires, used, now) {
                return Ok(Err(why));
            }
            tx.execute("UPDATE invites SET used = ?2 WHERE code_hash = ?1", params![code_hash, now as i64])?;
            let member = Member { name, joined: now, revoked: None, ..m };
            tx.execute(
                &INSERT_MEMBER.replace('$', "?"),
                params![member.id, member.name, member.token_hash, member.joined as i64],
            )?;
            tx.commit()?;
            Ok(Ok(member))
        })
    }

    fn member_by_token(&self, token_hash: &str) -> Fut<Option<Member>> {
        let token_hash = token_hash.to_string();
        self.with(move |db| {
            db.query_row(&format!("{SELECT_MEMBER} WHERE token_hash = ?1"), params![token_hash], member_from_sqlite)
                .optional()
        })
    }

    fn member(&self, id: &str) -> Fut<Option<Member>> {
        let id = id.to_string();
        self.with(move |db| {
            db.query_row(&format!("{SELECT_MEMBER} WHERE id = ?1"), params![id], member_from_sqlite).optional()
        })
    }

    fn members(&self) -> Fut<Vec<Member>> {
        self.with(move |db| {
            let mut stmt = db.prepare(&format!("{SELECT_MEMBER} ORDER BY joined, name"))?;
            let rows = stmt.query_map([], member_from_sqlite)?;
            rows.collect()
        })
    }

    fn revoke_member(&self, who: &str, at: u64) -> Fut<Vec<Member>> {
        let who = who.to_string();
        self.with(move |db| {
            let tx = db.unchecked_transaction()?;
            let gone: Vec<Member> = {
                let mut stmt = tx.prepare(&REVOKE_MEMBER.replace('$', "?"))?;
                let rows = stmt.query_map(params![who, at as i64], member_from_sqlite)?;
                rows.collect::<rusqlite::Result<_>>()?
            };
            for m in &gone {
                tx.execute(&REVOKE_SHARES_OF.replace('$', "?"), params![m.id, at as i64])?;
            }
            tx.commit()?;
            Ok(gone)
        })
    }
}

/// The records on PostgreSQL, shared by every replica. One connection, pipelined; made
/// again when it drops (a database restart costs the calls made while it was down).
#[derive(Clone)]
pub struct Postgres {
    inner: Arc<PgConnection>,
}

struct PgConnection {
    url: String,
    client: tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>,
}

fn pg_err(e: tokio_postgres::Error) -> String {
    // Its Display says only "db error"; the database's own words are in the source.
    match e.as_db_error() {
        Some(db) => format!("the share server's database: {}", db.message()),
        None => format!("the share server's database: {e}"),
    }
}

impl PgConnection {
    async fn client(&self) -> Result<Arc<tokio_postgres::Client>, String> {
        let mut held = self.client.lock().await;
        if let Some(c) = held.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let shown = redacted(&self.url);
        let connecting = tokio_postgres::connect(&self.url, tokio_postgres::NoTls);
        let (client, connection) = tokio::time::timeout(std::time::Duration::from_secs(10), connecting)
            .await
            .map_err(|_| format!("PostgreSQL at {shown} did not answer within 10 s"))?
            .map_err(|e| {
                let why = e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
                let tls = if why.contains("TLS") || why.contains("SSL") || self.url.contains("sslmode=require") {
                    " (teamster talks to PostgreSQL without TLS: reach it over loopback or a private network)"
                } else {
                    ""
                };
                format!("cannot connect to PostgreSQL at {shown}: {why}{tls}")
            })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!(
                    "[teamster serve] the connection to PostgreSQL ended: {}",
                    crate::text::visible(&e.to_string())
                );
            }
        });
        let client = Arc::new(client);
        *held = Some(client.clone());
        Ok(client)
    }
}

impl Postgres {
    pub async fn connect(url: &str) -> Result<Postgres, String> {
        let pg =
            Postgres { inner: Arc::new(PgConnection { url: url.to_string(), client: tokio::sync::Mutex::new(None) }) };
        let client = pg.inner.client().await?;
        migrate_postgres(&client).await?;
        Ok(pg)
    }

    /// The connection (made again if it dropped), for a call's future to own.
    fn conn(&self) -> Arc<PgConnection> {
        self.inner.clone()
    }

    /// Runs one statement that returns no rows, with parameters it owns.
    fn execute(&self, sql: &'static str, params: Vec<Box<dyn tokio_postgres::types::ToSql + Send + Sync>>) -> Fut<()> {
        let pg = self.conn();
        Box::pin(async move {
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                params.iter().map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
            pg.client().await?.execute(sql, &refs).await.map(|_| ()).map_err(pg_err)
        })
    }
}

impl ShareStore for Postgres {
    fn share(&self, id: &str) -> Fut<Option<ShareRecord>> {
        let (pg, id) = (self.conn(), id.to_string());
        Box::pin(async move {
            let row = pg.client().await?.query_opt(&format!("{SELECT_SHARE} WHERE id = $1"), &[&id]).await;
            Ok(row.map_err(pg_err)?.as_ref().map(record_from_pg))
        })
    }

    fn create(&self, s: &ShareRecord) -> Fut<()> {
        let s = s.clone();
        self.execute(
            INSERT_SHARE,
            vec![
                Box::new(s.id),
                Box::new(s.runner_hash),
                Box::new(s.read_hash),
                Box::new(s.drive_hash),
                Box::new(s.created as i64),
                Box::new(s.expires.map(|v| v as i64)),
                Box::new(s.revoked.map(|v| v as i64)),
                Box::new(s.member),
            ],
        )
    }

    fn revoke(&self, id: &str, at: u64) -> Fut<()> {
        let sql = "UPDATE shares SET revoked = $2 WHERE id = $1 AND revoked IS NULL";
        self.execute(sql, vec![Box::new(id.to_string()), Box::new(at as i64)])
    }

    fn remove(&self, id: &str) -> Fut<()> {
        self.execute("DELETE FROM shares WHERE id = $1", vec![Box::new(id.to_string())])
    }

    fn remove_expired(&self, now: u64, longest: u64) -> Fut<Vec<String>> {
        let pg = self.conn();
        Box::pin(async move {
            let sql = "DELETE FROM shares WHERE COALESCE(expires, created + $2) <= $1 RETURNING id";
            let rows = pg.client().await?.query(sql, &[&(now as i64), &(longest as i64)]).await.map_err(pg_err)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn audit(&self, e: &AuditEvent) -> Fut<()> {
        let e = e.clone();
        self.execute(
            "INSERT INTO audit (ts, share, conn, who, role, event, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                Box::new(e.ts as i64),
                Box::new(e.share),
                Box::new(e.conn as i64),
                Box::new(e.who),
                Box::new(e.role),
                Box::new(e.event),
                Box::new(e.detail),
            ],
        )
    }

    fn audit_log(&self, share: Option<&str>) -> Fut<Vec<AuditEvent>> {
        let (pg, share) = (self.conn(), share.map(str::to_string));
        Box::pin(async move {
            let sql = format!("{SELECT_AUDIT} WHERE $1::TEXT IS NULL OR share = $1 ORDER BY id");
            let rows = pg.client().await?.query(&sql, &[&share]).await.map_err(pg_err)?;
            Ok(rows
                .iter()
                .map(|r| AuditEvent {
                    ts: r.get::<_, i64>(0) as u64,
                    share: r.get(1),
                    conn: r.get::<_, i64>(2) as u64,
                    who: r.get(3),
                    role: r.get(4),
                    event: r.get(5),
                    detail: r.get(6),
                })
                .collect())
        })
    }

    fn new_replica(&self) -> Fut<u32> {
        let pg = self.conn();
        Box::pin(async move {
            let row = pg.client().await?.query_one("SELECT nextval('replicas')", &[]).await.map_err(pg_err)?;
            // Kept small: connection ids carry it, and a browser reads them as doubles.
            Ok((row.get::<_, i64>(0) % (1 << 20)) as u32 + 1)
        })
    }

    fn create_invite(&self, i: &Invite) -> Fut<()> {
        let i = i.clone();
        self.execute(
            INSERT_INVITE,
            vec![Box::new(i.code_hash), Box::new(i.name), Box::new(i.created as i64), Box::new(i.expires as i64)],
        )
    }

    fn redeem(&self, code_hash: &str, now: u64, m: &Member) -> Fut<Result<Member, InviteRefused>> {
        let (pg, code_hash, m) = (self.conn(), code_hash.to_string(), m.clone());
        Box::pin(async move {
            let client = pg.client().await?;
            // One statement spends the invite (only if it was not) and makes the member: two
            // redeeming at once, one wins, and an invite is never spent for nobody.
            let sql = "WITH spent AS (UPDATE invites SET used = $2 WHERE code_hash = $1 AND used IS NULL AND expires > $2 RETURNING name) \
                       INSERT INTO members (id, name, token_hash, joined, revoked) SELECT $3, name, $4, $2, NULL FROM spent RETURNING name";
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&code_hash, &(now as i64), &m.id, &m.token_hash];
            let taken = client.query_opt(sql, &params).await.map_err(pg_err)?;
            let Some(row) = taken else {
                let sql = "SELECT expires, used FROM invites WHERE code_hash = $1";
                let why = match client.query_opt(sql, &[&code_hash]).await.map_err(pg_err)? {
                    None => InviteRefused::Unknown,
                    Some(r) => usable(r.get(0), r.get(1), now).err().unwrap_or(InviteRefused::Used),
                };
                return Ok(Err(why));
            };
            Ok(Ok(Member { name: row.get(0), joined: now, revoked: None, ..m }))
        })
    }

    fn member_by_token(&self, token_hash: &str) -> Fut<Option<Member>> {
        self.member_where("token_hash", token_hash)
    }

    fn member(&self, id: &str) -> Fut<Option<Member>> {
        self.member_where("id", id)
    }

    fn members(&self) -> Fut<Vec<Member>> {
        let pg = self.conn();
        Box::pin(async move {
            let sql = format!("{SELECT_MEMBER} ORDER BY joined, name");
            let rows = pg.client().await?.query(&sql, &[]).await.map_err(pg_err)?;
            Ok(rows.iter().map(member_from_pg).collect())
        })
    }

    fn revoke_member(&self, who: &str, at: u64) -> Fut<Vec<Member>> {
        let (pg, who) = (self.conn(), who.to_string());
        Box::pin(async move {
            let client = pg.client().await?;
            let rows = client.query(REVOKE_MEMBER, &[&who, &(at as i64)]).await.map_err(pg_err)?;
            let gone: Vec<Member> = rows.iter().map(member_from_pg).collect();
            for m in &gone {
                client.execute(REVOKE_SHARES_OF, &[&m.id, &(at as i64)]).await.map_err(pg_err)?;
            }
            Ok(gone)
        })
    }
}

impl Postgres {
    fn member_where(&self, column: &'static str, value: &str) -> Fut<Option<Member>> {
        let (pg, value) = (self.conn(), value.to_string());
        Box::pin(async move {
            let sql = format!("{SELECT_MEMBER} WHERE {column} = $1");
            let row = pg.client().await?.query_opt(&sql, &[&value]).await.map_err(pg_err)?;
            Ok(row.as_ref().map(member_from_pg))
        })
    }
}

fn member_from_pg(r: &tokio_postgres::Row) -> Member {
    Member {
        id: r.get(0),
        name: r.get(1),
        token_hash: r.get(2),
        joined: r.get::<_, i64>(3) as u64,
        revoked: r.get::<_, Option<i64>>(4).map(|v| v as u64),
    }
}

/// Brings PostgreSQL's schema up to date, one transaction under a lock, so replicas that
/// start together apply each step once.
async fn migrate_postgres(client: &tokio_postgres::Client) -> Result<(), String> {
    // Under the lock from the first statement: even CREATE ... IF NOT EXISTS races with
    // itself in PostgreSQL.
    client.batch_execute("BEGIN; SELECT pg_advisory_xact_lock(7466786)").await.map_err(pg_err)?;
    let done = async {
        client
            .batch_execute("CREATE TABLE IF NOT EXISTS teamster_schema (version INTEGER PRIMARY KEY, applied BIGINT NOT NULL)")
            .await
            .map_err(pg_err)?;
        let row = client.query_one("SELECT COALESCE(MAX(version), 0) FROM teamster_schema", &[]).await.map_err(pg_err)?;
        let version = row.get::<_, i32>(0) as usize;
        if version > MIGRATIONS.len() {
            return Err(format!(
                "the database was brought to schema version {version} by a newer teamster (this one knows {}): upgrade teamster",
                MIGRATIONS.len()
            ));
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
            let extra = POSTGRES_EXTRA.get(i).copied().unwrap_or("");
            client.batch_execute(&format!("{step} {extra}")).await.map_err(pg_err)?;
            client
                .execute(
                    "INSERT INTO teamster_schema (version, applied) VALUES ($1, EXTRACT(EPOCH FROM now())::BIGINT)",
                    &[&((i + 1) as i32)],
                )
                .await
                .map_err(pg_err)?;
        }
        Ok(())
    }
    .await;
    let end = if done.is_ok() { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(end).await.map_err(pg_err)?;
    done
}

fn record_from_pg(r: &tokio_postgres::Row) -> ShareRecord {
    ShareRecord {
        id: r.get(0),
        runner_hash: r.get(1),
        read_hash: r.get(2),
        drive_hash: r.get(3),
        created: r.get::<_, i64>(4) as u64,
        expires: r.get::<_, Option<i64>>(5).map(|v| v as u64),
        revoked: r.get::<_, Option<i64>>(6).map(|v| v as u64),
        member: r.get(7),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same calls against a store, whichever it is.
    async fn shares_and_audit(db: &dyn ShareStore, prefix: &str) {
        let id = |s: &str| format!("{prefix}{s}");
        let rec = ShareRecord { expires: Some(9), ..record(&id("s")) };
        db.create(&rec).await.unwrap();
        assert!(db.create(&rec).await.is_err(), "an id is taken once");
        let event = AuditEvent {
            ts: 2,
            share: id("s"),
            conn: 1 << 40,
            who: "ann".into(),
            role: "viewer".into(),
            event: "joined".into(),
            detail: String::new(),
        };
        db.audit(&event).await.unwrap();
        db.audit(&AuditEvent { who: "bob".into(), ..event.clone() }).await.unwrap();
        db.revoke(&id("s"), 5).await.unwrap();
        assert_eq!(db.share(&id("s")).await.unwrap().unwrap().revoked, Some(5));
        let log = db.audit_log(Some(&id("s"))).await.unwrap();
        assert_eq!(log.iter().map(|e| e.who.as_str()).collect::<Vec<_>>(), ["ann", "bob"], "in order");
        assert_eq!(log[0], event);
        assert_eq!(db.share(&id("nope")).await.unwrap(), None);
        db.create(&ShareRecord { id: id("t"), expires: Some(200), ..rec.clone() }).await.unwrap();
        db.create(&ShareRecord { id: id("u"), expires: None, created: 5, ..rec.clone() }).await.unwrap();
        let gone = |v: Vec<String>| v.into_iter().filter(|s| s.starts_with(prefix)).collect::<Vec<_>>();
        assert_eq!(gone(db.remove_expired(10, 100).await.unwrap()), vec![id("s")]);
        assert_eq!(gone(db.remove_expired(106, 100).await.unwrap()), vec![id("u")], "kept without an expiry");
        assert_eq!(db.share(&id("s")).await.unwrap(), None);
        db.remove(&id("t")).await.unwrap();
        assert_eq!(db.share(&id("t")).await.unwrap(), None);

        // An invite is used once, by the person it names; then their token lets them in
        // until they are revoked.
        let invite = Invite { code_hash: id("code"), name: "ann".into(), created: 1, expires: 100 };
        db.create_invite(&invite).await.unwrap();
        db.create_invite(&Invite { code_hash: id("old"), expires: 10, ..invite.clone() }).await.unwrap();
        let m = Member { id: id("m1"), name: String::new(), token_hash: id("tok"), joined: 0, revoked: None };
        let joined = db.redeem(&id("code"), 50, &m).await.unwrap().unwrap();
        assert_eq!((joined.name.as_str(), joined.joined), ("ann", 50));
        let again = Member { id: id("m2"), token_hash: id("tok2"), ..m.clone() };
        assert_eq!(db.redeem(&id("code"), 51, &again).await.unwrap(), Err(InviteRefused::Used));
        assert_eq!(db.redeem(&id("old"), 51, &again).await.unwrap(), Err(InviteRefused::Expired));
        assert_eq!(db.redeem(&id("none"), 51, &again).await.unwrap(), Err(InviteRefused::Unknown));
        assert_eq!(db.member_by_token(&id("tok")).await.unwrap(), Some(joined.clone()));
        assert_eq!(db.member_by_token(&id("tok2")).await.unwrap(), None, "a refused invite makes no member");
        assert!(db.members().await.unwrap().contains(&joined));
        assert_eq!(db.revoke_member(&id("m1"), 60).await.unwrap().len(), 1);
        assert_eq!(db.revoke_member(&id("m1"), 61).await.unwrap().len(), 0, "revoked once");
        assert_eq!(db.member(&id("m1")).await.unwrap().and_then(|m| m.revoked), Some(60));
    }

    /// A share record made on second 1, lasting for ever, its hashes `a` and `b`.
    fn record(id: &str) -> ShareRecord {
        ShareRecord {
            id: id.into(),
            runner_hash: "a".into(),
            read_hash: "b".into(),
            drive_hash: None,
            created: 1,
            expires: None,
            revoked: None,
            member: None,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn sqlite_keeps_shares_and_audit_across_reopening_and_is_migrated_once() {
        let dir = std::env::temp_dir().join(format!("teamster-share-store-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("server.db");
        let _ = std::fs::remove_file(&path);
        runtime().block_on(async {
            let db = Sqlite::open(&path).unwrap();
            shares_and_audit(&db, "").await;
            db.create(&ShareRecord { member: Some("m".into()), ..record("kept") }).await.unwrap();
            drop(db);
            let again = Sqlite::open(&path).unwrap();
            assert!(again.share("kept").await.unwrap().is_some(), "reopened, migrated again: nothing lost");
            assert_eq!(again.new_replica().await.unwrap(), 0);
        });
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        let err = Sqlite::open(&path).err().unwrap();
        assert!(err.contains("newer teamster"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Against a real PostgreSQL when the test run started one (`./scripts/test` does, and
    /// names it in TEAMSTER_TEST_DATABASE); said and skipped otherwise.
    #[test]
    fn postgres_keeps_the_same_records_for_every_replica() {
        let Ok(url) = std::env::var("TEAMSTER_TEST_DATABASE") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs every test: ./scripts/test names its PostgreSQL in TEAMSTER_TEST_DATABASE"
            );
            eprintln!("skipped: TEAMSTER_TEST_DATABASE names no PostgreSQL (./scripts/test starts one)");
            return;
        };
        runtime().block_on(async {
            let prefix = format!(
                "store-test-{}-{}-",
                std::process::id(),
                crate::share::crypto::b64(&crate::share::crypto::random::<6>().unwrap())
            );
            // Two replicas starting together: both migrate, each step applied once.
            let (a, b) = tokio::join!(Postgres::connect(&url), Postgres::connect(&url));
            let (a, b) = (a.unwrap(), b.unwrap());
            shares_and_audit(&a, &prefix).await;
            let rec = record(&format!("{prefix}seen"));
            a.create(&rec).await.unwrap();
            assert_eq!(b.share(&rec.id).await.unwrap(), Some(rec.clone()), "one replica's record is every replica's");
            let (ra, rb) = (a.new_replica().await.unwrap(), b.new_replica().await.unwrap());
            assert_ne!(ra, rb, "replicas are numbered apart");
            a.remove(&rec.id).await.unwrap();
        });
        let err = runtime().block_on(Postgres::connect("postgres://nobody:secret@127.0.0.1:1/none")).err().unwrap();
        assert!(err.contains("cannot connect to PostgreSQL") && !err.contains("secret"), "{err}");
    }
}
