//! 422: strict types, unknown fields, null, ranges, every failing field named.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{TestApp, KEY_A};

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn expect_422(app: &TestApp, method: Method, path: &str, body: Value, expected: &[&str]) {
    let (s, h, p) = app
        .send(method.clone(), path, Some(KEY_A), &[], Some(body.clone()))
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{method} {path} {body} -> {p}"
    );
    assert_eq!(h["content-type"], "application/problem+json");
    assert_eq!(p["status"], 422);
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
    let mut got = fields(&p);
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(got, want, "{method} {path} {body} -> {p}");
}

#[tokio::test]
async fn every_failing_field_is_named() {
    let app = TestApp::spawn().await;
    expect_422(
        &app,
        Method::PUT,
        "/clients",
        json!({"client_id": 0, "info": {"Name": "", "SinceHrs": 24, "SinceMins": "5", "BusPhone": "12",
               "Email": "no-at-sign", "InstallDateTime": "2023-02-30", "Typo": 1, "ResetNosigsIgnored": 1}}),
        &["client_id", "info.Name", "info.SinceHrs", "info.SinceMins", "info.BusPhone", "info.Email",
          "info.InstallDateTime", "info.Typo", "info.ResetNosigsIgnored"],
    )
    .await;
}

#[tokio::test]
async fn form_errors_on_every_route() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "One").await;
    let cases: Vec<(Method, &str, Value, Vec<&str>)> = vec![
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1}),
            vec!["info"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {}}),
            vec!["info.Name"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": "1", "info": {"Name": "A"}}),
            vec!["client_id"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1.5, "info": {"Name": "A"}}),
            vec!["client_id"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 4294967296u64, "info": {"Name": "A"}}),
            vec!["client_id"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": -1, "info": {"Name": "A"}}),
            vec!["client_id"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": null}}),
            vec!["info.Name"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A"}, "extra": true}),
            vec!["extra"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "a\u{0007}b"}}),
            vec!["info.Name"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "x".repeat(256)}}),
            vec!["info.Name"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A", "area_code": "1".repeat(21)}}),
            vec!["info.area_code"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A", "SpecRequest": "x".repeat(4001)}}),
            vec!["info.SpecRequest"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A", "NoSigsMon": 256}}),
            vec!["info.NoSigsMon"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A", "SinceDays": 1000, "ResetNosigsDays": -1}}),
            vec!["info.SinceDays", "info.ResetNosigsDays"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A", "ResetNosigsHrs": 24, "ResetNosigsMins": 60}}),
            vec!["info.ResetNosigsHrs", "info.ResetNosigsMins"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A", "InstallDateTime": "2023-2-1"}}),
            vec!["info.InstallDateTime"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A", "InstallDateTime": "2023-02-20T25:00:00"}}),
            vec!["info.InstallDateTime"],
        ),
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": "A"}),
            vec!["info"],
        ),
        (Method::PUT, "/clients", json!([1]), vec!["body"]),
        (
            Method::PATCH,
            "/clients",
            json!({"client_id": 1, "info": {"Email": "a@b"}}),
            vec!["info.Email"],
        ),
        (
            Method::PATCH,
            "/clients",
            json!({"client_id": 1, "info": {"Location": null}}),
            vec!["info.Location"],
        ),
        (Method::DELETE, "/clients", json!({}), vec!["client_id"]),
        (
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 1000}),
            vec!["zone_id"],
        ),
        (
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 0, "ModuleNo": 256, "Zone_area": 5}),
            vec!["zone_id", "ModuleNo", "Zone_area"],
        ),
        (
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1}),
            vec!["zone_id"],
        ),
        (
            Method::DELETE,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": "1"}),
            vec!["zone_id"],
        ),
        (
            Method::POST,
            "/clients/zones/list",
            json!({"client_id": 1, "zone_id": 1}),
            vec!["zone_id"],
        ),
        (
            Method::POST,
            "/clients/users",
            json!({"client_id": 1, "user": {"UserNo": 199, "User_Name": "I"}}),
            vec!["user.UserNo"],
        ),
        (
            Method::POST,
            "/clients/users",
            json!({"client_id": 1, "user": {"UserNo": 1000, "User_Name": ""}}),
            vec!["user.UserNo", "user.User_Name"],
        ),
        (
            Method::POST,
            "/clients/users",
            json!({"client_id": 1, "user": {"UserNo": 1}}),
            vec!["user.User_Name"],
        ),
        (
            Method::POST,
            "/clients/users",
            json!({"client_id": 1, "user": {"UserNo": 1, "User_Name": "A", "Type": "u", "MobileNo": "abc", "MobileNoOrder": 100, "CallOrder": 1000, "Email": "a b@c.no", "Extra": 1}}),
            vec![
                "user.Type",
                "user.MobileNo",
                "user.MobileNoOrder",
                "user.CallOrder",
                "user.Email",
                "user.Extra",
            ],
        ),
        (
            Method::PUT,
            "/clients/users",
            json!({"client_id": 1, "user": {"UserNo": 1, "User_Name": "A", "Type": "AB"}}),
            vec!["user.Type"],
        ),
        (
            Method::POST,
            "/clients/users/get",
            json!({"client_id": 1, "user_no": 0}),
            vec!["user_no"],
        ),
        (
            Method::DELETE,
            "/clients/users",
            json!({"client_id": 1}),
            vec!["user_no"],
        ),
        (
            Method::POST,
            "/clients/users/list",
            json!({"client_id": null}),
            vec!["client_id"],
        ),
    ];
    for (method, path, body, expected) in cases {
        expect_422(&app, method, path, body, &expected).await;
    }
}

