//! Reading a request body as JSON that every reader reads the same way.
//!
//! JSON (RFC 8259 section 4) leaves an object whose member names repeat to each reader:
//! `serde_json` keeps the last, other readers keep the first or fail. A body read one way
//! by the layer and another way by the server behind it would let a client have one
//! request judged and another run, so a repeated member is refused.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::ExtractError;

/// The body as JSON, refusing an object that names a member more than once (at any
/// depth).
pub(crate) fn read(body: &[u8]) -> Result<Value, ExtractError> {
    let repeated = RefCell::new(None);
    let mut reader = serde_json::Deserializer::from_slice(body);
    let value = Strict {
        repeated: &repeated,
    }
    .deserialize(&mut reader)
    .and_then(|v| reader.end().map(|()| v));
    match (value, repeated.into_inner()) {
        (Ok(v), _) => Ok(v),
        (Err(_), Some(name)) => Err(ExtractError::Invalid(format!(
            "member `{name}` appears more than once in one JSON object: send each member once"
        ))),
        (Err(e), None) => Err(ExtractError::Json(e.to_string())),
    }
}

/// A JSON value whose objects name each member once. The first repeated name is kept in
/// `repeated`.
#[derive(Clone, Copy)]
struct Strict<'a> {
    repeated: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Value, E> {
        Number::from_f64(n)
            .map(Value::Number)
            .ok_or_else(|| E::custom("a number is not finite"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if object.contains_key(&name) {
                let error = A::Error::custom(format!("member `{name}` appears more than once"));
                *self.repeated.borrow_mut() = Some(name);
                return Err(error);
            }
            let value = map.next_value_seed(self)?;
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_serde_json_reads() {
        let text = r#"{"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":"\u00e9"}"#;
        assert_eq!(
            read(text.as_bytes()).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert_eq!(read(b" 7 ").unwrap(), json!(7));
    }

    #[test]
    fn a_repeated_member_is_refused_at_any_depth() {
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"x":{"a":1,"b":2,"a":1}}"#,
            r#"[{"a":1},{"b":1,"b":1}]"#,
        ] {
            let e = read(text.as_bytes()).unwrap_err();
            assert!(
                e.to_string().contains("appears more than once"),
                "{text}: {e}"
            );
        }
        // The same name in two objects is not repeated.
        assert!(read(br#"[{"a":1},{"a":1}]"#).is_ok());
    }

    #[test]
    fn malformed_json_is_a_json_error() {
        for text in ["{", "[1,]", "{} {}", "nul"] {
            assert!(
                matches!(read(text.as_bytes()), Err(ExtractError::Json(_))),
                "{text}"
            );
        }
    }
}
