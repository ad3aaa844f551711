//! The simulator's driver operations are idempotent (issue 4): each, called twice in the order
//! the executor calls them, gives the same result and leaves the same world; and a long
//! operation interrupted by a "crash" (the simulator dropped while it is in progress, then
//! reopened on the same state directory) completes when called again.
//!
//! These use the library directly, with no executor and no journal. The one documented
//! exception, a power cycle (it reboots again by nature), is tested to be exactly that.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

use drydock::driver::sim::{SimConfig, SimMachine, Simulator, World};
use drydock::driver::{
    BootDevice, DriverError, NodeSpec, OobDriver, OobKind, OobSpec, PowerAction, Progress,
    Provisioner, Secret, SiteDriver, SiteSpec,
};
use drydock::model::observed::{Power, Status};

fn node(name: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        rack: Some("rack-a".into()),
        fingerprint: format!("fp-{name}-1"),
        boot_mac: Some("b0:26:28:4e:1a:10".into()),
        hardware: drydock::spec::HardwareSpec {
            boot_mode: Some("uefi".into()),
            ..Default::default()
        },
        tags: vec!["high_memory".into()],
        oob: OobSpec {
            kind: Some(OobKind::Ipmi),
            address: Some(IpAddr::V4(Ipv4Addr::new(10, 22, 100, 11))),
            account: Some("root".into()),
            credential: Some(Secret::new("env:BMC_PASSWORD")),
            ..OobSpec::default()
        },
        ..NodeSpec::default()
    }
}

fn site() -> SiteSpec {
    SiteSpec {
        name: "demo".into(),
        fingerprint: "site-fp-1".into(),
        ..SiteSpec::default()
    }
}

fn instant() -> SimConfig {
    SimConfig {
        time_scale: 0.0,
        ..SimConfig::default()
    }
}

fn open(dir: &Path, config: SimConfig) -> Simulator {
    Simulator::open(dir, config).expect("the simulator opens")
}

/// Call `$call` twice: the same result, and the same machine `$node` afterwards. Evaluates
/// to the result.
macro_rules! twice {
    ($sim:expr, $node:expr, $call:expr) => {{
        let first = $call.await;
        let after_first = $sim.machine($node);
        let second = $call.await;
        let after_second = $sim.machine($node);
        assert_eq!(
            first,
            second,
            "{}: the same result twice",
            stringify!($call)
        );
        assert_eq!(
            after_first,
            after_second,
            "{}: the same world after the second call",
            stringify!($call)
        );
        first
    }};
}

