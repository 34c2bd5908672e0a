//! Every tool's clap definition passes clap's own consistency checks
//! (conflicting names, dangling `requires`, ...), which otherwise show only
//! as a panic when the faulty option is used.

#[test]
fn every_tool_command_is_consistent() {
    for cmd in kvmfi_doc::tools() {
        cmd.debug_assert();
    }
}
