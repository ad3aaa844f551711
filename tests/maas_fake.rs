//! The MAAS fake keeps MAAS's semantics (as MAAS's own source defines them), checked with raw HTTP
//! requests so drydock's client plays no part: OAuth refusals with their exact texts and the
//! challenge header, `op=` dispatch and its 400s and 405s, the 404 catch-all and the
//! trailing-slash rule (and the partition detail URL's exception), form bodies (urlencoded,
//! multipart, repeated keys; JSON ignored), the status machine with its 409/400 texts, the
//! asynchronous transitions on the test's clock, and the per-machine faults.

mod maas_support;

use std::time::Duration;

use maas_support::{ClockMode, Faults, KEY, Raw, St, now_secs, start};

const API: &str = "/MAAS/api/2.0/";

fn api(p: &str) -> String {
    format!("{API}{p}")
}

/// A machine enlisted with an IPMI BMC and commission=false: New.
fn enlist(raw: &Raw, host: &str, mac: &str) -> String {
    let a = raw.call(
        "POST",
        &api("machines/"),
        &[
            ("architecture", "amd64/generic"),
            ("mac_addresses", mac),
            ("hostname", host),
            ("power_type", "ipmi"),
            ("power_parameters_power_address", "10.0.0.1"),
            ("power_parameters_power_pass", "pw"),
            ("commission", "false"),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["status"], 0);
    v["system_id"].as_str().unwrap().to_string()
}

fn status(raw: &Raw, sid: &str) -> u64 {
    raw.get(&api(&format!("machines/{sid}/"))).json()["status"]
        .as_u64()
        .unwrap()
}

#[test]
fn versions_need_no_login_and_1_0_is_gone() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let a = raw.send("GET", "/MAAS/api/version/", None, None);
    assert_eq!((a.status, a.body.as_str()), (200, "2.0"));
    let a = raw.send("GET", &api("version/"), None, None);
    assert_eq!(a.status, 200);
    assert!(a.json()["capabilities"].is_array());
    let a = raw.send("GET", "/MAAS/api/1.0/machines/", None, None);
    assert_eq!(a.status, 410);
    assert_eq!(
        a.body,
        "The 1.0 API is no longer available. Please use API version 2.0."
    );
}

#[test]
fn oauth_refusals_have_maas_texts() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let p: Vec<&str> = KEY.split(':').collect();
    let path = api("users/?op=whoami");
    // No login at all: 401 `Forbidden`, no challenge.
    let a = raw.send("GET", &path, None, None);
    assert_eq!((a.status, a.body.as_str()), (401, "Forbidden"));
    assert!(a.header("www-authenticate").is_none());
    // The right key works.
    let a = raw.send("GET", &path, Some(raw.header()), None);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["username"], "admin");
    // A wrong token.
    let h = raw.header_with(p[0], "nottheToken", p[2], "n1", now_secs());
    let a = raw.send("GET", &path, Some(h), None);
    assert_eq!(a.status, 401);
    assert_eq!(
        a.body,
        "Authorization Error: 'Invalid access token: nottheToken'"
    );
    assert_eq!(a.header("www-authenticate"), Some("OAuth realm=\"OAuth\""));
    // A wrong consumer.
    let h = raw.header_with("nope", p[1], p[2], "n2", now_secs());
    let a = raw.send("GET", &path, Some(h), None);
    assert_eq!(
        (a.status, a.body.as_str()),
        (401, "Authorization Error: Invalid API key.")
    );
    // A wrong signature.
    let h = raw.header_with(p[0], p[1], "wrong", "n3", now_secs());
    let a = raw.send("GET", &path, Some(h), None);
    assert_eq!(a.status, 401);
    assert!(
        a.body
            .starts_with("Authorization Error: 'Invalid signature."),
        "{}",
        a.body
    );
    // A timestamp more than 300 s old.
    let old = now_secs() - 301;
    let h = raw.header_with(p[0], p[1], p[2], "n4", old);
    let a = raw.send("GET", &path, Some(h), None);
    assert_eq!(a.status, 401);
    assert!(
        a.body.starts_with(&format!(
            "Authorization Error: 'Expired timestamp: given {old} and now "
        )),
        "{}",
        a.body
    );
    assert!(
        a.body
            .contains("has a greater difference than threshold 300")
    );
    // A nonce used twice.
    let h = raw.header_with(p[0], p[1], p[2], "once", now_secs());
    assert_eq!(raw.send("GET", &path, Some(h.clone()), None).status, 200);
    let a = raw.send("GET", &path, Some(h), None);
    assert_eq!(
        (a.status, a.body.as_str()),
        (401, "Authorization Error: 'Nonce already used: once'")
    );
    // A non-integer timestamp is a 400.
    let h = raw
        .header_with(p[0], p[1], p[2], "n5", 0)
        .replace("oauth_timestamp=\"0\"", "oauth_timestamp=\"soon\"");
    assert_eq!(raw.send("GET", &path, Some(h), None).status, 400);
}

