//! `event_filter::relay::convert_datascrubbing_config` against the real one: Relay's own
//! `sentry_relay.convert_datascrubbing_config` (PyPI sentry-relay 0.10.1, run by
//! `tests/relay_legacy.py`) converts the same legacy settings, and the two results must be equal
//! JSON, or both errors. The settings cover every combination of the three switches with field
//! lists empty, of one and of many entries, with regex-special characters, quotes, dots, spaces,
//! upper case, non-ASCII and empty strings; exclude fields in every corner of Relay's selector
//! syntax; missing and unknown keys; the array form; wrongly typed settings; and a few hundred
//! generated field lists.
//!
//! It needs the pinned sentry-relay: `$UNDERSTUDY_RELAY_PYTHON`, else the workspace's
//! `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the comparison is
//! skipped with a note, or fails when every client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

mod support;

use std::path::Path;

use event_filter::Scrubber;
use event_filter::relay::{LegacyError, convert_datascrubbing_config, import};
use serde_json::{Value, json};

/// Field lists: (sensitive fields, exclude fields).
fn field_lists() -> Vec<(Value, Value)> {
    vec![
        (json!([]), json!([])),
        (json!(["password"]), json!(["foo"])),
        (
            json!(["password", "secret", "api_key", "session", "card_number"]),
            json!([
                "foo",
                "bar.baz",
                "$request.env",
                "$frame.vars.*",
                "extra.**"
            ]),
        ),
        (
            json!([
                "a.b",
                "a*b",
                "(x)",
                "[y]",
                "{z}",
                "a|b",
                "^start$",
                "back\\slash",
                "a-b&c~d#e",
                "?+"
            ]),
            json!([
                "a.'b.c'",
                "a || b",
                "!x",
                "(a && b) | c",
                "~$user",
                "a.**.b",
                "**"
            ]),
        ),
        (
            json!(["it's", "\"quoted\"", "'", "''"]),
            json!([
                "'it''s'", "a'b", "'abc''", "\"x\"", "''", "' lead'", "'trail '"
            ]),
        ),
        (
            json!([" spaced ", "two words", "a.b.c", "\ttab\t", "new\nline"]),
            json!(["a . b", "two words", " x ", "a.b.c", "a\tb", "a. b .c"]),
        ),
        (
            json!(["PASSWORD", "ApiKey", "X-Auth-Token"]),
            json!(["FOO", "Foo.Bar", "$HTTP", "$Request", "X-Forwarded-For"]),
        ),
        (
            json!(["пароль", "ü", "密码", "😀", "e\u{301}", "\u{a0}nbsp\u{a0}"]),
            json!(["ü", "'пароль'", "a.'密码'", "😀", "'\u{a0}'"]),
        ),
        (
            json!(["", "  ", "\u{a0}", "\u{2003}"]),
            json!(["", "   ", "\u{2003}", "\t"]),
        ),
        (json!(["", "token", " "]), json!(["", "foo", " ", "foo"])),
    ]
}

/// Exclude fields in every corner of Relay's selector syntax, each valid or not.
const SELECTORS: &[&str] = &[
    "foo",
    "a.b",
    "' abc'",
    "'abc '",
    "'   '",
    "''",
    "'it''s'",
    "'abc''",
    "a . b",
    "! a",
    "!!a",
    "a || b",
    "a | b",
    "a && b",
    "a & b",
    "(a)",
    "((a || b) || c)",
    "a && (b || c)",
    "!(a && b)",
    "~a",
    "$foo",
    "$_",
    "$Foo",
    "$frame1",
    "123",
    "a.007",
    "007",
    "18446744073709551615",
    "18446744073709551616",
    "***",
    "**",
    "*",
    "a.*",
    "*.a",
    "a.**.b.**",
    "a || *",
    "(*)",
    "ü",
    "a b",
    "$string",
    "$bool",
    "$boolean",
    "$list",
    "$array",
    "$error",
    "$exception",
    "$stack",
    "$stacktrace",
    "$request",
    "$http",
    "$log",
    "$trace_metric",
    "$span",
    "$sdk",
    "$minidump",
    "$heap_memory",
    "$stack_memory",
    "$replay",
    "$attachments",
    "$event",
    "$message",
    "$thread",
    "$breadcrumb",
    "$logentry",
    "$binary",
    "$datetime",
    "$number",
    "$object",
    "$user",
    "$frame",
    "$ourlog",
    "$client_sdk_info",
    "-a",
    "_a",
    "a-b",
    "a_b",
    "a.'b.c'",
    "'a'.b",
    "a.",
    ".a",
    "a..b",
    "()",
    "(a",
    "a)",
    "!",
    "&&",
    "a &&",
    "|| a",
    "A.B",
    "a.$string",
    "$string.**.a",
    "'a''''b'",
    "'''a'",
    "a &&& b",
    "a ||| b",
    "!(a)",
    "!(!a)",
    "(!a)",
    "a || !b && c",
    "'$foo'",
    "' '",
    "a.' '",
    "a.'1'",
    "'-a'",
    "'a b '",
    "x.' y'",
    "(a || b) && (c || d)",
    "!(a || b) || !c",
    "a&&b||c&&d",
    "( a )",
    "(  (a)  )",
    "a.(b)",
    "(a).b",
    "!$string",
    "$frame.vars.'my key'",
    "request.headers.'X-Api-Key'",
    "'a.b'.'c d'.**",
    "a.**.*",
    "**.a",
    "1.2.3",
    "a1.b2",
    "a.b.c.d.e.f",
    "$http.headers.Cookie",
    "'\\\\'",
    "a\\b",
    "'\u{a0}x'",
];

