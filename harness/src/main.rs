//! `harness`: see the library docs; this only parses the command line.

use std::process::ExitCode;

use clap::Parser as _;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "warn,minidump_processor=error,minidump_unwind=error,breakpad_symbols=error",
                )
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match harness::cli::execute(harness::cli::Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
