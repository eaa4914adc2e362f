//! Settings: every one a flag and an environment variable (the flag wins), defaults relative
//! to the working directory so a checkout runs as it is (`config.md`).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Join the per-client XML files, upload them to Patriot's share, follow the import.
    Combine(CombineSettings),
    /// Print the OpenAPI document (YAML) to standard output.
    Openapi,
    /// Write every tenant's clients, zones and users as JSON (a backup; stop `serve` first).
    Export {
        /// The file to write (atomically); standard output when absent.
        #[arg(long, short)]
        output: Option<PathBuf>,
        #[command(flatten)]
        data: DataSettings,
    },
    /// Load an export into an empty data dir.
    Import {
        /// The file `export` wrote.
        file: PathBuf,
        #[command(flatten)]
        data: DataSettings,
    },
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a fresh random key and the keys-file entry (with `key_sha256`) to add.
    New {
        /// The tenant's key_name (letters, digits, `_`, `-`).
        #[arg(long)]
        name: String,
        /// The tenant's Patriot port code (letters and digits).
        #[arg(long)]
        port: String,
        /// The installer user 199's name, exactly as in Patriot.
        #[arg(long)]
        installer_name: Option<String>,
        /// The installer user 199's e-mail, exactly as in Patriot.
        #[arg(long)]
        installer_email: Option<String>,
    },
}

/// Where the embedded database lives.
#[derive(Debug, Clone, Args)]
pub struct DataSettings {
    /// Folder of the embedded sled database.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// sled's page cache, in MiB: bounds the memory the store uses. sled holds about twice
    /// this. A 10 s stream of creates on 100,000 clients peaked at 139–144 MB at 20 and
    /// 135–137 MB at 16, with the same throughput, and zone updates and reads there kept
    /// their p99 (bench/notes.md, twelfth part).
    #[arg(long, env = "CACHE_MB", default_value_t = 16)]
    pub cache_mb: u64,
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

    /// Where the combiner puts the joined `clients.xml`, its staging folder and the record
    /// of its last run (same file system as XML_DIR).
    #[arg(long, env = "READY_DIR", default_value = "ready_for_import")]
    pub ready_dir: PathBuf,

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

    #[command(flatten)]
    pub data: DataSettings,

    /// One line per request is appended here.
    #[arg(long, env = "REQUEST_LOG", default_value = "api_requests.log")]
    pub request_log: PathBuf,

    /// Take the peer address from `X-Forwarded-For` (only behind a trusted proxy).
    #[arg(long = "proxy-headers", env = "TRUST_PROXY_HEADERS", value_parser = clap::builder::BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub trust_proxy_headers: bool,

    /// Writes are refused (507) while DATA_DIR or XML_DIR has less than this many MiB free.
    #[arg(long, env = "MIN_FREE_MB", default_value_t = 64)]
    pub min_free_mb: u64,

    /// Most connections open at once; more wait in the listen backlog.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Seconds a request (headers and body) may take to arrive once its first byte has.
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,

    /// Where `/metrics` is served: an address of its own (`host:port`, port 0 picks one), or
    /// `main` for the API's port. Kept off the API's port by default: it names every tenant.
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9464")]
    pub metrics_addr: String,

    /// Seconds an answer may wait for the client to read it before the connection is closed.
    #[arg(long, env = "WRITE_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_secs: u64,

    /// Milliseconds a write waits for another write to the same client before it answers 409.
    #[arg(long, env = "LOCK_TIMEOUT_MS", default_value_t = 5000)]
    pub lock_timeout_ms: u64,

    /// Seconds a connection may stay silent before it is closed.
    #[arg(long, env = "IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,

    /// How often the state file is checked for clients to send to Patriot again.
    #[arg(long, env = "REQUEUE_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub requeue_interval_secs: u64,

    #[command(flatten)]
    pub shared: SharedSettings,
}

/// Where `combine` puts the joined file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShareKind {
    /// A Windows (SMB) share, through libsmbclient.
    Smb,
    /// A local folder, e.g. a mounted share.
    Dir,
    /// No share: only write `READY_DIR/clients.xml` (a dry run).
    None,
}

#[derive(Debug, Clone, Args)]
pub struct CombineSettings {
    /// One run, then exit: 0 on success or nothing to do, non-zero on failure.
    #[arg(long)]
    pub once: bool,

    /// Most clients (distinct `__id`s) per run; the rest wait for the next run, oldest first.
    #[arg(long, env = "MAX_CLIENTS_PER_RUN", default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_clients_per_run: u32,

    /// The daemon runs at this minute of every hour.
    #[arg(long, env = "RUN_AT_MINUTE", default_value_t = 59, value_parser = clap::value_parser!(u32).range(0..60))]
    pub run_at_minute: u32,

    /// One summary line per run, plus errors.
    #[arg(long, env = "COMBINE_LOG", default_value = "xml_combine.log")]
    pub combine_log: PathBuf,

    /// One line per client that Patriot did not confirm.
    #[arg(long, env = "IMPORT_ERROR_LOG", default_value = "import_errors.log")]
    pub import_error_log: PathBuf,

    /// Where to upload: `smb`, `dir` or `none`.
    #[arg(long, env = "SHARE", value_enum, default_value = "smb")]
    pub share: ShareKind,

    /// The folder used as the share with `SHARE=dir` (never created).
    #[arg(long, env = "SHARE_DIR")]
    pub share_dir: Option<PathBuf>,

    /// SMB server: host or host:port (445 when absent).
    #[arg(long, env = "SMB_SERVER")]
    pub smb_server: Option<String>,

    #[arg(long, env = "SMB_SHARE_NAME")]
    pub smb_share_name: Option<String>,

    #[arg(long, env = "SMB_USERNAME")]
    pub smb_username: Option<String>,

    #[arg(long, env = "SMB_DOMAIN", default_value = "WORKGROUP")]
    pub smb_domain: String,

    /// Prefer SMB_PASSWORD_FILE: an environment variable is visible to the process's owner.
    #[arg(long, env = "SMB_PASSWORD", hide_env_values = true)]
    pub smb_password: Option<String>,

    /// A file holding the password (one trailing newline ignored); suits systemd credentials.
    #[arg(long, env = "SMB_PASSWORD_FILE")]
    pub smb_password_file: Option<PathBuf>,

    /// The file Patriot imports, on the share.
    #[arg(long, env = "SMB_REMOTE_PATH", default_value = "clients.xml")]
    pub smb_remote_path: String,

    /// Patriot's results file, on the share.
    #[arg(
        long,
        env = "SMB_RESULTS_FILENAME",
        default_value = "clients_Import_Results.txt"
    )]
    pub smb_results_filename: String,

    /// Seconds an SMB call may take before it fails.
    #[arg(long, env = "SMB_TIMEOUT_SECS", default_value_t = 10)]
    pub smb_timeout_secs: u64,

    #[command(flatten)]
    pub shared: SharedSettings,
}
