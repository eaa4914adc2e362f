//! A full disk: writes that do not fit answer a problem and change nothing; the service
//! serves again once space is freed; the combiner fails its run and puts its files back.
//! Needs root (it mounts a small tmpfs), as CI has.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{keys_json, write_json, TestApp, KEY_A};

/// A 16 MiB tmpfs, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
            .arg(at)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(at.to_owned())
    }

    /// Fills the file system to the last byte.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        let mut byte = [0u8; 1];
        while file.write_all(&byte).is_ok() {
            byte[0] = 1;
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".xml"))
                .collect()
        })
        .unwrap_or_default()
}

/// Client `absent` was never stored, client 1 is still "Kunde 1" with its file as `before`,
/// and no temporary file is left in the tenant's folder.
async fn assert_nothing_changed(app: &TestApp, xml_dir: &Path, before: &[u8], absent: u32) {
    assert_eq!(app.get_client(KEY_A, absent).await.0, StatusCode::NOT_FOUND);
    assert!(!xml_dir.join(format!("{absent}.xml")).exists());
    assert_eq!(app.get_client(KEY_A, 1).await.1["info"]["Name"], "Kunde 1");
    assert_eq!(std::fs::read(xml_dir.join("1.xml")).unwrap(), before);
    assert!(temp_files(xml_dir).is_empty(), "{:?}", temp_files(xml_dir));
}

