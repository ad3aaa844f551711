//! The PostgreSQL state store: the same journal as `file_store` (records as JSON carrying their
//! version, read back in sequence order, replayed by `Journal::replay`) in a database that
//! several drydocks share, with the leader lease (`lease`) whose fencing token is written with
//! every record. It does not decide who leads (`lease` does) nor what records mean.
//!
//! # Schema
//! Versioned migrations (`MIGRATIONS`) are applied at connect, each in its own transaction
//! under an advisory lock, so instances starting together apply each once; a database whose
//! schema is newer than this drydock knows is refused. The journal table is append-only:
//! triggers refuse UPDATE and DELETE, and refuse a batch of records whose fencing token is not
//! the lease's current one (a deposed leader's late writes) — checked in the database, with
//! the lease row locked for the batch, so no writer can skip it.
//!
//! # Guarantees (as `StateStore`)
//! `append` only buffers; `sync` writes everything appended before it in one transaction (group
//! commit: concurrent callers share one round trip), so a crash loses at most a suffix of
//! unsynced records, never a record in the middle.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::{Client, NoTls};

use crate::state::{Record, StateStore, StoreError};

/// The schema versions, in order: (version, what it does, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "journal and leader lease",
        r#"
CREATE TABLE drydock_journal (
    seq    bigint PRIMARY KEY,
    token  bigint NOT NULL,
    run    bigint NOT NULL,
    record text   NOT NULL
);
CREATE TABLE drydock_lease (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    address    text NOT NULL,
    token      bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
INSERT INTO drydock_lease VALUES ('leader', '', '', 0, 'epoch');
"#,
    ),
    (
        2,
        "append-only journal, fenced by the lease's token",
        r#"
CREATE FUNCTION drydock_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the drydock journal is append-only' USING ERRCODE = 'DDJ01';
END $$;
CREATE TRIGGER drydock_journal_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
    ON drydock_journal FOR EACH STATEMENT EXECUTE FUNCTION drydock_append_only();

CREATE FUNCTION drydock_fence() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    current bigint;
    stale bigint;
BEGIN
    SELECT token INTO current FROM drydock_lease WHERE name = 'leader' FOR SHARE;
    SELECT token INTO stale FROM new_records WHERE token <> current LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'fencing token % is stale: the lease is at %', stale, current
            USING ERRCODE = 'DDJ02';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER drydock_journal_fence AFTER INSERT ON drydock_journal
    REFERENCING NEW TABLE AS new_records
    FOR EACH STATEMENT EXECUTE FUNCTION drydock_fence();
"#,
    ),
];

/// The SQLSTATE of a write with a stale fencing token.
const FENCED: &str = "DDJ02";

/// A connection string with its password hidden, for messages.
pub fn redact(url: &str) -> String {
    // postgresql://user:secret@host/db → postgresql://user:…@host/db; key=value form: password=…
    let mut out = url.to_string();
    if let Some(scheme) = out.find("://") {
        let rest = scheme + 3;
        if let Some(at) = out[rest..].find('@').map(|i| i + rest)
            && let Some(colon) = out[rest..at].find(':').map(|i| i + rest)
        {
            out.replace_range(colon + 1..at, "…");
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(i) = lower.find("password=") {
        let start = i + "password=".len();
        let end = out[start..]
            .find([' ', '&'])
            .map_or(out.len(), |e| e + start);
        out.replace_range(start..end, "…");
    }
    out
}

fn db_error(what: &str, e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code().code() == FENCED {
            return StoreError::Fenced(db.message().to_string());
        }
        return StoreError::Io(format!("{what}: {}", db.message()));
    }
    StoreError::Io(format!("{what}: {e}"))
}

/// Connect to the database (its connection runs on the current tokio runtime) and bring its
/// schema up to date.
pub async fn connect(url: &str) -> Result<Client, StoreError> {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(|e| {
        StoreError::Io(format!(
            "cannot connect to PostgreSQL at {}: {e}",
            redact(url)
        ))
    })?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "the PostgreSQL connection ended");
        }
    });
    migrate(&client).await?;
    Ok(client)
}

