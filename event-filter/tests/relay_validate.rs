//! Which Relay PII configs are valid, against Relay's own answer: sentry-relay 0.10.1's
//! `validate_pii_config` (what Sentry runs to refuse a config when a user saves it; run by
//! `tests/relay_validate.py`) and `event_filter::relay::import` (what `event-filter
//! check-policy` runs) must accept and refuse the same configs, and `validate_pii_selector` and
//! the importer the same selectors. The corpus, made here: text that is not JSON or not an
//! object; `rules`, `applications` and `vars` of every wrong type; every rule type with its
//! fields missing, mistyped, misspelt, given twice; numeric types; regexes that do not parse or
//! compile too large, applied or not, directly or through `alias` and `multiple` chains up to
//! Relay's nesting limit and past it; every redaction wrongly; selectors of every
//! `SelectorError` kind and huge ones; application values that are not lists of strings;
//! references to undefined rules and rules that name themselves; unknown keys; a few hundred
//! generated rules and selectors; and every config of `testdata/relay/configs/`.
//!
//! Every verdict must be equal, except the configs of [`intended_differences`], each with its
//! reason, each of which must still differ as listed.
//!
//! It needs the pinned sentry-relay: `$UNDERSTUDY_RELAY_PYTHON`, else the workspace's
//! `.clients/venv` (which `scripts/setup-test-clients` makes). Without it the comparison is
//! skipped with a note, or fails when every client is required
//! (`UNDERSTUDY_REQUIRE_ALL_CLIENTS=1`, which `.ci/run` sets, or `CI`).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use event_filter::relay::{MAX_SELECTOR_BYTES, MAX_SELECTOR_NODES, import};
use serde_json::{Value, json};

/// A config made from a JSON value.
fn text(config: &Value) -> String {
    config.to_string()
}

/// A config with one rule, applied to every string (so that its regexes are compiled).
fn applied(rule: Value) -> String {
    text(&json!({"rules": {"r": rule}, "applications": {"$string": ["r"]}}))
}

/// A config with one rule, applied nowhere.
fn unapplied(rule: Value) -> String {
    text(&json!({"rules": {"r": rule}}))
}

/// A config applying `rules` at one selector.
fn at(selector: &str, rules: Value) -> String {
    let mut applications = serde_json::Map::new();
    applications.insert(selector.to_string(), rules);
    text(&json!({ "applications": applications }))
}

/// Values of every JSON type, for fields to be given the wrong one.
fn every_type() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(1),
        json!(-1),
        json!(1.5),
        json!("x"),
        json!(""),
        json!([]),
        json!(["x"]),
        json!([1]),
        json!({}),
        json!({"x": 1}),
    ]
}

