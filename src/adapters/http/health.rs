//! `/healthz`: whether storage answers and the XML files are being written; needs no key.

use poem_openapi::{ApiResponse, Object, OpenApi};

use super::payload::Json;
use super::problem::{can, Problems};
use super::ApiTags;

/// Storage answers.
#[derive(Debug, Clone, Object)]
pub struct Health {
    pub status: HealthStatus,
}

/// Always `ok`: the only status a healthy service reports.
#[derive(Debug, Clone, Copy, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

#[derive(ApiResponse)]
enum HealthAnswer {
    /// Storage answers.
    #[oai(status = 200)]
    Ok(Json<Health>),
}

pub struct HealthApi;

#[OpenApi]
impl HealthApi {
    /// Health check
    ///
    /// 200 while storage answers and the XML files get written, else 503. Needs no key.
    #[oai(
        path = "/healthz",
        method = "get",
        operation_id = "healthz",
        tag = "ApiTags::Health"
    )]
    async fn healthz(
        &self,
        api: super::Service<'_>,
    ) -> Result<HealthAnswer, Problems<{ can::READ_FAILED }>> {
        api.health().await?;
        Ok(HealthAnswer::Ok(Json(Health {
            status: HealthStatus::Ok,
        })))
    }
}
