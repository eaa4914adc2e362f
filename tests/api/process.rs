//! The process: settings, request log, graceful stop.

use std::process::Command;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{keys_json, write_json, TestApp, KEY_A};

fn serve_fails(dir: &TempDir, envs: &[(&str, &str)]) -> String {
    let out = Command::new(TestApp::bin())
        .arg("serve")
        .current_dir(dir.path())
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success(), "should fail: {envs:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("patriot-api: error: "), "{stderr}");
    stderr
}

#[test]
fn bad_settings_stop_the_start_with_a_line_naming_them() {
    let dir = TempDir::new().unwrap();
    let err = serve_fails(&dir, &[("KEY_FILE", "missing.json"), ("PORT", "0")]);
    assert!(err.contains("missing.json"), "{err}");
    let err = serve_fails(&dir, &[("PORT", "not-a-port")]);
    assert!(err.contains("PORT") || err.contains("--port"), "{err}");

    let mut keys = keys_json();
    keys[1]["key_name"] = json!("bad name/..");
    write_json(&dir.path().join("bad.json"), &keys);
    let err = serve_fails(&dir, &[("KEY_FILE", "bad.json"), ("PORT", "0")]);
    assert!(err.contains("key_name"), "{err}");

    let mut keys = keys_json();
    keys[0]["xml_fields"] = json!({"1Bad": "x"});
    write_json(&dir.path().join("bad.json"), &keys);
    let err = serve_fails(&dir, &[("KEY_FILE", "bad.json"), ("PORT", "0")]);
    assert!(err.contains("1Bad"), "{err}");

    let mut keys = keys_json();
    keys[1]["key"] = keys[0]["key"].clone();
    write_json(&dir.path().join("bad.json"), &keys);
    let err = serve_fails(&dir, &[("KEY_FILE", "bad.json"), ("PORT", "0")]);
    assert!(err.contains("the same key"), "{err}");
}

/// Keys files that would mix up two tenants are refused at start, with both entries named.
#[test]
fn an_ambiguous_keys_file_stops_the_start() {
    let dir = TempDir::new().unwrap();
    for (change, expected) in [
        (
            json!({"port": "base11"}),
            r#"entry 0 ("TenantA") and entry 1 ("TenantB") have port "BASE11" and "base11""#,
        ),
        (
            json!({"key_name": "tenanta"}),
            r#"entry 0 ("TenantA") and entry 1 ("tenanta") have key_name "TenantA" and "tenanta""#,
        ),
        (
            json!({"port": "11"}),
            r#"entry 1 ("TenantB"): port "11" must start with a letter"#,
        ),
        (
            json!({"key": "key-b-secret\n"}),
            "entry 1 (\"TenantB\"): key has a character",
        ),
    ] {
        let mut keys = keys_json();
        for (field, value) in change.as_object().unwrap() {
            keys[1][field] = value.clone();
        }
        write_json(&dir.path().join("bad.json"), &keys);
        let err = serve_fails(&dir, &[("KEY_FILE", "bad.json"), ("PORT", "0")]);
        assert!(err.contains(expected), "{change}: {err}");
    }
}

#[tokio::test]
async fn request_log_names_the_tenant_never_the_key() {
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 42, "Logged").await;
    app.get_client("wrong-key", 42).await;
    let log = app.wait_for_request_log("status=401").await;
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0].contains("key_name=TenantA") && lines[0].contains("PUT /clients"));
    assert!(lines[0].contains("client_id=42") && lines[0].contains("status=201"));
    assert!(lines[0].contains("127.0.0.1") && lines[0].contains("duration_ms="));
    assert!(lines[1].contains("status=401") && lines[1].contains("key_name=-"));
    for text in [log.as_str(), &app.logs().join("\n")] {
        assert!(
            !text.contains(KEY_A) && !text.contains("wrong-key"),
            "a key was logged"
        );
    }
}

/// The request log is written in batches, never sampled: each of a burst of concurrent
/// requests has exactly one line. Standard error (journald under systemd) gets none of them
/// at the default level, so its rate limit cannot drop anything the log needs.
#[tokio::test]
async fn every_request_of_a_burst_has_one_line_and_none_goes_to_stderr() {
    let app = TestApp::spawn().await;
    let ids = 1..=400u32;
    let statuses =
        futures_util::future::join_all(ids.clone().map(|id| app.get_client(KEY_A, id))).await;
    assert!(statuses
        .iter()
        .all(|(status, _)| *status == StatusCode::NOT_FOUND));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = app.wait_for_request_log("GET /clients").await;
        if log.lines().count() >= 400 || std::time::Instant::now() > deadline {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for id in ids {
        let needle = format!(" GET /clients client_id={id} status=404 ");
        let lines = log.lines().filter(|l| l.contains(&needle)).count();
        assert_eq!(lines, 1, "{needle:?} in:\n{log}");
    }
    assert_eq!(log.lines().count(), 400, "{log}");
    let on_stderr = app.logs().iter().filter(|l| l.contains("/clients")).count();
    assert_eq!(on_stderr, 0, "request lines went to stderr");
}

#[tokio::test]
async fn sigterm_stops_cleanly() {
    let mut app = TestApp::spawn().await;
    let (s, _) = app
        .call(
            Method::PUT,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "A"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    unsafe { libc::kill(app.pid(), libc::SIGTERM) };
    let status = app
        .wait_exit(Duration::from_secs(15))
        .expect("did not stop on SIGTERM");
    assert!(status.success(), "{status:?}");
}

/// A request still arriving when SIGTERM comes is finished and answered, then the process ends.
/// Each step waits for its event: `100 Continue` says the handler is reading the body (the
/// request is in flight), the log line says SIGTERM was taken.
#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish() {
    use std::io::{Read, Write};
    let mut app = TestApp::spawn().await;
    let first = br#"{"client_id": 77, "info": "#;
    let rest = br#"{"Name": "Sent during shutdown"}}"#;
    let mut stream = std::net::TcpStream::connect(app.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "PUT /clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\n\r\n",
        first.len() + rest.len()
    )
    .unwrap();
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(first).unwrap();

    unsafe { libc::kill(app.pid(), libc::SIGTERM) };
    app.wait_for_log("SIGTERM: finishing requests in flight")
        .await;
    stream.write_all(rest).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = app.wait_exit(Duration::from_secs(15)).expect("stopped");
    assert!(status.success());
    assert!(app
        .xml("TenantA", 77)
        .unwrap()
        .contains("Sent during shutdown"));
}

/// A tenant folder in XML_DIR that is a symbolic link: the API would write through it but the
/// combiner could not claim its files, so both refuse to start, naming it.
#[test]
fn a_linked_tenant_folder_stops_both_programs() {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let elsewhere = TempDir::new().unwrap();
    std::fs::create_dir_all(dir.path().join("out/clients")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("out/clients/TenantA")).unwrap();
    let err = serve_fails(&dir, &[("KEY_FILE", "keys.json"), ("PORT", "0")]);
    assert!(
        err.contains("out/clients/TenantA is a symbolic link"),
        "{err}"
    );
    let out = Command::new(TestApp::bin())
        .args(["combine", "--once", "--share", "none"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("TenantA is a symbolic link"), "{stderr}");
}
