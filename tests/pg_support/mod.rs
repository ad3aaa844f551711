//! A private PostgreSQL cluster for the tests that use the PostgreSQL state store: `initdb` in a
//! temporary directory and `pg_ctl start` on a free loopback port (never a Unix socket, never
//! another address), once per test binary, stopped and removed when the binary exits. As root
//! the server runs as the `postgres` user (PostgreSQL refuses to run as root). Each test gets a
//! database of its own (`Cluster::database`). `scripts/install-peers.sh` installs Debian's
//! `postgresql`; a missing one fails the test rather than skipping it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    next: AtomicUsize,
}

/// The directory of PostgreSQL's server programs: `$DRYDOCK_PG_BIN`, or the newest
/// `/usr/lib/postgresql/N/bin` (Debian's), or the directory of `initdb` on PATH.
fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("DRYDOCK_PG_BIN") {
        return PathBuf::from(d);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    found.sort();
    if let Some((_, b)) = found.pop() {
        return b;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for d in std::env::split_paths(&path) {
        if d.join("initdb").is_file() && d.join("pg_ctl").is_file() {
            return d;
        }
    }
    panic!(
        "PostgreSQL's initdb was not found (looked in $DRYDOCK_PG_BIN, /usr/lib/postgresql/*/bin, PATH): run ./scripts/install-peers.sh, which installs Debian's postgresql"
    );
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    l.local_addr().unwrap().port()
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn start() -> Cluster {
        let bin = bin_dir();
        let run_as = is_root().then(|| "postgres".to_string());
        let dir = std::env::temp_dir().join(format!(
            "drydock-pg-{}-{}",
            std::process::id(),
            drydock::state::now_ms()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(user) = &run_as {
            let ok = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&dir)
                .status()
                .expect("chown runs");
            assert!(
                ok.success(),
                "cannot give {} to the `{user}` user (does it exist? Debian's postgresql package creates it)",
                dir.display()
            );
        }
        let c = Cluster {
            port: free_port(),
            dir,
            bin,
            run_as,
            next: AtomicUsize::new(0),
        };
        let data = c.dir.join("data");
        let out = c
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "drydock", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .output()
            .expect("initdb runs");
        assert!(
            out.status.success(),
            "initdb failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories='' -c fsync=on -c max_connections=200",
            c.port
        );
        let out = c
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(c.dir.join("log"))
            .args(["-o", &opts, "-w", "-t", "60", "start"])
            .output()
            .expect("pg_ctl runs");
        if !out.status.success() {
            let log = std::fs::read_to_string(c.dir.join("log")).unwrap_or_default();
            panic!(
                "pg_ctl start failed:\n{}\n{log}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        c
    }

    /// The cluster of this test binary, started on first use.
    pub fn get() -> &'static Cluster {
        CLUSTER.get_or_init(|| {
            let c = Cluster::start();
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(stop_at_exit) };
            c
        })
    }

    /// The connection string of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=drydock dbname={name} connect_timeout=10",
            self.port
        )
    }

    /// A new, empty database; its connection string.
    pub fn database(&self) -> String {
        let name = format!("t{}", self.next.fetch_add(1, Ordering::SeqCst));
        self.create(&name);
        self.url(&name)
    }

    /// Create database `name` if it does not exist.
    pub fn create(&self, name: &str) {
        let out = Command::new(self.bin.join("psql"))
            .arg(self.url("postgres"))
            .args(["-v", "ON_ERROR_STOP=1", "-qAtc"])
            .arg(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{name}'"
            ))
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if String::from_utf8_lossy(&out.stdout).trim() == "1" {
            return;
        }
        let out = Command::new(self.bin.join("createdb"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "drydock",
            ])
            .arg(name)
            .output()
            .expect("createdb runs");
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("already exists"),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run SQL in database `url`; its output (psql's unaligned, tuples only).
    pub fn sql(&self, url: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .arg(url)
            .args(["-v", "ON_ERROR_STOP=1", "-qAtc", sql])
            .output()
            .expect("psql runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

extern "C" fn stop_at_exit() {
    if let Some(c) = CLUSTER.get() {
        c.stop();
    }
}
