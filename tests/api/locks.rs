//! The per-client write lock through a route: a write that cannot get its turn within
//! `LOCK_TIMEOUT_MS` answers 409 with `Retry-After: 1` and changes nothing.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{keys_json, write_json, TestApp, KEY_A};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_that_cannot_get_its_turn_answers_409_and_changes_nothing() {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    // No waiting at all: any write that meets another one on the same client is refused.
    let app = TestApp::spawn_in_with(dir, &[("LOCK_TIMEOUT_MS", "0")]).await;
    app.create_client(KEY_A, 1, "Start").await;

    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut round = 0;
    while refused.is_empty() {
        assert!(
            Instant::now() < deadline,
            "30 s of 16 concurrent writes to one client and none was refused with 409"
        );
        round += 1;
        let writes = (0..16).map(|i| {
            let name = format!("R{round}W{i}");
            let req = app
                .http
                .patch(format!("{}/clients", app.base))
                .bearer_auth(KEY_A)
                .json(&json!({"client_id": 1, "info": {"Name": name}}));
            async move {
                let resp = req.send().await.unwrap();
                let status = resp.status();
                let retry = resp
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let kind = resp
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body: serde_json::Value = resp.json().await.unwrap();
                (name, status, retry, kind, body)
            }
        });
        for (name, status, retry, kind, body) in futures_util::future::join_all(writes).await {
            match status {
                StatusCode::OK => accepted.push(name),
                StatusCode::CONFLICT => {
                    assert_eq!(retry.as_deref(), Some("1"), "{body}");
                    assert_eq!(kind.as_deref(), Some("application/problem+json"));
                    assert_eq!(body["status"], 409, "{body}");
                    refused.push(name);
                }
                other => panic!("a write answered {other}: {body}"),
            }
        }
    }

    // The stored name and the XML file are those of an accepted write, never a refused one.
    let (_, stored) = app.get_client(KEY_A, 1).await;
    let name = stored["info"]["Name"].as_str().unwrap().to_owned();
    assert!(accepted.contains(&name), "{name} was not accepted");
    assert!(!refused.contains(&name));
    let xml = app.xml("TenantA", 1).unwrap();
    assert!(xml.contains(&format!("<Name>{name}</Name>")), "{xml}");
    for lost in &refused {
        assert!(!xml.contains(&format!("<Name>{lost}</Name>")));
    }
}
