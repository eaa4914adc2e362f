//! The layer every request passes before its route: puts the ports the handlers take into
//! the request, turns every error into problem+json and adds `Allow` to a 405 (poem's routes
//! answer 405 without it).
//!
//! One endpoint instead of poem's five (`data` three times, `around`, `catch_all_error`):
//! each of those wrapped the request's future once more and moved it, and under reads
//! `memmove` of futures was about a tenth of the service's CPU (bench/notes.md).

use std::collections::HashMap;
use std::sync::Arc;

use poem::http::{header, HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};

use super::problem::error_response;
use super::Metrics;
use crate::ports::{ClientApi, KeyStore};

/// The methods of each path, for the `Allow` header of a 405.
pub type AllowedMethods = Arc<HashMap<String, String>>;

/// The ports the handlers take, put into each request as one value: one entry in its
/// extensions instead of one per port (each entry an insert, the fourth a regrowth of the map).
pub struct Ports {
    /// `None` where no route needs a key (the metrics listener of its own).
    pub keys: Option<Arc<dyn KeyStore>>,
    pub api: Arc<dyn ClientApi>,
    pub metrics: Arc<Metrics>,
}

impl Ports {
    pub fn api(&self) -> &dyn ClientApi {
        self.api.as_ref()
    }
}

/// The handlers call the inbound port through it.
impl std::ops::Deref for Ports {
    type Target = dyn ClientApi;
    fn deref(&self) -> &Self::Target {
        self.api.as_ref()
    }
}

pub struct Front<E> {
    pub inner: E,
    pub ports: Arc<Ports>,
    pub allowed: AllowedMethods,
}

impl<E: Endpoint> Endpoint for Front<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        // A `Uri` clone shares its bytes; the path is only read on a 405.
        let uri = req.uri().clone();
        req.extensions_mut().insert(self.ports.clone());
        let mut response = match self.inner.call(req).await {
            Ok(output) => output.into_response(),
            Err(err) => error_response(err),
        };
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            let path = uri.path().trim_end_matches('/');
            if let Some(value) = self
                .allowed
                .get(path)
                .and_then(|m| HeaderValue::from_str(m).ok())
            {
                response.headers_mut().insert(header::ALLOW, value);
            }
        }
        Ok(response)
    }
}

/// The API's operations, or one of the few pages beside them (the document, Swagger UI,
/// `/metrics`). Chosen by path here rather than by a `Route` with the API nested at `/`: the
/// nesting rebuilt every request's URI and added three more layers to its future.
pub struct Dispatch<P, S> {
    pub pages: P,
    pub service: S,
}

/// The paths of the pages; every other path is the API's (which answers 404 to an unknown one).
fn is_page(path: &str) -> bool {
    matches!(
        path,
        "/openapi.json" | "/openapi.yaml" | "/metrics" | "/docs"
    ) || path.starts_with("/docs/")
}

impl<P: Endpoint, S: Endpoint> Endpoint for Dispatch<P, S> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if is_page(req.uri().path()) {
            self.pages.call(req).await.map(IntoResponse::into_response)
        } else {
            self.service
                .call(req)
                .await
                .map(IntoResponse::into_response)
        }
    }
}
