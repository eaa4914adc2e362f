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
        "/clients/imports",
        "/healthz",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    // Every operation has an id, a summary and a tag, and documents exactly the errors it can
    // answer: a body's 413/415 only with a body, 401 only with a key.
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let name = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{name}");
            assert!(op["summary"].is_string(), "{name}");
            assert!(op["description"].is_string(), "{name}");
            assert!(op["tags"].is_array(), "{name}");
            let has = |code: &str| op["responses"].get(code).is_some();
            let has_body = op.get("requestBody").is_some();
            assert_eq!(has("413"), has_body, "{name}: 413");
            assert_eq!(has("415"), has_body, "{name}: 415");
            assert!(!has("500"), "{name}: 500 is never on purpose");
            let security = op["security"]
                .as_array()
                .expect("every operation says its security");
            if path == "/healthz" {
                assert!(security.is_empty(), "{name} is public");
                assert!(!has("401") && !has("422") && has("503"), "{name}");
            } else {
                assert_eq!(security.len(), 1, "{name}");
                assert!(has("401") && has("422"), "{name}");
                let www = &op["responses"]["401"]["headers"]["WWW-Authenticate"];
                assert_eq!(www["required"], true, "{name}");
            }
            let conflicts = op["responses"].get("409").map(|r| r["description"].clone());
            let is_write = method != "get" && !path.ends_with("/list") && !path.ends_with("/get");
            assert_eq!(conflicts.is_some(), is_write, "{name}: 409 only on writes");
            if let Some(description) = conflicts {
                let mentions_exists = description.as_str().unwrap().contains("already has a user");
                assert_eq!(
                    mentions_exists,
                    method == "post" && path == "/clients/users",
                    "{name}: the user-exists 409"
                );
            }
            for (status, answer) in op["responses"].as_object().unwrap() {
                for (media, _) in answer["content"].as_object().into_iter().flatten() {
                    let expected = if status.starts_with('2') {
                        "application/json"
                    } else {
                        "application/problem+json"
                    };
                    assert_eq!(media, expected, "{name} {status}");
                }
            }
        }
    }
    assert_eq!(operations, 17);
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
    let html = docs.text().await.unwrap();
    assert!(html.contains("swagger"));
    // Swagger UI shows the published document, not poem-openapi's draft of it.
    assert!(html.contains("\"additionalProperties\":false"));
    assert!(html.contains("\"security\":[]"));
    assert!(html.contains("\"servers\":[{\"url\":\"/\",\"description\":\"This server.\"}]"));
}
