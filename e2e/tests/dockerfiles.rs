//! server/Dockerfile and operator/Dockerfile, parsed with a real Dockerfile parser
//! (dockerfile-parser) and checked for what the images must be: multi-stage with a runtime stage
//! shipped, a numeric non-root user, portable CPU code (no `-march=native`; the server's
//! whisper.cpp built with GGML_NATIVE=OFF and GGML_LLAMAFILE=ON), base images pinned to a tag, and
//! a CUDA variant built with `--features cuda`; and for what lets scripts/build-images.sh build
//! them without a container registry: no `# syntax=` directive (BuildKit would pull that
//! frontend), the CPU bases as build arguments the script replaces with local stand-ins, and cargo
//! builds on BuildKit cache mounts. These checks run without a container engine; the images
//! themselves are built and run by scripts/build-images.sh (README, "Container images"). The
//! shipped stages are the `--target`s scripts/build-images.sh builds (the last stage where it names
//! none). The last test feeds a bad Dockerfile through the same checks to show that each of them
//! can fail.

use std::path::PathBuf;

use dockerfile_parser::{Dockerfile, Instruction, Span, Stage};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// A parsed Dockerfile, named by its path so that every problem can say "path:line: ...".
struct Checked {
    path: String,
    file: Dockerfile,
}

impl Checked {
    fn parse(path: &str, text: &str) -> Self {
        let file = Dockerfile::parse(text).unwrap_or_else(|e| panic!("{path} does not parse: {e}"));
        Checked {
            path: path.to_owned(),
            file,
        }
    }

    fn load(path: &str) -> Self {
        Self::parse(path, &read(path))
    }

    fn at(&self, span: Span, problem: impl std::fmt::Display) -> String {
        let line = self.file.content[..span.start].matches('\n').count() + 1;
        format!("{}:{line}: {problem}", self.path)
    }

    /// A problem reported at the stage's FROM line, named by the stage.
    fn at_stage(&self, stage: &Stage<'_>, problem: impl std::fmt::Display) -> String {
        self.at(
            stage.instructions[0].span(),
            format!("stage {}: {problem}", stage_name(stage)),
        )
    }

    fn stages(&self) -> Vec<Stage<'_>> {
        self.file.stages().stages
    }

    /// The shipped stages: each `--target` that build-images.sh passes with `-f <path>`, or the
    /// last stage (Docker's default target) for a build that names none.
    fn targets(&self) -> Vec<usize> {
        let stages = self.stages();
        let last = stages.len().saturating_sub(1);
        let script = read("scripts/build-images.sh");
        let builds: Vec<usize> = script
            .lines()
            .filter(|l| l.contains(&format!("-f {}", self.path)))
            .map(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words
                    .iter()
                    .position(|w| *w == "--target")
                    .and_then(|i| words.get(i + 1))
                    .map_or(last, |name| {
                        stage_index(&stages, name).unwrap_or_else(|| {
                            panic!(
                                "build-images.sh builds --target {name}: not in {}",
                                self.path
                            )
                        })
                    })
            })
            .collect();
        if builds.is_empty() {
            vec![last]
        } else {
            builds
        }
    }
}

fn stage_index(stages: &[Stage<'_>], name: &str) -> Option<usize> {
    match name.parse::<usize>() {
        Ok(i) => (i < stages.len()).then_some(i),
        Err(_) => stages
            .iter()
            .find(|s| s.name.as_deref() == Some(&name.to_ascii_lowercase()))
            .map(|s| s.index),
    }
}

fn stage_name(stage: &Stage<'_>) -> String {
    stage
        .name
        .clone()
        .unwrap_or_else(|| format!("#{}", stage.index))
}

/// The commands of a stage's RUN instructions as the shell gets them (continuations removed).
fn runs<'a>(stage: &'a Stage<'_>) -> impl Iterator<Item = (Span, String)> + 'a {
    stage.instructions.iter().filter_map(|i| {
        let run = i.as_run()?;
        let command = match (run.as_shell(), run.as_exec()) {
            (Some(shell), _) => shell.to_string(),
            (_, Some(exec)) => exec.as_str_vec().join(" "),
            _ => return None,
        };
        Some((run.span, command))
    })
}

/// The stages a stage `COPY --from`s, with the span of each COPY.
fn copies_from<'a>(stage: &'a Stage<'_>) -> impl Iterator<Item = (Span, &'a str)> + 'a {
    stage
        .instructions
        .iter()
        .filter_map(|i| i.as_copy())
        .flat_map(|c| {
            c.flags
                .iter()
                .filter(|f| f.name.content.eq_ignore_ascii_case("from"))
                .map(move |f| (c.span, f.value.content.as_str()))
        })
}

