//! Id headers (`X-Client-Id`, `X-User-No`): documented with the id type's own schema, read
//! strictly (ASCII digits only: no sign, no spaces, no leading zeros), and refused in the
//! same words as a body field, by the handler that knows the header's name.

use std::borrow::Cow;

use poem_openapi::registry::MetaSchemaRef;
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};

use crate::domain::fields::{ClientId, FieldType, Invalid, Rule, UserNo};

/// An id a header can carry, read with the constructor that fits a lookup.
pub trait HeaderId: Sized + Send + Sync {
    const RULE: Rule;
    fn from_id(value: i64) -> Result<Self, Invalid>;
}

impl HeaderId for ClientId {
    const RULE: Rule = <ClientId as FieldType>::RULE;
    fn from_id(value: i64) -> Result<Self, Invalid> {
        ClientId::new(value)
    }
}

/// Looking up user 199 is not an error of form: it answers 404, like any missing user.
impl HeaderId for UserNo {
    const RULE: Rule = <UserNo as FieldType>::RULE;
    fn from_id(value: i64) -> Result<Self, Invalid> {
        UserNo::new(value)
    }
}

/// A header value as read: the id, or why it was refused. Parsing never fails, so that the
/// handler answers with the header's name and the field rule's message.
pub struct IdHeader<T>(pub Result<T, Invalid>);

fn strict_decimal(value: &str) -> Option<i64> {
    let digits_only = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    let no_leading_zero = value == "0" || !value.starts_with('0');
    if digits_only && no_leading_zero && value.len() <= 18 {
        value.parse().ok()
    } else {
        None
    }
}

impl<T: HeaderId> Type for IdHeader<T> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "integer".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(super::field_schema::rule_schema(T::RULE)))
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

impl<T: HeaderId> ParseFromParameter for IdHeader<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(match strict_decimal(value) {
            Some(n) => T::from_id(n),
            None if value.len() > 18 && value.bytes().all(|b| b.is_ascii_digit()) => {
                T::from_id(i64::MAX)
            }
            None => Err(Invalid("must be an integer in decimal digits".into())),
        }))
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
