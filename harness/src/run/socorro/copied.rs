//! `CopyFromRawCrashRule`: the crash annotations Socorro's processor copies into the processed
//! crash, under their processed names, converted as it converts them.
//!
//! The table is Socorro's processed-crash schema (socorro 7e28d72,
//! `socorro/schemas/processed_crash.schema.yaml`): every property with a `source_annotation`,
//! its type, and the two defaults it declares. The two object-valued ones (`JavaException`,
//! `TelemetryEnvironment`, which Socorro parses and validates against the schema) are left out.

use serde_json::{Map, Value};

/// How Socorro converts an annotation (the property's first non-null type in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `value.rstrip()`.
    Text,
    /// `int(value)`.
    Integer,
    /// `float(value)`.
    Number,
    /// `"1"`/`"true"` or `"0"`/`"false"`, any case.
    Boolean,
    /// A boolean that is `false` when the annotation is missing.
    BooleanOrFalse,
}

use Kind::{Boolean, BooleanOrFalse, Integer, Number, Text};

/// `(annotation, processed key, kind)`, in the schema's order (which is the order of the
/// rule's notes).
pub(super) const COPIED: &[(&str, &str, Kind)] = &[
    ("AdapterDeviceID", "adapter_device_id", Text),
    ("AdapterDriverVersion", "adapter_driver_version", Text),
    ("AdapterSubsysID", "adapter_subsys_id", Text),
    ("AdapterVendorID", "adapter_vendor_id", Text),
    ("AbortMessage", "abort_message", Text),
    ("AccessibilityClient", "accessibility_client", Text),
    (
        "AccessibilityInProcClient",
        "accessibility_in_proc_client",
        Text,
    ),
    ("Android_Board", "android_board", Text),
    ("Android_Brand", "android_brand", Text),
    ("Android_CPU_ABI", "android_cpu_abi", Text),
    ("Android_CPU_ABI2", "android_cpu_abi2", Text),
    ("Android_Device", "android_device", Text),
    ("Android_Display", "android_display", Text),
    ("Android_Fingerprint", "android_fingerprint", Text),
    ("Android_Hardware", "android_hardware", Text),
    ("Android_Manufacturer", "android_manufacturer", Text),
    ("Android_Model", "android_model", Text),
    ("Android_PackageName", "android_packagename", Text),
    ("Android_Version", "android_version", Text),
    ("AppInitDLLs", "app_init_dlls", Text),
    ("Notes", "app_notes", Text),
    ("ApplicationBuildID", "application_build_id", Text),
    ("AsyncShutdownTimeout", "async_shutdown_timeout", Text),
    ("AvailablePageFile", "available_page_file", Integer),
    (
        "AvailablePhysicalMemory",
        "available_physical_memory",
        Integer,
    ),
    (
        "AvailableVirtualMemory",
        "available_virtual_memory",
        Integer,
    ),
    ("BackgroundTaskName", "background_task_name", Text),
    ("BuildID", "build", Text),
    (
        "CoMarshalInterfaceFailure",
        "co_marshal_interface_failure",
        Text,
    ),
    (
        "CoUnmarshalInterfaceResult",
        "co_unmarshal_interface_result",
        Text,
    ),
    (
        "ContentSandboxCapabilities",
        "content_sandbox_capabilities",
        Integer,
    ),
    ("ContentSandboxCapable", "content_sandbox_capable", Boolean),
    ("ContentSandboxEnabled", "content_sandbox_enabled", Boolean),
    ("ContentSandboxLevel", "content_sandbox_level", Integer),
    ("DOMFissionEnabled", "dom_fission_enabled", Boolean),
    ("DOMIPCEnabled", "dom_ipc_enabled", Boolean),
    ("DumperError", "dumper_error", Text),
    ("EMCheckCompatibility", "em_check_compatibility", Boolean),
    ("GleanClientId", "glean_client_id", Text),
    ("GMPLibraryPath", "gmp_library_path", Text),
    ("GMPPlugin", "gmp_plugin", Boolean),
    ("GraphicsCriticalError", "graphics_critical_error", Text),
    ("GraphicsStartupTest", "graphics_startup_test", Boolean),
    ("Hang", "hang", Text),
    ("HasDeviceTouchScreen", "has_device_touch_screen", Boolean),
    ("InstallTime", "install_time", Integer),
    ("ipc_channel_error", "ipc_channel_error", Text),
    ("IPCFatalErrorMsg", "ipc_fatal_error_msg", Text),
    ("IPCFatalErrorProtocol", "ipc_fatal_error_protocol", Text),
    ("IPCMessageName", "ipc_message_name", Text),
    ("IPCMessageSize", "ipc_message_size", Integer),
    ("IPCShutdownState", "ipc_shutdown_state", Text),
    ("IPCSystemError", "ipc_system_error", Integer),
    ("IsGarbageCollecting", "is_garbage_collecting", Boolean),
    (
        "JSLargeAllocationFailure",
        "js_large_allocation_failure",
        Text,
    ),
    (
        "MacAvailableMemorySysctl",
        "mac_available_memory_sysctl",
        Integer,
    ),
    ("MacMemoryPressure", "mac_memory_pressure", Text),
    (
        "MacMemoryPressureCriticalTime",
        "mac_memory_pressure_critical_time",
        Text,
    ),
    (
        "MacMemoryPressureNormalTime",
        "mac_memory_pressure_normal_time",
        Text,
    ),
    (
        "MacMemoryPressureSysctl",
        "mac_memory_pressure_sysctl",
        Integer,
    ),
    (
        "MacMemoryPressureWarningTime",
        "mac_memory_pressure_warning_time",
        Text,
    ),
    ("Marionette", "marionette", BooleanOrFalse),
    ("OOMAllocationSize", "oom_allocation_size", Integer),
    ("ProductName", "product", Text),
    ("ProductID", "productid", Text),
    (
        "QuotaManagerShutdownTimeout",
        "quota_manager_shutdown_timeout",
        Text,
    ),
    ("ReleaseChannel", "release_channel", Text),
    ("RemoteAgent", "remote_agent", BooleanOrFalse),
    ("RemoteType", "remote_type", Text),
    ("SafeMode", "safe_mode", Boolean),
    ("ShutdownProgress", "shutdown_progress", Text),
    ("ShutdownReason", "shutdown_reason", Text),
    ("StartupCrash", "startup_crash", Boolean),
    ("StartupTime", "startup_time", Integer),
    (
        "SystemMemoryUsePercentage",
        "system_memory_use_percentage",
        Integer,
    ),
    ("Throttleable", "throttleable", Boolean),
    ("TotalPageFile", "total_page_file", Integer),
    ("TotalPhysicalMemory", "total_physical_memory", Integer),
    ("TotalVirtualMemory", "total_virtual_memory", Integer),
    ("UptimeTS", "uptime_ts", Number),
    ("URL", "url", Text),
    ("Comments", "user_comments", Text),
    ("useragent_locale", "useragent_locale", Text),
    (
        "UtilityProcessSandboxingKind",
        "utility_process_sandboxing_kind",
        Integer,
    ),
    ("Vendor", "vendor", Text),
    ("Version", "version", Text),
    ("WindowsErrorReporting", "windows_error_reporting", Boolean),
    (
        "XPCOMSpinEventLoopStack",
        "xpcom_spin_event_loop_stack",
        Text,
    ),
];

