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

use std::path::Path;

use event_filter::relay::import;
use serde_json::{Value, json};

mod corpus;
#[path = "../support/mod.rs"]
mod support;

use corpus::*;

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
    let reply = support::run_script(python, "relay_validate.py", &Value::from(entries.to_vec()));
    let results: Vec<Value> = serde_json::from_value(reply).expect("a list of verdicts");
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
