//! What `serve` does with the combiner's state file: re-queue up to `MAX_IMPORT_ATTEMPTS`,
//! and a state file that stops parsing leaves the last good state in force for reads and
//! for the re-queue (README "Re-queue", `import_state` adapter).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{keys_json, write_json, TestApp, KEY_A};

const PASS_DONE: &str = "re-queue pass done";

async fn until_file(app: &TestApp, id: u32, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.xml("TenantA", id).is_none() {
        assert!(
            Instant::now() < deadline,
            "{what}: no file for client {id} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for two more finished re-queue passes: whatever the first of them was doing when
/// the wait began, the second started after it.
async fn two_more_passes(app: &TestApp) {
    let seen = app.count_logs(PASS_DONE);
    app.wait_for_logs(PASS_DONE, seen + 2).await;
}

fn remove_file(app: &TestApp, id: u32) {
    std::fs::remove_file(app.path(&format!("out/clients/TenantA/{id}.xml"))).unwrap();
}

#[tokio::test]
async fn requeue_stops_at_the_cap_and_a_corrupt_state_file_keeps_the_last_good_state() {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let app = TestApp::spawn_in_with(
        dir,
        &[
            ("REQUEUE_INTERVAL_SECS", "1"),
            ("MAX_IMPORT_ATTEMPTS", "3"),
            ("RUST_LOG", "info,patriot_api::app::serve=debug"),
        ],
    )
    .await;
    for id in 1..=3 {
        app.create_client(KEY_A, id, &format!("Kunde {id}")).await;
    }
    // The combiner took the files; Patriot imported 1 and failed 2 (at the cap) and 3.
    for id in 1..=3 {
        remove_file(&app, id);
    }
    let record = |status: &str, id: u32, attempts: u32| {
        json!({"status": status, "last_batch": "2025-01-01T13:59:00+01:00",
               "key_name": "TenantA", "client_id": id, "attempts": attempts})
    };
    write_json(
        &app.path("client_state.json"),
        &json!({"1BASE11": record("imported", 1, 0), "2BASE11": record("failed", 2, 3),
                "3BASE11": record("failed", 3, 2)}),
    );
    until_file(&app, 3, "a failed client under the cap is re-queued").await;
    two_more_passes(&app).await;
    assert!(
        app.xml("TenantA", 2).is_none(),
        "client 2 reached MAX_IMPORT_ATTEMPTS"
    );
    assert!(app.xml("TenantA", 1).is_none(), "client 1 was imported");
    assert_eq!(app.count_logs("re-queued a client"), 1, "{:?}", app.logs());

    // The state file stops parsing (a half-written copy, a careless edit).
    std::fs::write(app.path("client_state.json"), "{\"1BASE11\": {\"status\": ").unwrap();
    app.wait_for_log("state file refused").await;
    // Reads still answer, with the last good state, and the imported client is not rewritten.
    let (s, c) = app.get_client(KEY_A, 1).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["import"]["status"], "imported", "{c}");
    assert!(app.xml("TenantA", 1).is_none());
    let (s, page) = app.get_as(KEY_A, "/clients/imports", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["clients"][1]["status"], "failed", "{page}");
    assert_eq!(page["clients"][1]["attempts"], 3, "{page}");
    // The re-queue goes on with the last good state: client 3's file, taken again, comes back.
    remove_file(&app, 3);
    until_file(&app, 3, "re-queue with a corrupt state file").await;
    two_more_passes(&app).await;
    assert!(app.xml("TenantA", 2).is_none());
    let (s, _, _) = app
        .send(reqwest::Method::GET, "/healthz", None, &[], None)
        .await;
    assert_eq!(s, StatusCode::OK);
}