/// A small deterministic generator (xorshift), so that the generated cases are the same on
/// every run.
struct Generator(u64);

impl Generator {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    /// A string of fragments that matter to selectors and regexes.
    fn text(&mut self) -> String {
        const FRAGMENTS: &[&str] = &[
            "a", "b", "Key", "_x", "$", "$string", "$http", "$foo", "*", "**", ".", "'", "''", " ",
            "  ", "(", ")", "!", "~", "&", "&&", "|", "||", "1", "007", "-", "é", "\u{a0}", "\t",
            "\\", "[", "^", "#", "\"",
        ];
        let len = 1 + self.next(7);
        (0..len)
            .map(|_| FRAGMENTS[self.next(FRAGMENTS.len())])
            .collect()
    }

    fn texts(&mut self, most: usize) -> Value {
        let count = self.next(most + 1);
        Value::from((0..count).map(|_| self.text()).collect::<Vec<_>>())
    }
}

/// Every settings document the comparison runs.
fn all_settings() -> Vec<Value> {
    let mut settings = Vec::new();
    for scrub_data in [false, true] {
        for scrub_defaults in [false, true] {
            for scrub_ip in [false, true] {
                for (sensitive, exclude) in field_lists() {
                    settings.push(json!({
                        "scrubData": scrub_data,
                        "scrubDefaults": scrub_defaults,
                        "scrubIpAddresses": scrub_ip,
                        "sensitiveFields": sensitive,
                        "excludeFields": exclude,
                    }));
                }
            }
        }
    }
    // Missing and unknown keys.
    settings.extend([
        json!({}),
        json!({"scrubData": true}),
        json!({"scrubDefaults": true}),
        json!({"scrubIpAddresses": true}),
        json!({"scrubData": true, "scrubDefaults": true}),
        json!({"sensitiveFields": ["password"]}),
        json!({"scrubData": true, "sensitiveFields": ["password"]}),
        json!({"scrubIpAddresses": true, "excludeFields": ["foo"]}),
        json!({"scrubData": true, "excludeFields": ["foo"]}),
        json!({"scrub_data": true, "scrub_defaults": true, "scrub_ip_addresses": true}),
        json!({"ScrubData": true, "scrubdata": true, "scrubIPAddresses": true}),
        json!({"scrubData": true, "scrubDefaults": true, "rules": {}, "unknown": [1, 2]}),
    ]);
    // The array form: excludeFields, scrubData, scrubIpAddresses, sensitiveFields, scrubDefaults.
    settings.extend([
        json!([]),
        json!([["foo"]]),
        json!([[], true]),
        json!([["foo"], false, true]),
        json!([[], true, false, ["password"]]),
        json!([["foo"], true, true, ["password"], true]),
    ]);
    // Wrongly typed settings: both sides must refuse them.
    settings.extend([
        json!(null),
        json!("scrubData"),
        json!(1),
        json!(true),
        json!({"scrubData": null}),
        json!({"scrubData": 1}),
        json!({"scrubDefaults": "true"}),
        json!({"scrubIpAddresses": [true]}),
        json!({"sensitiveFields": "password"}),
        json!({"sensitiveFields": [1]}),
        json!({"sensitiveFields": null}),
        json!({"excludeFields": {"a": 1}}),
        json!({"excludeFields": ["ok", null]}),
        json!({"scrubData": false, "sensitiveFields": [false]}),
        json!([[], true, true, [], true, 5]),
        json!([[], 1]),
        json!([null]),
    ]);
    for selector in SELECTORS {
        settings.push(json!({"scrubIpAddresses": true, "excludeFields": [selector]}));
    }
    let mut generator = Generator(0x5eed_1e9a_c0de_0001);
    for _ in 0..300 {
        settings.push(json!({
            "scrubData": generator.next(4) != 0,
            "scrubDefaults": generator.next(2) == 0,
            "scrubIpAddresses": generator.next(2) == 0,
            "sensitiveFields": generator.texts(3),
            "excludeFields": generator.texts(4),
        }));
    }
    settings
}

