//! Unit tests of the ATA channel: one device (IDENTIFY, PIO reads and writes, errors,
//! device control and reset) and master/slave selection (ATA/ATAPI-6 9.16.1 for an
//! absent slave).

use super::drive::*;
use super::*;

/// The whole disk, guest writes included.
fn img(a: &Ata) -> Vec<u8> {
    a.disk().to_vec().unwrap()
}

/// A source that fails every read: a host file that broke under the run.
struct Broken;
impl crate::devices::disk::DiskSource for Broken {
    fn len(&self) -> u64 {
        8 * SECTOR as u64
    }
    fn read_at(&self, _: u64, _: &mut [u8]) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Other.into())
    }
}

#[test]
fn a_failing_source_is_a_device_error_not_a_panic() {
    let mut a = Ata::new(Disk::from_source(std::sync::Arc::new(Broken)));
    lba_command(&mut a, 0x20, 2, 1); // READ SECTORS
    assert_eq!(a.status() & (ERR | DRQ), ERR);
    assert_eq!(a.read(0x1F1), UNC);
    lba_command(&mut a, 0x30, 3, 1); // WRITE SECTORS: the chunk must be read first
    for _ in 0..256 {
        a.write_data(0x1234);
    }
    assert_eq!(a.read(0x1F1), ABRT);
    assert!(!a.dirty());
}

fn disk(sectors: usize) -> Ata {
    let mut image = vec![0u8; sectors * SECTOR];
    for (i, b) in image.iter_mut().enumerate() {
        *b = (i / SECTOR) as u8 ^ (i as u8);
    }
    Ata::new(image)
}

fn lba_command(a: &mut Ata, cmd: u8, lba: u32, count: u8) {
    a.write(0x1F6, 0xE0 | (lba >> 24) as u8);
    a.write(0x1F2, count);
    a.write(0x1F3, lba as u8);
    a.write(0x1F4, (lba >> 8) as u8);
    a.write(0x1F5, (lba >> 16) as u8);
    a.write(0x1F7, cmd);
}

fn read_words(a: &mut Ata, n: usize) -> Vec<u8> {
    (0..n).flat_map(|_| a.read_data().to_le_bytes()).collect()
}

#[test]
fn identify_contents() {
    let mut a = disk(2048 * 10); // 10 MiB
    a.write(0x1F7, 0xEC);
    assert_eq!(a.read(0x3F6), DRDY | DSC | DRQ);
    assert!(a.irq_level());
    assert_eq!(a.read(0x1F7) & DRQ, DRQ);
    assert!(!a.irq_level());
    let id = read_words(&mut a, 256);
    assert_eq!(a.read(0x1F7), DRDY | DSC);
    let word = |i: usize| u16::from_le_bytes([id[i * 2], id[i * 2 + 1]]);
    let text = |from: usize, to: usize| -> String {
        (from..to)
            .flat_map(|i| word(i).to_be_bytes())
            .map(|b| b as char)
            .collect()
    };
    assert_eq!(text(27, 47).trim_end(), "TRAPLAB HARDDISK");
    assert_eq!(text(10, 20).trim_end(), "TL0000000001");
    assert_eq!((word(1), word(3), word(6)), (20, 16, 63));
    assert_eq!(word(60) as u32 | (word(61) as u32) << 16, 20480);
    assert_ne!(word(49) & 0x0200, 0);
    assert_eq!(word(255) & 0xFF, 0xA5);
    assert_eq!(id.iter().fold(0u8, |s, &b| s.wrapping_add(b)), 0);
}

#[test]
fn read_write_round_trip_lba_and_chs() {
    let mut a = disk(100);
    lba_command(&mut a, 0x20, 5, 2);
    assert!(a.irq_level());
    let first = read_words(&mut a, 256);
    assert_eq!(&first[..], &img(&a)[5 * SECTOR..6 * SECTOR]);
    assert_eq!(a.read(0x1F7), DRDY | DSC | DRQ); // second sector ready, IRQ again
    let second = read_words(&mut a, 256);
    assert_eq!(&second[..], &img(&a)[6 * SECTOR..7 * SECTOR]);
    assert_eq!(a.read(0x1F7), DRDY | DSC);
    assert!(!a.irq_level());

    lba_command(&mut a, 0x30, 7, 2);
    assert!(!a.irq_level()); // no interrupt before the first block
    for i in 0..512u16 {
        a.write_data(i);
    }
    assert!(a.dirty());
    assert!(a.irq_level());
    assert_eq!(a.read(0x1F7), DRDY | DSC);
    assert_eq!(&img(&a)[7 * SECTOR..7 * SECTOR + 4], &[0, 0, 1, 0]);
    assert_eq!(&img(&a)[8 * SECTOR..8 * SECTOR + 2], &[0, 1]);

    // CHS: cylinder 0, head 0, sector 8 is LBA 7.
    a.write(0x1F6, 0xA0);
    a.write(0x1F2, 1);
    a.write(0x1F3, 8);
    a.write(0x1F4, 0);
    a.write(0x1F5, 0);
    a.write(0x1F7, 0x20);
    assert_eq!(a.read_data(), 0x0000);
    assert_eq!(a.read_data(), 0x0001);
}

