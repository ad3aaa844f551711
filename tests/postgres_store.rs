//! The PostgreSQL state store and the leader lease against a real server (a private cluster,
//! `pg_support`): migrations, order and durability of records, group commit, the append-only
//! table, fencing of a deposed leader's writes, lease expiry, renewal and release.

mod pg_support;

use std::sync::Arc;
use std::time::Duration;

use drydock::state::postgres::{self, PgStore};
use drydock::state::{
    Event, Journal, Outcome, RECORD_VERSION, Record, StateStore, StoreError, lease,
};
use pg_support::Cluster;

fn rec(i: u64) -> Record {
    Record {
        v: RECORD_VERSION,
        at_ms: i,
        run: 1,
        event: Event::RunFinished {
            outcome: Outcome::Success,
        },
    }
}

async fn leader(url: &str) -> (u64, PgStore) {
    let lc = postgres::connect(url).await.unwrap();
    let token = lease::try_acquire(&lc, "test-a", "", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a free lease is taken");
    let store = PgStore::open(postgres::connect(url).await.unwrap(), token)
        .await
        .unwrap();
    (token, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_versioned_and_applied_once() {
    let c = Cluster::get();
    let url = c.database();
    // Three instances starting at once.
    let (a, b, d) = tokio::join!(
        postgres::connect(&url),
        postgres::connect(&url),
        postgres::connect(&url)
    );
    for r in [a, b, d] {
        r.unwrap();
    }
    let versions = c
        .sql(
            &url,
            "SELECT string_agg(version::text, ',' ORDER BY version) FROM drydock_schema",
        )
        .unwrap();
    let expect: Vec<String> = postgres::MIGRATIONS
        .iter()
        .map(|m| m.0.to_string())
        .collect();
    assert_eq!(versions, expect.join(","));
    // A database from a newer drydock is refused, naming both versions.
    c.sql(
        &url,
        "INSERT INTO drydock_schema (version, description) VALUES (999, 'future')",
    )
    .unwrap();
    let e = postgres::connect(&url).await.expect_err("refused");
    let msg = e.to_string();
    assert!(
        msg.contains("999") && msg.contains("newer drydock"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_records_survive_in_order_and_unsynced_ones_are_a_lost_suffix() {
    let url = Cluster::get().database();
    {
        let (_, s) = leader(&url).await;
        for i in 0..50 {
            assert_eq!(s.append(&rec(i)).unwrap(), i);
        }
        s.sync().await.unwrap();
        // Appended, never synced: gone with the process.
        for i in 50..60 {
            s.append(&rec(i)).unwrap();
        }
    }
    let client = postgres::connect(&url).await.unwrap();
    let rs = postgres::read_from(&client, 0).await.unwrap();
    assert_eq!(rs.len(), 50);
    assert!(
        rs.iter()
            .enumerate()
            .all(|(i, (seq, r))| *seq == i as u64 && r.at_ms == i as u64)
    );
    // A reopened store continues the sequence.
    let token = lease::current(&client).await.unwrap().token;
    let s = PgStore::open(client, token).await.unwrap();
    assert_eq!(s.records().unwrap().len(), 50);
    assert_eq!(s.append(&rec(50)).unwrap(), 50);
    s.sync().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_syncs_share_round_trips_and_lose_nothing() {
    let url = Cluster::get().database();
    let (_, s) = leader(&url).await;
    let s = Arc::new(s);
    let mut jobs = Vec::new();
    for k in 0..200u64 {
        let s = s.clone();
        jobs.push(tokio::spawn(async move {
            s.append(&rec(k)).unwrap();
            s.sync().await.unwrap();
        }));
    }
    for j in jobs {
        j.await.unwrap();
    }
    let client = postgres::connect(&url).await.unwrap();
    let rs = postgres::read_from(&client, 0).await.unwrap();
    assert_eq!(rs.len(), 200);
    let mut seen: Vec<u64> = rs.iter().map(|(_, r)| r.at_ms).collect();
    seen.sort();
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_table_is_append_only() {
    let c = Cluster::get();
    let url = c.database();
    let (_, s) = leader(&url).await;
    s.append(&rec(0)).unwrap();
    s.sync().await.unwrap();
    for sql in [
        "UPDATE drydock_journal SET run = 2",
        "DELETE FROM drydock_journal",
        "TRUNCATE drydock_journal",
    ] {
        let e = c.sql(&url, sql).expect_err(sql);
        assert!(e.contains("append-only"), "{sql}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leaders_late_writes_are_refused() {
    let url = Cluster::get().database();
    let lc = postgres::connect(&url).await.unwrap();
    let ttl = Duration::from_millis(300);
    let old = lease::try_acquire(&lc, "old", "https://127.0.0.1:1", ttl)
        .await
        .unwrap()
        .unwrap();
    // While the old lease is live, nobody else gets it.
    assert_eq!(lease::try_acquire(&lc, "new", "", ttl).await.unwrap(), None);
    let stale = PgStore::open(postgres::connect(&url).await.unwrap(), old)
        .await
        .unwrap();
    stale.append(&rec(0)).unwrap();
    stale.sync().await.unwrap();
    // The old leader stops renewing (hung): once it expires, another takes over.
    let new = loop {
        if let Some(t) = lease::try_acquire(&lc, "new", "https://127.0.0.1:2", ttl)
            .await
            .unwrap()
        {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(new > old);
    let info = lease::current(&lc).await.unwrap();
    assert_eq!((info.holder.as_str(), info.token), ("new", new));
    assert_eq!(info.address, "https://127.0.0.1:2");
    // The old leader wakes up: its renewal fails, and its writes are refused.
    assert!(!lease::renew(&lc, old, ttl).await.unwrap());
    stale.append(&rec(1)).unwrap();
    let e = stale.sync().await.expect_err("fenced");
    assert!(matches!(e, StoreError::Fenced(_)), "{e}");
    assert!(e.to_string().contains("no longer the leader"), "{e}");
    // The new leader continues after the last record that landed.
    let fresh = PgStore::open(postgres::connect(&url).await.unwrap(), new)
        .await
        .unwrap();
    assert_eq!(fresh.records().unwrap().len(), 1);
    assert_eq!(fresh.append(&rec(1)).unwrap(), 1);
    fresh.sync().await.unwrap();
    assert!(lease::renew(&lc, new, ttl).await.unwrap());
    // A clean shutdown releases the lease at once.
    lease::release(&lc, new).await.unwrap();
    assert!(!lease::current(&lc).await.unwrap().held());
    assert!(
        lease::try_acquire(&lc, "third", "", ttl)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reads_what_the_database_holds() {
    let url = Cluster::get().database();
    let (_, s) = leader(&url).await;
    let task = drydock::plan::TaskId("t1".into());
    for e in [
        Event::TaskQueued {
            task: task.clone(),
            kind: drydock::plan::TaskKind::VerifySite,
            node: None,
        },
        Event::TaskStarted { task: task.clone() },
        Event::TaskSucceeded {
            task: task.clone(),
            output: None,
        },
    ] {
        s.append(&Record {
            v: RECORD_VERSION,
            at_ms: 1,
            run: 1,
            event: e,
        })
        .unwrap();
    }
    s.sync().await.unwrap();
    let client = postgres::connect(&url).await.unwrap();
    let rs = postgres::read_from(&client, 0).await.unwrap();
    let j = Journal::replay(rs.into_iter().map(|(_, r)| r)).unwrap();
    assert!(j.succeeded(&task));
    // Reading from the middle gives the rest.
    assert_eq!(postgres::read_from(&client, 2).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_an_error_without_the_password() {
    let url = "postgresql://drydock:hunter2@127.0.0.1:1/none?connect_timeout=2";
    let e = postgres::connect(url).await.expect_err("refused");
    let msg = e.to_string();
    assert!(!msg.contains("hunter2"), "{msg}");
    assert!(msg.contains("cannot connect to PostgreSQL at"), "{msg}");
}
