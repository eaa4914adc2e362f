//! The client aggregate: info, zones and users of one monitored site, with the rules that
//! span fields (the installer user is never stored, defaults on replace, merge on patch).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fields::{
    Bounded, ClientId, Email, InstallDate, LongText, Name, Phone, PostCode, ShortText, UserNo,
    UserType, ZoneNo,
};

/// The `info` block of a client, every field valid and filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub name: Name,
    pub alias: ShortText,
    pub location: ShortText,
    pub area_code: PostCode,
    pub area: ShortText,
    pub bus_phone: Phone,
    pub email: Email,
    pub ok_password: ShortText,
    pub spec_request: LongText,
    pub no_sigs_mon: Bounded<255>,
    pub since_days: Bounded<999>,
    pub since_hrs: Bounded<23>,
    pub since_mins: Bounded<59>,
    pub reset_nosigs_ignored: bool,
    pub reset_nosigs_days: Bounded<999>,
    pub reset_nosigs_hrs: Bounded<23>,
    pub reset_nosigs_mins: Bounded<59>,
    pub install_date_time: InstallDate,
    pub panel_name: ShortText,
    pub panel_site: ShortText,
    pub keypad_location: ShortText,
    pub sp_page: LongText,
}

/// Any subset of the info fields, each already valid: the input of PUT (replace) and PATCH (merge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfoPatch {
    pub name: Option<Name>,
    pub alias: Option<ShortText>,
    pub location: Option<ShortText>,
    pub area_code: Option<PostCode>,
    pub area: Option<ShortText>,
    pub bus_phone: Option<Phone>,
    pub email: Option<Email>,
    pub ok_password: Option<ShortText>,
    pub spec_request: Option<LongText>,
    pub no_sigs_mon: Option<Bounded<255>>,
    pub since_days: Option<Bounded<999>>,
    pub since_hrs: Option<Bounded<23>>,
    pub since_mins: Option<Bounded<59>>,
    pub reset_nosigs_ignored: Option<bool>,
    pub reset_nosigs_days: Option<Bounded<999>>,
    pub reset_nosigs_hrs: Option<Bounded<23>>,
    pub reset_nosigs_mins: Option<Bounded<59>>,
    pub install_date_time: Option<InstallDate>,
    pub panel_name: Option<ShortText>,
    pub panel_site: Option<ShortText>,
    pub keypad_location: Option<ShortText>,
    pub sp_page: Option<LongText>,
}

impl ClientInfo {
    /// The info of a PUT: every omitted field takes its default, the install date defaults to
    /// the day the client was created. `None` when `Name` is missing (it is required on PUT).
    pub fn replaced_by(patch: ClientInfoPatch, created_on: &InstallDate) -> Option<Self> {
        let p = patch;
        Some(Self {
            name: p.name?,
            alias: p.alias.unwrap_or_default(),
            location: p.location.unwrap_or_default(),
            area_code: p.area_code.unwrap_or_default(),
            area: p.area.unwrap_or_default(),
            bus_phone: p.bus_phone.unwrap_or_default(),
            email: p.email.unwrap_or_default(),
            ok_password: p.ok_password.unwrap_or_default(),
            spec_request: p.spec_request.unwrap_or_default(),
            no_sigs_mon: p.no_sigs_mon.unwrap_or_default(),
            since_days: p.since_days.unwrap_or_default(),
            since_hrs: p.since_hrs.unwrap_or_default(),
            since_mins: p.since_mins.unwrap_or_default(),
            reset_nosigs_ignored: p.reset_nosigs_ignored.unwrap_or_default(),
            reset_nosigs_days: p.reset_nosigs_days.unwrap_or_default(),
            reset_nosigs_hrs: p.reset_nosigs_hrs.unwrap_or_default(),
            reset_nosigs_mins: p.reset_nosigs_mins.unwrap_or_default(),
            install_date_time: p.install_date_time.unwrap_or_else(|| created_on.clone()),
            panel_name: p.panel_name.unwrap_or_default(),
            panel_site: p.panel_site.unwrap_or_default(),
            keypad_location: p.keypad_location.unwrap_or_default(),
            sp_page: p.sp_page.unwrap_or_default(),
        })
    }

