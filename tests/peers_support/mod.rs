//! Real BMC peers for the driver tests (README, "Two commands"): sushy-emulator (Redfish, fake
//! driver, HTTPS with a certificate from a CA generated per instance, basic auth) and OpenIPMI's
//! `ipmi_sim` (IPMI over lanplus, chassis power and boot device kept in files), each started as a
//! child process on 127.0.0.1 with a free port and a temporary directory of its own, and killed
//! when dropped. It does not install them, `./scripts/test.sh` does; a missing peer is a panic
//! that says so, never a skipped test. It does not talk the protocols for the tests beyond
//! reading a peer's state back (`Sushy::get_json`, `IpmiSim::power`): that is the drivers' job.
//!
//! Costs, for planning tests: a sushy-emulator starts in about 0.3 s and answers a request in
//! about 30 ms (curl included); an ipmi_sim starts in about 60 ms and an ipmitool call takes
//! about 30 ms. sushy applies a power change 1 to 11 s after the request unless started with
//! `PowerDelay::Secs`. A test process killed by a signal (not a panic) leaves its peers running:
//! they hold only loopback ports and a temporary directory.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a peer may take to start answering before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(25);
/// How many times a start is retried on another port when the chosen one was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;

// ---------------------------------------------------------------------------------------------
// Ports

/// Ports handed out by this process. Never handed out twice: a port stays reserved after its
/// peer is killed, so `restart()` finds it free of other tests' peers.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

fn reserve(port: u16) -> bool {
    let mut guard = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    guard.get_or_insert_with(HashSet::new).insert(port)
}

/// A TCP port on 127.0.0.1 that was free a moment ago and that this process has not handed out
/// before. Another process may still take it before the peer binds it; the starters retry then.
pub fn free_tcp_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("a free TCP port on 127.0.0.1");
        let port = l.local_addr().expect("a bound address").port();
        if reserve(port) {
            return port;
        }
    }
}

/// A UDP port on 127.0.0.1, as `free_tcp_port`.
pub fn free_udp_port() -> u16 {
    loop {
        let s = UdpSocket::bind("127.0.0.1:0").expect("a free UDP port on 127.0.0.1");
        let port = s.local_addr().expect("a bound address").port();
        if reserve(port) {
            return port;
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Tcp,
    Udp,
}

/// The inodes of the sockets bound to 127.0.0.1:`port` (listening ones, for TCP), from
/// `/proc/net/{tcp,udp}`.
fn holders(proto: Proto, port: u16) -> HashSet<String> {
    let table = match proto {
        Proto::Tcp => "/proc/net/tcp",
        Proto::Udp => "/proc/net/udp",
    };
    let local = format!("0100007F:{port:04X}");
    let text = fs::read_to_string(table).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            // sl local_address rem_address st tx_queue:rx_queue tr:when retrnsmt uid timeout inode
            let f: Vec<&str> = l.split_whitespace().collect();
            let listening = proto == Proto::Udp || f.get(3) == Some(&"0A");
            (f.get(1) == Some(&local.as_str()) && listening)
                .then(|| f.get(9).map(|s| s.to_string()))?
        })
        .collect()
}

/// Whether process `pid` has one of the sockets `inodes` open.
fn has_socket(pid: u32, inodes: &HashSet<String>) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            let t = target.to_string_lossy();
            t.strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .is_some_and(|inode| inodes.contains(inode))
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Binaries and child processes

/// Where `./scripts/test.sh` installs the peers: `$DRYDOCK_PEERS`, else `.peers` in the crate.
pub fn peers_dir() -> PathBuf {
    match std::env::var_os("DRYDOCK_PEERS") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".peers"),
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn missing(name: &str, where_: &str) -> ! {
    panic!(
        "the test peer `{name}` is not installed ({where_})\n\
         help: run ./scripts/test.sh once: it installs the BMC emulators the driver tests need \
         (README, \"Two commands\"), then `cargo test` finds them"
    )
}

