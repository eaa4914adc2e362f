//! Settings: every one a flag and an environment variable (the flag wins), defaults relative
//! to the working directory so a checkout runs as it is (`config.md`).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "patriot-api",
    version,
    about = "Alarm clients in, Patriot import XML out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(ServeSettings),
    /// Print the OpenAPI document (YAML) to standard output.
    Openapi,
}

/// Settings shared by `serve` and `combine`.
#[derive(Debug, Clone, Args)]
pub struct SharedSettings {
    /// Folder of the per-client XML files (`<key_name>/<client_id>.xml`).
    #[arg(long, env = "XML_DIR", default_value = "out/clients")]
    pub xml_dir: PathBuf,

    /// The combiner's state file (which clients Patriot confirmed).
    #[arg(long, env = "CLIENT_STATE_FILE", default_value = "client_state.json")]
    pub client_state_file: PathBuf,

    /// How many times a client that Patriot did not confirm is sent again.
    #[arg(long, env = "MAX_IMPORT_ATTEMPTS", default_value_t = 3)]
    pub max_import_attempts: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Port to listen on (0 picks a free one, printed at start).
    #[arg(long, env = "PORT", default_value_t = 8081)]
    pub port: u16,

    /// The keys file: one entry per API key (tenant).
    #[arg(long, env = "KEY_FILE", default_value = "keys.json")]
    pub key_file: PathBuf,

    /// Folder of the embedded sled database.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// One line per request is appended here.
    #[arg(long, env = "REQUEST_LOG", default_value = "api_requests.log")]
    pub request_log: PathBuf,

    /// Take the peer address from `X-Forwarded-For` (only behind a trusted proxy).
    #[arg(long = "proxy-headers", env = "TRUST_PROXY_HEADERS", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub trust_proxy_headers: bool,

    /// sled's page cache, in MiB: bounds the memory the store uses.
    #[arg(long, env = "CACHE_MB", default_value_t = 64)]
    pub cache_mb: u64,

    #[command(flatten)]
    pub shared: SharedSettings,
}
