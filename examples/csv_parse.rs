//! Times CSV parsing of one file through the library: the parallel fast path
//! (`parse_csv`, what training uses) against the general single-threaded parser
//! (`parse_any_csv`), each after the file is in memory. Used by bench/csv_parse.sh.
//!
//! usage: csv_parse FILE TARGET regression|classification RUNS

use std::time::Instant;

use modeld::models::Task;
use modeld::train::parse::{parse_any_csv, parse_csv};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, file, target, task, runs] = args.as_slice() else {
        return Err("usage: csv_parse FILE TARGET regression|classification RUNS".into());
    };
    let task = match task.as_str() {
        "classification" => Task::Classification,
        _ => Task::Regression,
    };
    let runs: usize = runs.parse()?;
    let text = std::fs::read_to_string(file)?;
    let mut fast = Vec::new();
    let mut general = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let a = parse_csv(&text, target, None, task)?;
        fast.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let b = parse_any_csv(&text, target, None, task)?;
        general.push(t.elapsed().as_secs_f64());
        if a.x != b.x || a.y != b.y {
            return Err("the two parsers disagree".into());
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mb = text.len() as f64 / 1e6;
    let (f, g) = (median(&mut fast), median(&mut general));
    println!(
        "{{\"bytes\": {}, \"fast_s\": {f:.4}, \"general_s\": {g:.4}, \"fast_mb_s\": {:.1}, \"general_mb_s\": {:.1}}}",
        text.len(),
        mb / f,
        mb / g
    );
    Ok(())
}