/// The directory holding `sushy-emulator` and the `python` it runs on (with `bcrypt`): the
/// peers' venv, else wherever PATH has `sushy-emulator`.
pub fn sushy_bin_dir() -> PathBuf {
    let venv = peers_dir().join("venv").join("bin");
    if venv.join("sushy-emulator").is_file() {
        return venv;
    }
    match on_path("sushy-emulator") {
        Some(p) => p.parent().expect("a directory").to_path_buf(),
        None => missing(
            "sushy-emulator",
            &format!("looked in {} and on PATH", venv.display()),
        ),
    }
}

/// A program from PATH (`ipmi_sim`, `ipmitool`, `openssl`, `curl`).
pub fn path_bin(name: &str) -> PathBuf {
    on_path(name).unwrap_or_else(|| missing(name, "looked on PATH"))
}

/// Run a setup command to completion; panics with its output when it fails.
fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{what}: {cmd:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Start `cmd` with standard output and error appended to `log`.
fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()));
    let f2 = f.try_clone().expect("a second handle on the log");
    cmd.stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

fn kill_child(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        // SIGKILL: a BMC that dies, not one that shuts down cleanly.
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn read_log(log: &Path) -> String {
    fs::read_to_string(log).unwrap_or_else(|e| format!("(no log at {}: {e})", log.display()))
}

/// How waiting for a child to take its port ended.
enum Bound {
    Yes,
    /// Another process holds the port: try another.
    Lost,
}

/// Wait (bounded by `START_TIMEOUT`) until `child` holds 127.0.0.1:`port`; panics with the log
/// if it exits or never binds.
///
/// Why not just connect: ipmi_sim does not exit when its port is taken, it runs on without a
/// socket, and a test would then drive another test's BMC. So this reads who holds the port
/// (socket inodes in `/proc/net/*` and `/proc/PID/fd`).
fn wait_bound(child: &mut Child, proto: Proto, port: u16, what: &str, log: &Path) -> Bound {
    let start = Instant::now();
    loop {
        // The table first: a socket listed there was bound before the child's fds are read.
        let inodes = holders(proto, port);
        if !inodes.is_empty() {
            if has_socket(child.id(), &inodes) {
                return Bound::Yes;
            }
            let _ = child.kill();
            let _ = child.wait();
            return Bound::Lost;
        }
        if let Some(status) = child.try_wait().expect("child status") {
            panic!(
                "{what} exited ({status}) before listening on port {port}\n--- log\n{}",
                read_log(log)
            );
        }
        if start.elapsed() > START_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not listen on port {port} within {START_TIMEOUT:?}\n--- log\n{}",
                read_log(log)
            );
        }
        sleep(POLL);
    }
}

fn temp_dir(prefix: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a temporary directory");
    // Paths end up unquoted in peer config files (ipmi_sim's chassis_control line).
    let p = dir.path().to_string_lossy();
    assert!(
        !p.contains(|c: char| c.is_whitespace() || c == '"' || c == '\''),
        "TMPDIR must not hold spaces or quotes: {p}"
    );
    dir
}

fn write_file(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------------------
// Redfish: sushy-emulator

/// One system of a sushy-emulator instance (fake driver).
#[derive(Clone, Debug)]
pub struct SushySystem {
    pub name: String,
    pub uuid: String,
    pub mac: String,
    /// Power state when the instance is first started (its state directory then remembers).
    pub power_on: bool,
}

impl SushySystem {
    /// `node-NN` with a UUID and a MAC derived from `n`, powered off.
    pub fn node(n: u8) -> SushySystem {
        SushySystem {
            name: format!("node-{n:02}"),
            uuid: format!("00000000-0000-4000-8000-0000000000{n:02x}"),
            mac: format!("52:54:00:00:00:{n:02x}"),
            power_on: false,
        }
    }
}

/// How long sushy's fake driver takes to apply a power change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerDelay {
    /// The emulator's own: a random 1 to 11 s after the request.
    Emulator,
    /// Exactly this many seconds, less the fraction of the current second (the emulator
    /// truncates the time): `Secs(0)` is immediate, `Secs(2)` lands 1 to 2 s later.
    Secs(u32),
}

