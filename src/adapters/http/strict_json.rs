//! The request body extractor: size limit (413), then content type (415), then strict
//! parsing (422), in the order `api.md` §3 gives.

use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::Value;

use super::json_reader::ObjectReader;
use super::problem::InvalidBody;
use crate::domain::errors::ValidationErrors;

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
    let value: Value = serde_json::from_slice(bytes)
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
