//! The `drydock` command line: exit codes, every output format parsed back, rules and explain.

use assert_cmd::Command;
use serde_json::Value;

fn drydock() -> Command {
    Command::cargo_bin("drydock").unwrap()
}

/// A small design with one error (DD2005) and one warning (DD000, an unquoted MAC).
fn broken_design() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut text = drydock::validate::examples::compose(
        r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {boot_mac: 52:54:00:00:00:02}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: mgmt, address: 172.16.2.11}
"#,
    );
    text.push('\n');
    std::fs::write(d.path().join("site.yaml"), text).unwrap();
    d
}

#[test]
fn demo_site_validates_clean() {
    let out = drydock()
        .args(["validate", "designs/demo"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("0 errors, 0 warnings"), "{stdout}");
}

#[test]
fn exit_codes_follow_errors_and_deny_warnings() {
    let d = broken_design();
    drydock().arg("validate").arg(d.path()).assert().code(1);
    drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--skip", "DD2005"])
        .assert()
        .code(0);
    drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--skip", "DD2005", "--deny-warnings"])
        .assert()
        .code(1);
    drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--rule", "DD2011"])
        .assert()
        .code(0);
}

#[test]
fn human_output_has_code_snippet_help_and_summary() {
    let d = broken_design();
    let out = drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--color", "never"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("DD2005(duplicate-ips)"), "{s}");
    assert!(s.contains("172.16.2.11"), "{s}");
    assert!(s.contains("help:"), "{s}");
    assert!(s.contains("site.yaml:"), "{s}");
    assert!(s.contains("1 error, 1 warning in 1 file"), "{s}");
}

#[test]
fn quiet_prints_errors_only() {
    let d = broken_design();
    let out = drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--quiet", "--color", "never"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("DD2005") && !s.contains("DD000"), "{s}");
    let out = drydock()
        .args(["validate", "designs/demo", "--quiet"])
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
}

#[test]
fn json_output_shape() {
    let d = broken_design();
    let out = drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--format", "json"])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["version"], 1);
    assert_eq!(j["summary"]["errors"], 1);
    assert_eq!(j["summary"]["warnings"], 1);
    assert_eq!(j["summary"]["passed"], false);
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "DD2005")
        .unwrap();
    assert_eq!(f["rule"], "duplicate-ips");
    assert_eq!(f["severity"], "error");
    assert!(
        f["location"]["file"]
            .as_str()
            .unwrap()
            .ends_with("site.yaml")
    );
    assert!(f["location"]["line"].as_u64().unwrap() > 1);
    assert_eq!(f["documents"][0]["kind"], "BaremetalNode");
    assert_eq!(f["documents"][0]["name"], "n2");
    assert_eq!(f["nodes"][0], "n2");
    assert_eq!(f["related"][0]["message"], "first assigned here");
}

#[test]
fn sarif_output_has_the_required_fields() {
    let d = broken_design();
    let out = drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--format", "sarif"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("example.invalid"));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["version"], "2.1.0");
    assert!(j["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &j["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "drydock");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), drydock::validate::all_rules().len());
    for r in rules {
        assert!(r["id"].is_string() && r["shortDescription"]["text"].is_string());
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(["error", "warning"].contains(&r["level"].as_str().unwrap()));
        assert!(r["message"]["text"].is_string());
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap() >= 1);
        assert!(region["startColumn"].as_u64().unwrap() >= 1);
        assert!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("site.yaml")
        );
    }
}

#[test]
fn junit_output_has_one_case_per_rule() {
    use quick_xml::events::Event;
    let d = broken_design();
    let out = drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--format", "junit"])
        .output()
        .unwrap();
    let mut reader = quick_xml::Reader::from_reader(out.stdout.as_slice());
    let (mut cases, mut failures, mut failing_case) = (0, 0, String::new());
    let mut current = String::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase" => {
                cases += 1;
                current = e
                    .try_get_attribute("name")
                    .unwrap()
                    .unwrap()
                    .unescape_value()
                    .unwrap()
                    .into_owned();
            }
            Event::Start(e) if e.name().as_ref() == b"failure" => {
                failures += 1;
                failing_case = current.clone();
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    assert_eq!(cases, drydock::validate::all_rules().len());
    assert_eq!(failures, 1);
    assert_eq!(failing_case, "DD2005 duplicate-ips");
}

