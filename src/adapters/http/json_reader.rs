//! Strict reading of JSON request bodies: no type coercion, no `null`, no unknown fields, and
//! every failing field reported at once with its path (`info.SinceHrs`).

use serde_json::{Map, Value};

use crate::domain::errors::ValidationErrors;
use crate::domain::fields::Invalid;

/// Reads the fields of one JSON object; what it finds wrong goes to `errors`.
pub struct ObjectReader<'a> {
    prefix: String,
    map: Option<&'a Map<String, Value>>,
    known: Vec<&'static str>,
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

    pub fn boolean(&mut self, name: &'static str) -> Option<bool> {
        match self.value(name)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.wrong_type(name, "a boolean", other);
                None
            }
        }
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
            errors: self.errors,
        })
    }

    /// Reports every field of the object that no reader asked for: a typo must not be
    /// silently dropped.
    pub fn finish(self) {
        let Some(map) = self.map else { return };
        for name in map.keys() {
            if !self.known.contains(&name.as_str()) {
                self.errors
                    .add(format!("{}{name}", self.prefix), "is not a known field");
            }
        }
    }
}
