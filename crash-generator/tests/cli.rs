//! The CLI writes the documented layout, inspects dumps, rejects bad input with a clear error,
//! and writes submission bodies the parser accepts.

use std::path::Path;
use std::process::Command;

use crash_generator::submission;

fn cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_crash-generator"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("crashgen-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn generate_writes_dumps_symbols_truth_and_zips() {
    let dir = temp_dir("generate");
    let status = cli()
        .args([
            "generate", "--seed", "7", "--count", "3", "--os", "windows", "--zip", "--out",
        ])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    let files = files_under(&dir);
    for seed in 7..10 {
        assert!(
            files.contains(&format!("dumps/windows-{seed}.dmp")),
            "{files:?}"
        );
        assert!(files.contains(&format!("truth/windows-{seed}.json")));
        assert!(files.contains(&format!("symbols-zip/windows-{seed}.zip")));
    }
    let syms: Vec<&String> = files.iter().filter(|f| f.starts_with("symbols/")).collect();
    assert!(!syms.is_empty());
    for sym in syms {
        // symbols/<debug_file>/<debug_id>/<sym_file>, Windows: foo.pdb/<id>/foo.sym
        let parts: Vec<&str> = sym.split('/').collect();
        assert_eq!(parts.len(), 4, "{sym}");
        assert!(
            parts[1].ends_with(".pdb") && parts[3].ends_with(".sym"),
            "{sym}"
        );
    }

    let output = cli()
        .arg("inspect")
        .arg(dir.join("dumps/windows-7.dmp"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("system: Windows NT / amd64"), "{text}");
    assert!(text.contains("exception: EXCEPTION_"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inspect_names_the_error_for_a_corrupt_dump() {
    let dir = temp_dir("inspect");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("junk.dmp");
    std::fs::write(&path, b"this is not a minidump at all, just text").unwrap();
    let output = cli().arg("inspect").arg(&path).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("HeaderMismatch"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_profiles_are_refused_with_the_reason() {
    let dir = temp_dir("profile");
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("bad.toml");
    std::fs::write(&profile, "threads = [5, 2]\n").unwrap();
    let output = cli()
        .args(["generate", "--out"])
        .arg(dir.join("out"))
        .arg("--profile")
        .arg(&profile)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("threads = [5, 2]"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn submit_can_write_bodies_that_parse() {
    let dir = temp_dir("submit");
    let status = cli()
        .args([
            "submit",
            "--seed",
            "3",
            "--count",
            "2",
            "--json-annotations",
            "--out",
        ])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    for seed in 3..5 {
        let body = std::fs::read(dir.join(format!("linux-{seed}.multipart"))).unwrap();
        let content_type = format!(
            "multipart/form-data; boundary={}",
            submission::boundary_for(seed)
        );
        let parsed = submission::parse(&content_type, &body).unwrap();
        assert_eq!(parsed.payload, "json");
        assert!(parsed.dumps.contains_key(submission::MINIDUMP_FIELD));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_compares_processor_json_with_a_truth_file() {
    use crash_generator::{Crash, Profile, processing};
    let dir = temp_dir("check");
    std::fs::create_dir_all(&dir).unwrap();
    let crash = Crash::generate(&Profile::default(), 21);
    let state = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(processing::process(&crash))
        .unwrap();
    let mut json = Vec::new();
    state.print_json(&mut json, true).unwrap();
    let truth = dir.join("truth.json");
    let processed = dir.join("processed.json");
    std::fs::write(&truth, crash.truth().to_json_pretty()).unwrap();
    std::fs::write(&processed, &json).unwrap();
    let ok = cli()
        .args(["check", "--truth"])
        .arg(&truth)
        .arg("--processed")
        .arg(&processed)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // Another seed's output must not pass.
    let other = Crash::generate(&Profile::default(), 22);
    std::fs::write(&truth, other.truth().to_json_pretty()).unwrap();
    let bad = cli()
        .args(["check", "--truth"])
        .arg(&truth)
        .arg("--processed")
        .arg(&processed)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stdout).contains("expected"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn windows_x86_is_selected_by_os_or_arch_and_inspected_as_x86() {
    let by_os = temp_dir("x86-os");
    let by_arch = temp_dir("x86-arch");
    for (dir, args) in [
        (&by_os, vec!["--os", "windows-x86"]),
        (&by_arch, vec!["--os", "windows", "--arch", "x86"]),
    ] {
        let status = cli()
            .args(["generate", "--seed", "4", "--count", "2"])
            .args(args)
            .arg("--out")
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let files = files_under(&by_os);
    assert_eq!(files, files_under(&by_arch));
    assert!(
        files.contains(&"dumps/windows-x86-4.dmp".to_string()),
        "{files:?}"
    );
    for file in &files {
        assert_eq!(
            std::fs::read(by_os.join(file)).unwrap(),
            std::fs::read(by_arch.join(file)).unwrap(),
            "{file}"
        );
        if file.starts_with("symbols/") {
            let sym = std::fs::read_to_string(by_os.join(file)).unwrap();
            assert!(sym.starts_with("MODULE windows x86 "), "{file}");
        }
    }
    let output = cli()
        .arg("inspect")
        .arg(by_os.join("dumps/windows-x86-4.dmp"))
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("system: Windows NT / x86"), "{text}");
    assert!(text.contains(" x86 eip=0x"), "{text}");

    let _ = std::fs::remove_dir_all(&by_os);
    let _ = std::fs::remove_dir_all(&by_arch);
}

#[test]
fn check_accepts_the_processors_json_for_an_x86_crash() {
    use crash_generator::{Crash, OsFlavor, Profile, processing};
    let dir = temp_dir("check-x86");
    std::fs::create_dir_all(&dir).unwrap();
    let crash = Crash::generate(&Profile::for_os(OsFlavor::WindowsX86), 5);
    let state = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(processing::process(&crash))
        .unwrap();
    let mut json = Vec::new();
    state.print_json(&mut json, true).unwrap();
    let truth = dir.join("truth.json");
    let processed = dir.join("processed.json");
    std::fs::write(&truth, crash.truth().to_json_pretty()).unwrap();
    std::fs::write(&processed, &json).unwrap();
    let output = cli()
        .args(["check", "--truth"])
        .arg(&truth)
        .arg("--processed")
        .arg(&processed)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_os_and_arch_is_generated_and_unmodelled_ones_are_refused() {
    let dir = temp_dir("os-arch");
    for (os, arch, name) in [
        ("linux", "arm64", "linux-arm64"),
        ("android", "arm64", "android-arm64"),
        ("mac", "arm64", "mac-arm64"),
        ("windows", "arm64", "windows-arm64"),
        ("linux", "x86", "linux-x86"),
        ("mac", "x86", "mac-x86"),
        ("windows", "amd64", "windows"),
    ] {
        let status = cli()
            .args([
                "generate", "--seed", "2", "--os", os, "--arch", arch, "--out",
            ])
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success(), "{os} {arch}");
        let dump = dir.join(format!("dumps/{name}-2.dmp"));
        let output = cli().arg("inspect").arg(&dump).output().unwrap();
        let text = String::from_utf8(output.stdout).unwrap();
        let cpu = if arch == "amd64" { "amd64" } else { arch };
        assert!(text.contains(&format!(" / {cpu}")), "{name}: {text}");
    }
    let text = String::from_utf8(
        cli()
            .arg("inspect")
            .arg(dir.join("dumps/android-arm64-2.dmp"))
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(text.contains("system: Android / arm64"), "{text}");
    assert!(text.contains(" arm64 pc=0x"), "{text}");

    for args in [
        ["--os", "android", "--arch", "x86"],
        ["--os", "linux", "--arch", "sparc"],
    ] {
        let refused = cli()
            .arg("generate")
            .args(args)
            .arg("--out")
            .arg(dir.join("refused"))
            .output()
            .unwrap();
        assert!(!refused.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("only modelled on arm64") || stderr.contains("unknown arch"),
            "{stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
