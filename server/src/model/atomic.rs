//! Files that appear complete or not at all: written to a temporary file beside the destination,
//! synced, then renamed over it. Readers (and a crash) never see a half-written model.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tempfile::NamedTempFile;

pub struct AtomicFile {
    temp: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    /// Creates the temporary file in `dest`'s directory (made if missing), so that the final
    /// rename stays on one file system.
    pub fn create(dest: &Path) -> io::Result<Self> {
        let dir = parent_dir(dest);
        std::fs::create_dir_all(dir)?;
        let temp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(dir)?;
        Ok(Self {
            temp: BufWriter::with_capacity(1 << 20, temp),
        })
    }

    pub fn writer(&mut self) -> &mut impl Write {
        &mut self.temp
    }

    /// Syncs the data, renames it to `dest` and syncs the directory entry. The file is
    /// readable by all, as a downloaded model is: the temporary file was private to its
    /// writer, and a server running as another user (a container's) must read it.
    pub fn commit(self, dest: &Path) -> io::Result<()> {
        let temp = self.temp.into_inner().map_err(|e| e.into_error())?;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        temp.as_file().sync_all()?;
        temp.persist(dest).map_err(|e| e.error)?;
        File::open(parent_dir(dest))?.sync_all()
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("temp dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn commit_replaces_the_destination() {
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = dir.path().join("model.bin");
        std::fs::write(&dest, b"old").expect("write");
        let mut file = AtomicFile::create(&dest).expect("create");
        file.writer().write_all(b"new").expect("write");
        assert_eq!(std::fs::read(&dest).expect("read"), b"old");
        file.commit(&dest).expect("commit");
        assert_eq!(std::fs::read(&dest).expect("read"), b"new");
        assert_eq!(entries(dir.path()), vec!["model.bin"]);
        let mode = std::fs::metadata(&dest).expect("stat").permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o644,
            "readable by a server running as another user"
        );
    }

    #[test]
    fn dropping_without_commit_leaves_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut file = AtomicFile::create(&dir.path().join("model.bin")).expect("create");
        file.writer().write_all(b"partial").expect("write");
        drop(file);
        assert!(entries(dir.path()).is_empty());
    }
}
