//! The request body extractor: size limit (413), then content type (415), then strict
//! parsing (422), in the order `api.md` §3 gives.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::Value;

use super::field_errors::ValidationErrors;
use super::json_reader::ObjectReader;
use super::problem::InvalidBody;

/// The largest body accepted, chunked or not.
pub const BODY_LIMIT: usize = 64 * 1024;

/// How much of an oversized body is read and thrown away before answering 413, so that a
/// client still sending gets the answer instead of a reset connection.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Reads the body up to [`BODY_LIMIT`]; `None` when it is larger.
async fn read_limited(body: poem::Body) -> std::io::Result<Option<Vec<u8>>> {
    use tokio::io::AsyncReadExt;
    let mut reader = body.into_async_read();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut seen = 0usize;
    loop {
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Ok((seen <= BODY_LIMIT).then_some(bytes));
        }
        seen += n;
        if seen <= BODY_LIMIT {
            bytes.extend_from_slice(&chunk[..n]);
        } else if seen > BODY_LIMIT + DRAIN_LIMIT {
            return Ok(None);
        }
    }
}

/// A request body type: what the OpenAPI document shows, and how it is read.
pub trait JsonBody: Sized + Send {
    /// The object documented for this body.
    type Schema: Type;

    /// Reads the body; every problem found goes to `errors`. `None` when anything failed.
    fn read(body: ObjectReader<'_>) -> Option<Self>;
}

/// A JSON body read strictly into `T`.
pub struct StrictJson<T>(pub T);

fn is_json(content_type: &str) -> bool {
    content_type.parse::<mime::Mime>().is_ok_and(|m| {
        m.type_() == "application"
            && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
    })
}

fn parse<T: JsonBody>(bytes: &[u8]) -> Result<T, ValidationErrors> {
    let value: Value = crate::adapters::strict_value::from_slice(bytes)
        .map_err(|e| ValidationErrors::single("body", format!("is not valid JSON: {e}")))?;
    let mut errors = ValidationErrors::new();
    let read = T::read(ObjectReader::root(&value, &mut errors));
    errors.into_result(|| read)
}

impl<'a, T: JsonBody> ApiExtractor<'a> for StrictJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::Schema::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::Schema::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bytes = read_limited(body.take()?)
            .await
            .map_err(|e| {
                InvalidBody(ValidationErrors::single(
                    "body",
                    format!("could not be read: {e}"),
                ))
            })?
            .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::PAYLOAD_TOO_LARGE))?;
        match request.content_type() {
            Some(ct) if is_json(ct) => {}
            Some(ct) => {
                return Err(poem_openapi::error::ContentTypeError::NotSupported {
                    content_type: ct.to_string(),
                }
                .into())
            }
            None => return Err(poem_openapi::error::ContentTypeError::ExpectContentType.into()),
        }
        parse::<T>(&bytes)
            .map(StrictJson)
            .map_err(|e| InvalidBody(e).into())
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;
    use crate::adapters::http::clients::{ClientInfoWrite, ClientRef};
    use crate::adapters::http::users::{UserRef, UserWrite};
    use crate::adapters::http::zones::{PutZone, ZoneRef};

    /// Any JSON, biased towards the field names and shapes the bodies use.
    fn any_json() -> impl Strategy<Value = Value> {
        let names = prop_oneof![
            Just("client_id"),
            Just("info"),
            Just("zone_id"),
            Just("user"),
            Just("user_no"),
            Just("Name"),
            Just("SinceHrs"),
            Just("UserNo"),
            Just("User_Name"),
            Just("Zone_area"),
            Just("Email"),
            Just("InstallDateTime"),
            Just("x"),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-2i64..2000).prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((names.clone(), inner), 0..8).prop_map(|fields| {
                    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    fn check<T: JsonBody>(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Err(errors) = parse::<T>(bytes) {
            prop_assert!(
                !errors.fields().is_empty(),
                "a refusal names at least one field"
            );
        }
        Ok(())
    }

    fn every_body(bytes: &[u8]) -> Result<(), TestCaseError> {
        check::<ClientInfoWrite<true>>(bytes)?;
        check::<ClientInfoWrite<false>>(bytes)?;
        check::<ClientRef>(bytes)?;
        check::<PutZone>(bytes)?;
        check::<ZoneRef>(bytes)?;
        check::<UserWrite>(bytes)?;
        check::<UserRef>(bytes)
    }

    proptest! {
        #[test]
        fn any_json_body_is_accepted_or_refused_with_fields(value in any_json()) {
            every_body(&serde_json::to_vec(&value).unwrap())?;
        }

        #[test]
        fn any_bytes_are_accepted_or_refused_with_fields(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            every_body(&bytes)?;
        }
    }
}
