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
