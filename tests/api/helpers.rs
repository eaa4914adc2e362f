//! Black-box helpers: the real binary on port 0, its own temp dir, an HTTP client.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

/// The client id of a staged file's name (`.tmp-<id>.part`): the service keeps one per
/// client between writes, holding its version before last; the combiner never takes it.
pub fn staged_file_id(name: &str) -> Option<u32> {
    name.strip_prefix(".tmp-")?
        .strip_suffix(".part")?
        .parse()
        .ok()
}

pub const KEY_A: &str = "key-a-secret";
pub const KEY_B: &str = "key-b-secret";
pub const KEY_DISABLED: &str = "key-disabled-secret";
pub const KEY_EXPIRED: &str = "key-expired-secret";
pub const KEY_HASHED: &str = "key-hashed-secret";

pub fn keys_json() -> Value {
    json!([
        { "key_name": "TenantA", "key": KEY_A, "enabled": true, "valid_to": "2099-01-01T00:00:00Z",
          "port": "BASE11", "installer_name": "Installer A", "installer_email": "installer@a.no",
          "xml_fields": { "InstallerName": "Østfold Sikkerhetsservice AS", "Callout1": "TLF01BASE01",
                          "UseCallout1": "True" } },
        { "key_name": "TenantB", "key": KEY_B, "port": "BASE22",
          "installer_name": "Installer B", "installer_email": "installer@b.no" },
        { "key_name": "Disabled", "key": KEY_DISABLED, "enabled": false, "port": "BASE33",
          "installer_name": "D", "installer_email": "d@d.no" },
        { "key_name": "Expired", "key": KEY_EXPIRED, "valid_to": "2020-01-01T00:00:00Z", "port": "BASE44",
          "installer_name": "E", "installer_email": "e@e.no" },
        { "key_name": "Hashed", "key_sha256": hashed_key_digest(), "port": "BASE55",
          "installer_name": "H", "installer_email": "h@h.no" }
    ])
}

fn hashed_key_digest() -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(KEY_HASHED.as_bytes()))
}

