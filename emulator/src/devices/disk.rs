//! The contents of a disk: a read-only source (an image in memory, or a host file opened by
//! the loader) under a copy-on-write overlay of the 64 KiB chunks the guest wrote. Owns the
//! overlay and the rules for reading and writing through it. It must not open files itself:
//! a file source is built by `boot::disk::FileSource` and handed over as a `DiskSource`.
//!
//! Why chunks: a 2 GiB image given by file is never read whole (only the sectors the guest
//! or the BIOS touch are read), a write copies one chunk rather than the disk, and cloning
//! the machine (snapshots, reverse execution) copies the chunk table (8 bytes per 64 KiB,
//! 256 KiB for 2 GiB) rather than the data.

use std::io;
use std::sync::Arc;

/// Overlay granularity: a written byte copies its whole chunk out of the source.
pub const CHUNK: usize = 64 * 1024;

/// Read-only bytes under the overlay. Reads are whole ranges inside `len()`.
pub trait DiskSource: Send + Sync {
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// An image held in memory (restored snapshots, tests, the GUI's files).
struct MemSource(Vec<u8>);

impl DiskSource for MemSource {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.0.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A disk's bytes: the source with the written chunks over it.
#[derive(Clone)]
pub struct Disk {
    source: Arc<dyn DiskSource>,
    len: u64,
    /// One slot per chunk of the source; `Some` once written (shared between clones until
    /// one of them writes it again).
    chunks: Vec<Option<Arc<Vec<u8>>>>,
}

impl Disk {
    /// A disk over an image in memory.
    pub fn from_vec(image: Vec<u8>) -> Disk {
        Disk::from_source(Arc::new(MemSource(image)))
    }

    /// A disk over any source (a host file, for the CLI).
    pub fn from_source(source: Arc<dyn DiskSource>) -> Disk {
        let len = source.len();
        let chunks = vec![None; len.div_ceil(CHUNK as u64) as usize];
        Disk {
            source,
            len,
            chunks,
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Chunks the guest wrote (each holds `CHUNK` bytes of memory, or less for the last).
    pub fn written_chunks(&self) -> usize {
        self.chunks.iter().filter(|c| c.is_some()).count()
    }

    fn chunk_len(&self, i: usize) -> usize {
        (self.len - (i * CHUNK) as u64).min(CHUNK as u64) as usize
    }

    /// Reads `buf.len()` bytes at `offset`; the range must lie inside the disk. An error is
    /// the source's (a host file that shrank or failed under the run).
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut done = 0;
        while done < buf.len() {
            let pos = offset + done as u64;
            let (i, at) = ((pos / CHUNK as u64) as usize, (pos % CHUNK as u64) as usize);
            let n = (CHUNK - at).min(buf.len() - done);
            match &self.chunks[i] {
                Some(c) => buf[done..done + n].copy_from_slice(&c[at..at + n]),
                None => self.source.read_at(pos, &mut buf[done..done + n])?,
            }
            done += n;
        }
        Ok(())
    }

    /// Writes `data` at `offset` (inside the disk) into the overlay.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset.checked_add(data.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut done = 0;
        while done < data.len() {
            let pos = offset + done as u64;
            let (i, at) = ((pos / CHUNK as u64) as usize, (pos % CHUNK as u64) as usize);
            let n = (CHUNK - at).min(data.len() - done);
            if self.chunks[i].is_none() {
                let mut c = vec![0; self.chunk_len(i)];
                self.source.read_at((i * CHUNK) as u64, &mut c)?;
                self.chunks[i] = Some(Arc::new(c));
            }
            let c = self.chunks[i].as_mut().expect("chunk filled above");
            Arc::make_mut(c)[at..at + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        Ok(())
    }

    /// Streams the whole disk (source and overlay) to `w`, one chunk at a time.
    pub fn write_to(&self, w: &mut dyn io::Write) -> io::Result<()> {
        let mut buf = vec![0; CHUNK];
        for i in 0..self.chunks.len() {
            let n = self.chunk_len(i);
            self.read((i * CHUNK) as u64, &mut buf[..n])?;
            w.write_all(&buf[..n])?;
        }
        Ok(())
    }

    /// The whole disk in memory (tests and small images).
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut v = Vec::with_capacity(self.len as usize);
        self.write_to(&mut v)?;
        Ok(v)
    }
}

impl Default for Disk {
    fn default() -> Self {
        Disk::from_vec(Vec::new())
    }
}

/// Same length and same bytes (read through both; unreadable disks are unequal).
impl PartialEq for Disk {
    fn eq(&self, other: &Self) -> bool {
        if self.len != other.len {
            return false;
        }
        let (mut a, mut b) = (vec![0; CHUNK], vec![0; CHUNK]);
        (0..self.chunks.len()).all(|i| {
            let n = self.chunk_len(i);
            let off = (i * CHUNK) as u64;
            let same_chunk = match (&self.chunks[i], &other.chunks[i]) {
                (Some(x), Some(y)) => Arc::ptr_eq(x, y),
                (None, None) => Arc::ptr_eq(&self.source, &other.source),
                _ => false,
            };
            same_chunk
                || (self.read(off, &mut a[..n]).is_ok()
                    && other.read(off, &mut b[..n]).is_ok()
                    && a[..n] == b[..n])
        })
    }
}

impl Eq for Disk {}

/// The size and the overlay only: printing the machine does not dump the disk.
impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Disk({} bytes, {} chunks written)",
            self.len,
            self.written_chunks()
        )
    }
}