#[test]
fn anonymous_machines_routes_enlist_or_fail_dispatch() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let a = raw.send("GET", &api("machines/"), None, None);
    assert_eq!(
        (a.status, a.body.as_str()),
        (400, "Unrecognised signature: method=GET op=None")
    );
    // Anonymous POST enlists (and never commissions).
    let body =
        b"architecture=amd64%2Fgeneric&mac_addresses=52%3A54%3A00%3A00%3A00%3A01&power_type=manual"
            .to_vec();
    let a = raw.send(
        "POST",
        &api("machines/"),
        None,
        Some(("application/x-www-form-urlencoded", body)),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["status"], 0);
    let a = raw.send(
        "GET",
        &api("machines/?op=is_registered&mac_address=52:54:00:00:00:01"),
        None,
        None,
    );
    assert_eq!(a.body, "true");
}

#[test]
fn trailing_slash_is_mandatory_except_for_the_partition_detail() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let a = raw.get(&api("machines"));
    assert_eq!(a.status, 404);
    assert_eq!(a.body, "Unknown API endpoint: /MAAS/api/2.0/machines.");
    assert_eq!(raw.get("/elsewhere/").status, 404);
    let sid = enlist(&raw, "n1", "52:54:00:00:00:02");
    assert_eq!(
        raw.call("POST", &api(&format!("machines/{sid}/?op=commission")), &[])
            .status,
        200
    );
    f.advance(Duration::from_secs(200));
    let disks = raw.get(&api(&format!("nodes/{sid}/blockdevices/"))).json();
    let disk = disks[0]["id"].as_u64().unwrap();
    let part = disks[0]["partitions"][0]["id"].as_u64().unwrap();
    let detail = api(&format!("nodes/{sid}/blockdevices/{disk}/partition/{part}"));
    assert_eq!(raw.get(&detail).status, 200);
    assert_eq!(raw.get(&format!("{detail}/")).status, 404);
    assert_eq!(
        raw.get(&api(&format!(
            "nodes/{sid}/blockdevices/{disk}/partitions/{part}"
        )))
        .status,
        200
    );
}

#[test]
fn op_dispatch_from_query_body_or_suffix_and_its_errors() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let a = raw.call("POST", &api("machines/?op=foo"), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (400, "Unrecognised signature: method=POST op=foo")
    );
    // whoami is a GET op: POST is the wrong method.
    let a = raw.call("POST", &api("users/?op=whoami"), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (400, "Unrecognised signature: method=POST op=whoami")
    );
    // op in the body, and as a path suffix.
    let sid = enlist(&raw, "n1", "52:54:00:00:00:03");
    let a = raw.call(
        "POST",
        &api(&format!("machines/{sid}/")),
        &[("op", "commission")],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["status"], 1);
    let a = raw.call("POST", &api(&format!("machines/{sid}/op-abort")), &[]);
    assert_eq!(a.status, 200, "{}", a.body);
    // A method with no CRUD handler: 405.
    assert_eq!(
        raw.call("PUT", &api("machines/"), &[("x", "1")]).status,
        405
    );
    // Unknown machine.
    let a = raw.get(&api("machines/zzzzzz/"));
    assert_eq!(
        (a.status, a.body.as_str()),
        (404, "No Machine matches the given query.")
    );
}

