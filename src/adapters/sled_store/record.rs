//! The stored form of a client, owned by this adapter and separate from the domain model.
//!
//! The first byte names the layout:
//! - `2` (written now): postcard, laid out as described below, each field stored with its name (its
//!   JSON key and XML tag). A field absent from a record takes its default when it is read: so a
//!   field added to the domain needs nothing for older records, and a field that holds its default
//!   is not stored at all (records written before that rule hold every field, and read the same). A
//!   field removed or renamed needs a step in [`decode`] that maps the old name. No migration pass
//!   over the database is needed.
//! - `1`: postcard of the positional layout of version 0.1.0 ([`ClientV1`]); read only.
//! - `{`: JSON of that same layout, from before postcard; read only.
//!
//! `tests/golden/` holds one record of each layout; the tests below read them back.

use std::borrow::Cow;
use std::cell::RefCell;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::adapters::client_v1::ClientV1;
use crate::domain::client::{Client, ClientInfoPatch, NewUser, ZoneParts};
use crate::domain::field_set::{Fields, PartialFields};
use crate::domain::fields::FieldValue;

const NAMED_V2: u8 = 2;
const POSTCARD_V1: u8 = 1;

// Layout 2, in postcard: the client id (varint), the creation day (string), then three sequences:
// the info's kept fields, one sequence per zone, one per user. A field is a pair of its name
// (string) and its value: the enum `StoredValue`, a varint variant index then the value. The order
// of the parts, of the variants and the field names are the layout and must not change; a new
// top-level part goes at the end, with a new version byte. The tests hold the layout as plain serde
// types (`ClientRecord`), and the code below writes and reads the same bytes field by field: no
// list of pairs is built, no text copied on writing, and each value read goes straight into the
// domain's partial record (a client of 50 zones and 20 users, `benches/xml.rs`: written in 12.2 ->
// 4.1 us, read in 25.5 -> 18.0 us).

/// The fields a record keeps: a field that holds its default is left out, since reading a
/// record without it gives it that default (the same rule that lets a field be added).
struct Kept<'a, R>(&'a R);

impl<R: Fields> Serialize for Kept<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // postcard writes a sequence's length first.
        let mut count = 0;
        let _ = self.0.try_for_each_kept_field(|_, _| {
            count += 1;
            Ok::<_, ()>(())
        });
        let mut seq = s.serialize_seq(Some(count))?;
        self.0.try_for_each_kept_field(|name, value| {
            seq.serialize_element(&(name, StoredValue::from(value)))
        })?;
        seq.end()
    }
}

/// The zones or the users, each as its kept fields; walked twice, to count them first.
struct Rows<F>(F);

impl<'a, R, I, F> Serialize for Rows<F>
where
    R: Fields + 'a,
    I: Iterator<Item = &'a R>,
    F: Fn() -> I,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0().count()))?;
        for row in self.0() {
            seq.serialize_element(&Kept(row))?;
        }
        seq.end()
    }
}

/// The bytes of a client, in the current layout.
pub fn encode(client: &Client) -> Result<Vec<u8>, String> {
    let mut bytes =
        Vec::with_capacity(256 + 48 * client.zones().count() + 160 * client.users().count());
    bytes.push(NAMED_V2);
    let record = (
        client.id.get(),
        client.created_on.as_str(),
        Kept(&client.info),
        Rows(|| client.zones()),
        Rows(|| client.users()),
    );
    postcard::to_io(&record, &mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// A value as stored; the variant order is part of the layout and must not change. Text is
/// borrowed from the client when written, and owned when read (serde reads a `Cow` owned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum StoredValue<'a> {
    Text(Cow<'a, str>),
    Integer(i64),
    Flag(bool),
}

impl<'a> From<FieldValue<'a>> for StoredValue<'a> {
    fn from(value: FieldValue<'a>) -> Self {
        match value {
            FieldValue::Text(t) => StoredValue::Text(t),
            FieldValue::Integer(n) => StoredValue::Integer(n),
            FieldValue::Flag(b) => StoredValue::Flag(b),
        }
    }
}

impl<'a> From<StoredValue<'a>> for FieldValue<'a> {
    fn from(value: StoredValue<'a>) -> Self {
        match value {
            StoredValue::Text(t) => FieldValue::Text(t),
            StoredValue::Integer(n) => FieldValue::Integer(n),
            StoredValue::Flag(b) => FieldValue::Flag(b),
        }
    }
}