/// Text that is not JSON, or JSON that is not an object.
fn not_configs() -> Vec<String> {
    [
        "",
        " ",
        "nope",
        "{",
        "}",
        "{\"rules\": {}",
        "{'rules': {}}",
        "{\"applications\": {\"$string\": [\"@ip\"],}}",
        "{\"applications\": {\"$string\": [\"@ip\"]}} x",
        "{\"applications\": {\"$string\": [\"@ip\"]}}{}",
        "{rules: {}}",
        "NaN",
        "{\"a\": NaN}",
        "{\"a\": 01}",
        "{\"a\": \"\\x\"}",
        "\u{feff}{}",
        "1",
        "-1",
        "null",
        "true",
        "\"x\"",
        "\"{}\"",
        " {} ",
        "{}",
        // A struct is also read from a list of its fields in order: rules, vars, applications.
        "[]",
        "[1]",
        "[{}]",
        "[{}, {}, {}]",
        "[{}, {}, {}, 1]",
        "[{\"r\": {}}]",
        "[{\"r\": {\"type\": \"ip\"}}, {}, {\"$string\": [\"r\"]}]",
        "[{}, {}, {\"$bogus\": []}]",
        "[{}, [\"k\"]]",
        "[{}, [1]]",
        "[{}, [\"k\", 2]]",
        "[null]",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// `rules`, `applications` and `vars` of every type, and unknown top-level keys.
fn top_level() -> Vec<String> {
    let mut configs = Vec::new();
    for value in every_type() {
        for key in ["rules", "applications", "vars"] {
            configs.push(text(&json!({ key: value })));
        }
    }
    configs.extend(
        [
            json!({"vars": {"hashKey": "k"}}),
            json!({"vars": {"hashKey": null}}),
            json!({"vars": {"hashKey": 1}}),
            json!({"vars": {"hashKey": ["k"]}}),
            json!({"vars": {"hash_key": 1}}),
            json!({"vars": ["k"]}),
            json!({"vars": [null]}),
            json!({"vars": [1]}),
            json!({"vars": ["k", "x"]}),
            json!({"foo": 1}),
            json!({"RULES": 1, "Applications": "x"}),
            json!({"rules": {}, "applications": {}, "vars": {}, "extra": [1]}),
            json!({"rule": {"r": {"type": "nope"}}}),
            json!({"application": {"$bogus": 1}}),
        ]
        .iter()
        .map(text),
    );
    // Keys given twice: Relay refuses them in its structs, keeps the last in its maps.
    configs.extend(
        [
            r#"{"rules": {}, "rules": {}}"#,
            r#"{"applications": {}, "applications": {}}"#,
            r#"{"vars": {}, "vars": {}}"#,
            r#"{"vars": {"hashKey": "a", "hashKey": "b"}}"#,
            r#"{"rules": {"r": {"type": "ip", "type": "email"}}}"#,
            r#"{"rules": {"r": {"type": "pattern", "pattern": "a", "pattern": "b"}}}"#,
            r#"{"rules": {"r": {"type": "ip", "redaction": {"method": "mask", "method": "hash"}}}}"#,
            r#"{"rules": {"r": {"type": "ip", "redaction": {}, "redaction": {}}}}"#,
            r#"{"rules": {"r": {"type": "ip"}, "r": {"type": "email"}}}"#,
            r#"{"rules": {"r": {"type": "ip"}, "r": {"type": "nope"}}}"#,
            r#"{"rules": {"r": {"type": "nope"}, "r": {"type": "ip"}}}"#,
            r#"{"applications": {"$string": ["@ip"], "$string": ["@email"]}}"#,
            r#"{"applications": {"$string": ["@ip"], "$string": 1}}"#,
            r#"{"rules": {"r": {"type": "multiple", "rules": [], "hideInner": true, "hideInner": false}}}"#,
            r#"{"rules": {"r": {"type": "pattern", "pattern": "(x"}, "r": {"type": "pattern", "pattern": "x"}}, "applications": {"$string": ["r"]}}"#,
            r#"{"rules": {"r": {"type": "pattern", "pattern": "x"}, "r": {"type": "pattern", "pattern": "(x"}}, "applications": {"$string": ["r"]}}"#,
        ]
        .into_iter()
        .map(String::from),
    );
    configs
}

/// Relay's rule types, in its order (a numeric `type` is an index into it).
const RULE_TYPES: &[&str] = &[
    "anything",
    "pattern",
    "imei",
    "mac",
    "uuid",
    "email",
    "ip",
    "creditcard",
    "iban",
    "userpath",
    "pemkey",
    "url_auth",
    "us_ssn",
    "bearer",
    "password",
    "cookies",
    "redact_pair",
    "multiple",
    "alias",
    "unknown",
];

/// Rules of every type, with and without their fields, and `type`s that are not types.
fn rule_types() -> Vec<String> {
    let mut configs = Vec::new();
    for kind in RULE_TYPES.iter().copied().chain(["redactPair"]) {
        configs.push(applied(json!({ "type": kind })));
        configs.push(applied(
            json!({"type": kind, "redaction": {"method": "replace"}}),
        ));
    }
    for index in 0..22 {
        configs.push(applied(json!({ "type": index })));
    }
    for kind in [
        json!("IP"),
        json!("Ip"),
        json!("urlauth"),
        json!("url-auth"),
        json!("usssn"),
        json!("redactpair"),
        json!("redact-pair"),
        json!("nope"),
        json!(""),
        json!(" ip"),
        json!(null),
        json!(true),
        json!(-1),
        json!(1.0),
        json!(6.5),
        json!([]),
        json!(["ip"]),
        json!({}),
        json!({"type": "ip"}),
    ] {
        configs.push(applied(json!({ "type": kind })));
    }
    for rule in [
        json!({}),
        json!({"redaction": {"method": "remove"}}),
        json!({"pattern": "x"}),
        json!({"Type": "ip"}),
        json!(null),
        json!(1),
        json!("ip"),
        json!([]),
        json!(["ip"]),
        json!({"type": "ip", "unknownField": [1]}),
        json!({"type": "anything", "pattern": 5, "rules": "x", "rule": 1}),
    ] {
        configs.push(applied(rule.clone()));
        configs.push(unapplied(rule));
    }
    configs
}

/// `pattern` and `redact_pair` rules: their fields, and regexes that do not compile.
fn regex_rules() -> Vec<String> {
    let mut configs = Vec::new();
    for value in every_type() {
        configs.push(applied(json!({"type": "pattern", "pattern": value})));
        configs.push(applied(json!({"type": "redact_pair", "keyPattern": value})));
        configs.push(applied(
            json!({"type": "pattern", "pattern": "(a)", "replaceGroups": value}),
        ));
    }
    for groups in [
        json!([0]),
        json!([1]),
        json!([5]),
        json!([0, 1]),
        json!([1, 1]),
        json!([255]),
        json!([256]),
        json!([-1]),
        json!([1.5]),
        json!([1.0]),
        json!(["1"]),
        json!([null]),
        json!([[1]]),
        json!({"0": 1}),
        json!(0),
    ] {
        configs.push(applied(
            json!({"type": "pattern", "pattern": "(a)(b)", "replaceGroups": groups}),
        ));
    }
    // Relay reads only the camelCase names.
    configs.extend([
        applied(json!({"type": "pattern", "pattern": "x", "replace_groups": "a"})),
        applied(json!({"type": "pattern", "pattern": "x", "replace_groups": [1]})),
        applied(json!({"type": "redact_pair", "key_pattern": "x"})),
        applied(json!({"type": "redactPair", "key_pattern": "x"})),
        applied(json!({"type": "redactPair", "keyPattern": "x"})),
        applied(json!({"type": "pattern", "Pattern": "x"})),
        applied(json!({"type": "pattern"})),
        applied(json!({"type": "redact_pair"})),
    ]);
    let bad = [
        "(x",
        "[",
        "a)",
        "*",
        "a{2,1}",
        "\\",
        "(?<n>a)(?<n>b)",
        "\\p{Nope}",
        "(?z)",
        "x{99999}",
    ];
    // Compiled sizes on either side of Relay's limit (262,144 bytes), as sentry-relay 0.10.1
    // measures them.
    let sizes = [
        "a{8185}",
        "a{8186}",
        "\\w{5}",
        "\\w{6}",
        "[a-z]{3638}",
        "[a-z]{3639}",
        "(?i)\\w{300}",
    ];
    let good = [
        "",
        "x",
        "(?i)secret",
        "\\d{3}-\\d{2}",
        "(a)|(b)",
        "^$",
        "\\bé\\b",
    ];
    for pattern in bad.iter().chain(&sizes).chain(&good) {
        configs.push(applied(json!({"type": "pattern", "pattern": pattern})));
        configs.push(unapplied(json!({"type": "pattern", "pattern": pattern})));
    }
    for pattern in bad.iter().chain(&good) {
        configs.push(applied(
            json!({"type": "redact_pair", "keyPattern": pattern}),
        ));
        configs.push(unapplied(
            json!({"type": "redactPair", "keyPattern": pattern}),
        ));
    }
    configs
}

/// `alias` and `multiple` rules: their fields, chains, cycles and references to nothing.
fn group_rules() -> Vec<String> {
    let mut configs = Vec::new();
    for value in every_type() {
        configs.push(applied(json!({"type": "alias", "rule": value})));
        configs.push(applied(json!({"type": "multiple", "rules": value})));
        configs.push(applied(
            json!({"type": "alias", "rule": "@ip", "hideInner": value}),
        ));
        configs.push(applied(
            json!({"type": "multiple", "rules": ["@ip"], "hideInner": value}),
        ));
        configs.push(applied(
            json!({"type": "multiple", "rules": ["@ip"], "hide_inner": value}),
        ));
    }
    let bad = json!({"type": "pattern", "pattern": "(x"});
    for rules in [
        json!({"r": {"type": "alias"}}),
        json!({"r": {"type": "multiple"}}),
        json!({"r": {"type": "multiple", "rules": ["@ip", 1]}}),
        json!({"r": {"type": "multiple", "rules": [["@ip"]]}}),
        json!({"r": {"type": "alias", "rule": ["@ip"]}}),
        json!({"r": {"type": "alias", "rules": ["@ip"]}}),
        json!({"r": {"type": "alias", "rule": "undefined"}}),
        json!({"r": {"type": "multiple", "rules": ["undefined", "@nope", "@ip:nope", ""]}}),
        json!({"r": {"type": "alias", "rule": "r"}}),
        json!({"r": {"type": "multiple", "rules": ["r", "r"]}}),
        json!({"r": {"type": "alias", "rule": "s"}, "s": {"type": "alias", "rule": "r"}}),
        json!({"r": {"type": "multiple", "rules": ["r", "p"]}, "p": bad}),
        json!({"r": {"type": "alias", "rule": "s", "hideInner": true},
               "s": {"type": "multiple", "rules": ["r", "p"]}, "p": bad}),
        json!({"r": {"type": "alias", "rule": "p"}, "p": bad}),
        json!({"r": {"type": "alias", "rule": "@ip"}, "p": bad}),
        json!({"r": {"type": "alias", "rule": "@common"}, "@ip": bad}),
        json!({"r": {"type": "multiple", "rules": ["@common"]}, "@email": bad}),
        json!({"r": {"type": "alias", "rule": "@nope"}, "@nope": bad}),
    ] {
        configs.push(text(
            &json!({"rules": rules, "applications": {"$string": ["r"]}}),
        ));
    }
    // A chain of aliases ends in a pattern that does not compile: Relay applies (and compiles)
    // a rule up to 200 references deep.
    for depth in [1, 32, 33, 199, 200, 201, 250] {
        for kind in ["alias", "multiple"] {
            let mut rules = serde_json::Map::new();
            for i in 0..depth {
                let next = format!("a{}", i + 1);
                let rule = if kind == "alias" {
                    json!({"type": "alias", "rule": next})
                } else {
                    json!({"type": "multiple", "rules": ["@ip", next]})
                };
                rules.insert(format!("a{i}"), rule);
            }
            rules.insert(format!("a{depth}"), bad.clone());
            configs.push(text(
                &json!({"rules": rules, "applications": {"$string": ["a0"]}}),
            ));
        }
    }
    configs
}

/// Redactions of every wrong shape.
fn redactions() -> Vec<String> {
    let mut configs = Vec::new();
    for value in every_type() {
        configs.push(applied(json!({"type": "ip", "redaction": value})));
        configs.push(applied(
            json!({"type": "ip", "redaction": {"method": value}}),
        ));
        configs.push(applied(
            json!({"type": "ip", "redaction": {"method": "replace", "text": value}}),
        ));
    }
    for redaction in [
        json!({"method": "default"}),
        json!({"method": "remove"}),
        json!({"method": "replace"}),
        json!({"method": "mask"}),
        json!({"method": "hash"}),
        json!({"method": "nope"}),
        json!({"method": "Replace"}),
        json!({"method": ""}),
        json!({"method": "replace", "text": "[x]", "extra": 1}),
        json!({"method": "remove", "text": 1}),
        json!({"method": "mask", "mask_char": "x", "range": [1, 2]}),
        json!({"method": "mask", "maskChar": 5, "range": "x"}),
        json!({"method": "hash", "key": 5, "algorithm": "md5"}),
        json!({"method": "nope", "text": 1}),
        json!({"text": "x"}),
        json!({"Method": "replace"}),
    ] {
        configs.push(applied(json!({"type": "ip", "redaction": redaction})));
    }
    configs.push(applied(
        json!({"type": "alias", "rule": "@ip", "redaction": {"method": 1}}),
    ));
    configs
}

/// Application values that are not lists of strings, and references.
fn application_values() -> Vec<String> {
    let mut configs = Vec::new();
    for value in every_type() {
        configs.push(at("$string", value));
    }
    for rules in [
        json!(["@ip", 1]),
        json!([null]),
        json!([["@ip"]]),
        json!([{"rule": "@ip"}]),
        json!(["@nope"]),
        json!(["undefined"]),
        json!(["@ip:nope", "@common:nope", "@"]),
        json!(["@ip", "@ip"]),
        json!([
            "@common",
            "@common:filter",
            "@urlauth:legacy",
            "@cookies:filter"
        ]),
    ] {
        configs.push(at("$string", rules));
    }
    configs
}

/// Selectors in every corner of Relay's syntax, valid or not (every `SelectorError` kind).
fn selectors() -> Vec<String> {
    let mut selectors: Vec<String> = [
        "",
        " ",
        "a",
        " a ",
        "a b",
        "a.b",
        "a . b",
        "a.",
        ".a",
        "a..b",
        "'a.b'",
        "''",
        "'it''s'",
        "'abc''",
        "' abc'",
        "'abc '",
        "a.'b c'.**",
        "!a",
        "!!a",
        "! a",
        "~a",
        "!",
        "a || b",
        "a | b",
        "a && b",
        "a & b",
        "a &&& b",
        "a ||| b",
        "&&",
        "a &&",
        "|| a",
        "(a)",
        "()",
        "(a",
        "a)",
        "((a || b) && !c)",
        "a.(b)",
        "(a).b",
        "*",
        "(*)",
        "a || *",
        "!*",
        "**",
        "***",
        "a.*",
        "*.a",
        "a.**",
        "**.a",
        "a.**.b",
        "a.**.b.**",
        "**.**",
        "a.**.*",
        "$string",
        "$String",
        "$foo",
        "$",
        "$_",
        "$frame1",
        "$frame.vars.password",
        "$http.headers.'X-Api-Key'",
        "$object && !$string",
        "$number",
        "$boolean",
        "$bool",
        "$array",
        "$error",
        "$exception",
        "$stacktrace",
        "$request",
        "$http",
        "$user",
        "$sdk",
        "$breadcrumb",
        "$span",
        "$ourlog",
        "$replay",
        "$minidump",
        "$binary",
        "$datetime",
        "$event",
        "a.$string",
        "$string.**.a",
        "0",
        "007",
        "a.0",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999",
        "-a",
        "_a",
        "a-b",
        "a1.b2",
        "ü",
        "'ü'",
        "a\\b",
        "'\\'",
        "freeform",
        "databag",
        "email",
        "sensitive",
        "text",
        "container",
        "Freeform",
        "a\tb",
        "\ta",
        "a\n",
        "'\u{a0}x'",
        "\u{a0}a",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    // Large ones within our limits.
    let long_key = "k".repeat(MAX_SELECTOR_BYTES - 100);
    selectors.push(long_key.clone());
    selectors.push(format!("'{long_key}'"));
    selectors.push(format!("{}a{}", "(".repeat(1000), ")".repeat(1000)));
    selectors.push(format!("{}a", "!".repeat(1000)));
    selectors.push(vec!["a"; 1000].join(" || "));
    selectors.push(vec!["a"; 1000].join("."));
    let mut generator = Generator(0x5e1e_c7ed_0000_0001);
    for _ in 0..300 {
        selectors.push(generator.selector());
    }
    selectors
}

/// Selectors over our limits, which Relay accepts: see [`intended_differences`].
fn huge_selectors() -> Vec<String> {
    vec![
        // Over MAX_SELECTOR_BYTES.
        "k".repeat(MAX_SELECTOR_BYTES + 1),
        vec!["a"; MAX_SELECTOR_BYTES / 5 + 1].join(" || "),
        // Over MAX_SELECTOR_NODES, under MAX_SELECTOR_BYTES.
        vec!["a"; MAX_SELECTOR_NODES + 1].join("||"),
    ]
}

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

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.next(items.len())].clone()
    }

    fn selector(&mut self) -> String {
        const FRAGMENTS: &[&str] = &[
            "a", "b", "Key", "_x", "$", "$string", "$http", "$frame", "$foo", "*", "**", ".", "'",
            "''", " ", "(", ")", "!", "~", "&", "&&", "|", "||", "1", "007", "-", "é", "\t",
        ];
        let len = 1 + self.next(8);
        (0..len).map(|_| self.pick(FRAGMENTS)).collect()
    }

    /// A rule from fields that matter, each present or not, with values right and wrong.
    fn rule(&mut self) -> Value {
        let kinds = [
            json!("pattern"),
            json!("redact_pair"),
            json!("redactPair"),
            json!("alias"),
            json!("multiple"),
            json!("ip"),
            json!("anything"),
            json!("unknown"),
            json!("nope"),
            json!(1),
            json!(16),
            json!(17),
            json!(18),
            json!(null),
        ];
        let values = [
            json!(null),
            json!(true),
            json!(2),
            json!(256),
            json!("x"),
            json!("(x"),
            json!("@ip"),
            json!("r"),
            json!([]),
            json!([0]),
            json!([1, 2]),
            json!(["@ip", "r"]),
            json!(["@email"]),
            json!([1]),
            json!({}),
        ];
        let redactions = [
            json!({"method": "replace", "text": "[x]"}),
            json!({"method": "replace", "text": 1}),
            json!({"method": "mask"}),
            json!({"method": "nope"}),
            json!({"method": 2}),
            json!({}),
            json!(null),
        ];
        let mut rule = serde_json::Map::new();
        if self.next(8) != 0 {
            rule.insert("type".into(), self.pick(&kinds));
        }
        for field in [
            "pattern",
            "keyPattern",
            "replaceGroups",
            "rule",
            "rules",
            "hideInner",
        ] {
            if self.next(3) == 0 {
                rule.insert(field.into(), self.pick(&values));
            }
        }
        if self.next(3) == 0 {
            rule.insert("redaction".into(), self.pick(&redactions));
        }
        Value::Object(rule)
    }
}