/// A status code and body from `Sushy::request`.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// A running sushy-emulator: HTTPS on 127.0.0.1:`port` with a certificate for IP 127.0.0.1
/// signed by `ca_cert`, basic auth for `user`/`password` on everything but `/redfish/v1`
/// (the fields say what the emulator accepts; changing them changes only what `get_json` sends).
pub struct Sushy {
    pub port: u16,
    /// The CA certificate (PEM) that signed the emulator's certificate: what a client trusts.
    pub ca_cert: PathBuf,
    pub user: String,
    pub password: String,
    pub systems: Vec<SushySystem>,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    // Last: dropped after the child is killed.
    dir: TempDir,
}

impl Sushy {
    /// Start an emulator serving `systems`, with the emulator's own power delay (1 to 11 s).
    pub fn start(systems: &[SushySystem]) -> Sushy {
        Sushy::start_with(systems, PowerDelay::Emulator)
    }

    /// Start an emulator serving `systems` whose power changes take `delay`.
    pub fn start_with(systems: &[SushySystem], delay: PowerDelay) -> Sushy {
        let dir = temp_dir("drydock-sushy-");
        let d = dir.path();
        let ca_cert = d.join("ca.pem");
        make_certificates(d);
        let user = "admin".to_string();
        let password = "password".to_string();
        write_htpasswd(&d.join("htpasswd"), &user, &password);
        fs::create_dir(d.join("state")).expect("the state directory");
        let mut s = Sushy {
            port: 0,
            ca_cert,
            user,
            password,
            systems: systems.to_vec(),
            config: d.join("sushy.conf"),
            log: d.join("sushy.log"),
            child: None,
            dir,
        };
        for _ in 0..PORT_ATTEMPTS {
            s.port = free_tcp_port();
            s.write_config(delay);
            if s.spawn() {
                return s;
            }
        }
        panic!("sushy-emulator: every port tried was taken by another process");
    }

    fn write_config(&self, delay: PowerDelay) {
        let d = self.dir.path();
        let systems: Vec<String> = self
            .systems
            .iter()
            .map(|s| {
                format!(
                    "    {{'uuid': {uuid:?}, 'name': {name:?}, 'power_state': '{power}', \
                     'external_notifier': False, 'nics': [{{'mac': {mac:?}, 'ip': '127.0.0.1'}}]}},",
                    uuid = s.uuid,
                    name = s.name,
                    mac = s.mac,
                    power = if s.power_on { "On" } else { "Off" },
                )
            })
            .collect();
        let delay_patch = match delay {
            PowerDelay::Emulator => String::new(),
            // A shortcut into the emulator's internals (its module calls `random.randint(1, 11)`
            // for the delay); the install script pins the version this works with.
            PowerDelay::Secs(n) => format!(
                "\nfrom sushy_tools.emulator.resources.systems import fakedriver as _fakedriver\n\
                 class _FixedDelay:\n    \
                     @staticmethod\n    \
                     def randint(a, b):\n        \
                         return {n}\n\
                 _fakedriver.random = _FixedDelay\n"
            ),
        };
        let text = format!(
            "# Written by tests/peers_support for one test.\n\
             SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n\
             SUSHY_EMULATOR_LISTEN_PORT = {port}\n\
             SUSHY_EMULATOR_SSL_CERT = {cert:?}\n\
             SUSHY_EMULATOR_SSL_KEY = {key:?}\n\
             SUSHY_EMULATOR_AUTH_FILE = {auth:?}\n\
             SUSHY_EMULATOR_FAKE_DRIVER = True\n\
             SUSHY_EMULATOR_STATE_DIR = {state:?}\n\
             SUSHY_EMULATOR_FAKE_SYSTEMS = [\n{systems}\n]\n{delay_patch}",
            port = self.port,
            cert = d.join("bmc.pem"),
            key = d.join("bmc.key"),
            auth = d.join("htpasswd"),
            state = d.join("state"),
            systems = systems.join("\n"),
        );
        write_file(&self.config, &text);
    }

