//! The client aggregate: info, zones and users of one monitored site, with the rules that
//! span fields (the installer user is never stored, defaults on replace, merge on patch).

use std::collections::BTreeMap;

use super::field_set::{field_set, MissingField, PartialFields};
use super::fields::{ClientId, InstallDate, UserNo, ZoneNo};

/// The info fields of a client, declared once: Rust name, type (with its rule), the name that
/// the JSON key and the XML tag share, and the default when a PUT omits it. The order is the
/// contract's (`api.md` §3) and the XML's. Expands `$callback! { $args… ClientInfo /
/// ClientInfoPatch { … } }`; the domain builds the records with [`field_set`], the HTTP adapter
/// its schemas.
macro_rules! client_info_fields {
    ($callback:ident $(, $arg:tt)*) => {
        $callback! { $($arg)*
            /// The `info` block of a client, every field valid and filled.
            ClientInfo /
            /// Any subset of the info fields, each already valid: the input of PUT (replace)
            /// and PATCH (merge).
            ClientInfoPatch {
                /// The client's name.
                name: $crate::domain::fields::Name = "Name", required;
                alias: $crate::domain::fields::ShortText = "Alias", default;
                /// Street address.
                location: $crate::domain::fields::ShortText = "Location", default;
                /// Post code.
                area_code: $crate::domain::fields::PostCode = "area_code", default;
                /// Town.
                area: $crate::domain::fields::ShortText = "area", default;
                /// Empty, or an optional `+` then digits, spaces or `-` (3–20 digits).
                bus_phone: $crate::domain::fields::Phone = "BusPhone", default;
                /// Empty, or `local@domain.tld`.
                email: $crate::domain::fields::Email = "Email", default;
                ok_password: $crate::domain::fields::ShortText = "OKPassword", default;
                spec_request: $crate::domain::fields::LongText = "SpecRequest", default;
                no_sigs_mon: $crate::domain::fields::Bounded<255> = "NoSigsMon", default;
                since_days: $crate::domain::fields::Bounded<999> = "SinceDays", default;
                since_hrs: $crate::domain::fields::Bounded<23> = "SinceHrs", default;
                since_mins: $crate::domain::fields::Bounded<59> = "SinceMins", default;
                reset_nosigs_ignored: bool = "ResetNosigsIgnored", default;
                reset_nosigs_days: $crate::domain::fields::Bounded<999> = "ResetNosigsDays", default;
                reset_nosigs_hrs: $crate::domain::fields::Bounded<23> = "ResetNosigsHrs", default;
                reset_nosigs_mins: $crate::domain::fields::Bounded<59> = "ResetNosigsMins", default;
                /// A real date `YYYY-MM-DD` (or `YYYY-MM-DDTHH:MM:SS`); defaults to the day the
                /// client was created.
                install_date_time: $crate::domain::fields::InstallDate = "InstallDateTime", given;
                panel_name: $crate::domain::fields::ShortText = "PanelName", default;
                panel_site: $crate::domain::fields::ShortText = "PanelSite", default;
                keypad_location: $crate::domain::fields::ShortText = "KeypadLocation", default;
                sp_page: $crate::domain::fields::LongText = "SPPage", default;
            }
        }
    };
}

/// The fields of a zone, declared once (see [`client_info_fields`]).
macro_rules! zone_fields {
    ($callback:ident $(, $arg:tt)*) => {
        $callback! { $($arg)*
            /// One zone (detector group) of a client.
            Zone /
            /// A zone as sent: any subset of its fields.
            ZoneParts {
                /// 1–999.
                no: $crate::domain::fields::ZoneNo = "Zone_No", required;
                /// Where the zone is; may be empty.
                area: $crate::domain::fields::ShortText = "Zone_area", default;
                module_no: $crate::domain::fields::Bounded<255> = "ModuleNo", default;
            }
        }
    };
}

