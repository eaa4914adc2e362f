//! The stored form of a client, owned by this adapter and separate from the domain model.
//!
//! The first byte names the layout:
//! - `2` (written now): postcard of [`ClientRecord`], each field stored with its name (its
//!   JSON key and XML tag). A field absent from a record takes its default when it is read:
//!   so a field added to the domain needs nothing for older records, and a field that holds
//!   its default is not stored at all (records written before that rule hold every field,
//!   and read the same). A field removed or renamed needs a step in [`decode`] that maps the
//!   old name. No migration pass over the database is needed.
//! - `1`: postcard of the positional layout of version 0.1.0 ([`ClientV1`]); read only.
//! - `{`: JSON of that same layout, from before postcard; read only.
//!
//! `tests/golden/` holds one record of each layout; the tests below read them back.

use serde::{Deserialize, Serialize};

use crate::adapters::client_v1::ClientV1;
use crate::domain::client::Client;
use crate::domain::field_set::{Fields, PartialFields};
use crate::domain::fields::FieldValue;

const NAMED_V2: u8 = 2;
const POSTCARD_V1: u8 = 1;

/// A value as stored; the variant order is part of the layout and must not change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StoredValue {
    Text(String),
    Integer(i64),
    Flag(bool),
}

/// Field names are borrowed from the bytes when reading (postcard writes `&str` and `String`
/// alike): a read allocates only the values it keeps.
type NamedValues<'a> = Vec<(&'a str, StoredValue)>;

/// Layout 2. The field order of this struct is part of the layout and must not change;
/// a new top-level part goes at the end, with a new version byte.
#[derive(Debug, Serialize, Deserialize)]
struct ClientRecord<'a> {
    id: u32,
    created_on: String,
    #[serde(borrow)]
    info: NamedValues<'a>,
    #[serde(borrow)]
    zones: Vec<NamedValues<'a>>,
    #[serde(borrow)]
    users: Vec<NamedValues<'a>>,
}

/// The fields a record keeps: a field that holds its default is left out, since reading a
/// record without it gives it that default (the same rule that lets a field be added).
fn named(record: &impl Fields) -> NamedValues<'static> {
    let mut out = Vec::with_capacity(24);
    let _ = record.try_for_each_kept_field(|name, value| {
        out.push((name, stored(value)));
        Ok::<_, ()>(())
    });
    out
}

fn stored(value: FieldValue<'_>) -> StoredValue {
    match value {
        FieldValue::Text(t) => StoredValue::Text(t.into_owned()),
        FieldValue::Integer(n) => StoredValue::Integer(n),
        FieldValue::Flag(b) => StoredValue::Flag(b),
    }
}

/// The values are moved into the client, not copied.
fn partial<P: PartialFields>(values: NamedValues<'_>) -> Result<P, String> {
    P::from_named(values.into_iter().map(|(name, value)| {
        let value = match value {
            StoredValue::Text(t) => FieldValue::Text(t.into()),
            StoredValue::Integer(n) => FieldValue::Integer(n),
            StoredValue::Flag(b) => FieldValue::Flag(b),
        };
        (name, value)
    }))
}

