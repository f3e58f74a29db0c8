//! A strict JSON reader for headers and claims: duplicate member names are an
//! error (RFC 7515 §5.2, RFC 8725 §3.2) and nesting depth is bounded, so hostile
//! input can neither smuggle a second `exp` past a validator nor exhaust the stack.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why strict parsing failed (never carries input text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Not JSON, trailing data, or invalid UTF-8.
    Syntax,
    /// A member name appears twice in one object.
    Duplicate,
    /// Nested deeper than allowed.
    TooDeep,
    /// The top level is not an object.
    NotObject,
}

/// Parses `input` as a JSON object, refusing duplicate members and nesting
/// deeper than `max_depth` (the top-level object is depth 1).
pub(crate) fn parse_object(
    input: &[u8],
    max_depth: usize,
) -> Result<Map<String, Value>, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(input);
    let value = StrictSeed {
        depth: 1,
        max_depth,
    }
    .deserialize(&mut de)
    .map_err(classify)?;
    de.end().map_err(|_| JsonError::Syntax)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotObject),
    }
}

const DUPLICATE: &str = "jwt-auth: duplicate member";
const TOO_DEEP: &str = "jwt-auth: too deep";

fn classify(err: serde_json::Error) -> JsonError {
    let text = err.to_string();
    if text.starts_with(DUPLICATE) {
        JsonError::Duplicate
    } else if text.starts_with(TOO_DEEP) || text.starts_with("recursion limit exceeded") {
        JsonError::TooDeep
    } else {
        JsonError::Syntax
    }
}

#[derive(Clone, Copy)]
struct StrictSeed {
    depth: usize,
    max_depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl StrictSeed {
    fn nested<E: de::Error>(self) -> Result<Self, E> {
        if self.depth > self.max_depth {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(Self {
            depth: self.depth + 1,
            max_depth: self.max_depth,
        })
    }
}

impl<'de> Visitor<'de> for StrictSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
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
        let inner = self.nested()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(inner)?;
            if out.insert(key, value).is_some() {
                return Err(de::Error::custom(DUPLICATE));
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_refused() {
        assert_eq!(
            parse_object(br#"{"exp":1,"exp":2}"#, 8),
            Err(JsonError::Duplicate)
        );
        assert_eq!(
            parse_object(br#"{"a":{"b":1,"b":1}}"#, 8),
            Err(JsonError::Duplicate)
        );
    }

    #[test]
    fn depth_is_bounded() {
        assert!(parse_object(br#"{"a":[[1]]}"#, 3).is_ok());
        assert_eq!(
            parse_object(br#"{"a":[[[1]]]}"#, 3),
            Err(JsonError::TooDeep)
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse_object(deep.as_bytes(), 32), Err(JsonError::TooDeep));
    }

    #[test]
    fn shape_and_syntax() {
        assert_eq!(parse_object(b"[1]", 8), Err(JsonError::NotObject));
        assert_eq!(parse_object(b"{} x", 8), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{\"a\":\xff}", 8), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"", 8), Err(JsonError::Syntax));
    }
}
