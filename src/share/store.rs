//! What the share server keeps on disk: the shares (hashes of their tokens, never the
//! tokens or the session key) and an audit of who joined, typed and approved. One small
//! interface, so a team that outgrows SQLite can put PostgreSQL behind it.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

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

pub trait ShareStore: Send {
    fn share(&self, id: &str) -> Result<Option<ShareRecord>, String>;
    fn create(&self, share: &ShareRecord) -> Result<(), String>;
    fn revoke(&self, id: &str, at: u64) -> Result<(), String>;
    /// Forgets a share (it expired): its link no longer opens anything.
    fn remove(&self, id: &str) -> Result<(), String>;
    /// Forgets every share whose expiry is at or before `now` (one kept without an expiry
    /// lasts `longest` seconds from its creation); returns their ids.
    fn remove_expired(&self, now: u64, longest: u64) -> Result<Vec<String>, String>;
    fn audit(&self, event: &AuditEvent) -> Result<(), String>;
    fn audit_log(&self, share: Option<&str>) -> Result<Vec<AuditEvent>, String>;
}

pub struct Sqlite {
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY, runner_hash TEXT NOT NULL, read_hash TEXT NOT NULL, drive_hash TEXT,
    created INTEGER NOT NULL, expires INTEGER, revoked INTEGER);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, share TEXT NOT NULL, conn INTEGER NOT NULL,
    who TEXT NOT NULL, role TEXT NOT NULL, event TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_share ON audit(share);
";

fn err(e: rusqlite::Error) -> String {
    format!("the share server's database: {e}")
}

impl Sqlite {
    pub fn open(path: &Path) -> Result<Sqlite, String> {
        let db = Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;").map_err(err)?;
        db.execute_batch(SCHEMA).map_err(err)?;
        Ok(Sqlite { db })
    }
}

impl ShareStore for Sqlite {
    fn share(&self, id: &str) -> Result<Option<ShareRecord>, String> {
        self.db
            .query_row(
                "SELECT id, runner_hash, read_hash, drive_hash, created, expires, revoked FROM shares WHERE id = ?1",
                params![id],
                |r| {
                    Ok(ShareRecord {
                        id: r.get(0)?,
                        runner_hash: r.get(1)?,
                        read_hash: r.get(2)?,
                        drive_hash: r.get(3)?,
                        created: r.get::<_, i64>(4)? as u64,
                        expires: r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
                        revoked: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
                    })
                },
            )
            .optional()
            .map_err(err)
    }

    fn create(&self, s: &ShareRecord) -> Result<(), String> {
        self.db
            .execute(
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
            .map_err(err)
    }

    fn revoke(&self, id: &str, at: u64) -> Result<(), String> {
        self.db
            .execute("UPDATE shares SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL", params![id, at as i64])
            .map(|_| ())
            .map_err(err)
    }

    fn remove(&self, id: &str) -> Result<(), String> {
        self.db.execute("DELETE FROM shares WHERE id = ?1", params![id]).map(|_| ()).map_err(err)
    }

    fn remove_expired(&self, now: u64, longest: u64) -> Result<Vec<String>, String> {
        const WHERE: &str = "WHERE COALESCE(expires, created + ?2) <= ?1";
        let args = params![now as i64, longest as i64];
        let ids = {
            let mut stmt = self.db.prepare(&format!("SELECT id FROM shares {WHERE}")).map_err(err)?;
            let rows = stmt.query_map(args, |r| r.get::<_, String>(0)).map_err(err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(err)?
        };
        self.db.execute(&format!("DELETE FROM shares {WHERE}"), args).map_err(err)?;
        Ok(ids)
    }

    fn audit(&self, e: &AuditEvent) -> Result<(), String> {
        self.db
            .execute(
                "INSERT INTO audit (ts, share, conn, who, role, event, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.ts as i64, e.share, e.conn as i64, e.who, e.role, e.event, e.detail],
            )
            .map(|_| ())
            .map_err(err)
    }

    fn audit_log(&self, share: Option<&str>) -> Result<Vec<AuditEvent>, String> {
        let mut stmt = self
            .db
            .prepare(
                "SELECT ts, share, conn, who, role, event, detail FROM audit WHERE ?1 IS NULL OR share = ?1 ORDER BY id",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![share], |r| {
                Ok(AuditEvent {
                    ts: r.get::<_, i64>(0)? as u64,
                    share: r.get(1)?,
                    conn: r.get::<_, i64>(2)? as u64,
                    who: r.get(3)?,
                    role: r.get(4)?,
                    event: r.get(5)?,
                    detail: r.get(6)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_audit_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("teamster-share-store-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("server.db");
        let _ = std::fs::remove_file(&path);
        let rec = ShareRecord {
            id: "s".into(),
            runner_hash: "a".into(),
            read_hash: "b".into(),
            drive_hash: None,
            created: 1,
            expires: Some(9),
            revoked: None,
        };
        {
            let db = Sqlite::open(&path).unwrap();
            db.create(&rec).unwrap();
            assert!(db.create(&rec).is_err(), "an id is taken once");
            db.audit(&AuditEvent {
                ts: 2,
                share: "s".into(),
                conn: 1,
                who: "ann".into(),
                role: "viewer".into(),
                event: "joined".into(),
                detail: String::new(),
            })
            .unwrap();
            db.revoke("s", 5).unwrap();
        }
        let db = Sqlite::open(&path).unwrap();
        assert_eq!(db.share("s").unwrap().unwrap().revoked, Some(5));
        assert_eq!(db.audit_log(Some("s")).unwrap()[0].who, "ann");
        assert_eq!(db.share("nope").unwrap(), None);
        db.create(&ShareRecord { id: "t".into(), expires: Some(200), ..rec.clone() }).unwrap();
        db.create(&ShareRecord { id: "u".into(), expires: None, created: 5, ..rec.clone() }).unwrap();
        assert_eq!(db.remove_expired(10, 100).unwrap(), vec!["s".to_string()]);
        assert_eq!(db.remove_expired(106, 100).unwrap(), vec!["u".to_string()], "kept without an expiry");
        assert_eq!(db.share("s").unwrap(), None);
        db.remove("t").unwrap();
        assert_eq!(db.share("t").unwrap(), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
