//! Writes a fixture results store for screenshots and manual looks: one full simulated run
//! (objects near the ceiling, errors, hibernation, alarms) and a compare group of three
//! strategies. Prints `single=<id>` and `group=<id>`. Simulated data only; no network.
//!
//! `cargo run -p dobench-reports --example fixture_db -- results.db`

#[path = "../tests/common/mod.rs"]
mod common;

use common::Sim;
use dobench_reports::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: fixture_db FILE")?;
    let path = std::path::Path::new(&path);
    let single = common::record(
        path,
        &Sim {
            seconds: 30,
            ..Sim::default()
        },
        None,
    );
    let store = Store::open(path)?;
    let group = store.create_compare_group("sharded-counter")?;
    for (i, (strategy, objects)) in [("single", 1), ("hash:4", 4), ("hash:16", 16)]
        .into_iter()
        .enumerate()
    {
        let sim = Sim {
            strategy,
            objects,
            seconds: 20,
            seed: 11 + i as u64,
            extras: false,
            ..Sim::default()
        };
        common::record(path, &sim, Some(&group));
    }
    println!("single={single}");
    println!("group={group}");
    Ok(())
}