const COMPILERS: [&str; 7] = ["cargo", "rustc", "gcc", "g++", "clang", "cmake", "make"];

/// At least two stages; each shipped stage compiles nothing and copies its binary from a build
/// stage; every `COPY --from` names an earlier stage.
fn check_multi_stage(df: &Checked) -> Vec<String> {
    let stages = df.stages();
    let mut problems = Vec::new();
    if stages.len() < 2 {
        problems.push(df.at(
            Span::new(0, 0),
            format!("{} stage(s), want a multi-stage build", stages.len()),
        ));
    }
    for stage in &stages {
        for (span, from) in copies_from(stage) {
            if stage_index(&stages, from).is_none_or(|i| i >= stage.index) {
                problems.push(df.at(span, format!("COPY --from={from} names no earlier stage")));
            }
        }
    }
    for &target in &df.targets() {
        let stage = &stages[target];
        let from = stage.instructions[0].span();
        for (span, command) in runs(stage) {
            if let Some(c) = command.split_whitespace().find(|w| COMPILERS.contains(w)) {
                problems.push(df.at(
                    span,
                    format!(
                        "shipped stage {} runs {c}: a build stage, not a runtime one",
                        stage_name(stage)
                    ),
                ));
            }
        }
        if copies_from(stage).next().is_none() {
            problems.push(df.at(
                from,
                format!(
                    "shipped stage {} copies nothing from a build stage",
                    stage_name(stage)
                ),
            ));
        }
    }
    problems
}

/// Each shipped stage ends as a numeric, non-zero UID (so the kubelet can check runAsNonRoot).
fn check_non_root(df: &Checked) -> Vec<String> {
    let stages = df.stages();
    let mut problems = Vec::new();
    for &target in &df.targets() {
        let stage = &stages[target];
        let user = stage
            .instructions
            .iter()
            .filter_map(|i| i.as_misc())
            .rfind(|m| m.instruction.content.eq_ignore_ascii_case("user"));
        let Some(user) = user else {
            problems.push(df.at_stage(stage, "shipped, sets no USER (runs as root)"));
            continue;
        };
        let value = user.arguments.to_string();
        let uid = value.trim().split(':').next().unwrap_or_default();
        match uid.parse::<u32>() {
            Ok(0) => problems.push(df.at(user.span, "USER 0 is root")),
            Ok(_) => {}
            Err(_) => problems.push(df.at(user.span, format!("USER {uid} is not a numeric UID"))),
        }
    }
    problems
}

const NATIVE: [&str; 4] = [
    "-march=native",
    "-mtune=native",
    "-mcpu=native",
    "target-cpu=native",
];

/// No instruction (comments aside) compiles for the build machine's CPU.
fn check_no_native(df: &Checked) -> Vec<String> {
    let mut problems = Vec::new();
    for instruction in &df.file.instructions {
        let span = instruction.span();
        let text = &df.file.content[span.start..span.end];
        let code = text.lines().filter(|l| !l.trim_start().starts_with('#'));
        if let Some(flag) = code
            .flat_map(|l| NATIVE.iter().filter(move |f| l.contains(*f)))
            .next()
        {
            problems.push(df.at(
                span,
                format!("{flag} ties the binary to the build machine's CPU"),
            ));
        }
    }
    problems
}