#[test]
fn bodies_are_forms_with_repeated_keys_and_json_is_not_read() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    // Multipart, as python-libmaas sends it, with two MACs.
    let b = "XyZ";
    let mut body = String::new();
    for (k, v) in [
        ("architecture", "amd64"),
        ("mac_addresses", "52:54:00:00:01:01"),
        ("mac_addresses", "52:54:00:00:01:02"),
        ("power_type", "manual"),
        ("commission", "false"),
    ] {
        body.push_str(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{b}--\r\n"));
    let a = raw.send(
        "POST",
        &api("machines/"),
        Some(raw.header()),
        Some((
            &format!("multipart/form-data; boundary={b}"),
            body.into_bytes(),
        )),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["architecture"], "amd64/generic");
    assert_eq!(v["interface_set"].as_array().unwrap().len(), 2);
    // A MAC in use: the form error MAAS gives.
    let a = raw.call(
        "POST",
        &api("machines/"),
        &[
            ("architecture", "amd64/generic"),
            ("mac_addresses", "52:54:00:00:01:02"),
            ("power_type", "manual"),
        ],
    );
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["mac_addresses"][0],
        format!(
            "MAC address 52:54:00:00:01:02 already in use on {}.",
            v["hostname"].as_str().unwrap()
        )
    );
    // JSON is not form data: the fields are not seen.
    let a = raw.send(
        "POST",
        &api("machines/"),
        Some(raw.header()),
        Some((
            "application/json",
            br#"{"architecture":"amd64/generic","mac_addresses":["52:54:00:00:01:09"]}"#.to_vec(),
        )),
    );
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["architecture"][0], "This field is required.");
    // An architecture no boot resource offers (two spaces before "It").
    let a = raw.call(
        "POST",
        &api("machines/"),
        &[
            ("architecture", "arm64/generic"),
            ("mac_addresses", "52:54:00:00:01:0a"),
        ],
    );
    assert!(a.json()["architecture"][0].as_str().unwrap().starts_with(
        "'arm64/generic' is not a valid architecture.  It should be one of: amd64/generic"
    ));
}

