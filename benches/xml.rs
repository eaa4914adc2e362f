//! The pure parts: rendering a large client, its stored record written and read, reading
//! rows back from a large file.

use criterion::{criterion_group, criterion_main, Criterion};

use patriot_api::adapters::sled_store::record;
use patriot_api::domain::client::{Client, ClientInfo, ClientInfoPatch, User, Zone};
use patriot_api::domain::fields::{
    Bounded, ClientId, Email, InstallDate, Phone, Text, UserNo, UserType, ZoneNo,
};
use patriot_api::domain::rows::read_rows;
use patriot_api::domain::tenant::{KeyName, PortCode, Tenant, XmlName, XmlText};
use patriot_api::domain::xml::render_client_document;

fn text<const MIN: usize, const MAX: usize>(v: &str) -> Text<MIN, MAX> {
    Text::new(v.to_owned()).expect("valid text")
}

fn tenant() -> Tenant {
    Tenant {
        key_name: KeyName::new("Alarm24").expect("name"),
        port: PortCode::new("BASE11").expect("port"),
        installer_name: XmlText::new("Østfold Sikkerhetsservice AS").expect("text"),
        installer_email: XmlText::new("installer@email.com").expect("text"),
        xml_fields: (0..10)
            .map(|i| {
                (
                    XmlName::new(&format!("Field{i}")).expect("name"),
                    XmlText::new("True").expect("text"),
                )
            })
            .collect(),
    }
}

/// A client with `zones` zones and `users` users.
fn client_with(zones: i64, users: i64) -> Client {
    let date = InstallDate::new("2023-02-20".into()).expect("date");
    let patch = ClientInfoPatch {
        name: Some(text("Ola Nordmann & Sønn")),
        spec_request: Some(text("Ring nøkkelholder <straks>.\r\nDeretter politi.")),
        ..Default::default()
    };
    let mut client = Client::new(
        ClientId::new(9998).expect("id"),
        date.clone(),
        ClientInfo::replaced_by(patch, &date).expect("info"),
    );
    for z in 1..=zones {
        client.put_zone(Zone {
            no: ZoneNo::new(z).expect("zone"),
            area: text(&format!("Sone {z} æøå")),
            module_no: Bounded::default(),
        });
    }
    for u in 1..=users {
        client
            .add_user(User {
                no: UserNo::for_new_user(u).expect("user"),
                name: text(&format!("Bruker {u}")),
                mobile_no: Phone::new("+4712345678".into()).expect("phone"),
                mobile_no_order: Bounded::new(1).expect("order"),
                email: Email::new("user@example.no".into()).expect("email"),
                user_type: UserType::default(),
                instructions: text("Ring først"),
                call_order: Bounded::new(u).expect("order"),
            })
            .expect("new user");
    }
    client
}

fn benches(c: &mut Criterion) {
    let (tenant, client) = (tenant(), client_with(50, 20));
    c.bench_function("render client with 50 zones and 20 users", |b| {
        b.iter(|| render_client_document(&tenant, &client))
    });
    // The stored record, written on every write and read on every read and write.
    let stored = record::encode(&client).expect("encode");
    c.bench_function("encode record of 50 zones and 20 users", |b| {
        b.iter(|| record::encode(&client).expect("encode"))
    });
    c.bench_function("decode record of 50 zones and 20 users", |b| {
        b.iter(|| record::decode(&stored).expect("decode"))
    });
    // A file of 10,000 typical rows (two zones, one user each).
    let row = render_client_document(&tenant, &client_with(2, 1));
    let text = String::from_utf8(row).expect("utf-8");
    let start = text.find("<Client>").expect("row");
    let end = text.rfind("</Clients>").expect("end");
    let one = &text[start..end];
    let mut file = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Clients>\n");
    for i in 0..10_000 {
        file.push_str(&one.replacen("9998BASE11", &format!("{i}BASE11"), 1));
    }
    file.push_str("</Clients>\n");
    c.bench_function("read rows from a 10,000-row file", |b| {
        b.iter(|| assert_eq!(read_rows(file.as_bytes()).expect("rows").len(), 10_000))
    });
}

criterion_group!(xml, benches);
criterion_main!(xml);
