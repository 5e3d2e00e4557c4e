// One-element range slices are the natural way to pass a single detector hit.
#![allow(clippy::single_range_in_vec_init)]

use super::params::is_scheme;
use super::*;
use serde_json::{Map, json};

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn query(list: &[&str]) -> Action {
    Action::ScrubQuery { names: names(list) }
}

fn cookies(list: &[&str]) -> Action {
    Action::ScrubCookies { names: names(list) }
}

fn hash(key: &str) -> Action {
    Action::Hash {
        key: key.as_bytes().to_vec(),
    }
}

fn replace(pattern: &str, with: &str) -> Action {
    Action::Replace {
        pattern: Regex::new(pattern).expect("test pattern compiles"),
        with: with.to_owned(),
    }
}

/// Applies and returns (outcome, new value).
fn applied(action: &Action, value: Value) -> (Outcome, Value) {
    let mut value = value;
    let outcome = action.apply(&mut value).expect("action applies");
    (outcome, value)
}

fn ranged(action: &Action, text: &str, ranges: &[Range<usize>]) -> (Outcome, String) {
    let mut text = text.to_owned();
    let outcome = action
        .apply_ranges(&mut text, ranges)
        .expect("ranges apply");
    (outcome, text)
}

fn all_actions() -> Vec<Action> {
    vec![
        Action::Remove,
        Action::mask(),
        Action::mask_keep(2, false),
        hash("k"),
        query(&[]),
        cookies(&[]),
        Action::StripUrl,
        replace(r"\d", "#"),
    ]
}

#[test]
fn names_are_the_policy_spellings() {
    let spelled: Vec<&str> = all_actions().iter().map(Action::name).collect();
    assert_eq!(
        spelled,
        [
            "remove",
            "mask",
            "mask_keep",
            "hash",
            "scrub_query",
            "scrub_cookies",
            "strip_url",
            "replace"
        ]
    );
    assert!(all_actions().iter().all(Action::is_idempotent));
}

#[test]
fn null_is_always_unchanged() {
    for action in all_actions() {
        assert_eq!(
            applied(&action, Value::Null),
            (Outcome::Unchanged, Value::Null)
        );
    }
}

#[test]
fn remove_asks_the_caller_and_leaves_the_value() {
    for value in [
        json!("x"),
        json!(1),
        json!(false),
        json!({"a": 1}),
        json!([1]),
    ] {
        assert_eq!(
            applied(&Action::Remove, value.clone()),
            (Outcome::Remove, value)
        );
    }
}

#[test]
fn mask_replaces_any_value_with_filtered() {
    for value in [
        json!("hunter2"),
        json!(""),
        json!(42),
        json!(true),
        json!({"a": [1]}),
    ] {
        assert_eq!(
            applied(&Action::mask(), value),
            (Outcome::Changed, json!("[Filtered]"))
        );
    }
    assert_eq!(
        applied(&Action::mask(), json!("[Filtered]")),
        (Outcome::Unchanged, json!("[Filtered]"))
    );
    let custom = Action::Mask {
        text: "[redacted]".into(),
    };
    assert_eq!(applied(&custom, json!("x")).1, json!("[redacted]"));
}

#[test]
fn mask_keep_email_keeps_the_first_characters() {
    let (outcome, value) = applied(&Action::mask_keep(2, false), json!("jane.doe@example.com"));
    assert_eq!(outcome, Outcome::Changed);
    assert_eq!(value, json!("ja******************"));
    assert_eq!(
        value.as_str().map(str::len),
        Some("jane.doe@example.com".len())
    );
}

#[test]
fn mask_keep_credit_card_keeps_the_last_four() {
    let action = Action::mask_keep(4, true);
    assert_eq!(
        applied(&action, json!("4111 1111 1111 1234")).1,
        json!("***************1234")
    );
    // A number becomes its masked text.
    assert_eq!(
        applied(&action, json!(4111111111111234u64)).1,
        json!("************1234")
    );
    // Nothing to mask: the number stays a number.
    assert_eq!(
        applied(&action, json!(1234)),
        (Outcome::Unchanged, json!(1234))
    );
    let hashes = Action::MaskKeep {
        keep: 4,
        from_end: true,
        mask_char: '#',
    };
    assert_eq!(applied(&hashes, json!("4111-1111")).1, json!("#####1111"));
}

