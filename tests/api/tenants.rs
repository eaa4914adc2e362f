//! Two keys with the same client id never see each other.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, KEY_A, KEY_B};

#[tokio::test]
async fn same_client_id_is_two_clients() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1234, "Of A").await;
    // B cannot see, change or delete A's client, nor tell that it exists.
    assert_eq!(app.get_client(KEY_B, 1234).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        app.status_as(
            KEY_B,
            Method::PATCH,
            "/clients",
            json!({"client_id": 1234, "info": {"Name": "x"}})
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status_as(
            KEY_B,
            Method::DELETE,
            "/clients",
            json!({"client_id": 1234})
        )
        .await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status_as(
            KEY_B,
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1234, "zone_id": 1})
        )
        .await,
        StatusCode::NOT_FOUND
    );
    // B creates its own 1234: 201, not 200.
    app.create_client(KEY_B, 1234, "Of B").await;
    app.call_as(
        KEY_B,
        Method::PUT,
        "/clients/zones",
        json!({"client_id": 1234, "zone_id": 9}),
    )
    .await;

    let (_, a) = app.get_client(KEY_A, 1234).await;
    let (_, b) = app.get_client(KEY_B, 1234).await;
    assert_eq!(a["info"]["Name"], "Of A");
    assert_eq!(a["zones"], json!([]));
    assert_eq!(b["info"]["Name"], "Of B");
    assert_eq!(b["zones"].as_array().unwrap().len(), 1);

    let xml_a = app.xml("TenantA", 1234).unwrap();
    let xml_b = app.xml("TenantB", 1234).unwrap();
    assert!(xml_a.contains("<__id>1234BASE11</__id>") && xml_a.contains("Of A"));
    assert!(xml_b.contains("<__id>1234BASE22</__id>") && xml_b.contains("Of B"));

    // Deleting B's leaves A's.
    assert_eq!(
        app.status_as(
            KEY_B,
            Method::DELETE,
            "/clients",
            json!({"client_id": 1234})
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get_client(KEY_A, 1234).await.0, StatusCode::OK);
    assert!(app.xml("TenantA", 1234).is_some());
    assert!(app.xml("TenantB", 1234).is_none());
    let _ = KEY_A;
}