/// Apply the migrations the database lacks; returns the schema version it is at.
pub async fn migrate(client: &Client) -> Result<i32, StoreError> {
    // One advisory lock for every drydock instance: two starting at once create the schema
    // table and apply each migration once (CREATE TABLE IF NOT EXISTS alone is not safe
    // against a concurrent creation). The lock is taken inside each transaction, so it is
    // released with it.
    let created = client
        .batch_execute(
            "BEGIN;
             SELECT pg_advisory_xact_lock(7318390001);
             CREATE TABLE IF NOT EXISTS drydock_schema (
                 version integer PRIMARY KEY,
                 description text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             COMMIT",
        )
        .await;
    if let Err(e) = created {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(db_error("cannot create the schema table", e));
    }
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    let mut at = 0;
    for (version, description, sql) in MIGRATIONS {
        let what = format!("migration {version} ({description})");
        client
            .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(7318390001)")
            .await
            .map_err(|e| db_error(&what, e))?;
        let step = async {
            let done = client
                .query_opt(
                    "SELECT 1 FROM drydock_schema WHERE version = $1",
                    &[version],
                )
                .await?
                .is_some();
            if !done {
                client.batch_execute(sql).await?;
                client
                    .execute(
                        "INSERT INTO drydock_schema (version, description) VALUES ($1, $2)",
                        &[version, description],
                    )
                    .await?;
            }
            client.batch_execute("COMMIT").await
        };
        if let Err(e) = step.await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(db_error(&what, e));
        }
        at = *version;
    }
    let newest: Option<i32> = client
        .query_one("SELECT max(version) FROM drydock_schema", &[])
        .await
        .map_err(|e| db_error("cannot read the schema version", e))?
        .get(0);
    if let Some(n) = newest
        && n > known
    {
        return Err(StoreError::Io(format!(
            "the database's drydock schema is at version {n}, newer than this drydock knows ({known}): run a newer drydock"
        )));
    }
    Ok(at)
}

fn decode(seq: i64, text: &str) -> Result<Record, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Damaged {
        path: "PostgreSQL table drydock_journal".into(),
        what: format!("record {seq} is not a journal record ({e})"),
    })
}

/// Records with `seq >= from`, in order, with their sequence numbers.
pub async fn read_from(client: &Client, from: u64) -> Result<Vec<(u64, Record)>, StoreError> {
    let rows = client
        .query(
            "SELECT seq, record FROM drydock_journal WHERE seq >= $1 ORDER BY seq",
            &[&(from as i64)],
        )
        .await
        .map_err(|e| db_error("cannot read the journal", e))?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let seq: i64 = row.get(0);
        // Sequence numbers are dense: a gap is damage, not a shorter journal.
        if seq as u64 != from + i as u64 {
            return Err(StoreError::Damaged {
                path: "PostgreSQL table drydock_journal".into(),
                what: format!("record {} is missing (the next is {seq})", from + i as u64),
            });
        }
        out.push((seq as u64, decode(seq, row.get(1))?));
    }
    Ok(out)
}

struct Pending {
    seqs: Vec<i64>,
    runs: Vec<i64>,
    texts: Vec<String>,
}

/// The journal in PostgreSQL, open for appending by the holder of fencing token `token`.
pub struct PgStore {
    client: Client,
    token: i64,
    next: AtomicU64,
    /// Records below this sequence number are in the database.
    durable: AtomicU64,
    pending: Mutex<Pending>,
    /// Every record, as the writer knows them (what `records` returns).
    mirror: Mutex<Vec<Record>>,
    flush: tokio::sync::Mutex<()>,
    /// Set when a write failed: the records of that batch are lost, so later ones would
    /// leave a gap. The store refuses everything after it; opening it again starts from what
    /// the database holds.
    broken: std::sync::atomic::AtomicBool,
}

