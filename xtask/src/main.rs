//! kvmfi-doc: `kvmfi-doc man DIR` writes every man page; `kvmfi-doc
//! completions DIR` writes bash, zsh and fish completions; `kvmfi-doc
//! legacy-links ROOT` rewrites the generated lists of original program names.

use clap_complete::Shell;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (what, dir) = match args.as_slice() {
        [_, what, dir] => (what.as_str(), PathBuf::from(dir)),
        _ => {
            eprintln!("usage: kvmfi-doc man|completions DIR, or kvmfi-doc legacy-links ROOT");
            return ExitCode::from(2);
        }
    };
    if what == "legacy-links" {
        return match kvmfi_doc::legacy_links::write(&dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kvmfi-doc: legacy-links: {e}");
                ExitCode::from(1)
            }
        };
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("kvmfi-doc: creating {}: {e}", dir.display());
        return ExitCode::from(1);
    }
    for mut cmd in kvmfi_doc::tools() {
        let result = match what {
            "man" => std::fs::write(dir.join(kvmfi_doc::man_file(&cmd)), kvmfi_doc::render_man(&cmd)),
            "completions" => {
                let name = cmd.get_name().to_string();
                [Shell::Bash, Shell::Zsh, Shell::Fish].iter().try_for_each(|shell| {
                    let sub = dir.join(shell.to_string());
                    std::fs::create_dir_all(&sub)?;
                    clap_complete::generate_to(*shell, &mut cmd, &name, &sub).map(|_| ())
                })
            }
            _ => {
                eprintln!("kvmfi-doc: unknown target '{what}'; use man, completions or legacy-links");
                return ExitCode::from(2);
            }
        };
        if let Err(e) = result {
            eprintln!("kvmfi-doc: {e}");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}