#[test]
fn github_output_is_workflow_commands() {
    let d = broken_design();
    let out = drydock()
        .arg("validate")
        .arg(d.path())
        .args(["--format", "github"])
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    let err = s.lines().find(|l| l.starts_with("::error ")).unwrap();
    assert!(
        err.contains("file=")
            && err.contains(",line=")
            && err.contains(",col=")
            && err.contains("title=DD2005 duplicate-ips::"),
        "{err}"
    );
    assert!(s.lines().any(|l| l.starts_with("::warning ")));
    assert!(!err.contains('\n'));
}

#[test]
fn rules_lists_every_rule() {
    let out = drydock().arg("rules").output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    for r in drydock::validate::all_rules() {
        assert!(s.contains(r.info().code) && s.contains(r.info().name));
    }
}

#[test]
fn explain_prints_examples() {
    let out = drydock().args(["explain", "DD2005"]).output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("duplicate-ips") && s.contains("Fails:") && s.contains("Passes:"));
    drydock()
        .args(["explain", "duplicate-ips"])
        .assert()
        .code(0);
    drydock().args(["explain", "DD9999"]).assert().code(1);
}

#[test]
fn literal_credentials_never_appear_in_any_output() {
    let d = tempfile::tempdir().unwrap();
    let text = drydock::validate::examples::compose(
        r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  oob: {credential: Sup3rS3cretPw, account: 12}
  metadata: {boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: mgmt, address: 172.16.2.11}
---
schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n3}
data:
  host_profile: base
  oob: {credential: 98765432}
  addressing:
    - {network: oob, address: 172.16.0.13}
"#,
    );
    std::fs::write(d.path().join("site.yaml"), text).unwrap();
    for format in ["human", "json", "sarif", "junit", "github"] {
        let out = drydock()
            .arg("validate")
            .arg(d.path())
            .args(["--format", format, "--color", "never"])
            .output()
            .unwrap();
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            !s.contains("Sup3rS3cretPw") && !s.contains("98765432"),
            "{format}: {s}"
        );
        assert!(out.status.code() == Some(1), "{format}");
        if format == "human" {
            // The mask has one length whatever the secret's: it says nothing of the secret.
            assert!(s.contains("credential: ********,"), "{s}");
            assert!(s.contains("credential: ********}"), "{s}");
            assert!(!s.contains("*********"), "{s}");
        }
    }
}

/// A reader that goes away (`drydock rules | head -1`) ends drydock quietly: no panic, no
/// error, exit 0 — with SIGPIPE ignored, as it must be for sockets to dead BMCs.
#[test]
fn a_closed_output_pipe_ends_quietly() {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_drydock"))
        .args(["rules"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A design whose only finding is a note: a rack no Rack document defines.
fn design_with_a_note() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let text = drydock::validate::examples::compose(
        r#"schema: drydock/BaremetalNode/v1
metadata: {schema: metadata/Document/v1, name: n2}
data:
  host_profile: base
  metadata: {rack: r9, boot_mac: '52:54:00:00:00:02'}
  addressing:
    - {network: oob, address: 172.16.0.12}
    - {network: pxe, address: dhcp}
    - {network: mgmt, address: 172.16.2.12}
"#,
    );
    std::fs::write(d.path().join("site.yaml"), text).unwrap();
    d
}

#[test]
fn notes_are_a_third_severity_in_every_format_and_never_fail() {
    let d = design_with_a_note();
    let run = |args: &[&str]| {
        let out = drydock()
            .arg("validate")
            .arg(d.path())
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, human) = run(&["--deny-warnings", "--color", "never"]);
    assert_eq!(code, Some(0), "{human}");
    assert!(
        human.contains("0 errors, 0 warnings, 1 note in 1 file"),
        "{human}"
    );
    let (_, json) = run(&["--format", "json"]);
    let j: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(j["summary"]["notes"], 1);
    assert_eq!(j["findings"][0]["severity"], "note");
    let (_, sarif) = run(&["--format", "sarif"]);
    let j: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(j["runs"][0]["results"][0]["level"], "note");
    let (code, junit) = run(&["--format", "junit", "--deny-warnings"]);
    assert_eq!(code, Some(0));
    assert!(
        junit.contains("failures=\"0\"") && junit.contains("note: rack `r9`"),
        "{junit}"
    );
    let (_, github) = run(&["--format", "github"]);
    assert!(github.starts_with("::notice "), "{github}");
}