#[test]
fn read_and_write_multiple() {
    let mut a = disk(64);
    a.write(0x1F2, 4);
    a.write(0x1F7, 0xC6);
    assert_eq!(a.read(0x1F7), DRDY | DSC);
    lba_command(&mut a, 0xC4, 0, 6);
    let block = read_words(&mut a, 4 * 256);
    assert_eq!(&block[..], &img(&a)[..4 * SECTOR]);
    assert_eq!(a.read(0x1F7) & DRQ, DRQ);
    let rest = read_words(&mut a, 2 * 256);
    assert_eq!(&rest[..], &img(&a)[4 * SECTOR..6 * SECTOR]);
    assert_eq!(a.read(0x1F7), DRDY | DSC);
}

#[test]
fn out_of_range_and_unknown_commands() {
    let mut a = disk(10);
    lba_command(&mut a, 0x20, 9, 2);
    // Sector 9 exists, sector 10 does not.
    read_words(&mut a, 256);
    assert_eq!(a.read(0x1F7), DRDY | DSC | ERR);
    assert_eq!(a.read(0x1F1), IDNF);
    assert_eq!(a.read(0x1F3), 10);
    lba_command(&mut a, 0x30, 10, 1);
    assert_eq!(a.read(0x1F7) & (ERR | DRQ), ERR);
    assert_eq!(a.read(0x1F1), IDNF);
    assert!(!a.dirty());
    a.write(0x1F7, 0xB0); // SMART: not supported
    assert_eq!(a.read(0x1F1), ABRT);
    assert_eq!(a.read(0x1F7), DRDY | DSC | ERR);
    // CHS sector 0 is not an address.
    a.write(0x1F6, 0xA0);
    a.write(0x1F3, 0);
    a.write(0x1F7, 0x20);
    assert_eq!(a.read(0x1F1), IDNF);
}

#[test]
fn odd_sized_images() {
    for len in [0, 100, 513] {
        let mut a = Ata::new(vec![0; len]);
        assert_eq!(a.sectors(), (len / SECTOR) as u32);
        a.write(0x1F7, 0xEC);
        assert_eq!(read_words(&mut a, 256).len(), 512);
        lba_command(&mut a, 0x20, 1, 1);
        assert_eq!(a.read(0x1F1), IDNF);
        lba_command(&mut a, 0x30, 0, 0);
        for _ in 0..256 * 256 {
            a.write_data(0xFFFF);
        }
        assert_eq!(img(&a).len(), len);
    }
}

#[test]
fn clones_share_the_image_until_written() {
    let mut a = disk(4);
    let snapshot = a.clone();
    lba_command(&mut a, 0x30, 0, 1);
    for _ in 0..256 {
        a.write_data(0xBEEF);
    }
    assert_eq!(&img(&a)[..2], &[0xEF, 0xBE]);
    assert_eq!(img(&snapshot), img(&disk(4)));
    assert!(!snapshot.dirty());
    assert_eq!(snapshot.master().disk().len(), 4 * SECTOR as u64);
    assert!(format!("{a:?}").contains("Disk(2048 bytes, 1 chunks written)"));
}

#[test]
fn device_control_slave_and_reset() {
    let mut a = disk(10);
    a.write(0x3F6, 0x02); // nIEN
    a.write(0x1F7, 0xE7);
    assert!(!a.irq_level());
    a.write(0x3F6, 0x00);
    assert!(a.irq_level());
    a.write(0x1F6, 0xB0); // slave
    assert_eq!(a.read(0x1F7), 0x00);
    assert_eq!(a.read(0x3F6), 0x00);
    assert!(!a.irq_level());
    a.write(0x1F6, 0xA0);
    a.write(0x3F6, 0x04);
    assert_eq!(a.read(0x3F6), BSY);
    a.write(0x3F6, 0x00);
    assert_eq!(a.read(0x1F7), DRDY | DSC);
    assert_eq!((a.read(0x1F2), a.read(0x1F3), a.read(0x1F4)), (1, 1, 0));
    assert_eq!(a.read(0x1F1), 0x01);
}

/// Two disks whose sectors differ: byte i of the master's sector s is s ^ i, the slave's
/// is !(s ^ i).
fn pair(master: usize, slave: usize) -> Ata {
    let img = |n: usize, invert: bool| -> Vec<u8> {
        (0..n * SECTOR)
            .map(|i| {
                let b = (i / SECTOR) as u8 ^ (i as u8);
                if invert {
                    !b
                } else {
                    b
                }
            })
            .collect()
    };
    Ata::with_slave(img(master, false), img(slave, true))
}

