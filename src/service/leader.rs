//! Leading among instances that share a PostgreSQL database: every instance tries for the
//! lease (`state::lease`); the holder opens the journal with the lease's fencing token and
//! runs requests, renewing the lease every third of its time to live; the others follow,
//! reading the records the leader writes, and try again every tenth of it, so a leader that
//! dies is replaced soon after its lease expires. A leader that cannot renew (the lease was
//! taken, or the database is gone for longer than the lease lasts) stops leading at once: its
//! apply is stopped, and its late writes would be refused anyway.

use std::sync::Arc;
use std::time::Instant;

use tokio_postgres::Client;

use crate::driver::sim::Simulator;
use crate::service::{Role, Service, ServiceError, Writer};
use crate::state::postgres::{self, PgStore};
use crate::state::{StoreError, lease};

/// The PostgreSQL connections of an instance.
pub(super) struct Pg {
    url: String,
    /// For the lease (its own connection, so a long journal write never delays a heartbeat).
    lease: Client,
    /// For followers' reads.
    read: Client,
    /// Held while the view is read from the database or replaced (a follower's read must not
    /// add records to a view a new leader just replaced).
    refresh: tokio::sync::Mutex<()>,
}

pub(super) async fn join(s: Service, url: String) -> Result<(), ServiceError> {
    let pg = Arc::new(Pg {
        lease: postgres::connect(&url).await?,
        read: postgres::connect(&url).await?,
        url,
        refresh: tokio::sync::Mutex::new(()),
    });
    let _ = s.0.pg.set(pg.clone());
    {
        let _g = pg.refresh.lock().await;
        let records: Vec<_> = postgres::read_from(&pg.read, 0)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        s.reset_view(records)?;
    }
    // The first attempt before serving, so that a lone instance leads from the start.
    let mut last_renewed = Instant::now();
    tick(&s, &pg, &mut last_renewed).await?;
    let me = s.clone();
    tokio::spawn(async move {
        loop {
            let every = match me.role() {
                Role::Leader { .. } => me.0.cfg.lease_ttl / 3,
                _ => (me.0.cfg.lease_ttl / 10).min(me.0.cfg.poll),
            };
            tokio::time::sleep(every).await;
            if me.0.shutdown_requested() {
                return;
            }
            if let Err(e) = tick(&me, &pg, &mut last_renewed).await {
                tracing::warn!(error = %e, "the leader lease could not be checked; retrying");
            }
        }
    });
    Ok(())
}

/// One round: a leader renews, a follower reads what the leader wrote and tries for the lease.
async fn tick(s: &Service, pg: &Pg, last_renewed: &mut Instant) -> Result<(), StoreError> {
    let ttl = s.0.cfg.lease_ttl;
    if let Role::Leader { token } = s.role() {
        match lease::renew(&pg.lease, token, ttl).await {
            Ok(true) => *last_renewed = Instant::now(),
            Ok(false) => {
                tracing::warn!(
                    token,
                    "the leader lease was taken by another instance; stopping"
                );
                let leader = lease::current(&pg.lease).await.ok().map(|i| i.address);
                s.stop_leading(leader);
            }
            Err(e) => {
                // The database may be back before the lease runs out; past that, another
                // instance may lead, so this one stops.
                if last_renewed.elapsed() >= ttl {
                    tracing::warn!(error = %e, "the leader lease could not be renewed in time; stopping");
                    s.stop_leading(None);
                }
                return Err(e);
            }
        }
        return Ok(());
    }
    // A follower first catches up with the journal.
    {
        let _g = pg.refresh.lock().await;
        let from = s.view().records;
        let new: Vec<_> = postgres::read_from(&pg.read, from)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        if !new.is_empty() {
            s.absorb(new);
        }
    }
    if s.0.shutdown_requested() {
        return Ok(());
    }
    let holder = &s.0.cfg.instance;
    match lease::try_acquire(&pg.lease, holder, &s.0.cfg.advertise, ttl).await? {
        Some(token) => {
            *last_renewed = Instant::now();
            if let Err(e) = lead(s, pg, token).await {
                tracing::error!(error = %e, "took the lease but cannot lead; giving it up");
                let _ = lease::release(&pg.lease, token).await;
                s.0.role.send_replace(Role::Follower { leader: None });
                return Err(e);
            }
        }
        None => {
            let info = lease::current(&pg.lease).await?;
            let held = info.held();
            let leader = Some(info.address).filter(|a| !a.is_empty() && held);
            if s.role()
                != (Role::Follower {
                    leader: leader.clone(),
                })
            {
                s.0.role.send_replace(Role::Follower { leader });
            }
        }
    }
    Ok(())
}

/// Take over writing with fencing token `token`.
async fn lead(s: &Service, pg: &Pg, token: u64) -> Result<(), StoreError> {
    let _g = pg.refresh.lock().await;
    let store = PgStore::open(postgres::connect(&pg.url).await?, token).await?;
    s.reset_view(crate::state::StateStore::records(&store)?)?;
    let sim = Simulator::open(&s.0.cfg.state_dir, s.0.cfg.sim.clone())
        .map_err(|e| StoreError::Io(format!("the simulator's world: {e}")))?;
    let writer = Writer {
        store: s.tee(Arc::new(store)),
        file: None,
        sim: Arc::new(sim),
        _lock: None,
    };
    s.become_leader(writer, token);
    Ok(())
}

/// Give the lease up (a clean shutdown), so another instance need not wait for it to expire.
pub(super) async fn release(s: &Service) {
    let Some(pg) = s.0.pg.get() else { return };
    if let Ok(info) = lease::current(&pg.lease).await
        && info.holder == s.0.cfg.instance
    {
        let _ = lease::release(&pg.lease, info.token).await;
    }
}
