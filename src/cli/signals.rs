//! SIGINT, SIGTERM and SIGHUP for the commands that write the state: each cancels the apply as
//! Ctrl-C does (in-flight steps abandoned, the cancellation journaled, the lock released), and
//! the exit code is 128 + the signal (130, 143, 129). The handlers are installed first thing,
//! so a signal that arrives while the design loads or the plan is made is not lost: it cancels
//! the apply before its first task.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::signal::unix::{Signal, SignalKind, signal};

pub struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
    /// The signal received, 0 for none.
    got: Arc<AtomicI32>,
}

impl Signals {
    /// Install the handlers (inside `rt`).
    pub fn install(rt: &tokio::runtime::Runtime) -> std::io::Result<Signals> {
        let _g = rt.enter();
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            got: Arc::new(AtomicI32::new(0)),
        })
    }

    /// Wait for the next signal; returns its number.
    pub async fn recv(&mut self) -> i32 {
        let n = tokio::select! {
            _ = self.int.recv() => libc_like::SIGINT,
            _ = self.term.recv() => libc_like::SIGTERM,
            _ = self.hup.recv() => libc_like::SIGHUP,
        };
        self.got.store(n, Ordering::SeqCst);
        n
    }

    /// The signal received so far, if any.
    pub fn received(&self) -> Option<i32> {
        Some(self.got.load(Ordering::SeqCst)).filter(|&n| n != 0)
    }

    /// A handle that reads the received signal after `self` moved into a task.
    pub fn handle(&self) -> Arc<AtomicI32> {
        self.got.clone()
    }
}

/// Signal numbers (Linux), without a libc dependency for three constants.
pub mod libc_like {
    pub const SIGHUP: i32 = 1;
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
}

/// A signal's name, for messages.
pub fn name(n: i32) -> &'static str {
    match n {
        libc_like::SIGHUP => "SIGHUP",
        libc_like::SIGINT => "SIGINT (Ctrl-C)",
        libc_like::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// The exit code after a signal: 128 + its number.
pub fn exit_code(n: i32) -> u8 {
    (128 + n) as u8
}
