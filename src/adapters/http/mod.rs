//! The HTTP surface: poem-openapi routes, strict bodies, problem answers, request log.

mod api;
mod auth;
mod document;
pub(crate) mod dto;
mod guard;
mod json_reader;
mod metrics;
mod problem;
mod request_log;
mod strict_json;

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;

pub use guard::GuardedAcceptor;
pub use metrics::Metrics;
pub use request_log::RequestLog;
pub use strict_json::BODY_LIMIT;

use crate::domain::service::ClientService;
use crate::ports::KeyStore;
use api::PatriotApi;
use problem::error_response;

const TITLE: &str = "Patriot API";
const DESCRIPTION: &str = "Register alarm clients (monitored sites), their zones and contact \
users for import into Patriot. Every route except /healthz, /docs and /openapi.* needs \
`Authorization: Bearer <key>`; each key is a tenant with its own, fully separate data. \
Errors are `application/problem+json` (RFC 9457) with `detail`, and on 422 `errors` naming \
every failing field. A 2xx answer to a write means the change is on disk.";

fn api_service(service: Arc<ClientService>) -> OpenApiService<PatriotApi, ()> {
    OpenApiService::new(PatriotApi::new(service), TITLE, env!("CARGO_PKG_VERSION"))
        .description(DESCRIPTION)
}

/// The OpenAPI document as YAML, as `patriot-api openapi` prints it.
pub fn openapi_yaml() -> String {
    api_service(document::offline_service()).spec_yaml()
}

/// The whole HTTP application: API, Swagger UI at `/docs`, the document at `/openapi.json`
/// and `/openapi.yaml`, every error as problem+json, every request logged.
pub fn app(service: Arc<ClientService>, keys: Arc<dyn KeyStore>, log: RequestLog) -> impl Endpoint {
    let metrics = Arc::new(Metrics::default());
    let api = api_service(service.clone());
    let docs = api.swagger_ui();
    let json = api.spec_endpoint();
    let yaml = api.spec_endpoint_yaml();
    let routes = Route::new()
        .at("/openapi.json", json)
        .at("/openapi.yaml", yaml)
        .at("/metrics", metrics::metrics_endpoint)
        .nest("/docs", docs)
        .nest("/", api)
        .catch_all_error(|err| async move { error_response(err) })
        .data(keys)
        .data(service)
        .data(metrics.clone());
    log.wrap(routes, metrics)
}
