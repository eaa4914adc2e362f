//! The routes of `api.md` §4. Each operation converts, calls the service, converts back; no
//! business rule lives here.

use std::sync::Arc;

use poem::Request;
use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};

use super::auth::ApiKey;
use super::dto::{
    ClientOut, ClientRef, Health, PatchClient, PutClient, PutZone, UserRef, UserResult, UserWrite,
    UsersOut, ZoneRef, ZoneResult, ZonesOut,
};
use super::problem::ApiError;
use super::request_log::note_client;
use super::strict_json::StrictJson;
use crate::domain::client::Client;
use crate::domain::errors::ValidationErrors;
use crate::domain::fields::{ClientId, UserNo};
use crate::domain::service::ClientService;
use crate::domain::tenant::Tenant;

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

#[derive(ApiResponse)]
enum ClientAnswer {
    /// The client.
    #[oai(status = 200)]
    Ok(Json<ClientOut>),
}

#[derive(ApiResponse)]
enum PutClientAnswer {
    /// The client was created.
    #[oai(status = 201)]
    Created(Json<ClientOut>),
    /// The client's info was replaced.
    #[oai(status = 200)]
    Updated(Json<ClientOut>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum ZonesAnswer {
    /// The zones of the client, by `Zone_No`.
    #[oai(status = 200)]
    Ok(Json<ZonesOut>),
}

#[derive(ApiResponse)]
enum ZoneAnswer {
    /// The zone as stored (created or replaced).
    #[oai(status = 201)]
    Created(Json<ZoneResult>),
}

#[derive(ApiResponse)]
enum UsersAnswer {
    /// The users of the client, by `UserNo`.
    #[oai(status = 200)]
    Ok(Json<UsersOut>),
}

#[derive(ApiResponse)]
enum UserAnswer {
    /// The user.
    #[oai(status = 200)]
    Ok(Json<UserResult>),
}

#[derive(ApiResponse)]
enum UserCreated {
    /// The user was created.
    #[oai(status = 201)]
    Created(Json<UserResult>),
}

#[derive(ApiResponse)]
enum HealthAnswer {
    /// Storage answers.
    #[oai(status = 200)]
    Ok(Json<Health>),
}

type Answer<T> = Result<T, ApiError>;

pub struct PatriotApi {
    service: Arc<ClientService>,
}

impl PatriotApi {
    pub fn new(service: Arc<ClientService>) -> Self {
        Self { service }
    }

    /// The client id of a header; poem-openapi has checked its range already.
    fn header_client(req: &Request, value: i64) -> Answer<ClientId> {
        let id = ClientId::new(value).map_err(|e| ValidationErrors::single("X-Client-Id", e.0))?;
        note_client(req, id.get());
        Ok(id)
    }

    async fn client(&self, tenant: &Tenant, id: ClientId) -> Answer<Client> {
        Ok(self.service.get(tenant, id).await?)
    }

    async fn client_out(&self, tenant: &Tenant, client: &Client) -> ClientOut {
        // The import state is extra information: a broken state file must not fail the read.
        let record = match self.service.import_record(tenant, client.id).await {
            Ok(record) => record,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the import state");
                None
            }
        };
        ClientOut::new(client, record.as_ref())
    }

    fn user_of(client: &Client, no: UserNo) -> Answer<UserResult> {
        let user = client
            .user(no)
            .ok_or_else(|| ApiError::not_found(format!("user {} does not exist", no.get())))?;
        Ok(UserResult {
            client_id: client.id.get(),
            user: user.into(),
        })
    }
}

fn zones_of(client: &Client) -> ZonesOut {
    ZonesOut {
        client_id: client.id.get(),
        zones: client.zones().map(Into::into).collect(),
    }
}

fn users_of(client: &Client) -> UsersOut {
    UsersOut {
        client_id: client.id.get(),
        users: client.users().map(Into::into).collect(),
    }
}

#[OpenApi]
impl PatriotApi {
    /// Read a client
    ///
    /// The client's info, zones and users, and its import state when the combiner has
    /// handled it. Writes the client's XML file again when it is missing and Patriot has not
    /// confirmed the client.
    #[oai(
        path = "/clients",
        method = "get",
        operation_id = "get_client",
        tag = "ApiTags::Clients"
    )]
    async fn get_client(
        &self,
        auth: ApiKey,
        req: &Request,
        #[oai(
            name = "X-Client-Id",
            validator(minimum(value = "1"), maximum(value = "4294967295"))
        )]
        client_id: Header<i64>,
    ) -> Answer<ClientAnswer> {
        let id = Self::header_client(req, client_id.0)?;
        let client = self.client(&auth.0, id).await?;
        Ok(ClientAnswer::Ok(Json(
            self.client_out(&auth.0, &client).await,
        )))
    }

    /// Create or replace a client
    ///
    /// Creates the client (201) or replaces its info as a whole (200): omitted fields take
    /// their defaults, `Name` is required. Zones and users stay as they are.
    #[oai(
        path = "/clients",
        method = "put",
        operation_id = "put_client",
        tag = "ApiTags::Clients"
    )]
    async fn put_client(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<PutClient>,
    ) -> Answer<PutClientAnswer> {
        let PutClient { id, info } = body.0;
        note_client(req, id.get());
        let done = self.service.put_client(&auth.0, id, info).await?;
        let out = Json(self.client_out(&auth.0, &done.client).await);
        Ok(if done.created {
            PutClientAnswer::Created(out)
        } else {
            PutClientAnswer::Updated(out)
        })
    }

    /// Change some info fields of a client
    ///
    /// Only the fields sent change; an empty `info` changes nothing. The client must exist.
    #[oai(
        path = "/clients",
        method = "patch",
        operation_id = "patch_client",
        tag = "ApiTags::Clients"
    )]
    async fn patch_client(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<PatchClient>,
    ) -> Answer<ClientAnswer> {
        let PatchClient { id, info } = body.0;
        note_client(req, id.get());
        let client = self.service.patch_client(&auth.0, id, info).await?;
        Ok(ClientAnswer::Ok(Json(
            self.client_out(&auth.0, &client).await,
        )))
    }

    /// Delete a client
    ///
    /// Deletes the client with its zones and users, and its XML file.
    #[oai(
        path = "/clients",
        method = "delete",
        operation_id = "delete_client",
        tag = "ApiTags::Clients"
    )]
    async fn delete_client(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<ClientRef>,
    ) -> Answer<Deleted> {
        note_client(req, body.0 .0.get());
        self.service.delete_client(&auth.0, body.0 .0).await?;
        Ok(Deleted::NoContent)
    }

    /// List the zones of a client
    ///
    /// Every zone of the client named by `X-Client-Id`, sorted by `Zone_No`.
    #[oai(
        path = "/clients/zones",
        method = "get",
        operation_id = "get_zones",
        tag = "ApiTags::Zones"
    )]
    async fn get_zones(
        &self,
        auth: ApiKey,
        req: &Request,
        #[oai(
            name = "X-Client-Id",
            validator(minimum(value = "1"), maximum(value = "4294967295"))
        )]
        client_id: Header<i64>,
    ) -> Answer<ZonesAnswer> {
        let id = Self::header_client(req, client_id.0)?;
        Ok(ZonesAnswer::Ok(Json(zones_of(
            &self.client(&auth.0, id).await?,
        ))))
    }

    /// List the zones of a client (client id in the body)
    ///
    /// The same answer as `GET /clients/zones`, for callers that cannot send headers.
    #[oai(
        path = "/clients/zones/list",
        method = "post",
        operation_id = "list_zones",
        tag = "ApiTags::Zones"
    )]
    async fn list_zones(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<ClientRef>,
    ) -> Answer<ZonesAnswer> {
        note_client(req, body.0 .0.get());
        Ok(ZonesAnswer::Ok(Json(zones_of(
            &self.client(&auth.0, body.0 .0).await?,
        ))))
    }

    /// Create or replace a zone
    ///
    /// Replaces the zone as a whole (omitted fields take their defaults). Answers 201 for
    /// both create and update, as the service it replaces did.
    #[oai(
        path = "/clients/zones",
        method = "put",
        operation_id = "put_zone",
        tag = "ApiTags::Zones"
    )]
    async fn put_zone(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<PutZone>,
    ) -> Answer<ZoneAnswer> {
        let PutZone { id, zone } = body.0;
        note_client(req, id.get());
        let zone = self.service.put_zone(&auth.0, id, zone).await?;
        Ok(ZoneAnswer::Created(Json(ZoneResult {
            client_id: id.get(),
            zone: (&zone).into(),
        })))
    }

    /// Delete a zone
    ///
    /// 404 when the client or the zone does not exist.
    #[oai(
        path = "/clients/zones",
        method = "delete",
        operation_id = "delete_zone",
        tag = "ApiTags::Zones"
    )]
    async fn delete_zone(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<ZoneRef>,
    ) -> Answer<Deleted> {
        let ZoneRef { id, zone } = body.0;
        note_client(req, id.get());
        self.service.delete_zone(&auth.0, id, zone).await?;
        Ok(Deleted::NoContent)
    }

    /// List the users of a client
    ///
    /// The installer user 199 exists only in the XML and is never listed.
    #[oai(
        path = "/clients/users",
        method = "get",
        operation_id = "get_users",
        tag = "ApiTags::Users"
    )]
    async fn get_users(
        &self,
        auth: ApiKey,
        req: &Request,
        #[oai(
            name = "X-Client-Id",
            validator(minimum(value = "1"), maximum(value = "4294967295"))
        )]
        client_id: Header<i64>,
    ) -> Answer<UsersAnswer> {
        let id = Self::header_client(req, client_id.0)?;
        Ok(UsersAnswer::Ok(Json(users_of(
            &self.client(&auth.0, id).await?,
        ))))
    }

    /// Read one user of a client
    ///
    /// The user `X-User-No` of the client `X-Client-Id`. The installer user 199 answers 404.
    #[oai(
        path = "/clients/users/single",
        method = "get",
        operation_id = "get_user",
        tag = "ApiTags::Users"
    )]
    async fn get_user(
        &self,
        auth: ApiKey,
        req: &Request,
        #[oai(
            name = "X-Client-Id",
            validator(minimum(value = "1"), maximum(value = "4294967295"))
        )]
        client_id: Header<i64>,
        #[oai(
            name = "X-User-No",
            validator(minimum(value = "1"), maximum(value = "999"))
        )]
        user_no: Header<i64>,
    ) -> Answer<UserAnswer> {
        let id = Self::header_client(req, client_id.0)?;
        let no = UserNo::new(user_no.0).map_err(|e| ValidationErrors::single("X-User-No", e.0))?;
        let client = self.client(&auth.0, id).await?;
        Ok(UserAnswer::Ok(Json(Self::user_of(&client, no)?)))
    }

    /// List the users of a client (client id in the body)
    ///
    /// The same answer as `GET /clients/users`, for callers that cannot send headers.
    #[oai(
        path = "/clients/users/list",
        method = "post",
        operation_id = "list_users",
        tag = "ApiTags::Users"
    )]
    async fn list_users(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<ClientRef>,
    ) -> Answer<UsersAnswer> {
        note_client(req, body.0 .0.get());
        Ok(UsersAnswer::Ok(Json(users_of(
            &self.client(&auth.0, body.0 .0).await?,
        ))))
    }

    /// Create a user
    ///
    /// 409 when the client already has a user with this `UserNo`.
    #[oai(
        path = "/clients/users",
        method = "post",
        operation_id = "create_user",
        tag = "ApiTags::Users"
    )]
    async fn create_user(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<UserWrite>,
    ) -> Answer<UserCreated> {
        let UserWrite { id, user } = body.0;
        note_client(req, id.get());
        let user = self.service.add_user(&auth.0, id, user).await?;
        Ok(UserCreated::Created(Json(UserResult {
            client_id: id.get(),
            user: (&user).into(),
        })))
    }

    /// Read one user of a client (ids in the body)
    ///
    /// The same answer as `GET /clients/users/single`, for callers that cannot send headers.
    #[oai(
        path = "/clients/users/get",
        method = "post",
        operation_id = "read_user",
        tag = "ApiTags::Users"
    )]
    async fn read_user(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<UserRef>,
    ) -> Answer<UserAnswer> {
        let UserRef { id, user } = body.0;
        note_client(req, id.get());
        let client = self.client(&auth.0, id).await?;
        Ok(UserAnswer::Ok(Json(Self::user_of(&client, user)?)))
    }

    /// Replace a user
    ///
    /// The user is named by `client_id` and `user.UserNo` and replaced as a whole.
    #[oai(
        path = "/clients/users",
        method = "put",
        operation_id = "replace_user",
        tag = "ApiTags::Users"
    )]
    async fn replace_user(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<UserWrite>,
    ) -> Answer<UserAnswer> {
        let UserWrite { id, user } = body.0;
        note_client(req, id.get());
        let user = self.service.replace_user(&auth.0, id, user).await?;
        Ok(UserAnswer::Ok(Json(UserResult {
            client_id: id.get(),
            user: (&user).into(),
        })))
    }

    /// Delete a user
    ///
    /// 404 when the client or the user does not exist.
    #[oai(
        path = "/clients/users",
        method = "delete",
        operation_id = "delete_user",
        tag = "ApiTags::Users"
    )]
    async fn delete_user(
        &self,
        auth: ApiKey,
        req: &Request,
        body: StrictJson<UserRef>,
    ) -> Answer<Deleted> {
        let UserRef { id, user } = body.0;
        note_client(req, id.get());
        self.service.delete_user(&auth.0, id, user).await?;
        Ok(Deleted::NoContent)
    }

    /// Health check
    ///
    /// 200 when storage answers, 503 otherwise. Needs no key.
    #[oai(
        path = "/healthz",
        method = "get",
        operation_id = "healthz",
        tag = "ApiTags::Health"
    )]
    async fn healthz(&self) -> Answer<HealthAnswer> {
        self.service.health().await?;
        Ok(HealthAnswer::Ok(Json(Health {
            status: "ok".into(),
        })))
    }
}