#[test]
fn mask_keep_counts_characters_not_bytes() {
    let (_, value) = applied(&Action::mask_keep(3, false), json!("Grüße, 東京"));
    assert_eq!(value, json!("Grü******"));
    let (_, value) = applied(&Action::mask_keep(2, true), json!("Grüße, 東京"));
    assert_eq!(value, json!("*******東京"));
    let bullets = Action::MaskKeep {
        keep: 1,
        from_end: false,
        mask_char: '•',
    };
    assert_eq!(applied(&bullets, json!("añb")).1, json!("a••"));
}

#[test]
fn mask_keep_walks_string_and_number_leaves() {
    let event = json!({"user": {"email": "a@b.co", "id": 12345, "admin": true, "none": null},
                       "tags": ["ab", "xyz"]});
    let (outcome, value) = applied(&Action::mask_keep(1, false), event);
    assert_eq!(outcome, Outcome::Changed);
    assert_eq!(
        value,
        json!({"user": {"email": "a*****", "id": "1****", "admin": true, "none": null},
               "tags": ["a*", "x**"]})
    );
    // A boolean on its own is treated as its text.
    assert_eq!(
        applied(&Action::mask_keep(1, false), json!(true)).1,
        json!("t***")
    );
}

#[test]
fn hash_is_stable_keyed_and_formatted() {
    let action = hash("secret-key");
    let (outcome, first) = applied(&action, json!("jane@example.com"));
    assert_eq!(outcome, Outcome::Changed);
    let (_, second) = applied(&action, json!("jane@example.com"));
    assert_eq!(first, second, "same key and value give the same hash");
    let text = first.as_str().unwrap_or_default();
    assert!(looks_like_hash(text), "{text}");
    assert_eq!(text.len(), HASH_PREFIX.len() + HASH_HEX_DIGITS);
    let (_, other_key) = applied(&hash("other-key"), json!("jane@example.com"));
    assert_ne!(first, other_key, "the key matters");
    let (_, other_value) = applied(&action, json!("john@example.com"));
    assert_ne!(first, other_value);
}

#[test]
fn hash_matches_hmac_sha256_of_the_text() {
    // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") starts f7bc83f430538424.
    let (_, value) = applied(
        &hash("key"),
        json!("The quick brown fox jumps over the lazy dog"),
    );
    assert_eq!(value, json!("hmac-sha256:f7bc83f430538424"));
}

#[test]
fn hash_of_numbers_booleans_and_trees() {
    let action = hash("k");
    assert_eq!(
        applied(&action, json!(42)).1,
        applied(&action, json!("42")).1
    );
    assert_eq!(
        applied(&action, json!(false)).1,
        applied(&action, json!("false")).1
    );
    let tree = json!({"b": [true, null, 1.5], "a": "x\n\"y\""});
    let canonical = r#"{"a":"x\n\"y\"","b":[true,null,1.5]}"#;
    assert_eq!(canonical_json(&tree), canonical);
    assert_eq!(
        applied(&action, tree).1,
        applied(&action, json!(canonical)).1
    );
    let mut map_a = Map::new();
    map_a.insert("z".into(), json!(1));
    map_a.insert("a".into(), json!(2));
    let mut map_b = Map::new();
    map_b.insert("a".into(), json!(2));
    map_b.insert("z".into(), json!(1));
    assert_eq!(
        applied(&action, Value::Object(map_a)).1,
        applied(&action, Value::Object(map_b)).1
    );
}

