//! `GET /clients/imports` (`api.md` §4.1): a page of the tenant's clients with the state of
//! their import into Patriot, so an installer can find every client Patriot did not take.

use poem_openapi::param::Query;
use poem_openapi::registry::MetaSchema;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::field_errors::ValidationErrors;
use super::param::{OptionalParam, ParamType};
use super::payload::Json;
use super::problem::{can, Problems};
use super::{ApiKey, ApiTags};
use crate::domain::fields::{ClientId, Invalid, PageLimit};
use crate::domain::import_state::{ImportEntry, ImportFilter, ImportStatus};

/// Where a client is on its way into Patriot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ImportState {
    /// Not uploaded yet: the combiner's state file does not know the client.
    NotSent,
    /// Uploaded to the share, not yet confirmed by Patriot.
    PendingImport,
    /// Confirmed by Patriot.
    Imported,
    /// Refused by Patriot, or not processed before the next upload.
    Failed,
}

impl ImportState {
    const ALL: [(ImportState, &'static str); 4] = [
        (ImportState::NotSent, "not_sent"),
        (ImportState::PendingImport, "pending_import"),
        (ImportState::Imported, "imported"),
        (ImportState::Failed, "failed"),
    ];

    fn filter(self) -> ImportFilter {
        match self {
            ImportState::NotSent => ImportFilter::NotSent,
            ImportState::PendingImport => ImportFilter::Status(ImportStatus::PendingImport),
            ImportState::Imported => ImportFilter::Status(ImportStatus::Imported),
            ImportState::Failed => ImportFilter::Status(ImportStatus::Failed),
        }
    }
}

impl ParamType for ImportState {
    fn schema() -> MetaSchema {
        MetaSchema {
            enum_items: Self::ALL.iter().map(|(_, name)| (*name).into()).collect(),
            ..MetaSchema::new("string")
        }
    }
    fn parse(text: &str) -> Result<Self, Invalid> {
        Self::ALL
            .iter()
            .find(|(_, name)| *name == text)
            .map(|(state, _)| *state)
            .ok_or_else(|| {
                Invalid("must be one of not_sent, pending_import, imported, failed".into())
            })
    }
}

impl ParamType for PageLimit {
    fn schema() -> MetaSchema {
        MetaSchema {
            default: Some(PageLimit::DEFAULT.get().into()),
            ..super::field_schema::rule_schema(
                <PageLimit as crate::domain::fields::FieldType>::RULE,
            )
        }
    }
    fn parse(text: &str) -> Result<Self, Invalid> {
        super::param::integer(text, PageLimit::new)
    }
}

/// One client and the state of its import.
#[derive(Debug, Clone, Object)]
pub struct ImportEntryOut {
    pub client_id: ClientId,
    pub status: ImportState,
    /// When the client was last uploaded; null when it was not sent.
    #[oai(nullable)]
    pub last_batch: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Uploads since Patriot last confirmed the client (0 when not sent).
    #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
    pub attempts: i64,
}

impl From<&ImportEntry> for ImportEntryOut {
    fn from(e: &ImportEntry) -> Self {
        let r = e.record.as_ref();
        Self {
            client_id: e.id,
            status: match r.map(|r| r.status) {
                None => ImportState::NotSent,
                Some(ImportStatus::PendingImport) => ImportState::PendingImport,
                Some(ImportStatus::Imported) => ImportState::Imported,
                Some(ImportStatus::Failed) => ImportState::Failed,
            },
            last_batch: r
                .and_then(|r| r.last_batch.as_deref())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
            attempts: r.map_or(0, |r| r.attempts.into()),
        }
    }
}

/// A page of clients by `client_id`.
#[derive(Debug, Clone, Object)]
pub struct ImportsPage {
    pub clients: Vec<ImportEntryOut>,
    /// The last `client_id` of this page when more follow (pass it as `after`); null on the
    /// last page.
    #[oai(nullable)]
    pub next_after: Option<ClientId>,
}

#[derive(ApiResponse)]
enum ImportsAnswer {
    /// The page.
    #[oai(status = 200)]
    Ok(Json<ImportsPage>),
}

pub struct ImportsApi;

#[OpenApi]
impl ImportsApi {
    /// List clients with their import state
    ///
    /// The calling tenant's clients by `client_id`, each with where it is on its way into
    /// Patriot: `not_sent`, `pending_import`, `imported` or `failed`. Filter by `status`; page
    /// with `limit` and `after` (the `next_after` of the previous page). Reads only.
    #[oai(
        path = "/clients/imports",
        method = "get",
        operation_id = "list_imports",
        tag = "ApiTags::Clients"
    )]
    async fn list_imports(
        &self,
        key: ApiKey,
        api: super::Service<'_>,
        /// Only clients in this state.
        status: Query<OptionalParam<ImportState>>,
        /// How many clients a page holds, 1–1000.
        limit: Query<OptionalParam<PageLimit>>,
        /// Start after this `client_id`.
        after: Query<OptionalParam<ClientId>>,
    ) -> Result<ImportsAnswer, Problems<{ can::AUTH | can::INVALID | can::READ_FAILED }>> {
        let mut errors = ValidationErrors::new();
        let status = errors.check("status", status.0 .0.transpose());
        let limit = errors.check("limit", limit.0 .0.transpose());
        let after = errors.check("after", after.0 .0.transpose());
        let (Some(status), Some(limit), Some(after)) = (status, limit, after) else {
            return Err(errors.into());
        };
        let page = api
            .list_imports(
                &key.0,
                status.map(ImportState::filter),
                after,
                limit.unwrap_or_default(),
            )
            .await?;
        Ok(ImportsAnswer::Ok(Json(ImportsPage {
            clients: page.entries.iter().map(Into::into).collect(),
            next_after: page.next_after,
        })))
    }
}
