//! Bad input never panics or hangs: each case gives a clear diagnostic and the right exit code.
//! The property test feeds arbitrary bytes to the loader.

use std::path::Path;

use assert_cmd::Command;
use drydock::design;
use proptest::prelude::*;

fn drydock() -> Command {
    Command::cargo_bin("drydock").unwrap()
}

/// Run `drydock validate --format json` on `path`; returns (exit code, JSON output).
fn validate_json(path: &Path) -> (i32, serde_json::Value) {
    let out = drydock()
        .args(["validate", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    let code = out.status.code().expect("exited, not killed");
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (code, json)
}

fn messages(j: &serde_json::Value) -> Vec<String> {
    j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{} {}", f["code"], f["message"]))
        .collect()
}

#[test]
fn yaml_syntax_error_is_located() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a.yaml"),
        "schema: drydock/Network/v1\nmetadata: {name: x\ndata: {}\n",
    )
    .unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1);
    let f = &j["findings"][0];
    assert_eq!(f["code"], "DD000");
    assert!(
        f["message"].as_str().unwrap().contains("YAML syntax error"),
        "{f}"
    );
    assert!(f["location"]["line"].as_u64().unwrap() >= 2);
}

#[test]
fn binary_file_is_reported() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.yaml"), b"\x7fELF\x00\x01\x02garbage").unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1);
    assert!(messages(&j)[0].contains("binary file"));
}

#[test]
fn empty_file_is_a_warning() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.yaml"), "").unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 0);
    assert_eq!(j["findings"][0]["severity"], "warning");
    assert!(messages(&j)[0].contains("empty file"));
}

#[test]
fn non_utf8_is_located() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a.yaml"),
        b"schema: drydock/Rack/v1\nmetadata: {name: r\xff}\n",
    )
    .unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1);
    let f = &j["findings"][0];
    assert!(f["message"].as_str().unwrap().contains("UTF-8"));
    assert_eq!(f["location"]["line"], 2);
}

#[test]
fn huge_file_is_refused_without_reading_it() {
    let d = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(d.path().join("big.yaml")).unwrap();
    // Sparse: 100 MB on paper, nothing on disk.
    f.set_len(100_000_000).unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1);
    assert!(messages(&j)[0].contains("64 MiB"), "{:?}", messages(&j));
}

#[test]
fn deeply_nested_document_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let deep = format!(
        "schema: drydock/Rack/v1\nmetadata: {{name: r}}\ndata: {{labels: {}1{}}}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    std::fs::write(d.path().join("a.yaml"), deep).unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1);
    assert_eq!(j["findings"][0]["code"], "DD000");
}

#[test]
fn duplicate_keys_warn_and_last_wins() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.yaml"), "schema: drydock/Rack/v1\nmetadata: {name: r}\ndata: {labels: {a: '1'}, labels: {b: '2'}}\n").unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 0);
    assert!(
        messages(&j)
            .iter()
            .any(|m| m.contains("duplicate key `labels`"))
    );
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_reported_and_does_not_hang() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(d.path(), d.path().join("sub/loop")).unwrap();
    std::fs::write(
        d.path().join("sub/a.yaml"),
        "schema: drydock/Rack/v1\nmetadata: {name: r}\ndata: {}\n",
    )
    .unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 0);
    assert!(
        messages(&j).iter().any(|m| m.contains("symbolic link")),
        "{:?}",
        messages(&j)
    );
}

#[test]
fn directory_without_yaml_cannot_run() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("notes.txt"), "hi").unwrap();
    let out = drydock().arg("validate").arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no design files") && err.contains("help:"),
        "{err}"
    );
}

#[test]
fn missing_path_cannot_run() {
    let out = drydock()
        .args(["validate", "/nonexistent/design"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
}

#[test]
fn bad_arguments_cannot_run() {
    assert_eq!(
        drydock()
            .args(["validate", "--format", "xml", "."])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        drydock()
            .args(["validate", "--rule", "DD9999", "."])
            .output()
            .unwrap()
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn thousands_of_errors_are_all_reported() {
    let mut text = String::new();
    for i in 0..3000 {
        text.push_str(&format!("---\nschema: drydock/Network/v1\nmetadata: {{name: n{i}}}\ndata: {{cidr: 10.0.0.0/24, vlan: {i}}}\n"));
    }
    let d = design::load_str("many.yaml", &text);
    let r = drydock::validate::validate(&d, &Default::default());
    // Every network has an integer vlan (DD001) and is then left out.
    assert_eq!(
        r.findings.iter().filter(|f| f.code == "DD001").count(),
        3000
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_give_diagnostics_not_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let d = design::load_str("fuzz.yaml", &text);
        let _ = drydock::validate::validate(&d, &Default::default());
    }

    #[test]
    fn yaml_like_text_gives_diagnostics_not_panics(
        lines in proptest::collection::vec("[ -~]{0,3}(schema|data|metadata|name|drydock/Network/v1|cidr|- |: |\\{|\\}|\\[|\\]|'|&a|\\*a|!|---)[ -~]{0,6}", 0..24)
    ) {
        let text = lines.join("\n");
        let d = design::load_str("fuzz.yaml", &text);
        let _ = drydock::validate::validate(&d, &Default::default());
    }
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[cfg(unix)]
#[test]
fn a_fifo_named_yaml_is_an_error_and_does_not_block() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.yaml"), "schema: pegleg/X/v1\ndata: {}\n").unwrap();
    mkfifo(&d.path().join("x.yaml"));
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1);
    let m = messages(&j);
    assert!(
        m.iter()
            .any(|m| m.contains("named pipe") && m.contains("missing documents")),
        "{m:?}"
    );
    let design = design::load(&[d.path().to_path_buf()]).unwrap();
    assert!(!design.is_complete());
    assert_eq!(design.unread, [d.path().join("x.yaml")]);
}

#[cfg(unix)]
#[test]
fn a_symlink_to_dev_zero_is_refused_without_reading() {
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", d.path().join("z.yaml")).unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1);
    assert!(messages(&j)[0].contains("character device"), "{j}");
    // Named on the command line, too.
    let (code, j) = validate_json(&d.path().join("z.yaml"));
    assert_eq!(code, 1, "{j}");
}

#[cfg(unix)]
#[test]
fn an_unreadable_design_file_is_an_error_not_a_pass() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("a.yaml"), "schema: pegleg/X/v1\ndata: {}\n").unwrap();
    std::os::unix::fs::symlink(d.path().join("gone"), d.path().join("b.yaml")).unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 1, "{j}");
    assert_eq!(j["findings"][0]["severity"], "error");
    let design = design::load(&[d.path().to_path_buf()]).unwrap();
    assert!(!design.is_complete());
}

#[test]
fn dot_files_are_not_design_files() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(".#a.yaml"), "not: [yaml").unwrap();
    std::fs::write(d.path().join("a.yaml"), "schema: pegleg/X/v1\ndata: {}\n").unwrap();
    let (code, j) = validate_json(d.path());
    assert_eq!(code, 0, "{j}");
}
