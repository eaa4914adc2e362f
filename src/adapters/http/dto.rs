//! The JSON shapes of the API: documented objects (for the OpenAPI document and the answers)
//! and the strict readers that turn request bodies into domain values.

use poem_openapi::types::Example;
use poem_openapi::Object;

use super::json_reader::ObjectReader;
use super::strict_json::JsonBody;
use crate::domain::client::{Client, ClientInfo, ClientInfoPatch, NewUser, User, Zone};
use crate::domain::fields::{
    Bounded, ClientId, Email, InstallDate, Phone, Text, UserNo, UserType, ZoneNo,
};
use crate::domain::import_state::{ImportRecord, ImportStatus};

// ---------------------------------------------------------------- answers

/// Every info field of a client, defaults filled.
#[derive(Debug, Clone, Object)]
pub struct InfoOut {
    #[oai(rename = "Name")]
    pub name: String,
    #[oai(rename = "Alias")]
    pub alias: String,
    #[oai(rename = "Location")]
    pub location: String,
    pub area_code: String,
    pub area: String,
    #[oai(rename = "BusPhone")]
    pub bus_phone: String,
    #[oai(rename = "Email")]
    pub email: String,
    #[oai(rename = "OKPassword")]
    pub ok_password: String,
    #[oai(rename = "SpecRequest")]
    pub spec_request: String,
    #[oai(rename = "NoSigsMon")]
    pub no_sigs_mon: u16,
    #[oai(rename = "SinceDays")]
    pub since_days: u16,
    #[oai(rename = "SinceHrs")]
    pub since_hrs: u16,
    #[oai(rename = "SinceMins")]
    pub since_mins: u16,
    #[oai(rename = "ResetNosigsIgnored")]
    pub reset_nosigs_ignored: bool,
    #[oai(rename = "ResetNosigsDays")]
    pub reset_nosigs_days: u16,
    #[oai(rename = "ResetNosigsHrs")]
    pub reset_nosigs_hrs: u16,
    #[oai(rename = "ResetNosigsMins")]
    pub reset_nosigs_mins: u16,
    #[oai(
        rename = "InstallDateTime",
        validator(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?$")
    )]
    pub install_date_time: String,
    #[oai(rename = "PanelName")]
    pub panel_name: String,
    #[oai(rename = "PanelSite")]
    pub panel_site: String,
    #[oai(rename = "KeypadLocation")]
    pub keypad_location: String,
    #[oai(rename = "SPPage")]
    pub sp_page: String,
}

impl From<&ClientInfo> for InfoOut {
    fn from(i: &ClientInfo) -> Self {
        Self {
            name: i.name.as_str().into(),
            alias: i.alias.as_str().into(),
            location: i.location.as_str().into(),
            area_code: i.area_code.as_str().into(),
            area: i.area.as_str().into(),
            bus_phone: i.bus_phone.as_str().into(),
            email: i.email.as_str().into(),
            ok_password: i.ok_password.as_str().into(),
            spec_request: i.spec_request.as_str().into(),
            no_sigs_mon: i.no_sigs_mon.get(),
            since_days: i.since_days.get(),
            since_hrs: i.since_hrs.get(),
            since_mins: i.since_mins.get(),
            reset_nosigs_ignored: i.reset_nosigs_ignored,
            reset_nosigs_days: i.reset_nosigs_days.get(),
            reset_nosigs_hrs: i.reset_nosigs_hrs.get(),
            reset_nosigs_mins: i.reset_nosigs_mins.get(),
            install_date_time: i.install_date_time.as_str().into(),
            panel_name: i.panel_name.as_str().into(),
            panel_site: i.panel_site.as_str().into(),
            keypad_location: i.keypad_location.as_str().into(),
            sp_page: i.sp_page.as_str().into(),
        }
    }
}

/// A zone of a client.
#[derive(Debug, Clone, Object)]
pub struct ZoneOut {
    #[oai(rename = "Zone_No")]
    pub zone_no: u16,
    #[oai(rename = "Zone_area")]
    pub zone_area: String,
    #[oai(rename = "ModuleNo")]
    pub module_no: u16,
}

impl From<&Zone> for ZoneOut {
    fn from(z: &Zone) -> Self {
        Self {
            zone_no: z.no.get(),
            zone_area: z.area.as_str().into(),
            module_no: z.module_no.get(),
        }
    }
}

