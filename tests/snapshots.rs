//! Snapshots of `drydock validate` on every design under `designs/invalid/`: the human output
//! (100 columns, no colour) and the JSON output, one snapshot per design and format, in
//! `tests/snapshots/`. The command runs from the repository root with the relative path
//! `designs/invalid/<dir>`, so the paths in the output do not depend on where the repository
//! is. Update with `INSTA_UPDATE=always cargo test --test snapshots` (or `cargo insta review`),
//! then read the changed snapshots.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every design directory under `designs/invalid`, as its name, sorted.
fn designs() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("designs/invalid"))
        .expect("designs/invalid exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_dir())
        .map(|p: PathBuf| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `drydock validate designs/invalid/<name> <args>` from the repository root: exit code and
/// standard output.
fn validate(name: &str, args: &[&str]) -> (i32, String) {
    let out = Command::cargo_bin("drydock")
        .unwrap()
        .current_dir(root())
        .env("COLUMNS", "100")
        .arg("validate")
        .arg(format!("designs/invalid/{name}"))
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{name}: stderr: {stderr}");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("UTF-8 output"),
    )
}

/// The JSON output with the tool version replaced, so that a release does not touch every
/// snapshot.
fn json_without_version(text: &str) -> String {
    text.replace(
        &format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")),
        "\"version\": \"[version]\"",
    )
}

#[test]
fn invalid_designs_human_and_json_output() {
    let mut failed = Vec::new();
    for name in designs() {
        let (human_code, human) = validate(&name, &["--color", "never"]);
        let (json_code, json) = validate(&name, &["--format", "json"]);
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("JSON output parses");
        let errors = parsed["summary"]["errors"].as_u64().unwrap();
        let want_code = if errors > 0 { 1 } else { 0 };
        assert_eq!(human_code, want_code, "{name}: human exit code");
        assert_eq!(json_code, want_code, "{name}: json exit code");
        let json = json_without_version(&json);
        // Check every snapshot, so that one run writes every `.snap.new`, then fail.
        for (format, text) in [("human", &human), ("json", &json)] {
            let snapshot = format!("{name}-{format}");
            let r = std::panic::catch_unwind(|| insta::assert_snapshot!(snapshot.clone(), text));
            if r.is_err() {
                failed.push(snapshot);
            }
        }
    }
    assert!(failed.is_empty(), "snapshots differ: {failed:?}");
}
