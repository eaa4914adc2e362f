//! The HTTP surface: one module per resource (`clients`, `zones`, `users`, `health`), each
//! with its handlers, bodies and answers; strict bodies and id headers, problem answers, the
//! published document, the request log. The handlers call the inbound port
//! [`crate::ports::ClientApi`] and nothing else.

/// The type of a field in a request schema: fields without a default as they are, the
/// others optional. Used by the schemas each resource expands from the domain's field lists.
macro_rules! request_type {
    (required, $T:ty) => { $T };
    ($other:ident, $T:ty) => { Option<$T> };
}

mod auth;
mod client_body;
mod clients;
mod document;
mod field_errors;
mod field_schema;
mod front;
mod guard;
mod health;
mod imports;
mod json_reader;
mod metrics;
mod param;
mod payload;
mod problem;
mod request_log;
mod strict_json;
mod users;
mod zones;

use std::sync::Arc;

use poem::web::Html;
use poem::{Endpoint, Request, Route};
use poem_openapi::{OpenApiService, Tags};

pub use guard::{Deadlines, GuardedAcceptor};
pub use metrics::Metrics;
pub use request_log::RequestLog;
pub use strict_json::BODY_LIMIT;

use crate::domain::fields::Invalid;
use crate::ports::{ClientApi, KeyStore};
use auth::ApiKey;
use field_errors::ValidationErrors;
use front::Front;
use param::IdHeader;

const TITLE: &str = "Patriot API";
const DESCRIPTION: &str = "Register alarm clients (monitored sites), their zones and contact \
users for import into Patriot. Every route except /healthz, /docs and /openapi.* needs \
`Authorization: Bearer <key>`; each key is a tenant with its own, fully separate data. \
Errors are `application/problem+json` (RFC 9457) with `detail`, and on 422 `errors` naming \
every failing field. A 2xx answer to a write means the change is on disk.";

#[derive(Tags)]
enum ApiTags {
    /// Monitored sites and their info.
    Clients,
    /// The zones (detector groups) of a client.
    Zones,
    /// The contact users of a client.
    Users,
    /// Service health.
    Health,
}

/// The answer of every delete.
#[derive(poem_openapi::ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

/// The inbound port, as every handler receives it.
type Service<'a> = poem::web::Data<&'a Arc<front::Ports>>;

type Api = (
    clients::ClientsApi,
    imports::ImportsApi,
    zones::ZonesApi,
    users::UsersApi,
    health::HealthApi,
);

fn api_service() -> OpenApiService<Api, ()> {
    let api = (
        clients::ClientsApi,
        imports::ImportsApi,
        zones::ZonesApi,
        users::UsersApi,
        health::HealthApi,
    );
    OpenApiService::new(api, TITLE, env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
        .license(
            poem_openapi::LicenseObject::new(env!("CARGO_PKG_LICENSE"))
                .url("https://opensource.org/license/mit"),
        )
        .server(
            poem_openapi::ServerObject::new("http://127.0.0.1:8081").description(
                "The service on its default address; use the host and port it runs on.",
            ),
        )
}

/// The value of an id header, or a 422 that names the header.
fn header_value<T: param::ParamType>(
    name: &str,
    header: IdHeader<T>,
) -> Result<T, ValidationErrors> {
    header
        .0
        .map_err(|Invalid(message)| ValidationErrors::single(name, message))
}

/// The client id of a header, noted for the request log.
fn header_id(
    req: &Request,
    name: &str,
    header: IdHeader<crate::domain::fields::ClientId>,
) -> Result<crate::domain::fields::ClientId, ValidationErrors> {
    let id = header_value(name, header)?;
    request_log::note_client(req, id.get());
    Ok(id)
}

/// The OpenAPI document as YAML, as `patriot-api openapi` prints it.
pub fn openapi_yaml() -> String {
    document::Document::of(&api_service()).yaml
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsPlace {
    /// On the API's own port (`METRICS_ADDR=main`).
    Main,
    /// Only on the endpoint [`Apps::metrics`], for a listener of its own.
    Apart,
}

/// The endpoints to serve: the API, and `/metrics` on its own when it is kept apart.
pub struct Apps<A, M> {
    pub api: A,
    pub metrics: M,
}

/// Headers for the pages a browser renders: no content sniffing, no framing (clickjacking).
fn browser_safe(response: impl poem::IntoResponse) -> poem::Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(
        "X-Content-Type-Options",
        poem::http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "Content-Security-Policy",
        poem::http::HeaderValue::from_static("frame-ancestors 'none'"),
    );
    headers.insert(
        "X-Frame-Options",
        poem::http::HeaderValue::from_static("DENY"),
    );
    response
}

/// The whole HTTP application: API, Swagger UI at `/docs`, the document at `/openapi.json`
/// and `/openapi.yaml`, every error as problem+json (a 405 with `Allow`), every request
/// logged; `/metrics` (GET only) on the main port or apart, as `place` says.
pub fn app(
    api: Arc<dyn ClientApi>,
    keys: Arc<dyn KeyStore>,
    log: RequestLog,
    place: MetricsPlace,
) -> Apps<impl Endpoint, impl Endpoint> {
    let metrics = Arc::new(Metrics::default());
    let service = api_service();
    let doc = Arc::new(document::Document::of(&service));
    let allowed = Arc::new(doc.allowed.clone());
    let (json, yaml, docs) = (doc.clone(), doc.clone(), doc.swagger_ui_html.clone());
    let metrics_route = || poem::get(metrics::metrics_endpoint);
    let mut routes = Route::new()
        .at(
            "/openapi.json",
            poem::get(poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json")
                    .body(json.json.clone())
            })),
        )
        .at(
            "/openapi.yaml",
            poem::get(poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/yaml")
                    .body(yaml.yaml.clone())
            })),
        )
        .nest(
            "/docs",
            Route::new().at(
                "/",
                poem::get(poem::endpoint::make_sync(move |_| {
                    browser_safe(Html(docs.clone()))
                })),
            ),
        );
    if place == MetricsPlace::Main {
        routes = routes.at("/metrics", metrics_route());
    }
    let routes = Front {
        inner: front::Dispatch {
            pages: routes,
            service: poem::IntoEndpoint::into_endpoint(service),
        },
        ports: Arc::new(front::Ports {
            keys: Some(keys),
            api: api.clone(),
            metrics: metrics.clone(),
        }),
        allowed: allowed.clone(),
    };
    let apart = Front {
        inner: Route::new().at("/metrics", metrics_route()),
        ports: Arc::new(front::Ports {
            keys: None,
            api,
            metrics: metrics.clone(),
        }),
        allowed,
    };
    Apps {
        api: log.wrap(routes, metrics),
        metrics: apart,
    }
}