#[test]
fn hash_leaves_hashes_alone_and_rejects_an_empty_key() {
    let action = hash("k");
    let (_, once) = applied(&action, json!({"password": "hunter2"}));
    let (outcome, twice) = applied(&action, once.clone());
    assert_eq!((outcome, &twice), (Outcome::Unchanged, &once));
    // Not quite a hash: hashed.
    assert_eq!(
        applied(&action, json!("hmac-sha256:ABCDEF0123456789")).0,
        Outcome::Changed
    );
    assert_eq!(
        applied(&action, json!("hmac-sha256:abc")).0,
        Outcome::Changed
    );
    let empty = Action::Hash { key: Vec::new() };
    let mut value = json!("x");
    assert_eq!(empty.apply(&mut value), Err(ActionError::EmptyHashKey));
    assert_eq!(value, json!("x"));
    assert_eq!(
        empty.apply(&mut Value::Null),
        Err(ActionError::EmptyHashKey)
    );
    let mut text = String::from("abc");
    assert_eq!(
        empty.apply_ranges(&mut text, &[0..1]),
        Err(ActionError::EmptyHashKey)
    );
    assert_eq!(ActionError::EmptyHashKey.to_string(), "hash key is empty");
}

#[test]
fn python_sdk_query_string() {
    let (outcome, value) = applied(&query(&["token"]), json!("token=abc&page=2"));
    assert_eq!(outcome, Outcome::Changed);
    assert_eq!(value, json!("token=[Filtered]&page=2"));
    assert_eq!(
        applied(&query(&["token"]), json!("page=2&other=1")),
        (Outcome::Unchanged, json!("page=2&other=1"))
    );
}

#[test]
fn query_string_keeps_everything_else_byte_for_byte() {
    let raw = "?q=caf%C3%A9+au+lait&empty=&flag&&token=a%3Db&sort=-date&token=2";
    let (_, value) = applied(&query(&["token"]), json!(raw));
    assert_eq!(
        value,
        json!("?q=caf%C3%A9+au+lait&empty=&flag&&token=[Filtered]&sort=-date&token=[Filtered]")
    );
    // All parameters: every value, empty ones too; a bare name has no value and stays.
    let (_, value) = applied(&query(&[]), json!(raw));
    assert_eq!(
        value,
        json!(
            "?q=[Filtered]&empty=[Filtered]&flag&&token=[Filtered]&sort=[Filtered]&token=[Filtered]"
        )
    );
}

#[test]
fn query_names_compare_after_percent_decoding_and_case_sensitively() {
    let (_, value) = applied(
        &query(&["token", "api key"]),
        json!("%74oken=1&api+key=2&api%20key=3&Token=4"),
    );
    assert_eq!(
        value,
        json!("%74oken=[Filtered]&api+key=[Filtered]&api%20key=[Filtered]&Token=4")
    );
    // Malformed escapes stay literal and never panic.
    let (_, value) = applied(&query(&["%zz"]), json!("%zz=1&%=2&%e2%82=3"));
    assert_eq!(value, json!("%zz=[Filtered]&%=2&%e2%82=3"));
    let (_, value) = applied(&query(&["é"]), json!("%C3%A9=1"));
    assert_eq!(value, json!("%C3%A9=[Filtered]"));
}

#[test]
fn js_sdk_query_pairs_and_object_form() {
    let pairs = json!([
        ["token", "abc"],
        ["page", "2"],
        ["token", "def"],
        ["n", null]
    ]);
    assert_eq!(
        applied(&query(&["token", "n"]), pairs),
        (
            Outcome::Changed,
            json!([
                ["token", "[Filtered]"],
                ["page", "2"],
                ["token", "[Filtered]"],
                ["n", null]
            ])
        )
    );
    let object = json!({"token": "abc", "page": "2", "ids": ["1", "2"]});
    assert_eq!(
        applied(&query(&["token", "ids"]), object).1,
        json!({"token": "[Filtered]", "page": "2", "ids": "[Filtered]"})
    );
    assert_eq!(
        applied(&query(&[]), json!({"a": 1, "b": "x"})).1,
        json!({"a": "[Filtered]", "b": "[Filtered]"})
    );
    assert_eq!(
        applied(&query(&[]), json!([])),
        (Outcome::Unchanged, json!([]))
    );
}

