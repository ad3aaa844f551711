//! The operator API against its own OpenAPI document, by schemathesis (PyPI, installed into the
//! peers' venv by `scripts/install-peers.sh`): generated valid and invalid requests for every
//! operation but the event stream (it never ends), a bounded number of cases with a fixed
//! seed, and every check but `use_after_free` — `DELETE /tasks/{id}` cancels a task, as in the
//! old implementation; the task stays readable. A missing schemathesis fails the test.

mod peers_support;
mod serve_support;

use std::process::Command;

use serve_support::*;

#[test]
fn the_api_conforms_to_its_openapi_document() {
    let bin = peers_support::peers_dir().join("venv/bin/schemathesis");
    assert!(
        bin.is_file(),
        "{} is missing: run ./scripts/install-peers.sh",
        bin.display()
    );
    let d = tempfile::tempdir().unwrap();
    let t = Tokens::write(d.path());
    let st = d.path().join("state").display().to_string();
    let s = Server::start(
        &demo(),
        &t.file,
        &["--state", &st, "--sim-time-scale", "0.0005"],
    );
    // Every operation but validation, with every check; then validation without
    // `positive_data_acceptance`: an invalid design is a 400 there, as in the old
    // implementation, and generated documents are seldom a valid design.
    let runs: [(&[&str], &[&str], usize); 2] = [
        (
            &["--exclude-path", "/validatedesign"],
            &["use_after_free"],
            7,
        ),
        (
            &["--include-path", "/validatedesign"],
            &["use_after_free,positive_data_acceptance"],
            1,
        ),
    ];
    for (select, exclude, operations) in runs {
        let out = Command::new(&bin)
            .current_dir(d.path())
            .arg("run")
            .arg(s.url("/api/v1.0/openapi.json"))
            .arg("--header")
            .arg(format!("Authorization: Bearer {}", t.operator))
            .args(["--max-examples", "10", "--seed", "1", "--checks", "all"])
            .arg("--exclude-checks")
            .args(exclude)
            .args(["--exclude-path", "/events"])
            .args(select)
            .args(["--request-timeout", "30", "--max-time", "45", "--no-color"])
            .output()
            .expect("schemathesis runs");
        let text = String::from_utf8_lossy(&out.stdout);
        // Its report of a failure can quote megabytes of generated body: the start and end.
        let short = if text.len() > 12000 {
            format!(
                "{}\n[...]\n{}",
                &text[..text.floor_char_boundary(6000)],
                &text[text.ceil_char_boundary(text.len() - 6000)..]
            )
        } else {
            text.to_string()
        };
        assert!(
            out.status.success(),
            "schemathesis found problems ({select:?}):\n{short}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains(&format!("Tested: {operations}")),
            "every operation was tested:\n{short}"
        );
    }
}
