//! The committed man pages under man/ must be what the clap definitions
//! generate today; regenerate with `make man`.

use std::path::Path;

#[test]
fn committed_man_pages_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../man");
    let mut stale = Vec::new();
    for cmd in kvmfi_doc::tools() {
        let file = dir.join(kvmfi_doc::man_file(&cmd));
        let want = kvmfi_doc::render_man(&cmd);
        match std::fs::read_to_string(&file) {
            Ok(have) if have == want => {}
            _ => stale.push(file.display().to_string()),
        }
    }
    assert!(stale.is_empty(), "stale or missing man pages (run `make man`): {stale:?}");
}

/// kmod/dkms.conf is generated from kmod/Kbuild (`make -C kmod dkms.conf`).
#[test]
fn dkms_conf_lists_every_module() {
    let kmod = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kmod");
    let out = std::process::Command::new("sh").arg(kmod.join("gen-dkms-conf.sh")).output().expect("running gen-dkms-conf.sh");
    assert!(out.status.success());
    let have = std::fs::read_to_string(kmod.join("dkms.conf")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), have, "kmod/dkms.conf is stale: run `make -C kmod dkms.conf`");
}

/// The generated copies of the original program names (packaging/legacy-links,
/// the list in bench/scenarios/60-compat.sh) match the tools table.
#[test]
fn legacy_links_are_up_to_date() {
    use kvmfi_doc::legacy_links as ll;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let have = std::fs::read_to_string(root.join(ll::FILE)).unwrap_or_default();
    assert_eq!(have, ll::file(), "{} is stale: run `make legacy-links`", ll::FILE);
    let script = std::fs::read_to_string(root.join(ll::COMPAT)).unwrap();
    assert_eq!(ll::with_compat_block(&script).as_deref(), Some(script.as_str()), "{} is stale: run `make legacy-links`", ll::COMPAT);
    assert_eq!(ll::links().len(), 10, "ten original programs have links");
}