/// The bytes of a client, in the current layout.
pub fn encode(client: &Client) -> Result<Vec<u8>, String> {
    let record = ClientRecord {
        id: client.id.get(),
        created_on: client.created_on.as_str().to_owned(),
        info: named(&client.info),
        zones: client.zones().map(named).collect(),
        users: client.users().map(named).collect(),
    };
    let mut bytes = vec![NAMED_V2];
    postcard::to_io(&record, &mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// A client from the bytes of any layout this version reads.
pub fn decode(bytes: &[u8]) -> Result<Client, String> {
    match bytes.split_first() {
        Some((&NAMED_V2, rest)) => {
            let record: ClientRecord = postcard::from_bytes(rest).map_err(|e| e.to_string())?;
            from_record(record)
        }
        Some((&POSTCARD_V1, rest)) => postcard::from_bytes::<ClientV1>(rest)
            .map_err(|e| e.to_string())?
            .into_client(),
        Some((b'{', _)) => serde_json::from_slice::<ClientV1>(bytes)
            .map_err(|e| e.to_string())?
            .into_client(),
        _ => Err("unknown record layout".into()),
    }
}

fn from_record(record: ClientRecord) -> Result<Client, String> {
    Client::from_parts(
        record.id.into(),
        record.created_on,
        partial(record.info)?,
        record
            .zones
            .into_iter()
            .map(partial)
            .collect::<Result<_, _>>()?,
        record
            .users
            .into_iter()
            .map(partial)
            .collect::<Result<_, _>>()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::sample_client_full;

    const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

    fn golden(name: &str) -> Vec<u8> {
        std::fs::read(format!("{GOLDEN}/{name}")).unwrap()
    }

    /// Bytes written by version 0.1.0 (postcard, positional) and by its predecessor (JSON)
    /// are read as the same client as layout 2 holds.
    #[test]
    fn every_golden_record_reads_as_the_same_client() {
        let expected = sample_client_full();
        for name in [
            "record-v1.postcard",
            "record-v0.json",
            "record-v2.postcard",
            "record-v2-kept.postcard",
        ] {
            assert_eq!(decode(&golden(name)).unwrap(), expected, "{name}");
        }
    }

    /// Layout 2 is what the code writes now: a change to it shows here, and needs a new golden
    /// file (and the old one kept) rather than an edit. `record-v2.postcard` was written when
    /// every field was stored; `record-v2-kept.postcard` since fields at their default are not.
    #[test]
    fn the_current_layout_is_the_committed_one() {
        assert_eq!(
            encode(&sample_client_full()).unwrap(),
            golden("record-v2-kept.postcard")
        );
    }

    /// A field at its default is not stored, and the client reads back whole: a client with
    /// only a name keeps a fraction of the fields, and the same client with every field
    /// stored (as records were written before) reads the same.
    #[test]
    fn fields_at_their_default_are_not_stored() {
        let client = crate::domain::client::sample_client(9, "Ola");
        let bytes = encode(&client).unwrap();
        let record: ClientRecord = postcard::from_bytes(&bytes[1..]).unwrap();
        let names: Vec<&str> = record.info.iter().map(|(n, _)| *n).collect();
        assert!(
            names.contains(&"Name") && !names.contains(&"Alias"),
            "{names:?}"
        );
        assert!(
            names.len() < crate::domain::client::ClientInfo::NAMES.len() / 2,
            "{names:?}"
        );
        assert_eq!(decode(&bytes).unwrap(), client);

        let full = ClientRecord {
            id: client.id.get(),
            created_on: client.created_on.as_str().to_owned(),
            info: every_field(&client.info),
            zones: client.zones().map(every_field).collect(),
            users: client.users().map(every_field).collect(),
        };
        assert_eq!(from_record(full).unwrap(), client);
    }

    fn every_field(record: &impl Fields) -> NamedValues<'static> {
        let mut out = Vec::new();
        let _ = record.try_for_each_field(|name, value| {
            out.push((name, stored(value)));
            Ok::<_, ()>(())
        });
        out
    }

    /// What a record written before a field existed looks like: the field is absent. It is
    /// read with the field at its default, as a new field would be.
    #[test]
    fn a_record_without_a_field_reads_with_its_default() {
        let bytes = golden("record-v2.postcard");
        let mut record: ClientRecord = postcard::from_bytes(&bytes[1..]).unwrap();
        record.info.retain(|(name, _)| *name != "SPPage");
        record
            .users
            .iter_mut()
            .for_each(|u| u.retain(|(n, _)| *n != "MobileNoOrder"));
        let client = from_record(record).unwrap();
        assert_eq!(client.info.sp_page.as_str(), "");
        assert!(client.users().all(|u| u.mobile_no_order.get() == 0));
        assert_eq!(client.info.name, sample_client_full().info.name);
    }

    #[test]
    fn clients_round_trip() {
        for client in [
            sample_client_full(),
            crate::domain::client::sample_client(9, "Ola æøå"),
        ] {
            let bytes = encode(&client).unwrap();
            assert_eq!(bytes[0], NAMED_V2);
            assert_eq!(decode(&bytes).unwrap(), client);
        }
    }

    #[test]
    fn unknown_fields_and_bad_values_are_refused() {
        let bytes = golden("record-v2.postcard");
        let mut record: ClientRecord = postcard::from_bytes(&bytes[1..]).unwrap();
        record.info.push(("FutureField", StoredValue::Flag(true)));
        assert!(from_record(record).unwrap_err().contains("FutureField"));
        assert!(decode(&[9, 1, 2]).is_err());
        assert!(decode(&[]).is_err());
    }
}
