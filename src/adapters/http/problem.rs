//! RFC 9457 problem details: the one mapping from every failure to an HTTP answer.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

use super::field_errors::ValidationErrors;
use crate::domain::client::MemberError;
use crate::domain::service::ServiceError;
use crate::ports::IoFailure;

/// One field that did not validate.
#[derive(Debug, Clone, Object)]
pub struct ProblemField {
    /// Path of the field (`info.SinceHrs`), header name (`X-Client-Id`) or `body`.
    pub field: String,
    pub message: String,
}

/// An error, as `application/problem+json` (RFC 9457).
#[derive(Debug, Clone, Object)]
pub struct Problem {
    #[oai(rename = "type")]
    pub problem_type: String,
    pub title: String,
    /// The HTTP status of the answer.
    #[oai(validator(minimum(value = "400"), maximum(value = "599")))]
    pub status: i32,
    /// What went wrong, for a person to read.
    pub detail: String,
    /// Every failing field (on 422), at most 50.
    #[oai(skip_serializing_if_is_none, validator(max_items = 50))]
    pub errors: Option<Vec<ProblemField>>,
    /// How many more fields failed than `errors` lists (on 422, when more than 50 did).
    #[oai(skip_serializing_if_is_none)]
    pub errors_not_listed: Option<i64>,
}

/// A problem body with its media type.
#[derive(Debug, Clone)]
pub struct ProblemJson(pub Box<Problem>);

impl Payload for ProblemJson {
    const CONTENT_TYPE: &'static str = "application/problem+json";

