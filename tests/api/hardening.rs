//! What a hostile client or a careless admin can send, and what it must not achieve: series
//! or log lines of its own making, answers it cannot have, a second reading of one input.

use std::io::{Read, Write};
use std::net::TcpStream;

use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};

use crate::helpers::{keys_json, write_json, TestApp, KEY_A};

fn raw(app: &TestApp, request: &[u8]) -> String {
    let addr = app.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn invented_methods_add_no_series_and_no_log_text() {
    let app = TestApp::spawn().await;
    for i in 0..30 {
        let method = Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let (s, headers, _) = app.send(method, "/clients", Some(KEY_A), &[], None).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "GET, PUT, PATCH, DELETE");
    }
    // An absurdly long method is refused before any routing.
    for length in [17, 100_000] {
        let long = format!(
            "{} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "X".repeat(length)
        );
        let answer = raw(&app, long.as_bytes());
        assert!(
            answer.starts_with("HTTP/1.1 4"),
            "{}",
            &answer[..answer.len().min(200)]
        );
    }
    let (_, metrics) = app.metrics().await;
    assert!(
        !metrics.contains("INVENTED") && !metrics.contains("XXXX"),
        "{metrics}"
    );
    let series = metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total"))
        .count();
    assert!(series <= 3, "{series} series:\n{metrics}");
    assert!(metrics.contains(r#"method="other""#));
    let log = app.wait_for_request_log(" other /clients ").await;
    assert!(!log.contains("INVENTED") && !log.contains("XXXX"));
}

#[tokio::test]
async fn a_forged_forwarded_for_writes_no_line_that_reads_as_another_request() {
    let dir = tempfile::TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let app = TestApp::spawn_in_with(dir, &[("TRUST_PROXY_HEADERS", "true")]).await;
    let forged = "10.9.9.9 key_name=TenantB PUT /clients client_id=31337 status=201, 203.0.113.7";
    let (s, _, _) = app
        .send(
            Method::GET,
            "/healthz",
            None,
            &[("X-Forwarded-For", forged)],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // A last entry that is no IP address is not taken either.
    app.send(
        Method::GET,
        "/healthz",
        None,
        &[("X-Forwarded-For", "1.2.3.4, evil\tkey_name=X")],
        None,
    )
    .await;
    // Control, line-separator and bidi characters in a path are escaped.
    let answer = raw(
        &app,
        "GET /x\u{202e}y\u{2028}z\u{9b}w HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            .as_bytes(),
    );
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    let log = app.wait_for_request_log("/x\\u{202e}y").await;
    assert!(
        log.contains(" 203.0.113.7 key_name=- GET /healthz"),
        "{log}"
    );
    assert!(
        !log.contains("31337") && !log.contains("10.9.9.9") && !log.contains("evil"),
        "{log}"
    );
    assert!(log.contains("/x\\u{202e}y\\u{2028}z\\u{9b}w"), "{log}");
    for bad in ['\u{202e}', '\u{2028}', '\u{9b}', '\t'] {
        assert!(!log.contains(bad), "{bad:?} reached the log raw");
        assert!(
            !app.logs().iter().any(|l| l.contains(bad)),
            "{bad:?} reached stderr raw"
        );
    }
}

#[tokio::test]
async fn every_input_is_read_once() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "En").await;
    // Two Authorization headers: refused, though one is valid.
    let resp = app
        .http
        .get(format!("{}/clients", app.base))
        .header("Authorization", format!("Bearer {KEY_A}"))
        .header("Authorization", "Bearer other")
        .header("X-Client-Id", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // A key twice in a body, at any depth.
    for body in [
        r#"{"client_id": 1, "client_id": 2, "info": {"Name": "A"}}"#,
        r#"{"client_id": 1, "info": {"Name": "A", "Name": "B"}}"#,
    ] {
        let resp = app
            .http
            .put(format!("{}/clients", app.base))
            .bearer_auth(KEY_A)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let p: Value = resp.json().await.unwrap();
        assert!(
            p["detail"].as_str().unwrap().contains("appears twice"),
            "{p}"
        );
    }
    let (_, c) = app.get_client(KEY_A, 1).await;
    assert_eq!(c["info"]["Name"], "En", "nothing changed");
    // A keys file with a key twice is refused, and the keys in force stay.
    std::fs::write(
        app.path("keys.json"),
        keys_json().to_string().replacen(
            "\"key_name\"",
            "\"key_name\": \"Other\", \"key_name\"",
            1,
        ),
    )
    .unwrap();
    app.wait_for_log("appears twice").await;
    assert_eq!(app.get_client(KEY_A, 1).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_flood_of_unknown_fields_gets_a_short_answer() {
    let app = TestApp::spawn().await;
    let mut info = Map::new();
    info.insert("Name".into(), json!("A"));
    for i in 0..6000 {
        info.insert(format!("f{i}"), json!(1));
    }
    let body = json!({"client_id": 1, "info": info});
    assert!(body.to_string().len() < 64 * 1024);
    let (s, p) = app.call(Method::PUT, "/clients", body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"].as_array().unwrap().len(), 50);
    assert_eq!(p["errors_not_listed"], 5950);
    assert!(
        p.to_string().len() < 16 * 1024,
        "{} bytes",
        p.to_string().len()
    );
    assert!(p["detail"].as_str().unwrap().ends_with("and 5950 more"));
}

#[tokio::test]
async fn metrics_live_apart_and_answer_get_only_and_405s_say_allow() {
    let app = TestApp::spawn().await;
    // Not on the API's port by default.
    let (s, _, _) = app.send(Method::GET, "/metrics", None, &[], None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, text) = app.metrics().await;
    assert_eq!(s, StatusCode::OK);
    assert!(text.contains("http_requests_total"));
    let resp = app
        .http
        .post(format!("{}/metrics", app.metrics_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "GET");
    for (method, path, allow) in [
        (Method::POST, "/healthz", "GET"),
        (Method::PATCH, "/clients/zones", "GET, PUT, DELETE"),
        (Method::DELETE, "/clients/imports", "GET"),
        (Method::POST, "/openapi.json", "GET"),
    ] {
        let (s, headers, body) = app.send(method.clone(), path, Some(KEY_A), &[], None).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(headers["allow"], allow, "{method} {path}");
        assert_eq!(body["status"], 405);
    }
    let docs = app
        .http
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        docs.headers()["content-security-policy"],
        "frame-ancestors 'none'"
    );

    // METRICS_ADDR=main puts it on the API's port.
    let dir = tempfile::TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let main = TestApp::spawn_in_with(dir, &[("METRICS_ADDR", "main")]).await;
    let (s, _, _) = main.send(Method::GET, "/metrics", None, &[], None).await;
    assert_eq!(s, StatusCode::OK);
}

/// A client is capped at 1 MiB of its JSON: the write that would pass it is 413, says so,
/// and changes nothing.
#[tokio::test]
async fn a_client_cannot_grow_past_one_mebibyte() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "Stor").await;
    let mut users = 0;
    let refused = loop {
        let no = users + 1 + u32::from(users >= 198);
        let (s, p) = app
            .call(
                Method::POST,
                "/clients/users",
                json!({"client_id": 1, "user": {"UserNo": no, "User_Name": "B", "Instructions": "ø".repeat(4000)}}),
            )
            .await;
        if s != StatusCode::CREATED {
            break (s, p, no);
        }
        users += 1;
        assert!(users < 400, "no cap after {users} users of 8 KB");
    };
    let (s, p, no) = refused;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("1 MiB"), "{p}");
    // About 1 MiB of 8 KB users (ø is two bytes).
    assert!((120..=131).contains(&users), "{users} users");
    let (_, c) = app.get_client(KEY_A, 1).await;
    assert_eq!(c["users"].as_array().unwrap().len(), users as usize);
    assert!(c["users"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["UserNo"] != no));
    assert!(c.to_string().len() <= 1 << 20);
    // Smaller changes still go through.
    let (s, _) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 1, "info": {"Alias": "ok"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
}

/// The checks of `api.md` §2 in their order, one pair at a time: the earlier one answers.
#[tokio::test]
async fn checks_answer_in_the_contract_order() {
    let app = TestApp::spawn().await;
    let big = format!(
        "{{\"client_id\": 1, \"info\": {{\"Name\": \"{}\"}}}}",
        "x".repeat(100_000)
    );
    let send = |key: Option<&'static str>, content_type: &'static str, body: String| {
        let mut req = app
            .http
            .put(format!("{}/clients", app.base))
            .header("Content-Type", content_type)
            .body(body);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        async move {
            // A server that answers before reading a large body may reset the connection
            // while the client still sends: that is not an answer, so send again.
            for _ in 0..5 {
                let attempt = req.try_clone().unwrap();
                if let Ok(response) = attempt.send().await {
                    return response.status();
                }
            }
            panic!("no answer in 5 attempts");
        }
    };
    // 401 before 413: a body too large without a key.
    assert_eq!(
        send(None, "application/json", big.clone()).await,
        StatusCode::UNAUTHORIZED
    );
    // 413 before 415: a body too large, not sent as JSON.
    assert_eq!(
        send(Some(KEY_A), "text/plain", big).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // 415 before 422: a body that is not JSON, not sent as JSON.
    assert_eq!(
        send(Some(KEY_A), "text/plain", "not json".into()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    // 422 before 404: an invalid PATCH of a client that does not exist.
    let (s, _) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 404, "info": {"SinceHrs": 24}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 404, "info": {"SinceHrs": 23}}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// Without `--proxy-headers`, `X-Forwarded-For` is the caller's word and is not logged as
/// the peer: the log names the connection's address.
#[tokio::test]
async fn forwarded_for_is_ignored_without_proxy_headers() {
    let app = TestApp::spawn().await;
    app.send(
        Method::GET,
        "/healthz",
        None,
        &[("X-Forwarded-For", "203.0.113.7")],
        None,
    )
    .await;
    let log = app.wait_for_request_log("GET /healthz").await;
    assert!(log.contains(" 127.0.0.1 key_name=- GET /healthz"), "{log}");
    assert!(!log.contains("203.0.113.7"), "{log}");
}
