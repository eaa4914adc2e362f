//! The JSON answer payload. poem-openapi's `Json` documents its media type as
//! `application/json; charset=utf-8`, which generators that key on `application/json`
//! (openapi-fetch's JSON-only typing, for one) do not recognise; this one documents
//! `application/json`, and the body is still sent with the charset.

use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::ApiResponse;

/// A JSON answer body.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: Type> Payload for Json<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ToJSON> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        poem::web::Json(self.0.to_json()).into_response()
    }
}

/// The document's one 200 answer of a JSON payload, for the `ApiResponse` of a payload
/// used as an answer on its own.
pub fn ok_meta<P: Payload>() -> MetaResponses {
    MetaResponses {
        responses: vec![MetaResponse {
            description: "",
            status: Some(200),
            status_range: None,
            content: vec![MetaMediaType {
                content_type: P::CONTENT_TYPE,
                schema: P::schema_ref(),
            }],
            headers: vec![],
        }],
    }
}

impl<T: ToJSON> ApiResponse for Json<T> {
    fn meta() -> MetaResponses {
        ok_meta::<Self>()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}
