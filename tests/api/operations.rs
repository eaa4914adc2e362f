//! What operators use: systemd readiness, metrics, backup and restore, new keys.

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use crate::helpers::{keys_json, write_json, TestApp, KEY_A, KEY_B};

#[test]
fn serve_tells_systemd_when_it_is_ready_and_when_it_stops() {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut child = Command::new(TestApp::bin())
        .args(["serve", "--port", "0", "--metrics-addr", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("KEY_FILE", "keys.json")
        .env("NOTIFY_SOCKET", &socket_path)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("no READY=1");
    assert_eq!(&buf[..n], b"READY=1\n");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let n = socket.recv(&mut buf).expect("no STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn metrics_count_requests_clients_and_pending_files() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "En").await;
    app.create_client(KEY_A, 2, "To").await;
    app.create_client(KEY_B, 1, "Annen").await;
    app.get_client("not-a-key", 1).await;
    // Before the combiner's first run its gauges are absent, not 0 (an alert on the success
    // gauge would fire on a fresh install).
    let (_, before) = app.metrics().await;
    let before = before.as_str();
    assert!(before.contains("patriot_clients{"), "{before}");
    for series in [
        "patriot_combine_last_run_success ",
        "patriot_combine_last_run_timestamp_seconds ",
    ] {
        assert!(
            !before.lines().any(|l| l.starts_with(series)),
            "{series} before the first run:\n{before}"
        );
    }
    std::fs::create_dir_all(app.path("ready_for_import")).unwrap();
    write_json(
        &app.path("ready_for_import/last_run.json"),
        &json!({"at": "2025-01-01T12:59:00+01:00", "ok": false, "summary": "run failed: share: down"}),
    );
    // The waiting files are counted every 5 s, off the request path.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !app
        .metrics()
        .await
        .1
        .contains("patriot_xml_files_pending 3")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "pending files not counted within 15 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let resp = app
        .http
        .get(format!("{}/metrics", app.metrics_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("openmetrics"));
    let text = resp.text().await.unwrap();
    for expected in [
        r#"http_requests_total{route="/clients",method="PUT",status="201"} 3"#,
        r#"http_requests_total{route="/clients",method="GET",status="401"} 1"#,
        r#"http_request_duration_seconds_count{route="/clients",method="PUT"} 3"#,
        r#"patriot_clients{tenant="TenantA"} 2"#,
        r#"patriot_clients{tenant="TenantB"} 1"#,
        "patriot_xml_files_pending 3",
        "patriot_combine_last_run_timestamp_seconds 1735732740",
        "patriot_combine_last_run_success 0",
    ] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
    assert!(!text.contains(KEY_A) && !text.contains("not-a-key"));
    // A scan of random paths does not add series.
    app.send(Method::GET, "/random/path/123", None, &[], None)
        .await;
    let (_, body) = app.metrics().await;
    assert!(body.contains(r#"route="unmatched""#));
    assert!(!body.contains("random"));
}

fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(TestApp::bin())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[tokio::test]
async fn export_import_export_is_identical() {
    let app = TestApp::spawn().await;
    app.call(Method::PUT, "/clients", json!({"client_id": 9998, "info": {"Name": "Ola æøå", "SinceHrs": 3, "InstallDateTime": "2023-02-20"}})).await;
    app.call(
        Method::PUT,
        "/clients/zones",
        json!({"client_id": 9998, "zone_id": 4, "Zone_area": "Stue"}),
    )
    .await;
    app.call(Method::POST, "/clients/users", json!({"client_id": 9998, "user": {"UserNo": 1, "User_Name": "Kari", "MobileNo": "+4712345678"}})).await;
    app.create_client(KEY_B, 9998, "Same id, other tenant")
        .await;
    let dir = app.kill();

    let first = run(dir.path(), &["export", "--output", "backup.json"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let backup = std::fs::read(dir.path().join("backup.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&backup).unwrap();
    assert_eq!(doc["tenants"].as_array().unwrap().len(), 2);

    let fresh = TempDir::new().unwrap();
    let import = Command::new(TestApp::bin())
        .args(["import"])
        .arg(dir.path().join("backup.json"))
        .env("DATA_DIR", fresh.path().join("data"))
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    let again = Command::new(TestApp::bin())
        .args(["export"])
        .env("DATA_DIR", fresh.path().join("data"))
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8(again.stdout).unwrap(),
        String::from_utf8(backup).unwrap()
    );

    // Never into a data dir that holds clients.
    let twice = Command::new(TestApp::bin())
        .args(["import"])
        .arg(dir.path().join("backup.json"))
        .env("DATA_DIR", fresh.path().join("data"))
        .output()
        .unwrap();
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("empty"));

    // The restored data serves the same answers.
    write_json(&fresh.path().join("keys.json"), &keys_json());
    let restored = TestApp::spawn_in(fresh).await;
    let (s, c) = restored.get_client(KEY_A, 9998).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["info"]["Name"], "Ola æøå");
    assert_eq!(c["zones"][0]["Zone_area"], "Stue");
    assert_eq!(c["users"][0]["User_Name"], "Kari");
}

/// `tests/golden/export-v1.json` is what 0.1.0's `export` wrote; this version imports it and
/// serves the same client.
#[tokio::test]
async fn an_export_of_the_previous_version_imports() {
    let dir = TempDir::new().unwrap();
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/export-v1.json");
    let import = Command::new(TestApp::bin())
        .args(["import", golden])
        .env("DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config/keys.example.json"),
        dir.path().join("keys.json"),
    )
    .unwrap();
    let app = TestApp::spawn_in(dir).await;
    let (s, c) = app.get_client("secure-api-key", 4_294_967_295).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["info"]["Name"], "Ola Nordmann & Sønn <AS>");
    assert_eq!(c["info"]["SpecRequest"], "Linje 1\r\nLinje 2 æøå");
    assert_eq!(c["info"]["InstallDateTime"], "2023-02-20T12:30:00");
    assert_eq!(c["info"]["ResetNosigsIgnored"], true);
    assert_eq!(c["zones"][0]["ModuleNo"], 255);
    assert_eq!(c["users"][1]["UserNo"], 200);
    assert_eq!(c["users"][1]["Type"], "A");
    // A new export is version 2.
    let dir = app.kill();
    let out = run(dir.path(), &["export"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["version"], 2);
}

#[tokio::test]
async fn keys_new_prints_a_key_and_an_entry_that_works() {
    let dir = TempDir::new().unwrap();
    let out = run(
        dir.path(),
        &[
            "keys",
            "new",
            "--name",
            "NewCo",
            "--port",
            "BASE77",
            "--installer-name",
            "NewCo AS",
            "--installer-email",
            "post@newco.no",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let key = text.lines().nth(1).unwrap().trim().to_owned();
    assert_eq!(key.len(), 43, "32 bytes, URL-safe base64");
    assert!(key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    let entry: serde_json::Value = serde_json::from_str(&text[text.find('{').unwrap()..]).unwrap();
    assert_eq!(
        entry["key_sha256"],
        hex::encode(Sha256::digest(key.as_bytes()))
    );
    assert!(
        entry.get("key").is_none(),
        "the file need not hold the secret"
    );
    assert!(!text[text.find('{').unwrap()..].contains(&key));

    let again = run(
        dir.path(),
        &["keys", "new", "--name", "NewCo", "--port", "BASE77"],
    );
    assert_ne!(
        String::from_utf8(again.stdout)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap(),
        key,
        "fresh every time"
    );
    assert!(!run(
        dir.path(),
        &["keys", "new", "--name", "bad name", "--port", "P"]
    )
    .status
    .success());

    // Added to a keys file, the entry authenticates the key.
    let mut keys = keys_json();
    keys.as_array_mut().unwrap().push(entry);
    write_json(&dir.path().join("keys.json"), &keys);
    let app = TestApp::spawn_in(dir).await;
    app.create_client(&key, 1, "Works").await;
}
