//! The state database (`$XDG_STATE_HOME/teamster/teamster.db`, SQLite in WAL mode): spend
//! as it happens, every decision on an action and who made it, the "always allow"s people
//! chose, and policy marks. Written before the runner answers, so it survives restarts.

use crate::meter::prices::Priced;
use crate::policy::{Allowance, Mark, Marks, Scope};
use crate::protocol::{CostReport, CostRow};
use rusqlite::{Connection, params};
use std::path::Path;

pub struct Store {
    db: Connection,
}

/// One model call, as metered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpendRecord {
    pub ts: u64,
    /// The session's stable key (spend and marks are kept under it), and its name.
    pub session: String,
    pub session_name: String,
    /// The pane's stable key (it survives restarts), and the agent's name.
    pub pane: String,
    pub agent: String,
    /// The pane as people name it when the call was made: `work:1.2 reviewer`.
    pub pane_label: String,
    pub provider: String,
    pub model: Option<String>,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub cost: f64,
    pub priced: Priced,
    pub note: Option<String>,
}

/// One decision on an action, for the audit log.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRecord {
    pub ts: u64,
    pub session: String,
    pub pane: String,
    /// Where the pane was when it was decided (`SESSION:TAB.PANE`), as every command
    /// names panes; empty for what concerns no pane.
    pub place: String,
    pub agent: String,
    pub kind: crate::approval::ActionKind,
    pub what: String,
    pub verdict: crate::approval::Verdict,
    pub by: crate::approval::DecidedBy,
    pub rule: Option<String>,
    pub reason: Option<String>,
}

/// The burn rate is the spend of the last ten minutes, per hour.
pub const BURN_WINDOW: u64 = 600;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spend (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, day TEXT NOT NULL, session TEXT NOT NULL, session_name TEXT NOT NULL, pane TEXT NOT NULL,
    agent TEXT NOT NULL, provider TEXT NOT NULL, model TEXT,
    input INTEGER NOT NULL, output INTEGER NOT NULL, cache_read INTEGER NOT NULL, cache_write INTEGER NOT NULL,
    cost REAL NOT NULL, priced TEXT NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS spend_session ON spend(session);
CREATE INDEX IF NOT EXISTS spend_day ON spend(day);
CREATE INDEX IF NOT EXISTS spend_ts ON spend(ts);
CREATE INDEX IF NOT EXISTS spend_pane ON spend(pane, id);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, session TEXT NOT NULL, pane TEXT NOT NULL, agent TEXT NOT NULL,
    kind TEXT NOT NULL, what TEXT NOT NULL, verdict TEXT NOT NULL, by TEXT NOT NULL, rule TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts);