/// The value `key` has when a stage's RUN at `before` runs: the stage's last ENV of it (with the
/// stage's ARG defaults substituted), else the repository's .cargo/config.toml [env] when the
/// stage copied the whole build context in (cargo passes [env] to build scripts, and
/// whisper-rs-sys hands every GGML_* variable to whisper.cpp's cmake).
fn effective_env(stage: &Stage<'_>, before: Span, key: &str) -> Option<(String, &'static str)> {
    let mut args = std::collections::HashMap::new();
    let mut value = None;
    let mut whole_context = false;
    for instruction in stage
        .instructions
        .iter()
        .take_while(|i| i.span().start < before.start)
    {
        match instruction {
            Instruction::Arg(arg) => {
                if let Some(v) = &arg.value {
                    args.insert(arg.name.content.clone(), v.content.clone());
                }
            }
            Instruction::Env(env) => {
                for var in env.vars.iter().filter(|v| v.key.content == key) {
                    // `ENV K=${ARG}` or `ENV K=$ARG` takes the ARG's default; anything else as is.
                    let raw = var.value.to_string();
                    let arg = raw.strip_prefix("${").and_then(|r| r.strip_suffix('}'));
                    let arg = arg.or_else(|| raw.strip_prefix('$'));
                    value = Some(arg.and_then(|a| args.get(a)).cloned().unwrap_or(raw));
                }
            }
            Instruction::Copy(copy) => {
                whole_context |=
                    copy.flags.is_empty() && copy.sources.iter().any(|s| s.content == ".");
            }
            _ => {}
        }
    }
    if let Some(value) = value {
        return Some((value, "ENV"));
    }
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).unwrap_or_default();
    if !whole_context
        || ignored
            .lines()
            .any(|l| l.trim().trim_start_matches('/').starts_with(".cargo"))
    {
        return None;
    }
    let config = std::fs::read_to_string(root().join(".cargo/config.toml")).ok()?;
    let env = config
        .split("\n[")
        .find_map(|s| s.strip_prefix("env]").or_else(|| s.strip_prefix("[env]")))?;
    env.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == key).then(|| {
            (
                v.trim().trim_matches('"').to_owned(),
                ".cargo/config.toml [env]",
            )
        })
    })
}

/// Every stage that builds whisper-server does so with GGML_NATIVE=OFF and GGML_LLAMAFILE=ON.
fn check_ggml(df: &Checked) -> Vec<String> {
    let mut problems = Vec::new();
    let mut builds = 0;
    for stage in &df.stages() {
        let server_builds = runs(stage)
            .filter(|(_, c)| c.contains("cargo build") && c.contains("-p whisper-server"));
        for (span, _) in server_builds {
            builds += 1;
            for (key, want) in [("GGML_NATIVE", "OFF"), ("GGML_LLAMAFILE", "ON")] {
                let got = match effective_env(stage, span, key) {
                    Some((value, _)) if value == want => continue,
                    Some((value, source)) => format!("{key}={value} (from {source})"),
                    None => format!("no {key} (whisper.cpp's default applies)"),
                };
                let name = stage_name(stage);
                let problem = format!("stage {name} builds whisper-server with {got}, want {want}");
                problems.push(df.at(span, problem));
            }
        }
    }
    if builds == 0 {
        problems.push(df.at(
            Span::new(0, 0),
            "no stage runs `cargo build -p whisper-server`",
        ));
    }
    problems
}

/// Every external base image names a tag or digest, and the tag is not `latest`.
fn check_pinned(df: &Checked) -> Vec<String> {
    let mut problems = Vec::new();
    let stages = df.stages();
    for instruction in &df.file.instructions {
        let Some(from) = instruction.as_from() else {
            continue;
        };
        let image = from.image.content.as_str();
        if image == "scratch" || stage_index(&stages[..from.index], image).is_some() {
            continue;
        }
        match from.image_parsed.resolve_vars(&df.file) {
            None => problems.push(df.at(
                from.span,
                format!("FROM {image}: a variable has no global ARG default"),
            )),
            Some(r) if r.tag.is_none() && r.hash.is_none() => {
                problems.push(df.at(from.span, format!("FROM {r} has no tag (means :latest)")))
            }
            Some(r) if r.tag.as_deref() == Some("latest") => {
                problems.push(df.at(from.span, format!("FROM {r}: :latest is not a pin")))
            }
            Some(_) => {}
        }
    }
    problems
}

