//! Rendering a client as Patriot import XML (`xml.md`). Pure: bytes in memory, no files.

use std::borrow::Cow;
use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::client::{Client, ClientInfo, User};
use super::fields::UserNo;
use super::tenant::Tenant;

type XmlWriter = Writer<Vec<u8>>;

/// Escapes text content: `&`, `<`, `>` as entities, and CR as `&#13;` so that CRLF text
/// survives an XML parser's line-end normalisation.
fn escape_text(value: &str) -> Cow<'_, str> {
    let escaped = quick_xml::escape::partial_escape(value);
    if escaped.contains('\r') {
        Cow::Owned(escaped.replace('\r', "&#13;"))
    } else {
        escaped
    }
}

fn text(w: &mut XmlWriter, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::from_escaped(escape_text(value)))?;
    Ok(())
}

fn number(w: &mut XmlWriter, name: &str, value: impl Into<u64>) -> io::Result<()> {
    text(w, name, &value.into().to_string())
}

/// Booleans in the spelling Patriot's importer expects.
fn boolean(w: &mut XmlWriter, name: &str, value: bool) -> io::Result<()> {
    text(w, name, if value { "True" } else { "False" })
}

/// A whole document holding one client row.
pub fn render_client_document(tenant: &Tenant, client: &Client) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::with_capacity(4096), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.create_element("Clients")
        .write_inner_content(|w| write_client_row(w, tenant, client))?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

fn write_client_row(w: &mut XmlWriter, tenant: &Tenant, client: &Client) -> io::Result<()> {
    w.create_element("Client").write_inner_content(|w| {
        text(w, "__id", &tenant.patriot_id(client.id))?;
        write_info(w, &client.info)?;
        for (name, value) in &tenant.xml_fields {
            text(w, name.as_str(), value.as_str())?;
        }
        w.create_element("Zones").write_inner_content(|w| {
            for zone in client.zones() {
                w.create_element("Zone").write_inner_content(|w| {
                    number(w, "Zone_No", zone.no.get())?;
                    text(w, "Zone_area", zone.area.as_str())?;
                    number(w, "ModuleNo", zone.module_no.get())
                })?;
            }
            Ok(())
        })?;
        w.create_element("Users").write_inner_content(|w| {
            for user in client.users() {
                write_user(w, user)?;
            }
            write_installer(w, tenant)
        })?;
        Ok(())
    })?;
    Ok(())
}

/// The info fields in the order of the table in `api.md` §3.
fn write_info(w: &mut XmlWriter, i: &ClientInfo) -> io::Result<()> {
    text(w, "Name", i.name.as_str())?;
    text(w, "Alias", i.alias.as_str())?;
    text(w, "Location", i.location.as_str())?;
    text(w, "area_code", i.area_code.as_str())?;
    text(w, "area", i.area.as_str())?;
    text(w, "BusPhone", i.bus_phone.as_str())?;
    text(w, "Email", i.email.as_str())?;
    text(w, "OKPassword", i.ok_password.as_str())?;
    text(w, "SpecRequest", i.spec_request.as_str())?;
    number(w, "NoSigsMon", i.no_sigs_mon.get())?;
    number(w, "SinceDays", i.since_days.get())?;
    number(w, "SinceHrs", i.since_hrs.get())?;
    number(w, "SinceMins", i.since_mins.get())?;
    boolean(w, "ResetNosigsIgnored", i.reset_nosigs_ignored)?;
    number(w, "ResetNosigsDays", i.reset_nosigs_days.get())?;
    number(w, "ResetNosigsHrs", i.reset_nosigs_hrs.get())?;
    number(w, "ResetNosigsMins", i.reset_nosigs_mins.get())?;
    text(w, "InstallDateTime", i.install_date_time.as_str())?;
    text(w, "PanelName", i.panel_name.as_str())?;
    text(w, "PanelSite", i.panel_site.as_str())?;
    text(w, "KeypadLocation", i.keypad_location.as_str())?;
    text(w, "SPPage", i.sp_page.as_str())
}

fn write_user(w: &mut XmlWriter, u: &User) -> io::Result<()> {
    w.create_element("User").write_inner_content(|w| {
        number(w, "UserNo", u.no.get())?;
        text(w, "User_Name", u.name.as_str())?;
        text(w, "MobileNo", u.mobile_no.as_str())?;
        number(w, "MobileNoOrder", u.mobile_no_order.get())?;
        text(w, "Email", u.email.as_str())?;
        text(w, "Type", &u.user_type.as_char().to_string())?;
        text(w, "Instructions", u.instructions.as_str())?;
        number(w, "CallOrder", u.call_order.get())
    })?;
    Ok(())
}

/// The installer user 199, always last; Patriot matches it by name and e-mail.
fn write_installer(w: &mut XmlWriter, tenant: &Tenant) -> io::Result<()> {
    w.create_element("User").write_inner_content(|w| {
        text(w, "User_Name", tenant.installer_name.as_str())?;
        text(w, "Email", tenant.installer_email.as_str())?;
        number(w, "UserNo", UserNo::INSTALLER)?;
        number(w, "CallOrder", 0u16)?;
        text(w, "Type", "N")
    })?;
    Ok(())
}