#[test]
fn the_status_machine_with_maas_texts_on_the_tests_clock() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let sid = enlist(&raw, "n1", "52:54:00:00:02:01");
    let m = |op: &str| api(&format!("machines/{sid}/?op={op}"));
    // Wrong states.
    let a = raw.call("POST", &m("deploy"), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (409, "Can't deploy a machine that is in the 'New' state")
    );
    let a = raw.call("POST", &m("release"), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            "Machine cannot be released in its current state ('New')."
        )
    );
    let a = raw.call("POST", &m("abort"), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            format!("Cannot abort in current state: node {sid} is in state New.").as_str()
        )
    );
    // Commission: 1, then Testing, then Ready, on the test's clock only.
    assert_eq!(raw.call("POST", &m("commission"), &[]).json()["status"], 1);
    assert_eq!(status(&raw, &sid), 1);
    f.advance(Duration::from_secs(119));
    assert_eq!(status(&raw, &sid), 1);
    f.advance(Duration::from_secs(1));
    assert_eq!(status(&raw, &sid), 21);
    f.advance(Duration::from_secs(30));
    assert_eq!(status(&raw, &sid), 4);
    // Commissioning found the hardware: NICs with MACs and names, disks with sizes.
    let v = raw.get(&api(&format!("machines/{sid}/"))).json();
    let names: Vec<&str> = v["interface_set"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["eno1", "enp59s0f0", "enp59s0f1"]);
    assert_eq!(
        v["physicalblockdevice_set"][1]["size"],
        1_919_850_381_312u64
    );
    assert!(
        v["physicalblockdevice_set"][0]["serial"]
            .as_str()
            .unwrap()
            .starts_with("61866da0")
    );
    assert_eq!(v["owner"], serde_json::Value::Null);
    // Ready → Deploying needs the storage and network MAAS checks.
    let a = raw.call(
        "POST",
        &m("set_storage_layout"),
        &[("storage_layout", "blank")],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let a = raw.call("POST", &m("deploy"), &[("distro_series", "jammy")]);
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["network"][0],
        "Node must be configured to use a network"
    );
    // Partitions are made on Ready only; a bad kernel is refused.
    let disk = v["physicalblockdevice_set"][0]["id"].as_u64().unwrap();
    let a = raw.call(
        "POST",
        &api(&format!("nodes/{sid}/blockdevices/{disk}/partitions/")),
        &[("size", "30000000000")],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let pid = a.json()["id"].as_u64().unwrap();
    let part = api(&format!("nodes/{sid}/blockdevices/{disk}/partition/{pid}"));
    assert_eq!(
        raw.call("POST", &format!("{part}?op=format"), &[("fstype", "ext4")])
            .status,
        200
    );
    assert_eq!(
        raw.call("POST", &format!("{part}?op=mount"), &[("mount_point", "/")])
            .status,
        200
    );
    // Link the boot NIC to a subnet on its VLAN.
    let sn = raw.call(
        "POST",
        &api("subnets/"),
        &[("cidr", "10.9.0.0/24"), ("gateway_ip", "10.9.0.1")],
    );
    assert_eq!(sn.status, 200, "{}", sn.body);
    let sn = sn.json()["id"].as_u64().unwrap().to_string();
    let iface = v["interface_set"][0]["id"].as_u64().unwrap();
    let link = api(&format!("nodes/{sid}/interfaces/{iface}/?op=link_subnet"));
    let a = raw.call(
        "POST",
        &link,
        &[
            ("mode", "STATIC"),
            ("subnet", &sn),
            ("ip_address", "10.8.0.5"),
        ],
    );
    assert_eq!(
        a.json()["ip_address"][0],
        "IP address is not in the given subnet '10.9.0.0/24'."
    );
    let a = raw.call(
        "POST",
        &link,
        &[
            ("mode", "DHCP"),
            ("subnet", &sn),
            ("default_gateway", "true"),
        ],
    );
    assert_eq!(a.json()["default_gateway"][0], "Cannot use in mode 'dhcp'.");
    let a = raw.call(
        "POST",
        &link,
        &[
            ("mode", "STATIC"),
            ("subnet", &sn),
            ("ip_address", "10.9.0.5"),
            ("default_gateway", "true"),
        ],
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let a = raw.call(
        "POST",
        &m("deploy"),
        &[("distro_series", "jammy"), ("hwe_kernel", "hwe-99.04")],
    );
    assert_eq!(
        a.json()["hwe_kernel"][0],
        "hwe-99.04 is not available for ubuntu/jammy on amd64/generic."
    );
    let a = raw.call("POST", &m("deploy"), &[("distro_series", "ubuntu/x")]);
    assert!(
        a.json()["distro_series"][0]
            .as_str()
            .unwrap()
            .starts_with("'ubuntu/x' is not a valid distro_series.  It should be one of: ")
    );
    // Allocate, then deploy: 9 at once, Deployed later.
    let a = raw.call(
        "POST",
        &api("machines/?op=allocate"),
        &[("system_id", &sid)],
    );
    assert_eq!(a.json()["status"], 10);
    let a = raw.call(
        "POST",
        &api("machines/?op=allocate"),
        &[("system_id", &sid)],
    );
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            format!("No machine with system ID {sid} available.").as_str()
        )
    );
    let a = raw.call(
        "POST",
        &api(&format!("nodes/{sid}/blockdevices/{disk}/partitions/")),
        &[],
    );
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            "Cannot create partition because the node is not Ready."
        )
    );
    let a = raw.call(
        "POST",
        &m("deploy"),
        &[("distro_series", "jammy"), ("hwe_kernel", "hwe-22.04")],
    );
    assert_eq!(a.json()["status"], 9);
    // The interface gate while deploying.
    let a = raw.call("POST", &link, &[("mode", "DHCP"), ("subnet", &sn)]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            "Cannot link subnet interface because the machine is not New, Ready, Allocated, or Broken."
        )
    );
    f.advance(Duration::from_secs(600));
    let v = raw.get(&api(&format!("machines/{sid}/"))).json();
    assert_eq!(
        (
            v["status"].as_u64(),
            v["distro_series"].as_str(),
            v["hwe_kernel"].as_str()
        ),
        (Some(6), Some("jammy"), Some("hwe-22.04"))
    );
    let a = raw.call("POST", &m("deploy"), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            "Can't deploy a machine that is in the 'Deployed' state"
        )
    );
    let a = raw.call("POST", &m("commission"), &[]);
    assert_eq!(a.status, 400);
    assert_eq!(
        a.json()["__all__"][0],
        "Commission is not available because of the current state of the node."
    );
    // Release with erase: Disk erasing, then Ready with the OS cleared.
    assert_eq!(
        raw.call("POST", &m("release"), &[("erase", "true")]).json()["status"],
        14
    );
    f.advance(Duration::from_secs(60));
    let v = raw.get(&api(&format!("machines/{sid}/"))).json();
    assert_eq!(
        (
            v["status"].as_u64(),
            v["distro_series"].as_str(),
            &v["owner"]
        ),
        (Some(4), Some(""), &serde_json::Value::Null)
    );
    // Ready → release is a no-op 200.
    assert_eq!(raw.call("POST", &m("release"), &[]).status, 200);
}