pub fn write_json(path: &Path, value: &Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A running `patriot-api serve` with its own folder.
pub struct TestApp {
    pub dir: TempDir,
    pub base: String,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
}

impl TestApp {
    pub fn bin() -> &'static str {
        env!("CARGO_BIN_EXE_patriot-api")
    }

    pub async fn spawn() -> Self {
        let dir = TempDir::new().unwrap();
        write_json(&dir.path().join("keys.json"), &keys_json());
        Self::spawn_in(dir).await
    }

    /// Starts the binary on the folder of an earlier run (its keys file, data and XML).
    pub async fn spawn_in(dir: TempDir) -> Self {
        Self::spawn_in_with(dir, &[]).await
    }

    /// As `spawn_in`, with more environment variables.
    pub async fn spawn_in_with(dir: TempDir, envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(Self::bin())
            .arg("serve")
            .args(["--port", "0"])
            .current_dir(dir.path())
            .env("KEY_FILE", dir.path().join("keys.json"))
            .env("RUST_LOG", "info")
            // /metrics on a port of its own, picked by the system (tests run side by side).
            .env("METRICS_ADDR", "127.0.0.1:0")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => panic!("server did not start: {:?}", logs.lock().unwrap()),
        };
        Self {
            dir,
            base: format!("http://{addr}"),
            child,
            logs,
            http: reqwest::Client::new(),
        }
    }

    /// The base address of the metrics listener (`METRICS_ADDR`), from its log line.
    pub fn metrics_base(&self) -> String {
        let addr = self
            .metrics_addr()
            .expect("the metrics listener was announced");
        format!("http://{addr}")
    }

    /// `host:port` of the metrics listener, when it announced one.
    fn metrics_addr(&self) -> Option<String> {
        self.logs()
            .iter()
            .find_map(|l| l.split("metrics on http://").nth(1))
            .map(|rest| rest.trim().trim_end_matches("/metrics").to_owned())
    }

    /// `GET /metrics` on the metrics listener: status and text.
    pub async fn metrics(&self) -> (StatusCode, String) {
        let resp = self
            .http
            .get(format!("{}/metrics", self.metrics_base()))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The XML file of a client, if there is one, once the files of every answered write
    /// are in place (they follow the answer: README "Durability").
    pub fn xml(&self, tenant: &str, id: u32) -> Option<String> {
        self.settle();
        std::fs::read_to_string(self.path(&format!("out/clients/{tenant}/{id}.xml"))).ok()
    }

    /// Waits until the service owes no XML file (`patriot_xml_files_unsynced` is 0: every
    /// answered write's file written and synced), or is gone. Blocking, so that plain
    /// functions can call it; the service is another process.
    pub fn settle(&self) {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            match self.files_owed() {
                Some(0) | None => return,
                Some(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        panic!("the service still owes XML files after 10 s");
    }

    /// `patriot_xml_files_unsynced` from `/metrics`; `None` when the service does not answer.
    fn files_owed(&self) -> Option<u64> {
        use std::io::{Read, Write};
        let addr = self
            .metrics_addr()
            .unwrap_or_else(|| self.base.trim_start_matches("http://").to_owned());
        let mut conn = std::net::TcpStream::connect(&addr).ok()?;
        conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(conn, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
        let mut text = String::new();
        conn.read_to_string(&mut text).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("patriot_xml_files_unsynced "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until a log line contains `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        for _ in 0..100 {
            if self.logs().iter().any(|l| l.contains(needle)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no log line with {needle:?}: {:?}", self.logs());
    }

    /// How many log lines so far contain `needle`.
    pub fn count_logs(&self, needle: &str) -> usize {
        self.logs().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (up to 10 s) until at least `n` log lines contain `needle`.
    pub async fn wait_for_logs(&self, needle: &str, n: usize) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.count_logs(needle) < n {
            assert!(
                std::time::Instant::now() < deadline,
                "fewer than {n} log lines with {needle:?} within 10 s: {:?}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the request log (written every 100 ms) has a line containing `needle`;
    /// returns the whole log.
    pub async fn wait_for_request_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(self.path("api_requests.log")).unwrap_or_default();
            if log.contains(needle) {
                return log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no request log line with {needle:?} within 10 s:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no chance to clean up, like a power loss for the process.
    pub fn kill(mut self) -> TempDir {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::replace(&mut self.dir, TempDir::new().unwrap())
    }

    /// SIGTERM, as systemd stops the service: requests finish, files are made durable.
    pub fn stop(mut self) -> TempDir {
        unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        let status = self
            .wait_exit(Duration::from_secs(15))
            .expect("stops on SIGTERM");
        assert!(status.success(), "{status:?}");
        std::mem::replace(&mut self.dir, TempDir::new().unwrap())
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, headers, value)
    }

    /// A request with a JSON body and key A; returns status and body.
    pub async fn call(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, v) = self.send(method, path, Some(KEY_A), &[], Some(body)).await;
        (s, v)
    }

    /// The status of a request with a JSON body and key A.
    pub async fn status(&self, method: Method, path: &str, body: Value) -> StatusCode {
        self.call(method, path, body).await.0
    }

    /// The status of a request with a JSON body and `key`.
    pub async fn status_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> StatusCode {
        self.call_as(key, method, path, body).await.0
    }

    pub async fn call_as(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let (s, _, v) = self.send(method, path, Some(key), &[], Some(body)).await;
        (s, v)
    }

    /// `GET` with `X-Client-Id` (and more headers) as `key`.
    pub async fn get_as(
        &self,
        key: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let (s, _, v) = self.send(Method::GET, path, Some(key), headers, None).await;
        (s, v)
    }

    pub async fn get_client(&self, key: &str, id: u32) -> (StatusCode, Value) {
        self.get_as(key, "/clients", &[("X-Client-Id", &id.to_string())])
            .await
    }

    pub async fn create_client(&self, key: &str, id: u32, name: &str) {
        let (s, v) = self
            .call_as(
                key,
                Method::PUT,
                "/clients",
                json!({ "client_id": id, "info": { "Name": name } }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        // Set-up: the client and its file (which follows the answer) are both there.
        self.settle();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
