//! Writing the files a user names — reports and exports (`--out`), the vendor
//! registry (`vendors set`) — and creating the store's file private.
//!
//! Every such write goes through [`Output`]; the rules, and why:
//!
//! - **A regular file (or a new one) is replaced, never written in place.** The bytes
//!   go to a temporary file that `tempfile` creates in the target's own directory (so
//!   the rename stays on one file system) under a random name with `O_EXCL` and mode
//!   0600; it is flushed and `fsync`ed, then renamed over the target. A reader never
//!   sees half a file, and a failure leaves the old one. The temporary file is removed
//!   on every error path (its drop does it; [`Output::commit`] is the only way to keep
//!   it). The name used to be the predictable `<out>.tmp<pid>`, opened with a plain
//!   write: a symlink planted there made us overwrite whatever it pointed to.
//! - **A character device, a FIFO or a socket is written in place** (or, for a
//!   socket, fails to open): renaming over `/dev/null` as root would replace the
//!   device node with a regular file, and a FIFO's reader would never get the bytes.
//!   It is opened without `O_CREAT`, and what was opened is checked again with
//!   `fstat`, so this path never creates or truncates a regular file. A block device,
//!   a directory or anything else is refused: a report written onto a disk is a
//!   mistake, not a request.
//! - **A symlink at the target itself is followed**, as a shell's `>` follows it: the
//!   user who points `--out` at a link means the file it names, which is replaced
//!   (resolved with `canonicalize`, so the temporary file is made beside the real file
//!   and the link stays a link). A link to nothing is refused rather than followed into
//!   creating a file: a dangling link where a report is about to go is what a planted
//!   link looks like, and removing or fixing it costs the user a second. What must
//!   never happen — following an attacker's link at a name *we* chose — cannot any
//!   more: we choose no predictable name.
//! - **Modes.** A new file is created 0600: grants, audit entries and vendor contacts
//!   are nobody else's business. A replaced file keeps its permission bits (not its
//!   owner or ACLs: the replacement is a new inode), so a report a team shares stays
//!   shared. A device or FIFO is not touched.
//! - `-` for stdout is the command line's business (`cli`), since only it prints.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A file-system operation failed.
    #[error("cannot write {}: {step}", path.display())]
    Io {
        /// The file as named.
        path: PathBuf,
        /// What was being done.
        step: &'static str,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The target is something that must be neither written nor replaced.
    #[error("will not write {}: {reason}", path.display())]
    Refused {
        /// The file as named.
        path: PathBuf,
        /// What it is and what to do.
        reason: String,
    },
}

/// A file being written. Write to it, then [`commit`](Output::commit); dropped
/// without a commit, a replacement is discarded (the target is untouched and the
/// temporary file removed).
pub struct Output {
    /// The target as named, for messages.
    path: PathBuf,
    sink: Sink,
}

enum Sink {
    /// A regular file, new or existing, replaced by a temporary sibling.
    Replace {
        file: BufWriter<tempfile::NamedTempFile>,
        /// Where the rename goes: the target with a symlink at it resolved.
        target: PathBuf,
        /// The replaced file's permissions; `None` for a new file (0600).
        keep: Option<Permissions>,
    },
    /// A character device or FIFO, written in place.
    Direct(BufWriter<File>),
}

impl Output {
    /// Prepares to write `path` by the rules in the module documentation. A FIFO
    /// blocks here until it has a reader, as it does for a shell.
    pub fn create(path: &Path) -> Result<Output, FileError> {
        let io_err = |step, source| FileError::Io {
            path: path.to_path_buf(),
            step,
            source,
        };
        let refuse = |reason: String| FileError::Refused {
            path: path.to_path_buf(),
            reason,
        };
        // `metadata` follows a symlink at the target: what it names decides.
        let sink = match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() => {
                let target = if is_symlink(path) {
                    std::fs::canonicalize(path)
                        .map_err(|e| io_err("cannot resolve the symbolic link", e))?
                } else {
                    path.to_path_buf()
                };
                replace(&target, Some(meta.permissions())).map_err(|e| io_err(e.0, e.1))?
            }
            Ok(meta) if meta.is_dir() => {
                return Err(refuse("it is a directory; name a file".into()));
            }
            Ok(meta) if is_stream(&meta) => {
                // No O_CREAT and no O_TRUNC: this path never makes or cuts a file.
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(|e| io_err("cannot open it", e))?;
                // It may have changed between the two looks; never write a regular
                // file in place.
                let opened = file
                    .metadata()
                    .map_err(|e| io_err("cannot inspect it", e))?;
                if !is_stream(&opened) {
                    return Err(refuse(
                        "it changed while being opened; run the command again".into(),
                    ));
                }
                Sink::Direct(BufWriter::new(file))
            }
            Ok(_) => {
                return Err(refuse(
                    "it is neither a regular file nor a character device, FIFO or socket \
                     (a block device?); name a file"
                        .into(),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if is_symlink(path) {
                    let to = std::fs::read_link(path)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|_| "nothing".into());
                    return Err(refuse(format!(
                        "it is a symbolic link to {to}, which does not exist; remove the \
                         link or create the file it names"
                    )));
                }
                replace(path, None).map_err(|e| io_err(e.0, e.1))?
            }
            Err(e) => return Err(io_err("cannot inspect it", e)),
        };
        Ok(Output {
            path: path.to_path_buf(),
            sink,
        })
    }