CREATE TABLE IF NOT EXISTS allowances (
    id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, scope TEXT NOT NULL, scope_value TEXT NOT NULL,
    tool TEXT NOT NULL, what TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS marks (
    session TEXT NOT NULL, name TEXT NOT NULL, spend REAL NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (session, name));
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// Adds a text column (empty in the rows there are) to a table that lacks it.
fn add_column(db: &Connection, table: &str, column: &str) -> Result<(), String> {
    let query = format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1");
    let has = db.prepare(&query).and_then(|mut q| q.exists([column])).map_err(sql)?;
    if !has {
        db.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")).map_err(sql)?;
    }
    Ok(())
}

/// A Unix time in the user's time zone.
fn local(ts: u64) -> Option<libc::tm> {
    let t = ts as libc::time_t;
    // SAFETY: localtime_r writes only the struct we give it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    (!unsafe { libc::localtime_r(&t, &mut tm) }.is_null()).then_some(tm)
}

/// The local calendar day of a Unix time, `YYYY-MM-DD`: budgets and reports go by the
/// user's day, not UTC's.
pub fn local_day(ts: u64) -> String {
    let Some(tm) = local(ts) else { return "1970-01-01".into() };
    format!("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday)
}

/// A Unix time as the local date and time, `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(ts: u64) -> String {
    let Some(tm) = local(ts) else { return ts.to_string() };
    format!("{} {:02}:{:02}:{:02}", local_day(ts), tm.tm_hour, tm.tm_min, tm.tm_sec)
}

fn sql(e: rusqlite::Error) -> String {
    format!("the state database: {e}")
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let db = Connection::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // The audit of what agents ran is yours alone (SQLite gives its journal files the
        // same permissions).
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| format!("cannot make {} private: {e}", path.display()))?;
        }
        Store::init(db).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn in_memory() -> Store {
        Store::init(Connection::open_in_memory().unwrap_or_else(|e| panic!("SQLite in memory: {e}")))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn init(db: Connection) -> Result<Store, String> {
        // WAL: readers (`teamster cost`) never wait on the runner. NORMAL: a commit is in
        // the log before the runner answers; only a power cut can lose the last ones.
        db.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        db.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        db.busy_timeout(std::time::Duration::from_secs(5)).map_err(sql)?;
        db.execute_batch(SCHEMA).map_err(sql)?;
        // Added after the first release: a database written before lacks them.
        add_column(&db, "decisions", "place")?;
        add_column(&db, "spend", "pane_label")?;
        Ok(Store { db })
    }

    /// The next number of a counter that lasts across restarts (approval ids: a person
    /// who saw 7 in the sidebar never approves another action 7 after a restart).
    pub fn next_number(&self, counter: &str) -> Result<u64, String> {
        self.db
            .query_row(
                "INSERT INTO counters (name, value) VALUES (?1, 1)
                 ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value",
                [counter],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v as u64)
            .map_err(sql)
    }

    pub fn add_spend(&self, r: &SpendRecord) -> Result<(), String> {
        self.db
            .execute(
                "INSERT INTO spend (ts, day, session, session_name, pane, agent, provider, model, input, output, cache_read, cache_write, cost, priced, note, pane_label)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    r.ts as i64,
                    local_day(r.ts),
                    r.session,
                    r.session_name,
                    r.pane,
                    r.agent,
                    r.provider,
                    r.model,
                    r.input as i64,
                    r.output as i64,
                    r.cache_read as i64,
                    r.cache_write as i64,
                    r.cost,
                    r.priced.word(),
                    r.note,
                    r.pane_label
                ],
            )
            .map(|_| ())
            .map_err(sql)
    }

    fn sum(&self, clause: &str, value: &str) -> f64 {
        let query = format!("SELECT COALESCE(SUM(cost), 0) FROM spend WHERE {clause} = ?1");
        self.db.query_row(&query, [value], |row| row.get(0)).unwrap_or(0.0)
    }

    pub fn session_spend(&self, session: &str) -> f64 {
        self.sum("session", session)
    }

    pub fn pane_spend(&self, pane: &str) -> (f64, bool) {
        let unknown: i64 = self
            .db
            .query_row("SELECT COUNT(*) FROM spend WHERE pane = ?1 AND priced = 'unknown'", [pane], |r| r.get(0))
            .unwrap_or(0);
        (self.sum("pane", pane), unknown > 0)
    }

    /// Tokens a pane's model calls used, all kinds (input, output, cache).
    pub fn pane_tokens(&self, pane: &str) -> u64 {
        let query = "SELECT COALESCE(SUM(input + output + cache_read + cache_write), 0) FROM spend WHERE pane = ?1";
        self.db.query_row(query, [pane], |row| row.get::<_, i64>(0)).map_or(0, |n| n.max(0) as u64)
    }

    pub fn day_spend(&self, day: &str) -> f64 {
        self.sum("day", day)
    }

    /// Spend by agent, model, day and session, and the total: `teamster cost`; of every
    /// session, or of those named `session`.
    pub fn report(&self, session: Option<&str>) -> Result<CostReport, String> {
        // Rows named by `label`, one for each value of `group`.
        let by_as = |label: &str, group: &str| -> Result<Vec<CostRow>, String> {
            let (filter, args): (&str, Vec<&str>) = match session {
                Some(s) => ("WHERE session_name = ?1", vec![s]),
                None => ("", vec![]),
            };
            let query = format!(
                "SELECT {label}, SUM(input), SUM(output), SUM(cache_read), SUM(cache_write), SUM(cost), COUNT(*),
                        SUM(priced = 'fallback'), SUM(priced = 'unknown')
                 FROM spend {filter} GROUP BY {group} ORDER BY SUM(cost) DESC"
            );
            let mut stmt = self.db.prepare(&query).map_err(sql)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args), |r| {
                    Ok(CostRow {
                        key: r.get::<_, Option<String>>(0)?.unwrap_or_else(|| "(unknown)".into()),
                        input: r.get::<_, i64>(1)? as u64,
                        output: r.get::<_, i64>(2)? as u64,
                        cache_read: r.get::<_, i64>(3)? as u64,
                        cache_write: r.get::<_, i64>(4)? as u64,
                        cost: r.get(5)?,
                        calls: r.get::<_, i64>(6)? as u64,
                        estimated: r.get::<_, i64>(7)? as u64,
                        unknown: r.get::<_, i64>(8)? as u64,
                    })
                })
                .map_err(sql)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(sql)
        };
        let by = |column: &str| by_as(column, column);
        let mut total = CostRow { key: "total".into(), ..CostRow::default() };
        let by_agent = by("agent")?;
        for r in &by_agent {
            total.input += r.input;
            total.output += r.output;
            total.cache_read += r.cache_read;
            total.cache_write += r.cache_write;
            total.cost += r.cost;
            total.calls += r.calls;
            total.estimated += r.estimated;
            total.unknown += r.unknown;
        }
        let mut by_day = by("day")?;
        by_day.sort_by(|a, b| b.key.cmp(&a.key));
        // By pane: each pane (its stable key) under the name it had at its latest call.
        let by_pane = by_as(
            "COALESCE((SELECT l.pane_label FROM spend l WHERE l.pane = spend.pane AND l.pane_label != '' ORDER BY l.id DESC LIMIT 1), agent)",
            "pane",
        )?;
        let burn_per_hour = self.burn_per_hour(session, crate::runner::now_secs());
        Ok(CostReport {
            by_agent,
            by_model: by("model")?,
            by_day,
            by_session: by("session_name")?,
            by_pane,
            total,
            burn_per_hour,
        })
    }

    /// Dollars an hour, at the rate of the last `BURN_WINDOW` seconds before `now`.
    pub fn burn_per_hour(&self, session: Option<&str>, now: u64) -> f64 {
        let since = now.saturating_sub(BURN_WINDOW) as i64;
        let spent: f64 = match session {
            Some(s) => self.db.query_row(
                "SELECT COALESCE(SUM(cost), 0) FROM spend WHERE ts > ?1 AND session_name = ?2",
                params![since, s],
                |r| r.get(0),
            ),
            None => self.db.query_row("SELECT COALESCE(SUM(cost), 0) FROM spend WHERE ts > ?1", [since], |r| r.get(0)),
        }
        .unwrap_or(0.0);
        spent * 3600.0 / BURN_WINDOW as f64
    }

    pub fn add_decision(&self, d: &DecisionRecord) -> Result<i64, String> {
        self.db
            .execute(
                "INSERT INTO decisions (ts, session, pane, agent, kind, what, verdict, by, rule, reason, place)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    d.ts as i64,
                    d.session,
                    d.pane,
                    d.agent,
                    d.kind.word(),
                    d.what,
                    d.verdict.to_string(),
                    d.by.to_string(),
                    d.rule,
                    d.reason,
                    d.place
                ],
            )
            .map_err(sql)?;
        Ok(self.db.last_insert_rowid())
    }

    /// The last `n` decisions, newest first.
    pub fn decisions(&self, n: usize) -> Result<Vec<DecisionRecord>, String> {
        let mut stmt = self
            .db
            .prepare("SELECT ts, session, pane, agent, kind, what, verdict, by, rule, reason, place FROM decisions ORDER BY ts DESC, id DESC LIMIT ?1")
            .map_err(sql)?;
        let rows = stmt
            .query_map([n as i64], |r| {
                Ok(DecisionRecord {
                    ts: r.get::<_, i64>(0)? as u64,
                    session: r.get(1)?,
                    pane: r.get(2)?,
                    agent: r.get(3)?,
                    kind: crate::approval::ActionKind::from(r.get::<_, String>(4)?),
                    what: r.get(5)?,
                    verdict: crate::approval::Verdict::from(r.get::<_, String>(6)?),
                    by: crate::approval::DecidedBy::from(r.get::<_, String>(7)?),
                    rule: r.get(8)?,
                    reason: r.get(9)?,
                    place: r.get(10)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql)
    }

    pub fn add_allowance(&self, scope: &Scope, tool: &str, what: &str, ts: u64) -> Result<i64, String> {
        let (kind, value) = match scope {
            Scope::Session(s) => ("session", s.clone()),
            Scope::Workspace(w) => ("workspace", w.to_string_lossy().into_owned()),
            Scope::Everywhere => ("everywhere", String::new()),
        };
        self.db
            .execute(
                "INSERT INTO allowances (ts, scope, scope_value, tool, what) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![ts as i64, kind, value, tool, what],
            )
            .map_err(sql)?;
        Ok(self.db.last_insert_rowid())
    }

    pub fn allowances(&self) -> Vec<Allowance> {
        let Ok(mut stmt) = self.db.prepare("SELECT id, scope, scope_value, tool, what FROM allowances ORDER BY id")
        else {
            return Vec::new();
        };
        let rows = stmt.query_map([], |r| {
            let scope = match r.get::<_, String>(1)?.as_str() {
                "session" => Scope::Session(r.get(2)?),
                "workspace" => Scope::Workspace(r.get::<_, String>(2)?.into()),
                _ => Scope::Everywhere,
            };
            Ok(Allowance { id: r.get(0)?, scope, tool: r.get(3)?, what: r.get(4)? })
        });
        rows.map(|rows| rows.flatten().collect()).unwrap_or_default()
    }

    pub fn remove_allowance(&self, id: i64) -> Result<bool, String> {
        self.db.execute("DELETE FROM allowances WHERE id = ?1", [id]).map(|n| n > 0).map_err(sql)
    }

    pub fn marks(&self, session: &str) -> Marks {
        let Ok(mut stmt) = self.db.prepare("SELECT name, spend, ts FROM marks WHERE session = ?1") else {
            return Marks::new();
        };
        let rows = stmt.query_map([session], |r| {
            Ok((r.get::<_, String>(0)?, Mark { spend: r.get(1)?, at: r.get::<_, i64>(2)? as u64 }))
        });
        rows.map(|rows| rows.flatten().collect()).unwrap_or_default()
    }

    pub fn set_mark(&self, session: &str, name: &str, mark: &Mark) -> Result<(), String> {
        self.db
            .execute(
                "INSERT INTO marks (session, name, spend, ts) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (session, name) DO UPDATE SET spend = excluded.spend, ts = excluded.ts",
                params![session, name, mark.spend, mark.at as i64],
            )
            .map(|_| ())
            .map_err(sql)
    }

    pub fn clear_mark(&self, session: &str, name: &str) -> Result<(), String> {
        self.db.execute("DELETE FROM marks WHERE session = ?1 AND name = ?2", [session, name]).map(|_| ()).map_err(sql)
    }

    /// Forgets a session that ended for good: its marks (its spend stays, for reports).
    pub fn end_session(&self, session: &str) {
        let _ = self.db.execute("DELETE FROM marks WHERE session = ?1", [session]);
    }
}

/// The state database's one owner: a thread of its own, so no SQLite call runs on the
/// runner's thread or under its state lock. A write is sent and not waited for; a read
/// waits for its answer, which comes after every write sent before it (a report sees the
/// spend just recorded).
#[derive(Clone)]
pub struct Db {
    jobs: std::sync::mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce(&mut Store) + Send>;

impl Db {
    pub fn start(store: Store) -> Db {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new().name("state-db".into()).spawn(move || {
            let mut store = store;
            for job in queue {
                job(&mut store);
            }
        });
        if let Err(e) = spawned {
            super::log(&format!("no thread for the state database ({e}): nothing is recorded"));
        }
        Db { jobs }
    }

    /// Changes the database, in the order sent; failures go to the runner's log.
    pub fn write(&self, job: impl FnOnce(&mut Store) -> Result<(), String> + Send + 'static) {
        let _ = self.jobs.send(Box::new(move |store| {
            if let Err(e) = job(store) {
                super::log(&format!("state database: {e}"));
            }
        }));
    }

    /// Asks the database, after every write sent before; `None` if its thread is gone.
    pub fn read<R: Send + 'static>(&self, job: impl FnOnce(&mut Store) -> R + Send + 'static) -> Option<R> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        let sent = self.jobs.send(Box::new(move |store| {
            let _ = answer.send(job(store));
        }));
        sent.ok().and_then(|()| answered.recv().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(session: &str, pane: &str, agent: &str, model: &str, cost: f64, priced: &str) -> SpendRecord {
        SpendRecord {
            ts: 1_800_000_000,
            session: format!("key-{session}"),
            session_name: session.into(),
            pane: pane.into(),
            agent: agent.into(),
            pane_label: format!("{session}:1.1 {agent}"),
            provider: "anthropic".into(),
            model: Some(model.into()),
            input: 10,
            output: 5,
            cache_read: 100,
            cache_write: 1,
            cost,
            priced: match priced {
                "fallback" => Priced::Fallback,
                "unknown" => Priced::Unknown,
                _ => Priced::Exact,
            },
            note: None,
        }
    }

    #[test]
    fn spend_sums_by_session_pane_day_and_reports() {
        let s = Store::in_memory();
        s.add_spend(&spend("work", "p1", "claude", "claude-sonnet-4-5", 0.25, "exact")).unwrap();
        s.add_spend(&spend("work", "p2", "codex", "gpt-5", 0.5, "fallback")).unwrap();
        s.add_spend(&spend("other", "p3", "claude", "claude-sonnet-4-5", 1.0, "unknown")).unwrap();
        assert_eq!(s.session_spend("key-work"), 0.75);
        assert_eq!(s.pane_spend("p1"), (0.25, false));
        assert_eq!(s.pane_spend("p3"), (1.0, true));
        assert_eq!(s.day_spend(&local_day(1_800_000_000)), 1.75);
        let all = s.report(None).unwrap();
        assert_eq!(all.total.cost, 1.75);
        assert_eq!((all.total.calls, all.total.estimated, all.total.unknown), (3, 1, 1));
        assert_eq!(all.by_agent[0].key, "claude");
        assert_eq!(all.by_agent[0].cost, 1.25);
        assert_eq!(all.by_model.len(), 2);
        let work = s.report(Some("work")).unwrap();
        assert_eq!((work.total.cost, work.by_session.len()), (0.75, 1));
    }

    #[test]
    fn allowances_marks_and_decisions_round_trip() {
        let s = Store::in_memory();
        let id = s.add_allowance(&Scope::Workspace("/w".into()), "Bash", "git push", 1).unwrap();
        assert_eq!(
            s.allowances(),
            vec![Allowance { id, scope: Scope::Workspace("/w".into()), tool: "Bash".into(), what: "git push".into() }]
        );
        assert!(s.remove_allowance(id).unwrap());
        assert!(!s.remove_allowance(id).unwrap());
        s.set_mark("work", "step", &Mark { spend: 1.5, at: 9 }).unwrap();
        s.set_mark("work", "step", &Mark { spend: 2.5, at: 10 }).unwrap();
        assert_eq!(s.marks("work").get("step"), Some(&Mark { spend: 2.5, at: 10 }));
        s.end_session("work");
        assert!(s.marks("work").is_empty());
        let d = DecisionRecord {
            ts: 5,
            session: "work".into(),
            pane: "p1".into(),
            place: "work:1.2".into(),
            agent: "claude".into(),
            kind: crate::approval::ActionKind::ToolCall,
            what: "git push".into(),
            verdict: crate::approval::Verdict::Deny,
            by: crate::approval::DecidedBy::Policy,
            rule: Some("no pushes".into()),
            reason: Some("not today".into()),
        };
        s.add_decision(&d).unwrap();
        assert_eq!(s.decisions(10).unwrap(), vec![d]);
    }

    #[test]
    fn spend_by_pane_under_its_latest_name_and_the_burn_rate() {
        let s = Store::in_memory();
        let at = |ts: u64, pane: &str, label: &str, cost: f64| SpendRecord {
            ts,
            pane_label: label.into(),
            ..spend("work", pane, "claude", "m", cost, "table")
        };
        for r in [
            at(100, "p1", "work:1.1 claude", 1.0),
            at(900, "p2", "work:1.2 claude", 2.0),
            at(950, "p1", "work:1.1 reviewer", 0.5),
        ] {
            s.add_spend(&r).expect("add");
        }
        let report = s.report(None).expect("report");
        let by_pane: Vec<(String, f64)> = report.by_pane.iter().map(|r| (r.key.clone(), r.cost)).collect();
        assert_eq!(by_pane, [("work:1.2 claude".to_string(), 2.0), ("work:1.1 reviewer".to_string(), 1.5)]);
        // The last ten minutes before 1000 hold 2.5 dollars: 15 an hour.
        assert!((s.burn_per_hour(None, 1000) - 15.0).abs() < 1e-9);
        assert!((s.burn_per_hour(Some("elsewhere"), 1000)).abs() < 1e-9);
    }

    #[test]
    fn the_audit_reads_newest_decision_first() {
        let s = Store::in_memory();
        let at = |ts: u64, what: &str| DecisionRecord {
            ts,
            session: "s".into(),
            pane: "p".into(),
            place: "s:1.1".into(),
            agent: "a".into(),
            kind: crate::approval::ActionKind::ToolCall,
            what: what.into(),
            verdict: crate::approval::Verdict::Allow,
            by: crate::approval::DecidedBy::Policy,
            rule: None,
            reason: None,
        };
        // Written out of order (a record kept from before a restart, say): read by time.
        for d in [at(20, "second"), at(10, "first"), at(30, "third")] {
            s.add_decision(&d).expect("add");
        }
        let read: Vec<String> = s.decisions(10).expect("read").into_iter().map(|d| d.what).collect();
        assert_eq!(read, ["third", "second", "first"]);
    }

    #[test]
    fn an_audit_written_before_places_were_kept_is_read_and_added_to() {
        let path = std::env::temp_dir().join(format!("teamster-old-audit-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let db = Connection::open(&path).expect("open");
            db.execute_batch(
                "CREATE TABLE decisions (id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, session TEXT NOT NULL, pane TEXT NOT NULL, agent TEXT NOT NULL,
                 kind TEXT NOT NULL, what TEXT NOT NULL, verdict TEXT NOT NULL, by TEXT NOT NULL, rule TEXT, reason TEXT);
                 INSERT INTO decisions (ts, session, pane, agent, kind, what, verdict, by) VALUES (1, 'old', 'k', 'claude', 'tool_call', 'ls', 'allow', 'no rule');",
            )
            .expect("the old schema");
        }
        let s = Store::open(&path).expect("opened and brought up to date");
        let old = s.decisions(10).expect("the old decision");
        assert_eq!((old.len(), old[0].session.as_str(), old[0].place.as_str()), (1, "old", ""));
        let d = DecisionRecord { place: "old:1.1".into(), ts: 2, ..old[0].clone() };
        s.add_decision(&d).expect("a new one");
        assert_eq!(s.decisions(1).expect("read").first().map(|d| d.place.clone()), Some("old:1.1".into()));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_counter_goes_on_across_reopening() {
        let path = std::env::temp_dir().join(format!("teamster-counter-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let first = Store::open(&path).expect("open");
        assert_eq!((first.next_number("approval"), first.next_number("approval")), (Ok(1), Ok(2)));
        assert_eq!(first.next_number("other"), Ok(1));
        drop(first);
        assert_eq!(Store::open(&path).expect("reopen").next_number("approval"), Ok(3));
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_file_survives_reopening() {
        let dir = std::env::temp_dir().join(format!("teamster-store-{}", std::process::id()));
        let path = dir.join("teamster.db");
        {
            let s = Store::open(&path).unwrap();
            s.add_spend(&spend("work", "p1", "claude", "m", 2.0, "exact")).unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.session_spend("key-work"), 2.0);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The database's owner thread: writes are not waited for, and a read comes after
    /// every write sent before it, from any thread.
    #[test]
    fn a_read_sees_every_write_sent_before_it() {
        let db = Db::start(Store::in_memory());
        for cost in [0.25, 0.5, 1.0] {
            db.write(move |s| s.add_spend(&spend("work", "p1", "claude", "claude-sonnet-4-5", cost, "exact")));
        }
        assert_eq!(db.read(|s| s.session_spend("key-work")), Some(1.75));
        // Each call's input, output and cache tokens (10 + 5 + 100 + 1).
        assert_eq!(db.read(|s| s.pane_tokens("p1")), Some(3 * 116));
        let from_another_thread = std::thread::scope(|t| t.spawn(|| db.read(|s| s.pane_spend("p1"))).join().unwrap());
        assert_eq!(from_another_thread, Some((1.75, false)));
        // A failed write is logged, not fatal: the next read still answers.
        db.write(|_| Err("disk full".into()));
        assert_eq!(db.read(|s| s.session_spend("key-work")), Some(1.75));
    }
}
