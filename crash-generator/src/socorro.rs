//! The Socorro signature a generated crash gets: the processed crash Socorro's processor makes
//! of the crash (the processor's output in `json_dump`, the annotations siggen's rules read
//! under their processed names, the submission's other minidumps), signed by
//! `crash-signature`, which reproduces siggen.
//!
//! The same [`processed_crash`] serves the truth (from the ground truth, laid out as the
//! processor's JSON) and the check (from the real processor's JSON), so the two can only agree
//! when the processor reports the truth and the signing agrees with siggen.
//!
//! What goes where, as Socorro's rules copy it (`crash_signature::processed_crash` does the
//! common part):
//!
//! | from | processed key | read by siggen's |
//! |---|---|---|
//! | `AbortMessage` | `abort_message` | AbortSignature |
//! | `OOMAllocationSize` | `oom_allocation_size` | OOMSignature |
//! | `JSLargeAllocationFailure` | `js_large_allocation_failure` | OOMSignature |
//! | `AsyncShutdownTimeout` | `async_shutdown_timeout` | SignatureShutdownTimeout |
//! | `ipc_channel_error` | `ipc_channel_error` | SignatureIPCChannelError |
//! | `IPCMessageName` | `ipc_message_name` | SignatureIPCMessageName |
//! | `Hang` | `hang` | HungProcess |
//! | the profile's `additional_minidumps` | `additional_minidumps` | SignatureIPCChannelError |
//! | the processor's status | `mdsw_status_string` | StackwalkerErrorSignatureRule |
//!
//! `MozCrashReason` travels too but siggen does not read it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::profile::{Arch, EdgeCase, Profile};
use crate::submission::MINIDUMP_FIELD;
use crate::truth::GroundTruth;

/// What Socorro's signature generation gives a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocorroSignature {
    pub signature: String,
    /// The crashing thread's normalised frames joined with ` | ` (`None` without frames).
    pub proto_signature: Option<String>,
    /// siggen's notes.
    pub notes: Vec<String>,
}

impl SocorroSignature {
    /// Signs a processed crash.
    pub fn of_processed(processed: &Value) -> Self {
        let result = crash_signature::generate(processed);
        SocorroSignature {
            signature: result.signature,
            proto_signature: result.proto_signature,
            notes: result.notes,
        }
    }
}

/// The submission part name of one of the profile's additional minidumps (`browser` →
/// `upload_file_minidump_browser`).
pub fn additional_minidump_field(name: &str) -> String {
    format!("{MINIDUMP_FIELD}_{name}")
}

/// The processed crash for a crash of `profile` whose dump the processor turned into
/// `json_dump` (its JSON output), or refused with the error named `status` (`json_dump` is
/// then `None`). An empty dump never reaches Socorro's stackwalker: no `json_dump`, status
/// `EmptyMinidump`.
pub fn processed_crash(json_dump: Option<&Value>, status: &str, profile: &Profile) -> Value {
    let annotations: Map<String, Value> = profile
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let empty_dump = profile.edge_case == Some(EdgeCase::EmptyDump);
    let dump = match json_dump {
        Some(dump) if !empty_dump => dump.clone(),
        // What Socorro records when the stackwalker gives no output.
        _ => json!({}),
    };
    let mut processed = crash_signature::processed_crash(&dump, &annotations);
    let map = processed
        .as_object_mut()
        .expect("crash_signature::processed_crash makes an object");
    if empty_dump {
        map.remove("json_dump");
        map.insert("mdsw_status_string".into(), "EmptyMinidump".into());
    } else {
        map.insert("mdsw_status_string".into(), status.into());
    }
    if let Some(hang) = profile.annotations.get("Hang") {
        map.insert("hang".into(), hang.clone().into());
    }
    let additional: Vec<Value> = profile
        .additional_minidumps
        .iter()
        .map(|name| additional_minidump_field(name).into())
        .collect();
    map.insert("additional_minidumps".into(), additional.into());
    processed
}

/// The ground truth laid out as the processor's JSON output, with what siggen reads
/// (`None` for a dump the processor refuses).
pub fn truth_json_dump(truth: &GroundTruth) -> Option<Value> {
    if truth.status != "OK" {
        return None;
    }
    let hex = |value: u64| match truth.cpu_arch.as_deref() {
        Some(arch) if arch == Arch::X86.as_str() => format!("{value:#010x}"),
        _ => format!("{value:#018x}"),
    };
    let threads: Vec<Value> = truth
        .threads
        .iter()
        .map(|thread| {
            let frames: Vec<Value> = thread
                .frames
                .iter()
                .enumerate()
                .map(|(index, frame)| {
                    let mut out = json!({
                        "frame": index,
                        "module": frame.module,
                        "function": frame.function,
                        "file": frame.file,
                        "line": frame.line,
                        "offset": hex(frame.offset),
                    });
                    if !frame.inlines.is_empty() {
                        out["inlines"] = frame
                            .inlines
                            .iter()
                            .map(|i| json!({"function": i.function, "file": i.file, "line": i.line}))
                            .collect();
                    }
                    if !frame.unloaded_modules.is_empty() {
                        out["unloaded_modules"] = frame
                            .unloaded_modules
                            .iter()
                            .map(|u| {
                                json!({
                                    "module": u.module,
                                    "offsets": u.offsets.iter().map(|o| hex(*o)).collect::<Vec<_>>(),
                                })
                            })
                            .collect();
                    }
                    out
                })
                .collect();
            json!({"thread_id": thread.thread_id, "frames": frames})
        })
        .collect();
    Some(json!({
        "status": truth.status,
        "crash_info": {
            "type": truth.crash_reason,
            "crashing_thread": truth.crashing_thread,
        },
        "system_info": {"os": truth.os, "cpu_arch": truth.cpu_arch},
        "threads": threads,
    }))
}

/// The signature the truth of a crash of `profile` gets.
pub fn sign_truth(truth: &GroundTruth, profile: &Profile) -> SocorroSignature {
    let dump = truth_json_dump(truth);
    SocorroSignature::of_processed(&processed_crash(dump.as_ref(), &truth.status, profile))
}
