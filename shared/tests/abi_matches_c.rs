//! The Rust mirrors (shared/src/kernel/abi.rs, shared/src/kernel/request.rs) must match
//! the C uapi headers field for field: compile a C program against
//! kmod/include/uapi/kvmfi.h and uapi/kvmfi/*.h that prints every size,
//! offset and named constant, and compare with Rust's view.

use kvmfi::abi::{Arm, Event, Events, Status, Version};
use kvmfi::request::{bitop, cpu_reg, dirty_log, func_fail, kswapd, kvm_ioctl, kvm_version, memslot, mm_fault, tlb_flush, vcpu_state, vfs};
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
    // Each module's arguments (kvmfi_arm.arg), uapi/kvmfi/<tool>.h.
    expected.extend(fields!(func_fail::Args, "kvmfi_func_fail_args", [value, reserved]));
    expected.extend(fields!(cpu_reg::Args, "kvmfi_cpu_reg_args", [reg, bit, value, seed, reserved]));
    expected.extend(fields!(kvm_ioctl::Args, "kvmfi_kvm_ioctl_args", [cmd, fds, corrupt_pos, corrupt_type, reserved]));
    expected.extend(fields!(kvm_version::Args, "kvmfi_kvm_version_args", [cmd, cap, value]));
    expected.extend(fields!(vcpu_state::Args, "kvmfi_vcpu_state_args", [reg, value, reserved]));
    expected.extend(fields!(dirty_log::Args, "kvmfi_dirty_log_args", [ppm, seed, slot, reserved]));
    expected.extend(fields!(memslot::Args, "kvmfi_memslot_args", [slot, gfn_first, gfn_end, corrupt_pos,
        corrupt_type, reserved0, reserved, class]));
    expected.extend(fields!(mm_fault::Args, "kvmfi_mm_fault_args", [addr_start, addr_end, reserved]));
    expected.extend(fields!(kswapd::Args, "kvmfi_kswapd_args", [delay_ms, who, reserved]));

    // Named constants: `module::NAME` in Rust is KVMFI_MODULE_NAME in C.
    let mut constants: Vec<(String, u64)> = Vec::new();
    macro_rules! consts {
        ($($m:ident: [$($c:ident),* $(,)?]),* $(,)?) => {
            $($(constants.push((format!("KVMFI_{}_{}", stringify!($m).to_uppercase(), stringify!($c)), $m::$c as u64));)*)*
        };
    }
    consts!(
        bitop: [FLIP, SET, CLEAR],
        vfs: [MODE_ERROR, MODE_EMPTY],
        func_fail: [MODE_ERRNO, MODE_ZERO, MODE_VALUE],
        cpu_reg: [MODE_FLIP, MODE_SET, SP, PC, FLAGS, RANDOM, BIT_RANDOM],
        kvm_ioctl: [MODE_ERROR, MODE_CORRUPT, FD_VM, FD_VCPU, POS_CMD, POS_ARG, NR_CMDS],
        kvm_version: [MODE_VALUE, MODE_ERROR, NR_CMDS, NR_CAPS, CAP_VALID],
        vcpu_state: [MODE_XOR, MODE_SET, MODE_FLIP],
        dirty_log: [RANDOM, ADD, PPM],
        memslot: [MODE_FAIL, MODE_CORRUPT, CLASS_REGION, CLASS_GFN, POS_ADDR],
        mm_fault: [SIGSEGV, SIGBUS, OOM],
        kswapd: [MODE_DELAY, MODE_SKIP, WHO_KSWAPD, WHO_DIRECT, MAX_DELAY_MS],
        tlb_flush: [MODE_LOSE, MODE_KVM_REMOTE],
    );

    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"uapi/kvmfi.h\"\n#include \"uapi/kvmfi/requests.h\"\nint main(void){\n",
    );
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
    for (name, _) in &constants {
        c.push_str(&format!("printf(\"{name} %llu\\n\", (unsigned long long)({name}));\n"));
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
    for (name, rust) in &constants {
        let line = lines.next().unwrap();
        let c_value: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(c_value, *rust, "{name}: C says {c_value}, Rust says {rust}");
    }
    assert_eq!(
        lines.next().unwrap(),
        format!("ABI {}.{} magic {}", kvmfi::abi::ABI_MAJOR, kvmfi::abi::ABI_MINOR, kvmfi::abi::IOC_MAGIC)
    );
    std::fs::remove_dir_all(&dir).ok();
}
