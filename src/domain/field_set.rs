//! Declares the fields of a record once: the whole record (every field valid and filled),
//! its partial form (any subset, the input of a write), and what every format needs to walk
//! them by name. The lists themselves are in `client.rs`; adapters that publish a schema
//! (HTTP) expand the same lists with a macro of their own, so a field added there reaches
//! the API, the OpenAPI document, the XML and storage at once.

/// How a field is filled when a write omits it.
///
/// - `required`: the write must send it;
/// - `default`: the type's default (empty text, 0, false, `U`);
/// - `given`: optional in a write, filled by the domain before
///   [`complete`](PartialFields::complete) (the install date: the day the client was created).
macro_rules! field_set {
    (
        $(#[$whole_meta:meta])*
        $Whole:ident / $(#[$partial_meta:meta])* $Partial:ident {
            $(
                $(#[doc = $doc:tt])*
                $field:ident : $T:ty = $name:tt, $default:ident;
            )*
        }
    ) => {
        $(#[$whole_meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $Whole {
            $( $(#[doc = $doc])* pub $field: $T, )*
        }

        $(#[$partial_meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $Partial {
            $( pub $field: Option<$T>, )*
        }

        impl $Whole {
            /// Every field's name (its JSON key and XML tag), in the order of the contract.
            pub const NAMES: &'static [&'static str] = &[$($name),*];

            /// Takes every field that `partial` holds; the others stay.
            pub fn merge(&mut self, partial: $Partial) {
                $( if let Some(v) = partial.$field { self.$field = v; } )*
            }
        }

        impl $crate::domain::field_set::Fields for $Whole {
            fn try_for_each_field<E>(
                &self,
                mut visit: impl FnMut(&'static str, $crate::domain::fields::FieldValue<'_>) -> Result<(), E>,
            ) -> Result<(), E> {
                $( visit($name, $crate::domain::fields::FieldType::value(&self.$field))?; )*
                Ok(())
            }

            fn try_for_each_kept_field<E>(
                &self,
                mut visit: impl FnMut(&'static str, $crate::domain::fields::FieldValue<'_>) -> Result<(), E>,
            ) -> Result<(), E> {
                $(
                    if !field_set!(@at_default $default, self.$field, $T) {
                        visit($name, $crate::domain::fields::FieldType::value(&self.$field))?;
                    }
                )*
                Ok(())
            }
        }

        impl $crate::domain::field_set::PartialFields for $Partial {
            type Whole = $Whole;

            fn kind_of(name: &str) -> Option<$crate::domain::fields::Kind> {
                match name {
                    $( $name => Some(<$T as $crate::domain::fields::FieldType>::RULE.kind()), )*
                    _ => None,
                }
            }

            fn required() -> &'static [&'static str] {
                const REQUIRED: &[(&str, bool)] = &[$( ($name, field_set!(@is_required $default)) ),*];
                const COUNT: usize = {
                    let mut n = 0;
                    let mut i = 0;
                    while i < REQUIRED.len() {
                        if REQUIRED[i].1 {
                            n += 1;
                        }
                        i += 1;
                    }
                    n
                };
                const NAMES: [&str; COUNT] = {
                    let mut out = [""; COUNT];
                    let (mut i, mut n) = (0, 0);
                    while i < REQUIRED.len() {
                        if REQUIRED[i].1 {
                            out[n] = REQUIRED[i].0;
                            n += 1;
                        }
                        i += 1;
                    }
                    out
                };
                &NAMES
            }

            fn set(
                &mut self,
                name: &str,
                value: $crate::domain::fields::FieldValue<'_>,
            ) -> Result<bool, $crate::domain::fields::Invalid> {
                match name {
                    $( $name => {
                        self.$field = Some(<$T as $crate::domain::fields::FieldType>::from_value(value)?);
                        Ok(true)
                    } )*
                    _ => Ok(false),
                }
            }

            fn complete(self) -> Result<$Whole, $crate::domain::field_set::MissingField> {
                Ok($Whole {
                    $( $field: field_set!(@fill $default, self.$field, $name)?, )*
                })
            }
        }
    };
    (@at_default default, $value:expr, $T:ty) => { $value == <$T as Default>::default() };
    (@at_default $other:ident, $value:expr, $T:ty) => { false };
    (@is_required required) => { true };
    (@is_required $other:ident) => { false };
    (@fill default, $value:expr, $name:tt) => {
        Ok::<_, $crate::domain::field_set::MissingField>($value.unwrap_or_default())
    };
    (@fill $other:ident, $value:expr, $name:tt) => {
        $value.ok_or($crate::domain::field_set::MissingField($name))
    };
}

pub(crate) use field_set;

use super::fields::{FieldValue, Invalid, Kind};

/// A record whose fields can be walked by name.
pub trait Fields {
    /// Calls `visit` with every field's name (its JSON key and XML tag) and value, in the
    /// order of the contract.
    fn try_for_each_field<E>(
        &self,
        visit: impl FnMut(&'static str, FieldValue<'_>) -> Result<(), E>,
    ) -> Result<(), E>;

    /// Like [`Fields::try_for_each_field`], without the fields that a partial record lacking
    /// them completes to the same value: those with a `default` that hold it. A record that
    /// keeps only these fields reads back whole ([`PartialFields::complete`]).
    fn try_for_each_kept_field<E>(
        &self,
        visit: impl FnMut(&'static str, FieldValue<'_>) -> Result<(), E>,
    ) -> Result<(), E>;
}

/// The partial form of a record: what a write sends, field by field.
pub trait PartialFields: Default {
    type Whole;
    /// The kind of value the field `name` holds; `None` for a name that is no field.
    fn kind_of(name: &str) -> Option<Kind>;
    /// The fields a write must send.
    fn required() -> &'static [&'static str];
    /// Sets the field `name` from a plain value, enforcing its rule. `Ok(false)` when `name`
    /// is no field.
    fn set(&mut self, name: &str, value: FieldValue<'_>) -> Result<bool, Invalid>;
    /// The whole record; omitted fields take their defaults. `Err` names the first missing
    /// field that has no default.
    fn complete(self) -> Result<Self::Whole, MissingField>;

    /// The partial record of named values, as a stored or exported record holds them. Refuses
    /// a name that is no field (a record of a newer version) and a value that breaks its rule.
    fn from_named<'a>(
        pairs: impl IntoIterator<Item = (&'a str, FieldValue<'a>)>,
    ) -> Result<Self, String> {
        let mut partial = Self::default();
        for (name, value) in pairs {
            match partial.set(name, value) {
                Ok(true) => {}
                Ok(false) => return Err(format!("{name} is not a known field")),
                Err(e) => return Err(format!("{name} {e}")),
            }
        }
        Ok(partial)
    }
}

/// A field without a default was not sent; it holds the field's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is required")]
pub struct MissingField(pub &'static str);
