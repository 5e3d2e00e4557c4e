//! Crashes as Socorro keeps them: the processed crash Socorro's processor would store for a
//! crash (`v1/processed_crash/<id>`), made from the raw crash the collector stored and one
//! processor's output, signed by `crash-signature` as Socorro's `SignatureGeneratorRule` signs
//! it. siggen's `convert_to_crash_data` reads it unchanged.
//!
//! Of Socorro's `DEFAULT_RULESET` (socorro 7e28d72, `socorro/mozilla_rulesets.py`), what can be
//! filled truthfully from those two, in the ruleset's order:
//!
//! | rule | keys |
//! |---|---|
//! | `DeNullRule` | NUL characters dropped from the annotations |
//! | `CollectorMetadataRule` | `collector_metadata` (the collector's `metadata`) |
//! | `CopyFromRawCrashRule` | every annotation the schema copies, under its processed name (`copied`) |
//! | `ESRVersionRewrite` | `version` gets `esr` on the `esr` channel |
//! | `IdentifierRule` | `uuid`, `crash_id` |
//! | `MinidumpSha256HashRule` | `minidump_sha256_hash` |
//! | `MinidumpStackwalkRule` | `json_dump`, `mdsw_status_string`, `additional_minidumps`; for the external stackwalker also `mdsw_return_code`, `stackwalk_version` |
//! | `CrashingThreadInfoRule` | `crashing_thread`, `crashing_thread_name`, `reason`, `address`, `last_error_value` |
//! | `ProcessTypeRule` | `process_type` |
//! | `DatesAndTimesRule` | `submitted_timestamp`, `date_processed` (not the times derived from other annotations) |
//! | `MozCrashReasonRule` | `moz_crash_reason`, `moz_crash_reason_raw` |
//! | `CPUInfoRule`, `OSInfoRule`, `PlatformInfoRule` | `cpu_arch`, `cpu_info`, `cpu_count`, `cpu_microcode_version`, `os_name`, `os_version` |
//! | `ThreadCountRule` | `thread_count` |
//! | `SignatureGeneratorRule` | `signature`, `proto_signature` |
//! | `ShutDownHangCrashingThreadRule` | `crashing_thread` is 0 for a `shutdownhang` signature |
//!
//! `processor_notes` holds these rules' notes, one a line, siggen's last. `json_dump` is the
//! processor's output unchanged: the rules that edit it (`TruncateStacksRule` past 500 frames,
//! `ModuleURLRewriteRule`) are not applied, nor is anything that needs more than the crash
//! (`BetaVersionRule`'s version lookup, the Java, memory-report and add-on rules).

mod copied;

use serde_json::{Map, Value};

use super::outcome::Processed;
use crate::processor::StackwalkOutput;

/// The dump Socorro's stackwalker rule processes; others named `upload_file_minidump*` are
/// `additional_minidumps`.
const DUMP_FIELD: &str = "upload_file_minidump";

/// What one processor made of the crash's `upload_file_minidump`, as `MinidumpStackwalkRule`
/// records it.
#[derive(Debug, Clone)]
pub(crate) struct Walked {
    /// `json_dump`; `None` for an empty dump, which Socorro never gives the stackwalker.
    json_dump: Option<Value>,
    /// `mdsw_status_string`.
    status: String,
    /// `mdsw_return_code` and `stackwalk_version`: the external stackwalker's only.
    external: Option<(i32, String)>,
}

impl Walked {
    /// The in-process processor's result for `dump`: its JSON, whose `status` is the status; or,
    /// when it failed, `{}` and the error's name, which is what Socorro records when
    /// minidump-stackwalk fails the same way (no output, the error named in its log).
    pub(crate) fn in_process(dump: &[u8], processed: &Processed) -> Self {
        if dump.is_empty() {
            return Self::empty();
        }
        let (json_dump, status) = match processed {
            Processed::Json(json) => (json.clone(), status_of(json)),
            Processed::Failed(name) => (Value::Object(Map::new()), name.clone()),
        };
        Walked {
            json_dump: Some(json_dump),
            status,
            external: None,
        }
    }

