//! The combiner end to end: the API's files, the real binary, a real smbd.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use patriot_api::domain::rows::read_rows;

use crate::helpers::{TestApp, KEY_A, KEY_B};
use crate::smbd::{TestSmbd, SMB_PASSWORD, SMB_USER};

struct Run {
    ok: bool,
    stderr: String,
}

/// `patriot-api combine --once` on the folder of a test (its `out/clients`, state file, logs).
fn combine(dir: &Path, smbd: &TestSmbd, extra: &[(&str, &str)]) -> Run {
    let password_file = dir.join("smb-password");
    std::fs::write(&password_file, format!("{SMB_PASSWORD}\n")).unwrap();
    let out = Command::new(TestApp::bin())
        .args(["combine", "--once"])
        .current_dir(dir)
        .env("SHARE", "smb")
        .env("SMB_SERVER", smbd.server())
        .env("SMB_SHARE_NAME", "api_import")
        .env("SMB_USERNAME", SMB_USER)
        .env("SMB_PASSWORD_FILE", &password_file)
        // Generous: smbd shares two cores with the rest of the suite.
        .env("SMB_TIMEOUT_SECS", "15")
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains(SMB_PASSWORD),
        "the password was logged: {stderr}"
    );
    Run {
        ok: out.status.success(),
        stderr,
    }
}

fn ids(xml: &str) -> Vec<String> {
    read_rows(xml.as_bytes())
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn state(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("client_state.json")).unwrap()).unwrap()
}

fn pending_files(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for tenant in std::fs::read_dir(dir.join("out/clients")).unwrap() {
        let tenant = tenant.unwrap();
        for file in std::fs::read_dir(tenant.path()).unwrap() {
            names.push(format!(
                "{}/{}",
                tenant.file_name().to_string_lossy(),
                file.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    names.sort();
    names
}

fn set_age(path: &Path, seconds_ago: u64) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(seconds_ago))
        .unwrap();
}

#[tokio::test]
async fn api_writes_reach_the_share_and_the_next_run_rotates() {
    let smbd = TestSmbd::start();
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "En").await;
    app.create_client(KEY_A, 2, "To").await;
    app.create_client(KEY_B, 1, "Annen kunde, æøå & <b>").await;

    let run = combine(app.dir.path(), &smbd, &[]);
    assert!(run.ok, "{}\n{}", run.stderr, smbd.log());
    let uploaded = smbd.file("clients.xml").expect("clients.xml on the share");
    assert_eq!(sorted(ids(&uploaded)), ["1BASE11", "1BASE22", "2BASE11"]);
    assert!(uploaded.contains("Annen kunde, æøå &amp; &lt;b&gt;"));
    // What was uploaded is what READY_DIR holds, byte for byte.
    assert_eq!(
        std::fs::read_to_string(app.path("ready_for_import/clients.xml")).unwrap(),
        uploaded
    );
    assert!(
        pending_files(app.dir.path()).is_empty(),
        "delivered files are deleted"
    );
    let s = state(app.dir.path());
    assert_eq!(s["1BASE22"]["status"], "pending_import");
    assert_eq!(s["1BASE22"]["key_name"], "TenantB");
    assert_eq!(s["1BASE22"]["client_id"], 1);
    assert_eq!(s["1BASE22"]["attempts"], 1);

    // A second batch: the first file is rotated, never overwritten.
    app.call(
        Method::PATCH,
        "/clients",
        json!({"client_id": 2, "info": {"Location": "Ny gate"}}),
    )
    .await;
    let run = combine(app.dir.path(), &smbd, &[]);
    assert!(run.ok, "{}", run.stderr);
    let names = smbd.names();
    let rotated: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("clients_") && n.ends_with(".xml"))
        .collect();
    assert_eq!(rotated.len(), 1, "{names:?}");
    assert_eq!(smbd.file(rotated[0]).unwrap(), uploaded);
    assert_eq!(ids(&smbd.file("clients.xml").unwrap()), ["2BASE11"]);
    // Not processed by Patriot before rotation, not sent again: failed, so the API resends.
    let s = state(app.dir.path());
    assert_eq!(s["1BASE11"]["status"], "failed");
    assert_eq!(s["2BASE11"]["status"], "pending_import");
    assert_eq!(s["2BASE11"]["attempts"], 2);
    let log = std::fs::read_to_string(app.path("xml_combine.log")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("run ok")).count(),
        2,
        "{log}"
    );

    // The API shows where each client is (once its watcher has read the state file), and a GET
    // writes an unconfirmed client's file again.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let c = loop {
        let (_, c) = app.get_client(KEY_A, 2).await;
        if c["import"]["attempts"] == 2 {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "state not read within 5 s: {c}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(c["import"]["status"], "pending_import");
    assert_eq!(c["import"]["attempts"], 2);
    assert!(c["import"]["last_batch"].is_string());
    let (_, c) = app.get_client(KEY_A, 1).await;
    assert_eq!(
        c["import"],
        json!({"status": "failed", "last_batch": s["1BASE11"]["last_batch"], "attempts": 1})
    );
    assert!(app.xml("TenantA", 1).is_some());
}