    /// Start the child and wait until it answers; false when another process took the port.
    fn spawn(&mut self) -> bool {
        let mut cmd = Command::new(sushy_bin_dir().join("sushy-emulator"));
        cmd.arg("--config")
            .arg(&self.config)
            .env("PYTHONUNBUFFERED", "1")
            .env_remove("SUSHY_EMULATOR_CONFIG");
        let mut child = spawn_logged(&mut cmd, &self.log);
        match wait_bound(
            &mut child,
            Proto::Tcp,
            self.port,
            "sushy-emulator",
            &self.log,
        ) {
            Bound::Lost => return false,
            Bound::Yes => {}
        }
        self.child = Some(child);
        // Bound is not yet serving: the first TLS answer is.
        let start = Instant::now();
        loop {
            let r = self.try_request("GET", "/redfish/v1", None, None);
            match r {
                Ok(r) if r.status == 200 => return true,
                _ if start.elapsed() > START_TIMEOUT => panic!(
                    "sushy-emulator on port {} did not answer /redfish/v1 within \
                     {START_TIMEOUT:?} (last: {r:?})\n--- log\n{}",
                    self.port,
                    self.log()
                ),
                _ => sleep(POLL),
            }
        }
    }

    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, as a node's BMC address in a design would give it.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The emulator's output so far (requests, tracebacks).
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// The system called `name`.
    pub fn system(&self, name: &str) -> &SushySystem {
        self.systems
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no system {name} in this emulator"))
    }

    /// `/redfish/v1/Systems/UUID` of the system called `name` (by name it answers 307 there).
    pub fn system_path(&self, name: &str) -> String {
        format!("/redfish/v1/Systems/{}", self.system(name).uuid)
    }

