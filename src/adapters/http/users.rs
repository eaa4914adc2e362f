//! `/clients/users`: list, read, create, replace and delete the contact users of a client.

use poem::Request;
use poem_openapi::param::Header;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::clients::ClientRef;
use super::json_reader::ObjectReader;
use super::param::IdHeader;
use super::payload::Json;
use super::problem::{can, ApiError, Problems};
use super::request_log::note_client;
use super::strict_json::{JsonBody, StrictJson};
use super::{header_id, ApiKey, ApiTags, Deleted, Service};
use crate::domain::client::{user_fields, Client, NewUser, User};
use crate::domain::field_set::PartialFields;
use crate::domain::fields::{ClientId, UserNo};

/// Expands the user's schemas from the domain's list of user fields.
macro_rules! user_schemas {
    (
        [$Out:ident $In:ident]
        $(#[$whole_meta:meta])* $Whole:ident / $(#[$partial_meta:meta])* $Partial:ident {
            $( $(#[doc = $doc:tt])* $field:ident : $T:ty = $name:tt, $default:ident; )*
        }
    ) => {
        /// A contact user of a client.
        #[derive(Debug, Clone, Object)]
        pub struct $Out {
            $( $(#[doc = $doc])* #[oai(rename = $name)] pub $field: $T, )*
        }

        impl From<&$Whole> for $Out {
            fn from(u: &$Whole) -> Self {
                Self { $( $field: u.$field.clone(), )* }
            }
        }

        /// A contact user as sent: `UserNo` and `User_Name` are required, every other field
        /// takes its default when omitted. Replacing a user replaces it as a whole.
        #[derive(Debug, Clone, Object)]
        #[oai(deny_unknown_fields)]
        pub struct $In {
            $( $(#[doc = $doc])* #[oai(rename = $name, skip_serializing_if_is_none)] pub $field: request_type!($default, $T), )*
        }

        impl From<&$Whole> for $In {
            fn from(u: &$Whole) -> Self {
                Self { $( $field: u.$field.clone().into(), )* }
            }
        }
    };
}

user_fields!(user_schemas, [UserOut UserIn]);

/// The users of a client (the installer user 199 is never among them).
#[derive(Debug, Clone, Object)]
pub struct UsersOut {
    pub client_id: ClientId,
    pub users: Vec<UserOut>,
}

/// One user as stored.
#[derive(Debug, Clone, Object)]
pub struct UserResult {
    pub client_id: ClientId,
    pub user: UserOut,
}

/// A user of a client.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct UserBody {
    pub client_id: ClientId,
    pub user: UserIn,
}

/// Names a user of a client (199, the installer, answers 404).
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct UserRefBody {
    pub client_id: ClientId,
    pub user_no: UserNo,
}

fn example_user() -> Option<(ClientId, User)> {
    use crate::domain::fields::FieldValue;
    let t = |v: &'static str| FieldValue::Text(v.into());
    let user = NewUser::from_named([
        ("UserNo", FieldValue::Integer(1)),
        ("User_Name", t("User Number 1")),
        ("MobileNo", t("+4712345678")),
        ("MobileNoOrder", FieldValue::Integer(1)),
        ("Email", t("user@email.com")),
        ("Type", t("U")),
        ("Instructions", t("Optional")),
        ("CallOrder", FieldValue::Integer(0)),
    ])
    .ok()?;
    Some((ClientId::new(9998).ok()?, user.complete().ok()?))
}

impl Example for UserBody {
    fn example() -> Self {
        let (client_id, user) = example_user().unwrap_or_else(|| unreachable!("a valid user"));
        Self {
            client_id,
            user: (&user).into(),
        }
    }
}

impl Example for UserRefBody {
    fn example() -> Self {
        let (client_id, user) = example_user().unwrap_or_else(|| unreachable!("a valid user"));
        Self {
            client_id,
            user_no: user.no,
        }
    }
}

/// `POST`/`PUT /clients/users`: a whole user.
pub struct UserWrite {
    pub id: ClientId,
    pub user: User,
}

impl JsonBody for UserWrite {
    type Schema = UserBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        r.require("client_id");
        let id = r.integer("client_id", ClientId::new);
        r.require("user");
        let user: Option<NewUser> = r.object("user").map(|u| u.fields(true));
        r.finish();
        // Every required field was checked by the reader; a failure here has been reported.
        let user = user?.complete().ok();
        Some(Self {
            id: id?,
            user: user?,
        })
    }
}

/// A body that names a user of a client (199 is a valid number here: it answers 404).
pub struct UserRef {
    pub id: ClientId,
    pub user: UserNo,
}

impl JsonBody for UserRef {
    type Schema = UserRefBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        r.require("client_id");
        let id = r.integer("client_id", ClientId::new);
        r.require("user_no");
        let user = r.integer("user_no", UserNo::new);
        r.finish();
        Some(Self {
            id: id?,
            user: user?,
        })
    }
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

fn users_of(client: &Client) -> UsersOut {
    UsersOut {
        client_id: client.id,
        users: client.users().map(Into::into).collect(),
    }
}

fn user_of(client: &Client, no: UserNo) -> Result<UserResult, ApiError> {
    let user = client
        .user(no)
        .ok_or_else(|| ApiError::not_found(format!("user {} does not exist", no.get())))?;
    Ok(UserResult {
        client_id: client.id,
        user: user.into(),
    })
}

/// A user lookup: the client read, or the user, may be missing.
const USER_READ: u32 = can::CLIENT_READ | can::NO_CLIENT_OR_USER;

pub struct UsersApi;

#[OpenApi]
impl UsersApi {
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        #[oai(name = "X-Client-Id")] client_id: Header<IdHeader<ClientId>>,
    ) -> Result<UsersAnswer, Problems<{ can::CLIENT_READ }>> {
        let id = header_id(req, "X-Client-Id", client_id.0)?;
        Ok(UsersAnswer::Ok(Json(users_of(
            &api.get_client(&key.0, id).await?,
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        #[oai(name = "X-Client-Id")] client_id: Header<IdHeader<ClientId>>,
        #[oai(name = "X-User-No")] user_no: Header<IdHeader<UserNo>>,
    ) -> Result<UserAnswer, Problems<{ USER_READ & !can::NO_CLIENT }>> {
        let id = header_id(req, "X-Client-Id", client_id.0)?;
        let no = super::header_value("X-User-No", user_no.0)?;
        let client = api.get_client(&key.0, id).await?;
        Ok(UserAnswer::Ok(Json(user_of(&client, no)?)))
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<ClientRef>,
    ) -> Result<UsersAnswer, Problems<{ can::CLIENT_READ_BODY }>> {
        note_client(req, body.0 .0.get());
        Ok(UsersAnswer::Ok(Json(users_of(
            &api.get_client(&key.0, body.0 .0).await?,
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<UserWrite>,
    ) -> Result<
        UserCreated,
        Problems<{ (can::CLIENT_WRITE & !can::LOCKED) | can::USER_EXISTS | can::NO_CLIENT }>,
    > {
        let UserWrite { id, user } = body.0;
        note_client(req, id.get());
        let user = api.add_user(&key.0, id, user).await?;
        Ok(UserCreated::Created(Json(UserResult {
            client_id: id,
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<UserRef>,
    ) -> Result<UserAnswer, Problems<{ (USER_READ & !can::NO_CLIENT) | can::BODY }>> {
        let UserRef { id, user } = body.0;
        note_client(req, id.get());
        let client = api.get_client(&key.0, id).await?;
        Ok(UserAnswer::Ok(Json(user_of(&client, user)?)))
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<UserWrite>,
    ) -> Result<UserAnswer, Problems<{ can::CLIENT_WRITE | can::NO_CLIENT_OR_USER }>> {
        let UserWrite { id, user } = body.0;
        note_client(req, id.get());
        let user = api.replace_user(&key.0, id, user).await?;
        Ok(UserAnswer::Ok(Json(UserResult {
            client_id: id,
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<UserRef>,
    ) -> Result<Deleted, Problems<{ can::CLIENT_WRITE | can::NO_CLIENT_OR_USER }>> {
        let UserRef { id, user } = body.0;
        note_client(req, id.get());
        api.delete_user(&key.0, id, user).await?;
        Ok(Deleted::NoContent)
    }
}
