//! The yardstick of the benchmark (`bench/run`): what poem and sled do on this machine with
//! nothing else in the way, built from the project's own dependencies.
//!
//! - `reference read PORT [DIR [BUSY_NS]]`: `GET /clients` checks the bearer key and answers a
//!   fixed 600-byte client JSON (`DIR` is not used). With `BUSY_NS`, each read first spins that
//!   many nanoseconds: the bench's measure of how the read tail with one wrk thread answers to a
//!   little more work per read (bench/notes.md, fourteenth part).
//! - `reference write PORT DIR`: `PUT /clients` parses the JSON body, inserts it in sled under
//!   its `client_id`, waits for one shared flush per group (the service's own group commit),
//!   and answers 201 with the body.
//!
//! It prints `listening on http://ADDR` like the service, so the same scripts drive both.
//! It uses the service's allocator, so that the share measures the service's own work.

use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use patriot_api::adapters::sled_store::group_flush::GroupFlush;
use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Data;
use poem::{handler, Body, EndpointExt, Request, Response, Route, Server};

const KEY: &str = "Bearer secure-api-key";

fn client_json() -> String {
    let info = serde_json::json!({
        "Name": "Ola Nordmann", "Alias": "", "Location": "Produksjonsveien 13", "area_code": "1604",
        "area": "Fredrikstad", "BusPhone": "69310000", "Email": "post@ostsik.no",
        "OKPassword": "franzjager", "SpecRequest": "", "NoSigsMon": 1, "SinceDays": 1,
        "SinceHrs": 0, "SinceMins": 30, "ResetNosigsIgnored": true, "ResetNosigsDays": 7,
        "ResetNosigsHrs": 0, "ResetNosigsMins": 0, "InstallDateTime": "2023-02-20",
        "PanelName": "Ajax", "PanelSite": "Stue", "KeypadLocation": "Inngang", "SPPage": ""
    });
    let mut text =
        serde_json::json!({"client_id": 9998, "info": info, "zones": [], "users": []}).to_string();
    while text.len() < 600 {
        text.insert(text.len() - 1, ' ');
    }
    text
}

/// What a read answers, and the extra work it does first (none unless asked for).
struct ReadSetup {
    json: String,
    busy: std::time::Duration,
}

#[handler]
fn read(req: &Request, setup: Data<&Arc<ReadSetup>>) -> Response {
    if req.header("Authorization") != Some(KEY) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .finish();
    }
    if !setup.busy.is_zero() {
        let started = std::time::Instant::now();
        while started.elapsed() < setup.busy {
            std::hint::spin_loop();
        }
    }
    Response::builder()
        .content_type("application/json; charset=utf-8")
        .body(setup.json.as_str().to_owned())
}

struct Store {
    db: sled::Db,
    flush: GroupFlush,
}

#[handler]
async fn write(req: &Request, body: Body, store: Data<&Arc<Store>>) -> Response {
    if req.header("Authorization") != Some(KEY) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .finish();
    }
    let Ok(bytes) = body.into_vec().await else {
        return Response::builder().status(StatusCode::BAD_REQUEST).finish();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Response::builder()
            .status(StatusCode::UNPROCESSABLE_ENTITY)
            .finish();
    };
    let id = value["client_id"].as_u64().unwrap_or(0) as u32;
    if store.db.insert(id.to_be_bytes(), bytes.as_slice()).is_err()
        || store.flush.flush().await.is_err()
    {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .finish();
    }
    Response::builder()
        .status(StatusCode::CREATED)
        .content_type("application/json; charset=utf-8")
        .body(bytes)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port = args.get(2).cloned().unwrap_or_else(|| "0".into());
    let acceptor = TcpListener::bind(format!("127.0.0.1:{port}"))
        .into_acceptor()
        .await?;
    if let Some(addr) = acceptor.local_addr().first() {
        eprintln!(
            "listening on http://{}",
            addr.to_string().trim_start_matches("socket://")
        );
    }
    match args.get(1).map(String::as_str) {
        Some("read") => {
            let busy = match args.get(4).map(|n| n.parse::<u64>()) {
                None => 0,
                Some(Ok(ns)) => ns,
                Some(Err(_)) => usage(),
            };
            let app = Route::new()
                .at("/clients", poem::get(read))
                .data(Arc::new(ReadSetup {
                    json: client_json(),
                    busy: std::time::Duration::from_nanos(busy),
                }));
            Server::new_with_acceptor(acceptor).run(app).await
        }
        Some("write") => {
            let dir = args
                .get(3)
                .cloned()
                .unwrap_or_else(|| "reference-data".into());
            let db = sled::Config::new()
                .path(dir)
                .cache_capacity(32 << 20)
                .open()
                .map_err(std::io::Error::other)?;
            let store = Arc::new(Store {
                flush: GroupFlush::new(db.clone()),
                db,
            });
            let app = Route::new().at("/clients", poem::put(write)).data(store);
            Server::new_with_acceptor(acceptor).run(app).await
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: reference read PORT [DIR [BUSY_NS]] | reference write PORT DIR");
    std::process::exit(2)
}