/// The fields of a contact user, declared once (see [`client_info_fields`]).
macro_rules! user_fields {
    ($callback:ident $(, $arg:tt)*) => {
        $callback! { $($arg)*
            /// One contact person of a client. Its number is never the installer's 199.
            User /
            /// A user as sent: number and name are required, every other field takes its
            /// default when omitted (empty texts, order 0, type `U`).
            NewUser {
                /// 1–999, not 199 (reserved for the installer).
                no: $crate::domain::fields::UserNo = "UserNo", required;
                name: $crate::domain::fields::Name = "User_Name", required;
                /// Empty, or an optional `+` then digits, spaces or `-` (3–20 digits).
                mobile_no: $crate::domain::fields::Phone = "MobileNo", default;
                mobile_no_order: $crate::domain::fields::Bounded<99> = "MobileNoOrder", default;
                /// Empty, or `local@domain.tld`.
                email: $crate::domain::fields::Email = "Email", default;
                /// One letter A–Z; defaults to `U`.
                user_type: $crate::domain::fields::UserType = "Type", default;
                instructions: $crate::domain::fields::LongText = "Instructions", default;
                call_order: $crate::domain::fields::Bounded<999> = "CallOrder", default;
            }
        }
    };
}

pub(crate) use {client_info_fields, user_fields, zone_fields};

client_info_fields!(field_set);
zone_fields!(field_set);
user_fields!(field_set);

impl ClientInfo {
    /// The info of a PUT: every omitted field takes its default, the install date defaults to
    /// the day the client was created. `Name` is required on every PUT.
    pub fn replaced_by(
        mut patch: ClientInfoPatch,
        created_on: &InstallDate,
    ) -> Result<Self, MissingField> {
        patch
            .install_date_time
            .get_or_insert_with(|| created_on.clone());
        patch.complete()
    }
}

impl Zone {
    /// A zone as a whole (`PUT /clients/zones` replaces it): an omitted area is empty, an
    /// omitted module number 0.
    pub fn new(
        no: ZoneNo,
        area: Option<super::fields::ShortText>,
        module_no: Option<super::fields::Bounded<255>>,
    ) -> Self {
        Self {
            no,
            area: area.unwrap_or_default(),
            module_no: module_no.unwrap_or_default(),
        }
    }
}

/// Why a change to a client's zones or users was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    #[error("zone {0} does not exist")]
    ZoneNotFound(u16),
    #[error("user {0} does not exist")]
    UserNotFound(u16),
    #[error("user {0} already exists")]
    UserExists(u16),
    #[error("user 199 is reserved for the installer")]
    InstallerReserved,
}

/// A monitored site with everything the alarm centre needs to call about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: ClientId,
    /// The day the client was first stored: the default `InstallDateTime` of every later PUT.
    pub created_on: InstallDate,
    pub info: ClientInfo,
    zones: BTreeMap<ZoneNo, Zone>,
    users: BTreeMap<UserNo, User>,
}

/// The largest a client may grow: 1 MiB of its representation ([`Client::representation_size`]).
/// Bounds what one tenant can make the store keep, and the cost of every read of the client.
pub const MAX_CLIENT_BYTES: usize = 1 << 20;

/// What a JSON writer adds to each byte of text when it escapes it (serde_json's escapes): one
/// for `\"`, `\\`, `\b`, `\t`, `\n`, `\f`, `\r`; five for the other control bytes
/// (`\u00XX`). By bytes, not characters: a zone update sizes every zone of the client.
const ESCAPE_EXTRA: [u8; 256] = {
    let mut extra = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        extra[byte] = 5;
        byte += 1;
    }
    let mut short = 0;
    let shorts = [0x08, 0x09, 0x0A, 0x0C, 0x0D, b'"', b'\\'];
    while short < shorts.len() {
        extra[shorts[short] as usize] = 1;
        short += 1;
    }
    extra
};