#[test]
fn query_rejects_other_values_without_touching_them() {
    let mut number = json!(3);
    let err = query(&[]).apply(&mut number).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("cannot apply scrub_query to a number")
    );
    let mut bad = json!([["token", "abc"], ["page"]]);
    let before = bad.clone();
    let err = query(&["token"]).apply(&mut bad);
    assert_eq!(
        err,
        Err(ActionError::NotAPairList {
            action: "scrub_query",
            index: 1,
            kind: "an array that is not a [name, value] pair"
        })
    );
    assert_eq!(bad, before, "an error changes nothing");
    let mut bad = json!([[1, "x"]]);
    let message = cookies(&[]).apply(&mut bad).err().map(|e| e.to_string());
    assert_eq!(
        message.as_deref(),
        Some(
            "cannot apply scrub_cookies to an array that is not a list of [name, value] \
             pairs (element 0 is a pair whose name is not a string)"
        )
    );
    let mut flag = json!(true);
    assert!(cookies(&[]).apply(&mut flag).is_err());
}

#[test]
fn cookie_header_with_spaces_and_equals_in_values() {
    let header = "sessionid=abc123; csrftoken=x=y==;theme=dark;  _ga=GA1.2.3=4 ; flag";
    let (outcome, value) = applied(&cookies(&["sessionid", "csrftoken", "_ga"]), json!(header));
    assert_eq!(outcome, Outcome::Changed);
    assert_eq!(
        value,
        json!("sessionid=[Filtered]; csrftoken=[Filtered];theme=dark;  _ga=[Filtered] ; flag")
    );
    // Case-sensitive names.
    assert_eq!(
        applied(&cookies(&["SessionId"]), json!(header)).0,
        Outcome::Unchanged
    );
    assert_eq!(
        applied(&cookies(&[]), json!("a=1; b=\"quoted value\"")).1,
        json!("a=[Filtered]; b=[Filtered]")
    );
}

#[test]
fn cookie_object_and_pairs() {
    assert_eq!(
        applied(
            &cookies(&["sessionid"]),
            json!({"sessionid": "abc", "theme": "dark"})
        )
        .1,
        json!({"sessionid": "[Filtered]", "theme": "dark"})
    );
    assert_eq!(
        applied(
            &cookies(&["sessionid"]),
            json!([["sessionid", "abc"], ["theme", "dark"]])
        )
        .1,
        json!([["sessionid", "[Filtered]"], ["theme", "dark"]])
    );
}

#[test]
fn strip_url_user_info_query_and_fragment() {
    let cases = [
        (
            "https://user:pass@example.com:8443/path/to?token=abc&page=2#section",
            "https://example.com:8443/path/to?token=[Filtered]&page=[Filtered]",
        ),
        (
            "http://admin:s3cr3t@[2001:db8::1]:8080/api?key=1",
            "http://[2001:db8::1]:8080/api?key=[Filtered]",
        ),
        ("http://[::1]:9000/health", "http://[::1]:9000/health"),
        ("https://example.com/#/inbox?id=7", "https://example.com/"),
        ("https://me%40corp:p%40ss@host?x", "https://host?x"),
        ("https://u:p@w@host/users/@me", "https://host/users/@me"),
        (
            "postgres://app:hunter2@db:5432/prod",
            "postgres://db:5432/prod",
        ),
        ("https://example.com/a?", "https://example.com/a?"),
        (
            "https://example.com/a?q=a+b&e=",
            "https://example.com/a?q=[Filtered]&e=[Filtered]",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            applied(&Action::StripUrl, json!(input)).1,
            json!(expected),
            "{input}"
        );
    }
}

#[test]
fn strip_url_leaves_other_strings_and_values() {
    for text in [
        "not a url",
        "mailto:jane@example.com",
        "/relative/path?token=1",
        "1http://x@y",
        "ht tp://x@y",
        "",
    ] {
        assert_eq!(
            applied(&Action::StripUrl, json!(text)),
            (Outcome::Unchanged, json!(text))
        );
    }
    assert_eq!(
        applied(&Action::StripUrl, json!(5)),
        (Outcome::Unchanged, json!(5))
    );
    let tree = json!({"url": "https://u:p@h/x?a=1", "n": 1, "list": ["ftp://a@b/#f", "plain"]});
    assert_eq!(
        applied(&Action::StripUrl, tree).1,
        json!({"url": "https://h/x?a=[Filtered]", "n": 1, "list": ["ftp://b/", "plain"]})
    );
}

