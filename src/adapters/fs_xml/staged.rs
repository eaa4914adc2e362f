//! The clients' staged files: how a client's new version is written beside its file and put
//! in its place in one atomic step, and what the writer remembers of them between writes.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use super::{remove_if_there, TEMP_PREFIX, TEMP_SUFFIX};

/// How a new staged file is made, found once at start (see [`probe`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NewFiles {
    /// Unnamed (`O_TMPFILE`), then named (see [`link_unnamed`]).
    Unnamed(LinkBy),
    /// Under the staged name: a file system without unnamed files.
    Named,
}

/// How an unnamed file gets its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LinkBy {
    /// `linkat(fd, "", AT_EMPTY_PATH)`, which Linux 6.10 and later allow the process that
    /// opened the file (before, only with `CAP_DAC_READ_SEARCH`). No path to walk: a tenth of
    /// the `linkat` under creates went to resolving the `/proc` link.
    Fd,
    /// Its `/proc/self/fd` link, as `open(2)` describes (older kernels).
    Proc,
}

/// The clients whose staged file may exist, by tenant folder. Only the writer thread makes
/// and removes staged files, so it knows, from what the folders held at start on; a write
/// for a client not in it does not look for a kept version (see [`write_one`]).
#[derive(Debug, Default)]
pub(super) struct KeptFiles(HashMap<String, HashSet<u32>>);

impl KeptFiles {
    pub(super) fn may_have(&self, folder: &str, id: u32) -> bool {
        self.0.get(folder).is_some_and(|ids| ids.contains(&id))
    }

    pub(super) fn set(&mut self, folder: &str, id: u32, kept: bool) {
        if kept {
            match self.0.get_mut(folder) {
                Some(ids) => {
                    ids.insert(id);
                }
                None => {
                    self.0.insert(folder.to_owned(), HashSet::from([id]));
                }
            }
        } else if let Some(ids) = self.0.get_mut(folder) {
            ids.remove(&id);
        }
    }
}

/// A staged file with no kept version behind it, most often a new client's.
enum NewStaged {
    /// Written under the staged name (a file system without unnamed files, or an empty
    /// file left under that name).
    Named,
    /// Written as an unnamed file, held open until [`publish_staged`] gives it its name.
    Unnamed(File, LinkBy),
}

/// Writes `bytes` to the client's staged file, `path`. That file usually exists: it holds the
/// version the last [`publish_staged`] replaced, and is overwritten in place (then cut to
/// length) rather than replaced, so the file system neither makes an inode nor frees blocks
/// for it. Never follows a link, so a link planted under the temporary name cannot redirect
/// the write. Readable by the service's user only, like the files `tempfile` makes: they
/// hold contact data and passwords.
///
/// When there is no kept version (a new client, most often) and the file system makes unnamed
/// files, the bytes go to an unnamed file (`O_TMPFILE`) that gets the client's name when it
/// is published: one directory entry made instead of a temporary one made, then moved, then
/// removed (file CPU per new file about 25 -> 15-19 us in a loop on this disk,
/// bench/notes.md). Then the kept version is not even looked for unless `maybe_kept`: the
/// look is a lookup of a name that is not there, in a folder of every client's file (a
/// tenth of the writer's kernel time under creates). A staged file the writer does not know
/// of stays where it is, and [`publish_staged`] deals with it if it is in the way. Returns
/// what was written when it is new.
fn write_staged(
    path: &Path,
    bytes: &[u8],
    new_files: NewFiles,
    maybe_kept: bool,
) -> io::Result<Option<NewStaged>> {
    use std::os::unix::fs::MetadataExt;
    let look = maybe_kept || new_files == NewFiles::Named;
    if let Some(mut file) = look.then(|| open_kept(path)).transpose()?.flatten() {
        let meta = file.metadata()?;
        // A second name on the inode is the combiner's (a restore links a claimed file back,
        // and an exchange can take that file an instant before the combiner removes its own
        // name): never write into a file someone else may read; it goes, and a new one is made.
        if meta.nlink() <= 1 {
            file.write_all(bytes)?;
            // Only a longer old version leaves bytes past the new end; cutting a file to the
            // length it has is a journalled change all the same (1 % of a create's samples).
            if meta.len() > bytes.len() as u64 {
                file.set_len(bytes.len() as u64)?;
            }
            return Ok((meta.len() == 0).then_some(NewStaged::Named));
        }
        drop(file);
        remove_if_there(path)?;
    }
    if let NewFiles::Unnamed(by) = new_files {
        let mut file = open_unnamed(path.parent().unwrap_or(Path::new(".")))?;
        file.write_all(bytes)?;
        return Ok(Some(NewStaged::Unnamed(file, by)));
    }
    open_staged(path)?.write_all(bytes)?;
    Ok(Some(NewStaged::Named))
}

