//! The cloud-init documents drydock generates pass cloud-init's own schema check (`cloud-init
//! schema`, Debian's cloud-init; `./scripts/test.sh` installs it): the NoCloud user-data of the
//! image mode and the Ubuntu autoinstall user-data of the installer mode, with the user-data it
//! carries checked on its own too (cloud-init does not look inside the `autoinstall` key). A
//! broken document is rejected by the same check, so the check is known to run.

use std::path::Path;
use std::process::Command;

use drydock::boot::cloudinit::{self, ActionContext};

const DESIGN: &str = r#"schema: drydock/Region/v1
metadata: {schema: metadata/Document/v1, name: cilab}
data:
  authorized_keys: [ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIcloudinit test@lab]
  repositories:
    remove_unlisted: false
    local:
      repo_type: apt
      url: http://mirror.example/ubuntu
      distributions: [jammy]
      components: [main, universe]
---
schema: drydock/Network/v1
metadata: {schema: metadata/Document/v1, name: pxe}
data: {cidr: 10.91.0.0/24, dns: {domain: ci.test, servers: 10.91.0.1}}
---
schema: drydock/NetworkLink/v1
metadata: {schema: metadata/Document/v1, name: l}
data: {trunking: {mode: disabled, default_network: pxe}, allowed_networks: [pxe]}
---
schema: drydock/HardwareProfile/v1
metadata: {schema: metadata/Document/v1, name: hw}
data: {boot_mode: uefi}
---
schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n1}
data:
  hardware_profile: hw
  primary_network: pxe
  platform: {image: jammy}
  metadata: {boot_mac: '52:54:00:91:00:01'}
  storage:
    physical_devices:
      sda:
        partitions:
          - {name: efi, size: 512mb, filesystem: {mountpoint: /boot/efi, fstype: vfat}}
          - {name: root, size: 30g, filesystem: {mountpoint: /}}
          - {name: pv, size: '>10g', volume_group: data}
    volume_groups:
      data:
        logical_volumes:
          - {name: srv, size: 90%, filesystem: {mountpoint: /srv}}
  interfaces:
    pxe: {device_link: l, slaves: [eno1], networks: [pxe]}
  addressing:
    - {network: pxe, address: 10.91.0.11}
---
schema: drydock/BootAction/v1
metadata: {schema: metadata/Document/v1, name: base}
data:
  assets:
    - type: pkg_list
      data: {chrony: '4.2-2ubuntu2', jq: null}
    - type: unit
      path: /etc/systemd/system/hello.service
      permissions: '644'
      data: "[Unit]\nDescription=hello {{ node.hostname }}\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"
      data_pipeline: [utf8_decode, template]
    - type: file
      path: /etc/hello
      permissions: '600'
      data: aGVsbG8K
      data_pipeline: [base64_decode]
"#;

fn schema_check(file: &Path) -> (bool, String) {
    let out = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cloud-init is not installed ({e}): run ./scripts/test.sh (scripts/install-netboot.sh installs it)"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn generated_user_data_passes_cloud_init_schema() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("design")).unwrap();
    std::fs::write(d.path().join("design/site.yaml"), DESIGN).unwrap();
    let loaded =
        drydock::cli::session::load(&[d.path().join("design")], drydock::cli::ColorChoice::Never)
            .unwrap_or_else(|e| panic!("{}", e.render()));
    let (_, nodes) = drydock::cli::serve::specs(&loaded.site);
    let n = &nodes[0];
    let cx = ActionContext {
        key: "k".into(),
        report_url: "http://10.91.0.1:8081/api/v1.0/bootactions/x".into(),
        action_id: "x".into(),
        design_ref: "d".into(),
    };
    let actions: Vec<_> = n
        .boot_actions
        .iter()
        .map(|a| (a.as_ref(), cx.clone()))
        .collect();

    let ud = cloudinit::user_data(n, &actions).unwrap();
    assert!(
        ud.contains("hello.service") && ud.contains("mirror.example"),
        "{ud}"
    );
    let f = d.path().join("user-data");
    std::fs::write(&f, &ud).unwrap();
    let (ok, msg) = schema_check(&f);
    assert!(ok, "user-data fails cloud-init schema: {msg}\n{ud}");

    let auto = cloudinit::autoinstall(
        n,
        &actions,
        "http://10.91.0.1:8081/api/v1/agent/n1/done",
        "tok",
    )
    .unwrap();
    let f = d.path().join("autoinstall");
    std::fs::write(&f, &auto).unwrap();
    let (ok, msg) = schema_check(&f);
    assert!(
        ok,
        "autoinstall user-data fails cloud-init schema: {msg}\n{auto}"
    );
    let v: serde_json::Value =
        serde_json::from_str(auto.trim_start_matches("#cloud-config\n")).unwrap();
    let inner = format!("#cloud-config\n{}\n", v["autoinstall"]["user-data"]);
    let f = d.path().join("autoinstall-user-data");
    std::fs::write(&f, &inner).unwrap();
    let (ok, msg) = schema_check(&f);
    assert!(
        ok,
        "the autoinstall's user-data fails cloud-init schema: {msg}\n{inner}"
    );
    let storage = v["autoinstall"]["storage"]["config"].as_array().unwrap();
    assert!(
        storage
            .iter()
            .any(|a| a["type"] == "lvm_volgroup" && a["name"] == "data"),
        "{auto}"
    );

    // The check can fail: a document with a wrongly typed field is rejected.
    let f = d.path().join("broken");
    std::fs::write(
        &f,
        "#cloud-config\n{\"write_files\": [{\"permissions\": 644}]}\n",
    )
    .unwrap();
    assert!(
        !schema_check(&f).0,
        "cloud-init schema accepted a broken document"
    );
}
