//! What an image file is, decided from its content by one set of rules that every front end
//! uses (the CLI's `--boot auto`, the GUI's file loader). Owns those rules; it must not load
//! anything or build a machine.
//!
//! The rules, in order:
//! 1. a valid Multiboot v1 header (magic 0x1BADB002 on a 4-byte boundary in the first 8 KiB,
//!    checksum right) makes a **Multiboot kernel**, whatever else the file holds (a hybrid
//!    image with a boot sector too boots as a kernel; `--boot disk` boots its sector);
//! 2. "HdrS" at offset 0x202 makes a **Linux kernel** (a bzImage, booted by the Linux/x86
//!    boot protocol); it comes before the boot-sector rule since a bzImage's first sector
//!    ends in 55 AA too;
//! 3. 55 AA at offsets 510-511 makes a **boot sector** (a disk image booted by the built-in
//!    BIOS); the image must then be whole 512-byte sectors;
//! 4. a size of 64 to 256 KiB in 64 KiB steps with a jump at the reset vector (the byte 16
//!    from the end is JMP far EA, JMP near E9 or JMP short EB) makes a **ROM** image;
//! 5. anything else is not detected: an ELF without a Multiboot header, a Multiboot magic
//!    whose checksum is wrong, or bytes without any signature each get their own error.
//!    Flat binaries have no signature: they boot only when asked for (`--boot flat`).

use super::multiboot::MAGIC as MULTIBOOT_MAGIC;
use super::rom;
use thiserror::Error;

/// How far into the image the Multiboot header may start (the specification's 8 KiB).
pub const HEADER_SEARCH: usize = 8192;
const SECTOR: usize = 512;

/// What an image is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// A Multiboot v1 kernel (ELF, or a flat image with the a.out kludge).
    Multiboot,
    /// A Linux kernel (bzImage) with the "HdrS" setup header.
    Linux,
    /// A disk image whose first sector is a boot sector (ends in 55 AA).
    BootSector,
    /// A firmware ROM image mapped below 4 GiB and started at its reset vector.
    Rom,
}

impl ImageKind {
    /// A short name for messages and title bars.
    pub fn name(&self) -> &'static str {
        match self {
            ImageKind::Multiboot => "Multiboot kernel",
            ImageKind::Linux => "Linux kernel",
            ImageKind::BootSector => "boot sector",
            ImageKind::Rom => "ROM image",
        }
    }
}

/// Why an image's kind could not be decided.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum DetectError {
    #[error("the image is empty")]
    Empty,
    #[error("an ELF file without a Multiboot header in its first 8 KiB (Traplab boots Multiboot v1 kernels)")]
    ElfWithoutMultiboot,
    #[error("a Multiboot header at offset {offset:#x} with a wrong checksum (corrupt header?)")]
    BadMultibootChecksum { offset: usize },
    #[error("a boot sector (55 AA at offset 510), but {len} bytes is not a whole number of 512-byte sectors")]
    PartialSector { len: usize },
    #[error("not a Multiboot kernel, a Linux bzImage (\"HdrS\" at 0x202), a boot sector (55 AA at offset 510) or a ROM image (64-256 KiB with a jump at the reset vector); a raw binary needs --boot flat or flat-real")]
    Unknown,
}

/// Decides what `image` is (see the module docs for the rules).
pub fn detect(image: &[u8]) -> Result<ImageKind, DetectError> {
    if image.is_empty() {
        return Err(DetectError::Empty);
    }
    let header = multiboot_header(image);
    if let Some(Ok(_)) = header {
        return Ok(ImageKind::Multiboot);
    }
    if super::linux::has_signature(image) {
        return Ok(ImageKind::Linux);
    }
    if has_boot_signature(image) {
        if !image.len().is_multiple_of(SECTOR) {
            return Err(DetectError::PartialSector { len: image.len() });
        }
        return Ok(ImageKind::BootSector);
    }
    // E9 JMP near, EA JMP far, EB JMP short.
    if rom::valid_size(image.len()) && matches!(image[image.len() - 16], 0xE9..=0xEB) {
        return Ok(ImageKind::Rom);
    }
    if let Some(Err(offset)) = header {
        return Err(DetectError::BadMultibootChecksum { offset });
    }
    if image.starts_with(b"\x7fELF") {
        return Err(DetectError::ElfWithoutMultiboot);
    }
    Err(DetectError::Unknown)
}

/// The kind the first bytes promise, for a caller that must decide how much of a file to
/// read: `Some(Multiboot)`, `Some(Linux)` or `Some(BootSector)` by rules 1-3 on `head` (at
/// least the first 8 KiB, or the whole file if shorter), None if the head alone does not
/// say. `detect` on the whole image has the last word.
pub fn detect_head(head: &[u8]) -> Option<ImageKind> {
    match multiboot_header(head) {
        Some(Ok(_)) => Some(ImageKind::Multiboot),
        _ if super::linux::has_signature(head) => Some(ImageKind::Linux),
        _ if has_boot_signature(head) => Some(ImageKind::BootSector),
        _ => None,
    }
}

/// 55 AA at offsets 510-511.
fn has_boot_signature(img: &[u8]) -> bool {
    img.get(510..512) == Some(&[0x55, 0xAA][..])
}

/// The first Multiboot magic in the first 8 KiB: Ok(offset) if its checksum is right,
/// Err(offset) if not; None without a magic. Only the first magic counts, as in the loader
/// (`multiboot::load`), so what is detected as a kernel is what the loader accepts.
fn multiboot_header(img: &[u8]) -> Option<Result<usize, usize>> {
    let n = img.len().min(HEADER_SEARCH);
    let rd = |o: usize| u32::from_le_bytes([img[o], img[o + 1], img[o + 2], img[o + 3]]);
    let o = (0..n.saturating_sub(11))
        .step_by(4)
        .find(|&o| rd(o) == MULTIBOOT_MAGIC)?;
    Some(
        if rd(o).wrapping_add(rd(o + 4)).wrapping_add(rd(o + 8)) == 0 {
            Ok(o)
        } else {
            Err(o)
        },
    )
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