#[tokio::test]
async fn patriots_results_set_the_state_and_failed_clients_are_sent_again() {
    let smbd = TestSmbd::start();
    let app = TestApp::spawn().await;
    for id in 1..=3 {
        app.create_client(KEY_A, id, &format!("Kunde {id}")).await;
    }
    assert!(combine(app.dir.path(), &smbd, &[]).ok);
    // Patriot confirmed 1 and 3; 2 failed. The results file is newer than clients.xml.
    let results = smbd.share_path().join("clients_Import_Results.txt");
    std::fs::write(
        &results,
        "12:59:01 Completed processing client 1BASE11\n12:59:01 Error processing client 2BASE11: bad zone\n\
         12:59:02 Completed processing client 3BASE11\n",
    )
    .unwrap();
    set_age(&smbd.share_path().join("clients.xml"), 60);

    let run = combine(app.dir.path(), &smbd, &[]);
    assert!(run.ok, "{}", run.stderr);
    let s = state(app.dir.path());
    assert_eq!(s["1BASE11"]["status"], "imported");
    assert_eq!(s["1BASE11"]["attempts"], 0);
    assert_eq!(s["3BASE11"]["status"], "imported");
    assert_eq!(s["2BASE11"]["status"], "failed");
    let errors = std::fs::read_to_string(app.path("import_errors.log")).unwrap();
    assert_eq!(errors.lines().count(), 1, "{errors}");
    assert!(errors.contains("2BASE11"));

    // The API sends the failed client again (its file comes back); the imported ones stay.
    let restarted = TestApp::spawn_in_with(app.stop(), &[("REQUEUE_INTERVAL_SECS", "1")]).await;
    for _ in 0..50 {
        if restarted.xml("TenantA", 2).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        restarted.xml("TenantA", 2).is_some(),
        "failed client re-queued"
    );
    assert!(
        restarted.xml("TenantA", 1).is_none(),
        "imported client not re-queued"
    );
    let (s, c) = restarted.get_client(KEY_A, 2).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["import"]["status"], "failed");
    // Imported: GET does not write the file again.
    let (_, c) = restarted.get_client(KEY_A, 1).await;
    assert_eq!(c["import"]["status"], "imported");
    assert!(restarted.xml("TenantA", 1).is_none());
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn set_modified(path: &Path, at: SystemTime) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(at).unwrap();
}

/// Uploads clients 1–3 of tenant A; then `patriot` changes the share as Patriot would (or
/// does nothing), and a second run checks the import. Returns the state after it.
async fn second_run_after(smbd: &TestSmbd, patriot: impl FnOnce(&Path, &Path)) -> Value {
    let app = TestApp::spawn().await;
    for id in 1..=3 {
        app.create_client(KEY_A, id, &format!("Kunde {id}")).await;
    }
    let run = combine(app.dir.path(), smbd, &[]);
    assert!(run.ok, "{}", run.stderr);
    let share = smbd.share_path();
    patriot(
        &share.join("clients.xml"),
        &share.join("clients_Import_Results.txt"),
    );
    let run = combine(app.dir.path(), smbd, &[]);
    assert!(run.ok, "{}", run.stderr);
    state(app.dir.path())
}

const CONFIRM_1_AND_3: &str = "Completed processing client 1BASE11\nError processing client 2BASE11\nCompleted processing client 3BASE11\n";

fn statuses(s: &Value) -> Vec<String> {
    ["1BASE11", "2BASE11", "3BASE11"]
        .iter()
        .map(|id| s[*id]["status"].as_str().unwrap().to_owned())
        .collect()
}

/// `combiner.md` §1.6 against a real smbd, whose times are whole seconds.
#[tokio::test]
async fn patriots_answer_is_seen_whatever_the_second_it_comes_in() {
    let smbd = TestSmbd::start();
    // Patriot answers within the second of the upload.
    let s = second_run_after(&smbd, |xml, results| {
        std::fs::write(results, CONFIRM_1_AND_3).unwrap();
        set_modified(results, modified(xml));
    })
    .await;
    assert_eq!(statuses(&s), ["imported", "failed", "imported"]);
    assert_eq!(s["1BASE11"]["attempts"], 0);
    assert_eq!(s["2BASE11"]["attempts"], 1);

    // No results file at all: the ids wait.
    let smbd = TestSmbd::start();
    let s = second_run_after(&smbd, |_, results| assert!(!results.exists())).await;
    assert_eq!(statuses(&s), ["pending_import"; 3]);
}

