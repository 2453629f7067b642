use clap::Parser;
use whisper_server::config::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    whisper_server::logging::init(cli.serve.log_format, &cli.serve.log)
        .map_err(anyhow::Error::msg)?;
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
        Some(Command::FetchModel {
            url,
            sha256,
            output,
        }) => whisper_server::commands::fetch(&url, &sha256, &output),
    }
}
