//! The Rust mirror (shared/src/abi.rs) must match the C uapi header field
//! for field: compile a C program against kmod/include/uapi/kvmfi.h that
//! prints every size and offset, and compare with Rust's view.

use kvmfi::abi::{Arm, Event, Events, Status, Version};
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

macro_rules! fields {
    ($ty:ty, $cty:literal, [$($f:ident),* $(,)?]) => {{
        let mut v: Vec<(String, usize)> = vec![(format!("sizeof {}", $cty), size_of::<$ty>())];
        $( v.push((format!("{}.{}", $cty, stringify!($f).trim_start_matches("r#")), offset_of!($ty, $f))); )*
        v
    }};
}

#[test]
fn rust_layout_matches_c_header() {
    let mut expected = fields!(Arm, "kvmfi_arm", [size, filter, pid, tgid, comm, cgroup_fd, path_fd,
        probability, interval, times, space, duration_ms, error, mode, verbose, flags, arg,
        experiment_id, reserved]);
    expected.extend(fields!(Status, "kvmfi_status", [size, state, experiment_id, hits, matched,
        injected, remaining, time_left_ms, nmissed, last_end, nr_hooks, symbol, armed, reserved]));
    expected.extend(fields!(Version, "kvmfi_version", [size, abi_major, abi_minor, arm_size,
        status_size, reserved0, module, reserved]));
    expected.extend(fields!(Event, "kvmfi_event", [seq, time_ns, experiment_id, pid, tgid, comm,
        r#type, hook, value, detail, what]));
    expected.extend(fields!(Events, "kvmfi_events", [size, max, from_seq, buf, count, reserved0,
        next_seq, lost, reserved]));

    let mut c = String::from("#include <stdio.h>\n#include <stddef.h>\n#include \"uapi/kvmfi.h\"\nint main(void){\n");
    for (name, _) in &expected {
        let expr = match name.strip_prefix("sizeof ") {
            Some(ty) => format!("sizeof(struct {ty})"),
            None => {
                let (ty, field) = name.split_once('.').unwrap();
                format!("offsetof(struct {ty}, {field})")
            }
        };
        c.push_str(&format!("printf(\"%s %zu\\n\", \"{name}\", (size_t){expr});\n"));
    }
    c.push_str(&format!(
        "printf(\"ABI %d.%d magic %d\\n\", KVMFI_ABI_MAJOR, KVMFI_ABI_MINOR, KVMFI_IOC_MAGIC);\nreturn 0;}}\n"
    ));

    let dir = std::env::temp_dir().join(format!("kvmfi-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("abi.c");
    let exe = dir.join("abi");
    std::fs::write(&src, c).unwrap();
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kmod/include");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc).arg("-I").arg(&include).arg(&src).arg("-o").arg(&exe).status()
        .unwrap_or_else(|e| panic!("running {cc}: {e} (a C compiler is needed for this test)"));
    assert!(status.success(), "the C header does not compile");
    let out = Command::new(&exe).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    for (name, rust) in &expected {
        let line = lines.next().unwrap();
        let c_value: usize = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(c_value, *rust, "{name}: C says {c_value}, Rust says {rust}");
    }
    assert_eq!(
        lines.next().unwrap(),
        format!("ABI {}.{} magic {}", kvmfi::abi::ABI_MAJOR, kvmfi::abi::ABI_MINOR, kvmfi::abi::IOC_MAGIC)
    );
    std::fs::remove_dir_all(&dir).ok();
}
