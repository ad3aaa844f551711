//! The leader lease of drydocks sharing one PostgreSQL database (`postgres`): one row naming
//! the holder, the address its operator API answers on, a fencing token and an expiry. Taking
//! the lease bumps the token; the holder renews it (a heartbeat) well within its time to live;
//! a lease that expired (its holder died, hung or lost the database) is taken by the next
//! instance that tries. Every journal record carries the token of the lease it was written
//! under, and the database refuses records whose token is not the current one, so a deposed
//! leader's late writes never land.
//!
//! Times are the database's (`now()`), never an instance's clock, so clocks that disagree
//! cannot make two leaders. This module decides nothing else: who runs tasks is `service`'s.

use std::time::Duration;

use tokio_postgres::Client;

use crate::state::StoreError;

/// The lease as the database has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// Empty when no one holds it.
    pub holder: String,
    /// The holder's operator API (`https://host:port`), for followers to forward writes to.
    pub address: String,
    pub token: u64,
    /// Milliseconds until it expires (negative: expired).
    pub expires_in_ms: i64,
}

impl Info {
    /// Whether someone holds the lease now.
    pub fn held(&self) -> bool {
        !self.holder.is_empty() && self.expires_in_ms > 0
    }
}

fn err(what: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::Io(format!(
        "{what}: {}",
        e.as_db_error()
            .map_or(e.to_string(), |d| d.message().to_string())
    ))
}

fn secs(ttl: Duration) -> f64 {
    ttl.as_secs_f64()
}

/// Take the lease if it is free or expired: the new fencing token, or `None` when another
/// holder's lease is live.
pub async fn try_acquire(
    client: &Client,
    holder: &str,
    address: &str,
    ttl: Duration,
) -> Result<Option<u64>, StoreError> {
    let row = client
        .query_opt(
            "UPDATE drydock_lease
                SET holder = $1, address = $2, token = token + 1,
                    expires_at = now() + make_interval(secs => $3)
              WHERE name = 'leader' AND (holder = '' OR expires_at <= now())
              RETURNING token",
            &[&holder, &address, &secs(ttl)],
        )
        .await
        .map_err(|e| err("cannot take the leader lease", e))?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}

/// Extend the lease held with `token`; `false` when it is no longer ours (it expired and was
/// taken).
pub async fn renew(client: &Client, token: u64, ttl: Duration) -> Result<bool, StoreError> {
    let n = client
        .execute(
            "UPDATE drydock_lease SET expires_at = now() + make_interval(secs => $2)
              WHERE name = 'leader' AND token = $1 AND holder <> ''",
            &[&(token as i64), &secs(ttl)],
        )
        .await
        .map_err(|e| err("cannot renew the leader lease", e))?;
    Ok(n == 1)
}

/// Give the lease up at once (a clean shutdown), so another instance need not wait for it to
/// expire.
pub async fn release(client: &Client, token: u64) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE drydock_lease SET holder = '', address = '', expires_at = now()
              WHERE name = 'leader' AND token = $1",
            &[&(token as i64)],
        )
        .await
        .map_err(|e| err("cannot release the leader lease", e))?;
    Ok(())
}

/// The lease now.
pub async fn current(client: &Client) -> Result<Info, StoreError> {
    let row = client
        .query_one(
            "SELECT holder, address, token,
                    (extract(epoch FROM (expires_at - now())) * 1000)::bigint
               FROM drydock_lease WHERE name = 'leader'",
            &[],
        )
        .await
        .map_err(|e| err("cannot read the leader lease", e))?;
    Ok(Info {
        holder: row.get(0),
        address: row.get(1),
        token: row.get::<_, i64>(2) as u64,
        expires_in_ms: row.get(3),
    })
}

/// Take the lease from `stale` (a holder known to be dead: a command-line apply whose process
/// is gone from this host), whether or not it has expired. Fails (`None`) if the lease moved
/// on since `stale` was read.
pub async fn take_over(
    client: &Client,
    stale: &Info,
    holder: &str,
    address: &str,
    ttl: Duration,
) -> Result<Option<u64>, StoreError> {
    let row = client
        .query_opt(
            "UPDATE drydock_lease
                SET holder = $1, address = $2, token = token + 1,
                    expires_at = now() + make_interval(secs => $3)
              WHERE name = 'leader' AND holder = $4 AND token = $5
              RETURNING token",
            &[
                &holder,
                &address,
                &secs(ttl),
                &stale.holder,
                &(stale.token as i64),
            ],
        )
        .await
        .map_err(|e| err("cannot take over the leader lease", e))?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}

/// The holder name of a command-line apply: `drydock apply PID@HOST`.
pub fn cli_holder(pid: u32, host: &str) -> String {
    format!("drydock apply {pid}@{host}")
}

/// The process and host of a command-line apply's holder name.
pub fn parse_cli_holder(holder: &str) -> Option<(u32, &str)> {
    let rest = holder.strip_prefix("drydock apply ")?;
    let (pid, host) = rest.split_once('@')?;
    Some((pid.parse().ok()?, host))
}