#[tokio::test]
async fn a_results_file_left_from_an_earlier_import_is_not_an_answer() {
    let smbd = TestSmbd::start();
    let old = smbd.share_path().join("clients_Import_Results.txt");
    std::fs::write(&old, CONFIRM_1_AND_3).unwrap();
    let earlier = SystemTime::now() - Duration::from_secs(3600);
    set_modified(&old, earlier);
    // Unchanged, even though it confirms these very ids.
    let s = second_run_after(&smbd, |_, results| {
        assert_eq!(modified(results), earlier);
    })
    .await;
    assert_eq!(statuses(&s), ["pending_import"; 3]);
}

#[tokio::test]
async fn a_results_file_rewritten_with_the_same_size_and_second_is_an_answer() {
    let smbd = TestSmbd::start();
    let results_path = smbd.share_path().join("clients_Import_Results.txt");
    // Before the upload: a results file of exactly the size Patriot's answer will have.
    let before = CONFIRM_1_AND_3.replace("Completed", "Xompleted");
    assert_eq!(before.len(), CONFIRM_1_AND_3.len());
    std::fs::write(&results_path, &before).unwrap();
    let second = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    set_modified(&results_path, second);
    let s = second_run_after(&smbd, |_, results| {
        std::fs::write(results, CONFIRM_1_AND_3).unwrap();
        set_modified(results, second);
    })
    .await;
    assert_eq!(statuses(&s), ["imported", "failed", "imported"]);
}

/// The API sends again exactly the clients Patriot did not take, and not those deleted since.
#[tokio::test]
async fn serve_resends_exactly_the_failed_clients_that_still_exist() {
    let smbd = TestSmbd::start();
    let app = TestApp::spawn().await;
    for id in 1..=4 {
        app.create_client(KEY_A, id, &format!("Kunde {id}")).await;
    }
    assert!(combine(app.dir.path(), &smbd, &[]).ok);
    let share = smbd.share_path();
    let results = share.join("clients_Import_Results.txt");
    std::fs::write(&results, "Completed processing client 1BASE11\n").unwrap();
    set_modified(&results, modified(&share.join("clients.xml")));
    assert!(combine(app.dir.path(), &smbd, &[]).ok);
    let s = state(app.dir.path());
    assert_eq!(s["1BASE11"]["status"], "imported");
    for id in ["2BASE11", "3BASE11", "4BASE11"] {
        assert_eq!(s[id]["status"], "failed", "{id}");
    }
    // Client 4 is deleted before the API re-queues.
    assert_eq!(
        app.status(Method::DELETE, "/clients", json!({"client_id": 4}))
            .await,
        StatusCode::NO_CONTENT
    );
    let restarted = TestApp::spawn_in_with(app.stop(), &[("REQUEUE_INTERVAL_SECS", "1")]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while restarted.xml("TenantA", 2).is_none() || restarted.xml("TenantA", 3).is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "failed clients 2 and 3 were not written again within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let run = combine(restarted.dir.path(), &smbd, &[]);
    assert!(run.ok, "{}", run.stderr);
    let sent = smbd.file("clients.xml").unwrap();
    assert_eq!(sorted(ids(&sent)), ["2BASE11", "3BASE11"]);
}

#[tokio::test]
async fn an_unreachable_share_or_a_wrong_password_loses_nothing() {
    let mut smbd = TestSmbd::start();
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "En").await;
    app.create_client(KEY_B, 7, "Sju").await;
    let before = pending_files(app.dir.path());
    let bytes_before = std::fs::read(app.path("out/clients/TenantA/1.xml")).unwrap();

    let wrong = app.path("wrong-password");
    std::fs::write(&wrong, "wrong\n").unwrap();
    let run = combine(
        app.dir.path(),
        &smbd,
        &[("SMB_PASSWORD_FILE", wrong.to_str().unwrap())],
    );
    assert!(!run.ok, "wrong password must fail");
    assert!(run.stderr.contains("run failed"), "{}", run.stderr);
    assert_eq!(pending_files(app.dir.path()), before);
    assert_eq!(
        std::fs::read(app.path("out/clients/TenantA/1.xml")).unwrap(),
        bytes_before
    );

    smbd.stop();
    let run = combine(app.dir.path(), &smbd, &[]);
    assert!(!run.ok, "share down must fail");
    assert_eq!(pending_files(app.dir.path()), before);
    assert!(
        !app.path("client_state.json").exists(),
        "no state recorded for a failed upload"
    );
    let log = std::fs::read_to_string(app.path("xml_combine.log")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("run failed")).count(),
        2,
        "{log}"
    );

    smbd.run();
    assert!(combine(app.dir.path(), &smbd, &[]).ok);
    assert_eq!(
        sorted(ids(&smbd.file("clients.xml").unwrap())),
        ["1BASE11", "7BASE22"]
    );
}