    /// An HTTPS request with curl, trusting only `ca_cert`, following redirects. `auth` is
    /// (user, password); None sends no credentials.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<&serde_json::Value>,
    ) -> HttpResponse {
        self.try_request(method, path, auth, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n--- log\n{}", self.log()))
    }

    fn try_request(
        &self,
        method: &str,
        path: &str,
        auth: Option<(&str, &str)>,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, String> {
        const MARK: &str = "\n--drydock-status:";
        let mut cmd = Command::new(path_bin("curl"));
        cmd.args(["--silent", "--show-error", "--location", "--max-time", "10"])
            .arg("--cacert")
            .arg(&self.ca_cert)
            .args(["--request", method])
            .args(["--write-out", &format!("{MARK}%{{http_code}}")]);
        // Credentials go through curl's config on standard input, not argv (as in the drivers).
        let auth_config =
            auth.map(|(u, p)| format!("user = \"{}\"\n", curl_quote(&format!("{u}:{p}"))));
        if auth_config.is_some() {
            cmd.args(["--config", "-"]);
        }
        if let Some(b) = body {
            cmd.args([
                "--header",
                "Content-Type: application/json",
                "--data-binary",
            ])
            .arg(b.to_string());
        }
        cmd.arg(format!("{}{path}", self.url()));
        let out = match &auth_config {
            Some(c) => run_with_stdin(&mut cmd, c),
            None => cmd.stdin(Stdio::null()).output(),
        }
        .map_err(|e| format!("cannot run curl: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return Err(format!(
                "curl failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let (body, status) = stdout
            .rsplit_once(MARK)
            .ok_or_else(|| format!("no status in curl's output: {stdout}"))?;
        Ok(HttpResponse {
            status: status
                .trim()
                .parse()
                .map_err(|_| format!("bad status {status}"))?,
            body: body.to_string(),
        })
    }

    /// GET `path` with the emulator's credentials; panics unless it answers 200 with JSON.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self.request("GET", path, Some((&self.user, &self.password)), None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        serde_json::from_str(&r.body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {}", r.body))
    }

    /// The system's `PowerState` as the emulator reports it now: "On" or "Off".
    pub fn power_state(&self, name: &str) -> String {
        let v = self.get_json(&self.system_path(name));
        v["PowerState"].as_str().expect("a PowerState").to_string()
    }

    /// The system's `Boot` object (`BootSourceOverrideTarget`, `BootSourceOverrideEnabled`, ...).
    pub fn boot(&self, name: &str) -> serde_json::Value {
        self.get_json(&self.system_path(name))["Boot"].clone()
    }

    /// Wait until the system's power state is `want` ("On"/"Off"); panics after `within`.
    pub fn wait_power_state(&self, name: &str, want: &str, within: Duration) {
        let start = Instant::now();
        loop {
            let now = self.power_state(name);
            if now == want {
                return;
            }
            assert!(
                start.elapsed() < within,
                "{name} is still {now}, not {want}, after {within:?}"
            );
            sleep(POLL);
        }
    }

    /// Whether the emulator process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL the emulator: a BMC that dies. Its port stays reserved for `restart`.
    pub fn kill(&mut self) {
        kill_child(&mut self.child);
    }

    /// Kill the emulator if running and start it again on the same port and state directory:
    /// power states and boot overrides survive (they live in the sqlite state).
    pub fn restart(&mut self) {
        self.kill();
        // The port is reserved in this process and was bound a moment ago: losing it to
        // another process is not retried (the test would have to know the new port).
        if !self.spawn() {
            panic!(
                "sushy-emulator could not get its port {} back on restart",
                self.port
            );
        }
    }
}

impl Drop for Sushy {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

/// Run `cmd` feeding `input` on standard input.
fn run_with_stdin(cmd: &mut Command, input: &str) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())?;
    child.wait_with_output()
}

/// A value inside double quotes in a curl config file.
fn curl_quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A CA (`ca.pem`) and a certificate for IP 127.0.0.1 signed by it (`bmc.pem`, `bmc.key`) in
/// `dir`, with the `openssl` CLI and a config of our own (not the system's openssl.cnf).
///
/// Why not one self-signed certificate: it has to be a CA (`CA:TRUE`) to be trusted as an
/// anchor by some clients, and rustls (webpki) refuses a CA certificate as a server's own
/// ("CaUsedAsEndEntity"). A CA plus a leaf is also what a site's CA bundle looks like.
pub fn make_certificates(dir: &Path) {
    let cnf = dir.join("openssl.cnf");
    write_file(
        &cnf,
        "[req]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [dn]\n\
         CN = drydock test BMC CA\n\
         [ca_ext]\n\
         basicConstraints = critical, CA:TRUE\n\
         keyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [bmc_ext]\n\
         basicConstraints = critical, CA:FALSE\n\
         keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = IP:127.0.0.1\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    );
    let openssl = path_bin("openssl");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run_ok(
        Command::new(&openssl)
            .current_dir(dir)
            .args([
                "req",
                "-x509",
                "-config",
                "openssl.cnf",
                "-extensions",
                "ca_ext",
            ])
            .args(ec)
            .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "30"]),
        "the test CA",
    );
    run_ok(
        Command::new(&openssl)
            .current_dir(dir)
            .args([
                "req",
                "-new",
                "-config",
                "openssl.cnf",
                "-subj",
                "/CN=127.0.0.1",
            ])
            .args(ec)
            .args(["-keyout", "bmc.key", "-out", "bmc.csr"]),
        "the BMC's certificate request",
    );
    run_ok(
        Command::new(&openssl).current_dir(dir).args([
            "x509",
            "-req",
            "-in",
            "bmc.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "30",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "bmc_ext",
            "-out",
            "bmc.pem",
        ]),
        "the BMC's certificate",
    );
}

