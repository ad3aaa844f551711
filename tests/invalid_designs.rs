//! The designs under `designs/invalid/`: one per rule, named `<CODE>-<name>`, each giving
//! exactly the findings its `EXPECTED` file lists (`CODE SEVERITY FILE:LINE:COLUMN`, one a
//! line, FILE relative to the design directory). Every rule has a design and every design a
//! rule. The rendered output of the same designs is snapshotted in `snapshots.rs`.

use std::path::{Path, PathBuf};

use drydock::validate::{self, Catalog, Options};

/// One finding as `EXPECTED` writes it: code, severity, file, line, column.
type Row = (String, String, String, u32, u32);

fn invalid_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("designs/invalid")
}

/// Every design directory, sorted.
fn designs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(invalid_dir())
        .expect("designs/invalid exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn dir_name(dir: &Path) -> &str {
    dir.file_name()
        .and_then(|n| n.to_str())
        .expect("UTF-8 name")
}

/// The rule code a directory is named after: `DD2005` of `DD2005-duplicate-ips`.
fn dir_code(dir: &Path) -> &str {
    dir_name(dir).split('-').next().unwrap_or("")
}

/// The findings of the design in `dir`, validated as `drydock validate` does, sorted.
fn actual(dir: &Path) -> Vec<Row> {
    let design = drydock::design::load(&[dir.to_path_buf()]).expect("design loads");
    let report = validate::validate(
        &design,
        &Options {
            catalog: Some(Catalog::simulator()),
            ..Options::default()
        },
    );
    let mut rows: Vec<Row> = report
        .findings
        .iter()
        .map(|f| {
            let (path, line, column) = design
                .sources
                .position(f.loc)
                .unwrap_or_else(|| panic!("{}: finding without a location: {f:?}", dir_name(dir)));
            let file = path.strip_prefix(dir).unwrap_or(path);
            (
                f.code.to_string(),
                f.severity.as_str().to_string(),
                file.to_string_lossy().replace('\\', "/"),
                line,
                column,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The rows of `dir/EXPECTED`, sorted.
fn expected(dir: &Path) -> Vec<Row> {
    let path = dir.join("EXPECTED");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows: Vec<Row> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| parse_row(l).unwrap_or_else(|| panic!("{}: bad line `{l}`", path.display())))
        .collect();
    rows.sort();
    rows
}

/// `DD2005 error nodes.yaml:21:32`.
fn parse_row(line: &str) -> Option<Row> {
    let mut parts = line.split_whitespace();
    let (code, severity, place) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !matches!(severity, "error" | "warning") {
        return None;
    }
    let mut place = place.rsplitn(3, ':');
    let column = place.next()?.parse().ok()?;
    let line = place.next()?.parse().ok()?;
    let file = place.next()?;
    Some((
        code.to_string(),
        severity.to_string(),
        file.to_string(),
        line,
        column,
    ))
}

fn show(rows: &[Row]) -> String {
    rows.iter()
        .map(|(c, s, f, l, col)| format!("  {c} {s} {f}:{l}:{col}\n"))
        .collect()
}

#[test]
fn every_invalid_design_gives_exactly_its_expected_findings() {
    let mut failures = String::new();
    for dir in designs() {
        let (want, got) = (expected(&dir), actual(&dir));
        if want != got {
            failures.push_str(&format!(
                "{}:\n expected:\n{} got:\n{}",
                dir_name(&dir),
                show(&want),
                show(&got)
            ));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn every_rule_has_an_invalid_design_and_every_design_a_rule() {
    let dirs: Vec<String> = designs().iter().map(|d| dir_name(d).to_string()).collect();
    let rules: Vec<String> = validate::all_rules()
        .iter()
        .map(|r| format!("{}-{}", r.info().code, r.info().name))
        .collect();
    let missing: Vec<&String> = rules.iter().filter(|r| !dirs.contains(r)).collect();
    let extra: Vec<&String> = dirs.iter().filter(|d| !rules.contains(d)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "rules without a design under designs/invalid: {missing:?}; designs named after no rule: {extra:?}"
    );
}

#[test]
fn every_invalid_design_fires_its_own_rule_and_says_why() {
    for dir in designs() {
        let code = dir_code(&dir);
        let rows = actual(&dir);
        assert!(
            rows.iter().any(|r| r.0 == code),
            "{}: no {code} finding:\n{}",
            dir_name(&dir),
            show(&rows)
        );
        // The offending file opens with a comment saying what is wrong: `# DD2005: ...`.
        let marker = format!("# {code}: ");
        let commented = std::fs::read_dir(&dir).unwrap().any(|e| {
            let p = e.unwrap().path();
            p.extension().is_some_and(|x| x == "yaml")
                && std::fs::read_to_string(&p).is_ok_and(|t| t.starts_with(&marker))
        });
        assert!(
            commented,
            "{}: no file starts with `{marker}...`",
            dir_name(&dir)
        );
    }
}

#[test]
fn expected_lines_parse() {
    assert_eq!(
        parse_row("DD2005 error nodes.yaml:21:32"),
        Some(("DD2005".into(), "error".into(), "nodes.yaml".into(), 21, 32))
    );
    assert_eq!(parse_row("DD2005 fatal nodes.yaml:21:32"), None);
    assert_eq!(parse_row("DD2005 error nodes.yaml:21"), None);
}
