//! Strict reading of JSON request bodies: no type coercion, no `null`, no unknown fields, and
//! every failing field reported at once with its path (`info.SinceHrs`).

use serde_json::{Map, Value};

use super::field_errors::ValidationErrors;
use crate::domain::field_set::PartialFields;
use crate::domain::fields::{FieldValue, Invalid, Kind};

/// Reads the fields of one JSON object; what it finds wrong goes to `errors`.
pub struct ObjectReader<'a> {
    prefix: String,
    map: Option<&'a Map<String, Value>>,
    known: Vec<&'static str>,
    known_dynamic: Vec<&'a str>,
    errors: &'a mut ValidationErrors,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> ObjectReader<'a> {
    /// The request body itself, which must be an object.
    pub fn root(value: &'a Value, errors: &'a mut ValidationErrors) -> Self {
        let map = value.as_object();
        if map.is_none() {
            errors.add(
                "body",
                format!("must be a JSON object, not {}", type_name(value)),
            );
        }
        Self {
            prefix: String::new(),
            map,
            known: Vec::new(),
            known_dynamic: Vec::new(),
            errors,
        }
    }

    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The value of `name` when present and not null.
    fn value(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        let value = self.map?.get(name)?;
        if value.is_null() {
            self.errors.add(self.path(name), "must not be null");
            return None;
        }
        Some(value)
    }

    fn wrong_type(&mut self, name: &str, expected: &str, found: &Value) {
        let message = format!("must be {expected}, not {}", type_name(found));
        self.errors.add(self.path(name), message);
    }

    /// Reports `name` as missing when the body does not have it.
    pub fn require(&mut self, name: &'static str) {
        if self.map.is_some_and(|m| !m.contains_key(name)) {
            self.errors.add(self.path(name), "is required");
        }
    }

    pub fn string<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(String) -> Result<T, Invalid>,
    ) -> Option<T> {
        match self.value(name)? {
            Value::String(s) => {
                let path = self.path(name);
                self.errors.check(&path, parse(s.clone()))
            }
            other => {
                self.wrong_type(name, "a string", other);
                None
            }
        }
    }

    pub fn integer<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(i64) -> Result<T, Invalid>,
    ) -> Option<T> {
        let value = self.value(name)?;
        match value.as_i64() {
            Some(n) => {
                let path = self.path(name);
                self.errors.check(&path, parse(n))
            }
            None if value.is_u64() => {
                self.errors.add(self.path(name), "is out of range");
                None
            }
            None => {
                self.wrong_type(name, "an integer", value);
                None
            }
        }
    }

    /// Every field of a declared record that the object holds, checked against its kind and
    /// rule; with `complete`, the fields without a default must be there. Reads the object to
    /// its end (unknown fields are reported), so call it last.
    pub fn fields<P: PartialFields>(mut self, complete: bool) -> P {
        let mut partial = P::default();
        let Some(map) = self.map else {
            return partial;
        };
        if complete {
            for name in P::required() {
                self.require(name);
            }
        }
        for (name, value) in map {
            let Some(kind) = P::kind_of(name) else {
                continue;
            };
            self.known_dynamic.push(name.as_str());
            if value.is_null() {
                self.errors.add(self.path(name), "must not be null");
                continue;
            }
            let plain = match (kind, value) {
                (Kind::Text, Value::String(s)) => FieldValue::Text(s.as_str().into()),
                (Kind::Flag, Value::Bool(b)) => FieldValue::Flag(*b),
                (Kind::Integer, Value::Number(n)) if n.is_i64() => {
                    FieldValue::Integer(n.as_i64().unwrap_or_default())
                }
                (Kind::Integer, Value::Number(n)) if n.is_u64() => {
                    self.errors.add(self.path(name), "is out of range");
                    continue;
                }
                (kind, other) => {
                    let expected = match kind {
                        Kind::Text => "a string",
                        Kind::Integer => "an integer",
                        Kind::Flag => "a boolean",
                    };
                    self.wrong_type(name, expected, other);
                    continue;
                }
            };
            if let Err(e) = partial.set(name, plain) {
                self.errors.add(self.path(name), e.0);
            }
        }
        self.finish();
        partial
    }

    /// A nested object; read it to the end (and `finish` it) before reading on here.
    pub fn object(&mut self, name: &'static str) -> Option<ObjectReader<'_>> {
        let value = self.value(name)?;
        let Some(map) = value.as_object() else {
            self.wrong_type(name, "an object", value);
            return None;
        };
        Some(ObjectReader {
            prefix: format!("{}.", self.path(name)),
            map: Some(map),
            known: Vec::new(),
            known_dynamic: Vec::new(),
            errors: self.errors,
        })
    }

    /// Reports every field of the object that no reader asked for: a typo must not be
    /// silently dropped.
    pub fn finish(self) {
        let Some(map) = self.map else { return };
        for name in map.keys() {
            if !self.known.contains(&name.as_str()) && !self.known_dynamic.contains(&name.as_str())
            {
                self.errors
                    .add(format!("{}{name}", self.prefix), "is not a known field");
            }
        }
    }
}
