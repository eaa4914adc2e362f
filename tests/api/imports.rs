//! `GET /clients/imports` (`api.md` §4.1) through the real binary.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{write_json, TestApp, KEY_A, KEY_B};

async fn page(app: &TestApp, key: &str, query: &str) -> (StatusCode, Value) {
    let resp = app
        .http
        .get(format!("{}/clients/imports{query}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

fn ids(page: &Value) -> Vec<u64> {
    page["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_u64().unwrap())
        .collect()
}

/// Waits until the API has read the state file (it looks every 200 ms).
async fn until_known(app: &TestApp, key: &str, id: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, p) = page(app, key, "?status=imported").await;
        if ids(&p).contains(&id) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "state file not read within 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn pages_filters_and_tenants() {
    let app = TestApp::spawn().await;
    for id in [5, 1, 3, 2, 4] {
        app.create_client(KEY_A, id, &format!("Kunde {id}")).await;
    }
    app.create_client(KEY_B, 2, "Annen").await;
    write_json(
        &app.path("client_state.json"),
        &json!({
            "1BASE11": {"status": "imported", "last_batch": "2025-01-01T12:59:00+01:00", "key_name": "TenantA", "client_id": 1, "attempts": 0},
            "2BASE11": {"status": "failed", "last_batch": "2025-01-01T13:59:00+01:00", "key_name": "TenantA", "client_id": 2, "attempts": 2},
            "4BASE11": {"status": "pending_import", "last_batch": "2025-01-01T13:59:00+01:00", "key_name": "TenantA", "client_id": 4, "attempts": 1},
            "2BASE22": {"status": "failed", "last_batch": "2025-01-01T13:59:00+01:00", "key_name": "TenantB", "client_id": 2, "attempts": 1},
            "9BASE11": {"status": "failed", "last_batch": "2025-01-01T13:59:00+01:00", "key_name": "TenantA", "client_id": 9, "attempts": 1}
        }),
    );
    until_known(&app, KEY_A, 1).await;

    let (s, all) = page(&app, KEY_A, "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all["next_after"], Value::Null);
    assert_eq!(
        all["clients"][1],
        json!({"client_id": 2, "status": "failed", "last_batch": "2025-01-01T13:59:00+01:00", "attempts": 2})
    );
    assert_eq!(
        all["clients"][2],
        json!({"client_id": 3, "status": "not_sent", "last_batch": null, "attempts": 0})
    );

    // Pages of two, following next_after.
    let (_, first) = page(&app, KEY_A, "?limit=2").await;
    assert_eq!(
        (ids(&first), first["next_after"].clone()),
        (vec![1, 2], json!(2))
    );
    let (_, second) = page(&app, KEY_A, "?limit=2&after=2").await;
    assert_eq!(
        (ids(&second), second["next_after"].clone()),
        (vec![3, 4], json!(4))
    );
    let (_, last) = page(&app, KEY_A, "?limit=2&after=4").await;
    assert_eq!(
        (ids(&last), last["next_after"].clone()),
        (vec![5], Value::Null)
    );

    // Filters; a deleted client (9) in the state file is not listed.
    for (status, expected) in [
        ("failed", vec![2]),
        ("imported", vec![1]),
        ("pending_import", vec![4]),
        ("not_sent", vec![3, 5]),
    ] {
        let (_, p) = page(&app, KEY_A, &format!("?status={status}")).await;
        assert_eq!(ids(&p), expected, "{status}");
    }
    let (_, p) = page(&app, KEY_A, "?status=not_sent&limit=1").await;
    assert_eq!((ids(&p), p["next_after"].clone()), (vec![3], json!(3)));

    // Tenant B sees only its own client 2, with its own state.
    let (_, b) = page(&app, KEY_B, "").await;
    assert_eq!(ids(&b), [2]);
    assert_eq!(b["clients"][0]["attempts"], 1);

    // Nothing was written: no XML file came back for the state's clients.
    assert!(app.xml("TenantA", 9).is_none());
}

#[tokio::test]
async fn bad_parameters_are_422_naming_them_and_a_key_is_needed() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("?status=done", "status"),
        ("?status=", "status"),
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?limit=+5", "limit"),
        ("?after=0", "after"),
        ("?after=4294967296", "after"),
        ("?after=-1", "after"),
        ("?limit=1&limit=2", "limit"),
    ] {
        let (s, p) = page(&app, KEY_A, query).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(p["errors"][0]["field"], field, "{query}: {p}");
    }
    let (s, p) = page(&app, KEY_A, "?status=x&limit=0&after=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        p["errors"].as_array().unwrap().len(),
        3,
        "every bad parameter: {p}"
    );
    let (s, _) = page(&app, "not-a-key", "").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, p) = page(&app, KEY_A, "?limit=1000&after=4294967295").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&p), Vec::<u64>::new());
}