/// The UTF-8 bytes of a field as a JSON member `"name":value,`: the quotes, colon and comma,
/// and the escapes a JSON writer adds to text.
fn member_size(name: &str, value: super::fields::FieldValue<'_>) -> usize {
    use super::fields::FieldValue;
    let value = match value {
        FieldValue::Text(t) => {
            2 + t.len()
                + t.bytes()
                    .map(|b| usize::from(ESCAPE_EXTRA[usize::from(b)]))
                    .sum::<usize>()
        }
        // Without an allocation per number: a zone update sizes every zone of the client.
        FieldValue::Integer(n) => itoa::Buffer::new().format(n).len(),
        FieldValue::Flag(b) => {
            if b {
                4
            } else {
                5
            }
        }
    };
    name.len() + 4 + value
}

fn record_size(record: &impl super::field_set::Fields) -> usize {
    let mut size = 2;
    let _ = record.try_for_each_field(|name, value| {
        size += member_size(name, value);
        Ok::<_, ()>(())
    });
    size
}

impl Client {
    /// The bytes of the client's JSON representation (`api.md` §3: id, info, zones, users),
    /// as a compact JSON writer produces it.
    pub fn representation_size(&self) -> usize {
        let frame = r#"{"client_id":4294967295,"info":,"zones":[],"users":[]}"#.len();
        frame
            + record_size(&self.info)
            + self.zones().map(|z| record_size(z) + 1).sum::<usize>()
            + self.users().map(|u| record_size(u) + 1).sum::<usize>()
    }

    /// A client from the parts a stored record or an export holds, every value validated
    /// again: omitted info fields take their defaults (the install date: the creation day),
    /// zones and users must be whole. The error names what is wrong.
    pub fn from_parts(
        id: i64,
        created_on: String,
        info: ClientInfoPatch,
        zones: Vec<ZoneParts>,
        users: Vec<NewUser>,
    ) -> Result<Self, String> {
        let id = ClientId::new(id).map_err(|e| format!("id {e}"))?;
        let created_on = InstallDate::new(created_on).map_err(|e| format!("created_on {e}"))?;
        let info = ClientInfo::replaced_by(info, &created_on).map_err(|e| e.to_string())?;
        let mut client = Self::new(id, created_on, info);
        for zone in zones {
            client.put_zone(zone.complete().map_err(|e| format!("zone: {e}"))?);
        }
        for user in users {
            let user = user.complete().map_err(|e| format!("user: {e}"))?;
            client.add_user(user).map_err(|e| e.to_string())?;
        }
        Ok(client)
    }

    pub fn new(id: ClientId, created_on: InstallDate, info: ClientInfo) -> Self {
        Self {
            id,
            created_on,
            info,
            zones: BTreeMap::new(),
            users: BTreeMap::new(),
        }
    }

    /// Zones sorted by number.
    pub fn zones(&self) -> impl Iterator<Item = &Zone> {
        self.zones.values()
    }

    /// API users sorted by number (the installer user is not among them).
    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    pub fn user(&self, no: UserNo) -> Option<&User> {
        self.users.get(&no)
    }

    /// Creates or replaces a zone as a whole.
    pub fn put_zone(&mut self, zone: Zone) {
        self.zones.insert(zone.no, zone);
    }

    pub fn remove_zone(&mut self, no: ZoneNo) -> Result<(), MemberError> {
        self.zones
            .remove(&no)
            .map(|_| ())
            .ok_or(MemberError::ZoneNotFound(no.get()))
    }

    /// The installer user 199 is written into every XML row from the keys file; it is never
    /// stored, so no API user may take its number.
    fn check_not_installer(user: &User) -> Result<(), MemberError> {
        if user.no.get() == UserNo::INSTALLER {
            return Err(MemberError::InstallerReserved);
        }
        Ok(())
    }

