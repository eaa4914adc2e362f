//! Rendering a client as Patriot import XML (`xml.md`). Pure: bytes in memory, no files.

use std::borrow::Cow;
use std::convert::Infallible;

use super::client::Client;
use super::field_set::Fields;
use super::fields::{FieldValue, UserNo};
use super::tenant::Tenant;

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

/// The document has one fixed shape: nested elements, each on its own line, indented two
/// spaces a level, text only in the innermost ones. It is written straight into the buffer:
/// quick-xml's event writer took more than twice as long for the same bytes (its
/// per-element state and indentation bookkeeping; `benches/xml.rs`, bench/notes.md ninth
/// part), and a zone update renders the whole client. Escaping stays quick-xml's.
struct Document {
    out: Vec<u8>,
}

impl Document {
    fn indent(&mut self, depth: usize) {
        self.out.extend(std::iter::repeat_n(b' ', depth * 2));
    }

    fn open(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        self.start_tag(name);
        self.out.push(b'\n');
    }

    fn close(&mut self, depth: usize, name: &str) {
        self.indent(depth);
        self.end_tag(name);
    }

    fn start_tag(&mut self, name: &str) {
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    fn end_tag(&mut self, name: &str) {
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b">\n");
    }

    /// `<name>value</name>` on one line, the value escaped.
    fn text(&mut self, depth: usize, name: &str, value: &str) {
        self.indent(depth);
        self.start_tag(name);
        self.out.extend_from_slice(escape_text(value).as_bytes());
        self.end_tag(name);
    }

    /// Digits need no escaping.
    fn number(&mut self, depth: usize, name: &str, value: impl Into<i64>) {
        self.indent(depth);
        self.start_tag(name);
        self.out
            .extend_from_slice(itoa::Buffer::new().format(value.into()).as_bytes());
        self.end_tag(name);
    }

    /// One declared field: text as is, numbers in decimal, booleans in the spelling
    /// Patriot's importer expects.
    fn field(&mut self, depth: usize, name: &str, value: FieldValue<'_>) {
        match value {
            FieldValue::Text(t) => self.text(depth, name, &t),
            FieldValue::Integer(n) => self.number(depth, name, n),
            FieldValue::Flag(b) => self.text(depth, name, if b { "True" } else { "False" }),
        }
    }

    fn fields(&mut self, depth: usize, record: &impl Fields) {
        let _ = record.try_for_each_field(|name, value| {
            self.field(depth, name, value);
            Ok::<_, Infallible>(())
        });
    }
}

/// A whole document holding one client row.
pub fn render_client_document(tenant: &Tenant, client: &Client) -> Vec<u8> {
    // Room for the usual zone and user rows, so that a large client is not copied as the
    // buffer grows.
    let rows = client.zones().count() * 110 + client.users().count() * 300;
    let mut doc = Document {
        out: Vec::with_capacity(4096 + rows),
    };
    doc.out
        .extend_from_slice(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    doc.open(0, "Clients");
    write_client_row(&mut doc, tenant, client);
    doc.close(0, "Clients");
    doc.out
}

fn write_client_row(doc: &mut Document, tenant: &Tenant, client: &Client) {
    doc.open(1, "Client");
    doc.text(2, "__id", &tenant.patriot_id(client.id));
    doc.fields(2, &client.info);
    for (name, value) in &tenant.xml_fields {
        doc.text(2, name.as_str(), value.as_str());
    }
    doc.open(2, "Zones");
    for zone in client.zones() {
        doc.open(3, "Zone");
        doc.fields(4, zone);
        doc.close(3, "Zone");
    }
    doc.close(2, "Zones");
    doc.open(2, "Users");
    for user in client.users() {
        doc.open(3, "User");
        doc.fields(4, user);
        doc.close(3, "User");
    }
    write_installer(doc, tenant);
    doc.close(2, "Users");
    doc.close(1, "Client");
}

/// The installer user 199, always last; Patriot matches it by name and e-mail.
fn write_installer(doc: &mut Document, tenant: &Tenant) {
    doc.open(3, "User");
    doc.text(4, "User_Name", tenant.installer_name.as_str());
    doc.text(4, "Email", tenant.installer_email.as_str());
    doc.number(4, "UserNo", UserNo::INSTALLER);
    doc.number(4, "CallOrder", 0);
    doc.text(4, "Type", "N");
    doc.close(3, "User");
}

#[cfg(test)]
mod tests {
    use quick_xml::events::Event;

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
        let xml = render_client_document(&tenant(), &full_client());
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
    fn a_client_without_zones_keeps_an_empty_zones_section() {
        let mut client = full_client();
        for no in [1, 2] {
            client.remove_zone(ZoneNo::new(no).unwrap()).unwrap();
        }
        let xml = String::from_utf8(render_client_document(&tenant(), &client)).unwrap();
        assert!(
            xml.contains("\n    <Zones>\n    </Zones>\n    <Users>\n"),
            "{xml}"
        );
        assert!(
            xml.ends_with("</Users>\n  </Client>\n</Clients>\n"),
            "{xml}"
        );
    }

    #[test]
    fn carriage_returns_survive_a_parser() {
        let xml = render_client_document(&tenant(), &full_client());
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
    use quick_xml::events::Event;

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
            let xml = render_client_document(&tenant, &client);
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