/// Where the first broken field's message is kept while reading: postcard's errors drop the
/// text of a custom error, and a record that fails must say which field broke.
type FirstError = RefCell<Option<String>>;

fn refuse<E: de::Error>(first: &FirstError, message: String) -> E {
    let error = E::custom(&message);
    first.borrow_mut().get_or_insert(message);
    error
}

/// A partial record from its stored pairs, each value checked by its rule as it is set.
/// Refuses a name that is no field (a record of a newer version).
struct PartialSeed<'e, P> {
    first: &'e FirstError,
    kind: PhantomData<P>,
}

impl<'e, P> PartialSeed<'e, P> {
    fn new(first: &'e FirstError) -> Self {
        Self {
            first,
            kind: PhantomData,
        }
    }
}

impl<'de, P: PartialFields> DeserializeSeed<'de> for PartialSeed<'_, P> {
    type Value = P;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<P, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, P: PartialFields> Visitor<'de> for PartialSeed<'_, P> {
    type Value = P;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence of named values")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<P, A::Error> {
        let mut partial = P::default();
        // Field names are borrowed from the bytes: a read allocates only the values it keeps.
        while let Some((name, value)) = seq.next_element::<(&'de str, StoredValue<'static>)>()? {
            match partial.set(name, value.into()) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(refuse(self.first, format!("{name} is not a known field")))
                }
                Err(e) => return Err(refuse(self.first, format!("{name} {e}"))),
            }
        }
        Ok(partial)
    }
}

/// The zones or the users.
struct RowsSeed<'e, P>(PartialSeed<'e, P>);

impl<'de, P: PartialFields> DeserializeSeed<'de> for RowsSeed<'_, P> {
    type Value = Vec<P>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<P>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, P: PartialFields> Visitor<'de> for RowsSeed<'_, P> {
    type Value = Vec<P>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<P>, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(row) = seq.next_element_seed(PartialSeed::new(self.0.first))? {
            rows.push(row);
        }
        Ok(rows)
    }
}

/// The parts of a layout 2 record, as [`Client::from_parts`] takes them.
struct RecordSeed<'e>(&'e FirstError);

type Parts = (u32, String, ClientInfoPatch, Vec<ZoneParts>, Vec<NewUser>);

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Parts;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parts, D::Error> {
        d.deserialize_tuple(5, self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Parts;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a client record")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parts, A::Error> {
        let missing = || de::Error::invalid_length(5, &"five parts");
        let id = seq.next_element()?.ok_or_else(missing)?;
        let created_on = seq.next_element()?.ok_or_else(missing)?;
        let info = seq
            .next_element_seed(PartialSeed::new(self.0))?
            .ok_or_else(missing)?;
        let zones = seq
            .next_element_seed(RowsSeed(PartialSeed::new(self.0)))?
            .ok_or_else(missing)?;
        let users = seq
            .next_element_seed(RowsSeed(PartialSeed::new(self.0)))?
            .ok_or_else(missing)?;
        Ok((id, created_on, info, zones, users))
    }
}

