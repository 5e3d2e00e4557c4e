//! Every platform, as the real processor sees it: the OS and CPU in `system_info`, every trust
//! level the flavour's walker can produce, module identities in the OS's own scheme, the OS's
//! exception codes and the unwind records in the `.sym` files. For the ARM64 and 32-bit x86
//! flavours the external `minidump-stackwalk` (when installed) must report the ground truth too.

use std::collections::BTreeSet;

use crash_generator::{Crash, OsFlavor, Profile, processing};
use serde_json::Value;

mod common;
use common::ARM64_AND_X86_CFI;
use common::runtime;

const SEEDS: u64 = 24;

/// The processor's JSON for a crash, checked against the crash's ground truth.
fn processed_json(crash: &Crash) -> Value {
    let state = runtime()
        .block_on(processing::process(crash))
        .unwrap_or_else(|e| panic!("{}: {e}", crash.name()));
    let mut json = Vec::new();
    state.print_json(&mut json, false).expect("json output");
    let json: Value = serde_json::from_slice(&json).expect("valid json");
    let mismatches = crash.truth().compare_json(&json);
    assert!(mismatches.is_empty(), "{}: {mismatches:?}", crash.name());
    json
}

fn str_at<'a>(json: &'a Value, pointer: &str) -> &'a str {
    json.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
}

fn frames(json: &Value) -> impl Iterator<Item = &Value> {
    json["threads"]
        .as_array()
        .expect("threads")
        .iter()
        .flat_map(|t| t["frames"].as_array().expect("frames"))
}

#[test]
fn each_platform_reports_its_os_cpu_and_every_trust() {
    let expected = [
        (OsFlavor::LinuxArm64, "Linux", "arm64"),
        (OsFlavor::AndroidArm64, "Android", "arm64"),
        (OsFlavor::MacArm64, "Mac OS X", "arm64"),
        (OsFlavor::WindowsArm64, "Windows NT", "arm64"),
        (OsFlavor::LinuxX86, "Linux", "x86"),
        (OsFlavor::MacX86, "Mac OS X", "x86"),
        (OsFlavor::WindowsX86, "Windows NT", "x86"),
        (OsFlavor::Linux, "Linux", "amd64"),
    ];
    for (os, os_name, cpu) in expected {
        let mut trusts = BTreeSet::new();
        for seed in 0..SEEDS {
            let json = processed_json(&Crash::generate(&Profile::for_os(os), seed));
            assert_eq!(str_at(&json, "/system_info/os"), os_name, "{os:?}");
            assert_eq!(str_at(&json, "/system_info/cpu_arch"), cpu, "{os:?}");
            trusts.extend(frames(&json).map(|f| f["trust"].as_str().unwrap().to_string()));
        }
        let all: BTreeSet<String> = ["context", "cfi", "frame_pointer", "scan"]
            .map(String::from)
            .into();
        assert_eq!(trusts, all, "{os:?}");
    }
}

/// ARM64 callers are reported at return address - 4: every frame's offset is 4-aligned.
#[test]
fn arm64_frames_lie_on_instruction_boundaries() {
    for os in [OsFlavor::LinuxArm64, OsFlavor::MacArm64] {
        let json = processed_json(&Crash::generate(&Profile::for_os(os), 3));
        let mut callers = 0;
        for frame in frames(&json) {
            let offset = str_at(frame, "/offset");
            let offset = u64::from_str_radix(offset.trim_start_matches("0x"), 16).unwrap();
            assert_eq!(offset % 4, 0, "{os:?}: {frame}");
            callers += usize::from(frame["trust"] != "context");
        }
        assert!(callers > 0, "{os:?}: no caller frames to check");
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit())
}

#[test]
fn module_identities_follow_each_os() {
    for os in OsFlavor::ALL {
        let profile = Profile::for_os(os).with_modules(8, 8);
        let json = processed_json(&Crash::generate(&profile, 11));
        let modules = json["modules"].as_array().expect("modules");
        assert_eq!(modules.len(), 8);
        for m in modules {
            let code_id = str_at(m, "/code_id");
            let debug_id = str_at(m, "/debug_id");
            let filename = str_at(m, "/filename");
            let debug_file = str_at(m, "/debug_file");
            assert!(is_hex(debug_id, 33), "{os:?}: {m}");
            assert_eq!(debug_id, debug_id.to_uppercase(), "{os:?}: {m}");
            if os.is_linux_kernel() {
                // ELF: the build id, and its first 16 bytes as a GUID with age 0.
                assert!(is_hex(code_id, 40), "{os:?}: {m}");
                assert_eq!(debug_file, filename, "{os:?}");
                assert!(debug_id.ends_with('0'));
            } else if os.is_windows() {
                // PE: TIMESTAMP + SizeOfImage; PDB GUID + age.
                assert!(
                    is_hex(code_id, code_id.len()) && code_id.len() > 8,
                    "{os:?}: {m}"
                );
                assert!(debug_file.ends_with(".pdb"), "{os:?}: {m}");
            } else {
                // Mach-O: the UUID is both the code id and (with age 0) the debug id.
                assert!(is_hex(code_id, 32), "{os:?}: {m}");
                assert_eq!(format!("{code_id}0").to_uppercase(), debug_id, "{os:?}");
            }
        }
        let names: Vec<&str> = modules.iter().map(|m| str_at(m, "/filename")).collect();
        if os == OsFlavor::AndroidArm64 {
            for lib in ["app_process64", "libc.so", "libart.so"] {
                assert!(names.contains(&lib), "{names:?}");
            }
        }
    }
}

