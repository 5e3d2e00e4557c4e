//! Parsing only the parts of a JSON document that are needed.
//!
//! Listing an event needs a dozen fields, but an event is mostly stack frames, breadcrumbs and
//! contexts. Building a full `serde_json::Value` of it allocates every one of those; this
//! deserialises straight into a `Value` that holds only the keys a [`Spec`] names, skipping the
//! rest with `IgnoredAny` (which still checks that the whole document is valid JSON).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Which parts of a value to keep.
#[derive(Debug)]
pub enum Spec {
    /// The whole value.
    All,
    /// For an object, only these keys (each with its own spec); arrays apply the spec to each
    /// element; scalars are kept as they are.
    Keys(&'static [(&'static str, Spec)]),
    /// For an object, only these keys, as [`Spec::Keys`]; anything else (an array, a scalar) is
    /// checked and dropped (`null`), so a document of any size costs only what the keys hold.
    Fields(&'static [(&'static str, Spec)]),
    /// For an array, its first `n` elements, each with its own spec (the rest checked and
    /// dropped); anything else is checked and dropped (`null`): a list whose length the sender
    /// chooses costs at most `n` elements.
    FirstOf(usize, &'static Spec),
}

/// Checks that `bytes` is one JSON document, keeping nothing of it (no allocation per value).
pub fn check(bytes: &[u8]) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde::Deserialize::deserialize(&mut de).map(|IgnoredAny| ())?;
    de.end()
}

/// Parses `bytes` keeping what `spec` names.
pub fn parse(bytes: &[u8], spec: &'static Spec) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Prune(spec).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

struct Prune<'s>(&'s Spec);

impl<'de> DeserializeSeed<'de> for Prune<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.0 {
            Spec::All => serde::Deserialize::deserialize(deserializer),
            Spec::Keys(keys) => deserializer.deserialize_any(PruneKeys(keys)),
            Spec::Fields(keys) => deserializer.deserialize_any(PruneOnly::Fields(keys)),
            Spec::FirstOf(n, spec) => deserializer.deserialize_any(PruneOnly::FirstOf(*n, spec)),
        }
    }
}

/// Keeps the named keys of objects, element by element through arrays.
struct PruneKeys<'s>(&'s [(&'static str, Spec)]);

impl<'de> DeserializeSeed<'de> for PruneKeys<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PruneKeys<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(PruneKeys(self.0))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            match self.0.iter().find(|(name, _)| *name == key) {
                Some((_, spec)) => {
                    let value = map.next_value_seed(Prune(spec))?;
                    out.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Keeps one kind of container and nothing of any other value (`null`, after checking it).
enum PruneOnly<'s> {
    /// An object's named keys ([`Spec::Fields`]).
    Fields(&'s [(&'static str, Spec)]),
    /// An array's first elements ([`Spec::FirstOf`]).
    FirstOf(usize, &'s Spec),
}

impl<'de> Visitor<'de> for PruneOnly<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let Self::FirstOf(n, spec) = self else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        };
        let mut items = Vec::new();
        while items.len() < n {
            match seq.next_element_seed(Prune(spec))? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Self::Fields(keys) = self else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Value::Null);
        };
        PruneKeys(keys).visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SPEC: Spec = Spec::Keys(&[
        ("a", Spec::All),
        ("list", Spec::Keys(&[("keep", Spec::All)])),
    ]);

    #[test]
    fn keeps_only_named_keys_at_every_level() {
        let doc = br#"{"a": {"deep": [1, 2]}, "b": {"huge": "x"}, "list": [{"keep": 1, "drop": 2}, "s", 3.5, null]}"#;
        assert_eq!(
            parse(doc, &SPEC).unwrap(),
            json!({"a": {"deep": [1, 2]}, "list": [{"keep": 1}, "s", 3.5, null]})
        );
    }

    #[test]
    fn invalid_json_anywhere_is_still_an_error() {
        assert!(parse(br#"{"b": {"skipped": [1, 2,]}}"#, &SPEC).is_err());
        assert!(parse(br#"{"a": 1} trailing"#, &SPEC).is_err());
        assert!(parse(br#"[1, {"a": 2}, ]"#, &FIELDS).is_err());
        assert!(check(br#"{"a": [1, 2,]}"#).is_err());
        assert!(check(br#"{} {}"#).is_err());
        assert!(check(br#" {"a": [1, {"b": null}]} "#).is_ok());
    }

    static FIELDS: Spec = Spec::Fields(&[("a", Spec::All)]);

    static FIRST: Spec = Spec::FirstOf(2, &Spec::Keys(&[("a", Spec::All)]));

    #[test]
    fn first_of_keeps_the_first_elements_of_an_array_only() {
        assert_eq!(
            parse(br#"[{"a": 1, "b": 2}, 3, {"a": 4}]"#, &FIRST).unwrap(),
            json!([{"a": 1}, 3])
        );
        for other in [&br#"{"a": 1}"#[..], b"\"a\"", b"12", b"true", b"null"] {
            assert_eq!(parse(other, &FIRST).unwrap(), Value::Null);
        }
        assert!(parse(br#"[1, 2, 3,]"#, &FIRST).is_err());
    }

    #[test]
    fn fields_keep_an_objects_keys_and_drop_anything_else() {
        assert_eq!(
            parse(br#"{"a": [1, 2], "b": [3]}"#, &FIELDS).unwrap(),
            json!({"a": [1, 2]})
        );
        for other in [&br#"[{"a": 1}, 2]"#[..], b"\"a\"", b"12", b"true", b"null"] {
            assert_eq!(parse(other, &FIELDS).unwrap(), Value::Null);
        }
    }
}
