//! Times the phases of `drydock validate` (load, model, rules) on a design, for profiling.
//! `cargo run --release --example phases -- DIR`
fn main() {
    let path: std::path::PathBuf = std::env::args().nth(1).expect("usage: phases DIR").into();
    let t = std::time::Instant::now();
    let d = drydock::design::load(&[path]).unwrap();
    let t_load = t.elapsed();
    let t = std::time::Instant::now();
    let site = drydock::model::build(&d);
    let t_model = t.elapsed();
    let opts = drydock::validate::Options {
        catalog: Some(drydock::validate::Catalog::simulator()),
        ..Default::default()
    };
    let cx = drydock::validate::Context {
        design: &d,
        site: &site,
        options: &opts,
    };
    let mut times = Vec::new();
    for r in drydock::validate::all_rules() {
        let t = std::time::Instant::now();
        let mut out = Vec::new();
        r.check(&cx, &mut out);
        times.push((t.elapsed(), r.info().code));
    }
    times.sort();
    times.reverse();
    println!(
        "load {t_load:?} model {t_model:?} rules total {:?}",
        times.iter().map(|t| t.0).sum::<std::time::Duration>()
    );
    for (t, c) in times.iter().take(6) {
        println!("  {c} {t:?}");
    }
}
