//! Rendering a client as Patriot import XML (`xml.md`). Pure: bytes in memory, no files.

use std::borrow::Cow;
use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use super::client::Client;
use super::field_set::Fields;
use super::fields::{FieldValue, UserNo};
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

fn number(w: &mut XmlWriter, name: &str, value: impl Into<i64>) -> io::Result<()> {
    text(w, name, &value.into().to_string())
}

/// One declared field: text as is, numbers in decimal, booleans in the spelling Patriot's
/// importer expects.
fn field(w: &mut XmlWriter, name: &str, value: FieldValue<'_>) -> io::Result<()> {
    match value {
        FieldValue::Text(t) => text(w, name, &t),
        FieldValue::Integer(n) => number(w, name, n),
        FieldValue::Flag(b) => text(w, name, if b { "True" } else { "False" }),
    }
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
        client
            .info
            .try_for_each_field(|name, value| field(w, name, value))?;
        for (name, value) in &tenant.xml_fields {
            text(w, name.as_str(), value.as_str())?;
        }
        w.create_element("Zones").write_inner_content(|w| {
            for zone in client.zones() {
                w.create_element("Zone").write_inner_content(|w| {
                    zone.try_for_each_field(|name, value| field(w, name, value))
                })?;
            }
            Ok(())
        })?;
        w.create_element("Users").write_inner_content(|w| {
            for user in client.users() {
                w.create_element("User").write_inner_content(|w| {
                    user.try_for_each_field(|name, value| field(w, name, value))
                })?;
            }
            write_installer(w, tenant)
        })?;
        Ok(())
    })?;
    Ok(())
}