#[test]
fn faults_revert_time_out_and_answer_503() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    // BMC unreachable: commissioning reverts to New with MAAS's event.
    let sid = enlist(&raw, "bmc", "52:54:00:00:03:01");
    f.set_faults(
        "bmc",
        Faults {
            bmc_unreachable: true,
            ..Default::default()
        },
    );
    assert_eq!(
        raw.call("POST", &api(&format!("machines/{sid}/?op=commission")), &[])
            .json()["status"],
        1
    );
    f.advance(Duration::from_secs(5));
    let v = raw.get(&api(&format!("machines/{sid}/"))).json();
    assert_eq!(v["status"], 0);
    assert_eq!(
        v["status_message"],
        "Aborting COMMISSIONING and reverting to NEW. Unable to power control the node. Please check power credentials."
    );
    // Commissioning failure.
    let sid = enlist(&raw, "cf", "52:54:00:00:03:02");
    f.set_faults(
        "cf",
        Faults {
            commission_fail: true,
            ..Default::default()
        },
    );
    raw.call("POST", &api(&format!("machines/{sid}/?op=commission")), &[]);
    f.advance(Duration::from_secs(120));
    assert_eq!(f.status_of("cf"), Some(St::FAILED_COMMISSIONING));
    // 503 with Retry-After, then normal answers.
    f.set_faults(
        "cf",
        Faults {
            unavailable: 1,
            retry_after_secs: 10,
            ..Default::default()
        },
    );
    let a = raw.get(&api(&format!("machines/{sid}/")));
    assert_eq!((a.status, a.header("retry-after")), (503, Some("10")));
    assert_eq!(raw.get(&api(&format!("machines/{sid}/"))).status, 200);
}

