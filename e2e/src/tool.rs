//! Running helm, kubectl and other tools as a user would, with errors that show their stderr.

use std::ffi::OsStr;
use std::path::Path;

use tokio::process::Command;

use crate::error::{E2eError, Result};

/// Runs `program args...` with `KUBECONFIG` set and returns its stdout; a non-zero exit is an
/// error carrying stderr.
pub async fn run<I, S>(program: &Path, kubeconfig: &Path, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.env("KUBECONFIG", kubeconfig);
    stdout_of(command, program, args).await
}

/// [`run`] for a program that needs no cluster (docker, flite, sox).
pub async fn run_local<I, S>(program: &Path, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    stdout_of(Command::new(program), program, args).await
}

async fn stdout_of<I, S>(mut command: Command, program: &Path, args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<_> = args
        .into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect();
    let described = describe(program, &args);
    let output = command
        .args(&args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|source| E2eError::Spawn {
            command: described.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(E2eError::Command {
            command: described,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The command line as text, for error messages.
pub fn describe(program: &Path, args: &[std::ffi::OsString]) -> String {
    std::iter::once(program.as_os_str())
        .chain(args.iter().map(|a| a.as_os_str()))
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