    /// The external minidump-stackwalk's run over `dump` (`version` is its `--version`). Its
    /// output counts only when it exited with 0, as in Socorro.
    pub(crate) fn stackwalk(dump: &[u8], output: &StackwalkOutput, version: &str) -> Self {
        if dump.is_empty() {
            return Self::empty();
        }
        let json_dump = match output.return_code {
            0 => output.json.clone(),
            _ => Value::Object(Map::new()),
        };
        Walked {
            json_dump: Some(json_dump),
            status: output.status.clone(),
            external: Some((output.return_code, version.to_string())),
        }
    }

    /// Socorro's shortcut for a 0-byte dump: no stackwalker, no `json_dump`.
    fn empty() -> Self {
        Walked {
            json_dump: None,
            status: "EmptyMinidump".into(),
            external: None,
        }
    }
}

/// `json_dump.status`, or Socorro's "unknown error" without one.
fn status_of(json: &Value) -> String {
    json.get("status")
        .and_then(Value::as_str)
        .unwrap_or("unknown error")
        .to_string()
}

/// A processed crash, and siggen's notes on its signature: the last lines of its
/// `processor_notes`, which hold other rules' notes too, so a check that compares them exactly
/// needs them apart (the report's `signature_notes`).
pub(crate) struct Kept {
    pub json: Value,
    pub signature_notes: Vec<String>,
}

/// The processed crash Socorro's processor would make of `raw_crash` (the collector's, an
/// object; anything else, such as `null` for a real dump read from a folder, counts as no
/// annotations) and `walked`, signed.
pub(crate) fn processed_crash(raw_crash: &Value, walked: Walked) -> Kept {
    let raw = de_null(raw_crash);
    let mut crash = Map::new();
    let mut notes = Vec::new();
    let metadata = raw.get("metadata").and_then(Value::as_object);

    // CollectorMetadataRule, CopyFromRawCrashRule, ESRVersionRewrite, IdentifierRule,
    // MinidumpSha256HashRule.
    crash.insert(
        "collector_metadata".into(),
        Value::Object(metadata.cloned().unwrap_or_default()),
    );
    copied::copy_annotations(&raw, &mut crash, &mut notes);
    if crash.get("release_channel").and_then(Value::as_str) == Some("esr") {
        match crash.get_mut("version") {
            Some(Value::String(version)) => version.push_str("esr"),
            _ => notes.push("'version' missing from esr release processed_crash".into()),
        }
    }
    if let Some(uuid) = raw.get("uuid") {
        crash.insert("crash_id".into(), uuid.clone());
        crash.insert("uuid".into(), uuid.clone());
    }
    let checksums = metadata
        .and_then(|m| m.get("dump_checksums"))
        .and_then(Value::as_object);
    crash.insert(
        "minidump_sha256_hash".into(),
        checksums
            .and_then(|c| c.get(DUMP_FIELD))
            .cloned()
            .unwrap_or_else(|| Value::String(String::new())),
    );

    // MinidumpStackwalkRule: the other minidumps are named in the collector's checksums.
    let additional: Vec<Value> = checksums
        .into_iter()
        .flat_map(|c| c.keys())
        .filter(|name| name.starts_with(DUMP_FIELD) && *name != DUMP_FIELD)
        .map(|name| Value::String(name.clone()))
        .collect();
    crash.insert("additional_minidumps".into(), Value::Array(additional));
    crash.insert("mdsw_status_string".into(), Value::String(walked.status));
    if let Some((code, version)) = walked.external {
        crash.insert("mdsw_return_code".into(), code.into());
        crash.insert("stackwalk_version".into(), version.into());
    }
    match walked.json_dump {
        Some(json_dump) => {
            crash_info(&json_dump, &mut crash, &mut notes);
            crash.insert("json_dump".into(), json_dump);
        }
        None => notes.push(format!(
            "MinidumpStackwalkRule: {DUMP_FIELD} is empty--skipping minidump processing"
        )),
    }

    // ProcessTypeRule, DatesAndTimesRule, MozCrashReasonRule.
    let process_type = match raw.get("ProcessType").and_then(Value::as_str) {
        None | Some("main") => "parent",
        Some(other) => other,
    };
    crash.insert("process_type".into(), process_type.into());
    if let Some(submitted) = raw.get("submitted_timestamp").filter(|t| t.is_string()) {
        crash.insert("submitted_timestamp".into(), submitted.clone());
        crash.insert("date_processed".into(), submitted.clone());
    }
    if let Some(reason) = raw
        .get("MozCrashReason")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        crash.insert("moz_crash_reason_raw".into(), reason.into());
        crash.insert("moz_crash_reason".into(), sanitized_reason(reason).into());
    }

    // CPUInfoRule, OSInfoRule, PlatformInfoRule, ThreadCountRule.
    system_info(&raw, &mut crash);
    let thread_count = dump_value(&crash, &["thread_count"]).unwrap_or(Value::Null);
    crash.insert("thread_count".into(), thread_count);

    // SignatureGeneratorRule, ShutDownHangCrashingThreadRule.
    let mut processed = Value::Object(crash);
    let result = crash_signature::generate(&processed);
    notes.extend(result.notes.iter().cloned());
    if let Value::Object(crash) = &mut processed {
        if result.signature.starts_with("shutdownhang") {
            crash.insert("crashing_thread".into(), 0.into());
        }
        crash.insert("signature".into(), result.signature.into());
        if let Some(proto) = result.proto_signature {
            crash.insert("proto_signature".into(), proto.into());
        }
        crash.insert("processor_notes".into(), notes.join("\n").into());
    }
    Kept {
        json: processed,
        signature_notes: result.notes,
    }
}

