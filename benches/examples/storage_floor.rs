//! The storage floor: the fastest loop that creates, writes and closes one object database
//! with exactly the runtime's files and settings (`dobench_runtime::Storage::open`: the
//! template, exclusive WAL, `synchronous=NORMAL`, the fan-out layout), doing nothing else;
//! then the same for reopening each of those databases, reading, writing and closing it
//! (what re-activating an object that left memory costs). One thread, no HTTP, no tasks: the
//! number the server's activation rate is compared with (`benches/activation.sh`).
//!
//! Run: `cargo run --release -p dobench-benches --example storage_floor -- [N] [DIR]`
//! (default 20,000 objects in a temporary directory under `$TMPDIR`; `DIR=/dev/shm` for
//! tmpfs). Prints one line per phase: objects/s and CPU µs per object.

use dobench_benches::cpu_seconds;
use std::time::Instant;

use dobench_runtime::{object_db_path, IdSpace, Storage};

/// The same allocator as the `dobench` binary (src/main.rs), for SQLite too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn phase(name: &str, n: usize, mut each: impl FnMut(usize)) {
    let (t0, c0) = (Instant::now(), cpu_seconds());
    for i in 0..n {
        each(i);
    }
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), cpu_seconds() - c0);
    println!(
        "{name}: {:.0} objects/s, {:.1} µs CPU per object ({n} objects, {wall:.2} s)",
        n as f64 / wall,
        cpu / n as f64 * 1e6
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let root = args.next().map(std::path::PathBuf::from);
    let dir = match &root {
        Some(r) => tempfile::tempdir_in(r).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    for b in 0..=255u8 {
        std::fs::create_dir_all(dir.path().join("objects").join(format!("{b:02x}"))).unwrap();
    }
    let ids = IdSpace::new([7; 32]);
    let paths: Vec<_> = (0..n)
        .map(|i| object_db_path(dir.path(), &ids.id_from_name("counter", &format!("k{i}"))))
        .collect();
    println!("storage floor in {}", dir.path().display());
    phase("create + write + close", n, |i| {
        let mut s = Storage::open(&paths[i]).unwrap();
        s.begin().unwrap();
        s.put("value", &1u64.to_le_bytes()).unwrap();
        s.commit().unwrap();
    });
    phase("reopen + read + write + close", n, |i| {
        let mut s = Storage::open(&paths[i]).unwrap();
        s.begin().unwrap();
        let v = s.get("value").unwrap().expect("written in the first phase");
        let next = u64::from_le_bytes(v.try_into().unwrap()) + 1;
        s.put("value", &next.to_le_bytes()).unwrap();
        s.commit().unwrap();
    });
}
