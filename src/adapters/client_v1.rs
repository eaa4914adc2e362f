//! The layout of a client as version 0.1.0 stored and exported it: the serde form of the
//! domain types of that time (positional in postcard, by Rust field name in JSON). It is only
//! read now: sled records with version byte 1 or starting with `{`, and version 1 exports.
//! The layout must never change; `tests/golden/` holds bytes written by 0.1.0.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::client::{Client, ClientInfoPatch, NewUser, ZoneParts};
use crate::domain::field_set::PartialFields;
use crate::domain::fields::FieldValue;

#[derive(Debug, Deserialize)]
pub struct ClientV1 {
    id: i64,
    created_on: String,
    info: InfoV1,
    zones: BTreeMap<i64, ZoneV1>,
    users: BTreeMap<i64, UserV1>,
}

#[derive(Debug, Deserialize)]
struct InfoV1 {
    name: String,
    alias: String,
    location: String,
    area_code: String,
    area: String,
    bus_phone: String,
    email: String,
    ok_password: String,
    spec_request: String,
    no_sigs_mon: i64,
    since_days: i64,
    since_hrs: i64,
    since_mins: i64,
    reset_nosigs_ignored: bool,
    reset_nosigs_days: i64,
    reset_nosigs_hrs: i64,
    reset_nosigs_mins: i64,
    install_date_time: String,
    panel_name: String,
    panel_site: String,
    keypad_location: String,
    sp_page: String,
}

#[derive(Debug, Deserialize)]
struct ZoneV1 {
    no: i64,
    area: String,
    module_no: i64,
}

#[derive(Debug, Deserialize)]
struct UserV1 {
    no: i64,
    name: String,
    mobile_no: String,
    mobile_no_order: i64,
    email: String,
    user_type: String,
    instructions: String,
    call_order: i64,
}

fn t(value: String) -> FieldValue<'static> {
    FieldValue::Text(value.into())
}

fn n(value: i64) -> FieldValue<'static> {
    FieldValue::Integer(value)
}

impl ClientV1 {
    /// The client in today's model; every value is validated again.
    pub fn into_client(self) -> Result<Client, String> {
        let i = self.info;
        let info = ClientInfoPatch::from_named([
            ("Name", t(i.name)),
            ("Alias", t(i.alias)),
            ("Location", t(i.location)),
            ("area_code", t(i.area_code)),
            ("area", t(i.area)),
            ("BusPhone", t(i.bus_phone)),
            ("Email", t(i.email)),
            ("OKPassword", t(i.ok_password)),
            ("SpecRequest", t(i.spec_request)),
            ("NoSigsMon", n(i.no_sigs_mon)),
            ("SinceDays", n(i.since_days)),
            ("SinceHrs", n(i.since_hrs)),
            ("SinceMins", n(i.since_mins)),
            (
                "ResetNosigsIgnored",
                FieldValue::Flag(i.reset_nosigs_ignored),
            ),
            ("ResetNosigsDays", n(i.reset_nosigs_days)),
            ("ResetNosigsHrs", n(i.reset_nosigs_hrs)),
            ("ResetNosigsMins", n(i.reset_nosigs_mins)),
            ("InstallDateTime", t(i.install_date_time)),
            ("PanelName", t(i.panel_name)),
            ("PanelSite", t(i.panel_site)),
            ("KeypadLocation", t(i.keypad_location)),
            ("SPPage", t(i.sp_page)),
        ])?;
        let zones = self
            .zones
            .into_values()
            .map(|z| {
                ZoneParts::from_named([
                    ("Zone_No", n(z.no)),
                    ("Zone_area", t(z.area)),
                    ("ModuleNo", n(z.module_no)),
                ])
            })
            .collect::<Result<_, _>>()?;
        let users = self
            .users
            .into_values()
            .map(|u| {
                NewUser::from_named([
                    ("UserNo", n(u.no)),
                    ("User_Name", t(u.name)),
                    ("MobileNo", t(u.mobile_no)),
                    ("MobileNoOrder", n(u.mobile_no_order)),
                    ("Email", t(u.email)),
                    ("Type", t(u.user_type)),
                    ("Instructions", t(u.instructions)),
                    ("CallOrder", n(u.call_order)),
                ])
            })
            .collect::<Result<_, _>>()?;
        Client::from_parts(self.id, self.created_on, info, zones, users)
    }
}
