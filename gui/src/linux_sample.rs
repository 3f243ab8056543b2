//! The Samples menu's Linux entry: the Debian i386 kernel and busybox-static that
//! `samples/linux/fetch.sh` leaves in `samples/linux/cache/` (or `$TRAPLAB_LINUX_DIR`), booted
//! by the Linux boot protocol with an initramfs built here whose /init
//! (`samples/linux/init-shell`) gives a shell on the serial console. Offered only when the
//! kernel and busybox are there; the repository does not carry them. Owns the entry's
//! files and command; booting is the worker's.

use crate::app::sample_path;
use crate::worker::{BootSpec, Command};
use std::path::PathBuf;

pub const NAME: &str = "Linux: Debian i386 kernel, busybox shell on the serial console";
pub const CMDLINE: &str = "console=ttyS0";
/// The /init script of the sample, under the repository.
pub const INIT: &str = "samples/linux/init-shell";
/// The initramfs built beside the kernel.
pub const INITRAMFS: &str = "initramfs-shell.cpio";

/// Where fetch.sh put the kernel and busybox.
pub fn dir() -> PathBuf {
    std::env::var_os("TRAPLAB_LINUX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(sample_path("samples/linux/cache")))
}

/// The kernel, busybox and the init script exist.
pub fn available() -> bool {
    let d = dir();
    d.join("vmlinuz").is_file()
        && d.join("busybox").is_file()
        && std::path::Path::new(&sample_path(INIT)).is_file()
}

/// Builds the initramfs (written beside the kernel unless it is there with the same
/// bytes) and returns the command that boots the kernel with it.
pub fn command() -> Result<Command, String> {
    let d = dir();
    let read = |p: PathBuf| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    let cpio = traplab::boot::initramfs::busybox(
        &read(d.join("busybox"))?,
        &read(PathBuf::from(sample_path(INIT)))?,
    );
    let rd = d.join(INITRAMFS);
    if std::fs::read(&rd).ok().as_deref() != Some(&cpio[..]) {
        std::fs::write(&rd, &cpio).map_err(|e| format!("{}: {e}", rd.display()))?;
    }
    Ok(Command::LoadSpec(BootSpec {
        path: d.join("vmlinuz").to_string_lossy().into_owned(),
        cmdline: CMDLINE.to_string(),
        modules: vec![rd.to_string_lossy().into_owned()],
        popek_goldberg: Some(false),
        apic: false,
        disk: None,
    }))
}