    /// The info of a PATCH: only the fields sent change.
    pub fn merge(&mut self, patch: ClientInfoPatch) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        let p = patch;
        set(&mut self.name, p.name);
        set(&mut self.alias, p.alias);
        set(&mut self.location, p.location);
        set(&mut self.area_code, p.area_code);
        set(&mut self.area, p.area);
        set(&mut self.bus_phone, p.bus_phone);
        set(&mut self.email, p.email);
        set(&mut self.ok_password, p.ok_password);
        set(&mut self.spec_request, p.spec_request);
        set(&mut self.no_sigs_mon, p.no_sigs_mon);
        set(&mut self.since_days, p.since_days);
        set(&mut self.since_hrs, p.since_hrs);
        set(&mut self.since_mins, p.since_mins);
        set(&mut self.reset_nosigs_ignored, p.reset_nosigs_ignored);
        set(&mut self.reset_nosigs_days, p.reset_nosigs_days);
        set(&mut self.reset_nosigs_hrs, p.reset_nosigs_hrs);
        set(&mut self.reset_nosigs_mins, p.reset_nosigs_mins);
        set(&mut self.install_date_time, p.install_date_time);
        set(&mut self.panel_name, p.panel_name);
        set(&mut self.panel_site, p.panel_site);
        set(&mut self.keypad_location, p.keypad_location);
        set(&mut self.sp_page, p.sp_page);
    }
}

/// One zone (detector group) of a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    pub no: ZoneNo,
    pub area: ShortText,
    pub module_no: Bounded<255>,
}

impl Zone {
    /// A zone as a whole (`PUT /clients/zones` replaces it): an omitted area is empty, an
    /// omitted module number 0.
    pub fn new(no: ZoneNo, area: Option<ShortText>, module_no: Option<Bounded<255>>) -> Self {
        Self {
            no,
            area: area.unwrap_or_default(),
            module_no: module_no.unwrap_or_default(),
        }
    }
}

/// A user as sent: number and name are required, every other field takes its default when
/// omitted (empty texts, order 0, type `U`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub no: UserNo,
    pub name: Name,
    pub mobile_no: Option<Phone>,
    pub mobile_no_order: Option<Bounded<99>>,
    pub email: Option<Email>,
    pub user_type: Option<UserType>,
    pub instructions: Option<LongText>,
    pub call_order: Option<Bounded<999>>,
}

impl From<NewUser> for User {
    fn from(u: NewUser) -> Self {
        Self {
            no: u.no,
            name: u.name,
            mobile_no: u.mobile_no.unwrap_or_default(),
            mobile_no_order: u.mobile_no_order.unwrap_or_default(),
            email: u.email.unwrap_or_default(),
            user_type: u.user_type.unwrap_or_default(),
            instructions: u.instructions.unwrap_or_default(),
            call_order: u.call_order.unwrap_or_default(),
        }
    }
}

/// One contact person of a client. Its number is never the installer's 199.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub no: UserNo,
    pub name: Name,
    pub mobile_no: Phone,
    pub mobile_no_order: Bounded<99>,
    pub email: Email,
    pub user_type: UserType,
    pub instructions: LongText,
    pub call_order: Bounded<999>,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub id: ClientId,
    /// The day the client was first stored: the default `InstallDateTime` of every later PUT.
    pub created_on: InstallDate,
    pub info: ClientInfo,
    zones: BTreeMap<ZoneNo, Zone>,
    users: BTreeMap<UserNo, User>,
}

impl Client {
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
        name: Some(Name::new(name.into()).unwrap()),
        ..Default::default()
    };
    let info = ClientInfo::replaced_by(patch, &date).unwrap();
    Client::new(ClientId::new(id).unwrap(), date, info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        sample_client(1, "A")
    }

    fn user(no: i64) -> User {
        NewUser {
            no: UserNo::new(no).unwrap(),
            name: Name::new("U".into()).unwrap(),
            mobile_no: None,
            mobile_no_order: None,
            email: None,
            user_type: None,
            instructions: None,
            call_order: None,
        }
        .into()
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
    fn omitted_fields_take_their_defaults() {
        let u = user(1);
        assert_eq!(u.user_type.as_char(), 'U');
        assert_eq!((u.mobile_no.as_str(), u.call_order.get()), ("", 0));
        let z = Zone::new(ZoneNo::new(3).unwrap(), None, None);
        assert_eq!((z.area.as_str(), z.module_no.get()), ("", 0));
    }
}