    /// Finishes the write: flushes, and for a replacement `fsync`s and renames the
    /// temporary file over the target. On an error the target is as it was and the
    /// temporary file is gone.
    pub fn commit(self) -> Result<(), FileError> {
        let io_err = |step, source| FileError::Io {
            path: self.path.clone(),
            step,
            source,
        };
        match self.sink {
            Sink::Direct(mut file) => file.flush().map_err(|e| io_err("the write failed", e)),
            Sink::Replace { file, target, keep } => {
                let tmp = file
                    .into_inner()
                    .map_err(|e| io_err("the write failed", e.into_error()))?;
                if let Some(perms) = keep {
                    tmp.as_file()
                        .set_permissions(perms)
                        .map_err(|e| io_err("cannot keep the file's permissions", e))?;
                }
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| io_err("cannot flush it to disk", e))?;
                // A failed persist hands the temporary file back in the error;
                // dropping the error removes it.
                tmp.persist(&target)
                    .map_err(|e| io_err("cannot replace it", e.error))?;
                sync_parent(&target);
                Ok(())
            }
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Replace { file, .. } => file.write(buf),
            Sink::Direct(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Replace { file, .. } => file.flush(),
            Sink::Direct(file) => file.flush(),
        }
    }
}

/// Writes `bytes` to `path` through an [`Output`].
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let mut out = Output::create(path)?;
    out.write_all(bytes).map_err(|source| FileError::Io {
        path: path.to_path_buf(),
        step: "the write failed",
        source,
    })?;
    out.commit()
}

/// Creates `path` empty with mode 0600 unless something exists there, so that a
/// file another library then opens and fills (SQLite) is private from its first
/// byte. An existing file, or a symlink, is left as it is (`O_EXCL` does not follow
/// links).
pub fn create_private(path: &Path) -> io::Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A temporary file for `target` in its directory, 0600, with an `O_EXCL` create
/// under a random name; the error names the step.
fn replace(target: &Path, keep: Option<Permissions>) -> Result<Sink, (&'static str, io::Error)> {
    let dir = parent(target);
    // Hidden and named after the target, so a leftover says what it was. Every error
    // path removes the file; only a kill or a power loss mid-write can leave one.
    let prefix = format!(
        ".{}.",
        target
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    );
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(Permissions::from_mode(0o600));
    }
    let file = builder
        .tempfile_in(dir)
        .map_err(|e| ("cannot create a temporary file beside it", e))?;
    Ok(Sink::Replace {
        file: BufWriter::new(file),
        target: target.to_path_buf(),
        keep,
    })
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// A character device, FIFO or socket: something that takes bytes and must not be
/// replaced.
fn is_stream(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        let t = meta.file_type();
        t.is_char_device() || t.is_fifo() || t.is_socket()
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        false
    }
}

/// Best effort: `fsync` the directory so the rename itself survives a power loss.
/// The file is in place either way, so a failure here is not reported as a failed
/// write.
fn sync_parent(target: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(parent(target)) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = target;
}

