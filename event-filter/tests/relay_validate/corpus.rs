//! The configs and selectors `relay_validate` asks Relay and the importer about: each builder
//! returns config texts (or selectors) of one kind, valid and invalid.

use std::path::Path;

use event_filter::relay::{MAX_SELECTOR_BYTES, MAX_SELECTOR_NODES};
use serde_json::{Value, json};

/// A config made from a JSON value.
pub(crate) fn text(config: &Value) -> String {
    config.to_string()
}

/// A config with one rule, applied to every string (so that its regexes are compiled).
pub(crate) fn applied(rule: Value) -> String {
    text(&json!({"rules": {"r": rule}, "applications": {"$string": ["r"]}}))
}

/// A config with one rule, applied nowhere.
pub(crate) fn unapplied(rule: Value) -> String {
    text(&json!({"rules": {"r": rule}}))
}

/// A config applying `rules` at one selector.
pub(crate) fn at(selector: &str, rules: Value) -> String {
    let mut applications = serde_json::Map::new();
    applications.insert(selector.to_string(), rules);
    text(&json!({ "applications": applications }))
}

/// Values of every JSON type, for fields to be given the wrong one.
pub(crate) fn every_type() -> Vec<Value> {
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
pub(crate) fn not_configs() -> Vec<String> {
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
pub(crate) fn top_level() -> Vec<String> {
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
pub(crate) const RULE_TYPES: &[&str] = &[
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
pub(crate) fn rule_types() -> Vec<String> {
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
pub(crate) fn regex_rules() -> Vec<String> {
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
pub(crate) fn group_rules() -> Vec<String> {
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
pub(crate) fn redactions() -> Vec<String> {
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
pub(crate) fn application_values() -> Vec<String> {
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
pub(crate) fn selectors() -> Vec<String> {
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
pub(crate) fn huge_selectors() -> Vec<String> {
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
pub(crate) fn generated_configs() -> Vec<String> {
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
pub(crate) fn testdata_configs() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/relay/configs");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/relay/configs")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert_eq!(paths.len(), 95, "the configs of {}", dir.display());
    paths
        .iter()
        .map(|path| std::fs::read_to_string(path).expect("a config"))
        .collect()
}
