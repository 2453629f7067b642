use clap::Parser;
use whisper_server::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    // Before any thread exists: threads that already hold an arena keep it.
    let arena_cap = whisper_server::malloc_arenas::cap_unless_configured();
    let cli = Cli::parse();
    whisper_server::logging::init(cli.serve.log_format, &cli.serve.log)
        .map_err(anyhow::Error::msg)?;
    if let Some(arenas) = arena_cap {
        tracing::debug!(arenas, "glibc malloc arenas capped");
    }
    whisper_rs::install_logging_hooks();
    match cli.command {
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(whisper_server::serve::run(cli.serve)),
        Some(Command::ImportCt2 {
            input,
            output,
            weights,
        }) => whisper_server::commands::import(&input, &output, weights),
        Some(Command::ImportSileroVad {
            input,
            output,
            silero_version,
        }) => whisper_server::commands::import_vad(&input, &output, silero_version),
        Some(Command::FetchModel {
            url,
            sha256,
            output,
        }) => whisper_server::commands::fetch(&url, &sha256, &output),
    }
}