fn identify_sectors(a: &mut Ata) -> u32 {
    a.write(0x1F7, 0xEC);
    let id = read_words(a, 256);
    u32::from_le_bytes([id[120], id[121], id[122], id[123]])
}

/// The DEV bit picks the device that executes a command and answers: each reads its own
/// disk, IDENTIFY gives each one's size, and only the selected device drives INTRQ.
#[test]
fn dev_bit_selects_master_or_slave() {
    let mut a = pair(20, 50);
    assert_eq!(identify_sectors(&mut a), 20);
    a.write(0x1F6, 0xB0);
    assert_eq!(a.read(0x1F7), DRDY | DSC, "a present slave is ready");
    assert_eq!(identify_sectors(&mut a), 50);
    // READ SECTORS on the slave, LBA 3 (0xF0: LBA mode, DEV = 1).
    a.write(0x1F6, 0xF0);
    a.write(0x1F2, 1);
    a.write(0x1F3, 3);
    a.write(0x1F4, 0);
    a.write(0x1F5, 0);
    a.write(0x1F7, 0x20);
    assert!(a.irq_level());
    let s = read_words(&mut a, 256);
    assert_eq!(s[0..2], [!3u8, !(3 ^ 1)]);
    assert_eq!(
        &s[..],
        &a.slave().unwrap().disk().to_vec().unwrap()[3 * SECTOR..4 * SECTOR]
    );
    assert_eq!(
        a.read(0x1F7),
        DRDY | DSC,
        "reading the status acknowledges the interrupt"
    );
    assert!(!a.irq_level());
    // A pending slave interrupt is not the master's: selecting the master hides it.
    lba_command(&mut a, 0x20, 0, 1); // 0xE0: master, LBA 0
    assert!(a.irq_level());
    a.write(0x1F6, 0xF0);
    assert!(!a.irq_level(), "the slave has nothing pending");
    a.write(0x1F6, 0xE0);
    assert!(a.irq_level(), "the master still has");
    assert_eq!(read_words(&mut a, 1), vec![0, 1]);
    // Writes go to the selected device only.
    a.write(0x1F6, 0xF0);
    a.write(0x1F2, 1);
    a.write(0x1F3, 7);
    a.write(0x1F7, 0x30);
    for _ in 0..256 {
        a.write_data(0xABCD);
    }
    assert!(a.slave().unwrap().dirty() && !a.master().dirty());
    assert!(a.dirty());
    assert_eq!(
        a.slave().unwrap().disk().to_vec().unwrap()[7 * SECTOR],
        0xCD
    );
}

/// ATA-6 9.16.1: with no device 1, selecting it reads status 00h on both status ports (no
/// BSY, no DRDY: a probing driver sees nothing), its commands do nothing, and no IRQ.
#[test]
fn an_absent_slave_reads_as_no_device() {
    let mut a = Ata::new(vec![0u8; 10 * SECTOR]);
    a.write(0x1F6, 0xB0);
    assert_eq!((a.read(0x1F7), a.read(0x3F6)), (0x00, 0x00));
    a.write(0x1F7, 0xEC);
    assert_eq!(a.read(0x1F7), 0x00);
    assert!(!a.irq_level());
    assert_eq!(a.read_data(), 0);
    // The written registers read back (device 0 latched them), the DEV bit included.
    a.write(0x1F2, 0x55);
    assert_eq!((a.read(0x1F2), a.read(0x1F6)), (0x55, 0xB0));
    a.write(0x1F6, 0xA0);
    assert_eq!(a.read(0x1F7), DRDY | DSC, "the master was not disturbed");
}

/// SRST resets both devices (the signature in each, device 0 selected after it);
/// EXECUTE DEVICE DIAGNOSTIC runs on both whichever is selected and device 0 reports.
#[test]
fn reset_and_diagnostic_reach_both_devices() {
    let mut a = pair(10, 10);
    a.write(0x1F6, 0xB0);
    a.write(0x1F2, 9);
    a.write(0x3F6, 0x04);
    assert_eq!(a.read(0x3F6), BSY, "the slave is busy in reset too");
    a.write(0x3F6, 0x00);
    assert_eq!(a.read(0x1F6) & 0x10, 0, "device 0 selected after reset");
    for dev in [0xA0, 0xB0] {
        a.write(0x1F6, dev);
        assert_eq!(a.read(0x1F7), DRDY | DSC);
        assert_eq!((a.read(0x1F2), a.read(0x1F3), a.read(0x1F1)), (1, 1, 0x01));
    }
    a.write(0x1F6, 0xB0);
    a.write(0x1F7, 0x90);
    assert_eq!(a.read(0x1F6) & 0x10, 0, "device 0 reports");
    assert!(a.irq_level());
    assert_eq!(a.read(0x1F1), 0x01);
}