/// A shipped CUDA stage (a `--target` with "cuda" in its name) copies its binary from a stage
/// that runs `cargo build ... --features cuda`.
fn check_cuda_variant(df: &Checked) -> Vec<String> {
    let stages = df.stages();
    let cuda_targets: Vec<usize> = df
        .targets()
        .into_iter()
        .filter(|&t| {
            stages[t]
                .name
                .as_deref()
                .is_some_and(|n| n.contains("cuda"))
        })
        .collect();
    let mut problems = Vec::new();
    if cuda_targets.is_empty() {
        problems.push(df.at(
            Span::new(0, 0),
            "no shipped CUDA stage (build-images.sh --target *cuda*)",
        ));
    }
    for target in cuda_targets {
        let stage = &stages[target];
        let builds_cuda = copies_from(stage)
            .filter_map(|(_, from)| stage_index(&stages, from))
            .flat_map(|i| runs(&stages[i]).map(|(_, c)| c).collect::<Vec<_>>())
            .any(|command| {
                let words: Vec<&str> = command.split_whitespace().collect();
                words.contains(&"cargo")
                    && words.windows(2).any(|w| {
                        matches!(w[0], "--features" | "-F") && w[1].split(',').any(|f| f == "cuda")
                    })
            });
        if !builds_cuda {
            problems.push(df.at_stage(
                stage,
                "CUDA, copies from no stage that builds with --features cuda",
            ));
        }
    }
    problems
}

/// No `# syntax=` parser directive: with one, BuildKit pulls that frontend image from a registry
/// before it reads the file; without, Docker's built-in frontend (which has cache mounts) is used.
fn check_no_syntax_directive(df: &Checked) -> Vec<String> {
    let mut offset = 0;
    let mut problems = Vec::new();
    for line in df.file.content.split_inclusive('\n') {
        let directive = line.trim_start().strip_prefix('#').map(str::trim_start);
        let rest = directive.and_then(|d| d.strip_prefix("syntax"));
        if rest.is_some_and(|r| r.trim_start().starts_with('=')) {
            problems.push(df.at(
                Span::new(offset, offset),
                format!(
                    "`{}` makes BuildKit pull a frontend from a registry",
                    line.trim()
                ),
            ));
        }
        offset += line.len();
    }
    problems
}

/// Every base of a non-CUDA stage that is not an earlier stage is `${ARG}` (a global ARG with a
/// published default), and build-images.sh passes `--build-arg ARG=...` for it: the script's local
/// bases replace exactly these.
fn check_bases_are_build_args(df: &Checked) -> Vec<String> {
    let script = read("scripts/build-images.sh");
    let stages = df.stages();
    let mut problems = Vec::new();
    for stage in &stages {
        let Some(from) = stage.instructions[0].as_from() else {
            continue;
        };
        let image = from.image.content.as_str();
        if stage_name(stage).contains("cuda")
            || image == "scratch"
            || stage_index(&stages[..stage.index], image).is_some()
        {
            continue;
        }
        let arg = image
            .strip_prefix("${")
            .and_then(|i| i.strip_suffix('}'))
            .or_else(|| image.strip_prefix('$'));
        let Some(arg) = arg else {
            problems.push(df.at(
                from.span,
                format!("FROM {image}: not a build argument, so no local base can replace it"),
            ));
            continue;
        };
        let declared = df
            .file
            .global_args
            .iter()
            .any(|a| a.name.content == arg && a.value.is_some());
        if !declared {
            problems.push(df.at(
                from.span,
                format!("FROM {image}: no global ARG {arg}=<default>"),
            ));
        }
        let passed = [
            format!("--build-arg \"{arg}="),
            format!("--build-arg {arg}="),
        ]
        .iter()
        .any(|p| script.contains(p.as_str()));
        if !passed {
            problems.push(df.at(
                from.span,
                format!("build-images.sh passes no --build-arg {arg}=... for the local base"),
            ));
        }
    }
    problems
}