/// Copies every annotation of `raw_crash` the table names into `processed`, as
/// `CopyFromRawCrashRule` does; a value that does not convert is left out with Socorro's note.
pub(super) fn copy_annotations(
    raw_crash: &Map<String, Value>,
    processed: &mut Map<String, Value>,
    notes: &mut Vec<String>,
) {
    for &(annotation, key, kind) in COPIED {
        let Some(value) = raw_crash.get(annotation) else {
            if kind == BooleanOrFalse {
                processed.insert(key.to_string(), Value::Bool(false));
            }
            continue;
        };
        // The collector stores every annotation as text; another value is not one Socorro's
        // rule would convert the same way, so it is not copied.
        let Some(text) = value.as_str() else {
            continue;
        };
        let converted = match kind {
            Text => Some(Value::String(py_rstrip(text).to_string())),
            Integer => py_int(text).map(Value::from),
            Number => py_float(text).map(Value::from),
            Boolean | BooleanOrFalse => py_bool(text).map(Value::Bool),
        };
        match converted {
            Some(value) => {
                processed.insert(key.to_string(), value);
            }
            None => notes.push(match kind {
                Integer => format!("{annotation} has a non-int value"),
                Number => format!("{annotation} has a non-float value"),
                _ => format!("{annotation} has non-boolean value {}", text.to_lowercase()),
            }),
        }
    }
}

