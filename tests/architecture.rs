//! The architecture invariants of ARCHITECTURE.md, checked on the source: which modules may
//! import which, who may print, what `plan` and `model` may not touch. A grep, kept honest.

use std::path::{Path, PathBuf};

fn files(dir: &str) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut out = Vec::new();
    if root.is_dir() {
        walk(&root, &mut out);
    } else {
        out.push(root.with_extension("rs"));
    }
    out
}

/// Lines of the module's code (not comments) that contain any of `needles`.
fn offending(dir: &str, needles: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    for f in files(dir) {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if needles.iter().any(|n| code.contains(n)) {
                hits.push(format!("{}:{}: {}", f.display(), i + 1, code));
            }
        }
    }
    hits
}

fn assert_none(dir: &str, needles: &[&str], why: &str) {
    let hits = offending(dir, needles);
    assert!(hits.is_empty(), "{why}:\n{}", hits.join("\n"));
}

#[test]
fn the_vocabulary_imports_nothing_of_drydock() {
    let hits: Vec<String> = offending("vocab", &["crate::"])
        .into_iter()
        .filter(|l| !l.contains("crate::vocab"))
        .collect();
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

#[test]
fn the_desired_state_imports_only_the_vocabulary_and_sources() {
    let hits: Vec<String> = offending("spec", &["crate::"])
        .into_iter()
        .filter(|l| {
            !["crate::spec", "crate::vocab", "crate::source"]
                .iter()
                .any(|ok| l.contains(ok))
        })
        .collect();
    assert!(hits.is_empty(), "{}", hits.join("\n"));
}

#[test]
fn drivers_know_no_plan_executor_store_or_validation() {
    assert_none(
        "driver",
        &[
            "crate::plan",
            "crate::execute",
            "crate::state",
            "crate::validate",
            "crate::observe",
            "crate::cli",
            "crate::service",
            "crate::api",
        ],
        "drivers import a layer above them",
    );
}

#[test]
fn the_boot_service_knows_no_plan_executor_store_or_validation() {
    assert_none(
        "boot",
        &[
            "crate::plan",
            "crate::execute",
            "crate::state",
            "crate::validate",
            "crate::observe",
            "crate::cli",
        ],
        "the boot service imports a layer above it (it gets the nodes' desired state from its caller)",
    );
}

#[test]
fn the_state_store_knows_no_plan_or_executor() {
    assert_none(
        "state",
        &[
            "crate::plan",
            "crate::execute",
            "crate::cli",
            "crate::driver",
            "crate::service",
            "crate::api",
        ],
        "state imports a layer above it",
    );
}

#[test]
fn the_model_and_validation_import_nothing_above_them_and_do_no_io() {
    for dir in ["model", "validate"] {
        assert_none(
            dir,
            &[
                "crate::plan",
                "crate::execute",
                "crate::cli",
                "crate::driver",
                "crate::report",
                "std::fs",
                "tokio",
            ],
            dir,
        );
    }
}

#[test]
fn planning_does_no_io_no_clock_no_async() {
    assert_none(
        "plan",
        &[
            "std::fs",
            "tokio",
            "async fn",
            "Instant::now",
            "SystemTime",
            "crate::driver",
            "crate::execute",
            "crate::state",
            "crate::cli",
        ],
        "plan is pure",
    );
}

#[test]
fn only_the_cli_prints() {
    for dir in [
        "vocab", "durable", "source", "diag", "design", "model", "validate", "report", "spec",
        "plan", "observe", "driver", "state", "execute", "rng", "boot", "service", "api",
    ] {
        assert_none(
            dir,
            &["println!", "eprintln!", "print!(", "eprint!(", "dbg!("],
            "only cli prints",
        );
    }
}

#[test]
fn only_the_api_and_the_cli_serve_http() {
    for dir in [
        "vocab", "durable", "source", "diag", "design", "model", "validate", "report", "spec",
        "plan", "observe", "driver", "state", "execute", "rng", "service",
    ] {
        assert_none(
            dir,
            &[
                "axum",
                "hyper::",
                "hyper_util",
                "tokio_rustls",
                "TcpListener",
            ],
            "only api (and cli, which starts it) serve HTTP",
        );
    }
}

#[test]
fn the_service_knows_no_http_and_the_api_no_store_backend() {
    assert_none(
        "service",
        &["crate::api", "crate::cli", "reqwest", "StatusCode"],
        "the service is HTTP-free",
    );
    // The API goes through the service for state: it never opens a store itself.
    assert_none(
        "api",
        &[
            "FileStore",
            "PgStore",
            "crate::state::postgres::connect",
            "crate::execute",
            "crate::driver",
            "crate::cli",
        ],
        "the API is thin: it calls the service",
    );
}