    fn schema_ref() -> MetaSchemaRef {
        Problem::schema_ref()
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl IntoResponse for ProblemJson {
    fn into_response(self) -> Response {
        let body = self.0.to_json_string();
        Response::builder()
            .status(
                StatusCode::from_u16(u16::try_from(self.0.status).unwrap_or(500))
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )
            .content_type(Self::CONTENT_TYPE)
            .body(body)
    }
}

fn problem(status: StatusCode, detail: impl Into<String>) -> ProblemJson {
    ProblemJson(Box::new(Problem {
        problem_type: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16().into(),
        detail: detail.into(),
        errors: None,
        errors_not_listed: None,
    }))
}

/// Every error answer of the API. Which of them an operation documents is its
/// [`Problems`] set.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized(ProblemJson, String),
    NotFound(ProblemJson),
    Conflict(ProblemJson, Option<String>),
    PayloadTooLarge(ProblemJson),
    UnsupportedMediaType(ProblemJson),
    Unprocessable(ProblemJson),
    Internal(ProblemJson),
    Unavailable(ProblemJson),
    InsufficientStorage(ProblemJson),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (body, header) = match self {
            Self::Unauthorized(body, value) => (body, Some(("WWW-Authenticate", value))),
            Self::Conflict(body, retry) => (body, retry.map(|v| ("Retry-After", v))),
            Self::NotFound(body)
            | Self::PayloadTooLarge(body)
            | Self::UnsupportedMediaType(body)
            | Self::Unprocessable(body)
            | Self::Internal(body)
            | Self::Unavailable(body)
            | Self::InsufficientStorage(body) => (body, None),
        };
        let mut response = body.into_response();
        if let Some((name, value)) = header {
            if let Ok(value) = poem::http::HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// The problems one operation can answer, as bits of [`can`]: what its document lists, each
/// with the description that fits it.
pub mod can {
    /// 401: every operation that needs a key.
    pub const AUTH: u32 = 1;
    /// 413 and 415: every operation with a body.
    pub const BODY: u32 = 1 << 1;
    /// 422: a body or header that does not validate.
    pub const INVALID: u32 = 1 << 2;
    pub const NO_CLIENT: u32 = 1 << 3;
    pub const NO_CLIENT_OR_ZONE: u32 = 1 << 4;
    pub const NO_CLIENT_OR_USER: u32 = 1 << 5;
    /// 409 with `Retry-After`: a write that waited too long for its turn on the client.
    pub const LOCKED: u32 = 1 << 6;
    /// 409: the user number exists, or the client is locked.
    pub const USER_EXISTS: u32 = 1 << 7;
    /// 503: storage did not answer a read.
    pub const READ_FAILED: u32 = 1 << 8;
    /// 503 and 507: a write that storage or a full disk refused.
    pub const WRITE_FAILED: u32 = 1 << 9;

    /// A read that names a client by header.
    pub const CLIENT_READ: u32 = AUTH | INVALID | NO_CLIENT | READ_FAILED;
    /// A read that names a client in a body.
    pub const CLIENT_READ_BODY: u32 = CLIENT_READ | BODY;
    /// A write to an existing client.
    pub const CLIENT_WRITE: u32 = AUTH | BODY | INVALID | LOCKED | WRITE_FAILED;
}

struct Documented {
    bit: u32,
    status: u16,
    description: &'static str,
    header: Option<(&'static str, &'static str, bool)>,
}

const DOCUMENTED: &[Documented] = &[
    Documented {
        bit: can::AUTH,
        status: 401,
        description: "Missing, unknown, disabled or expired API key.",
        header: Some(("WWW-Authenticate", "Always `Bearer`.", true)),
    },
    Documented {
        bit: can::NO_CLIENT,
        status: 404,
        description: "The client does not exist for this key.",
        header: None,
    },
    Documented {
        bit: can::NO_CLIENT_OR_ZONE,
        status: 404,
        description: "The client, or the zone, does not exist for this key.",
        header: None,
    },
    Documented {
        bit: can::NO_CLIENT_OR_USER,
        status: 404,
        description: "The client, or the user, does not exist for this key.",
        header: None,
    },
    Documented {
        bit: can::LOCKED,
        status: 409,
        description: "The client is locked by another write; nothing was changed. Retry after \
                      `Retry-After` seconds.",
        header: Some(("Retry-After", "Seconds to wait before retrying.", true)),
    },
    Documented {
        bit: can::USER_EXISTS,
        status: 409,
        description: "The client already has a user with this `UserNo`; or the client is locked \
                      by another write, then with `Retry-After`. Nothing was changed.",
        header: Some((
            "Retry-After",
            "Seconds to wait before retrying (only when the client is locked).",
            false,
        )),
    },
    Documented {
        bit: can::BODY,
        status: 413,
        description: "The body is larger than 64 KiB; or, on a write, the client would grow \
                      past 1 MiB (its JSON representation). Nothing was changed.",
        header: None,
    },
    Documented {
        bit: can::BODY,
        status: 415,
        description: "The body is not sent as JSON (`Content-Type: application/json`).",
        header: None,
    },
    Documented {
        bit: can::INVALID,
        status: 422,
        description: "The request does not validate; `errors` names every failing field or \
                      header.",
        header: None,
    },
    Documented {
        bit: can::READ_FAILED,
        status: 503,
        description: "Storage is not available right now; retry later.",
        header: None,
    },
    Documented {
        bit: can::WRITE_FAILED,
        status: 503,
        description: "Storage is not available right now; nothing was changed, retry later.",
        header: None,
    },
    Documented {
        bit: can::WRITE_FAILED,
        status: 507,
        description: "The server's disk is full; nothing was changed, retry later.",
        header: None,
    },
];

/// The error answers of an operation that can answer the problems `CAN` (bits of [`can`]).
#[derive(Debug)]
pub struct Problems<const CAN: u32>(pub ApiError);

impl<const CAN: u32, E: Into<ApiError>> From<E> for Problems<CAN> {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl<const CAN: u32> IntoResponse for Problems<CAN> {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl<const CAN: u32> From<Problems<CAN>> for poem::Error {
    fn from(p: Problems<CAN>) -> Self {
        poem::Error::from_response(p.into_response())
    }
}

impl<const CAN: u32> ApiResponse for Problems<CAN> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: DOCUMENTED
                .iter()
                .filter(|d| CAN & d.bit != 0)
                .map(|d| MetaResponse {
                    description: d.description,
                    status: Some(d.status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: ProblemJson::CONTENT_TYPE,
                        schema: Problem::schema_ref(),
                    }],
                    headers: d
                        .header
                        .iter()
                        .map(|&(name, description, required)| MetaHeader {
                            name: name.to_owned(),
                            description: Some(description.to_owned()),
                            required,
                            deprecated: false,
                            schema: String::schema_ref(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl ApiError {
    pub fn unauthorized() -> Self {
        Self::Unauthorized(
            problem(
                StatusCode::UNAUTHORIZED,
                "a valid API key is required: Authorization: Bearer <key>",
            ),
            "Bearer".into(),
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::NotFound(problem(StatusCode::NOT_FOUND, detail))
    }

    pub fn invalid(errors: &ValidationErrors) -> Self {
        let mut body = problem(StatusCode::UNPROCESSABLE_ENTITY, errors.to_string());
        let (listed, more) = errors.listed();
        body.0.errors_not_listed = (more > 0).then_some(more as i64);
        body.0.errors = Some(
            listed
                .iter()
                .map(|e| ProblemField {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        );
        Self::Unprocessable(body)
    }

    fn internal() -> Self {
        Self::Internal(problem(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
    }

    fn io(failure: &IoFailure) -> Self {
        tracing::error!(error = %failure, "storage or file failure");
        match failure {
            IoFailure::NoSpace(_) => Self::InsufficientStorage(problem(
                StatusCode::INSUFFICIENT_STORAGE,
                "the server's disk is full; nothing was changed, retry later",
            )),
            IoFailure::Failed(_) => Self::Unavailable(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage is not available; nothing was changed, retry later",
            )),
        }
    }

    /// The mapping of errors raised while a request is parsed (authentication, body size,
    /// content type, parameters and body) to the answers documented for every operation.
    fn from_parse_error(err: &poem::Error) -> Option<Self> {
        use poem_openapi::error::{
            AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
            ParseRequestPayloadError,
        };
        if err.is::<AuthorizationError>() {
            return Some(Self::unauthorized());
        }
        if let Some(e) = err.downcast_ref::<InvalidBody>() {
            return Some(Self::invalid(&e.0));
        }
        if let Some(e) = err.downcast_ref::<ParseParamError>() {
            return Some(Self::invalid(&ValidationErrors::single(
                e.name,
                e.reason.clone(),
            )));
        }
        if let Some(e) = err.downcast_ref::<ParsePathError>() {
            return Some(Self::invalid(&ValidationErrors::single(
                e.name,
                e.reason.clone(),
            )));
        }
        if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
            return Some(Self::invalid(&ValidationErrors::single(
                "body",
                e.reason.clone(),
            )));
        }
        if let Some(e) = err.downcast_ref::<ContentTypeError>() {
            return Some(Self::UnsupportedMediaType(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("{e}; send Content-Type: application/json"),
            )));
        }
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Some(Self::PayloadTooLarge(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than 64 KiB",
            )));
        }
        None
    }
}

/// The one place where any error that reaches the edge becomes an answer: answers the
/// operations built themselves pass through; everything else becomes a problem body.
pub fn error_response(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    if let Some(api_error) = ApiError::from_parse_error(&err) {
        return api_error.into_response();
    }
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(error = %err, "unhandled error");
        return ApiError::internal().into_response();
    }
    // Unknown route, wrong method and the like.
    problem(status, err.to_string()).into_response()
}

/// The answer to a method too long to be one (`request_log::LONGEST_METHOD`).
pub fn method_too_long() -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "this is not an HTTP method of this API (GET, PUT, POST, PATCH, DELETE)",
    )
    .into_response()
}

/// A body that did not validate, raised while the request is parsed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidBody(pub ValidationErrors);

impl poem::error::ResponseError for InvalidBody {
    fn status(&self) -> StatusCode {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::invalid(&errors)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::ClientNotFound => Self::not_found("client does not exist"),
            ServiceError::Member(
                e @ (MemberError::ZoneNotFound(_) | MemberError::UserNotFound(_)),
            ) => Self::not_found(e.to_string()),
            ServiceError::Member(e @ MemberError::UserExists(_)) => {
                Self::Conflict(problem(StatusCode::CONFLICT, e.to_string()), None)
            }
            ServiceError::Member(MemberError::InstallerReserved) => {
                // The body reader refuses 199 already; this guards a caller that did not.
                Self::invalid(&ValidationErrors::single(
                    "user.UserNo",
                    MemberError::InstallerReserved.to_string(),
                ))
            }
            ServiceError::Locked => Self::Conflict(
                problem(
                    StatusCode::CONFLICT,
                    "client temporarily locked by another write; retry",
                ),
                Some("1".into()),
            ),
            ServiceError::TooLarge { size, max } => Self::PayloadTooLarge(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the client would be {size} bytes, more than the {max} bytes (1 MiB of its \
                     JSON) a client may hold; nothing was changed"
                ),
            )),
            ServiceError::MissingInfo(missing) => Self::invalid(&ValidationErrors::single(
                format!("info.{}", missing.0),
                "is required",
            )),
            ServiceError::Storage(e) | ServiceError::Xml(e) => Self::io(&e),
            ServiceError::FilesBehind => Self::Unavailable(problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "the XML files of earlier writes are not written yet; nothing was changed, \
                 retry later",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem::IntoResponse;

    use super::*;

    #[test]
    fn a_locked_client_answers_409_with_retry_after() {
        let response = ApiError::from(ServiceError::Locked).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }

    #[test]
    fn storage_failures_say_nothing_about_internals() {
        for (failure, status) in [
            (
                IoFailure::NoSpace("/secret/path".into()),
                StatusCode::INSUFFICIENT_STORAGE,
            ),
            (
                IoFailure::Failed("/secret/path".into()),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ] {
            let response = ApiError::from(ServiceError::Storage(failure)).into_response();
            assert_eq!(response.status(), status);
        }
        let body = ApiError::from(ServiceError::Xml(IoFailure::Failed("/secret/path".into())));
        assert!(!format!("{body:?}").contains("secret"));
    }
}
