//! The files `traplab run` writes when the run stops: the `--save-snapshot` file and the
//! `--writable` disks. Both are checked before the machine boots (so a run is not lost to an
//! unwritable path at its end) and written through a temporary file renamed into place (an
//! old file is never truncated). Nothing here reads the guest's images.

use super::args::{BootMode, RunArgs};
use anyhow::{bail, Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use traplab::machine::Machine;

/// The file that holds the machine's master disk, for `--writable`.
fn disk_path(a: &RunArgs) -> Option<&PathBuf> {
    a.disk.as_ref().or(match a.boot {
        BootMode::Disk | BootMode::Auto => a.image.as_ref(),
        _ => None,
    })
}

/// The machine's disk files with their device numbers (0 master, 1 slave).
fn disk_files(a: &RunArgs) -> Vec<(&PathBuf, usize)> {
    let master = disk_path(a).map(|p| (p, 0));
    let slave = a.disk2.as_ref().map(|p| (p, 1));
    [master, slave].into_iter().flatten().collect()
}

/// `--writable`: saves each disk image the guest wrote to, through a temporary file
/// beside it renamed into place (a failed write leaves the old image whole).
pub(super) fn save_disk(a: &RunArgs, m: &Machine) -> Result<()> {
    let Some(ata) = m.core.dev.ata.as_ref() else {
        return Ok(());
    };
    for (p, n) in disk_files(a) {
        let Some(drive) = ata.drive(n).filter(|d| d.dirty()) else {
            continue;
        };
        let target = std::fs::canonicalize(p)
            .with_context(|| format!("--writable {}: cannot write the disk back", p.display()))?;
        let perms = std::fs::metadata(&target).map(|m| m.permissions()).ok();
        replace_file(&target, "--writable", |w| drive.disk().write_to(w), perms)?;
        eprintln!("traplab: disk image written back to {}", p.display());
    }
    Ok(())
}

/// A temporary file beside `target` (same directory, so a rename replaces it atomically).
fn temp_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy());
    let dir = target.parent().filter(|d| !d.as_os_str().is_empty());
    let tmp = format!(".{name}.traplab-{}.tmp", std::process::id());
    dir.map_or(PathBuf::from(&tmp), |d| d.join(&tmp))
}

/// Writes `target` by writing a temporary file in its directory and renaming it into place;
/// on any failure the temporary file is removed and `target` is untouched.
pub(super) fn replace_file(
    target: &Path,
    opt: &str,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
    perms: Option<std::fs::Permissions>,
) -> Result<()> {
    let tmp = temp_path(target);
    let name = || format!("{opt} {}", target.display());
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| {
            format!(
                "{}: cannot create a temporary file {}",
                name(),
                tmp.display()
            )
        })?;
    let r = (|| -> std::io::Result<()> {
        let mut w = std::io::BufWriter::new(&f);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        if let Some(p) = perms {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("{}: cannot write", name())));
    }
    Ok(())
}

/// Checks before booting that the files the run will write at its end can be written:
/// the `--save-snapshot` file's directory (and the file is not a directory, and exists
/// only with --force) and the `--writable` disk.
pub(super) fn check_outputs(a: &RunArgs) -> Result<()> {
    if let Some(p) = &a.save_snapshot {
        let name = format!("--save-snapshot {}", p.display());
        if p.is_dir() {
            bail!("{name}: is a directory (give a file name)");
        }
        if p.exists() && !a.force {
            bail!("{name}: the file exists; add --force to overwrite it");
        }
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.is_dir() {
            bail!("{name}: directory {} does not exist", dir.display());
        }
        // A probe of the temporary file the snapshot will be written to.
        let tmp = temp_path(p);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("{name}: cannot create a file in {}", dir.display()))?;
        let _ = std::fs::remove_file(&tmp);
    }
    Ok(())
}

/// `--writable`: the machine has a disk and each disk's file can be written (checked
/// before the run).
pub(super) fn check_writable(a: &RunArgs, m: &Machine) -> Result<()> {
    let files = disk_files(a);
    if files.is_empty() || m.core.dev.ata.is_none() {
        bail!("--writable: this machine has no disk (give --disk FILE or a disk IMAGE)");
    }
    for (p, _) in files {
        std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .with_context(|| format!("--writable {}: cannot open it for writing", p.display()))?;
    }
    Ok(())
}
