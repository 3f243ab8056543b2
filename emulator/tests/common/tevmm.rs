//! tevmm (samples/tevmm/) with a hand-made guest: the guest kernel as a one-segment ELF
//! module at 1 MiB, run at ring 1 under the monitor, optionally after loading its own GDT and
//! IDT (`guest_with_tables`). Shared by `robustness_tevmm.rs` and `tevmm_guest.rs`.

use super::Asm;
use std::path::Path;
use traplab::boot::multiboot::Module;
use traplab::boot::{boot, BootKind};
use traplab::machine::{Machine, MachineConfig};

/// A 32-bit ELF file with one PT_LOAD segment holding `code` at 1 MiB, entered there.
pub fn elf(code: &[u8]) -> Vec<u8> {
    let mut e = vec![0u8; 84];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 1; // 32-bit
    e[5] = 1; // little-endian
    e[6] = 1;
    e[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e[18..20].copy_from_slice(&3u16.to_le_bytes()); // EM_386
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[24..28].copy_from_slice(&0x10_0000u32.to_le_bytes()); // entry
    e[28..32].copy_from_slice(&52u32.to_le_bytes()); // phoff
    e[40..42].copy_from_slice(&52u16.to_le_bytes()); // ehsize
    e[42..44].copy_from_slice(&32u16.to_le_bytes()); // phentsize
    e[44..46].copy_from_slice(&1u16.to_le_bytes()); // phnum
    let ph = [
        1u32,              // PT_LOAD
        84,                // offset
        0x10_0000,         // vaddr
        0x10_0000,         // paddr
        code.len() as u32, // filesz
        0x1000,            // memsz
        7,                 // RWX
        0x1000,
    ];
    for (i, w) in ph.iter().enumerate() {
        e[52 + 4 * i..56 + 4 * i].copy_from_slice(&w.to_le_bytes());
    }
    e.extend_from_slice(code);
    e
}

pub fn tevmm_image() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/tevmm/tevmm.elf"))
        .expect("samples/tevmm/tevmm.elf")
}

/// tevmm booted with `code` as its guest (the Popek-Goldberg switch as given), not yet run.
pub fn machine(code: &[u8], pg: bool) -> Machine {
    let kind = BootKind::Multiboot {
        cmdline: String::new(),
        modules: vec![Module {
            data: elf(code),
            string: "guest".into(),
        }],
    };
    let mut m = boot(MachineConfig::default(), &tevmm_image(), &kind).expect("boot");
    m.set_popek_goldberg(pg);
    m
}
/// A guest at 1 MiB with tables: it loads a GDT (null, flat code 0x08 and data 0x10 at
/// DPL 0) and an IDT whose 32 exception gates run one handler, moves to its own segments,
/// then runs `last`. The handler stores the three words on top of its stack (for #GP: the
/// error code, EIP and CS) at RESULT and halts.
pub const ORG: u32 = 0x10_0000;
pub const RESULT: u32 = ORG + 0xB00;

pub fn guest_with_tables(last: impl Fn(&mut Asm)) -> (Vec<u8>, u32) {
    let (gdt, gdtr, idtr, idt) = (ORG + 0x800, ORG + 0x900, ORG + 0x908, ORG + 0xA00);
    let mut a = Asm::new32(ORG);
    let mut b = gdtr.to_le_bytes().to_vec();
    a.i(
        &[&[0x0F, 0x01, 0x15][..], &b].concat(),
        &format!("lgdt [{gdtr:#x}]"),
    );
    b = idtr.to_le_bytes().to_vec();
    a.i(
        &[&[0x0F, 0x01, 0x1D][..], &b].concat(),
        &format!("lidt [{idtr:#x}]"),
    );
    let next = a.here() + 7;
    a.jmp_far(0x08, next);
    a.load_sreg("ss", 0x10)
        .load_sreg("ds", 0x10)
        .load_sreg("es", 0x10);
    a.mov_r32(4, 0x7000);
    last(&mut a);
    let at = a.here() - 1; // the iretd or retf, one byte, last
    let handler = a.here();
    for k in 0..3 {
        a.i(&[0x58], "pop eax");
        a.store_eax(RESULT + 4 * k);
    }
    a.hlt();
    let mut code = a.bytes.clone();
    code.resize(0xB00, 0);
    let put = |code: &mut Vec<u8>, at: u32, v: u64| {
        let o = (at - ORG) as usize;
        code[o..o + 8].copy_from_slice(&v.to_le_bytes());
    };
    put(&mut code, gdt + 8, 0x00CF_9A00_0000_FFFF);
    put(&mut code, gdt + 16, 0x00CF_9200_0000_FFFF);
    put(&mut code, gdtr, 0x17 | (gdt as u64) << 16);
    put(&mut code, idtr, (32 * 8 - 1) | (idt as u64) << 16);
    let gate =
        (handler & 0xFFFF) as u64 | 0x08 << 16 | 0x8E00 << 32 | ((handler >> 16) as u64) << 48;
    for v in 0..32 {
        put(&mut code, idt + 8 * v, gate);
    }
    (code, at)
}
