//! What sentry-native's Crashpad backend uploads beside the minidump: the event as MessagePack
//! (`__sentry-event`) and its breadcrumbs, a ring of two MessagePack lists
//! (`__sentry-breadcrumb1`, `__sentry-breadcrumb2`). As Relay does, the event is the base the
//! form's `sentry` fields are merged onto, and the two lists become one, oldest first.
//!
//! MessagePack is read into JSON values with the depth limit JSON has (`--max-json-depth`),
//! checked while reading; its sizes are bounded by the part's (a declared length longer than
//! what follows fails, and no list is allocated past what the input could hold).

use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The part names, as sentry-native writes them.
pub(super) const EVENT_PART: &str = "__sentry-event";
pub(super) const BREADCRUMB_PARTS: [&str; 2] = ["__sentry-breadcrumb1", "__sentry-breadcrumb2"];

/// Relay's attachment types for them.
pub(super) const EVENT_ATTACHMENT: &str = "event.payload";
pub(super) const BREADCRUMBS_ATTACHMENT: &str = "event.breadcrumbs";

/// Reads MessagePack into a JSON value, refusing more than `max_depth` levels of nesting.
pub(super) fn msgpack_value(bytes: &[u8], max_depth: usize) -> Result<Value, String> {
    let mut rest = bytes;
    let mut deserializer = rmp_serde::Deserializer::new(&mut rest);
    deserializer.set_max_depth(max_depth);
    let value = Value::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} bytes after the value", rest.len()));
    }
    Ok(value)
}

/// The MessagePack event and breadcrumbs of one upload, as they arrived.
#[derive(Default)]
pub(super) struct AttachedEvent {
    event: Option<Vec<u8>>,
    breadcrumbs: Vec<Vec<u8>>,
}

impl AttachedEvent {
    /// Keeps `data` when `name` is one of sentry-native's parts; returns its attachment type.
    pub(super) fn take(&mut self, name: &str, data: &[u8]) -> Option<&'static str> {
        if name == EVENT_PART {
            self.event = Some(data.to_vec());
            Some(EVENT_ATTACHMENT)
        } else if BREADCRUMB_PARTS.contains(&name) {
            self.breadcrumbs.push(data.to_vec());
            Some(BREADCRUMBS_ATTACHMENT)
        } else {
            None
        }
    }

    /// The event the form's fields (`form`) are merged onto: the attached event, with the
    /// attached breadcrumbs unless either already has some. What cannot be read is reported
    /// in the event's `errors`, as Sentry reports a processing error, and left out.
    pub(super) fn merge(self, form: Map<String, Value>, max_depth: usize) -> Map<String, Value> {
        let mut errors = Vec::new();
        let mut event = match self.event.map(|b| msgpack_value(&b, max_depth)) {
            Some(Ok(Value::Object(map))) => map,
            Some(Ok(other)) => {
                errors.push(invalid(
                    EVENT_PART,
                    &format!("not a map but {}", kind(&other)),
                ));
                Map::new()
            }
            Some(Err(err)) => {
                errors.push(invalid(EVENT_PART, &err));
                Map::new()
            }
            None => Map::new(),
        };
        let mut lists = Vec::new();
        for (index, bytes) in self.breadcrumbs.iter().enumerate() {
            match msgpack_value(bytes, max_depth) {
                Ok(Value::Array(list)) => lists.push(list),
                Ok(other) => errors.push(invalid(
                    BREADCRUMB_PARTS[index.min(1)],
                    &format!("not a list but {}", kind(&other)),
                )),
                Err(err) => errors.push(invalid(BREADCRUMB_PARTS[index.min(1)], &err)),
            }
        }
        merge_into(&mut event, form);
        if !event.contains_key("breadcrumbs") && lists.iter().any(|l| !l.is_empty()) {
            event.insert("breadcrumbs".into(), json!({"values": one_list(lists)}));
        }
        if !errors.is_empty() {
            let list = event.entry("errors").or_insert_with(|| json!([]));
            if let Value::Array(list) = list {
                list.extend(errors);
            }
        }
        event
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nil",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// An entry of Sentry's `errors` for an attachment it could not read.
fn invalid(name: &str, reason: &str) -> Value {
    json!({"type": "invalid_attachment", "name": name, "value": reason})
}

/// Merges `from` onto `into`: maps key by key, anything else replaced.
fn merge_into(into: &mut Map<String, Value>, from: Map<String, Value>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Value::Object(target)), Value::Object(source)) => merge_into(target, source),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