fn machine(sim: &Simulator, name: &str) -> SimMachine {
    sim.machine(name).expect("the simulator knows the machine")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_operation_twice_gives_the_same_result_and_world() {
    let d = tempfile::tempdir().unwrap();
    let sim = open(d.path(), instant());
    let n = node("node-a01");
    let name = n.name.as_str();
    let done = Ok(Progress::Done);

    // VerifyNode: read the BMC.
    assert_eq!(twice!(sim, name, sim.power_state(&n)), Ok(Power::Off));
    let inv = twice!(sim, name, sim.interrogate(&n)).expect("an inventory");
    assert_eq!(inv.macs, ["b0:26:28:4e:1a:10"]);
    assert!(
        sim.machine(name).is_none(),
        "reading the BMC changes nothing"
    );

    // PrepareNode.
    assert_eq!(twice!(sim, name, sim.identify(&n)), done);
    assert_eq!(machine(&sim, name).status, Status::New);
    assert_eq!(
        twice!(sim, name, sim.set_boot_device(&n, BootDevice::Pxe)),
        done
    );
    assert_eq!(
        machine(&sim, name).boot,
        drydock::driver::sim::world::BootDevice::Pxe
    );
    assert_eq!(twice!(sim, name, sim.set_power(&n, PowerAction::On)), done);
    assert_eq!(machine(&sim, name).power, Power::On);
    assert_eq!(twice!(sim, name, sim.configure_hardware(&n)), done);
    assert_eq!(machine(&sim, name).status, Status::Ready);

    // DeployNode.
    assert_eq!(twice!(sim, name, sim.apply_networking(&n)), done);
    assert_eq!(twice!(sim, name, sim.apply_storage(&n)), done);
    assert_eq!(twice!(sim, name, sim.apply_platform(&n)), done);
    assert_eq!(
        machine(&sim, name).applied,
        [
            "configure_hardware",
            "apply_networking",
            "apply_storage",
            "apply_platform"
        ]
    );
    assert_eq!(twice!(sim, name, sim.deploy(&n)), done);
    let m = machine(&sim, name);
    assert_eq!(m.status, Status::Deployed);
    assert_eq!(m.deployed_fingerprint.as_deref(), Some("fp-node-a01-1"));
    assert_eq!(m.power, Power::On);
    assert_eq!(twice!(sim, name, sim.boot_action_report(&n)), done);
    // Commissioning again would wipe a deployed machine: it answers done instead.
    assert_eq!(twice!(sim, name, sim.configure_hardware(&n)), done);
    assert_eq!(machine(&sim, name).status, Status::Deployed);

    // UpdateNode.
    let mut retagged = n.clone();
    retagged.tags.push("gpu".into());
    assert_eq!(twice!(sim, name, sim.update_metadata(&retagged)), done);
    assert_eq!(machine(&sim, name).tags, ["high_memory", "gpu"]);

    // Observing changes nothing.
    let names = vec![name.to_string()];
    let seen = twice!(sim, name, sim.observe(&names)).expect("observed");
    assert_eq!(seen[name].status, Status::Deployed);

    // Power and boot device, as an operator or a release does.
    assert_eq!(twice!(sim, name, sim.set_power(&n, PowerAction::Off)), done);
    assert_eq!(twice!(sim, name, sim.power_state(&n)), Ok(Power::Off));
    assert_eq!(twice!(sim, name, sim.set_power(&n, PowerAction::On)), done);
    assert_eq!(
        twice!(sim, name, sim.set_boot_device(&n, BootDevice::Disk)),
        done
    );

    // DestroyNode, then the way back to a deployment.
    assert_eq!(twice!(sim, name, sim.destroy(&n)), done);
    let m = machine(&sim, name);
    assert_eq!(
        (m.status, m.deployed_fingerprint.clone(), m.power),
        (Status::Ready, None, Power::Off)
    );
    assert!(m.applied.is_empty());
    assert_eq!(twice!(sim, name, sim.configure_hardware(&n)), done);
    assert_eq!(twice!(sim, name, sim.apply_networking(&n)), done);
    assert_eq!(twice!(sim, name, sim.deploy(&n)), done);
    assert_eq!(machine(&sim, name).status, Status::Deployed);

    // What the simulator answered is what it keeps: reopened, the world is the same.
    let before = machine(&sim, name);
    drop(sim);
    let w = World::load(d.path()).unwrap();
    assert_eq!(w.machines[name], before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_cycle_is_the_documented_exception() {
    let d = tempfile::tempdir().unwrap();
    let sim = open(d.path(), instant());
    let n = node("node-a01");
    sim.identify(&n).await.unwrap();
    let first = sim.set_power(&n, PowerAction::Cycle).await;
    let second = sim.set_power(&n, PowerAction::Cycle).await;
    assert_eq!(first, second);
    let m = machine(&sim, "node-a01");
    // Same state, but it did reboot twice.
    assert_eq!(m.power, Power::On);
    assert_eq!(m.power_cycles, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_site_operation_twice_gives_the_same_result_and_world() {
    let d = tempfile::tempdir().unwrap();
    let s = site();
    let mut worlds = Vec::new();
    // Each call on a freshly opened simulator, so the world compared is what it persisted.
    for _ in 0..2 {
        let sim = open(d.path(), instant());
        assert_eq!(sim.verify_services().await, Ok(Progress::Done));
        assert_eq!(sim.prepare_networks(&s).await, Ok(Progress::Done));
        assert_eq!(sim.prepare_credentials(&s).await, Ok(Progress::Done));
        assert_eq!(sim.prepare_images(&s).await, Ok(Progress::Done));
        drop(sim);
        worlds.push(World::load(d.path()).unwrap());
    }
    assert_eq!(worlds[0], worlds[1]);
    assert_eq!(
        worlds[0].site,
        [
            "prepare_credentials:site-fp-1",
            "prepare_images:site-fp-1",
            "prepare_networks:site-fp-1"
        ]
    );
}

/// Poll `$call` until it answers done (as the executor does), within `limit`.
macro_rules! until_done {
    ($call:expr, $limit:expr) => {{
        let deadline = Instant::now() + $limit;
        loop {
            match $call.await {
                Ok(Progress::Done) => break,
                Ok(Progress::Pending { after, .. }) => {
                    assert!(
                        Instant::now() < deadline,
                        "{} still pending",
                        stringify!($call)
                    );
                    tokio::time::sleep(after.max(Duration::from_millis(1))).await;
                }
                Err(e) => panic!("{}: {e}", stringify!($call)),
            }
        }
    }};
}

/// Simulated latencies of a few hundred milliseconds.
fn slow() -> SimConfig {
    SimConfig {
        time_scale: 0.002,
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_operation_interrupted_by_a_crash_completes_when_called_again() {
    let d = tempfile::tempdir().unwrap();
    let n = node("node-a01");
    let name = "node-a01";

    // Commissioning: started, then the simulator is gone (drydock crashed).
    let sim = open(d.path(), slow());
    sim.identify(&n).await.unwrap();
    let started = sim.configure_hardware(&n).await.unwrap();
    assert!(matches!(started, Progress::Pending { .. }), "{started:?}");
    let busy = machine(&sim, name).busy.clone().expect("in progress");
    drop(sim);

    // Reopened: the operation is still in progress, not restarted, and completes.
    let sim = open(d.path(), slow());
    let m = machine(&sim, name);
    assert_eq!(m.status, Status::Commissioning);
    assert_eq!(
        m.busy.as_ref(),
        Some(&busy),
        "the same operation, not a new one"
    );
    match sim.configure_hardware(&n).await.unwrap() {
        Progress::Pending { after, .. } => assert!(after <= Duration::from_millis(120)),
        Progress::Done => {}
    }
    // Still the same operation and deadline, unless it is done.
    if let Some(b) = machine(&sim, name).busy {
        assert_eq!(b, busy);
    }
    until_done!(sim.configure_hardware(&n), Duration::from_secs(5));
    let m = machine(&sim, name);
    assert_eq!((m.status, m.busy.clone()), (Status::Ready, None));

    // Deployment, the same way.
    for step in [
        sim.apply_networking(&n).await,
        sim.apply_storage(&n).await,
        sim.apply_platform(&n).await,
    ] {
        assert_eq!(step, Ok(Progress::Done));
    }
    assert!(matches!(sim.deploy(&n).await, Ok(Progress::Pending { .. })));
    assert_eq!(machine(&sim, name).status, Status::Deploying);
    drop(sim);
    let sim = open(d.path(), slow());
    assert_eq!(machine(&sim, name).status, Status::Deploying);
    until_done!(sim.deploy(&n), Duration::from_secs(5));
    let m = machine(&sim, name);
    assert_eq!(m.status, Status::Deployed);
    assert_eq!(m.deployed_fingerprint.as_deref(), Some("fp-node-a01-1"));
    // Done is final: called again, nothing moves.
    assert_eq!(twice!(sim, name, sim.deploy(&n)), Ok(Progress::Done));

    // Release, the same way.
    assert!(matches!(
        sim.destroy(&n).await,
        Ok(Progress::Pending { .. })
    ));
    drop(sim);
    let sim = open(d.path(), slow());
    assert_eq!(machine(&sim, name).status, Status::Releasing);
    until_done!(sim.destroy(&n), Duration::from_secs(5));
    let m = machine(&sim, name);
    assert_eq!((m.status, m.deployed_fingerprint), (Status::Ready, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_operation_cancelled_half_way_is_done_once_when_called_again() {
    let d = tempfile::tempdir().unwrap();
    let n = node("node-a01");
    let mut config = instant();
    config.time_scale = 0.002;
    // apply_networking takes 200 ms; everything before it is instant enough.
    config.latency_ms.insert("apply_networking".into(), 100_000);
    config.latency_ms.insert("configure_hardware".into(), 0);
    let sim = open(d.path(), config.clone());
    sim.identify(&n).await.unwrap();
    sim.configure_hardware(&n).await.unwrap();
    assert_eq!(machine(&sim, "node-a01").status, Status::Ready);

    // The executor abandons the call half-way (Ctrl-C, a timeout), then drydock dies.
    let cut = tokio::time::timeout(Duration::from_millis(20), sim.apply_networking(&n)).await;
    assert!(cut.is_err(), "the call was cut short");
    // Its effect may have landed before the answer (as on a real machine) or not: either way
    // the next call finds the step done or does it, once.
    drop(sim);

    let sim = open(d.path(), config);
    assert_eq!(sim.apply_networking(&n).await, Ok(Progress::Done));
    assert_eq!(
        twice!(sim, "node-a01", sim.apply_networking(&n)),
        Ok(Progress::Done)
    );
    let applied = machine(&sim, "node-a01").applied;
    assert_eq!(
        applied
            .iter()
            .filter(|s| s.as_str() == "apply_networking")
            .count(),
        1,
        "{applied:?}"
    );
}

/// Errors are classified: a step the machine is not ready for is permanent, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_out_of_order_is_a_permanent_error_twice() {
    let d = tempfile::tempdir().unwrap();
    let sim = open(d.path(), instant());
    let n = node("node-a01");
    sim.identify(&n).await.unwrap();
    let e = twice!(sim, "node-a01", sim.apply_storage(&n));
    assert_eq!(
        e,
        Err(DriverError::Permanent(
            "apply_storage: machine node-a01 is New, not Ready".into()
        ))
    );
    let e = twice!(sim, "node-a01", sim.deploy(&n));
    assert_eq!(
        e,
        Err(DriverError::Permanent(
            "deploy: node-a01 is New, not Ready".into()
        ))
    );
}

/// Commissioning a machine nobody identified is refused ("identify it first"), whether or not
/// its BMC was touched before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commissioning_before_identify_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let sim = open(d.path(), instant());
    // The BMC was touched: the machine exists, unknown to the provisioner.
    let touched = node("node-a01");
    sim.set_boot_device(&touched, BootDevice::Pxe)
        .await
        .unwrap();
    let e = sim.configure_hardware(&touched).await;
    assert!(
        matches!(&e, Err(DriverError::Permanent(m)) if m.contains("identify it first")),
        "{e:?}"
    );
    // Never touched at all.
    let fresh = node("node-a02");
    let e = sim.configure_hardware(&fresh).await;
    assert!(
        matches!(&e, Err(DriverError::Permanent(m)) if m.contains("identify it first")),
        "{e:?}; the machine is now {:?}",
        sim.machine("node-a02")
    );
}
