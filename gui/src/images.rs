//! Where the GUI's guest images come from, and the names it shows for them. Owns the
//! default guest (minios, embedded in the binary so a `traplab-gui` copied anywhere still
//! opens with it), the lookup of the sample images (beside the executable, in the source
//! tree it was built from, or relative to the working directory) and the clean name of an
//! image for the title and status line. It must not boot anything (that is `worker`'s job).

use std::path::{Path, PathBuf};

/// The path-like name of the embedded minios; `read` understands it.
pub const BUILTIN_MINIOS: &str = "builtin:minios";
/// The sample the embedded copy was taken from.
pub const MINIOS_SAMPLE: &str = "samples/minios/minios.elf";

/// minios as it was when this binary was built.
static MINIOS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../samples/minios/minios.elf"
));

/// The largest file the GUI loads: a disk image's limit (the largest of the kinds it opens;
/// kernels and snapshots are checked again by their loaders).
pub const MAX_FILE: u64 = traplab::boot::disk::MAX_IMAGE;

/// The bytes of an image: the embedded minios for `BUILTIN_MINIOS`, else the file. Only a
/// regular file of at most `MAX_FILE` bytes is read, so a device such as `/dev/zero` or a
/// pipe typed into the path box is one clear error instead of memory without bound.
pub fn read(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    if path == BUILTIN_MINIOS {
        return Ok(MINIOS.to_vec());
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (images, disks and snapshots are files)",
        ));
    }
    if meta.len() > MAX_FILE {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "{} bytes is larger than any image Traplab loads ({} GiB)",
                meta.len(),
                MAX_FILE >> 30
            ),
        ));
    }
    // The file may grow while it is read: never take more than the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The image the GUI opens with when none is given: the minios file if one is found (so a
/// rebuilt sample is picked up), else the embedded copy.
pub fn default_image() -> String {
    sample_path(MINIOS_SAMPLE)
}

/// A sample path (relative to the repository root) resolved against the executable's
/// directory and its ancestors (a binary in `target/release`, or next to a copied
/// `samples/`), then the working directory; never against the source tree it was built
/// from, which another machine does not have. minios falls back to the embedded copy; other samples to the relative path
/// (the caller's error then names it).
pub fn sample_path(rel: &str) -> String {
    match find_sample(rel) {
        Some(p) => p.to_string_lossy().into_owned(),
        None if rel == MINIOS_SAMPLE => BUILTIN_MINIOS.to_string(),
        None => rel.to_string(),
    }
}

/// The directories samples are looked up in, in order.
fn sample_roots() -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
        .map(|d| d.ancestors().map(Path::to_path_buf).collect())
        .unwrap_or_default();
    roots.push(PathBuf::from("."));
    roots
}

fn find_sample(rel: &str) -> Option<PathBuf> {
    sample_roots()
        .into_iter()
        .map(|d| d.join(rel))
        .find(|p| p.is_file())
}

/// A path as the user would type it: a sample found by `sample_path` shows relative to
/// the directory it was found in (`samples/...`); other paths as they are.
pub fn display_path(p: &str) -> String {
    for root in sample_roots() {
        if let Ok(rest) = Path::new(p).strip_prefix(&root) {
            if rest.starts_with("samples") {
                return rest.to_string_lossy().into_owned();
            }
        }
    }
    p.to_string()
}

/// The name the title bar and status line show for an image: `minios` for the embedded
/// copy and for `.../minios.elf`, the file name without its directory and extension
/// otherwise (never the build machine's path).
pub fn clean_name(path: &str) -> String {
    if let Some(n) = path.strip_prefix("builtin:") {
        return n.to_string();
    }
    let p = Path::new(path);
    p.file_stem()
        .or_else(|| p.file_name())
        .map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn read_refuses_devices_and_oversized_files() {
        let err = read("/dev/zero").unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        // A sparse file larger than the limit is refused from its size, without reading.
        let dir = std::env::temp_dir().join(format!("traplab-gui-big-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.img");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE + 1)
            .unwrap();
        let err = read(big.to_str().unwrap()).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.to_string().contains("larger than any image"), "{err}");
        // A small regular file still reads whole.
        assert_eq!(read(BUILTIN_MINIOS).unwrap(), MINIOS);
    }

    #[test]
    fn samples_show_as_typed() {
        let p = sample_path("samples/hello/hello.elf");
        assert!(Path::new(&p).is_file(), "{p}");
        assert_eq!(display_path(&p), "samples/hello/hello.elf");
        assert_eq!(display_path("/elsewhere/k.elf"), "/elsewhere/k.elf");
        assert_eq!(sample_path("samples/none.elf"), "samples/none.elf");
    }

    #[test]
    fn clean_names() {
        assert_eq!(clean_name(BUILTIN_MINIOS), "minios");
        assert_eq!(
            clean_name("/home/build/traplab/samples/minios/minios.elf"),
            "minios"
        );
        assert_eq!(
            clean_name("samples/bootsector/bootsector.img"),
            "bootsector"
        );
        assert_eq!(clean_name("kernel"), "kernel");
        assert_eq!(clean_name("/tmp/s.snap"), "s");
    }

    #[test]
    fn the_embedded_minios_is_the_sample() {
        let bytes = read(BUILTIN_MINIOS).unwrap();
        assert_eq!(
            traplab::boot::detect(&bytes),
            Ok(traplab::boot::ImageKind::Multiboot)
        );
        let file = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../samples/minios/minios.elf"
        ))
        .unwrap();
        assert_eq!(bytes, file, "rebuilt: the embedded copy follows the file");
        // Here (in the source tree) the file is found; the name is clean either way.
        let d = default_image();
        assert!(d.ends_with(MINIOS_SAMPLE), "{d}");
        assert_eq!(clean_name(&d), "minios");
        assert!(read("/nonexistent/image.elf").is_err());
    }
}
