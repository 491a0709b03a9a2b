//! `dobench profiles`: lists the built-in profiles, one line each, or prints one's TOML.
//! Reads only the embedded profile texts; never runs anything.

use std::process::ExitCode;

use anyhow::bail;
use dobench_workloads::profile;

use crate::cli::ProfilesArgs;

pub fn run(args: ProfilesArgs) -> anyhow::Result<ExitCode> {
    match args.name {
        Some(name) => match profile::BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => print!("{text}"),
            None => bail!("no built-in profile {name:?} (see `dobench profiles`)"),
        },
        None => {
            for (name, desc) in profile::builtin_list() {
                println!("{name:<18} {desc}");
            }
            println!(
                "\nrun one with `dobench run NAME`, see its TOML with `dobench profiles NAME`"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
