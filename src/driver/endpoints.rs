//! One BMC endpoint at a time: BMCs handle concurrent sessions badly, so calls to one
//! endpoint (address, port, system) are serialized, while calls to different endpoints run
//! concurrently. A per-endpoint async mutex, created on first use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct Endpoints<T: Default + Send + 'static> {
    map: Mutex<HashMap<String, Arc<tokio::sync::Mutex<T>>>>,
}

impl<T: Default + Send + 'static> Endpoints<T> {
    /// Wait for exclusive use of an endpoint; the guard also holds the endpoint's state.
    pub async fn lock(&self, key: &str) -> OwnedMutexGuard<T> {
        let m = self
            .map
            .lock()
            .expect("endpoints lock")
            .entry(key.to_string())
            .or_default()
            .clone();
        m.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn one_endpoint_is_serialized_and_two_run_at_once() {
        let e: Arc<Endpoints<u32>> = Arc::default();
        let work = |e: Arc<Endpoints<u32>>, key: &'static str| async move {
            let mut g = e.lock(key).await;
            *g += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let t0 = tokio::time::Instant::now();
        tokio::join!(
            work(e.clone(), "a"),
            work(e.clone(), "a"),
            work(e.clone(), "b")
        );
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        assert_eq!(*e.lock("a").await, 2);
    }
}
