//! The libvirt BMC driver against a real libvirtd (started by the test in a namespace of its
//! own, `tests/netboot_support`) and a real QEMU domain: power on/off/cycle and state, the next
//! boot device written into the domain's definition, the inventory; and its errors, with the
//! same contract as the Redfish and IPMI drivers: a domain that does not exist or a missing
//! `virsh` is permanent and says what to do, a hypervisor that does not answer is transient.

mod netboot_support;
mod peers_support;

use drydock::driver::libvirt::{Libvirt, LibvirtOptions};
use drydock::driver::{BootDevice, NodeSpec, OobDriver, OobKind, OobSpec, PowerAction, Progress};
use drydock::model::observed::Power;

fn node(name: &str, uri: &str) -> NodeSpec {
    NodeSpec {
        name: name.into(),
        oob: OobSpec {
            kind: Some(OobKind::Libvirt),
            libvirt_uri: Some(uri.into()),
            ..OobSpec::default()
        },
        ..NodeSpec::default()
    }
}

fn boot_devices(lab: &netboot_support::Lab, name: &str) -> Vec<String> {
    let xml =
        String::from_utf8_lossy(&lab.virsh(&["dumpxml", "--inactive", name]).stdout).into_owned();
    xml.split("<boot dev='")
        .skip(1)
        .map(|s| s.split('\'').next().unwrap().to_string())
        .collect()
}

#[test]
fn libvirt_power_boot_device_inventory_and_errors() {
    let mut lab = netboot_support::Lab::start("libvirt-driver");
    lab.define("lv-node", "52:54:00:77:01:01", false);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let d = Libvirt::new(LibvirtOptions::default());
    let n = node("lv-node", "qemu:///system");

    assert_eq!(rt.block_on(d.power_state(&n)).unwrap(), Power::Off);
    assert_eq!(
        rt.block_on(d.set_boot_device(&n, BootDevice::Pxe)).unwrap(),
        Progress::Done
    );
    assert_eq!(boot_devices(&lab, "lv-node"), ["network", "hd"]);
    assert_eq!(
        rt.block_on(d.set_power(&n, PowerAction::On)).unwrap(),
        Progress::Done
    );
    assert_eq!(lab.domstate("lv-node"), "running");
    assert_eq!(rt.block_on(d.power_state(&n)).unwrap(), Power::On);
    // On when on does nothing; a cycle is a new QEMU process (a changed boot device applies).
    let id = |lab: &netboot_support::Lab| {
        String::from_utf8_lossy(&lab.virsh(&["domid", "lv-node"]).stdout)
            .trim()
            .to_string()
    };
    let before = id(&lab);
    rt.block_on(d.set_power(&n, PowerAction::On)).unwrap();
    assert_eq!(id(&lab), before, "idempotent");
    rt.block_on(d.set_power(&n, PowerAction::Cycle)).unwrap();
    assert_eq!(lab.domstate("lv-node"), "running");
    assert_ne!(id(&lab), before, "cycled");
    assert_eq!(
        rt.block_on(d.set_boot_device(&n, BootDevice::Disk))
            .unwrap(),
        Progress::Done
    );
    assert_eq!(boot_devices(&lab, "lv-node"), ["hd"]);
    rt.block_on(d.set_power(&n, PowerAction::Off)).unwrap();
    assert_eq!(lab.domstate("lv-node"), "shut off");
    rt.block_on(d.set_power(&n, PowerAction::Off)).unwrap();

    let inv = rt.block_on(d.interrogate(&n)).unwrap();
    assert_eq!(inv.macs, ["52:54:00:77:01:01"]);
    assert_eq!(inv.cpus, Some(1));
    assert!(
        inv.serial.as_deref().is_some_and(|s| s.len() == 36),
        "{inv:?}"
    );

    // Errors.
    let e = rt
        .block_on(d.power_state(&node("no-such-vm", "qemu:///system")))
        .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    assert!(
        e.to_string()
            .contains("no libvirt domain named `no-such-vm`"),
        "{e}"
    );
    let e = rt
        .block_on(d.power_state(&node("lv-node", "qemu+tcp://127.0.0.1:1/system")))
        .unwrap_err();
    assert!(e.is_transient(), "a hypervisor that does not answer: {e}");
    let mut no_uri = node("lv-node", "");
    no_uri.oob.libvirt_uri = None;
    let e = rt.block_on(d.power_state(&no_uri)).unwrap_err();
    assert!(
        !e.is_transient() && e.to_string().contains("no oob.libvirt_uri"),
        "{e}"
    );
    let missing = Libvirt::new(LibvirtOptions {
        virsh: "/nonexistent/virsh".into(),
        ..LibvirtOptions::default()
    });
    let e = rt.block_on(missing.power_state(&n)).unwrap_err();
    assert!(
        !e.is_transient() && e.to_string().contains("libvirt-clients"),
        "{e}"
    );
}
