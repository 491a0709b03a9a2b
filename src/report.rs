//! `dobench runs`, `dobench show` and `dobench report`: read the results store and print a
//! table, a stored summary, or write one self-contained HTML report (recording a run is
//! `dobench::record`). Only flags → typed calls into
//! `dobench_reports`; all storage and rendering lives there. Never writes outside `-o`/`--db`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use dobench_reports::html::{self, ReportOptions};
use dobench_reports::{text, RunFilter, Store};

use crate::cli::{ReportArgs, RunsArgs, ShowArgs};

fn open_existing(db: &Path) -> anyhow::Result<Store> {
    if !db.exists() {
        bail!(
            "no results store at {} (runs are recorded with --db, default .dobench/results.db)",
            db.display()
        );
    }
    // Read-only stores (a read-only mount, another user's file) are still readable.
    Store::open_for_reading(db).with_context(|| format!("opening {}", db.display()))
}

/// `dobench runs`: past runs, newest first.
pub fn runs(args: RunsArgs) -> anyhow::Result<ExitCode> {
    if !args.db.exists() {
        println!("no runs yet (no results store at {})", args.db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_existing(&args.db)?;
    let rows = store.list(&RunFilter {
        limit: Some(args.limit),
        profile: args.profile,
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&rows)?);
    } else if rows.is_empty() {
        println!("no runs match");
    } else {
        print!("{}", text::runs_table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// `dobench show RUN`: the stored summary, as the run printed it.
pub fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(&args.db)?;
    let ids = store.resolve(&args.run)?;
    for id in ids {
        let summary = store.summary(&id)?;
        if args.json {
            println!("{}", serde_json::to_string(&summary)?);
        } else {
            let row = store.row(&id)?;
            print!("{}", text::summary(&summary));
            println!("status    {}", row.verdict());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `dobench report RUN... -o FILE`: one self-contained HTML file.
pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = open_existing(&args.db)?;
    let mut ids = Vec::new();
    let mut best_strategy = None;
    let mut answer = None;
    for spec in &args.runs {
        let found = store.resolve(spec)?;
        if found.len() > 1 || store.compare_best(spec)?.is_some() {
            best_strategy = best_strategy.or(store.compare_best(spec)?);
            answer = answer.or(store.compare_answer(spec)?);
            if store.group_kind(spec).ok() == Some(dobench_reports::GroupKind::Repeat) {
                answer = answer.or(Some(crate::repeat::no_best(found.len())));
            }
        }
        for id in found {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    let runs = ids
        .iter()
        .map(|id| store.load(id))
        .collect::<Result<Vec<_>, _>>()?;
    let page = html::render(
        &runs,
        &ReportOptions {
            title: args.title,
            best_strategy,
            answer,
            headroom_pct: None,
        },
    )?;
    write_atomically(&args.output, page.as_bytes())?;
    eprintln!(
        "wrote {} ({} run{}, {} KB)",
        args.output.display(),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        page.len() / 1024
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to `path` through a fresh temporary file in the same directory (created
/// with `O_EXCL` under a random name, so a planted file or symlink is never followed), then
/// renames it over `path`. Refuses a `path` that exists and is not a regular file (a symlink,
/// a device such as `/dev/full`, a FIFO, a directory): replacing it would be a surprise.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => bail!(
            "refusing to write the report to {}: it exists and is not a regular file              (a symlink, device, FIFO or directory); choose another -o",
            path.display()
        ),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("checking {}", path.display())),
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".dobench-report-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600; a report is meant to be shared like any written file.
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming the report into {}", path.display()))?;
    Ok(())
}
