//! The backup file of `patriot-api export` / `import`: every tenant's clients as JSON, in a
//! layout owned here and kept apart from the domain model and from sled's records.
//!
//! Version 2 (written now) names every field as the API does (`info.Name`, `zones[].Zone_No`,
//! `users[].UserNo`), so a field added later is simply absent from older files and takes its
//! default on import. Version 1 (written by 0.1.0: the serde form of that version's domain
//! types) is still read. `tests/golden/export-v1.json` and `export-v2.json` pin both.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::adapters::client_v1::ClientV1;
use crate::domain::client::Client;
use crate::domain::field_set::{Fields, PartialFields};
use crate::domain::fields::FieldValue;
use crate::domain::tenant::KeyName;

const FORMAT: &str = "patriot-api-export";
const VERSION: u32 = 2;

/// Every tenant's clients, tenants by name.
pub type Tenants = Vec<(KeyName, Vec<Client>)>;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Export<C> {
    format: String,
    version: u32,
    tenants: Vec<TenantExport<C>>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantExport<C> {
    key_name: String,
    clients: Vec<C>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientV2 {
    client_id: u32,
    created_on: String,
    info: Map<String, Value>,
    zones: Vec<Map<String, Value>>,
    users: Vec<Map<String, Value>>,
}

/// Only the header, to choose the layout of the rest.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
}

fn object(record: &impl Fields) -> Map<String, Value> {
    let mut map = Map::new();
    let _ = record.try_for_each_field(|name, value| {
        let value = match value {
            FieldValue::Text(t) => Value::from(t.into_owned()),
            FieldValue::Integer(n) => Value::from(n),
            FieldValue::Flag(b) => Value::from(b),
        };
        map.insert(name.to_owned(), value);
        Ok::<_, ()>(())
    });
    map
}

fn partial<P: PartialFields>(map: &Map<String, Value>) -> Result<P, String> {
    let mut values = Vec::with_capacity(map.len());
    for (name, value) in map {
        let value = match value {
            Value::String(s) => FieldValue::Text(s.as_str().into()),
            Value::Bool(b) => FieldValue::Flag(*b),
            Value::Number(n) => match n.as_i64() {
                Some(n) => FieldValue::Integer(n),
                None => return Err(format!("{name} is not an integer")),
            },
            _ => return Err(format!("{name} must be a string, an integer or a boolean")),
        };
        values.push((name.as_str(), value));
    }
    P::from_named(values)
}

/// The export of `tenants`, as pretty JSON ending in a newline.
pub fn to_json(tenants: &Tenants) -> Result<Vec<u8>, String> {
    let export = Export {
        format: FORMAT.into(),
        version: VERSION,
        tenants: tenants
            .iter()
            .map(|(key_name, clients)| TenantExport {
                key_name: key_name.as_str().to_owned(),
                clients: clients
                    .iter()
                    .map(|c| ClientV2 {
                        client_id: c.id.get(),
                        created_on: c.created_on.as_str().to_owned(),
                        info: object(&c.info),
                        zones: c.zones().map(object).collect(),
                        users: c.users().map(object).collect(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let mut json = serde_json::to_vec_pretty(&export).map_err(|e| e.to_string())?;
    json.push(b'\n');
    Ok(json)
}

fn client_v2(c: ClientV2) -> Result<Client, String> {
    Client::from_parts(
        c.client_id.into(),
        c.created_on,
        partial(&c.info)?,
        c.zones.iter().map(partial).collect::<Result<_, _>>()?,
        c.users.iter().map(partial).collect::<Result<_, _>>()?,
    )
}

fn tenants<C>(
    export: Export<C>,
    convert: impl Fn(C) -> Result<Client, String>,
) -> Result<Tenants, String> {
    let mut out = Vec::with_capacity(export.tenants.len());
    for tenant in export.tenants {
        let key_name = KeyName::new(&tenant.key_name)
            .map_err(|e| format!("key_name {:?} {e}", tenant.key_name))?;
        let mut clients = Vec::with_capacity(tenant.clients.len());
        for client in tenant.clients {
            clients.push(convert(client).map_err(|e| format!("a client of {key_name}: {e}"))?);
        }
        out.push((key_name, clients));
    }
    Ok(out)
}

/// The tenants of an export of version 1 or 2; every value is validated.
pub fn from_json(bytes: &[u8]) -> Result<Tenants, String> {
    let header: Header = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if header.format != FORMAT {
        return Err(format!("not a {FORMAT} file"));
    }
    match header.version {
        1 => tenants(
            serde_json::from_slice::<Export<ClientV1>>(bytes).map_err(|e| e.to_string())?,
            ClientV1::into_client,
        ),
        2 => tenants(
            serde_json::from_slice::<Export<ClientV2>>(bytes).map_err(|e| e.to_string())?,
            client_v2,
        ),
        v => Err(format!(
            "version {v} is not one this program reads (1 or 2)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::sample_client_full;

    fn golden(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/golden/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn sample() -> Tenants {
        vec![(KeyName::new("Alarm24").unwrap(), vec![sample_client_full()])]
    }

    #[test]
    fn an_export_of_version_1_reads_as_the_same_clients() {
        assert_eq!(from_json(&golden("export-v1.json")).unwrap(), sample());
    }

    #[test]
    fn version_2_is_the_committed_layout_and_round_trips() {
        let json = to_json(&sample()).unwrap();
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            String::from_utf8(golden("export-v2.json")).unwrap()
        );
        assert_eq!(from_json(&json).unwrap(), sample());
    }

    #[test]
    fn a_client_without_a_field_imports_with_its_default() {
        let text = String::from_utf8(golden("export-v2.json")).unwrap();
        let without = text.replace("\"Alias\": \"Ola\",\n", "");
        assert_ne!(without, text);
        let tenants = from_json(without.as_bytes()).unwrap();
        assert_eq!(tenants[0].1[0].info.alias.as_str(), "");
    }

    #[test]
    fn unknown_versions_and_fields_are_refused() {
        let text = String::from_utf8(golden("export-v2.json")).unwrap();
        assert!(from_json(text.replace("\"version\": 2", "\"version\": 3").as_bytes()).is_err());
        let typo = text.replace("\"Alias\"", "\"Alais\"");
        assert!(from_json(typo.as_bytes()).unwrap_err().contains("Alais"));
    }
}