#[test]
fn a_deploy_that_never_signals_fails_after_30_minutes_and_needs_a_release() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let sid = enlist(&raw, "quiet", "52:54:00:00:04:01");
    f.set_faults(
        "quiet",
        Faults {
            deploy_no_signal: true,
            ..Default::default()
        },
    );
    raw.call(
        "POST",
        &api(&format!("machines/{sid}/?op=commission")),
        &[("testing_scripts", "none")],
    );
    f.advance(Duration::from_secs(120));
    assert_eq!(f.status_of("quiet"), Some(St::READY));
    // MAAS's default layout mounts `/`; link the boot NIC so the deploy is accepted.
    let sn = raw
        .call("POST", &api("subnets/"), &[("cidr", "10.7.0.0/24")])
        .json()["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let v = raw.get(&api(&format!("machines/{sid}/"))).json();
    let iface = v["interface_set"][0]["id"].as_u64().unwrap();
    raw.call(
        "POST",
        &api(&format!("nodes/{sid}/interfaces/{iface}/?op=link_subnet")),
        &[("mode", "AUTO"), ("subnet", &sn)],
    );
    let a = raw.call("POST", &api(&format!("machines/{sid}/?op=deploy")), &[]);
    assert_eq!(a.json()["status"], 9, "{}", a.body);
    f.advance(Duration::from_secs(29 * 60));
    assert_eq!(f.status_of("quiet"), Some(St::DEPLOYING));
    f.advance(Duration::from_secs(60));
    let v = raw.get(&api(&format!("machines/{sid}/"))).json();
    assert_eq!(v["status"], 11);
    assert_eq!(
        v["error_description"],
        "Node operation 'Deploying' timed out after 30 minutes."
    );
    let a = raw.call("POST", &api(&format!("machines/{sid}/?op=deploy")), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            "Can't deploy a machine that is in the 'Failed deployment' state"
        )
    );
    assert_eq!(
        raw.call("POST", &api(&format!("machines/{sid}/?op=release")), &[])
            .status,
        200
    );
}

#[test]
fn vlan_dhcp_gates_and_ranges() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let fab = raw.call("POST", &api("fabrics/"), &[("name", "gp")]).json();
    let fid = fab["id"].as_u64().unwrap();
    assert_eq!(fab["vlans"][0]["vid"], 0);
    let v = raw.call(
        "POST",
        &api(&format!("fabrics/{fid}/vlans/")),
        &[("vid", "102"), ("mtu", "9000")],
    );
    assert_eq!(v.status, 200, "{}", v.body);
    let vlan = v.json()["id"].as_u64().unwrap().to_string();
    let vurl = api(&format!("fabrics/{fid}/vlans/102/"));
    assert_eq!(raw.get(&vurl).json()["mtu"], 9000);
    let a = raw.call("PUT", &vurl, &[("dhcp_on", "true")]);
    assert_eq!(
        a.json()["__all__"][0],
        "dhcp can only be turned on when a primary rack controller is set."
    );
    let a = raw.call(
        "PUT",
        &vurl,
        &[("dhcp_on", "true"), ("primary_rack", "rackc1")],
    );
    assert_eq!(
        a.json()["dhcp_on"][0],
        "dhcp can only be turned on when a dynamic IP range is defined."
    );
    let a = raw.call(
        "POST",
        &api("subnets/"),
        &[
            ("cidr", "10.2.0.0/24"),
            ("vlan", &vlan),
            ("dns_servers", "10.2.0.5,10.2.0.6"),
        ],
    );
    assert_eq!(
        a.json()["dns_servers"],
        serde_json::json!(["10.2.0.5", "10.2.0.6"])
    );
    let a = raw.call(
        "POST",
        &api("ipranges/"),
        &[
            ("type", "dynamic"),
            ("start_ip", "10.2.0.200"),
            ("end_ip", "10.2.0.100"),
        ],
    );
    assert_eq!(
        a.json()["end_ip"][0],
        "End IP address must not be less than Start IP address."
    );
    assert_eq!(
        raw.call(
            "POST",
            &api("ipranges/"),
            &[
                ("type", "dynamic"),
                ("start_ip", "10.2.0.100"),
                ("end_ip", "10.2.0.200")
            ]
        )
        .status,
        200
    );
    let a = raw.call(
        "PUT",
        &vurl,
        &[("dhcp_on", "true"), ("primary_rack", "rackc1")],
    );
    assert_eq!(a.json()["dhcp_on"], true, "{}", a.body);
    let a = raw.call(
        "POST",
        &api("subnets/"),
        &[("cidr", "10.3.0.0/24"), ("space", "x")],
    );
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            400,
            "Spaces may no longer be set on subnets. Set the space on the underlying VLAN."
        )
    );
    let a = raw.call("GET", &api("boot-resources/?type=x"), &[]);
    assert_eq!(
        a.body,
        "'x' is not a valid boot resource type. Available types: ['synced', 'uploaded']"
    );
}

