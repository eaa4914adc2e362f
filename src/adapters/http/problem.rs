//! RFC 9457 problem details: the one mapping from every failure to an HTTP answer.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

use crate::domain::client::MemberError;
use crate::domain::errors::ValidationErrors;
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
    pub status: u16,
    /// What went wrong, for a person to read.
    pub detail: String,
    /// Every failing field (on 422).
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<ProblemField>>,
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
                StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            )
            .content_type(Self::CONTENT_TYPE)
            .body(body)
    }
}

fn problem(status: StatusCode, detail: impl Into<String>) -> ProblemJson {
    ProblemJson(Box::new(Problem {
        problem_type: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail: detail.into(),
        errors: None,
    }))
}

/// Every error answer of the API. Each operation documents all of them.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Missing, unknown, disabled or expired API key.
    #[oai(status = 401)]
    Unauthorized(ProblemJson, #[oai(header = "WWW-Authenticate")] String),
    /// The client, zone or user does not exist for this key.
    #[oai(status = 404)]
    NotFound(ProblemJson),
    /// The user number exists already, or the client is locked by another write (then with
    /// `Retry-After`).
    #[oai(status = 409)]
    Conflict(ProblemJson, #[oai(header = "Retry-After")] Option<String>),
    /// The body is larger than 64 KiB.
    #[oai(status = 413)]
    PayloadTooLarge(ProblemJson),
    /// The body is not sent as JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(ProblemJson),
    /// The request does not validate; `errors` names every failing field.
    #[oai(status = 422)]
    Unprocessable(ProblemJson),
    /// An unexpected failure; the body says nothing about internals.
    #[oai(status = 500)]
    Internal(ProblemJson),
    /// Storage is not available right now; nothing was changed.
    #[oai(status = 503)]
    Unavailable(ProblemJson),
    /// The disk is full; nothing was changed.
    #[oai(status = 507)]
    InsufficientStorage(ProblemJson),
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
        body.0.errors = Some(
            errors
                .fields()
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
            ServiceError::Invalid(errors) => Self::invalid(&errors),
            ServiceError::Storage(e) | ServiceError::Xml(e) => Self::io(&e),
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
