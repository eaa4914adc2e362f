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
    write_json(&keys_file, &dup);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
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
    let app = TestApp::spawn().await;
    let mut keys = keys_json();
    keys[0]["enabled"] = serde_json::json!(false);
    // Written in place with the same size is still seen by the SIGHUP path.
    write_json(&app.path("keys.json"), &keys);
    unsafe { libc::kill(app.pid(), libc::SIGHUP) };
    app.wait_for_log("keys file reloaded").await;
    assert_eq!(app.get_client(KEY_A, 1).await.0, StatusCode::UNAUTHORIZED);
}