#[test]
fn exceptions_use_each_os_codes() {
    let reasons = |os: OsFlavor| -> BTreeSet<String> {
        (0..SEEDS)
            .map(|seed| {
                let json = processed_json(&Crash::generate(&Profile::for_os(os), seed));
                str_at(&json, "/crash_info/type").to_string()
            })
            .collect()
    };
    for os in [
        OsFlavor::LinuxArm64,
        OsFlavor::AndroidArm64,
        OsFlavor::LinuxX86,
    ] {
        let seen = reasons(os);
        assert!(
            seen.iter().all(|r| r.starts_with("SIG")),
            "{os:?}: {seen:?}"
        );
        assert!(seen.contains("SIGSEGV / SEGV_MAPERR"), "{os:?}: {seen:?}");
    }
    let mac = reasons(OsFlavor::MacArm64);
    assert!(
        mac.contains("EXC_BAD_ACCESS / KERN_INVALID_ADDRESS"),
        "{mac:?}"
    );
    assert!(
        mac.iter()
            .all(|r| r.starts_with("EXC_BAD_ACCESS") || r.contains("EXC_ARM_")),
        "{mac:?}"
    );
    let windows = reasons(OsFlavor::WindowsArm64);
    assert!(
        windows.contains("EXCEPTION_ACCESS_VIOLATION_READ"),
        "{windows:?}"
    );
}

#[test]
fn sym_files_carry_each_platforms_unwind_records() {
    let text_of = |os: OsFlavor| -> String {
        let profile = Profile {
            cfi_probability: 1.0,
            module_without_symbols_probability: 0.0,
            ..Profile::for_os(os)
        };
        let crash = Crash::generate(&profile, 1);
        crash
            .sym_files()
            .iter()
            .map(|(_, bytes)| String::from_utf8(bytes.clone()).unwrap())
            .collect()
    };
    let android = text_of(OsFlavor::AndroidArm64);
    assert!(android.starts_with("MODULE Linux arm64 "), "{android}");
    assert!(android.contains(".ra: .cfa -8 + ^ x29: .cfa -16 + ^"));
    assert!(text_of(OsFlavor::WindowsArm64).starts_with("MODULE windows arm64 "));
    assert!(text_of(OsFlavor::MacArm64).starts_with("MODULE mac arm64 "));
    for os in [OsFlavor::LinuxX86, OsFlavor::MacX86] {
        let text = text_of(os);
        assert!(text.contains(" x86 "), "{os:?}");
        assert!(text.contains("$ebp: .cfa -8 + ^"), "{os:?}");
        assert!(!text.contains("STACK WIN"), "{os:?}");
    }
    let windows_x86 = text_of(OsFlavor::WindowsX86);
    assert!(windows_x86.contains("STACK WIN") && !windows_x86.contains("STACK CFI"));
}

/// The external stackwalker, given the dump and the `.sym` files on disk, reports the ground
/// truth for the ARM64 and 32-bit x86 flavours, as it does for the others in the harness.
#[test]
fn minidump_stackwalk_reports_the_truth_for_new_platforms() {
    let Some(walker) =
        test_clients::minidump_stackwalk(concat!("the minidump-stackwalk check in ", file!()))
    else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("crashgen-platforms-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut checked = 0;
    for os in ARM64_AND_X86_CFI {
        for seed in 0..4 {
            let crash = Crash::generate(&Profile::for_os(os), seed);
            crash_generator::write_crash(&dir, &crash, false).unwrap();
            let dump = dir.join("dumps").join(format!("{}.dmp", crash.name()));
            let output = std::process::Command::new(&walker)
                .arg("--json")
                .arg(&dump)
                .arg(dir.join("symbols"))
                .output()
                .expect("minidump-stackwalk runs");
            assert!(output.status.success(), "{}: {output:?}", crash.name());
            let json: Value = serde_json::from_slice(&output.stdout).expect("json");
            let mismatches = crash.truth().compare_json(&json);
            assert!(mismatches.is_empty(), "{}: {mismatches:?}", crash.name());
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
    let _ = std::fs::remove_dir_all(&dir);
}