    pub fn add_user(&mut self, user: User) -> Result<(), MemberError> {
        Self::check_not_installer(&user)?;
        if self.users.contains_key(&user.no) {
            return Err(MemberError::UserExists(user.no.get()));
        }
        self.users.insert(user.no, user);
        Ok(())
    }

    pub fn replace_user(&mut self, user: User) -> Result<(), MemberError> {
        Self::check_not_installer(&user)?;
        match self.users.get_mut(&user.no) {
            Some(slot) => {
                *slot = user;
                Ok(())
            }
            None => Err(MemberError::UserNotFound(user.no.get())),
        }
    }

    pub fn remove_user(&mut self, no: UserNo) -> Result<(), MemberError> {
        self.users
            .remove(&no)
            .map(|_| ())
            .ok_or(MemberError::UserNotFound(no.get()))
    }
}

/// A client for the unit tests of every layer: id `id`, name `name`, created 2024-01-01.
#[cfg(test)]
pub fn sample_client(id: i64, name: &str) -> Client {
    let date = InstallDate::new("2024-01-01".into()).unwrap();
    let patch = ClientInfoPatch {
        name: Some(super::fields::Name::new(name.into()).unwrap()),
        ..Default::default()
    };
    let info = ClientInfo::replaced_by(patch, &date).unwrap();
    Client::new(ClientId::new(id).unwrap(), date, info)
}