/// The installer user 199, always last; Patriot matches it by name and e-mail.
fn write_installer(w: &mut XmlWriter, tenant: &Tenant) -> io::Result<()> {
    w.create_element("User").write_inner_content(|w| {
        text(w, "User_Name", tenant.installer_name.as_str())?;
        text(w, "Email", tenant.installer_email.as_str())?;
        number(w, "UserNo", UserNo::INSTALLER)?;
        number(w, "CallOrder", 0)?;
        text(w, "Type", "N")
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{ClientInfo, ClientInfoPatch, User, Zone};
    use crate::domain::fields::{
        Bounded, ClientId, Email, InstallDate, Phone, Text, UserNo, UserType, ZoneNo,
    };
    use crate::domain::tenant::{KeyName, PortCode, XmlName, XmlText};

    const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/client.xml");

    fn tenant() -> Tenant {
        let field = |n: &str, v: &str| (XmlName::new(n).unwrap(), XmlText::new(v).unwrap());
        Tenant {
            key_name: KeyName::new("Alarm24").unwrap(),
            port: PortCode::new("BASE11").unwrap(),
            installer_name: XmlText::new("Østfold Sikkerhetsservice AS").unwrap(),
            installer_email: XmlText::new("installer@email.com").unwrap(),
            xml_fields: vec![
                field("InstallerName", "Østfold Sikkerhetsservice AS"),
                field("UseCallout1", "True"),
                field("Callout1", "TLF01BASE01"),
                field("EventTemplate", "CID4BASE01"),
                field("ClientGroupings", "Alarm24 & <Tilgang>"),
            ],
        }
    }

    fn text<const MIN: usize, const MAX: usize>(v: &str) -> Text<MIN, MAX> {
        Text::new(v.to_owned()).unwrap()
    }

    fn full_client() -> Client {
        let patch = ClientInfoPatch {
            name: Some(text("Ola Nordmann & Sønn <AS>")),
            location: Some(text("Produksjonsveien 13")),
            area_code: Some(text("1604")),
            area: Some(text("Fredrikstad")),
            bus_phone: Some(Phone::new("69310000".into()).unwrap()),
            email: Some(Email::new("post@ostsik.no".into()).unwrap()),
            ok_password: Some(text("franzjäger")),
            spec_request: Some(text("Linje 1\r\nLinje 2 æøå")),
            no_sigs_mon: Some(Bounded::new(1).unwrap()),
            since_days: Some(Bounded::new(1).unwrap()),
            since_mins: Some(Bounded::new(30).unwrap()),
            reset_nosigs_ignored: Some(true),
            reset_nosigs_days: Some(Bounded::new(7).unwrap()),
            install_date_time: Some(InstallDate::new("2023-02-20".into()).unwrap()),
            panel_name: Some(text("Ajax")),
            panel_site: Some(text("Stue")),
            keypad_location: Some(text("Inngang")),
            sp_page: Some(text("Ekstra informasjon som kan være relevant.")),
            ..Default::default()
        };
        let created = InstallDate::new("2024-01-01".into()).unwrap();
        let info = ClientInfo::replaced_by(patch, &created).unwrap();
        let mut client = Client::new(ClientId::new(9998).unwrap(), created, info);
        for (no, area) in [(2, "Stue"), (1, "Inngang")] {
            client.put_zone(Zone {
                no: ZoneNo::new(no).unwrap(),
                area: text(area),
                module_no: Bounded::default(),
            });
        }
        for (no, name) in [(200, "Siste Bruker"), (1, "User Number 1")] {
            client
                .add_user(User {
                    no: UserNo::for_new_user(no).unwrap(),
                    name: text(name),
                    mobile_no: Phone::new("+4712345678".into()).unwrap(),
                    mobile_no_order: Bounded::new(1).unwrap(),
                    email: Email::new("user@email.com".into()).unwrap(),
                    user_type: UserType::default(),
                    instructions: text("Optional"),
                    call_order: Bounded::default(),
                })
                .unwrap();
        }
        client
    }

    #[test]
    fn full_client_matches_the_golden_file() {
        let xml = render_client_document(&tenant(), &full_client()).unwrap();
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(GOLDEN, &xml).unwrap();
        }
        let golden = std::fs::read(GOLDEN).expect("golden file (UPDATE_GOLDEN=1 writes it)");
        assert_eq!(
            String::from_utf8_lossy(&xml),
            String::from_utf8_lossy(&golden)
        );
    }

    #[test]
    fn carriage_returns_survive_a_parser() {
        let xml = render_client_document(&tenant(), &full_client()).unwrap();
        let mut reader = quick_xml::Reader::from_reader(xml.as_slice());
        let mut buf = Vec::new();
        let mut in_spec = false;
        loop {
            match reader.read_event_into(&mut buf).unwrap() {
                Event::Start(e) if e.name().as_ref() == b"SpecRequest" => in_spec = true,
                Event::Text(t) if in_spec => {
                    assert_eq!(t.unescape().unwrap(), "Linje 1\r\nLinje 2 æøå");
                    return;
                }
                Event::Eof => panic!("no SpecRequest"),
                _ => {}
            }
            buf.clear();
        }
    }
}

#[cfg(test)]
mod properties {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;
    use crate::domain::client::{ClientInfo, ClientInfoPatch};
    use crate::domain::fields::{Bounded, ClientId, Email, InstallDate, Phone, Text};
    use crate::domain::tenant::{KeyName, PortCode, XmlText};

    /// Text as installers type it: Norwegian letters, markup characters, line ends, emoji.
    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                proptest::char::range('a', 'z'),
                Just('æ'),
                Just('ø'),
                Just('å'),
                Just('Å'),
                Just('&'),
                Just('<'),
                Just('>'),
                Just('"'),
                Just('\''),
                Just('\r'),
                Just('\n'),
                Just('\t'),
                Just(' '),
                Just('🚨'),
                Just(';'),
                Just('#'),
            ],
            0..max,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    /// The text of every direct child of the row, by element name.
    fn row_values(xml: &[u8]) -> HashMap<String, String> {
        let mut reader = quick_xml::Reader::from_reader(xml);
        let mut values = HashMap::new();
        let mut depth = 0;
        let mut current: Option<String> = None;
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf).unwrap() {
                Event::Start(e) => {
                    depth += 1;
                    if depth == 3 {
                        let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
                        values.insert(name.clone(), String::new());
                        current = Some(name);
                    }
                }
                Event::Text(t) if depth == 3 => {
                    if let Some(name) = &current {
                        values
                            .get_mut(name)
                            .unwrap()
                            .push_str(&t.unescape().unwrap());
                    }
                }
                Event::End(_) => {
                    depth -= 1;
                    current = None;
                }
                Event::Eof => return values,
                _ => {}
            }
            buf.clear();
        }
    }

    proptest! {
        #[test]
        fn any_valid_client_parses_back_to_its_values(
            name in text(40).prop_filter("Name needs a character", |s| !s.is_empty()),
            location in text(40),
            request in text(200),
            hours in 0i64..=23,
            days in 0i64..=999,
            ignored in any::<bool>(),
            phone_digits in "[0-9]{3,12}",
        ) {
            let patch = ClientInfoPatch {
                name: Some(Text::new(name.clone()).unwrap()),
                location: Some(Text::new(location.clone()).unwrap()),
                spec_request: Some(Text::new(request.clone()).unwrap()),
                since_hrs: Some(Bounded::new(hours).unwrap()),
                since_days: Some(Bounded::new(days).unwrap()),
                reset_nosigs_ignored: Some(ignored),
                bus_phone: Some(Phone::new(format!("+{phone_digits}")).unwrap()),
                email: Some(Email::new("a@b.no".into()).unwrap()),
                ..Default::default()
            };
            let date = InstallDate::new("2024-02-29".into()).unwrap();
            let client = Client::new(ClientId::new(7).unwrap(), date.clone(), ClientInfo::replaced_by(patch, &date).unwrap());
            let tenant = Tenant {
                key_name: KeyName::new("T").unwrap(),
                port: PortCode::new("P1").unwrap(),
                installer_name: XmlText::new("I").unwrap(),
                installer_email: XmlText::new("i@i.no").unwrap(),
                xml_fields: vec![],
            };
            let xml = render_client_document(&tenant, &client).unwrap();
            let values = row_values(&xml);
            prop_assert_eq!(&values["__id"], "7P1");
            prop_assert_eq!(&values["Name"], &name);
            prop_assert_eq!(&values["Location"], &location);
            prop_assert_eq!(&values["SpecRequest"], &request);
            prop_assert_eq!(&values["SinceHrs"], &hours.to_string());
            prop_assert_eq!(&values["SinceDays"], &days.to_string());
            prop_assert_eq!(&values["ResetNosigsIgnored"], if ignored { "True" } else { "False" });
            prop_assert_eq!(&values["BusPhone"], &format!("+{phone_digits}"));
            prop_assert_eq!(&values["InstallDateTime"], "2024-02-29");
        }
    }
}