/// Generated configs: one or two generated rules, applied or not.
fn generated_configs() -> Vec<String> {
    let mut generator = Generator(0xc0f1_9000_5eed_0002);
    (0..300)
        .map(|_| {
            let mut rules = serde_json::Map::new();
            rules.insert("r".into(), generator.rule());
            if generator.next(2) == 0 {
                rules.insert("s".into(), generator.rule());
            }
            let applications = match generator.next(3) {
                0 => json!({}),
                1 => json!({"$string": ["r"]}),
                _ => json!({"$string": ["s"], "extra.a": ["r", "@ip"]}),
            };
            text(&json!({"rules": rules, "applications": applications}))
        })
        .collect()
}

/// The valid configs of `testdata/relay/configs/`.
fn testdata_configs() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/relay/configs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/relay/configs")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 84, "the configs of {}", dir.display());
    paths
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("a config"))
        .collect()
}

/// Configs whose verdicts differ on purpose: (config, whether Relay accepts it, why). Each
/// must still differ as listed, so a difference that goes away leaves the list.
fn intended_differences() -> Vec<(String, bool, &'static str)> {
    let mut differences = Vec::new();
    // Our selector limits (MAX_SELECTOR_BYTES, MAX_SELECTOR_NODES), which Relay lacks: every
    // value of every event is matched against every selector, so they bound what a hostile
    // config costs.
    for selector in huge_selectors() {
        differences.push((
            at(&selector, json!(["@ip"])),
            true,
            "over our selector limits",
        ));
    }
    // `import` also reads a whole project config (its `piiConfig`) and legacy data-scrubbing
    // settings (a project config's `datascrubbingSettings`, Sentry's project options, or a
    // document of settings), which Relay's `validate_pii_config` sees as a PII config with
    // unknown keys.
    for (config, relay_accepts) in [
        (json!({"piiConfig": {"rules": 1}}), true),
        (
            json!({"config": {"piiConfig": {"applications": {"$bogus": []}}}}),
            true,
        ),
        (json!({"piiConfig": {}, "rules": 5}), false),
        (json!({"datascrubbingSettings": 5}), true),
        (
            json!({"config": {"datascrubbingSettings": {"scrubData": "yes"}}}),
            true,
        ),
        (json!({"sentry:scrub_data": "yes"}), true),
        (json!({"scrubData": 1}), true),
        (json!({"sensitiveFields": "password"}), true),
    ] {
        differences.push((
            text(&config),
            relay_accepts,
            "a project config or legacy settings, which import reads as such",
        ));
    }
    differences
}