impl From<Vec<u8>> for Disk {
    fn from(v: Vec<u8>) -> Disk {
        Disk::from_vec(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A source that counts the bytes read from it, to show what is never read.
    struct Counting(Vec<u8>, AtomicUsize);
    impl DiskSource for Counting {
        fn len(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            self.1.fetch_add(buf.len(), Ordering::Relaxed);
            let o = offset as usize;
            buf.copy_from_slice(&self.0[o..o + buf.len()]);
            Ok(())
        }
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn reads_only_what_is_asked_and_writes_copy_one_chunk() {
        let src = Arc::new(Counting(pattern(10 * CHUNK + 512), AtomicUsize::new(0)));
        let mut d = Disk::from_source(src.clone());
        let mut s = [0u8; 512];
        d.read(3 * CHUNK as u64 + 512, &mut s).unwrap();
        assert_eq!(&s[..], &src.0[3 * CHUNK + 512..3 * CHUNK + 1024]);
        assert_eq!(src.1.load(Ordering::Relaxed), 512);
        // A write across a chunk boundary copies the two chunks it touches, no more.
        d.write(2 * CHUNK as u64 - 256, &[0xAB; 512]).unwrap();
        assert_eq!(d.written_chunks(), 2);
        assert_eq!(src.1.load(Ordering::Relaxed), 512 + 2 * CHUNK);
        let mut back = [0u8; 1024];
        d.read(2 * CHUNK as u64 - 512, &mut back).unwrap();
        assert_eq!(&back[..256], &src.0[2 * CHUNK - 512..2 * CHUNK - 256]);
        assert_eq!(&back[256..768], &[0xAB; 512][..]);
        assert_eq!(&back[768..], &src.0[2 * CHUNK + 256..2 * CHUNK + 512]);
        // The short last chunk is written and streamed with its own length.
        d.write(10 * CHUNK as u64, &[1; 512]).unwrap();
        let all = d.to_vec().unwrap();
        assert_eq!(all.len(), 10 * CHUNK + 512);
        assert_eq!(&all[10 * CHUNK..], &[1; 512][..]);
        assert_eq!(&all[..CHUNK], &src.0[..CHUNK]);
    }

    #[test]
    fn clones_share_chunks_until_one_writes() {
        let mut a = Disk::from_vec(pattern(4 * CHUNK));
        a.write(0, b"first").unwrap();
        let b = a.clone();
        a.write(1, b"X").unwrap();
        let (mut x, mut y) = ([0u8; 5], [0u8; 5]);
        a.read(0, &mut x).unwrap();
        b.read(0, &mut y).unwrap();
        assert_eq!((&x, &y), (b"fXrst", b"first"));
        assert_ne!(a, b);
        let c = b.clone();
        assert_eq!(b, c);
        assert_eq!(Disk::from_vec(pattern(100)), Disk::from_vec(pattern(100)));
    }

    #[test]
    fn ranges_outside_the_disk_are_errors_not_panics() {
        let mut d = Disk::from_vec(vec![0; 1024]);
        let mut buf = [0u8; 512];
        assert!(d.read(1000, &mut buf).is_err());
        assert!(d.read(u64::MAX - 10, &mut buf).is_err());
        assert!(d.write(600, &buf).is_err());
        assert!(d.write(u64::MAX, &buf).is_err());
        assert!(d.read(512, &mut buf).is_ok());
    }
}