/// A contact user of a client.
#[derive(Debug, Clone, Object)]
pub struct UserOut {
    #[oai(rename = "UserNo")]
    pub user_no: u16,
    #[oai(rename = "User_Name")]
    pub user_name: String,
    #[oai(rename = "MobileNo")]
    pub mobile_no: String,
    #[oai(rename = "MobileNoOrder")]
    pub mobile_no_order: u16,
    #[oai(rename = "Email")]
    pub email: String,
    #[oai(rename = "Type")]
    pub user_type: String,
    #[oai(rename = "Instructions")]
    pub instructions: String,
    #[oai(rename = "CallOrder")]
    pub call_order: u16,
}

impl From<&User> for UserOut {
    fn from(u: &User) -> Self {
        Self {
            user_no: u.no.get(),
            user_name: u.name.as_str().into(),
            mobile_no: u.mobile_no.as_str().into(),
            mobile_no_order: u.mobile_no_order.get(),
            email: u.email.as_str().into(),
            user_type: u.user_type.as_char().to_string(),
            instructions: u.instructions.as_str().into(),
            call_order: u.call_order.get(),
        }
    }
}

/// Where the client is on its way into Patriot, from the combiner's state file.
#[derive(Debug, Clone, Object)]
pub struct ImportOut {
    /// `pending_import` (uploaded, not yet confirmed), `imported` or `failed`.
    pub status: String,
    /// When the client was last uploaded (ISO 8601 with offset).
    #[oai(skip_serializing_if_is_none)]
    pub last_batch: Option<String>,
    /// Uploads since Patriot last confirmed the client.
    pub attempts: u32,
}

impl From<&ImportRecord> for ImportOut {
    fn from(r: &ImportRecord) -> Self {
        let status = match r.status {
            ImportStatus::PendingImport => "pending_import",
            ImportStatus::Imported => "imported",
            ImportStatus::Failed => "failed",
        };
        Self {
            status: status.into(),
            last_batch: r.last_batch.clone(),
            attempts: r.attempts,
        }
    }
}

/// A client with its info, zones (by `Zone_No`) and users (by `UserNo`).
#[derive(Debug, Clone, Object)]
pub struct ClientOut {
    pub client_id: u32,
    pub info: InfoOut,
    pub zones: Vec<ZoneOut>,
    pub users: Vec<UserOut>,
    /// Present when the combiner has handled the client.
    #[oai(skip_serializing_if_is_none)]
    pub import: Option<ImportOut>,
}

impl ClientOut {
    pub fn new(c: &Client, import: Option<&ImportRecord>) -> Self {
        Self {
            client_id: c.id.get(),
            info: (&c.info).into(),
            zones: c.zones().map(Into::into).collect(),
            users: c.users().map(Into::into).collect(),
            import: import.map(Into::into),
        }
    }
}

/// The zones of a client.
#[derive(Debug, Clone, Object)]
pub struct ZonesOut {
    pub client_id: u32,
    pub zones: Vec<ZoneOut>,
}

/// One zone as stored.
#[derive(Debug, Clone, Object)]
pub struct ZoneResult {
    pub client_id: u32,
    pub zone: ZoneOut,
}

/// The users of a client (the installer user 199 is never among them).
#[derive(Debug, Clone, Object)]
pub struct UsersOut {
    pub client_id: u32,
    pub users: Vec<UserOut>,
}

/// One user as stored.
#[derive(Debug, Clone, Object)]
pub struct UserResult {
    pub client_id: u32,
    pub user: UserOut,
}

/// Storage answers.
#[derive(Debug, Clone, Object)]
pub struct Health {
    pub status: String,
}

// ---------------------------------------------------------------- request schemas

