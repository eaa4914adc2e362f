//! `/clients/zones`: list, create or replace, and delete the zones of a client.

use poem::Request;
use poem_openapi::param::Header;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::clients::ClientRef;
use super::json_reader::ObjectReader;
use super::param::IdHeader;
use super::payload::Json;
use super::problem::{can, Problems};
use super::request_log::note_client;
use super::strict_json::{JsonBody, StrictJson};
use super::{header_id, ApiKey, ApiTags, Deleted, Service};
use crate::domain::client::{zone_fields, Client, Zone};
use crate::domain::fields::{Bounded, ClientId, ShortText, ZoneNo};

/// Expands the zone's answer schema from the domain's list of zone fields.
macro_rules! zone_schema {
    (
        [$Out:ident]
        $(#[$whole_meta:meta])* $Whole:ident / $(#[$partial_meta:meta])* $Partial:ident {
            $( $(#[doc = $doc:tt])* $field:ident : $T:ty = $name:tt, $default:ident; )*
        }
    ) => {
        /// A zone of a client.
        #[derive(Debug, Clone, Object)]
        pub struct $Out {
            $( $(#[doc = $doc])* #[oai(rename = $name)] pub $field: $T, )*
        }

        impl From<&$Whole> for $Out {
            fn from(z: &$Whole) -> Self {
                Self { $( $field: z.$field.clone(), )* }
            }
        }
    };
}

zone_fields!(zone_schema, [ZoneOut]);

/// The zones of a client, by `Zone_No`.
#[derive(Debug, Clone, Object)]
pub struct ZonesOut {
    pub client_id: ClientId,
    pub zones: Vec<ZoneOut>,
}

/// One zone as stored.
#[derive(Debug, Clone, Object)]
pub struct ZoneResult {
    pub client_id: ClientId,
    pub zone: ZoneOut,
}

/// A zone to create or replace as a whole. The request names the zone `zone_id`, as the
/// service it replaces did; the answer calls it `Zone_No`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ZoneBody {
    pub client_id: ClientId,
    /// The zone's number (`Zone_No`).
    pub zone_id: ZoneNo,
    /// Where the zone is; defaults to "".
    #[oai(rename = "Zone_area", skip_serializing_if_is_none)]
    pub zone_area: Option<ShortText>,
    /// Defaults to 0.
    #[oai(rename = "ModuleNo", skip_serializing_if_is_none)]
    pub module_no: Option<Bounded<255>>,
}

/// Names a zone of a client.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ZoneRefBody {
    pub client_id: ClientId,
    pub zone_id: ZoneNo,
}

fn example_ids() -> Option<(ClientId, ZoneNo)> {
    Some((ClientId::new(9998).ok()?, ZoneNo::new(1).ok()?))
}

impl Example for ZoneBody {
    fn example() -> Self {
        let (client_id, zone_id) = example_ids().unwrap_or_else(|| unreachable!("valid ids"));
        Self {
            client_id,
            zone_id,
            zone_area: ShortText::new("Inngang".into()).ok(),
            module_no: Bounded::new(0).ok(),
        }
    }
}

impl Example for ZoneRefBody {
    fn example() -> Self {
        let (client_id, zone_id) = example_ids().unwrap_or_else(|| unreachable!("valid ids"));
        Self { client_id, zone_id }
    }
}

/// `PUT /clients/zones`: the zone as a whole.
pub struct PutZone {
    pub id: ClientId,
    pub zone: Zone,
}

impl JsonBody for PutZone {
    type Schema = ZoneBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        r.require("client_id");
        let id = r.integer("client_id", ClientId::new);
        r.require("zone_id");
        let no = r.integer("zone_id", ZoneNo::new);
        let area = r.string("Zone_area", ShortText::new);
        let module_no = r.integer("ModuleNo", Bounded::new);
        r.finish();
        Some(Self {
            id: id?,
            zone: Zone::new(no?, area, module_no),
        })
    }
}

/// A body that names a zone of a client.
pub struct ZoneRef {
    pub id: ClientId,
    pub zone: ZoneNo,
}

impl JsonBody for ZoneRef {
    type Schema = ZoneRefBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        r.require("client_id");
        let id = r.integer("client_id", ClientId::new);
        r.require("zone_id");
        let zone = r.integer("zone_id", ZoneNo::new);
        r.finish();
        Some(Self {
            id: id?,
            zone: zone?,
        })
    }
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

fn zones_of(client: &Client) -> ZonesOut {
    ZonesOut {
        client_id: client.id,
        zones: client.zones().map(Into::into).collect(),
    }
}

pub struct ZonesApi;

#[OpenApi]
impl ZonesApi {
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        #[oai(name = "X-Client-Id")] client_id: Header<IdHeader<ClientId>>,
    ) -> Result<ZonesAnswer, Problems<{ can::CLIENT_READ }>> {
        let id = header_id(req, "X-Client-Id", client_id.0)?;
        Ok(ZonesAnswer::Ok(Json(zones_of(
            &api.get_client(&key.0, id).await?,
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<ClientRef>,
    ) -> Result<ZonesAnswer, Problems<{ can::CLIENT_READ_BODY }>> {
        note_client(req, body.0 .0.get());
        Ok(ZonesAnswer::Ok(Json(zones_of(
            &api.get_client(&key.0, body.0 .0).await?,
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<PutZone>,
    ) -> Result<ZoneAnswer, Problems<{ can::CLIENT_WRITE | can::NO_CLIENT }>> {
        let PutZone { id, zone } = body.0;
        note_client(req, id.get());
        let zone = api.put_zone(&key.0, id, zone).await?;
        Ok(ZoneAnswer::Created(Json(ZoneResult {
            client_id: id,
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
        key: ApiKey,
        req: &Request,
        api: Service<'_>,
        body: StrictJson<ZoneRef>,
    ) -> Result<Deleted, Problems<{ can::CLIENT_WRITE | can::NO_CLIENT_OR_ZONE }>> {
        let ZoneRef { id, zone } = body.0;
        note_client(req, id.get());
        api.delete_zone(&key.0, id, zone).await?;
        Ok(Deleted::NoContent)
    }
}