/// Relay's results, one per settings document: `Ok(config)` or `Err(message)`.
fn relay_results(python: &Path, settings: &[Value]) -> Vec<Result<Value, String>> {
    let reply = support::run_script(python, "relay_legacy.py", &Value::from(settings.to_vec()));
    let results: Vec<Value> = serde_json::from_value(reply).expect("a list of results");
    results
        .into_iter()
        .map(|result| match (result.get("config"), result.get("error")) {
            (Some(config), _) => Ok(config.clone()),
            (None, Some(error)) => Err(error.as_str().unwrap_or_default().to_string()),
            (None, None) => panic!("unexpected script result {result}"),
        })
        .collect()
}

#[test]
fn conversion_equals_relays_own() {
    let Some(python) = test_clients::python_with_relay("relay legacy conversion") else {
        return;
    };
    let settings = all_settings();
    assert!(settings.len() >= 60);
    let relay = relay_results(&python, &settings);
    assert_eq!(
        relay.len(),
        settings.len(),
        "one result per settings document"
    );

    let mut differences = Vec::new();
    let mut converted = 0;
    for (settings, relay) in settings.iter().zip(relay) {
        let ours = convert_datascrubbing_config(settings);
        let same = match (&ours, &relay) {
            // The Python function returns `{}` for settings that scrub nothing.
            (Ok(None), Ok(config)) => config == &json!({}),
            (Ok(Some(ours)), Ok(config)) => {
                converted += 1;
                ours == config
            }
            (Err(_), Err(_)) => true,
            _ => false,
        };
        if !same {
            differences.push(format!(
                "settings {settings}\n  ours:  {ours:?}\n  relay: {relay:?}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} settings convert differently:\n{}",
        differences.len(),
        settings.len(),
        differences
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The comparison is about configs, not mostly about errors and empty results.
    assert!(converted > 300, "only {converted} settings gave a config");
}

/// `event` scrubbed by the policy imported from `source`.
fn scrubbed(source: &str, event: &Value) -> Value {
    let import = import(source, "settings.json").expect("import");
    let mut event = event.clone();
    Scrubber::new(import.policy).scrub(&mut event);
    event
}

#[test]
fn import_converts_legacy_settings_first() {
    let event = json!({
        "message": "mail bob@example.com",
        "user": {"ip_address": "10.1.2.3"},
        "extra": {"pin": "1234", "card": "4111 1111 1111 1111", "keep": "ok"},
    });
    let settings = json!({"scrubData": true, "scrubIpAddresses": true, "sensitiveFields": ["pin"]});
    let converted = convert_datascrubbing_config(&settings).unwrap().unwrap();
    let by_settings = scrubbed(&settings.to_string(), &event);
    assert_ne!(by_settings, event, "the settings scrub something");
    assert_eq!(by_settings, scrubbed(&converted.to_string(), &event));
    assert_eq!(by_settings["extra"]["pin"], "[Filtered]");
    assert_eq!(by_settings["extra"]["keep"], "ok");

    // In a project config, next to its PII config: that config, then the settings.
    let pii_config = json!({"applications": {"$string": ["@email:replace"]}});
    let both_in_order = scrubbed(
        &converted.to_string(),
        &scrubbed(&pii_config.to_string(), &event),
    );
    assert_ne!(both_in_order, by_settings, "the PII config adds something");
    for project in [
        json!({"config": {"piiConfig": pii_config, "datascrubbingSettings": settings}}),
        json!({"piiConfig": pii_config, "datascrubbingSettings": settings}),
    ] {
        assert_eq!(scrubbed(&project.to_string(), &event), both_in_order);
    }

    // Sentry's project options, where unset switches default to on.
    let options = json!({"sentry:scrub_ip_address": true, "sentry:sensitive_fields": ["pin"]});
    let with_defaults = json!({
        "scrubData": true, "scrubDefaults": true, "scrubIpAddresses": true,
        "sensitiveFields": ["pin"], "excludeFields": [],
    });
    let converted = convert_datascrubbing_config(&with_defaults)
        .unwrap()
        .unwrap();
    assert_eq!(
        scrubbed(&options.to_string(), &event),
        scrubbed(&converted.to_string(), &event)
    );

    // Settings that scrub nothing import as nothing.
    let nothing = import(
        r#"{"scrubData": false, "scrubIpAddresses": false}"#,
        "settings.json",
    )
    .expect("import");
    assert!(nothing.policy.relay.iter().all(|engine| engine.is_empty()));
}

#[test]
fn import_points_at_wrongly_typed_settings() {
    let source = "{\n  \"scrubData\": true,\n  \"sensitiveFields\": \"pin\"\n}";
    let error = import(source, "settings.json").unwrap_err();
    assert_eq!((error.line, error.column), (3, 3));
    assert!(
        error
            .message
            .contains("\"sensitiveFields\" must be an array of strings"),
        "{}",
        error.message
    );

    let source = "{\"sentry:scrub_data\": \"yes\"}";
    let error = import(source, "options.json").unwrap_err();
    assert!(
        error.message.contains("sentry:scrub_data"),
        "{}",
        error.message
    );
    let source = "{\"datascrubbingSettings\": 5}";
    let error = import(source, "project.json").unwrap_err();
    assert_eq!(
        error.message,
        LegacyError::NotAnObject("a number").to_string()
    );
}