/// An htpasswd file with a bcrypt hash (the only kind sushy-emulator accepts), made with the
/// venv's `bcrypt`. Cost 4, bcrypt's least: the emulator checks the hash on every request.
pub fn write_htpasswd(path: &Path, user: &str, password: &str) {
    let line = run_ok(
        Command::new(sushy_bin_dir().join("python"))
            .args([
                "-c",
                "import bcrypt, sys; u, p = sys.argv[1:]; \
                 print(u + ':' + bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode())",
            ])
            .args([user, password]),
        "the htpasswd file (help: ./scripts/test.sh installs bcrypt into the peers' venv)",
    );
    write_file(path, &line);
}

// ---------------------------------------------------------------------------------------------
// IPMI: OpenIPMI's ipmi_sim

/// The chassis-control script ipmi_sim runs as `chassis.sh DIR get power|boot ...` (printing
/// `power:0|1`, `boot:VALUE`) and `chassis.sh DIR set power 0|1 | reset 1 | shutdown 1 | boot
/// VALUE ...`. State lives in DIR/power and DIR/boot, replaced atomically so a test reading them
/// never sees a half-written file; every call is appended to DIR/calls.
const CHASSIS_SH: &str = r#"#!/bin/sh
# Chassis control for ipmi_sim (written by tests/peers_support): state in files of DIR.
dir=$1; op=$2; shift 2
echo "$op $*" >>"$dir/calls"
put() { printf '%s\n' "$2" >"$dir/$1.tmp" && mv "$dir/$1.tmp" "$dir/$1"; }
case $op in
get)
    for k in "$@"; do
        case $k in
        power) echo "power:$(cat "$dir/power")" ;;
        boot) echo "boot:$(cat "$dir/boot")" ;;
        esac
    done ;;
set)
    while [ $# -ge 2 ]; do
        case $1 in
        power) put power "$2" ;;
        reset) put power 1 ;;
        # A soft shutdown (ACPI): the OS obeys at once.
        shutdown) put power 0 ;;
        boot) put boot "$2" ;;
        esac
        shift 2
    done ;;
esac
"#;

/// A running `ipmi_sim` BMC on UDP 127.0.0.1:`port` (RMCP+/lanplus, cipher suite 3 works; 17
/// does not), user `user`/`password` with admin privilege. The chassis starts off, with boot
/// device `none`.
pub struct IpmiSim {
    pub name: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    log: PathBuf,
    child: Option<Child>,
    // Last: dropped after the child is killed.
    dir: TempDir,
}

impl IpmiSim {
    pub fn start(name: &str) -> IpmiSim {
        let dir = temp_dir("drydock-ipmi-");
        let d = dir.path();
        let chassis = d.join("chassis");
        fs::create_dir(&chassis).expect("the chassis state directory");
        fs::create_dir(d.join("state")).expect("ipmi_sim's state directory");
        write_file(&chassis.join("power"), "0\n");
        write_file(&chassis.join("boot"), "none\n");
        write_file(&chassis.join("calls"), "");
        let script = d.join("chassis.sh");
        write_file(&script, CHASSIS_SH);
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod chassis.sh");
        write_file(
            &d.join("sim.emu"),
            "mc_setbmc 0x20\n\
             mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n\
             sel_enable 0x20 1000 0x0a\n\
             mc_enable 0x20\n",
        );
        let mut sim = IpmiSim {
            name: name.to_string(),
            port: 0,
            user: "admin".to_string(),
            password: "password".to_string(),
            log: d.join("ipmi_sim.log"),
            child: None,
            dir,
        };
        for _ in 0..PORT_ATTEMPTS {
            sim.port = free_udp_port();
            sim.write_lan_conf();
            if sim.spawn() {
                return sim;
            }
        }
        panic!("ipmi_sim: every port tried was taken by another process");
    }