#[test]
fn replace_with_groups() {
    let action = replace(r"(?P<user>[\w.+-]+)@([\w-]+)\.(\w+)", "$user@[domain].$3");
    assert_eq!(
        applied(&action, json!("from jane.doe@example.com and bob@corp.org")).1,
        json!("from jane.doe@[domain].com and bob@[domain].org")
    );
    let card = replace(
        r"\b(\d{4})[ -]?\d{4}[ -]?\d{4}[ -]?(\d{4})\b",
        "${1}-xxxx-xxxx-$2",
    );
    assert_eq!(
        applied(
            &card,
            json!({"note": "card 4111 1111 1111 1234 ok", "n": 4111111111111234u64})
        )
        .1,
        json!({"note": "card 4111-xxxx-xxxx-1234 ok", "n": 4111111111111234u64})
    );
    assert_eq!(applied(&card, json!("nothing")).0, Outcome::Unchanged);
}

#[test]
fn replace_runs_to_a_fixed_point_or_fails() {
    // One pass would leave "ab"; settling makes the action idempotent.
    assert_eq!(applied(&replace("ab", "b"), json!("aab")).1, json!("b"));
    let growing = replace("a", "aa");
    let mut value = json!({"x": "ok", "y": "banana"});
    let before = value.clone();
    let err = growing.apply(&mut value);
    assert!(matches!(
        err,
        Err(ActionError::ReplaceDoesNotSettle {
            passes: REPLACE_MAX_PASSES,
            ..
        })
    ));
    assert_eq!(value, before, "an error leaves the whole tree as it was");
    let message = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        !message.contains("banana"),
        "errors never show the value: {message}"
    );
    let empty_match = replace("x*", "y");
    assert!(empty_match.apply(&mut json!("abc")).is_err());
    // A pattern that only removes settles.
    assert_eq!(
        applied(&replace(r"\s+", ""), json!("a b\tc")).1,
        json!("abc")
    );
}

#[test]
fn ranges_remove_mask_and_keep() {
    let text = "mail jane@example.com or call +1 555 0100";
    let email = 5..21;
    let phone = 30..41;
    let ranges = [email.clone(), phone.clone()];
    assert_eq!(
        ranged(&Action::Remove, text, &ranges),
        (Outcome::Changed, "mail  or call ".to_owned())
    );
    assert_eq!(
        ranged(&Action::mask(), text, &ranges).1,
        "mail [Filtered] or call [Filtered]"
    );
    assert_eq!(
        ranged(&Action::mask_keep(2, false), text, &ranges).1,
        "mail ja************** or call +1*********"
    );
    assert_eq!(
        ranged(&Action::mask_keep(4, true), text, &ranges).1,
        "mail ************.com or call *******0100"
    );
    let (_, hashed) = ranged(&hash("k"), text, &[email]);
    assert!(hashed.starts_with("mail hmac-sha256:") && hashed.ends_with(" or call +1 555 0100"));
    assert_eq!(
        ranged(&Action::mask(), text, &[]),
        (Outcome::Unchanged, text.to_owned())
    );
    assert_eq!(
        ranged(&Action::mask(), text, &[3..3]),
        (Outcome::Unchanged, text.to_owned())
    );
}

#[test]
fn ranges_apply_string_transformations_to_their_text() {
    let text = "GET https://u:p@api.example.com/v1?key=s3cret#x failed";
    let url = 4..47;
    assert_eq!(
        ranged(&Action::StripUrl, text, &[url]).1,
        "GET https://api.example.com/v1?key=[Filtered] failed"
    );
    let text = "query was token=abc&page=2 (cached)";
    assert_eq!(
        ranged(&query(&["token"]), text, &[10..26]).1,
        "query was token=[Filtered]&page=2 (cached)"
    );
    assert_eq!(
        ranged(&replace(r"\d", "#"), "id 123 and 456", &[3..6]).1,
        "id ### and 456"
    );
}

#[test]
fn ranges_on_non_ascii_text() {
    let text = "Grüße: jürgen@exämple.de!";
    let start = text.find('j').unwrap_or_default();
    let end = text.len() - 1;
    let (_, masked) = ranged(&Action::mask_keep(1, false), text, &[start..end]);
    assert_eq!(masked, "Grüße: j****************!");
    let mut mapped_text = text.to_owned();
    let applied = Action::mask()
        .apply_ranges_mapped(&mut mapped_text, &[0.."Grüße".len(), start..end])
        .expect("valid ranges");
    assert_eq!(mapped_text, "[Filtered]: [Filtered]!");
    assert_eq!(applied.ranges, vec![0..10, 12..22]);
}