#[tokio::test]
async fn a_full_disk_refuses_writes_then_recovers() {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let disk = Tmpfs::mount(&dir.path().join("disk"));
    let d = disk.0.clone();
    let env = [
        ("DATA_DIR", d.join("data")),
        ("XML_DIR", d.join("out/clients")),
        ("READY_DIR", d.join("out/ready")),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.to_str().unwrap())).collect();
    let mut with_reserve = env.clone();
    with_reserve.push(("MIN_FREE_MB", "1"));
    let app = TestApp::spawn_in_with(dir, &with_reserve).await;
    for id in 1..=3 {
        app.create_client(KEY_A, id, &format!("Kunde {id}")).await;
    }
    let xml_dir = d.join("out/clients/TenantA");
    let before = std::fs::read(xml_dir.join("1.xml")).unwrap();

    let filler = disk.fill();
    let big = "x".repeat(3900);
    let attempts: Vec<(Method, &str, serde_json::Value)> = vec![
        (
            Method::PUT,
            "/clients",
            json!({"client_id": 4, "info": {"Name": "Ny", "SpecRequest": big}}),
        ),
        (
            Method::PATCH,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "Endret", "SpecRequest": big}}),
        ),
        (
            Method::PUT,
            "/clients/zones",
            json!({"client_id": 1, "zone_id": 9}),
        ),
        (Method::DELETE, "/clients", json!({"client_id": 2})),
    ];
    for (method, path, body) in attempts {
        let (s, h, p) = app
            .send(method.clone(), path, Some(KEY_A), &[], Some(body))
            .await;
        assert_eq!(
            s,
            StatusCode::INSUFFICIENT_STORAGE,
            "{method} {path} on a full disk"
        );
        assert_eq!(h["content-type"], "application/problem+json");
        assert!(p["detail"].is_string());
    }
    // Nothing changed: not in storage, not in the files, no partial file.
    assert_nothing_changed(&app, &xml_dir, &before, 4).await;
    assert_eq!(app.get_client(KEY_A, 2).await.0, StatusCode::OK);

    // Space freed: the same service serves writes again.
    std::fs::remove_file(&filler).unwrap();
    let (s, _) = app
        .call(
            Method::PATCH,
            "/clients",
            json!({"client_id": 1, "info": {"Name": "Endret"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.create_client(KEY_A, 4, "Ny").await;
    assert!(std::fs::read_to_string(xml_dir.join("1.xml"))
        .unwrap()
        .contains("<Name>Endret</Name>"));

    // The combiner on a full READY_DIR fails its run and leaves every file in XML_DIR.
    let share = TempDir::new().unwrap();
    let pending: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(&xml_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let filler = disk.fill();
    let out = Command::new(TestApp::bin())
        .args(["combine", "--once", "--share", "dir"])
        .arg("--share-dir")
        .arg(share.path())
        .current_dir(app.dir.path())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a run on a full disk must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no space left"),
        "the failure must name the lack of space: {stderr}"
    );
    let mut after: Vec<String> = std::fs::read_dir(&xml_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    after.sort();
    assert_eq!(after, pending, "{stderr}");
    assert!(!share.path().join("clients.xml").exists());
    std::fs::remove_file(&filler).unwrap();
    drop(app);
}

/// XML_DIR on a file system of its own that is full while DATA_DIR has room: the reserve
/// is off (`MIN_FREE_MB=0`), yet a file that does not fit is refused before the write is
/// stored (the file follows the answer, so it is checked first). Shown through a restart:
/// what sled holds is what was there before.
#[tokio::test]
async fn a_full_xml_file_system_refuses_the_write_before_storing_it() {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let disk = Tmpfs::mount(&dir.path().join("xmldisk"));
    let xml_root = disk.0.join("clients");
    let env = [
        ("XML_DIR", xml_root.to_str().unwrap()),
        ("MIN_FREE_MB", "0"),
    ];
    let app = TestApp::spawn_in_with(dir, &env).await;
    app.create_client(KEY_A, 1, "Kunde 1").await;
    let xml_dir = xml_root.join("TenantA");
    let before = std::fs::read(xml_dir.join("1.xml")).unwrap();

    let filler = disk.fill();
    let (s, _, p) = app
        .send(
            Method::PUT,
            "/clients",
            Some(KEY_A),
            &[],
            Some(json!({"client_id": 2, "info": {"Name": "Ny"}})),
        )
        .await;
    assert_eq!(s, StatusCode::INSUFFICIENT_STORAGE, "{p}");
    let (s, _, p) = app
        .send(
            Method::PATCH,
            "/clients",
            Some(KEY_A),
            &[],
            Some(json!({"client_id": 1, "info": {"Name": "Endret"}})),
        )
        .await;
    assert_eq!(s, StatusCode::INSUFFICIENT_STORAGE, "{p}");
    assert_nothing_changed(&app, &xml_dir, &before, 2).await;

    // The undo is in sled, not only in memory: a restarted service still has the old state.
    std::fs::remove_file(&filler).unwrap();
    let dir = app.stop();
    let app = TestApp::spawn_in_with(dir, &env).await;
    assert_eq!(app.get_client(KEY_A, 2).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get_client(KEY_A, 1).await.1["info"]["Name"], "Kunde 1");
    assert_eq!(std::fs::read(xml_dir.join("1.xml")).unwrap(), before);
}

/// A sled that ran out of space in a flush keeps its error until restart (README "Full
/// disk"): writes stay refused after space is freed, `/healthz` says 503 so the operator or
/// a monitor restarts it, and a restart with room serves again.
#[tokio::test]
async fn healthz_answers_503_while_storage_has_failed() {
    let dir = TempDir::new().unwrap();
    write_json(&dir.path().join("keys.json"), &keys_json());
    let disk = Tmpfs::mount(&dir.path().join("datadisk"));
    let data = disk.0.join("data");
    // No reserve, so the write reaches sled's flush on the full disk.
    let env = [("DATA_DIR", data.to_str().unwrap()), ("MIN_FREE_MB", "0")];
    let app = TestApp::spawn_in_with(dir, &env).await;
    app.create_client(KEY_A, 1, "Kunde 1").await;
    let (s, _, _) = app.send(Method::GET, "/healthz", None, &[], None).await;
    assert_eq!(s, StatusCode::OK);

    let filler = disk.fill();
    let put = |id: u32| {
        let body =
            json!({"client_id": id, "info": {"Name": "Ny", "SpecRequest": "x".repeat(3900)}});
        let app = &app;
        async move {
            app.send(Method::PUT, "/clients", Some(KEY_A), &[], Some(body))
                .await
        }
    };
    let (s, _, p) = put(2).await;
    assert_eq!(s, StatusCode::INSUFFICIENT_STORAGE, "{p}");
    std::fs::remove_file(&filler).unwrap();
    let (s, _, p) = put(3).await;
    assert!(!s.is_success(), "sled's error stays until restart: {s} {p}");
    let (s, h, p) = app.send(Method::GET, "/healthz", None, &[], None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{p}");
    assert_eq!(h["content-type"], "application/problem+json");

    let dir = app.stop();
    let app = TestApp::spawn_in_with(dir, &env).await;
    let (s, _, _) = app.send(Method::GET, "/healthz", None, &[], None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.get_client(KEY_A, 1).await.0, StatusCode::OK);
    assert_eq!(app.get_client(KEY_A, 2).await.0, StatusCode::NOT_FOUND);
    app.create_client(KEY_A, 3, "Etter omstart").await;
}