impl PgStore {
    /// Open the journal for appending with fencing token `token` (the caller holds the lease:
    /// `lease::Lease`). Reads every record once.
    pub async fn open(client: Client, token: u64) -> Result<PgStore, StoreError> {
        let records: Vec<Record> = read_from(&client, 0)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        let n = records.len() as u64;
        Ok(PgStore {
            client,
            token: token as i64,
            next: AtomicU64::new(n),
            durable: AtomicU64::new(n),
            pending: Mutex::new(Pending {
                seqs: Vec::new(),
                runs: Vec::new(),
                texts: Vec::new(),
            }),
            mirror: Mutex::new(records),
            flush: tokio::sync::Mutex::new(()),
            broken: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn token(&self) -> u64 {
        self.token as u64
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(StoreError::Io(
                "an earlier write to the journal failed; the journal must be opened again (restart drydock)".into(),
            ));
        }
        Ok(())
    }

    async fn write(&self, batch: Pending) -> Result<(), StoreError> {
        self.client
            .execute(
                "INSERT INTO drydock_journal (seq, token, run, record)
                 SELECT s, $2, r, t FROM unnest($1::bigint[], $3::bigint[], $4::text[]) AS b(s, r, t)",
                &[&batch.seqs, &self.token, &batch.runs, &batch.texts],
            )
            .await
            .map_err(|e| db_error("cannot append to the journal", e))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl StateStore for PgStore {
    fn append(&self, record: &Record) -> Result<u64, StoreError> {
        self.check()?;
        let text = serde_json::to_string(record).expect("plain data serializes");
        // The sequence number is taken under the buffer's lock, so the buffer is in order.
        let mut p = self.pending.lock().expect("pending lock");
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        p.seqs.push(seq as i64);
        p.runs.push(record.run as i64);
        p.texts.push(text);
        self.mirror
            .lock()
            .expect("mirror lock")
            .push(record.clone());
        Ok(seq)
    }

    async fn sync(&self) -> Result<(), StoreError> {
        let target = self.next.load(Ordering::SeqCst);
        let _g = self.flush.lock().await;
        self.check()?;
        if self.durable.load(Ordering::SeqCst) >= target {
            // Someone else's flush carried our records.
            return Ok(());
        }
        let batch = {
            let mut p = self.pending.lock().expect("pending lock");
            Pending {
                seqs: std::mem::take(&mut p.seqs),
                runs: std::mem::take(&mut p.runs),
                texts: std::mem::take(&mut p.texts),
            }
        };
        let Some(&last) = batch.seqs.last() else {
            return Ok(());
        };
        // On an error the batch is gone from the buffer: the executor stops at a failed sync,
        // and a rerun starts from what the database holds.
        if let Err(e) = self.write(batch).await {
            self.broken.store(true, Ordering::SeqCst);
            return Err(e);
        }
        self.durable.store(last as u64 + 1, Ordering::SeqCst);
        Ok(())
    }

    fn records(&self) -> Result<Vec<Record>, StoreError> {
        Ok(self.mirror.lock().expect("mirror lock").clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_connection_strings() {
        assert_eq!(
            redact("postgresql://dd:s3cret@127.0.0.1:5432/db"),
            "postgresql://dd:…@127.0.0.1:5432/db"
        );
        assert_eq!(
            redact("host=127.0.0.1 password=s3cret user=dd"),
            "host=127.0.0.1 password=… user=dd"
        );
        assert_eq!(
            redact("postgresql://127.0.0.1/db?password=x&user=y"),
            "postgresql://127.0.0.1/db?password=…&user=y"
        );
        assert_eq!(
            redact("postgresql://dd@127.0.0.1/db"),
            "postgresql://dd@127.0.0.1/db"
        );
    }
}
