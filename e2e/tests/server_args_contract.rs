//! The operator writes whisper-server's command lines (server and model-fetch init container);
//! whisper-server's own CLI parser must accept them. Without this, a renamed flag only shows up
//! as a crash-looping pod on a real cluster, which the kwok-based suites never run.

use clap::Parser;
use k8s_openapi::api::core::v1::Container;
use whisper_crds::WhisperService;
use whisper_operator::build::{Owner, deployment};
use whisper_operator::catalogue::Catalogue;
use whisper_operator::validate::validate;
use whisper_server::config::Cli;

fn containers(spec_yaml: &str) -> (Container, Container) {
    let spec = serde_yaml::from_str(spec_yaml).expect("spec parses");
    let mut ws = WhisperService::new("svc", spec);
    ws.metadata.namespace = Some("ns".into());
    ws.metadata.uid = Some("uid-svc".into());
    let resolved = validate(&ws.spec, "img:1", &Catalogue::builtin()).expect("valid spec");
    let owner = Owner::of(&ws).expect("owner");
    let pod = deployment(&owner, &ws.spec, &resolved)
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
    let spec = "model: tiny.en\nserver:\n  threads: 4\n  parallel: 2\n  queue: 3\n  apiKeySecret:\n    name: key\n    key: token\n";
    let (server, _) = containers(spec);
    let cli = parse(&server).unwrap_or_else(|e| panic!("server args rejected: {e}"));
    assert!(
        cli.command.is_none(),
        "the server container must serve, not run a subcommand"
    );
}

#[test]
fn model_fetch_init_container_args_parse_with_the_servers_cli() {
    let (_, init) = containers("model: tiny.en");
    let cli = parse(&init).unwrap_or_else(|e| panic!("fetch-model args rejected: {e}"));
    assert!(
        cli.command.is_some(),
        "the init container must run the fetch-model subcommand"
    );
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
