//! The operator writes whisper-server's command lines (server and model-fetch init container);
//! whisper-server's own CLI parser must accept them. Without this, a renamed flag only shows up
//! as a crash-looping pod on a real cluster, which the kwok-based suites never run.

use std::path::{Path, PathBuf};

use clap::Parser;
use k8s_openapi::api::core::v1::Container;
use whisper_crds::WhisperService;
use whisper_operator::{
    Config,
    build::{Owner, children},
    validate::validate,
};
use whisper_server::config::{Cli, Command};

fn containers(spec_yaml: &str) -> (Container, Container) {
    let spec = serde_yaml::from_str(spec_yaml).expect("spec parses");
    let mut ws = WhisperService::new("svc", spec);
    ws.metadata.namespace = Some("ns".into());
    ws.metadata.uid = Some("uid-svc".into());
    let owner = Owner::of(&ws).expect("owner");
    let config = Config {
        server_image: "img:1".into(),
        ..Config::default()
    };
    let valid = validate(&owner, &ws.spec, &config).expect("valid spec");
    let pod = children(&valid)
        .expect("children build")
        .deployment
        .spec
        .expect("deployment spec")
        .template
        .spec
        .expect("pod spec");
    let init = pod.init_containers.expect("init containers")[0].clone();
    (pod.containers[0].clone(), init)
}

fn parse(container: &Container) -> Result<Cli, clap::Error> {
    let argv = std::iter::once("whisper-server".to_string())
        .chain(container.args.clone().unwrap_or_default());
    Cli::try_parse_from(argv)
}

#[test]
fn server_container_args_parse_with_the_servers_cli() {
    let spec = "model: tiny.en\nserver:\n  threads: 4\n  parallel: 2\n  queue: 3\n  maxUploadBytes: 2048\n  maxAudioSeconds: 60\n  apiKeySecret:\n    name: key\n    key: token\n";
    let (server, init) = containers(spec);
    let cli = parse(&server).unwrap_or_else(|e| panic!("server args rejected: {e}"));
    assert!(
        cli.command.is_none(),
        "the server container must serve, not run a subcommand"
    );
    let serve = cli.serve;
    assert_eq!(
        serve.slots, 2,
        "spec.server.parallel is the server's --slots"
    );
    assert_eq!(serve.threads, 4);
    assert_eq!(serve.queue, 3);
    assert_eq!(serve.max_upload_bytes, 2048);
    assert_eq!(serve.max_audio_seconds, 60.0);
    assert_eq!(
        serve.api_key_file.as_deref(),
        Some(Path::new("/var/run/secrets/whisper/api-key")),
        "the API key arrives as the file the Secret is mounted at"
    );
    assert_eq!(
        serve.model,
        Some(fetch_output(&init)),
        "the server loads the file the init container wrote"
    );
    assert_eq!(serve.listen.port(), 8000);
}

#[test]
fn model_fetch_init_container_args_parse_with_the_servers_cli() {
    let (_, init) = containers("model: tiny.en");
    let cli = parse(&init).unwrap_or_else(|e| panic!("fetch-model args rejected: {e}"));
    match cli.command {
        Some(Command::FetchModel {
            url,
            sha256,
            output,
        }) => {
            assert!(url.ends_with("/ggml-tiny.en.bin"), "{url}");
            assert_eq!(sha256.len(), 64);
            assert_eq!(
                output,
                Path::new(&format!("/models/{}.bin", sha256.to_ascii_lowercase())),
                "the cached file is named by its checksum"
            );
        }
        other => panic!("the init container must run fetch-model, got {other:?}"),
    }
}

/// Where the init container writes the model.
fn fetch_output(init: &Container) -> PathBuf {
    match parse(init).map(|cli| cli.command) {
        Ok(Some(Command::FetchModel { output, .. })) => output,
        other => panic!("the init container must run fetch-model, got {other:?}"),
    }
}

#[test]
fn a_flag_the_server_does_not_know_is_rejected() {
    let (mut server, _) = containers("model: tiny.en");
    server
        .args
        .get_or_insert_with(Vec::new)
        .push("--no-such-flag".into());
    assert!(parse(&server).is_err());
}