/// Relay's verdicts, one per entry (`{"config": text}` or `{"selector": text}`):
/// `Ok(())` or `Err(message)`.
fn relay_verdicts(python: &Path, entries: &[Value]) -> Vec<Result<(), String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/relay_validate.py");
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Relay validation script");
    let input = serde_json::to_vec(entries).expect("entries as JSON");
    // Written from a thread so that a full stdout pipe cannot stall the write.
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child
        .wait_with_output()
        .expect("the Relay validation script");
    writer
        .join()
        .expect("writer thread")
        .expect("entries written to the script");
    assert!(
        output.status.success(),
        "tests/relay_validate.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).expect("the script's JSON");
    assert_eq!(results.len(), entries.len(), "one verdict per entry");
    results
        .into_iter()
        .map(|result| match (result.get("ok"), result.get("error")) {
            (Some(Value::Bool(true)), _) => Ok(()),
            (_, Some(error)) => Err(error.as_str().unwrap_or_default().to_string()),
            _ => panic!("unexpected script result {result}"),
        })
        .collect()
}

/// Our verdict on a config.
fn ours(config: &str) -> Result<(), String> {
    import(config, "x.json")
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A config or selector for a message, cut short when long.
fn shown(text: &str) -> String {
    const MOST: usize = 300;
    if text.chars().count() <= MOST {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MOST).collect();
        format!("{head:?}... ({} bytes)", text.len())
    }
}

