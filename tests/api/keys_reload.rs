//! The keys file is re-read on change and on SIGHUP, without a restart.

use reqwest::StatusCode;

use crate::helpers::{keys_json, write_json, TestApp, KEY_A, KEY_B};

#[tokio::test]
async fn add_disable_and_refuse_a_broken_file() {
    let app = TestApp::spawn().await;
    let keys_file = app.path("keys.json");
    assert_eq!(
        app.get_client("new-key", 1).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Add a key and disable B, in one replacement by rename.
    let mut keys = keys_json();
    keys.as_array_mut().unwrap().push(serde_json::json!({
        "key_name": "NewTenant", "key": "new-key", "port": "BASE66",
        "installer_name": "N", "installer_email": "n@n.no"}));
    keys[1]["enabled"] = serde_json::json!(false);
    write_json(&keys_file, &keys);
    app.wait_for_log("keys file reloaded").await;
    assert_eq!(
        app.get_client("new-key", 1).await.0,
        StatusCode::NOT_FOUND,
        "new key accepted"
    );
    assert_eq!(
        app.get_client(KEY_B, 1).await.0,
        StatusCode::UNAUTHORIZED,
        "disabled key refused"
    );

    // A broken file is refused and the keys in force stay.
    std::fs::write(&keys_file, b"[{\"key_name\": \"broken\"").unwrap();
    app.wait_for_log("keys file refused").await;
    assert_eq!(app.get_client("new-key", 1).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get_client(KEY_A, 1).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get_client(KEY_B, 1).await.0, StatusCode::UNAUTHORIZED);

    // A file that parses but breaks a rule (duplicate port) is refused too.
    let mut dup = keys_json();
    dup[1]["port"] = dup[0]["port"].clone();
    let refusals = |app: &TestApp| {
        app.logs()
            .iter()
            .filter(|l| l.contains("keys file refused"))
            .count()
    };
    let before = refusals(&app);
    write_json(&keys_file, &dup);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while refusals(&app) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the rule-breaking file was not refused within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.get_client(KEY_B, 1).await.0,
        StatusCode::UNAUTHORIZED,
        "old keys stay"
    );
    assert!(
        app.logs()
            .iter()
            .filter(|l| l.contains("keys file refused"))
            .count()
            >= 2
    );

    // Key names that are one folder on a Windows share: the whole file is refused.
    let mut ambiguous = keys_json();
    ambiguous[1]["key_name"] = serde_json::json!("tenanta");
    write_json(&keys_file, &ambiguous);
    app.wait_for_log(r#"have key_name "TenantA" and "tenanta""#)
        .await;
    assert_eq!(
        app.get_client(KEY_B, 1).await.0,
        StatusCode::UNAUTHORIZED,
        "old keys stay"
    );
}

#[tokio::test]
async fn sighup_reloads() {
    let dir = tempfile::TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    // At debug, every poll that finds the file unchanged says so.
    let app =
        TestApp::spawn_in_with(dir, &[("RUST_LOG", "info,patriot_api::app::serve=debug")]).await;
    let path = app.path("keys.json");
    let before = std::fs::read_to_string(&path).unwrap();
    let stamp = std::fs::metadata(&path).unwrap().modified().unwrap();
    // Key A disabled, written in place (same file), same size, same modification time: the
    // once-a-second poll cannot see it, only SIGHUP can explain a reload.
    let after = before.replacen("\"enabled\": true", "\"enabled\":false", 1);
    assert_eq!(after.len(), before.len());
    assert_ne!(after, before);
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::io::Write::write_all(&mut file, after.as_bytes()).unwrap();
    file.set_modified(stamp).unwrap();
    drop(file);
    // Two polls looked at the file after the change and saw nothing: only the signal can
    // reload it.
    let polls = app.count_logs("keys file unchanged");
    app.wait_for_logs("keys file unchanged", polls + 2).await;
    assert_eq!(
        app.get_client(KEY_A, 1).await.0,
        StatusCode::NOT_FOUND,
        "reloaded without SIGHUP"
    );
    assert!(!app.logs().iter().any(|l| l.contains("keys file reloaded")));
    unsafe { libc::kill(app.pid(), libc::SIGHUP) };
    app.wait_for_log("keys file reloaded").await;
    assert_eq!(app.get_client(KEY_A, 1).await.0, StatusCode::UNAUTHORIZED);
}

/// A key whose `valid_to` passes while the service runs is refused from that moment, with no
/// reload: expiry is checked on every request.
#[tokio::test]
async fn a_key_expires_while_the_service_runs() {
    let dir = tempfile::TempDir::new().unwrap();
    let mut keys = keys_json();
    let end = chrono::Utc::now() + chrono::Duration::seconds(3);
    keys[1]["valid_to"] = serde_json::json!(end.to_rfc3339());
    write_json(&dir.path().join("keys.json"), &keys);
    let app = TestApp::spawn_in(dir).await;
    assert_eq!(
        app.get_client(KEY_B, 1).await.0,
        StatusCode::NOT_FOUND,
        "valid before"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let status = app.get_client(KEY_B, 1).await.0;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            std::time::Instant::now() < deadline,
            "the key was still accepted 7 s after its valid_to"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(chrono::Utc::now() >= end, "refused before its valid_to");
    assert!(!app.logs().iter().any(|l| l.contains("keys file reloaded")));
    assert_eq!(
        app.get_client(KEY_A, 1).await.0,
        StatusCode::NOT_FOUND,
        "others stay"
    );
}