    fn write_lan_conf(&self) {
        let d = self.dir.path();
        let auths = "none md2 md5 straight";
        let text = format!(
            "# Written by tests/peers_support for one test.\n\
             name \"{name}\"\n\
             set_working_mc 0x20\n\
             \x20 startlan 1\n\
             \x20   addr 127.0.0.1 {port}\n\
             \x20   priv_limit admin\n\
             \x20   allowed_auths_callback {auths}\n\
             \x20   allowed_auths_user {auths}\n\
             \x20   allowed_auths_operator {auths}\n\
             \x20   allowed_auths_admin {auths}\n\
             \x20   guid a123456789abcdefa123456789abcdef\n\
             \x20 endlan\n\
             \x20 chassis_control \"{script} {chassis}\"\n\
             \x20 user 2 true \"{user}\" \"{password}\" admin 10 {auths}\n",
            name = self.name,
            port = self.port,
            script = d.join("chassis.sh").display(),
            chassis = d.join("chassis").display(),
            user = self.user,
            password = self.password,
        );
        write_file(&d.join("lan.conf"), &text);
    }

    /// Start the child and wait until ipmitool gets an answer; false when another process
    /// holds the port.
    fn spawn(&mut self) -> bool {
        let d = self.dir.path();
        let mut cmd = Command::new(path_bin("ipmi_sim"));
        cmd.current_dir(d)
            .args(["-c", "lan.conf", "-f", "sim.emu", "-s", "state", "-n"]);
        let mut child = spawn_logged(&mut cmd, &self.log);
        match wait_bound(&mut child, Proto::Udp, self.port, "ipmi_sim", &self.log) {
            Bound::Lost => return false,
            Bound::Yes => {}
        }
        self.child = Some(child);
        let start = Instant::now();
        loop {
            let out = self.ipmitool(&["-N", "1", "-R", "1", "chassis", "power", "status"]);
            if out.status.success() {
                return true;
            }
            if start.elapsed() > START_TIMEOUT {
                panic!(
                    "ipmi_sim on port {} did not answer `chassis power status` within \
                     {START_TIMEOUT:?}: {}\n--- log\n{}",
                    self.port,
                    String::from_utf8_lossy(&out.stderr).trim(),
                    self.log()
                );
            }
            sleep(POLL);
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `ipmitool -I lanplus -C 3 -H 127.0.0.1 -p PORT -U USER -E` with the password in the
    /// environment (`IPMI_PASSWORD`) and no standard input; add the command's arguments.
    pub fn ipmitool_cmd(&self, user: &str, password: &str) -> Command {
        let mut c = Command::new(path_bin("ipmitool"));
        c.args(["-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(["-U", user, "-E"])
            .env("IPMI_PASSWORD", password)
            .stdin(Stdio::null());
        c
    }

    /// Run ipmitool with this BMC's credentials and `args`.
    pub fn ipmitool(&self, args: &[&str]) -> Output {
        self.ipmitool_cmd(&self.user, &self.password)
            .args(args)
            .output()
            .expect("ipmitool runs")
    }

    fn chassis_file(&self, name: &str) -> String {
        let p = self.dir.path().join("chassis").join(name);
        fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
    }

    /// Whether the chassis is powered on (the chassis script's state, not ipmitool's view).
    pub fn power(&self) -> bool {
        match self.chassis_file("power").trim() {
            "1" => true,
            "0" => false,
            other => panic!("the chassis power file holds {other:?}"),
        }
    }

    /// The boot device ipmi_sim last set: `none` (initially), `pxe`, `default` (ipmitool's
    /// `disk`), `bios`, ... `options=efiboot` does not reach the script: it is not visible here.
    pub fn boot(&self) -> String {
        self.chassis_file("boot").trim().to_string()
    }

    /// Set the chassis power state behind ipmi_sim's back (a node someone powered by hand).
    pub fn set_power(&self, on: bool) {
        let d = self.dir.path().join("chassis");
        write_file(&d.join("power.tmp"), if on { "1\n" } else { "0\n" });
        fs::rename(d.join("power.tmp"), d.join("power")).expect("replace the power file");
    }

    /// Every chassis-script call so far, one a line: `get power`, `set power 1`, `set boot pxe`.
    /// A `chassis power cycle` is `set power 0` then, a second later, `set power 1`.
    pub fn chassis_calls(&self) -> Vec<String> {
        self.chassis_file("calls")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// ipmi_sim's output so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Whether the ipmi_sim process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// SIGKILL ipmi_sim: a BMC that stops answering (ipmitool then waits out its timeouts).
    pub fn kill(&mut self) {
        kill_child(&mut self.child);
    }

    /// Kill ipmi_sim if running and start it again on the same port; the chassis state stays.
    pub fn restart(&mut self) {
        self.kill();
        if !self.spawn() {
            panic!(
                "ipmi_sim could not get its port {} back on restart",
                self.port
            );
        }
    }
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}

// ---------------------------------------------------------------------------------------------
// A leaky BMC: HTTPS, and every request answered 500 with an error page that echoes the login

/// A Redfish endpoint that answers everything with `500` and an error page repeating the login
/// it was sent — the user, the password, and the `Authorization` header — as some BMCs do. For
/// the test that a secret a peer echoes never reaches drydock's output, logs or journal.
pub struct LeakyBmc {
    pub port: u16,
    pub ca_cert: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl LeakyBmc {
    pub fn start() -> LeakyBmc {
        let dir = temp_dir("drydock-leaky-");
        let d = dir.path();
        make_certificates(d);
        let script = d.join("leaky.py");
        write_file(
            &script,
            "import base64, http.server, json, ssl, sys\n\
             port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]\n\
             class H(http.server.BaseHTTPRequestHandler):\n\
             \x20   def answer(self):\n\
             \x20       auth = self.headers.get('Authorization', '')\n\
             \x20       login = base64.b64decode(auth.split(' ', 1)[-1]).decode() if ' ' in auth else ''\n\
             \x20       body = json.dumps({'error': {'message': 'login ' + login + ' rejected (Authorization: ' + auth + ')', '@Message.ExtendedInfo': [{'Message': 'password ' + login.split(':', 1)[-1] + ' is wrong'}]}}).encode()\n\
             \x20       self.send_response(500)\n\
             \x20       self.send_header('Content-Type', 'application/json')\n\
             \x20       self.send_header('Content-Length', str(len(body)))\n\
             \x20       self.end_headers()\n\
             \x20       self.wfile.write(body)\n\
             \x20   do_GET = do_POST = do_PATCH = answer\n\
             \x20   def log_message(self, *a):\n\
             \x20       pass\n\
             s = http.server.HTTPServer(('127.0.0.1', port), H)\n\
             c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
             c.load_cert_chain(cert, key)\n\
             s.socket = c.wrap_socket(s.socket, server_side=True)\n\
             s.serve_forever()\n",
        );
        let log = d.join("leaky.log");
        for _ in 0..PORT_ATTEMPTS {
            let port = free_tcp_port();
            let mut cmd = Command::new(sushy_bin_dir().join("python"));
            cmd.arg(&script)
                .arg(port.to_string())
                .arg(d.join("bmc.pem"))
                .arg(d.join("bmc.key"));
            let mut child = spawn_logged(&mut cmd, &log);
            match wait_bound(&mut child, Proto::Tcp, port, "the leaky BMC", &log) {
                Bound::Lost => continue,
                Bound::Yes => {
                    return LeakyBmc {
                        port,
                        ca_cert: d.join("ca.pem"),
                        log,
                        child: Some(child),
                        _dir: dir,
                    };
                }
            }
        }
        panic!("the leaky BMC: every port tried was taken by another process");
    }

    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}

impl Drop for LeakyBmc {
    fn drop(&mut self) {
        kill_child(&mut self.child);
    }
}
