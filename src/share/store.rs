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
const MIGRATIONS: &[&str] = &["
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY, runner_hash TEXT NOT NULL, read_hash TEXT NOT NULL, drive_hash TEXT,
    created BIGINT NOT NULL, expires BIGINT, revoked BIGINT);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts BIGINT NOT NULL, share TEXT NOT NULL, conn BIGINT NOT NULL,
    who TEXT NOT NULL, role TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_share ON audit(share);
"];

/// What PostgreSQL needs beside `MIGRATIONS`, by the same version: its audit ids come from
/// a sequence (SQLite's INTEGER PRIMARY KEY numbers rows itself), and replicas are numbered.
const POSTGRES_EXTRA: &[&str] = &["
CREATE SEQUENCE IF NOT EXISTS audit_ids OWNED BY audit.id;
ALTER TABLE audit ALTER COLUMN id SET DEFAULT nextval('audit_ids');
CREATE SEQUENCE IF NOT EXISTS replicas;
"];

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
    })
}

const SELECT_SHARE: &str = "SELECT id, runner_hash, read_hash, drive_hash, created, expires, revoked FROM shares";
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
                "INSERT INTO shares (id, runner_hash, read_hash, drive_hash, created, expires, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    s.id,
                    s.runner_hash,
                    s.read_hash,
                    s.drive_hash,
                    s.created as i64,
                    s.expires.map(|v| v as i64),
                    s.revoked.map(|v| v as i64)
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
            "INSERT INTO shares (id, runner_hash, read_hash, drive_hash, created, expires, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            vec![
                Box::new(s.id),
                Box::new(s.runner_hash),
                Box::new(s.read_hash),
                Box::new(s.drive_hash),
                Box::new(s.created as i64),
                Box::new(s.expires.map(|v| v as i64)),
                Box::new(s.revoked.map(|v| v as i64)),
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same calls against a store, whichever it is.
    async fn shares_and_audit(db: &dyn ShareStore, prefix: &str) {
        let id = |s: &str| format!("{prefix}{s}");
        let rec = ShareRecord {
            id: id("s"),
            runner_hash: "a".into(),
            read_hash: "b".into(),
            drive_hash: None,
            created: 1,
            expires: Some(9),
            revoked: None,
        };
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
            db.create(&ShareRecord {
                id: "kept".into(),
                runner_hash: "a".into(),
                read_hash: "b".into(),
                drive_hash: None,
                created: 1,
                expires: None,
                revoked: None,
            })
            .await
            .unwrap();
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
            let rec = ShareRecord {
                id: format!("{prefix}seen"),
                runner_hash: "a".into(),
                read_hash: "b".into(),
                drive_hash: None,
                created: 1,
                expires: None,
                revoked: None,
            };
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