#[test]
fn invalid_ranges_are_errors() {
    let text = "añb";
    let reversed = Range { start: 2, end: 1 };
    let cases: [(&[Range<usize>], ActionError); 4] = [
        (
            &[reversed],
            ActionError::RangeReversed {
                index: 0,
                start: 2,
                end: 1,
            },
        ),
        (
            &[0..9],
            ActionError::RangeOutOfBounds {
                index: 0,
                start: 0,
                end: 9,
                len: 4,
            },
        ),
        (
            &[0..2],
            ActionError::RangeNotOnCharBoundary {
                index: 0,
                start: 0,
                end: 2,
            },
        ),
        (
            &[1..3, 0..1],
            ActionError::RangesOverlap {
                index: 1,
                start: 0,
                end: 1,
                previous_end: 3,
            },
        ),
    ];
    for (ranges, expected) in cases {
        for action in all_actions() {
            let mut owned = text.to_owned();
            assert_eq!(
                action.apply_ranges(&mut owned, ranges),
                Err(expected.clone())
            );
            assert_eq!(owned, text);
        }
    }
    // Adjacent ranges are fine.
    assert_eq!(
        ranged(&Action::mask(), "abcd", &[0..2, 2..4]).1,
        "[Filtered][Filtered]"
    );
    let message = ActionError::RangesOverlap {
        index: 1,
        start: 0,
        end: 1,
        previous_end: 3,
    }
    .to_string();
    assert!(message.contains("sorted"), "{message}");
}

#[test]
fn deep_trees_do_not_overflow_the_stack() {
    let depth = 50_000;
    for action in [
        Action::mask(),
        Action::mask_keep(1, false),
        hash("k"),
        query(&[]),
        Action::StripUrl,
        replace(r"\d", "#"),
    ] {
        let mut value = json!("leaf 1234");
        for _ in 0..depth {
            value = Value::Array(vec![value]);
        }
        // `scrub_query` rejects a nested array as a pair list; the others succeed.
        let result = action.apply(&mut value);
        assert_eq!(
            result.is_ok(),
            action.name() != "scrub_query",
            "{}",
            action.name()
        );
        dismantle(value);
    }
}