#[tokio::test]
async fn a_dead_runs_staging_is_recovered_and_a_newer_write_wins() {
    let smbd = TestSmbd::start();
    let app = TestApp::spawn().await;
    app.create_client(KEY_A, 1, "Gammel").await;
    app.create_client(KEY_A, 2, "Bare staged").await;
    // As if a run had claimed both files and died.
    let staging = app.path("ready_for_import/staging/TenantA");
    std::fs::create_dir_all(&staging).unwrap();
    for id in [1, 2] {
        std::fs::rename(
            app.path(&format!("out/clients/TenantA/{id}.xml")),
            staging.join(format!("{id}.xml")),
        )
        .unwrap();
    }
    // While client 1 was staged, the API wrote it again.
    app.call(
        Method::PATCH,
        "/clients",
        json!({"client_id": 1, "info": {"Name": "Ny"}}),
    )
    .await;

    let run = combine(app.dir.path(), &smbd, &[]);
    assert!(run.ok, "{}", run.stderr);
    let uploaded = smbd.file("clients.xml").unwrap();
    assert_eq!(sorted(ids(&uploaded)), ["1BASE11", "2BASE11"]);
    assert!(uploaded.contains("<Name>Ny</Name>") && !uploaded.contains("Gammel"));
    assert!(std::fs::read_dir(&staging).unwrap().next().is_none());
    let log = std::fs::read_to_string(app.path("xml_combine.log")).unwrap();
    assert!(log.contains("recovered=2"), "{log}");
}

fn client_file(dir: &Path, tenant: &str, id: u32, name: &str, port: &str) {
    let folder = dir.join("out/clients").join(tenant);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join(format!("{id}.xml")),
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Clients>\n  <Client>\n    <__id>{id}{port}</__id>\n    <Name>{name}</Name>\n  </Client>\n</Clients>\n"),
    )
    .unwrap();
}

#[test]
fn a_thousand_files_go_out_in_four_runs_oldest_first() {
    let smbd = TestSmbd::start();
    let dir = TempDir::new().unwrap();
    for id in 1..=1000u32 {
        client_file(dir.path(), "T", id, "x", "P");
        // Older ids are older files, in a shuffled order of ids on disk.
        set_age(
            &dir.path().join(format!("out/clients/T/{id}.xml")),
            10_000 - id as u64,
        );
    }
    let mut delivered = Vec::new();
    for (run, expected) in [300, 300, 300, 100].into_iter().enumerate() {
        let r = combine(dir.path(), &smbd, &[("MAX_CLIENTS_PER_RUN", "300")]);
        assert!(r.ok, "run {run}: {}", r.stderr);
        let batch = ids(&smbd.file("clients.xml").unwrap());
        assert_eq!(batch.len(), expected, "run {run}");
        delivered.extend(batch);
    }
    let expected: Vec<String> = (1..=1000).map(|id| format!("{id}P")).collect();
    assert_eq!(delivered, expected, "every client once, oldest first");
    assert!(std::fs::read_dir(dir.path().join("out/clients/T"))
        .unwrap()
        .next()
        .is_none());
    assert_eq!(
        smbd.names()
            .iter()
            .filter(|n| n.starts_with("clients_"))
            .count(),
        3
    );
}

#[test]
fn the_newest_file_of_an_id_wins_and_a_broken_file_is_skipped() {
    let smbd = TestSmbd::start();
    let dir = TempDir::new().unwrap();
    // Two files with one __id (a key renamed in the keys file, say): the newest wins.
    client_file(dir.path(), "Old", 5, "Eldre", "P");
    client_file(dir.path(), "New", 5, "Nyere", "P");
    set_age(&dir.path().join("out/clients/Old/5.xml"), 100);
    set_age(&dir.path().join("out/clients/New/5.xml"), 10);
    std::fs::write(
        dir.path().join("out/clients/Old/9.xml"),
        "<Clients><Client><__id>9P</__id>",
    )
    .unwrap();

    let run = combine(dir.path(), &smbd, &[]);
    assert!(run.ok, "{}", run.stderr);
    let uploaded = smbd.file("clients.xml").unwrap();
    assert_eq!(ids(&uploaded), ["5P"]);
    assert!(uploaded.contains("Nyere") && !uploaded.contains("Eldre"));
    assert!(
        dir.path().join("out/clients/Old/9.xml").exists(),
        "a broken file is never deleted"
    );
    let log = std::fs::read_to_string(dir.path().join("xml_combine.log")).unwrap();
    assert!(log.contains("skipped Old/9.xml"), "{log}");
}