/// A client from the bytes of any layout this version reads.
pub fn decode(bytes: &[u8]) -> Result<Client, String> {
    match bytes.split_first() {
        Some((&NAMED_V2, rest)) => {
            let first = FirstError::default();
            let mut input = postcard::Deserializer::from_bytes(rest);
            let (id, created_on, info, zones, users) =
                RecordSeed(&first)
                    .deserialize(&mut input)
                    .map_err(|e| first.take().unwrap_or_else(|| e.to_string()))?;
            Client::from_parts(id.into(), created_on, info, zones, users)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::sample_client_full;

    /// Layout 2 as plain serde types: what the code above writes and reads field by field.
    /// Tests build records with it that the code does not write (fields left out, unknown
    /// fields), and read them through [`decode`].
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

    type NamedValues<'a> = Vec<(&'a str, StoredValue<'static>)>;

    fn record_of(bytes: &[u8]) -> ClientRecord<'_> {
        assert_eq!(bytes[0], NAMED_V2);
        postcard::from_bytes(&bytes[1..]).unwrap()
    }

    fn bytes_of(record: &ClientRecord) -> Vec<u8> {
        let mut bytes = vec![NAMED_V2];
        postcard::to_io(record, &mut bytes).unwrap();
        bytes
    }

    /// A value as the plain layout holds it: text owned, so the record outlives the client.
    fn stored(value: FieldValue<'_>) -> StoredValue<'static> {
        match StoredValue::from(value) {
            StoredValue::Text(t) => StoredValue::Text(Cow::Owned(t.into_owned())),
            StoredValue::Integer(n) => StoredValue::Integer(n),
            StoredValue::Flag(b) => StoredValue::Flag(b),
        }
    }

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
        let record = record_of(&bytes);
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

        let full = plain_record(&client, Stored::Every);
        assert_eq!(decode(&bytes_of(&full)).unwrap(), client);
    }

    /// Which fields [`plain_record`] holds.
    #[derive(Clone, Copy)]
    enum Stored {
        Every,
        Kept,
    }

    /// The client as the plain layout, with every field or only the kept ones.
    fn plain_record(client: &Client, which: Stored) -> ClientRecord<'static> {
        fn named(record: &impl Fields, which: Stored) -> NamedValues<'static> {
            let mut out = Vec::new();
            let push = |name: &'static str, value: FieldValue<'_>| {
                out.push((name, stored(value)));
                Ok::<_, ()>(())
            };
            let _ = match which {
                Stored::Every => record.try_for_each_field(push),
                Stored::Kept => record.try_for_each_kept_field(push),
            };
            out
        }
        ClientRecord {
            id: client.id.get(),
            created_on: client.created_on.as_str().to_owned(),
            info: named(&client.info, which),
            zones: client.zones().map(|z| named(z, which)).collect(),
            users: client.users().map(|u| named(u, which)).collect(),
        }
    }

    /// What a record written before a field existed looks like: the field is absent. It is
    /// read with the field at its default, as a new field would be.
    #[test]
    fn a_record_without_a_field_reads_with_its_default() {
        let bytes = golden("record-v2.postcard");
        let mut record = record_of(&bytes);
        record.info.retain(|(name, _)| *name != "SPPage");
        record
            .users
            .iter_mut()
            .for_each(|u| u.retain(|(n, _)| *n != "MobileNoOrder"));
        let client = decode(&bytes_of(&record)).unwrap();
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
        let mut record = record_of(&bytes);
        record.info.push(("FutureField", StoredValue::Flag(true)));
        assert!(decode(&bytes_of(&record))
            .unwrap_err()
            .contains("FutureField is not a known field"));

        // A value that breaks its rule, in a zone: the error names the field.
        let mut record = record_of(&bytes);
        record.zones[0].push(("ModuleNo", StoredValue::Text("nine".into())));
        assert!(decode(&bytes_of(&record))
            .unwrap_err()
            .starts_with("ModuleNo "));

        // A record cut short, and bytes of no layout.
        assert!(decode(&bytes[..bytes.len() - 3]).is_err());
        assert!(decode(&[9, 1, 2]).is_err());
        assert!(decode(&[]).is_err());
    }

    /// The writer that goes field by field gives the bytes of the plain layout, for a client
    /// with several zones and users.
    #[test]
    fn the_field_by_field_writer_matches_the_plain_layout() {
        let client = sample_client_full();
        assert!(client.zones().count() > 1 && client.users().count() > 1);
        let plain = plain_record(&client, Stored::Kept);
        assert_eq!(encode(&client).unwrap(), bytes_of(&plain));
    }
}
