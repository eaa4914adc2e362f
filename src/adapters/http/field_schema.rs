//! The domain's field types as OpenAPI types: each one's schema is derived from its
//! [`Rule`], the same rule its constructor enforces, so the document cannot promise more or
//! less than the service accepts. Parsing through poem-openapi goes through the same
//! constructors (the request bodies themselves are read by `json_reader`).

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use crate::domain::fields::{
    Bounded, ClientId, Email, FieldType, FieldValue, InstallDate, Phone, Rule, Text, UserNo,
    UserType, ZoneNo,
};

/// The schema of a field rule.
pub fn rule_schema(rule: Rule) -> MetaSchema {
    match rule {
        Rule::Text {
            min_chars,
            max_chars,
            pattern,
        } => MetaSchema {
            min_length: (min_chars > 0).then_some(min_chars),
            max_length: Some(max_chars),
            pattern: Some(pattern.to_owned()),
            ..MetaSchema::new("string")
        },
        Rule::Integer { min, max } => MetaSchema {
            format: Some(
                if i32::try_from(max).is_ok() && i32::try_from(min).is_ok() {
                    "int32"
                } else {
                    "int64"
                },
            ),
            minimum: Some(min as f64),
            maximum: Some(max as f64),
            ..MetaSchema::new("integer")
        },
        Rule::Flag => MetaSchema::new("boolean"),
    }
}

/// The plain value of a JSON value, when it has a kind a field can hold.
pub fn field_value(value: &Value) -> Option<FieldValue<'_>> {
    match value {
        Value::String(s) => Some(FieldValue::Text(Cow::Borrowed(s))),
        Value::Bool(b) => Some(FieldValue::Flag(*b)),
        Value::Number(n) => n.as_i64().map(FieldValue::Integer),
        _ => None,
    }
}

pub fn json_of(value: FieldValue<'_>) -> Value {
    match value {
        FieldValue::Text(t) => Value::from(t.into_owned()),
        FieldValue::Integer(n) => Value::from(n),
        FieldValue::Flag(b) => Value::from(b),
    }
}

macro_rules! field_schema {
    ($ty:ty $(, const $param:ident: $pty:ty)*) => {
        impl<$(const $param: $pty),*> Type for $ty {
            const IS_REQUIRED: bool = true;
            type RawValueType = Self;
            type RawElementValueType = Self;

            fn name() -> Cow<'static, str> {
                match <$ty as FieldType>::RULE {
                    Rule::Text { .. } => "string".into(),
                    Rule::Integer { .. } => "integer".into(),
                    Rule::Flag => "boolean".into(),
                }
            }

            fn schema_ref() -> MetaSchemaRef {
                MetaSchemaRef::Inline(Box::new(rule_schema(<$ty as FieldType>::RULE)))
            }

            fn as_raw_value(&self) -> Option<&Self::RawValueType> {
                Some(self)
            }

            fn raw_element_iter<'a>(
                &'a self,
            ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
                Box::new(self.as_raw_value().into_iter())
            }
        }

        impl<$(const $param: $pty),*> ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                let value = value.unwrap_or_default();
                let plain = field_value(&value).ok_or_else(|| ParseError::expected_type(value.clone()))?;
                <$ty as FieldType>::from_value(plain).map_err(|e| ParseError::custom(e.0))
            }
        }

        impl<$(const $param: $pty),*> ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(json_of(FieldType::value(self)))
            }
        }
    };
}

field_schema!(Text<MIN, MAX>, const MIN: usize, const MAX: usize);
field_schema!(Bounded<MAX>, const MAX: u16);
field_schema!(Phone);
field_schema!(Email);
field_schema!(InstallDate);
field_schema!(UserType);
field_schema!(ClientId);
field_schema!(ZoneNo);
field_schema!(UserNo);
