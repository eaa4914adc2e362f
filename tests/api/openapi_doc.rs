//! The committed OpenAPI document is the one the code generates, and it is served.

use std::process::Command;

use reqwest::{Method, StatusCode};

use crate::helpers::TestApp;

#[test]
fn committed_document_matches_the_code() {
    let out = Command::new(TestApp::bin())
        .arg("openapi")
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/openapi/patriot-api.yaml"
    ))
    .unwrap();
    assert!(
        generated == committed,
        "openapi/patriot-api.yaml is out of date: run `cargo run -- openapi > openapi/patriot-api.yaml`"
    );
}

#[tokio::test]
async fn document_and_swagger_ui_are_served_without_a_key() {
    let app = TestApp::spawn().await;
    let (s, _, doc) = app
        .send(Method::GET, "/openapi.json", None, &[], None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/clients",
        "/clients/zones",
        "/clients/zones/list",
        "/clients/users",
        "/clients/users/single",
        "/clients/users/list",
        "/clients/users/get",
        "/healthz",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    // Every operation has an id, a summary, a tag, and documents the shared errors.
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(op["summary"].is_string(), "{method} {path}");
            assert!(op["description"].is_string(), "{method} {path}");
            assert!(op["tags"].is_array(), "{method} {path}");
            for code in ["401", "404", "409", "413", "422"] {
                assert!(
                    op["responses"].get(code).is_some(),
                    "{method} {path} lacks {code}"
                );
            }
            if path != "/healthz" {
                assert!(op["security"].is_array(), "{method} {path} has no security");
            }
        }
    }
    assert_eq!(operations, 16);
    assert!(doc["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer");

    let yaml = app
        .http
        .get(format!("{}/openapi.yaml", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(yaml.status(), StatusCode::OK);
    let docs = app
        .http
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.unwrap().contains("swagger"));
}