#[test]
fn ownership_filters_tags_and_layout_gates() {
    let f = start(ClockMode::Manual);
    let raw = Raw::new(f.addr);
    let sid = enlist(&raw, "n1", "52:54:00:00:05:01");
    let m = |op: &str| api(&format!("machines/{sid}/?op={op}"));
    // mark_broken needs the caller to own the machine, admin or not: 403 with no body.
    let a = raw.call("POST", &m("mark_broken"), &[]);
    assert_eq!((a.status, a.body.as_str()), (403, ""));
    let a = raw.call("POST", &m("mark_fixed"), &[]);
    assert_eq!(
        (a.status, a.body.as_str()),
        (409, "Can't mark a non-broken node as 'Ready'.")
    );
    let a = raw.call(
        "POST",
        &m("set_storage_layout"),
        &[("storage_layout", "flat")],
    );
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            "Cannot change the storage layout on a machine that is not Ready."
        )
    );
    // Filters: lower-case status names, MACs checked.
    assert_eq!(
        raw.get(&api("machines/?status=new"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        raw.get(&api("machines/?status=ready"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        raw.get(&api("machines/?hostname=nobody")).json(),
        serde_json::json!([])
    );
    let a = raw.get(&api("machines/?mac_address=nonsense"));
    assert_eq!(
        (a.status, a.body.as_str()),
        (400, "Invalid parameter: invalid MAC address format")
    );
    // Tags: update_nodes adds and removes, and refuses a definition that differs.
    assert_eq!(
        raw.call(
            "POST",
            &api("tags/"),
            &[("name", "t1"), ("kernel_opts", "quiet")]
        )
        .status,
        200
    );
    let a = raw.call("POST", &api("tags/t1/?op=update_nodes"), &[("add", &sid)]);
    assert_eq!(a.json(), serde_json::json!({"added": 1, "removed": 0}));
    assert_eq!(
        raw.get(&api(&format!("machines/{sid}/"))).json()["tag_names"],
        serde_json::json!(["t1"])
    );
    let a = raw.call(
        "POST",
        &api("tags/t1/?op=update_nodes"),
        &[("definition", "//node"), ("remove", &sid)],
    );
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            409,
            "Definition supplied '//node' doesn't match current definition ''"
        )
    );
    let a = raw.call(
        "POST",
        &api("tags/t1/?op=update_nodes"),
        &[("remove", &sid)],
    );
    assert_eq!(a.json(), serde_json::json!({"added": 0, "removed": 1}));
    // Owner data: set, and an empty value removes the key.
    raw.call("POST", &m("set_owner_data"), &[("a", "1"), ("b", "2")]);
    let v = raw.call("POST", &m("set_owner_data"), &[("a", "")]).json();
    assert_eq!(v["owner_data"], serde_json::json!({"b": "2"}));
    // DELETE answers 204.
    let a = raw.call("DELETE", &api(&format!("machines/{sid}/")), &[]);
    assert_eq!(a.status, 204);
    assert_eq!(raw.get(&api(&format!("machines/{sid}/"))).status, 404);
}