/// A client with every field away from its default, two zones and two users: the golden
/// records and exports hold this client.
#[cfg(test)]
pub fn sample_client_full() -> Client {
    use super::fields::{FieldType, FieldValue};
    let t = |v: &str| FieldValue::Text(v.to_owned().into());
    let n = FieldValue::Integer;
    let info = ClientInfoPatch::from_named([
        ("Name", t("Ola Nordmann & Sønn <AS>")),
        ("Alias", t("Ola")),
        ("Location", t("Produksjonsveien 13")),
        ("area_code", t("1604")),
        ("area", t("Fredrikstad")),
        ("BusPhone", t("+47 69 31 00 00")),
        ("Email", t("post@ostsik.no")),
        ("OKPassword", t("franzjäger")),
        ("SpecRequest", t("Linje 1\r\nLinje 2 æøå")),
        ("NoSigsMon", n(1)),
        ("SinceDays", n(2)),
        ("SinceHrs", n(3)),
        ("SinceMins", n(30)),
        ("ResetNosigsIgnored", FieldValue::Flag(true)),
        ("ResetNosigsDays", n(7)),
        ("ResetNosigsHrs", n(8)),
        ("ResetNosigsMins", n(9)),
        ("InstallDateTime", t("2023-02-20T12:30:00")),
        ("PanelName", t("Ajax")),
        ("PanelSite", t("Stue")),
        ("KeypadLocation", t("Inngang")),
        ("SPPage", t("Ekstra informasjon 🚨")),
    ])
    .unwrap();
    let created = InstallDate::new("2024-01-01".into()).unwrap();
    let info = ClientInfo::replaced_by(info, &created).unwrap();
    let mut client = Client::new(ClientId::new(4_294_967_295).unwrap(), created, info);
    for (no, area, module) in [(2, "Stue", 0), (1, "Inngang", 255)] {
        client.put_zone(Zone::new(
            ZoneNo::new(no).unwrap(),
            Some(super::fields::ShortText::from_value(t(area)).unwrap()),
            Some(super::fields::Bounded::new(module).unwrap()),
        ));
    }
    for (no, name, kind) in [(200, "Siste Bruker", "A"), (1, "User Number 1", "U")] {
        let user = NewUser::from_named([
            ("UserNo", n(no)),
            ("User_Name", t(name)),
            ("MobileNo", t("+4712345678")),
            ("MobileNoOrder", n(1)),
            ("Email", t("user@email.com")),
            ("Type", t(kind)),
            ("Instructions", t("Ring først")),
            ("CallOrder", n(no)),
        ])
        .unwrap();
        client.add_user(user.complete().unwrap()).unwrap();
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        sample_client(1, "A")
    }

    fn user(no: i64) -> User {
        NewUser {
            no: Some(UserNo::new(no).unwrap()),
            name: Some(crate::domain::fields::Name::new("U".into()).unwrap()),
            ..Default::default()
        }
        .complete()
        .unwrap()
    }

    #[test]
    fn the_representation_size_is_the_json_size_or_a_bound_of_it() {
        let mut c = sample_client_full();
        // Every escape JSON writes in text, and characters of two and three bytes.
        c.info.spec_request =
            crate::domain::fields::LongText::new("«a\"b\\c\nd\re\tf» €".into()).unwrap();
        // Measured against a compact JSON of the same client; escapes count as written.
        let json = {
            use crate::domain::field_set::Fields;
            fn object(r: &impl Fields) -> serde_json::Value {
                let mut m = serde_json::Map::new();
                let _ = r.try_for_each_field(|n, v| {
                    use crate::domain::fields::FieldValue;
                    let v = match v {
                        FieldValue::Text(t) => serde_json::Value::from(t.into_owned()),
                        FieldValue::Integer(i) => i.into(),
                        FieldValue::Flag(b) => b.into(),
                    };
                    m.insert(n.to_owned(), v);
                    Ok::<_, ()>(())
                });
                serde_json::Value::Object(m)
            }
            serde_json::json!({
                "client_id": c.id.get(),
                "info": object(&c.info),
                "zones": c.zones().map(object).collect::<Vec<_>>(),
                "users": c.users().map(object).collect::<Vec<_>>(),
            })
            .to_string()
        };
        // Exactly the JSON's size, but for what the bound counts on purpose: a comma after
        // the last member of each object and after the last item of each array, and ten
        // digits for the id.
        let size = c.representation_size();
        let (zones, users) = (c.zones().count(), c.users().count());
        assert!(zones > 1 && users > 1, "the sample needs several of each");
        let trailing_commas = 1 + zones + users + 2;
        let id_digits = 10 - c.id.get().to_string().len();
        assert_eq!(size, json.len() + trailing_commas + id_digits, "{json}");
        c.remove_zone(ZoneNo::new(1).unwrap()).unwrap();
        assert!(c.representation_size() < size);
    }

    #[test]
    fn the_installer_number_is_never_stored() {
        let mut c = client();
        assert_eq!(c.add_user(user(199)), Err(MemberError::InstallerReserved));
        assert_eq!(
            c.replace_user(user(199)),
            Err(MemberError::InstallerReserved)
        );
        assert_eq!(c.users().count(), 0);
    }

    #[test]
    fn users_are_added_found_replaced_and_removed_by_number() {
        let mut c = client();
        let no = |n| UserNo::new(n).unwrap();
        c.add_user(user(2)).unwrap();
        assert_eq!(c.add_user(user(2)), Err(MemberError::UserExists(2)));
        assert_eq!(c.user(no(2)), Some(&user(2)));
        assert_eq!(c.user(no(3)), None);
        assert_eq!(c.replace_user(user(3)), Err(MemberError::UserNotFound(3)));
        assert_eq!(c.remove_user(no(3)), Err(MemberError::UserNotFound(3)));
        c.remove_user(no(2)).unwrap();
        assert_eq!(c.user(no(2)), None);
        assert_eq!(c.remove_user(no(2)), Err(MemberError::UserNotFound(2)));
    }

    #[test]
    fn omitted_fields_take_their_defaults() {
        let u = user(1);
        assert_eq!(u.user_type.as_char(), 'U');
        assert_eq!((u.mobile_no.as_str(), u.call_order.get()), ("", 0));
        let z = Zone::new(ZoneNo::new(3).unwrap(), None, None);
        assert_eq!((z.area.as_str(), z.module_no.get()), ("", 0));
    }
}
