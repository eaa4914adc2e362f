//! Every route and its status codes.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, KEY_A};

fn full_info() -> serde_json::Value {
    json!({
        "Name": "Ola Nordmann", "Alias": "", "Location": "Produksjonsveien 13", "area_code": "1604",
        "area": "Fredrikstad", "BusPhone": "69310000", "Email": "post@ostsik.no", "OKPassword": "franzjager",
        "SpecRequest": "Dette skal gjøres ved alarm på denne kunden.", "NoSigsMon": 1, "SinceDays": 1,
        "SinceHrs": 0, "SinceMins": 30, "ResetNosigsIgnored": true, "ResetNosigsDays": 7,
        "ResetNosigsHrs": 0, "ResetNosigsMins": 0, "InstallDateTime": "2023-02-20", "PanelName": "Ajax",
        "PanelSite": "Stue", "KeypadLocation": "Inngang", "SPPage": "Ekstra informasjon som kan være relevant."
    })
}

fn user(no: u32, name: &str) -> serde_json::Value {
    json!({ "UserNo": no, "User_Name": name, "MobileNo": "+4712345678", "MobileNoOrder": 1,
            "Email": "user@email.com", "Type": "U", "Instructions": "Optional", "CallOrder": 0 })
}

#[tokio::test]
async fn put_creates_then_updates_and_get_returns_every_field() {
    let app = TestApp::spawn().await;
    let (s, created) = app
        .call(
            Method::PUT,
            "/clients",
            json!({"client_id": 9998, "info": full_info()}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(created["client_id"], 9998);
    assert_eq!(created["info"], full_info());
    assert_eq!(created["zones"], json!([]));
    assert_eq!(created["users"], json!([]));

    let (s, got) = app.get_client(KEY_A, 9998).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got, created);

    // PUT replaces info as a whole: omitted fields take their defaults.
    let (s, updated) = app
        .call(
            Method::PUT,
            "/clients",
            json!({"client_id": 9998, "info": {"Name": "Kari", "SinceHrs": 5}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(updated["info"]["Name"], "Kari");
    assert_eq!(updated["info"]["SinceHrs"], 5);
    assert_eq!(updated["info"]["Location"], "");
    assert_eq!(updated["info"]["ResetNosigsIgnored"], false);
}

#[tokio::test]
async fn install_date_defaults_to_the_creation_day_on_every_put() {
    let app = TestApp::spawn().await;
    let today = chrono::Local::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    let (_, c) = app
        .call(
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A"}}),
        )
        .await;
    assert_eq!(c["info"]["InstallDateTime"], today);
    let (_, c) = app
        .call(Method::PUT, "/clients", json!({"client_id": 1, "info": {"Name": "A", "InstallDateTime": "2020-02-29T10:11:12"}}))
        .await;
    assert_eq!(c["info"]["InstallDateTime"], "2020-02-29T10:11:12");
    let (_, c) = app
        .call(
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A"}}),
        )
        .await;
    assert_eq!(c["info"]["InstallDateTime"], today);
}

#[tokio::test]
async fn patch_changes_only_the_fields_sent() {
    let app = TestApp::spawn().await;
    app.call(
        Method::PUT,
        "/clients",
        json!({"client_id": 5, "info": full_info()}),
    )
    .await;
    let (s, c) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 5, "info": {"Location": "Ny gate 99", "SinceMins": 59}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut expected = full_info();
    expected["Location"] = json!("Ny gate 99");
    expected["SinceMins"] = json!(59);
    assert_eq!(c["info"], expected);

    let (s, same) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 5, "info": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(same, c);

    let (s, p) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 6, "info": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(p["detail"].is_string());

    // `info` is required, even though every field in it is optional.
    let (s, p) = app
        .call(Method::PATCH, "/clients", json!({"client_id": 5}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert!(p.to_string().contains("info"), "{p}");
    assert_eq!(app.get_client(KEY_A, 5).await.1, c);
}

#[tokio::test]
async fn delete_client_answers_204_then_404() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 7, "Seven").await;
    let (s, v) = app
        .call(Method::DELETE, "/clients", json!({"client_id": 7}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    assert_eq!(v, serde_json::Value::Null);
    assert_eq!(app.get_client(KEY_A, 7).await.0, StatusCode::NOT_FOUND);
    let (s, p) = app
        .call(Method::DELETE, "/clients", json!({"client_id": 7}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(p["status"], 404);
}

#[tokio::test]
async fn zones_upsert_list_and_delete() {
    let app = TestApp::spawn().await;
    let (s, _) = app
        .call(
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "zone of a missing client");

    app.create_client(KEY_A, 1, "One").await;
    let (s, z) = app
        .call(
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 2, "Zone_area": "Stue", "ModuleNo": 3}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        z,
        json!({"client_id": 1, "zone": {"Zone_No": 2, "Zone_area": "Stue", "ModuleNo": 3}})
    );
    app.call(
        Method::PUT,
        "/clients/zones",
        json!({"client_id": 1, "zone_id": 1, "Zone_area": "Inngang"}),
    )
    .await;
    // Update answers 201 too, and replaces the zone as a whole.
    let (s, z) = app
        .call(
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 2}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        z["zone"],
        json!({"Zone_No": 2, "Zone_area": "", "ModuleNo": 0})
    );

    let expected = json!({"client_id": 1, "zones": [
        {"Zone_No": 1, "Zone_area": "Inngang", "ModuleNo": 0},
        {"Zone_No": 2, "Zone_area": "", "ModuleNo": 0}]});
    let (s, by_header) = app
        .get_as(KEY_A, "/clients/zones", &[("X-Client-Id", "1")])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(by_header, expected);
    let (s, by_body) = app
        .call(Method::POST, "/clients/zones/list", json!({"client_id": 1}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(by_body, expected);

    let deletes = [
        (
            json!({"client_id": 1, "zone_id": 1}),
            StatusCode::NO_CONTENT,
        ),
        (json!({"client_id": 1, "zone_id": 1}), StatusCode::NOT_FOUND),
        (json!({"client_id": 2, "zone_id": 1}), StatusCode::NOT_FOUND),
    ];
    for (body, expected) in deletes {
        assert_eq!(
            app.status(Method::DELETE, "/clients/zones", body.clone())
                .await,
            expected,
            "{body}"
        );
    }
    assert_eq!(
        app.get_as(KEY_A, "/clients/zones", &[("X-Client-Id", "2")])
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.status(Method::POST, "/clients/zones/list", json!({"client_id": 2}))
            .await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn users_create_read_replace_delete() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.status(
            Method::POST,
            "/clients/users",
            json!({"client_id": 3, "user": user(1, "U1")})
        )
        .await,
        StatusCode::NOT_FOUND
    );
    app.create_client(KEY_A, 3, "Three").await;
    let (s, u) = app
        .call(
            Method::POST,
            "/clients/users",
            json!({"client_id": 3, "user": user(2, "U2")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(u, json!({"client_id": 3, "user": user(2, "U2")}));
    let (s, p) = app
        .call(
            Method::POST,
            "/clients/users",
            json!({"client_id": 3, "user": user(2, "Again")}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("exists"));
    // Defaults of the optional user fields.
    let (s, u) = app
        .call(
            Method::POST,
            "/clients/users",
            json!({"client_id": 3, "user": {"UserNo": 1, "User_Name": "Min"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        u["user"],
        json!({"UserNo": 1, "User_Name": "Min", "MobileNo": "", "MobileNoOrder": 0,
        "Email": "", "Type": "U", "Instructions": "", "CallOrder": 0})
    );

    let expected_list = json!({"client_id": 3, "users": [
        {"UserNo": 1, "User_Name": "Min", "MobileNo": "", "MobileNoOrder": 0, "Email": "", "Type": "U", "Instructions": "", "CallOrder": 0},
        user(2, "U2")]});
    assert_eq!(
        app.get_as(KEY_A, "/clients/users", &[("X-Client-Id", "3")])
            .await,
        (StatusCode::OK, expected_list.clone())
    );
    assert_eq!(
        app.call(Method::POST, "/clients/users/list", json!({"client_id": 3}))
            .await,
        (StatusCode::OK, expected_list)
    );

    let single = json!({"client_id": 3, "user": user(2, "U2")});
    assert_eq!(
        app.get_as(
            KEY_A,
            "/clients/users/single",
            &[("X-Client-Id", "3"), ("X-User-No", "2")]
        )
        .await,
        (StatusCode::OK, single.clone())
    );
    assert_eq!(
        app.call(
            Method::POST,
            "/clients/users/get",
            json!({"client_id": 3, "user_no": 2})
        )
        .await,
        (StatusCode::OK, single)
    );
    // 199 is the installer: not an error of form, just not there.
    assert_eq!(
        app.get_as(
            KEY_A,
            "/clients/users/single",
            &[("X-Client-Id", "3"), ("X-User-No", "199")]
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (s, u) = app
        .call(
            Method::PUT,
            "/clients/users",
            json!({"client_id": 3, "user": user(2, "Changed")}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(u["user"]["User_Name"], "Changed");
    // In order: each answer as the contract has it.
    let steps = [
        (
            Method::POST,
            "/clients/users/get",
            json!({"client_id": 3, "user_no": 199}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/clients/users/get",
            json!({"client_id": 3, "user_no": 5}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            "/clients/users",
            json!({"client_id": 3, "user": user(9, "X")}),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::DELETE,
            "/clients/users",
            json!({"client_id": 3, "user_no": 2}),
            StatusCode::NO_CONTENT,
        ),
        (
            Method::DELETE,
            "/clients/users",
            json!({"client_id": 3, "user_no": 2}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (method, path, body, expected) in steps {
        assert_eq!(
            app.status(method.clone(), path, body.clone()).await,
            expected,
            "{method} {path} {body}"
        );
    }
    let (_, c) = app.get_client(KEY_A, 3).await;
    assert_eq!(c["users"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn keys_are_checked_on_every_request() {
    use crate::helpers::{KEY_DISABLED, KEY_EXPIRED, KEY_HASHED};
    let app = TestApp::spawn().await;
    for key in [None, Some("wrong"), Some(KEY_DISABLED), Some(KEY_EXPIRED)] {
        let (s, h, p) = app
            .send(Method::GET, "/clients", key, &[("X-Client-Id", "1")], None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(h["www-authenticate"], "Bearer");
        assert_eq!(h["content-type"], "application/problem+json");
        assert_eq!(p["status"], 401);
        assert!(p["detail"].is_string());
    }
    // A key given as key_sha256 in the file works with the secret.
    app.create_client(KEY_HASHED, 1, "Hashed").await;
    // 401 comes before every other check, even a body that is too large or not JSON.
    let (s, _, _) = app
        .send(
            Method::PUT,
            "/clients",
            Some("wrong"),
            &[("Content-Type", "text/plain")],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn body_limit_and_content_type() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "One").await;
    let big = "x".repeat(70 * 1024);
    let resp = app
        .http
        .put(format!("{}/clients", app.base))
        .bearer_auth(KEY_A)
        .header("Content-Type", "application/json")
        .body(format!(
            r#"{{"client_id": 1, "info": {{"Name": "{big}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");

    // Chunked: no Content-Length, so the limit must hold while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![b' '; 1024])).collect();
    let resp = app
        .http
        .put(format!("{}/clients", app.base))
        .bearer_auth(KEY_A)
        .header("Content-Type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // 413 before 415.
    let resp = app
        .http
        .put(format!("{}/clients", app.base))
        .bearer_auth(KEY_A)
        .header("Content-Type", "text/plain")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    for ct in [Some("text/plain"), None] {
        let mut req = app
            .http
            .put(format!("{}/clients", app.base))
            .bearer_auth(KEY_A);
        if let Some(ct) = ct {
            req = req.header("Content-Type", ct);
        }
        let resp = req
            .body(r#"{"client_id": 1, "info": {"Name": "A"}}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
        let p: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(p["status"], 415);
    }
    // A GET without a body is fine (no 411 for a missing Content-Length).
    assert_eq!(app.get_client(KEY_A, 1).await.0, StatusCode::OK);
}

#[tokio::test]
async fn healthz_needs_no_key_and_unknown_routes_are_problems() {
    let app = TestApp::spawn().await;
    let (s, _, v) = app.send(Method::GET, "/healthz", None, &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, json!({"status": "ok"}));
    let (s, h, v) = app.send(Method::GET, "/nope", Some(KEY_A), &[], None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(h["content-type"], "application/problem+json");
    assert!(v["detail"].is_string());
}