/// The ring's two lists as one, oldest first: the list whose last breadcrumb is older comes
/// first (sentry-native fills one file, then the other).
fn one_list(mut lists: Vec<Vec<Value>>) -> Vec<Value> {
    let last_time = |list: &Vec<Value>| {
        list.last()
            .and_then(|b| b.get("timestamp"))
            .map(|t| match t {
                Value::String(s) => crate::item::parse_rfc3339(s).unwrap_or(0.0),
                other => other.as_f64().unwrap_or(0.0),
            })
            .unwrap_or(0.0)
    };
    lists.sort_by(|a, b| last_time(a).total_cmp(&last_time(b)));
    lists.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgpack(value: &Value) -> Vec<u8> {
        rmp_serde::to_vec_named(value).expect("encode")
    }

    #[test]
    fn the_attached_event_is_the_base_the_form_fields_override() {
        let mut attached = AttachedEvent::default();
        let event = json!({"release": "from-msgpack@1", "tags": {"a": "1", "b": "2"},
                           "user": {"id": "7"}, "level": "fatal"});
        assert_eq!(
            attached.take(EVENT_PART, &msgpack(&event)),
            Some(EVENT_ATTACHMENT)
        );
        let crumbs1 = json!([{"message": "third", "timestamp": "2026-12-07T10:00:03Z"}]);
        let crumbs2 = json!([{"message": "first", "timestamp": "2026-12-07T10:00:01Z"},
                             {"message": "second", "timestamp": "2026-12-07T10:00:02Z"}]);
        attached.take("__sentry-breadcrumb1", &msgpack(&crumbs1));
        attached.take("__sentry-breadcrumb2", &msgpack(&crumbs2));
        assert_eq!(attached.take("other", b"x"), None);
        let form = json!({"release": "from-form@2", "tags": {"b": "form"}});
        let merged = attached.merge(form.as_object().cloned().unwrap(), 64);
        assert_eq!(merged["release"], "from-form@2");
        assert_eq!(merged["tags"], json!({"a": "1", "b": "form"}));
        assert_eq!(merged["user"]["id"], "7");
        let messages: Vec<&str> = merged["breadcrumbs"]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["message"].as_str().unwrap())
            .collect();
        assert_eq!(messages, ["first", "second", "third"]);
        assert!(merged.get("errors").is_none());
    }

    #[test]
    fn unreadable_parts_are_reported_and_left_out() {
        let mut attached = AttachedEvent::default();
        attached.take(EVENT_PART, b"\xc1 not msgpack");
        attached.take("__sentry-breadcrumb1", &msgpack(&json!({"not": "a list"})));
        let merged = attached.merge(Map::new(), 64);
        let errors = merged["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0]["name"], EVENT_PART);
        assert_eq!(errors[1]["value"], "not a list but a map");
    }

    #[test]
    fn nesting_past_the_limit_is_refused_while_reading() {
        // 100,000 nested one-element lists: a stack overflow if read without a limit.
        let mut deep = vec![0x91u8; 100_000];
        deep.push(0xc0);
        let err = msgpack_value(&deep, 64).unwrap_err();
        assert!(err.to_lowercase().contains("depth"), "{err}");
        assert_eq!(msgpack_value(&[0x91, 0x91, 0xc0], 64), Ok(json!([[null]])));
        // A declared length longer than what follows fails without allocating it.
        assert!(msgpack_value(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0], 64).is_err());
        assert!(msgpack_value(&[0xc0, 0xc0], 64).is_err(), "trailing bytes");
    }
}
