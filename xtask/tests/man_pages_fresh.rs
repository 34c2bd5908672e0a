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
