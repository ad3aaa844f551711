//! Times the phases of `drydock validate` and `drydock plan` (load, model, rules, plan, render)
//! on a design, for profiling: `cargo run --release --example phases -- DIR`.
fn main() {
    let path: std::path::PathBuf = std::env::args().nth(1).expect("usage: phases DIR").into();
    let t = std::time::Instant::now();
    let d = drydock::design::load(&[path]).unwrap();
    let t_load = t.elapsed();
    let t = std::time::Instant::now();
    let opts = drydock::validate::Options {
        catalog: Some(drydock::validate::Catalog::simulator()),
        ..Default::default()
    };
    let report = drydock::validate::validate(&d, &opts);
    let t_validate = t.elapsed();
    let site = match report.into_valid() {
        Ok(s) => s,
        Err(r) => panic!("{} errors", r.errors()),
    };
    let t = std::time::Instant::now();
    let observed = drydock::model::observed::Observed::default();
    let p = drydock::plan::plan(&site, &observed, &drydock::plan::Options::default());
    let t_plan = t.elapsed();
    let t = std::time::Instant::now();
    let text = drydock::plan::render::human(&p, &drydock::plan::render::Style { color: false });
    let t_render = t.elapsed();
    let t = std::time::Instant::now();
    let json = serde_json::to_string(&p).unwrap();
    let t_json = t.elapsed();
    println!(
        "load {t_load:?}, model+rules {t_validate:?}, plan {t_plan:?} ({} tasks), render {t_render:?} ({} bytes), json {t_json:?} ({} bytes)",
        p.tasks.len(),
        text.len(),
        json.len()
    );
}