/// Client info fields. On `PUT /clients`, `Name` is required and every omitted field takes
/// its default; on `PATCH /clients`, only the fields sent change.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct InfoIn {
    /// 1–255 characters; required on PUT.
    #[oai(rename = "Name", validator(min_length = 1, max_length = 255))]
    pub name: Option<String>,
    #[oai(rename = "Alias", validator(max_length = 255))]
    pub alias: Option<String>,
    /// Street address.
    #[oai(rename = "Location", validator(max_length = 255))]
    pub location: Option<String>,
    /// Post code.
    #[oai(validator(max_length = 20))]
    pub area_code: Option<String>,
    /// Town.
    #[oai(validator(max_length = 255))]
    pub area: Option<String>,
    /// Empty, or an optional `+` then digits, spaces or `-` (3–20 digits).
    #[oai(
        rename = "BusPhone",
        validator(max_length = 64, pattern = r"^$|^\+?[ -]*([0-9][ -]*){3,20}$")
    )]
    pub bus_phone: Option<String>,
    /// Empty, or `local@domain.tld`.
    #[oai(
        rename = "Email",
        validator(max_length = 254, pattern = r"^$|^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
    )]
    pub email: Option<String>,
    #[oai(rename = "OKPassword", validator(max_length = 255))]
    pub ok_password: Option<String>,
    #[oai(rename = "SpecRequest", validator(max_length = 4000))]
    pub spec_request: Option<String>,
    #[oai(
        rename = "NoSigsMon",
        validator(minimum(value = "0"), maximum(value = "255"))
    )]
    pub no_sigs_mon: Option<i64>,
    #[oai(
        rename = "SinceDays",
        validator(minimum(value = "0"), maximum(value = "999"))
    )]
    pub since_days: Option<i64>,
    #[oai(
        rename = "SinceHrs",
        validator(minimum(value = "0"), maximum(value = "23"))
    )]
    pub since_hrs: Option<i64>,
    #[oai(
        rename = "SinceMins",
        validator(minimum(value = "0"), maximum(value = "59"))
    )]
    pub since_mins: Option<i64>,
    #[oai(rename = "ResetNosigsIgnored")]
    pub reset_nosigs_ignored: Option<bool>,
    #[oai(
        rename = "ResetNosigsDays",
        validator(minimum(value = "0"), maximum(value = "999"))
    )]
    pub reset_nosigs_days: Option<i64>,
    #[oai(
        rename = "ResetNosigsHrs",
        validator(minimum(value = "0"), maximum(value = "23"))
    )]
    pub reset_nosigs_hrs: Option<i64>,
    #[oai(
        rename = "ResetNosigsMins",
        validator(minimum(value = "0"), maximum(value = "59"))
    )]
    pub reset_nosigs_mins: Option<i64>,
    /// A real date `YYYY-MM-DD` (or `YYYY-MM-DDTHH:MM:SS`); defaults to the day the client
    /// was created.
    #[oai(
        rename = "InstallDateTime",
        validator(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2})?$")
    )]
    pub install_date_time: Option<String>,
    #[oai(rename = "PanelName", validator(max_length = 255))]
    pub panel_name: Option<String>,
    #[oai(rename = "PanelSite", validator(max_length = 255))]
    pub panel_site: Option<String>,
    #[oai(rename = "KeypadLocation", validator(max_length = 255))]
    pub keypad_location: Option<String>,
    #[oai(rename = "SPPage", validator(max_length = 4000))]
    pub sp_page: Option<String>,
}

/// A client and its info.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ClientInfoBody {
    #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
    pub client_id: i64,
    pub info: InfoIn,
}

impl Example for ClientInfoBody {
    fn example() -> Self {
        let s = |v: &str| Some(v.to_owned());
        Self {
            client_id: 9998,
            info: InfoIn {
                name: s("Ola Nordmann"),
                alias: s(""),
                location: s("Produksjonsveien 13"),
                area_code: s("1604"),
                area: s("Fredrikstad"),
                bus_phone: s("69310000"),
                email: s("post@ostsik.no"),
                ok_password: s("franzjager"),
                spec_request: s("Dette skal gjøres ved alarm på denne kunden."),
                no_sigs_mon: Some(1),
                since_days: Some(1),
                since_hrs: Some(0),
                since_mins: Some(30),
                reset_nosigs_ignored: Some(true),
                reset_nosigs_days: Some(7),
                reset_nosigs_hrs: Some(0),
                reset_nosigs_mins: Some(0),
                install_date_time: s("2023-02-20"),
                panel_name: s("Ajax"),
                panel_site: s("Stue"),
                keypad_location: s("Inngang"),
                sp_page: s("Ekstra informasjon som kan være relevant."),
            },
        }
    }
}