/// Python's `str.isspace()` for one character.
pub(super) fn py_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{1c}'..='\u{1f}')
}

/// `text.rstrip()`.
pub(super) fn py_rstrip(text: &str) -> &str {
    text.trim_end_matches(py_space)
}

/// `text.strip()`.
pub(super) fn py_strip(text: &str) -> &str {
    text.trim_matches(py_space)
}

/// `int(text)`: surrounding whitespace, a sign, ASCII digits with single underscores between
/// them. `None` where Python raises, and also for digits of other scripts and values beyond
/// 64 bits (which Python would take): such a value is left out rather than guessed.
pub(super) fn py_int(text: &str) -> Option<i64> {
    let text = py_strip(text);
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let magnitude: i128 = digits.replace('_', "").parse().ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// `float(text)`, finite values only (JSON has no others).
pub(super) fn py_float(text: &str) -> Option<f64> {
    let text = py_strip(text);
    if text.contains('_') {
        // Python allows them between digits; nothing Socorro receives has them.
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// `str(value).lower()` in `("1", "true")` or `("0", "false")`.
fn py_bool(text: &str) -> Option<bool> {
    match text.to_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn copied(raw: Value) -> (Value, Vec<String>) {
        let mut processed = Map::new();
        let mut notes = Vec::new();
        copy_annotations(raw.as_object().unwrap(), &mut processed, &mut notes);
        (Value::Object(processed), notes)
    }

    #[test]
    fn annotations_land_under_their_processed_names_converted() {
        let (processed, notes) = copied(json!({
            "ProductName": "Firefox",
            "Version": "128.0 ",
            "ReleaseChannel": "nightly",
            "BuildID": "20260101000000",
            "AbortMessage": "###!!! ABORT: boom\n",
            "OOMAllocationSize": " 1_048_576 ",
            "StartupCrash": "1",
            "UptimeTS": "12.5",
            "ipc_channel_error": "ShutDownKill",
            "NotInTheSchema": "x",
        }));
        assert_eq!(
            processed,
            json!({
                "product": "Firefox",
                "version": "128.0",
                "release_channel": "nightly",
                "build": "20260101000000",
                "abort_message": "###!!! ABORT: boom",
                "oom_allocation_size": 1048576,
                "startup_crash": true,
                "uptime_ts": 12.5,
                "ipc_channel_error": "ShutDownKill",
                "marionette": false,
                "remote_agent": false,
            })
        );
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn values_that_do_not_convert_are_left_out_with_socorros_notes() {
        let (processed, notes) = copied(json!({
            "OOMAllocationSize": "0x100",
            "StartupCrash": "Yes",
            "UptimeTS": "soon",
            "Marionette": "maybe",
        }));
        assert_eq!(processed, json!({"remote_agent": false}));
        assert_eq!(
            notes,
            [
                "Marionette has non-boolean value maybe",
                "OOMAllocationSize has a non-int value",
                "StartupCrash has non-boolean value yes",
                "UptimeTS has a non-float value",
            ]
        );
    }

    #[test]
    fn python_int_accepts_what_python_does() {
        for (text, value) in [
            ("42", Some(42)),
            ("  -7\t", Some(-7)),
            ("+1_000", Some(1000)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("", None),
            ("-", None),
            ("0x10", None),
            ("1.0", None),
            ("99999999999999999999", None),
        ] {
            assert_eq!(py_int(text), value, "{text:?}");
        }
    }

    #[test]
    fn the_table_names_each_annotation_and_key_once() {
        let mut annotations: Vec<&str> = COPIED.iter().map(|c| c.0).collect();
        annotations.sort_unstable();
        annotations.dedup();
        assert_eq!(annotations.len(), COPIED.len());
        let mut keys: Vec<&str> = COPIED.iter().map(|c| c.1).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), COPIED.len());
    }
}
