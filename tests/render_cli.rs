//! Airship repositories end to end: `--site` collection (current and 2018 layouts),
//! `drydock render` golden output on the fixtures under `tests/fixtures/` (one file per
//! real-world pattern, each marked `# Pattern:`), re-reading the rendered stream, secrets, and
//! findings that point into the layer file that wrote the value.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Run drydock from the repository root (paths in the output stay relative).
fn drydock(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("drydock")
        .unwrap()
        .current_dir(root())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

const REPO: &str = "tests/fixtures/airship";

#[test]
fn render_a_site_of_the_current_layout() {
    let (code, out, err) = drydock(&["render", REPO, "--site", "alpha"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    insta::assert_snapshot!("render-alpha", out);
}

#[test]
fn render_all_masks_secrets_unless_asked() {
    let (code, out, _) = drydock(&["render", REPO, "--site", "alpha", "--all"]);
    assert_eq!(code, 0);
    assert!(out.contains("schema: deckhand/Passphrase/v1"));
    assert!(!out.contains("pa55word"), "{out}");
    insta::assert_snapshot!("render-alpha-all", out);
    let (_, shown, _) = drydock(&["render", REPO, "--site", "alpha", "--show-secrets"]);
    assert!(shown.contains("credential: n1-pa55word"), "{shown}");
}

#[test]
fn render_a_site_with_only_global_and_site_layers() {
    let (code, out, err) = drydock(&["render", REPO, "--site", "beta"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    insta::assert_snapshot!("render-beta", out);
}

#[test]
fn render_the_2018_layout() {
    let (code, out, err) = drydock(&["render", "tests/fixtures/airship-2018/site/lab1", "--all"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains("10.0.0.0/8"),
        "another revision was read: {out}"
    );
    insta::assert_snapshot!("render-2018", out);
}

#[test]
fn a_path_inside_a_site_implies_it_and_several_sites_need_one() {
    let (_, by_path, _) = drydock(&["render", "tests/fixtures/airship/site/alpha"]);
    let (_, by_flag, _) = drydock(&["render", REPO, "--site", "alpha"]);
    assert_eq!(by_path.replace("site/alpha/../../", ""), by_flag);
    let (code, _, err) = drydock(&["validate", REPO]);
    assert_eq!(code, 1, "an error is 1");
    assert!(
        err.contains("several sites (alpha, beta)") && err.contains("--site"),
        "{err}"
    );
    let (code, _, err) = drydock(&["validate", REPO, "--site", "gamma"]);
    assert_eq!(code, 1, "an error is 1");
    assert!(
        err.contains("no site `gamma`") && err.contains("alpha, beta"),
        "{err}"
    );
}

#[test]
fn a_rendered_site_validates_clean_and_reads_back_the_same() {
    let (code, out, err) = drydock(&["validate", REPO, "--site", "alpha", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["summary"]["errors"], 0, "{j:#}");
    assert_eq!(j["summary"]["warnings"], 0, "literal credentials? {j:#}");
    // Re-read the rendered stream as a plain design: the same documents, and no finding.
    let (_, rendered, _) = drydock(&["render", REPO, "--site", "alpha"]);
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("rendered.yaml");
    std::fs::write(&file, &rendered).unwrap();
    let again = drydock::design::load(&[file]).unwrap();
    let first = drydock::design::load(&[root().join(REPO).join("site/alpha")]).unwrap();
    let docs = |d: &drydock::design::Design| -> Vec<(String, Value)> {
        d.documents
            .iter()
            .map(|x| (x.display(), x.data.to_json()))
            .collect()
    };
    let mut a = docs(&again);
    let mut b = docs(&first);
    // The credentials were masked in the stream.
    for (_, v) in a.iter_mut().chain(b.iter_mut()) {
        if let Some(o) = v.get_mut("oob") {
            o["credential"] = Value::Null;
        }
    }
    assert_eq!(a, b);
    assert!(
        !again
            .findings
            .iter()
            .any(|f| f.is_error() || f.is_warning()),
        "{:#?}",
        again.findings
    );
    // Deterministic.
    let (_, twice, _) = drydock(&["render", REPO, "--site", "alpha"]);
    assert_eq!(rendered, twice);
}

/// Copy the fixture repository to a temporary directory, with `edit` applied to one file.
fn edited_repo(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    fn copy(src: &Path, dst: &Path) {
        std::fs::create_dir_all(dst).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let p = e.unwrap().path();
            let target = dst.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &target);
            } else {
                std::fs::copy(&p, &target).unwrap();
            }
        }
    }
    let d = tempfile::tempdir().unwrap();
    copy(&root().join(REPO), d.path());
    let path: PathBuf = d.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from));
    std::fs::write(&path, text.replace(from, to)).unwrap();
    d
}

#[test]
fn findings_on_layered_values_point_into_the_layer_that_wrote_them() {
    // The global oob network's MTU reaches the site through the site's replacement document.
    let d = edited_repo("global/networks/oob.yaml", "mtu: 1500", "mtu: 100");
    let out = Command::cargo_bin("drydock")
        .unwrap()
        .args(["validate", "--format", "json", "--site", "alpha"])
        .arg(d.path())
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "DD2003")
        .unwrap_or_else(|| panic!("{j:#}"));
    let file = f["location"]["file"].as_str().unwrap();
    assert!(file.ends_with("global/networks/oob.yaml"), "{f:#}");
    assert_eq!(f["location"]["line"], 12, "the `mtu:` line");
    let related: Vec<&str> = f["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert!(
        related[0].contains("written in layer `global`"),
        "{related:?}"
    );
    assert!(
        related
            .iter()
            .any(|r| r.contains("inherited by drydock/Network/v1 `oob` (layer site)")),
        "{related:?}"
    );
}

#[test]
fn a_passphrase_credential_is_not_a_literal_but_a_written_one_is() {
    let d = edited_repo(
        "site/alpha/nodes.yaml",
        "  host_profile: dp\n",
        "  host_profile: dp\n  oob: {credential: written-here}\n",
    );
    // n2's substitution still lands on top of its own value: no literal left.
    let out = Command::cargo_bin("drydock")
        .unwrap()
        .args(["validate", "--format", "json"])
        .arg(d.path().join("site/alpha"))
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["summary"]["warnings"], 0, "{j:#}");
    // Without the substitution the written value is a literal credential.
    let d = edited_repo(
        "site/alpha/nodes.yaml",
        "    - src: {schema: deckhand/Passphrase/v1, name: n2-ipmi-password, path: .}\n      dest: {path: .oob.credential}\n",
        "    []\n",
    );
    let d2 = d.path().join("site/alpha/nodes.yaml");
    let t = std::fs::read_to_string(&d2).unwrap().replace(
        "  host_profile: dp\n",
        "  host_profile: dp\n  oob: {credential: written-here}\n",
    );
    std::fs::write(&d2, t).unwrap();
    let out = Command::cargo_bin("drydock")
        .unwrap()
        .args(["validate", "--format", "json"])
        .arg(d.path().join("site/alpha"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("literal BMC credential"), "{text}");
    assert!(!text.contains("written-here") && !text.contains("pa55word"));
}

#[test]
fn strict_rendering_turns_a_missing_source_into_an_error() {
    let d = edited_repo(
        "site/alpha/secrets/passphrases.yaml",
        "name: n1-ipmi-password",
        "name: renamed",
    );
    let site = d.path().join("site/alpha");
    let lenient = Command::cargo_bin("drydock")
        .unwrap()
        .arg("validate")
        .arg(&site)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&lenient.stdout);
    assert!(text.contains("DD008"), "{text}");
    let strict = Command::cargo_bin("drydock")
        .unwrap()
        .arg("validate")
        .arg(&site)
        .arg("--strict")
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
}
