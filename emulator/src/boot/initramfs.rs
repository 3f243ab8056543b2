//! An initramfs for the Linux boot path: a cpio archive in the "newc" format the kernel
//! unpacks (Documentation/driver-api/early-userspace/buffer-format.rst), and the smallest
//! busybox root that boots to a script. Used by tests/linux_boot.rs and by the GUI's Linux
//! sample. Owns only building bytes; it must not read files or touch a machine.

/// A newc cpio archive being built: a 110-byte ASCII header per entry (13 hex fields), the
/// name and the data each padded to 4 bytes, `TRAILER!!!` last. mtimes, owners and inode
/// numbers are fixed by the entry order: the same input gives the same bytes.
#[derive(Default)]
pub struct Cpio(Vec<u8>);

impl Cpio {
    /// One entry: `mode` with its type bits (0o040000 directory, 0o100000 file, 0o120000
    /// symlink whose data is the target, 0o020000 character device `rdev` = (major, minor)).
    pub fn entry(&mut self, name: &str, mode: u32, data: &[u8], rdev: (u32, u32)) {
        let ino = self.0.len() as u32 + 1;
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            data.len() as u32,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        self.0.extend_from_slice(b"070701");
        for f in fields {
            self.0.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.0.extend_from_slice(name.as_bytes());
        self.0.push(0);
        self.pad();
        self.0.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }

    /// The archive, with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, b"", (0, 0));
        self.0
    }
}

/// The busybox root: busybox as /bin/busybox (and /bin/sh), `init` as /init, /dev/console
/// (the kernel opens it for init's stdin and stdout before any devtmpfs) and the mount
/// points /dev, /bin, /proc, /sys.
pub fn busybox(busybox: &[u8], init: &[u8]) -> Vec<u8> {
    let mut c = Cpio::default();
    for d in ["dev", "bin", "proc", "sys"] {
        c.entry(d, 0o040755, b"", (0, 0));
    }
    c.entry("dev/console", 0o020600, b"", (5, 1));
    c.entry("bin/busybox", 0o100755, busybox, (0, 0));
    c.entry("bin/sh", 0o120777, b"busybox", (0, 0));
    c.entry("init", 0o100755, init, (0, 0));
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header layout as the kernel's buffer-format.rst lays it out: magic, 13 fields of
    /// 8 hex digits, the name with its NUL padded so the data starts 4-aligned.
    #[test]
    fn newc_headers_and_padding() {
        let a = busybox(b"BB", b"#!/bin/sh\n");
        assert_eq!(&a[..6], b"070701");
        let field = |at: usize, k: usize| {
            u32::from_str_radix(
                std::str::from_utf8(&a[at + 6 + 8 * k..at + 14 + 8 * k]).unwrap(),
                16,
            )
            .unwrap()
        };
        assert_eq!(field(0, 1), 0o040755, "dev is a directory");
        assert_eq!(field(0, 11), 4, "namesize counts the NUL");
        assert_eq!(&a[110..114], b"dev\0");
        // Every header starts 4-aligned; the last entry is the trailer.
        let mut at = 0;
        let mut names = Vec::new();
        while at < a.len() {
            assert_eq!(at % 4, 0);
            assert_eq!(&a[at..at + 6], b"070701");
            let (size, namesize) = (field(at, 6) as usize, field(at, 11) as usize);
            let name = std::str::from_utf8(&a[at + 110..at + 110 + namesize - 1]).unwrap();
            names.push(name.to_string());
            let data = (at + 110 + namesize).next_multiple_of(4);
            if name == "bin/busybox" {
                assert_eq!(&a[data..data + size], b"BB");
            }
            at = (data + size).next_multiple_of(4);
        }
        assert_eq!(at, a.len());
        assert_eq!(
            names,
            [
                "dev",
                "bin",
                "proc",
                "sys",
                "dev/console",
                "bin/busybox",
                "bin/sh",
                "init",
                "TRAILER!!!"
            ]
        );
        assert_eq!(a, busybox(b"BB", b"#!/bin/sh\n"), "deterministic");
    }
}