/// Every `cargo build` runs with BuildKit cache mounts of the cargo registry and of the target
/// directory, so a rebuild after a source change downloads and recompiles only what changed.
fn check_cargo_cache_mounts(df: &Checked) -> Vec<String> {
    let mut problems = Vec::new();
    let mut builds = 0;
    for stage in &df.stages() {
        for (span, command) in runs(stage).filter(|(_, c)| c.contains("cargo build")) {
            builds += 1;
            let targets: Vec<String> = command
                .split_whitespace()
                .take_while(|w| w.starts_with("--"))
                .filter_map(|w| w.strip_prefix("--mount="))
                .filter(|m| m.split(',').any(|kv| kv == "type=cache"))
                .filter_map(|m| {
                    m.split(',')
                        .find_map(|kv| kv.strip_prefix("target=").or(kv.strip_prefix("dst=")))
                        .map(str::to_owned)
                })
                .collect();
            for (what, suffix) in [
                ("cargo registry", "cargo/registry"),
                ("target dir", "/target"),
            ] {
                if !targets
                    .iter()
                    .any(|t| t.trim_end_matches('/').ends_with(suffix))
                {
                    let name = stage_name(stage);
                    let problem =
                        format!("stage {name}: cargo build without a cache mount of the {what}");
                    problems.push(df.at(span, problem));
                }
            }
        }
    }
    if builds == 0 {
        problems.push(df.at(Span::new(0, 0), "no stage runs `cargo build`"));
    }
    problems
}

/// A rule: the problems it finds, each as "path:line: what".
type Check = fn(&Checked) -> Vec<String>;

fn assert_clean(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

fn each_dockerfile(check: Check) {
    assert_clean(
        ["server/Dockerfile", "operator/Dockerfile"]
            .iter()
            .flat_map(|p| check(&Checked::load(p)))
            .collect(),
    );
}

#[test]
fn builds_are_multi_stage_and_ship_a_runtime_stage() {
    each_dockerfile(check_multi_stage);
}

#[test]
fn images_run_as_a_numeric_non_root_user() {
    each_dockerfile(check_non_root);
}

#[test]
fn nothing_is_compiled_for_the_build_machines_cpu() {
    each_dockerfile(check_no_native);
}

#[test]
fn server_builds_whisper_cpp_without_native_and_with_llamafile() {
    assert_clean(check_ggml(&Checked::load("server/Dockerfile")));
}

#[test]
fn base_images_are_pinned_to_a_tag() {
    each_dockerfile(check_pinned);
}

#[test]
fn server_cuda_image_is_built_with_the_cuda_feature() {
    assert_clean(check_cuda_variant(&Checked::load("server/Dockerfile")));
}

#[test]
fn no_syntax_directive_so_the_built_in_frontend_builds_offline() {
    each_dockerfile(check_no_syntax_directive);
}

#[test]
fn cpu_base_images_are_build_arguments_the_script_replaces() {
    each_dockerfile(check_bases_are_build_args);
}

#[test]
fn cargo_builds_use_cache_mounts() {
    each_dockerfile(check_cargo_cache_mounts);
}

#[test]
fn every_check_rejects_a_bad_dockerfile() {
    let bad = Checked::parse(
        "bad/Dockerfile",
        "# syntax=docker/dockerfile:1\nFROM ubuntu\nRUN gcc -march=native -o /app app.c\nCMD [\"/app\"]\n",
    );
    let checks: [(&str, Check); 9] = [
        ("multi-stage", check_multi_stage),
        ("non-root", check_non_root),
        ("no -march=native", check_no_native),
        ("GGML flags", check_ggml),
        ("pinned base images", check_pinned),
        ("CUDA variant", check_cuda_variant),
        ("no syntax directive", check_no_syntax_directive),
        ("bases as build arguments", check_bases_are_build_args),
        ("cargo cache mounts", check_cargo_cache_mounts),
    ];
    for (name, check) in checks {
        let problems = check(&bad);
        assert!(
            !problems.is_empty(),
            "the {name} check accepts a bad Dockerfile"
        );
        assert!(
            problems.iter().all(|p| p.starts_with("bad/Dockerfile:")),
            "{problems:?}"
        );
        eprintln!("{name}: {problems:?}");
    }
}
