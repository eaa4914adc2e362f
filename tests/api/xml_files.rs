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
    app.settle();
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

/// The key of the golden-file test, with `xml_fields` out of alphabetical order: the file
/// must follow the keys file, not a sorted map.
const GOLDEN_KEY: &str = "key-golden-secret";
const GOLDEN_KEYS_FILE: &str = r#"[
  { "key_name": "Golden", "key": "key-golden-secret", "port": "BASE11",
    "installer_name": "Østfold Sikkerhetsservice AS", "installer_email": "installer@ostsik.no",
    "xml_fields": { "InstallerName": "Østfold Sikkerhetsservice AS", "UseCallout1": "True",
                    "Callout1": "TLF01BASE01", "EventTemplate": "CID4BASE01",
                    "ClientGroupings": "Alarm24 & <Tilgang>" } }
]"#;

/// Reads a golden file from `tests/golden/`, with `{CREATED_DAY}` filled in.
fn golden(name: &str, created_day: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .replace("{CREATED_DAY}", created_day)
}

/// The whole file the binary writes, compared with a golden file after each step that
/// replaces something: the keys file's `xml_fields` in their order, the installer user 199
/// last, a replaced user whose old values are gone, and a PUT that resets every omitted
/// info field to its default (the install date to the day the client was created).
#[tokio::test]
async fn the_written_file_is_the_golden_file() {
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::write(dir.path().join("keys.json"), GOLDEN_KEYS_FILE).unwrap();
    let app = TestApp::spawn_in(dir).await;
    let call = |method: Method, path: &'static str, body: serde_json::Value| {
        let app = &app;
        async move {
            let (s, v) = app.call_as(GOLDEN_KEY, method.clone(), path, body).await;
            assert!(s.is_success(), "{method} {path}: {s} {v}");
        }
    };
    call(
        Method::PUT,
        "/clients",
        json!({"client_id": 9998, "info": {
            "Name": "Ola Nordmann & Sønn <AS>", "Alias": "Ola", "Location": "Produksjonsveien 13",
            "area_code": "1604", "area": "Fredrikstad", "BusPhone": "69310000",
            "Email": "post@ostsik.no", "OKPassword": "franzjäger",
            "SpecRequest": "Linje 1\r\nLinje 2 æøå", "NoSigsMon": 1, "SinceDays": 1,
            "SinceHrs": 0, "SinceMins": 30, "ResetNosigsIgnored": true, "ResetNosigsDays": 7,
            "ResetNosigsHrs": 2, "ResetNosigsMins": 15, "InstallDateTime": "2023-02-20",
            "PanelName": "Ajax", "PanelSite": "Stue", "KeypadLocation": "Inngang",
            "SPPage": "Ekstra informasjon."}}),
    )
    .await;
    // Zones and users out of order: the file sorts them.
    for (zone, area, module) in [(2, "Stue", 3), (1, "Inngang", 0)] {
        call(
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 9998, "zone_id": zone, "Zone_area": area, "ModuleNo": module}),
        )
        .await;
    }
    call(
        Method::POST,
        "/clients/users",
        json!({"client_id": 9998, "user": {"UserNo": 200, "User_Name": "Siste Bruker"}}),
    )
    .await;
    call(
        Method::POST,
        "/clients/users",
        json!({"client_id": 9998, "user": {
            "UserNo": 1, "User_Name": "Kari Gammel", "MobileNo": "+4712345678",
            "MobileNoOrder": 2, "Email": "kari@epost.no", "Type": "A",
            "Instructions": "Ring først", "CallOrder": 5}}),
    )
    .await;
    // User 1 replaced with fewer fields: nothing of Kari may remain.
    call(
        Method::PUT,
        "/clients/users",
        json!({"client_id": 9998, "user": {"UserNo": 1, "User_Name": "Per Ny"}}),
    )
    .await;
    let file = app.xml("Golden", 9998).expect("file after the writes");
    assert_eq!(file, golden("served-client.xml", "2023-02-20"));

    // A PUT of the info with only a name and a location: every other info field goes back
    // to its default, the install date to the day of creation; zones and users stay.
    call(
        Method::PUT,
        "/clients",
        json!({"client_id": 9998, "info": {"Name": "Ola Nordmann", "Location": "Ny gate 1"}}),
    )
    .await;
    let (_, stored) = app
        .get_as(GOLDEN_KEY, "/clients", &[("X-Client-Id", "9998")])
        .await;
    let created_day = stored["info"]["InstallDateTime"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(created_day, "2023-02-20");
    assert_eq!(created_day.len(), 10, "{created_day}");
    let file = app.xml("Golden", 9998).unwrap();
    assert_eq!(file, golden("served-client-after-put.xml", &created_day));
}

/// Temporary files a crash left behind (`.tmp-*.part`) are removed at start; other files in
/// the tenant folder stay, and so do clients' staged files (`.tmp-<id>.part`, kept between
/// writes), which the client's next write overwrites whole before putting it in place.
#[tokio::test]
async fn leftover_temporary_files_are_removed_at_start() {
    let dir = tempfile::TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &crate::helpers::keys_json());
    let folder = dir.path().join("out/clients/TenantA");
    std::fs::create_dir_all(&folder).unwrap();
    for name in [".tmp-a1B2c3.part", ".tmp-.part", ".tmp-zz9.part"] {
        std::fs::write(folder.join(name), "<Clients><Cli").unwrap();
    }
    std::fs::write(folder.join("notes.txt"), "operator's").unwrap();
    std::fs::write(folder.join(".tmp-kept"), "no .part suffix").unwrap();
    let junk = "<Clients><Client><Name>left by a crash, longer than the client</Name>".repeat(40);
    std::fs::write(folder.join(".tmp-9.part"), &junk).unwrap();
    let app = TestApp::spawn_in(dir).await;
    let left = || {
        let mut left: Vec<String> = std::fs::read_dir(app.path("out/clients/TenantA"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        left
    };
    assert_eq!(left(), [".tmp-9.part", ".tmp-kept", "notes.txt"]);

    app.create_client(KEY_A, 9, "Ni").await;
    let xml = app.xml("TenantA", 9).unwrap();
    assert!(
        xml.ends_with("</Clients>\n") && !xml.contains("left by a crash"),
        "{xml}"
    );
    assert_eq!(left(), [".tmp-kept", "9.xml", "notes.txt"]);
}

/// A file that cannot be written after the answer (here its tenant folder is in the way)
/// stays owed: the write was answered and stored, `/healthz` says 503 while the file is not
/// getting written, and once the way is clear the file is written with the newest state.
#[tokio::test]
async fn a_file_that_cannot_be_written_stays_owed_until_it_can() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "Ola").await;
    let folder = app.path("out/clients/TenantA");
    std::fs::rename(&folder, app.path("out/TenantA-away")).unwrap();
    std::fs::write(&folder, b"in the way").unwrap();

    let (s, v) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "Kari"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let healthz = || async { app.send(Method::GET, "/healthz", None, &[], None).await.0 };
    let mut failing = false;
    for _ in 0..100 {
        if healthz().await == StatusCode::SERVICE_UNAVAILABLE {
            failing = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(
        failing,
        "/healthz must say the files are not getting written"
    );
    assert!(app.count_logs("could not write an XML file") >= 1);
    assert_eq!(app.get_client(KEY_A, 1).await.1["info"]["Name"], "Kari");

    std::fs::remove_file(&folder).unwrap();
    let xml = app
        .xml("TenantA", 1)
        .expect("written once the way is clear");
    assert!(xml.contains("<Name>Kari</Name>"), "{xml}");
    assert_eq!(healthz().await, StatusCode::OK);
}