/// Drops a deep value without recursion.
fn dismantle(value: Value) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn arb_text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-zA-Z0-9 =&;%?+@:/#.\\[\\]\"é東-]{0,24}",
            "[a-z]{0,3}(=[a-z0-9+%=]{0,4})?(&[a-z]{0,3}(=[a-z0-9+%]{0,4})?){0,4}",
            "[a-z]{1,4}=[a-z= ]{0,5}(; ?[a-z]{1,4}=[a-z=]{0,4}){0,3}",
            "(https?|ftp)://([a-z:@]{0,6}@)?(\\[[0-9a-f:]{2,8}\\]|[a-z.]{1,8})(:[0-9]{1,4})?(/[a-z@]{0,5})?(\\?[a-z=&#]{0,10})?(#[a-z=?]{0,5})?",
            Just("[Filtered]".to_owned()),
            Just("hmac-sha256:0123456789abcdef".to_owned()),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            arb_text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(("[a-z]{1,3}|token|page", inner.clone()), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
                prop::collection::vec(("[a-z]{1,3}|token", inner), 0..4).prop_map(|pairs| {
                    Value::Array(
                        pairs
                            .into_iter()
                            .map(|(k, v)| Value::Array(vec![Value::String(k), v]))
                            .collect(),
                    )
                }),
            ]
        })
    }

    fn arb_names() -> impl Strategy<Value = Vec<String>> {
        prop::collection::vec("[a-c]|token|page|", 0..3)
    }

    fn arb_action() -> impl Strategy<Value = Action> {
        let patterns = [
            (r"\d", "#"),
            (r"(\w+)@(\w+)", "$1@x"),
            ("ab", "b"),
            ("a", "aa"),
            ("x*", "y"),
            (r"\s+", ""),
            ("é", "e"),
            ("(?i)token=[^&]*", "token=[Filtered]"),
        ];
        prop_oneof![
            Just(Action::Remove),
            "[a-z\\[\\]]{0,10}".prop_map(|text| Action::Mask { text }),
            (
                0usize..6,
                any::<bool>(),
                prop_oneof![Just('*'), Just('•'), Just('a')]
            )
                .prop_map(|(keep, from_end, mask_char)| Action::MaskKeep {
                    keep,
                    from_end,
                    mask_char
                }),
            prop::collection::vec(any::<u8>(), 1..8).prop_map(|key| Action::Hash { key }),
            arb_names().prop_map(|names| Action::ScrubQuery { names }),
            arb_names().prop_map(|names| Action::ScrubCookies { names }),
            Just(Action::StripUrl),
            prop::sample::select(patterns.to_vec()).prop_map(|(p, w)| replace(p, w)),
        ]
    }

    /// Sorted, non-overlapping ranges on char boundaries of `text`, picked from `picks`.
    fn ranges_from(text: &str, picks: &[usize]) -> Vec<Range<usize>> {
        let mut bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        bounds.push(text.len());
        let mut chosen: Vec<usize> = picks
            .iter()
            .filter_map(|p| bounds.get(p % bounds.len()).copied())
            .collect();
        chosen.sort_unstable();
        chosen
            .chunks_exact(2)
            .filter_map(|pair| match pair {
                [a, b] => Some(*a..*b),
                _ => None,
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn apply_is_idempotent_and_atomic(action in arb_action(), value in arb_json()) {
            let mut once = value.clone();
            match action.apply(&mut once) {
                Ok(first) => {
                    let mut twice = once.clone();
                    let second = action.apply(&mut twice);
                    prop_assert_eq!(&twice, &once);
                    let expected = if first == Outcome::Remove { Outcome::Remove } else { Outcome::Unchanged };
                    prop_assert_eq!(second, Ok(expected));
                    if first == Outcome::Unchanged || first == Outcome::Remove {
                        prop_assert_eq!(&once, &value);
                    } else {
                        prop_assert_ne!(&once, &value);
                    }
                }
                Err(_) => prop_assert_eq!(&once, &value),
            }
        }

        #[test]
        fn apply_on_strings_is_idempotent(action in arb_action(), text in arb_text()) {
            let mut once = Value::String(text);
            if action.apply(&mut once).is_ok() {
                let mut twice = once.clone();
                let second = action.apply(&mut twice);
                prop_assert!(matches!(second, Ok(Outcome::Unchanged | Outcome::Remove)));
                prop_assert_eq!(twice, once);
            }
        }

        #[test]
        fn arbitrary_ranges_never_panic(
            action in arb_action(),
            text in arb_text(),
            raw in prop::collection::vec((0usize..40, 0usize..40), 0..5),
        ) {
            let ranges: Vec<Range<usize>> = raw.into_iter().map(|(a, b)| a..b).collect();
            let mut owned = text.clone();
            if action.apply_ranges(&mut owned, &ranges).is_err() {
                prop_assert_eq!(owned, text);
            }
        }

        #[test]
        fn ranges_are_idempotent(
            action in arb_action(),
            text in arb_text(),
            picks in prop::collection::vec(any::<usize>(), 0..8),
        ) {
            let ranges = ranges_from(&text, &picks);
            let mut once = text.clone();
            match action.apply_ranges_mapped(&mut once, &ranges) {
                Ok(applied) => {
                    prop_assert_eq!(applied.ranges.len(), ranges.len());
                    prop_assert_eq!(applied.outcome == Outcome::Changed, once != text);
                    let mut twice = once.clone();
                    let again = action.apply_ranges_mapped(&mut twice, &applied.ranges);
                    prop_assert_eq!(twice, once);
                    prop_assert_eq!(again.map(|a| (a.outcome, a.ranges)), Ok((Outcome::Unchanged, applied.ranges)));
                }
                Err(_) => prop_assert_eq!(once, text),
            }
        }

        #[test]
        fn masking_hides_everything_but_the_kept_characters(
            text in arb_text(),
            picks in prop::collection::vec(any::<usize>(), 0..8),
            keep in 0usize..5,
            from_end in any::<bool>(),
            mask_text in "[a-z\\[\\]]{0,10}",
        ) {
            let ranges = ranges_from(&text, &picks);
            let keep_action = Action::MaskKeep { keep, from_end, mask_char: '•' };
            let mut kept = text.clone();
            let applied = keep_action.apply_ranges_mapped(&mut kept, &ranges);
            prop_assert!(applied.is_ok());
            let mapped = applied.map(|a| a.ranges).unwrap_or_default();
            let mut masked = text.clone();
            let mask_applied = Action::Mask { text: mask_text.clone() }.apply_ranges_mapped(&mut masked, &ranges);
            let mask_mapped = mask_applied.map(|a| a.ranges).unwrap_or_default();
            let mut last = (0, 0, 0);
            for ((original, new), mask_new) in ranges.iter().zip(&mapped).zip(&mask_mapped) {
                // Text between ranges is untouched.
                prop_assert_eq!(text.get(last.0..original.start), kept.get(last.1..new.start));
                prop_assert_eq!(text.get(last.0..original.start), masked.get(last.2..mask_new.start));
                last = (original.end, new.end, mask_new.end);
                let before: Vec<char> = text.get(original.clone()).unwrap_or_default().chars().collect();
                let after: Vec<char> = kept.get(new.clone()).unwrap_or_default().chars().collect();
                prop_assert_eq!(before.len(), after.len());
                let masked_count = before.len().saturating_sub(keep);
                for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                    let is_kept = if from_end { i >= masked_count } else { i < keep };
                    if is_kept { prop_assert_eq!(a, b) } else { prop_assert_eq!(*a, '•') }
                }
                let mask_piece = masked.get(mask_new.clone()).unwrap_or_default();
                if original.is_empty() {
                    prop_assert_eq!(mask_piece, "");
                } else {
                    prop_assert_eq!(mask_piece, mask_text.as_str());
                }
            }
            prop_assert_eq!(text.get(last.0..), kept.get(last.1..));
            prop_assert_eq!(text.get(last.0..), masked.get(last.2..));
        }

        #[test]
        fn hash_output_is_well_formed(key in prop::collection::vec(any::<u8>(), 1..16), value in arb_json()) {
            let action = Action::Hash { key };
            let mut hashed = value.clone();
            let outcome = action.apply(&mut hashed);
            prop_assert!(outcome.is_ok());
            match &hashed {
                Value::String(s) => prop_assert!(looks_like_hash(s)),
                Value::Null => prop_assert!(value.is_null()),
                other => prop_assert!(false, "hash left {:?}", other),
            }
        }

        #[test]
        fn query_scrubbing_keeps_unselected_parameters(raw in "[a-z]{0,3}(=[a-z0-9+%=]{0,4})?(&(token|[a-z]{0,3})(=[a-z0-9+%]{0,4})?){0,5}") {
            let mut value = Value::String(raw.clone());
            prop_assert!(query(&["token"]).apply(&mut value).is_ok());
            let new = value.as_str().unwrap_or_default().to_owned();
            let before: Vec<&str> = raw.split('&').collect();
            let after: Vec<&str> = new.split('&').collect();
            prop_assert_eq!(before.len(), after.len());
            for (b, a) in before.iter().zip(&after) {
                if b.starts_with("token=") {
                    prop_assert_eq!(*a, "token=[Filtered]");
                } else {
                    prop_assert_eq!(a, b);
                }
            }
        }

        #[test]
        fn strip_url_output_has_no_user_info_or_fragment(text in arb_text()) {
            let mut value = Value::String(text.clone());
            prop_assert!(Action::StripUrl.apply(&mut value).is_ok());
            let new = value.as_str().unwrap_or_default();
            if let Some((scheme, rest)) = new.split_once("://") && is_scheme(scheme) {
                let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                prop_assert!(!rest.get(..authority_end).unwrap_or_default().contains('@'));
                prop_assert!(!rest.contains('#'));
            } else {
                prop_assert_eq!(new, text.as_str());
            }
        }
    }
}