/// The client's kept staged file, opened for writing; `None` when it has none.
fn open_kept(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match fs::OpenOptions::new()
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
    {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// A new file in `dir` with no name yet (`O_TMPFILE`); a crash before it is named leaves
/// nothing behind.
fn open_unnamed(dir: &Path) -> io::Result<File> {
    use rustix::fs::{open, Mode, OFlags};
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    let mode = Mode::from_raw_mode(0o600);
    let fd = match open(dir, flags, mode) {
        Err(rustix::io::Errno::NOENT) => {
            fs::create_dir_all(dir)?;
            open(dir, flags, mode)?
        }
        other => other?,
    };
    Ok(File::from(fd))
}

/// Gives an unnamed file the name `at`; fails with `AlreadyExists` when the name is taken,
/// and replaces nothing.
fn link_unnamed(file: &File, at: &Path, by: LinkBy) -> io::Result<()> {
    use rustix::fs::{linkat, AtFlags, CWD};
    use std::os::fd::AsRawFd;
    match by {
        LinkBy::Fd => linkat(file, "", CWD, at, AtFlags::EMPTY_PATH),
        LinkBy::Proc => {
            let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
            linkat(CWD, by_fd.as_str(), CWD, at, AtFlags::SYMLINK_FOLLOW)
        }
    }
    .map_err(io::Error::from)
}

/// How new files can be made in `dir`: unnamed where the file system has `O_TMPFILE` (ext4,
/// XFS, btrfs, tmpfs), named by descriptor where the kernel allows it, else through `/proc`
/// when it is mounted; else under the staged name. Asked once, at start.
pub(super) fn probe(dir: &Path) -> NewFiles {
    let probe = dir.join(format!("{TEMP_PREFIX}probe{TEMP_SUFFIX}"));
    let links = |by| {
        let _ = remove_if_there(&probe);
        let named = open_unnamed(dir).and_then(|file| link_unnamed(&file, &probe, by));
        let _ = remove_if_there(&probe);
        named.is_ok()
    };
    [LinkBy::Fd, LinkBy::Proc]
        .into_iter()
        .find(|&by| links(by))
        .map_or(NewFiles::Named, NewFiles::Unnamed)
}

/// A new staged file under its temporary name, where unnamed files cannot be made; its
/// folder is made when missing.
fn open_staged(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let open = || {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                fs::create_dir_all(dir)?;
            }
            open()
        }
        other => other,
    }
}

/// Puts the staged file in place of the client's file in one atomic step. When the client
/// has a file, the two names are exchanged (`RENAME_EXCHANGE`): the replaced version stays
/// under the staged name for the next [`write_staged`] instead of being freed. Replacing by
/// a plain rename freed the old file's blocks on every write, which on a file system mounted
/// with `discard` is a synchronous discard: zone updates ran at 6,650/s with it and 9,950/s
/// with the exchange, system CPU per update 127 -> 73 us (bench/notes.md).
///
/// A staged file that was new (`new`) is most often a new client's, with no file in place:
/// it is first given the client's name without replacing anything (an unnamed file linked,
/// a named one renamed), which saves a create the failed exchange. When a file is in place
/// after all (the client's second write, or a file the combiner put back), that fails and the
/// exchange follows (an unnamed file first takes the staged name, in place of a staged file
/// the writer did not know of), which leaves a kept version from then on.
///
/// Returns whether a version is kept under the staged name.
fn publish_staged(staged: &Path, path: &Path, new: Option<NewStaged>) -> io::Result<bool> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match new {
        Some(NewStaged::Unnamed(file, by)) => match link_unnamed(&file, path, by) {
            Ok(()) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                match link_unnamed(&file, staged, by) {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        remove_if_there(staged)?;
                        link_unnamed(&file, staged, by)?
                    }
                    linked => linked?,
                }
            }
            Err(e) => return Err(e),
        },
        Some(NewStaged::Named) => {
            match renameat_with(CWD, staged, CWD, path, RenameFlags::NOREPLACE) {
                Ok(()) => return Ok(false),
                Err(Errno::EXIST) => {}
                // A file system without the flag: a plain rename replaces atomically too.
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                    return fs::rename(staged, path).map(|()| false)
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => {}
    }
    match renameat_with(CWD, staged, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        // No file in place (a new client, or the combiner took it), or a file system
        // without the exchange: a plain rename, which replaces atomically too.
        Err(Errno::NOENT | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP | Errno::XDEV) => {
            fs::rename(staged, path).map(|()| false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Brings one client's file at `path` to `xml` through its staged file (a staged file that
/// fails is removed: it may hold part of a version), or removes it when `xml` is `None`,
/// with the staged file, which holds an earlier version. `maybe_kept`: whether the staged
/// file may exist. Returns whether it may exist afterwards (after a failure, it may).
pub(super) fn write_one(
    staged: &Path,
    path: &Path,
    xml: Option<&[u8]>,
    new_files: NewFiles,
    maybe_kept: bool,
) -> (io::Result<()>, bool) {
    let written = match xml {
        Some(xml) => write_staged(staged, xml, new_files, maybe_kept)
            .and_then(|new| publish_staged(staged, path, new))
            .inspect_err(|_| {
                let _ = remove_if_there(staged);
            }),
        None => remove_if_there(path)
            .and_then(|()| remove_if_there(staged))
            .map(|()| false),
    };
    match written {
        Ok(kept) => (Ok(()), kept),
        Err(e) => (Err(e), true),
    }
}

/// The client id in a staged file's name (`.tmp-<client id>.part`); `None` for other names,
/// which are a crash's leftovers (a temporary file of [`super::write_atomically`]).
pub(super) fn staged_id(name: &str) -> Option<u32> {
    name.strip_prefix(TEMP_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMP_SUFFIX))
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|id| id.parse().ok())
}