/// Names a client.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ClientRefBody {
    #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
    pub client_id: i64,
}

impl Example for ClientRefBody {
    fn example() -> Self {
        Self { client_id: 9998 }
    }
}

/// A zone to create or replace.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ZoneBody {
    #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
    pub client_id: i64,
    #[oai(validator(minimum(value = "1"), maximum(value = "999")))]
    pub zone_id: i64,
    /// Defaults to "".
    #[oai(rename = "Zone_area", validator(max_length = 255))]
    pub zone_area: Option<String>,
    /// Defaults to 0.
    #[oai(
        rename = "ModuleNo",
        validator(minimum(value = "0"), maximum(value = "255"))
    )]
    pub module_no: Option<i64>,
}

impl Example for ZoneBody {
    fn example() -> Self {
        Self {
            client_id: 9998,
            zone_id: 1,
            zone_area: Some("Inngang".into()),
            module_no: Some(0),
        }
    }
}

/// Names a zone of a client.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ZoneRefBody {
    #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
    pub client_id: i64,
    #[oai(validator(minimum(value = "1"), maximum(value = "999")))]
    pub zone_id: i64,
}

impl Example for ZoneRefBody {
    fn example() -> Self {
        Self {
            client_id: 9998,
            zone_id: 1,
        }
    }
}

/// A contact user.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct UserIn {
    /// 1–999, not 199 (reserved for the installer).
    #[oai(
        rename = "UserNo",
        validator(minimum(value = "1"), maximum(value = "999"))
    )]
    pub user_no: i64,
    #[oai(rename = "User_Name", validator(min_length = 1, max_length = 255))]
    pub user_name: String,
    /// Empty, or an optional `+` then digits, spaces or `-` (3–20 digits).
    #[oai(
        rename = "MobileNo",
        validator(max_length = 64, pattern = r"^$|^\+?[ -]*([0-9][ -]*){3,20}$")
    )]
    pub mobile_no: Option<String>,
    #[oai(
        rename = "MobileNoOrder",
        validator(minimum(value = "0"), maximum(value = "99"))
    )]
    pub mobile_no_order: Option<i64>,
    /// Empty, or `local@domain.tld`.
    #[oai(
        rename = "Email",
        validator(max_length = 254, pattern = r"^$|^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
    )]
    pub email: Option<String>,
    /// One letter A–Z; defaults to `U`.
    #[oai(rename = "Type", validator(pattern = "^[A-Z]$"))]
    pub user_type: Option<String>,
    #[oai(rename = "Instructions", validator(max_length = 4000))]
    pub instructions: Option<String>,
    #[oai(
        rename = "CallOrder",
        validator(minimum(value = "0"), maximum(value = "999"))
    )]
    pub call_order: Option<i64>,
}

/// A user of a client.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct UserBody {
    #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
    pub client_id: i64,
    pub user: UserIn,
}

impl Example for UserBody {
    fn example() -> Self {
        Self {
            client_id: 9998,
            user: UserIn {
                user_no: 1,
                user_name: "User Number 1".into(),
                mobile_no: Some("+4712345678".into()),
                mobile_no_order: Some(1),
                email: Some("user@email.com".into()),
                user_type: Some("U".into()),
                instructions: Some("Optional".into()),
                call_order: Some(0),
            },
        }
    }
}

/// Names a user of a client.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct UserRefBody {
    #[oai(validator(minimum(value = "1"), maximum(value = "4294967295")))]
    pub client_id: i64,
    #[oai(validator(minimum(value = "1"), maximum(value = "999")))]
    pub user_no: i64,
}

impl Example for UserRefBody {
    fn example() -> Self {
        Self {
            client_id: 9998,
            user_no: 1,
        }
    }
}

// ---------------------------------------------------------------- request readers

fn read_client_id(r: &mut ObjectReader<'_>) -> Option<ClientId> {
    r.require("client_id");
    r.integer("client_id", ClientId::new)
}