/// The raw crash's annotations with NUL characters dropped from their values (`DeNullRule`).
fn de_null(raw_crash: &Value) -> Map<String, Value> {
    let Some(raw) = raw_crash.as_object() else {
        return Map::new();
    };
    raw.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) if text.contains('\0') => Value::String(text.replace('\0', "")),
                other => other.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}

/// `glom(processed_crash, "json_dump.<path>", default=...)`: the value there (`null`
/// included), or `None` where the path leads nowhere.
fn dump_value(crash: &Map<String, Value>, path: &[&str]) -> Option<Value> {
    let mut here = crash.get("json_dump")?;
    for key in path {
        here = here.as_object()?.get(*key)?;
    }
    Some(here.clone())
}

/// `CrashingThreadInfoRule` over `json_dump` (which Socorro runs whenever there is one).
fn crash_info(json_dump: &Value, crash: &mut Map<String, Value>, notes: &mut Vec<String>) {
    let empty = Map::new();
    let info = json_dump
        .get("crash_info")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let crashing_thread = info.get("crashing_thread").cloned().unwrap_or(Value::Null);
    if crashing_thread.is_null() {
        notes.push("mdsw did not identify the crashing thread".into());
    }
    crash.insert("crashing_thread".into(), crashing_thread);
    let thread_name = json_dump
        .pointer("/crashing_thread/thread_name")
        .cloned()
        .unwrap_or(Value::Null);
    crash.insert("crashing_thread_name".into(), thread_name);
    crash.insert(
        "reason".into(),
        info.get("type").cloned().unwrap_or_else(|| "".into()),
    );
    // A null-pointer access reads as address zero of the address's width; a non-canonical one
    // as the adjusted address.
    let mut address = info.get("address").cloned().unwrap_or(Value::Null);
    if let Some(adjusted) = info.get("adjusted_address").filter(|a| !a.is_null()) {
        match adjusted.get("kind").and_then(Value::as_str) {
            Some("null-pointer") => {
                let wide = address.as_str().is_some_and(|a| a.len() == 18);
                address = match wide {
                    true => "0x0000000000000000".into(),
                    false => "0x00000000".into(),
                };
            }
            Some("non-canonical") => {
                if let Some(real) = adjusted.get("address").filter(|a| py_truthy(a)) {
                    address = real.clone();
                }
            }
            _ => {}
        }
    }
    crash.insert("address".into(), address);
    if let Some(last_error) = json_dump
        .pointer("/crashing_thread/last_error_value")
        .filter(|v| v.is_string())
    {
        crash.insert("last_error_value".into(), last_error.clone());
    }
}