#[tokio::test]
async fn valid_edge_values_pass() {
    let app = TestApp::spawn().await;
    let (s, c) = app
        .call(Method::PUT, "/clients", json!({"client_id": 4294967295u64, "info": {
            "Name": "Å\tø\r\næ & <b>", "BusPhone": "+47 123-45", "Email": "", "InstallDateTime": "2024-02-29",
            "SinceHrs": 23, "SinceMins": 59, "NoSigsMon": 255, "SinceDays": 999, "area_code": "x".repeat(20)}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["info"]["Name"], "Å\tø\r\næ & <b>", "text is kept exactly");
    let (s, _) = app
        .call(Method::POST, "/clients/users", json!({"client_id": 4294967295u64, "user": {"UserNo": 999, "User_Name": "Z", "Type": "Z", "MobileNo": "", "Email": "a@b.co"}}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn header_errors_name_the_header() {
    let app = TestApp::spawn().await;
    for (headers, field) in [
        (vec![], "X-Client-Id"),
        (vec![("X-Client-Id", "abc")], "X-Client-Id"),
        (vec![("X-Client-Id", "0")], "X-Client-Id"),
        (vec![("X-Client-Id", "-4")], "X-Client-Id"),
        (vec![("X-Client-Id", "4294967296")], "X-Client-Id"),
    ] {
        let (s, p) = app.get_as(KEY_A, "/clients", &headers).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{headers:?}");
        assert_eq!(fields(&p), vec![field.to_owned()]);
    }
    for value in ["0", "1000", "x"] {
        let (s, p) = app
            .get_as(
                KEY_A,
                "/clients/users/single",
                &[("X-Client-Id", "1"), ("X-User-No", value)],
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(fields(&p), vec!["X-User-No".to_owned()]);
    }
}

/// Id headers are plain decimal digits, refused in the words of a body field.
#[tokio::test]
async fn id_headers_are_strict_decimal_with_body_style_messages() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "En").await;
    for (value, detail) in [
        ("+1", "X-Client-Id must be an integer in decimal digits"),
        ("1 2", "X-Client-Id must be an integer in decimal digits"),
        ("0001", "X-Client-Id must be an integer in decimal digits"),
        ("1.0", "X-Client-Id must be an integer in decimal digits"),
        ("0", "X-Client-Id must be between 1 and 4294967295"),
        (
            "99999999999999999999999",
            "X-Client-Id must be between 1 and 4294967295",
        ),
    ] {
        let (s, p) = app
            .get_as(KEY_A, "/clients", &[("X-Client-Id", value)])
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{value:?}");
        assert_eq!(p["detail"], detail, "{value:?}");
    }
    let (s, p) = app.get_as(KEY_A, "/clients", &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["detail"], "X-Client-Id is required");
    let (s, _) = app.get_as(KEY_A, "/clients", &[("X-Client-Id", "1")]).await;
    assert_eq!(s, StatusCode::OK);
    // A repeated header is refused, not read one way or the other.
    let resp = app
        .http
        .get(format!("{}/clients", app.base))
        .bearer_auth(KEY_A)
        .header("X-Client-Id", "1")
        .header("X-Client-Id", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(p["detail"], "X-Client-Id must be sent once");
}

#[tokio::test]
async fn malformed_json_names_the_body() {
    let app = TestApp::spawn().await;
    let resp = app
        .http
        .put(format!("{}/clients", app.base))
        .bearer_auth(KEY_A)
        .header("Content-Type", "application/json")
        .body("{\"client_id\": 1,")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = resp.json().await.unwrap();
    assert_eq!(fields(&p), vec!["body".to_owned()]);
}
