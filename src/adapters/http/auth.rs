//! Bearer-key authentication: the tenant of every request.

use std::sync::Arc;

use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::SecurityScheme;

use super::front::Ports;
use super::request_log::RequestNote;
use crate::domain::tenant::Tenant;

/// The API key of an installer company (`Authorization: Bearer <key>`).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_key")]
pub struct ApiKey(pub Arc<Tenant>);

async fn check_key(req: &Request, bearer: Bearer) -> Option<Arc<Tenant>> {
    // Two Authorization headers are refused, not read one way here and another at a proxy.
    if req
        .headers()
        .get_all(poem::http::header::AUTHORIZATION)
        .iter()
        .count()
        != 1
    {
        return None;
    }
    let keys = req.data::<Arc<Ports>>()?.keys.as_ref()?;
    let tenant = keys.authenticate(&bearer.token)?;
    if let Some(note) = req.extensions().get::<RequestNote>() {
        note.set_tenant(&tenant);
    }
    Some(tenant)
}