/// `CPUInfoRule`, `OSInfoRule` and `PlatformInfoRule`: the machine from `json_dump`, else from
/// the annotations.
fn system_info(raw: &Map<String, Value>, crash: &mut Map<String, Value>) {
    let info =
        |key: &str, default: Value| dump_value(crash, &["system_info", key]).unwrap_or(default);
    let cpu_info = info("cpu_info", "unknown".into());
    let cpu_count = info("cpu_count", 0.into());
    let cpu_arch = info("cpu_arch", "unknown".into());
    let microcode = info("cpu_microcode_version", Value::Null);
    // OSInfoRule strips the text; a value that is not text fails the rule there.
    let mut os = Vec::new();
    for (key, default, name) in [("os", "Unknown", "os_name"), ("os_ver", "", "os_version")] {
        match info(key, default.into()) {
            Value::String(text) => os.push((name, copied::py_strip(&text).to_string())),
            _ => break,
        }
    }
    crash.insert("cpu_info".into(), cpu_info);
    crash.insert("cpu_count".into(), cpu_count);
    crash.insert("cpu_arch".into(), cpu_arch);
    if !microcode.is_null() {
        crash.insert("cpu_microcode_version".into(), microcode);
    }
    for (name, value) in os {
        crash.insert(name.into(), value.into());
    }
    for (key, annotation, sentinel) in [
        ("cpu_arch", "CPUArchitecture", "unknown"),
        ("cpu_info", "CPUInfo", "unknown"),
        ("os_name", "OS", "Unknown"),
        ("os_version", "OSVersion", ""),
    ] {
        let current = crash.get(key).cloned().unwrap_or(Value::Null);
        if py_truthy(&current) && current.as_str() != Some(sentinel) {
            continue;
        }
        let value = raw
            .get(annotation)
            .and_then(Value::as_str)
            .map(copied::py_strip)
            .unwrap_or_default();
        if !value.is_empty() {
            crash.insert(key.into(), value.into());
        }
    }
}

/// `MozCrashReasonRule`: reasons that can carry URLs and other private text are replaced.
fn sanitized_reason(reason: &str) -> &str {
    const DISALLOWED_PREFIXES: [&str; 3] = [
        "Failed to load module",
        "byte index",
        "do not use eval with system privileges",
    ];
    if DISALLOWED_PREFIXES.iter().any(|p| reason.starts_with(p)) {
        "sanitized--see moz_crash_reason_raw"
    } else {
        reason
    }
}