#[test]
fn settings_are_checked_before_anything_runs() {
    let dir = TempDir::new().unwrap();
    let run_with = |envs: &[(&str, &str)]| {
        Command::new(TestApp::bin())
            .args(["combine", "--once"])
            .current_dir(dir.path())
            .envs(envs.iter().copied())
            .output()
            .unwrap()
    };
    let out = run_with(&[("SHARE", "smb")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SMB_SERVER"));
    let out = run_with(&[("SHARE", "dir")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("SHARE_DIR"));
    let out = run_with(&[
        ("SHARE", "smb"),
        ("SMB_SERVER", "x"),
        ("SMB_SHARE_NAME", "s"),
        ("SMB_USERNAME", "u"),
        ("SMB_PASSWORD", "p"),
        ("SMB_PASSWORD_FILE", "/etc/hostname"),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not both"));
    // A missing SHARE_DIR fails the run and is not created.
    let out = run_with(&[("SHARE", "dir"), ("SHARE_DIR", "nowhere")]);
    assert!(!out.status.success());
    assert!(!dir.path().join("nowhere").exists());
    // A dry run writes READY_DIR/clients.xml and leaves the files.
    client_file(dir.path(), "T", 1, "x", "P");
    let out = run_with(&[("SHARE", "none")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("out/clients/T/1.xml").exists());
    assert_eq!(
        ids(&std::fs::read_to_string(dir.path().join("ready_for_import/clients.xml")).unwrap()),
        ["1P"]
    );
}

/// SIGTERM during a run: it stops at its next step, every claimed file goes back, the share is
/// left alone and the exit is non-zero.
#[test]
fn sigterm_during_a_run_puts_every_file_back() {
    let dir = TempDir::new().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir_all(&share).unwrap();
    let files = 20_000u32;
    for id in 1..=files {
        client_file(dir.path(), "T", id, "x", "P");
    }
    let mut child = Command::new(TestApp::bin())
        .args([
            "combine",
            "--once",
            "--share",
            "dir",
            "--max-clients-per-run",
            "20000",
        ])
        .arg("--share-dir")
        .arg(&share)
        .current_dir(dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the run has claimed its first files into the staging folder.
    let staging = dir.path().join("ready_for_import/staging/T");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&staging).map_or(true, |mut d| d.next().is_none()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the run claimed no file within 30 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it claimed a file"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the signal; use more files"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "a stopped run exits non-zero");
    let back = std::fs::read_dir(dir.path().join("out/clients/T"))
        .unwrap()
        .count();
    assert_eq!(
        back as u32,
        files,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none());
    assert!(!share.join("clients.xml").exists());
    let log = std::fs::read_to_string(dir.path().join("xml_combine.log")).unwrap();
    assert!(log.contains("stopped before it finished"), "{log}");
}

/// The run lock: while another run holds `READY_DIR/.combine.lock`, `combine --once` exits
/// non-zero, says why, and touches no file; once the lock is free the same run succeeds.
#[test]
fn a_second_run_while_the_lock_is_held_exits_non_zero_and_moves_nothing() {
    let dir = TempDir::new().unwrap();
    client_file(dir.path(), "T", 1, "x", "P");
    let ready = dir.path().join("ready_for_import");
    std::fs::create_dir_all(&ready).unwrap();
    let lock = std::fs::File::create(ready.join(".combine.lock")).unwrap();
    lock.try_lock().unwrap();
    let run = || {
        Command::new(TestApp::bin())
            .args(["combine", "--once", "--share", "none"])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = run();
    assert!(!out.status.success(), "a run without the lock must fail");
    let log = std::fs::read_to_string(dir.path().join("xml_combine.log")).unwrap();
    assert!(
        log.contains("run skipped: another run holds the lock"),
        "{log}"
    );
    assert!(dir.path().join("out/clients/T/1.xml").exists());
    assert!(!ready.join("clients.xml").exists());

    drop(lock);
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        ids(&std::fs::read_to_string(ready.join("clients.xml")).unwrap()),
        ["1P"]
    );
}
