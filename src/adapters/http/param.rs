//! Header and query parameters (`X-Client-Id`, `X-User-No`, `?status=&limit=&after=`):
//! documented with the value type's own schema, read strictly (numbers are ASCII digits only:
//! no sign, no spaces, no leading zeros), and refused in the same words as a body field, by
//! the handler that knows the parameter's name.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};

use super::field_schema::rule_schema;
use crate::domain::fields::{ClientId, FieldType, Invalid, UserNo};

/// A value a parameter can carry: its schema, and how its text is read.
pub trait ParamType: Sized + Send + Sync {
    fn schema() -> MetaSchema;
    fn parse(text: &str) -> Result<Self, Invalid>;
}

/// Reads an integer parameter with `new`.
pub fn integer<T>(text: &str, new: impl FnOnce(i64) -> Result<T, Invalid>) -> Result<T, Invalid> {
    match strict_decimal(text) {
        Some(n) => new(n),
        // Too many digits for any id: out of range, in the range's own words.
        None if text.len() > 18 && text.bytes().all(|b| b.is_ascii_digit()) => new(i64::MAX),
        None => Err(Invalid("must be an integer in decimal digits".into())),
    }
}

impl ParamType for ClientId {
    fn schema() -> MetaSchema {
        rule_schema(<ClientId as FieldType>::RULE)
    }
    fn parse(text: &str) -> Result<Self, Invalid> {
        integer(text, ClientId::new)
    }
}

/// Looking up user 199 is not an error of form: it answers 404, like any missing user.
impl ParamType for UserNo {
    fn schema() -> MetaSchema {
        rule_schema(<UserNo as FieldType>::RULE)
    }
    fn parse(text: &str) -> Result<Self, Invalid> {
        integer(text, UserNo::new)
    }
}

/// A required parameter as read: the value, or why it was refused. Parsing never fails, so
/// that the handler answers with the parameter's name and the rule's message.
pub struct IdHeader<T>(pub Result<T, Invalid>);

/// An optional parameter as read: absent, the value, or why it was refused.
pub struct OptionalParam<T>(pub Option<Result<T, Invalid>>);

impl<T: ParamType> Type for OptionalParam<T> {
    const IS_REQUIRED: bool = false;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        T::schema().ty.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(T::schema()))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }

    fn is_none(&self) -> bool {
        self.0.is_none()
    }
}

impl<T: ParamType> ParseFromParameter for OptionalParam<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(Some(T::parse(value))))
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        let mut values = iter.into_iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(Self(None)),
            (Some(value), None) => Self::parse_from_parameter(value.as_ref()),
            (Some(_), Some(_)) => Ok(Self(Some(Err(Invalid("must be sent once".into()))))),
        }
    }
}

fn strict_decimal(value: &str) -> Option<i64> {
    let digits_only = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let no_leading_zero = value == "0" || !value.starts_with('0');
    if digits_only && no_leading_zero && value.len() <= 18 {
        value.parse().ok()
    } else {
        None
    }
}

impl<T: ParamType> Type for IdHeader<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "integer".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(T::schema()))
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

impl<T: ParamType> ParseFromParameter for IdHeader<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(T::parse(value)))
    }

    fn parse_from_parameters<I: IntoIterator<Item = A>, A: AsRef<str>>(
        iter: I,
    ) -> ParseResult<Self> {
        let mut values = iter.into_iter();
        match (values.next(), values.next()) {
            (Some(value), None) => Self::parse_from_parameter(value.as_ref()),
            (None, _) => Ok(Self(Err(Invalid("is required".into())))),
            (Some(_), Some(_)) => Ok(Self(Err(Invalid("must be sent once".into())))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(values: &[&str]) -> Result<u32, String> {
        IdHeader::<ClientId>::parse_from_parameters(values.iter().copied())
            .map_err(|e| e.into_message())?
            .0
            .map(ClientId::get)
            .map_err(|e| e.0)
    }

    #[test]
    fn only_plain_decimal_digits_are_ids() {
        assert_eq!(read(&["1"]), Ok(1));
        assert_eq!(read(&["4294967295"]), Ok(4_294_967_295));
        for bad in ["+1", " 1", "1 ", "0001", "1e3", "-1", "", "0x10", "１"] {
            assert!(read(&[bad]).is_err(), "{bad:?}");
        }
        assert_eq!(read(&["0"]), Err("must be between 1 and 4294967295".into()));
        assert_eq!(
            read(&["4294967296"]),
            Err("must be between 1 and 4294967295".into())
        );
        assert_eq!(
            read(&["99999999999999999999999"]),
            Err("must be between 1 and 4294967295".into())
        );
        assert_eq!(read(&[]), Err("is required".into()));
        assert_eq!(read(&["1", "2"]), Err("must be sent once".into()));
        let user = IdHeader::<UserNo>::parse_from_parameter("199")
            .map_err(|e| e.into_message())
            .unwrap()
            .0;
        assert_eq!(user.map(UserNo::get), Ok(199), "199 can be looked up");
    }
}