/// Python's truthiness of a JSON value.
fn py_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dump() -> Value {
        json!({
            "status": "OK",
            "crash_info": {"type": "SIGSEGV /SEGV_MAPERR", "address": "0x0000000000000010",
                           "adjusted_address": {"kind": "null-pointer", "offset": "0x10"},
                           "crashing_thread": 0},
            "crashing_thread": {"thread_name": "main", "last_error_value": "ERROR_SUCCESS"},
            "system_info": {"os": "Linux", "os_ver": "0.0.0 Linux 6.1 ", "cpu_arch": "amd64",
                            "cpu_info": "GenuineIntel family 6", "cpu_count": 4},
            "thread_count": 1,
            "threads": [{"frames": [
                {"function": "mozalloc_abort", "module": "libmozalloc.so"},
                {"function": "nsFoo::Bar(int)", "file": "/src/foo.cpp", "line": 3, "module": "libxul.so"},
                {"function": "main", "module": "firefox"},
            ]}],
        })
    }

    fn raw() -> Value {
        json!({
            "ProductName": "Firefox",
            "Version": "128.0",
            "ReleaseChannel": "esr",
            "AbortMessage": "###!!! ABORT: bad\u{0} state: file /src/foo.cpp:3",
            "MozCrashReason": "byte index 4 is out of bounds of `https://example.com/`",
            "ProcessType": "content",
            "uuid": "de1bb258-cbbf-4589-a673-34f800160918",
            "submitted_timestamp": "2026-09-18T04:00:00+00:00",
            "metadata": {"dump_checksums": {"upload_file_minidump": "ab12",
                                            "upload_file_minidump_browser": "cd34"}},
        })
    }

    #[test]
    fn a_crash_is_kept_as_socorros_processor_keeps_it() {
        let walked = Walked::in_process(b"MDMP", &Processed::Json(dump()));
        let crash = processed_crash(&raw(), walked).json;
        let field = |key: &str| crash.get(key).cloned().unwrap_or(Value::Null);
        assert_eq!(field("json_dump"), dump());
        assert_eq!(field("mdsw_status_string"), "OK");
        assert_eq!(field("uuid"), "de1bb258-cbbf-4589-a673-34f800160918");
        assert_eq!(field("crash_id"), field("uuid"));
        assert_eq!(field("product"), "Firefox");
        assert_eq!(field("version"), "128.0esr");
        assert_eq!(field("release_channel"), "esr");
        assert_eq!(
            field("abort_message"),
            "###!!! ABORT: bad state: file /src/foo.cpp:3"
        );
        assert_eq!(
            field("moz_crash_reason"),
            "sanitized--see moz_crash_reason_raw"
        );
        assert_eq!(field("process_type"), "content");
        assert_eq!(field("crashing_thread"), 0);
        assert_eq!(field("crashing_thread_name"), "main");
        assert_eq!(field("reason"), "SIGSEGV /SEGV_MAPERR");
        assert_eq!(field("address"), "0x0000000000000000");
        assert_eq!(field("os_name"), "Linux");
        assert_eq!(field("os_version"), "0.0.0 Linux 6.1");
        assert_eq!(field("cpu_arch"), "amd64");
        assert_eq!(field("thread_count"), 1);
        assert_eq!(field("minidump_sha256_hash"), "ab12");
        assert_eq!(
            field("additional_minidumps"),
            json!(["upload_file_minidump_browser"])
        );
        assert_eq!(field("date_processed"), "2026-09-18T04:00:00+00:00");
        // Signed with the annotations, as siggen signs what Socorro stored.
        assert_eq!(field("signature"), "Abort | bad state | nsFoo::Bar");
        assert_eq!(
            field("proto_signature"),
            "mozalloc_abort | nsFoo::Bar | main"
        );
        assert_eq!(crash["signature"], crash_signature::signature(&crash));
        // No rule had anything to note.
        assert_eq!(field("processor_notes"), "");
    }

    #[test]
    fn a_dump_the_processor_failed_has_an_empty_json_dump_and_the_errors_name() {
        let walked = Walked::in_process(b"XDMP", &Processed::Failed("HeaderMismatch".into()));
        let crash = processed_crash(&json!({"ProductName": "Firefox"}), walked).json;
        assert_eq!(crash["json_dump"], json!({}));
        assert_eq!(crash["mdsw_status_string"], "HeaderMismatch");
        assert_eq!(crash["crashing_thread"], Value::Null);
        assert_eq!(crash["os_name"], "Unknown");
        assert_eq!(
            crash["signature"],
            "EMPTY: no frame data available; HeaderMismatch"
        );
        assert!(crash.get("proto_signature").is_none());
        let notes = crash["processor_notes"].as_str().unwrap();
        assert!(
            notes.starts_with("mdsw did not identify the crashing thread\n"),
            "{notes}"
        );
    }

    #[test]
    fn an_empty_dump_is_never_walked_and_has_no_json_dump() {
        let walked = Walked::in_process(b"", &Processed::Failed("MissingHeader".into()));
        let crash = processed_crash(&json!({"OS": "Windows NT"}), walked).json;
        assert!(crash.get("json_dump").is_none());
        assert!(crash.get("crashing_thread").is_none());
        assert_eq!(crash["mdsw_status_string"], "EmptyMinidump");
        assert_eq!(
            crash["os_name"], "Windows NT",
            "PlatformInfoRule's fallback"
        );
        assert_eq!(
            crash["signature"],
            "EMPTY: no frame data available; EmptyMinidump"
        );
    }

    #[test]
    fn the_external_stackwalker_adds_its_return_code_and_version() {
        let output = StackwalkOutput {
            json: dump(),
            return_code: 0,
            status: "OK".into(),
        };
        let walked = Walked::stackwalk(b"MDMP", &output, "minidump-stackwalk 0.27.0");
        let crash = processed_crash(&Value::Null, walked).json;
        assert_eq!(crash["mdsw_return_code"], 0);
        assert_eq!(crash["stackwalk_version"], "minidump-stackwalk 0.27.0");
        assert_eq!(crash["process_type"], "parent");
        assert_eq!(crash["marionette"], false);
        assert_eq!(crash["signature"], "nsFoo::Bar");
        // A run that did not exit with 0 leaves no output, whatever it wrote.
        let failed = StackwalkOutput {
            return_code: 1,
            status: "HeaderMismatch".into(),
            ..output
        };
        let walked = Walked::stackwalk(b"XDMP", &failed, "minidump-stackwalk 0.27.0");
        let crash = processed_crash(&Value::Null, walked).json;
        assert_eq!(crash["json_dump"], json!({}));
        assert_eq!(
            crash["signature"],
            "EMPTY: no frame data available; HeaderMismatch"
        );
    }
}
