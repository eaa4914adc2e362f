//! Tenant isolation under fuzz: two tenants run random operations on overlapping client ids
//! through the real router, sled and files; neither ever sees the other's data.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use poem::test::TestClient;
use poem::Endpoint;
use proptest::prelude::*;
use serde_json::{json, Value};
use tempfile::TempDir;

use patriot_api::adapters::clock::SystemClock;
use patriot_api::adapters::fs_xml::FsXmlSink;
use patriot_api::adapters::http::{app, MetricsPlace, RequestLog};
use patriot_api::adapters::import_state::StateFileReader;
use patriot_api::adapters::keys_file::KeysFileStore;
use patriot_api::adapters::sled_store::SledClientRepository;
use patriot_api::domain::service::ClientService;
use patriot_api::ports::KeyStore;

use crate::helpers::{keys_json, write_json, KEY_A, KEY_B};

#[derive(Debug, Clone)]
enum Op {
    Put(u32, u8),
    Patch(u32, u8),
    Delete(u32),
    PutZone(u32, u16),
    DeleteZone(u32, u16),
    AddUser(u32, u16),
    DeleteUser(u32, u16),
    Get(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let id = 1u32..4;
    prop_oneof![
        (id.clone(), any::<u8>()).prop_map(|(i, n)| Op::Put(i, n)),
        (id.clone(), any::<u8>()).prop_map(|(i, n)| Op::Patch(i, n)),
        id.clone().prop_map(Op::Delete),
        (id.clone(), 1u16..4).prop_map(|(i, z)| Op::PutZone(i, z)),
        (id.clone(), 1u16..4).prop_map(|(i, z)| Op::DeleteZone(i, z)),
        (id.clone(), 1u16..4).prop_map(|(i, u)| Op::AddUser(i, u)),
        (id.clone(), 1u16..4).prop_map(|(i, u)| Op::DeleteUser(i, u)),
        id.prop_map(Op::Get),
    ]
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Model {
    name: String,
    zones: BTreeSet<u16>,
    users: BTreeSet<u16>,
}

const TENANTS: [(&str, &str, &str); 2] =
    [(KEY_A, "TenantA", "BASE11"), (KEY_B, "TenantB", "BASE22")];

async fn call<E: Endpoint>(
    cli: &TestClient<E>,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    id: Option<u32>,
) -> (u16, Value) {
    let mut req = match method {
        "GET" => cli.get(path),
        "PUT" => cli.put(path),
        "PATCH" => cli.patch(path),
        "POST" => cli.post(path),
        _ => cli.delete(path),
    }
    .header("Authorization", format!("Bearer {key}"));
    if let Some(id) = id {
        req = req.header("X-Client-Id", id.to_string());
    }
    if let Some(body) = body {
        req = req.body_json(&body);
    }
    let resp = req.send().await.0;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().into_vec().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn run(ops: Vec<(usize, Op)>) -> Result<(), TestCaseError> {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let keys =
        Arc::new(KeysFileStore::open(dir.path().join("keys.json"), Arc::new(SystemClock)).unwrap());
    let repo = SledClientRepository::open(&dir.path().join("data"), 8 << 20).unwrap();
    let xml_dir = dir.path().join("xml");
    let service = Arc::new(ClientService::new(
        Arc::new(repo),
        Arc::new(FsXmlSink::new(xml_dir.clone()).unwrap()),
        Arc::new(StateFileReader::new(
            dir.path().join("state.json"),
            dir.path().join("last_run.json"),
        )),
        Arc::new(SystemClock),
    ));
    let store: Arc<dyn KeyStore> = keys;
    let log = RequestLog::open(&dir.path().join("requests.log"), false).unwrap();
    let cli = TestClient::new(app(service.clone(), store, log, MetricsPlace::Main).api);
    let mut models: [BTreeMap<u32, Model>; 2] = Default::default();

    for (t, op) in ops {
        let (key, _, _) = TENANTS[t];
        let model = &mut models[t];
        match op {
            Op::Put(id, n) => {
                let name = format!("{}-{n}", TENANTS[t].1);
                let (s, v) = call(
                    &cli,
                    key,
                    "PUT",
                    "/clients",
                    Some(json!({"client_id": id, "info": {"Name": name}})),
                    None,
                )
                .await;
                prop_assert_eq!(s, if model.contains_key(&id) { 200 } else { 201 });
                prop_assert_eq!(&v["info"]["Name"], &json!(name));
                model.entry(id).or_default().name = name;
            }
            Op::Patch(id, n) => {
                let name = format!("{}-p{n}", TENANTS[t].1);
                let (s, _) = call(
                    &cli,
                    key,
                    "PATCH",
                    "/clients",
                    Some(json!({"client_id": id, "info": {"Name": name}})),
                    None,
                )
                .await;
                match model.get_mut(&id) {
                    Some(m) => {
                        prop_assert_eq!(s, 200);
                        m.name = name;
                    }
                    None => prop_assert_eq!(s, 404),
                }
            }
            Op::Delete(id) => {
                let (s, _) = call(
                    &cli,
                    key,
                    "DELETE",
                    "/clients",
                    Some(json!({"client_id": id})),
                    None,
                )
                .await;
                prop_assert_eq!(
                    s,
                    if model.remove(&id).is_some() {
                        204
                    } else {
                        404
                    }
                );
            }
            Op::PutZone(id, z) => {
                let (s, _) = call(
                    &cli,
                    key,
                    "PUT",
                    "/clients/zones",
                    Some(json!({"client_id": id, "zone_id": z})),
                    None,
                )
                .await;
                match model.get_mut(&id) {
                    Some(m) => {
                        prop_assert_eq!(s, 201);
                        m.zones.insert(z);
                    }
                    None => prop_assert_eq!(s, 404),
                }
            }
            Op::DeleteZone(id, z) => {
                let (s, _) = call(
                    &cli,
                    key,
                    "DELETE",
                    "/clients/zones",
                    Some(json!({"client_id": id, "zone_id": z})),
                    None,
                )
                .await;
                let removed = model.get_mut(&id).is_some_and(|m| m.zones.remove(&z));
                let expected = if removed { 204 } else { 404 };
                prop_assert_eq!(s, expected);
            }
            Op::AddUser(id, u) => {
                let (s, _) = call(
                    &cli,
                    key,
                    "POST",
                    "/clients/users",
                    Some(json!({"client_id": id, "user": {"UserNo": u, "User_Name": "U"}})),
                    None,
                )
                .await;
                let expected = match model.get_mut(&id) {
                    Some(m) => {
                        if m.users.insert(u) {
                            201
                        } else {
                            409
                        }
                    }
                    None => 404,
                };
                prop_assert_eq!(s, expected);
            }
            Op::DeleteUser(id, u) => {
                let (s, _) = call(
                    &cli,
                    key,
                    "DELETE",
                    "/clients/users",
                    Some(json!({"client_id": id, "user_no": u})),
                    None,
                )
                .await;
                let removed = model.get_mut(&id).is_some_and(|m| m.users.remove(&u));
                let expected = if removed { 204 } else { 404 };
                prop_assert_eq!(s, expected);
            }
            Op::Get(id) => {
                let (s, v) = call(&cli, key, "GET", "/clients", None, Some(id)).await;
                match model.get(&id) {
                    Some(m) => {
                        prop_assert_eq!(s, 200);
                        prop_assert_eq!(&v["info"]["Name"], &json!(m.name));
                        let zones: BTreeSet<u16> = v["zones"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|z| z["Zone_No"].as_u64().unwrap() as u16)
                            .collect();
                        let users: BTreeSet<u16> = v["users"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|u| u["UserNo"].as_u64().unwrap() as u16)
                            .collect();
                        prop_assert_eq!(&zones, &m.zones);
                        prop_assert_eq!(&users, &m.users);
                    }
                    None => prop_assert_eq!(s, 404),
                }
            }
        }
    }
    // The files follow the answers (the file writer is not running here): written now.
    service.write_owed().await.unwrap();
    // The files: each tenant's folder holds exactly its clients, with its own ids and data.
    for (t, (_, folder, port)) in TENANTS.iter().enumerate() {
        let (mut on_disk, mut staged) = (BTreeSet::new(), BTreeSet::new());
        if let Ok(entries) = std::fs::read_dir(xml_dir.join(folder)) {
            for entry in entries {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                match crate::helpers::staged_file_id(&name) {
                    Some(id) => staged.insert(id),
                    None => {
                        on_disk.insert(name.strip_suffix(".xml").unwrap().parse::<u32>().unwrap())
                    }
                };
            }
        }
        let ids = models[t].keys().copied().collect::<BTreeSet<u32>>();
        prop_assert_eq!(&on_disk, &ids);
        prop_assert!(
            staged.is_subset(&ids),
            "staged files of other or deleted clients: {:?}",
            staged
        );
        for (id, m) in &models[t] {
            let xml =
                std::fs::read_to_string(xml_dir.join(folder).join(format!("{id}.xml"))).unwrap();
            let own_id = format!("<__id>{id}{port}</__id>");
            let own_name = format!("<Name>{}</Name>", m.name);
            prop_assert!(xml.contains(&own_id), "{} lacks {}", folder, own_id);
            prop_assert!(xml.contains(&own_name), "{} lacks {}", folder, own_name);
            prop_assert!(
                !xml.contains(TENANTS[1 - t].1),
                "{} data in {}'s file",
                TENANTS[1 - t].1,
                folder
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn two_tenants_never_see_each_other(ops in proptest::collection::vec((0usize..2, op()), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
