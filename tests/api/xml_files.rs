//! The per-client XML file follows every write.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{write_json, TestApp, KEY_A};

#[tokio::test]
async fn file_follows_each_kind_of_write() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 9998, "Ola").await;
    let xml = app.xml("TenantA", 9998).expect("file after PUT");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    assert!(xml.contains("<__id>9998BASE11</__id>"));
    assert!(xml.contains("<Zones>") && xml.contains("</Zones>"), "{xml}");

    let steps: Vec<(Method, &str, serde_json::Value, &str)> = vec![
        (
            Method::PATCH,
            "/clients",
            json!({"client_id": 9998, "info": {"Location": "Gate 1"}}),
            "<Location>Gate 1</Location>",
        ),
        (
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 9998, "zone_id": 4, "Zone_area": "Stue"}),
            "<Zone_area>Stue</Zone_area>",
        ),
        (
            Method::POST,
            "/clients/users",
            json!({"client_id": 9998, "user": {"UserNo": 1, "User_Name": "Kari"}}),
            "<User_Name>Kari</User_Name>",
        ),
        (
            Method::PUT,
            "/clients/users",
            json!({"client_id": 9998, "user": {"UserNo": 1, "User_Name": "Per"}}),
            "<User_Name>Per</User_Name>",
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 9998, "info": {"Name": "Nytt navn"}}),
            "<Name>Nytt navn</Name>",
        ),
    ];
    for (method, path, body, expected) in steps {
        let (s, v) = app.call(method.clone(), path, body).await;
        assert!(s.is_success(), "{method} {path}: {v}");
        let xml = app.xml("TenantA", 9998).unwrap();
        assert!(xml.contains(expected), "{method} {path}: {xml}");
    }
    app.call(
        Method::DELETE,
        "/clients/users",
        json!({"client_id": 9998, "user_no": 1}),
    )
    .await;
    assert!(!app
        .xml("TenantA", 9998)
        .unwrap()
        .contains("<User_Name>Per</User_Name>"));
    app.call(
        Method::DELETE,
        "/clients/zones",
        json!({"client_id": 9998, "zone_id": 4}),
    )
    .await;
    assert!(!app
        .xml("TenantA", 9998)
        .unwrap()
        .contains("<Zone_No>4</Zone_No>"));
    // The installer user stays, last.
    assert!(app
        .xml("TenantA", 9998)
        .unwrap()
        .contains("<UserNo>199</UserNo>"));

    app.call(Method::DELETE, "/clients", json!({"client_id": 9998}))
        .await;
    assert!(app.xml("TenantA", 9998).is_none(), "file gone after DELETE");
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(app.path("out/clients/TenantA"))
        .unwrap()
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test]
async fn failed_requests_leave_the_file_byte_identical() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "Stable").await;
    app.call(
        Method::POST,
        "/clients/users",
        json!({"client_id": 1, "user": {"UserNo": 1, "User_Name": "Kari"}}),
    )
    .await;
    let before = std::fs::read(app.path("out/clients/TenantA/1.xml")).unwrap();
    let failing: Vec<(Method, &str, serde_json::Value)> = vec![
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "X", "SinceHrs": 99}}),
        ),
        (
            Method::PATCH,
            "/clients",
            json!({"client_id": 1, "info": {"Bogus": 1}}),
        ),
        (
            Method::POST,
            "/clients/users",
            json!({"client_id": 1, "user": {"UserNo": 1, "User_Name": "Dup"}}),
        ),
        (
            Method::PUT,
            "/clients/users",
            json!({"client_id": 1, "user": {"UserNo": 2, "User_Name": "None"}}),
        ),
        (
            Method::DELETE,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 3}),
        ),
        (
            Method::DELETE,
            "/clients/users",
            json!({"client_id": 1, "user_no": 5}),
        ),
        (
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 1000}),
        ),
    ];
    for (method, path, body) in failing {
        let (s, _) = app.call(method.clone(), path, body).await;
        assert!(s.is_client_error(), "{method} {path} answered {s}");
        assert_eq!(
            std::fs::read(app.path("out/clients/TenantA/1.xml")).unwrap(),
            before,
            "{method} {path}"
        );
    }
    let (_, c) = app.get_client(KEY_A, 1).await;
    assert_eq!(c["info"]["Name"], "Stable");
}

#[tokio::test]
async fn get_rewrites_a_missing_file_unless_imported() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "One").await;
    app.create_client(KEY_A, 2, "Two").await;
    app.create_client(KEY_A, 3, "Three").await;
    // As if the combiner had taken the files.
    for id in [1, 2, 3] {
        std::fs::remove_file(app.path(&format!("out/clients/TenantA/{id}.xml"))).unwrap();
    }
    // No state file: nothing is imported, so the file comes back.
    let (s, c) = app.get_client(KEY_A, 1).await;
    assert_eq!(s, StatusCode::OK);
    assert!(c.get("import").is_none());
    assert!(app.xml("TenantA", 1).is_some());

    write_json(
        &app.path("client_state.json"),
        &json!({
            "2BASE11": {"status": "imported", "last_batch": "2025-01-01T12:59:00+01:00", "key_name": "TenantA", "client_id": 2, "attempts": 0},
            "3BASE11": {"status": "pending_import", "last_batch": "2025-01-01T12:59:00+01:00", "key_name": "TenantA", "client_id": 3, "attempts": 1}
        }),
    );
    // The API notices the state file within its watch interval (200 ms): wait on client 3,
    // whose file comes back either way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, c) = app.get_client(KEY_A, 3).await;
        if c.get("import").is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the state file was not read within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, c) = app.get_client(KEY_A, 2).await;
    assert_eq!(
        c["import"],
        json!({"status": "imported", "last_batch": "2025-01-01T12:59:00+01:00", "attempts": 0})
    );
    assert!(app.xml("TenantA", 2).is_none(), "imported: not rewritten");
    let (_, c) = app.get_client(KEY_A, 3).await;
    assert_eq!(c["import"]["status"], "pending_import");
    assert!(app.xml("TenantA", 3).is_some(), "pending: rewritten");
}

#[tokio::test]
async fn concurrent_zone_writes_to_one_client_all_survive() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 77, "Busy").await;
    let mut tasks = Vec::new();
    for zone in 1..=20u32 {
        let http = app.http.clone();
        let url = format!("{}/clients/zones", app.base);
        tasks.push(tokio::spawn(async move {
            http.put(url)
                .bearer_auth(KEY_A)
                .json(&json!({"client_id": 77, "zone_id": zone, "Zone_area": format!("Z{zone}")}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let (_, zones) = app
        .get_as(KEY_A, "/clients/zones", &[("X-Client-Id", "77")])
        .await;
    let numbers: Vec<u64> = zones["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["Zone_No"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=20).collect::<Vec<u64>>());
    let xml = app.xml("TenantA", 77).unwrap();
    for zone in 1..=20 {
        assert!(
            xml.contains(&format!("<Zone_area>Z{zone}</Zone_area>")),
            "zone {zone} missing from XML"
        );
    }
}