fn read_info(mut r: ObjectReader<'_>, name_required: bool) -> ClientInfoPatch {
    if name_required {
        r.require("Name");
    }
    let info = ClientInfoPatch {
        name: r.string("Name", Text::new),
        alias: r.string("Alias", Text::new),
        location: r.string("Location", Text::new),
        area_code: r.string("area_code", Text::new),
        area: r.string("area", Text::new),
        bus_phone: r.string("BusPhone", Phone::new),
        email: r.string("Email", Email::new),
        ok_password: r.string("OKPassword", Text::new),
        spec_request: r.string("SpecRequest", Text::new),
        no_sigs_mon: r.integer("NoSigsMon", Bounded::new),
        since_days: r.integer("SinceDays", Bounded::new),
        since_hrs: r.integer("SinceHrs", Bounded::new),
        since_mins: r.integer("SinceMins", Bounded::new),
        reset_nosigs_ignored: r.boolean("ResetNosigsIgnored"),
        reset_nosigs_days: r.integer("ResetNosigsDays", Bounded::new),
        reset_nosigs_hrs: r.integer("ResetNosigsHrs", Bounded::new),
        reset_nosigs_mins: r.integer("ResetNosigsMins", Bounded::new),
        install_date_time: r.string("InstallDateTime", InstallDate::new),
        panel_name: r.string("PanelName", Text::new),
        panel_site: r.string("PanelSite", Text::new),
        keypad_location: r.string("KeypadLocation", Text::new),
        sp_page: r.string("SPPage", Text::new),
    };
    r.finish();
    info
}

/// `PUT /clients`: the info replaces the stored one.
pub struct PutClient {
    pub id: ClientId,
    pub info: ClientInfoPatch,
}

impl JsonBody for PutClient {
    type Schema = ClientInfoBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        let id = read_client_id(&mut r);
        r.require("info");
        let info = r.object("info").map(|info| read_info(info, true));
        r.finish();
        Some(Self {
            id: id?,
            info: info?,
        })
    }
}

/// `PATCH /clients`: only the fields sent change.
pub struct PatchClient {
    pub id: ClientId,
    pub info: ClientInfoPatch,
}

impl JsonBody for PatchClient {
    type Schema = ClientInfoBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        let id = read_client_id(&mut r);
        r.require("info");
        let info = r.object("info").map(|info| read_info(info, false));
        r.finish();
        Some(Self {
            id: id?,
            info: info?,
        })
    }
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

/// `PUT /clients/zones`: the zone as a whole.
pub struct PutZone {
    pub id: ClientId,
    pub zone: Zone,
}

impl JsonBody for PutZone {
    type Schema = ZoneBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        let id = read_client_id(&mut r);
        r.require("zone_id");
        let no = r.integer("zone_id", ZoneNo::new);
        let area = r.string("Zone_area", Text::new);
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
        let id = read_client_id(&mut r);
        r.require("zone_id");
        let zone = r.integer("zone_id", ZoneNo::new);
        r.finish();
        Some(Self {
            id: id?,
            zone: zone?,
        })
    }
}

fn read_user(mut r: ObjectReader<'_>) -> Option<User> {
    r.require("UserNo");
    r.require("User_Name");
    let no = r.integer("UserNo", UserNo::for_new_user);
    let name = r.string("User_Name", Text::new);
    let mobile_no = r.string("MobileNo", Phone::new);
    let mobile_no_order = r.integer("MobileNoOrder", Bounded::new);
    let email = r.string("Email", Email::new);
    let user_type = r.string("Type", UserType::new);
    let instructions = r.string("Instructions", Text::new);
    let call_order = r.integer("CallOrder", Bounded::new);
    r.finish();
    Some(
        NewUser {
            no: no?,
            name: name?,
            mobile_no,
            mobile_no_order,
            email,
            user_type,
            instructions,
            call_order,
        }
        .into(),
    )
}

/// `POST`/`PUT /clients/users`: a whole user.
pub struct UserWrite {
    pub id: ClientId,
    pub user: User,
}

impl JsonBody for UserWrite {
    type Schema = UserBody;
    fn read(mut r: ObjectReader<'_>) -> Option<Self> {
        let id = read_client_id(&mut r);
        r.require("user");
        let user = r.object("user").and_then(read_user);
        r.finish();
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
        let id = read_client_id(&mut r);
        r.require("user_no");
        let user = r.integer("user_no", UserNo::new);
        r.finish();
        Some(Self {
            id: id?,
            user: user?,
        })
    }
}
