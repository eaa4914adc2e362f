//! The composition root: settings, wiring, process lifecycle. The only module that knows
//! every concrete adapter.

mod allocator;
mod backup;
mod combine_process;
mod keys;
mod serve;
pub mod settings;

use std::process::ExitCode;

use clap::Parser;

use settings::{Cli, Command, KeysCommand};

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: journald and log files get plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Runs the command line and returns the process's exit code.
pub fn main() -> ExitCode {
    allocator::return_memory_promptly();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return settings_error(e),
    };
    init_tracing();
    let result = match cli.command {
        Command::Openapi => {
            print!("{}", crate::adapters::http::openapi_yaml());
            Ok(())
        }
        Command::Serve(settings) => runtime().and_then(|rt| rt.block_on(serve::run(settings))),
        Command::Export { output, data } => backup::export(&data, output.as_deref()),
        Command::Import { file, data } => backup::import(&data, &file),
        Command::Keys(KeysCommand::New {
            name,
            port,
            installer_name,
            installer_email,
        }) => keys::new_key(
            &name,
            &port,
            installer_name.as_deref(),
            installer_email.as_deref(),
        )
        .map(|text| print!("{text}")),
        Command::Combine(settings) => {
            runtime().and_then(|rt| rt.block_on(combine_process::run(settings)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line that names the problem, for the operator and for journald.
            eprintln!("patriot-api: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out as clap prints them; a bad setting becomes one line naming it.
fn settings_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let message = e.to_string();
    let first = message.lines().next().unwrap_or("invalid settings");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("patriot-api: error: {first} (see --help)");
    ExitCode::from(2)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