fn verdict(result: &Result<(), String>) -> String {
    match result {
        Ok(()) => "ok".to_string(),
        Err(message) => format!("error: {}", shown(message)),
    }
}

#[test]
fn configs_and_selectors_are_valid_when_relay_says_so() {
    let Some(python) = test_clients::python_with_relay("relay config validation") else {
        return;
    };
    let mut configs: Vec<String> = Vec::new();
    configs.extend(not_configs());
    configs.extend(top_level());
    configs.extend(rule_types());
    configs.extend(regex_rules());
    configs.extend(group_rules());
    configs.extend(redactions());
    configs.extend(application_values());
    configs.extend(generated_configs());
    let testdata = testdata_configs();
    configs.extend(testdata.iter().cloned());
    let intended = intended_differences();
    configs.extend(intended.iter().map(|(config, ..)| config.clone()));
    let selectors: Vec<String> = selectors().into_iter().chain(huge_selectors()).collect();
    // Each selector also as a config applying nothing at it, which is how import sees it.
    let selector_configs: Vec<String> = selectors.iter().map(|s| at(s, json!([]))).collect();

    let entries: Vec<Value> = configs
        .iter()
        .chain(&selector_configs)
        .map(|config| json!({ "config": config }))
        .chain(selectors.iter().map(|s| json!({ "selector": s })))
        .collect();
    let relay = relay_verdicts(&python, &entries);
    let (relay_configs, relay_selectors) = relay.split_at(configs.len() + selector_configs.len());
    let (relay_configs, relay_selector_configs) = relay_configs.split_at(configs.len());

    let mut differences = Vec::new();
    let mut refused = 0;
    for (config, relay) in configs.iter().zip(relay_configs) {
        let ours = ours(config);
        refused += usize::from(relay.is_err());
        let expected = match intended.iter().find(|(c, ..)| c == config) {
            Some((_, relay_accepts, why)) => {
                // An intended difference must still differ, as listed.
                if relay.is_ok() != *relay_accepts || ours.is_ok() == *relay_accepts {
                    differences.push(format!(
                        "config {}\n  listed as an intended difference ({why}), but\n  \
                         relay: {}\n  ours:  {}",
                        shown(config),
                        verdict(relay),
                        verdict(&ours)
                    ));
                }
                continue;
            }
            None => relay.is_ok(),
        };
        if ours.is_ok() != expected {
            differences.push(format!(
                "config {}\n  relay: {}\n  ours:  {}",
                shown(config),
                verdict(relay),
                verdict(&ours)
            ));
        }
    }
    let huge = huge_selectors();
    for ((selector, relay), relay_as_config) in selectors
        .iter()
        .zip(relay_selectors)
        .zip(relay_selector_configs)
    {
        // validate_pii_selector and an application at the selector agree in Relay, so that
        // import, which reads selectors only as applications, may stand for both.
        if relay.is_ok() != relay_as_config.is_ok() {
            differences.push(format!(
                "selector {}\n  relay's validate_pii_selector: {}\n  \
                 relay's validate_pii_config: {}",
                shown(selector),
                verdict(relay),
                verdict(relay_as_config)
            ));
        }
        let ours = ours(&at(selector, json!([])));
        // Selectors over our limits: see intended_differences.
        let expected = relay.is_ok() && !huge.contains(selector);
        if ours.is_ok() != expected {
            differences.push(format!(
                "selector {}\n  relay: {}\n  ours:  {}",
                shown(selector),
                verdict(relay),
                verdict(&ours)
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} verdicts differ from Relay's:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // Every config of testdata/relay/configs is valid.
    for (config, relay) in configs.iter().zip(relay_configs) {
        if testdata.contains(config) {
            assert!(relay.is_ok(), "Relay refuses {}", shown(config));
        }
    }
    // The corpus is about both verdicts, not mostly one.
    let accepted = configs.len() - refused;
    assert!(
        configs.len() >= 150 && refused >= 100 && accepted >= 150,
        "{} configs: {refused} refused, {accepted} accepted",
        configs.len()
    );
    let selectors_refused = relay_selectors.iter().filter(|r| r.is_err()).count();
    assert!(
        selectors_refused >= 50 && selectors.len() - selectors_refused >= 50,
        "{} selectors: {selectors_refused} refused",
        selectors.len()
    );
    eprintln!(
        "{} configs ({refused} refused by Relay) and {} selectors ({selectors_refused} refused) \
         compared",
        configs.len(),
        selectors.len()
    );
}

#[test]
fn errors_name_the_rule_or_selector_and_where_it_is() {
    let config = "{\n  \"rules\": {\n    \"secret\": {\"type\": \"pattern\"}\n  }\n}";
    let error = import(config, "x.json").unwrap_err();
    assert_eq!(error.line, 3, "{error}");
    assert!(
        error
            .message
            .contains("rule \"secret\": missing field `pattern`"),
        "{error}"
    );

    let config = "{\"rules\": {\"p\": {\"type\": \"pattern\", \"pattern\": \"a{99999}\"}},\n \
                  \"applications\": {\"$string\": [\"p\"]}}";
    let error = import(config, "x.json").unwrap_err();
    assert_eq!((error.line, error.column), (1, 12), "{error}");
    assert!(
        error.message.starts_with("rule \"p\": its pattern"),
        "{error}"
    );

    let config = "{\"applications\": {\n  \"$string\": [\"@ip\", 1]\n}}";
    let error = import(config, "x.json").unwrap_err();
    assert_eq!(error.line, 2, "{error}");
    assert!(
        error.message.contains("selector \"$string\": invalid type"),
        "{error}"
    );

    let config = "{\"applications\": {\n  \"a.**.b.**\": [\"@ip\"]\n}}";
    let error = import(config, "x.json").unwrap_err();
    assert_eq!((error.line, error.column), (2, 3), "{error}");
    assert!(error.message.contains("selector \"a.**.b.**\""), "{error}");

    let error = import("{\"rules\": {}, \"rules\": {}}", "x.json").unwrap_err();
    assert!(error.message.contains("duplicate field `rules`"), "{error}");
}
