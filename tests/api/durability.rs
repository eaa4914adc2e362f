//! A 2xx means durable: SIGKILL right after acknowledged writes loses nothing.

use reqwest::StatusCode;
use serde_json::json;

use patriot_api::adapters::sled_store::SledClientRepository;
use patriot_api::domain::client::{Client, ClientInfo, ClientInfoPatch};
use patriot_api::domain::fields::{ClientId, InstallDate, Text};
use patriot_api::domain::tenant::KeyName;
use patriot_api::ports::ClientRepository;

use crate::helpers::{TestApp, KEY_A};

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let app = TestApp::spawn().await;
    let n = 40u32;
    let mut tasks = Vec::new();
    for id in 1..=n {
        let http = app.http.clone();
        let base = app.base.clone();
        tasks.push(tokio::spawn(async move {
            let put = http
                .put(format!("{base}/clients"))
                .bearer_auth(KEY_A)
                .json(&json!({"client_id": id, "info": {"Name": format!("Client {id}")}}))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(put, StatusCode::CREATED);
            let zone = http
                .put(format!("{base}/clients/zones"))
                .bearer_auth(KEY_A)
                .json(&json!({"client_id": id, "zone_id": 1, "Zone_area": format!("Zone of {id}")}))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(zone, StatusCode::CREATED);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let dir = app.kill();

    let app = TestApp::spawn_in(dir).await;
    // The files first, before any request: a GET would write a missing file again.
    let files: Vec<Option<String>> = (1..=n).map(|id| app.xml("TenantA", id)).collect();
    for id in 1..=n {
        let xml = files[id as usize - 1].as_deref().expect("XML file lost");
        assert!(xml.contains(&format!("<Zone_area>Zone of {id}</Zone_area>")));
        let (s, c) = app.get_client(KEY_A, id).await;
        assert_eq!(s, StatusCode::OK, "client {id} lost");
        assert_eq!(c["info"]["Name"], format!("Client {id}"));
        assert_eq!(c["zones"][0]["Zone_area"], format!("Zone of {id}"));
    }
}

/// A write stored with its XML file still owed (a crash between the two steps) gets its
/// file before the port opens.
#[tokio::test]
async fn owed_files_are_written_at_start() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "Will be deleted").await;
    let dir = app.kill();
    {
        let repo = SledClientRepository::open(&dir.path().join("data"), 8 << 20).unwrap();
        let tenant = KeyName::new("TenantA").unwrap();
        let patch = ClientInfoPatch {
            name: Some(Text::new("Written by the crash".into()).unwrap()),
            ..Default::default()
        };
        let date = InstallDate::new("2024-01-01".into()).unwrap();
        let info = ClientInfo::replaced_by(patch, &date).unwrap();
        let client = Client::new(ClientId::new(2).unwrap(), date, info);
        repo.save(&tenant, &client).await.unwrap();
        repo.delete(&tenant, ClientId::new(1).unwrap())
            .await
            .unwrap();
        let owed = repo.owed_files().await.unwrap();
        assert_eq!(owed.len(), 2);
    }
    let app = TestApp::spawn_in(dir).await;
    // The port is open, so the files must be there already.
    let xml = app.xml("TenantA", 2).expect("owed file written at start");
    assert!(xml.contains("Written by the crash"));
    assert!(
        app.xml("TenantA", 1).is_none(),
        "owed removal done at start"
    );
}
