//! `/clients`: read, create or replace, change and delete a client. The info schemas are
//! expanded from the domain's one list of info fields (`client_info_fields!`), so their names,
//! types and limits are the domain's own.

use poem::Request;
use poem_openapi::param::Header;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::client_body::ClientBody;
use super::json_reader::ObjectReader;
use super::param::IdHeader;
use super::problem::{can, Problems};
use super::request_log::note_client;
use super::strict_json::{JsonBody, StrictJson};
use super::users::UserOut;
use super::zones::ZoneOut;
use super::{header_id, ApiKey, ApiTags, Deleted, Service};
use crate::domain::client::{client_info_fields, Client, ClientInfo, ClientInfoPatch};
use crate::domain::fields::ClientId;
use crate::domain::import_state::{ImportRecord, ImportStatus};
use crate::ports::ClientApi;

/// Expands the three schemas of `info` from the domain's list of info fields.
macro_rules! info_schemas {
    (
        [$Out:ident $Put:ident $Patch:ident]
        $(#[$whole_meta:meta])* $Whole:ident / $(#[$partial_meta:meta])* $Partial:ident {
            $( $(#[doc = $doc:tt])* $field:ident : $T:ty = $name:tt, $default:ident; )*
        }
    ) => {
        /// Every info field of a client, defaults filled.
        #[derive(Debug, Clone, Object)]
        pub struct $Out {
            $( $(#[doc = $doc])* #[oai(rename = $name)] pub $field: $T, )*
        }

        impl From<&$Whole> for $Out {
            fn from(info: &$Whole) -> Self {
                Self { $( $field: info.$field.clone(), )* }
            }
        }

        /// The info of `PUT /clients`: `Name` is required, every omitted field takes its
        /// default (`InstallDateTime`: the day the client was created).
        #[derive(Debug, Clone, Object)]
        #[oai(deny_unknown_fields)]
        pub struct $Put {
            $( $(#[doc = $doc])* #[oai(rename = $name, skip_serializing_if_is_none)] pub $field: request_type!($default, $T), )*
        }

        /// The info of `PATCH /clients`: any subset of the fields; only those sent change.
        #[derive(Debug, Clone, Object)]
        #[oai(deny_unknown_fields)]
        pub struct $Patch {
            $( $(#[doc = $doc])* #[oai(rename = $name, skip_serializing_if_is_none)] pub $field: Option<$T>, )*
        }
    };
}

client_info_fields!(info_schemas, [InfoOut InfoPut InfoPatch]);

/// The state of a client on its way into Patriot.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ImportStatusOut {
    /// Uploaded to the share, not yet confirmed by Patriot.
    PendingImport,
    /// Confirmed by Patriot.
    Imported,
    /// Refused by Patriot, or not processed before the next upload; sent again up to
    /// `MAX_IMPORT_ATTEMPTS` times.
    Failed,
}

impl From<ImportStatus> for ImportStatusOut {
    fn from(s: ImportStatus) -> Self {
        match s {
            ImportStatus::PendingImport => Self::PendingImport,
            ImportStatus::Imported => Self::Imported,
            ImportStatus::Failed => Self::Failed,
        }
    }
}

/// Where the client is on its way into Patriot, from the combiner's state file. Present once
/// the combiner has uploaded the client.
#[derive(Debug, Clone, Object)]
pub struct ImportOut {
    pub status: ImportStatusOut,
    /// When the client was last uploaded.
    #[oai(skip_serializing_if_is_none)]
    pub last_batch: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Uploads since Patriot last confirmed the client.
    #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
    pub attempts: i64,
}

impl From<&ImportRecord> for ImportOut {
    fn from(r: &ImportRecord) -> Self {
        Self {
            status: r.status.into(),
            last_batch: r
                .last_batch
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()),
            attempts: r.attempts.into(),
        }
    }
}

/// A client with its info, zones (by `Zone_No`) and users (by `UserNo`).
#[derive(Debug, Clone, Object)]
pub struct ClientOut {
    pub client_id: ClientId,
    pub info: InfoOut,
    pub zones: Vec<ZoneOut>,
    pub users: Vec<UserOut>,
    #[oai(skip_serializing_if_is_none)]
    pub import: Option<ImportOut>,
}

impl ClientOut {
    /// What poem-openapi would send for a client; the service sends [`ClientBody`]'s bytes,
    /// which a test holds equal to these.
    #[cfg(test)]
    pub fn new(c: &Client, import: Option<&ImportRecord>) -> Self {
        Self {
            client_id: c.id,
            info: (&c.info).into(),
            zones: c.zones().map(Into::into).collect(),
            users: c.users().map(Into::into).collect(),
            import: import.map(Into::into),
        }
    }
}

/// The body of `PUT /clients`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PutClientBody {
    pub client_id: ClientId,
    pub info: InfoPut,
}

/// The body of `PATCH /clients`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct PatchClientBody {
    pub client_id: ClientId,
    pub info: InfoPatch,
}

/// Names a client.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ClientRefBody {
    pub client_id: ClientId,
}

fn example_info() -> Option<ClientInfo> {
    use crate::domain::field_set::PartialFields;
    use crate::domain::fields::FieldValue;
    let t = |v: &'static str| FieldValue::Text(v.into());
    let n = FieldValue::Integer;
    let info = ClientInfoPatch::from_named([
        ("Name", t("Ola Nordmann")),
        ("Alias", t("")),
        ("Location", t("Produksjonsveien 13")),
        ("area_code", t("1604")),
        ("area", t("Fredrikstad")),
        ("BusPhone", t("69310000")),
        ("Email", t("post@ostsik.no")),
        ("OKPassword", t("franzjager")),
        (
            "SpecRequest",
            t("Dette skal gjøres ved alarm på denne kunden."),
        ),
        ("NoSigsMon", n(1)),
        ("SinceDays", n(1)),
        ("SinceHrs", n(0)),
        ("SinceMins", n(30)),
        ("ResetNosigsIgnored", FieldValue::Flag(true)),
        ("ResetNosigsDays", n(7)),
        ("ResetNosigsHrs", n(0)),
        ("ResetNosigsMins", n(0)),
        ("InstallDateTime", t("2023-02-20")),
        ("PanelName", t("Ajax")),
        ("PanelSite", t("Stue")),
        ("KeypadLocation", t("Inngang")),
        ("SPPage", t("Ekstra informasjon som kan være relevant.")),
    ])
    .ok()?;
    info.complete().ok()
}

fn example_id() -> ClientId {
    ClientId::new(9998).unwrap_or_else(|_| unreachable!("9998 is a client id"))
}

impl Example for PutClientBody {
    fn example() -> Self {
        let i = example_info();
        macro_rules! put_example {
            ([] $(#[$m:meta])* $W:ident / $(#[$p:meta])* $P:ident {
                $( $(#[doc = $d:tt])* $field:ident : $T:ty = $name:tt, $default:ident; )*
            }) => {
                InfoPut { $( $field: put_example!(@value $default, i.as_ref().map(|i| i.$field.clone())), )* }
            };
            (@value required, $v:expr) => { $v.unwrap_or_default() };
            (@value $other:ident, $v:expr) => { $v };
        }
        Self {
            client_id: example_id(),
            info: client_info_fields!(put_example, []),
        }
    }
}

/// An `InfoPatch` that sends nothing.
macro_rules! patch_nothing {
    ([] $(#[$m:meta])* $W:ident / $(#[$p:meta])* $P:ident {
        $( $(#[doc = $d:tt])* $field:ident : $T:ty = $name:tt, $default:ident; )*
    }) => {
        InfoPatch { $( $field: None, )* }
    };
}

impl Example for PatchClientBody {
    fn example() -> Self {
        // A PATCH usually sends a few fields.
        let i = example_info();
        Self {
            client_id: example_id(),
            info: InfoPatch {
                name: i.as_ref().map(|i| i.name.clone()),
                bus_phone: i.as_ref().map(|i| i.bus_phone.clone()),
                ..client_info_fields!(patch_nothing, [])
            },
        }
    }
}

impl Example for ClientRefBody {
    fn example() -> Self {
        Self {
            client_id: example_id(),
        }
    }
}

fn read_client_id(r: &mut ObjectReader<'_>) -> Option<ClientId> {
    r.require("client_id");
    r.integer("client_id", ClientId::new)
}

/// `PUT` and `PATCH /clients`: the client and the info fields sent.
pub struct ClientInfoWrite<const PUT: bool> {
    pub id: ClientId,
    pub info: ClientInfoPatch,
}

impl JsonBody for ClientInfoWrite<true> {
    type Schema = PutClientBody;
    fn read(r: ObjectReader<'_>) -> Option<Self> {
        read_info_write(r, true).map(|(id, info)| Self { id, info })
    }
}

impl JsonBody for ClientInfoWrite<false> {
    type Schema = PatchClientBody;
    fn read(r: ObjectReader<'_>) -> Option<Self> {
        read_info_write(r, false).map(|(id, info)| Self { id, info })
    }
}

fn read_info_write(mut r: ObjectReader<'_>, put: bool) -> Option<(ClientId, ClientInfoPatch)> {
    let id = read_client_id(&mut r);
    r.require("info");
    let info = r.object("info").map(|info| info.fields(put));
    r.finish();
    Some((id?, info?))
}

/// A body that only names a client.
pub struct ClientRef(pub ClientId);

impl JsonBody for ClientRef {
    type Schema = ClientRefBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        let id = read_client_id(&mut r);
        r.finish();
        Some(Self(id?))
    }
}

#[derive(ApiResponse)]
enum ClientAnswer {
    /// The client.
    #[oai(status = 200)]
    Ok(ClientBody),
}

#[derive(ApiResponse)]
enum PutClientAnswer {
    /// The client was created.
    #[oai(status = 201)]
    Created(ClientBody),
    /// The client's info was replaced.
    #[oai(status = 200)]
    Updated(ClientBody),
}

/// The answer of a client, with its import state when the combiner has one.
async fn client_out(api: &dyn ClientApi, key: &ApiKey, client: &Client) -> ClientBody {
    let record = api.import_record(&key.0, client.id).await;
    ClientBody::new(client, record.as_ref())
}

pub struct ClientsApi;

#[OpenApi]
impl ClientsApi {
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        #[oai(name = "X-Client-Id")] client_id: Header<IdHeader<ClientId>>,
    ) -> Result<ClientAnswer, Problems<{ can::CLIENT_READ }>> {
        let id = header_id(req, "X-Client-Id", client_id.0)?;
        let (client, import) = api.read_client(&key.0, id).await?;
        Ok(ClientAnswer::Ok(ClientBody::new(&client, import.as_ref())))
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<ClientInfoWrite<true>>,
    ) -> Result<PutClientAnswer, Problems<{ can::CLIENT_WRITE }>> {
        let ClientInfoWrite { id, info } = body.0;
        note_client(req, id.get());
        let done = api.put_client(&key.0, id, info).await?;
        let out = client_out(api.api(), &key, &done.client).await;
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<ClientInfoWrite<false>>,
    ) -> Result<ClientAnswer, Problems<{ can::CLIENT_WRITE | can::NO_CLIENT }>> {
        let ClientInfoWrite { id, info } = body.0;
        note_client(req, id.get());
        let client = api.patch_client(&key.0, id, info).await?;
        Ok(ClientAnswer::Ok(client_out(api.api(), &key, &client).await))
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<ClientRef>,
    ) -> Result<Deleted, Problems<{ can::CLIENT_WRITE | can::NO_CLIENT }>> {
        let id = body.0 .0;
        note_client(req, id.get());
        api.delete_client(&key.0, id).await?;
        Ok(Deleted::NoContent)
    }
}