/// The directory `target` is in (`.` for a bare name).
fn parent(target: &Path) -> &Path {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The names in `dir`, sorted.
    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|e| {
                e.unwrap_or_else(|e| panic!("{e}"))
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn a_new_file_is_written_whole_and_private() {
        let dir = tempdir();
        let path = dir.path().join("report.csv");
        write(&path, b"id\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"id\r\n");
        assert_eq!(
            names(dir.path()),
            ["report.csv"],
            "no temporary file is left"
        );
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_replaced_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempdir();
        let path = dir.path().join("shared.json");
        std::fs::write(&path, "old").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        write(&path, b"new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"new");
        assert_eq!(mode(&path), 0o644);
    }

    #[test]
    fn a_failed_render_leaves_the_target_and_no_temporary_file() {
        let dir = tempdir();
        let path = dir.path().join("report.html");
        std::fs::write(&path, "the old report").unwrap_or_else(|e| panic!("{e}"));
        let render = |out: &mut Output| -> io::Result<()> {
            // More than the buffer holds, so part of it reaches the temporary file.
            out.write_all(&[b'x'; 64 * 1024])?;
            Err(io::Error::other("the renderer gave up"))
        };
        let mut out = Output::create(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(render(&mut out).is_err());
        assert_eq!(
            names(dir.path()).len(),
            2,
            "the temporary file exists meanwhile"
        );
        drop(out);
        assert_eq!(names(dir.path()), ["report.html"]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap_or_default(),
            "the old report"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = tempdir();
        // Renaming a file over a non-empty directory fails after everything was
        // written: the last step's error path must clean up too.
        let path = dir.path().join("out");
        let mut out = Output::create(&path).unwrap_or_else(|e| panic!("{e}"));
        out.write_all(b"bytes").unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(&path).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(path.join("inside"), "x").unwrap_or_else(|e| panic!("{e}"));
        let err = out
            .commit()
            .err()
            .unwrap_or_else(|| panic!("the rename succeeded"));
        assert!(err.to_string().contains("cannot replace it"), "{err}");
        assert_eq!(names(dir.path()), ["out"]);
    }

    #[cfg(unix)]
    #[test]
    fn the_temporary_name_is_not_predictable() {
        // The old code wrote `<out>.tmp<pid>`; a link planted there, or at any
        // name an attacker guesses, must be left alone and its target untouched.
        let dir = tempdir();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("report.csv");
        let planted = [
            format!("report.tmp{}", std::process::id()),
            format!("report.csv.tmp{}", std::process::id()),
            ".report.csv.tmp".to_owned(),
        ];
        for name in &planted {
            std::os::unix::fs::symlink(&victim, dir.path().join(name))
                .unwrap_or_else(|e| panic!("{e}"));
        }
        write(&path, b"report").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap_or_default(),
            "precious"
        );
        for name in &planted {
            assert!(is_symlink(&dir.path().join(name)), "{name} was replaced");
        }
        let mut want: Vec<String> = planted.to_vec();
        want.extend(["report.csv".to_owned(), "victim".to_owned()]);
        want.sort();
        assert_eq!(names(dir.path()), want);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_target_is_followed_and_stays_a_link() {
        let dir = tempdir();
        let real = dir.path().join("reports").join("june.csv");
        std::fs::create_dir(dir.path().join("reports")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&real, "old").unwrap_or_else(|e| panic!("{e}"));
        let link = dir.path().join("latest.csv");
        std::os::unix::fs::symlink(&real, &link).unwrap_or_else(|e| panic!("{e}"));
        write(&link, b"new").unwrap_or_else(|e| panic!("{e}"));
        assert!(is_symlink(&link));
        assert_eq!(std::fs::read_to_string(&real).unwrap_or_default(), "new");
        assert_eq!(names(dir.path()), ["latest.csv", "reports"]);
        assert_eq!(names(&dir.path().join("reports")), ["june.csv"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_dangling_symlink_at_the_target_is_refused() {
        let dir = tempdir();
        let link = dir.path().join("report.csv");
        let nowhere = dir.path().join("elsewhere").join("cron");
        std::os::unix::fs::symlink(&nowhere, &link).unwrap_or_else(|e| panic!("{e}"));
        let err = write(&link, b"x")
            .err()
            .unwrap_or_else(|| panic!("written"));
        assert!(matches!(err, FileError::Refused { .. }), "{err}");
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(is_symlink(&link) && !nowhere.exists());
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = tempdir();
        let err = write(dir.path(), b"x")
            .err()
            .unwrap_or_else(|| panic!("written"));
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn dev_null_stays_a_character_device() {
        use std::os::unix::fs::FileTypeExt as _;
        let null = Path::new("/dev/null");
        write(null, b"into the void").unwrap_or_else(|e| panic!("{e}"));
        let t = std::fs::symlink_metadata(null)
            .unwrap_or_else(|e| panic!("{e}"))
            .file_type();
        assert!(t.is_char_device(), "/dev/null is now {t:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_gets_the_bytes_in_place() {
        use std::io::Read as _;
        use std::os::unix::fs::FileTypeExt as _;
        let dir = tempdir();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap_or_else(|e| panic!("mkfifo: {e}"));
        assert!(status.success(), "mkfifo failed");
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || {
                let mut text = String::new();
                File::open(&fifo)
                    .and_then(|mut f| f.read_to_string(&mut text))
                    .unwrap_or_else(|e| panic!("read the fifo: {e}"));
                text
            })
        };
        write(&fifo, b"streamed report").unwrap_or_else(|e| panic!("{e}"));
        let got = reader.join().unwrap_or_else(|_| panic!("reader panicked"));
        assert_eq!(got, "streamed report");
        let t = std::fs::symlink_metadata(&fifo)
            .unwrap_or_else(|e| panic!("{e}"))
            .file_type();
        assert!(t.is_fifo(), "the fifo is now {t:?}");
        assert_eq!(names(dir.path()), ["pipe"]);
    }

    #[cfg(unix)]
    #[test]
    fn create_private_makes_a_0600_file_and_leaves_an_existing_one() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempdir();
        let path = dir.path().join("grantscope.db");
        create_private(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"");
        std::fs::write(&path, "data").unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&path, Permissions::from_mode(0o640))
            .unwrap_or_else(|e| panic!("{e}"));
        create_private(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&path), 0o640);
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"data");
    }
}
