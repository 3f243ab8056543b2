//! The inspection API against machine states whose values are known: the reset state
//! (SDM Vol. 3A Table 9-1), a small real-mode program with hand-computed results, and
//! hand-built page tables.

use super::*;
use crate::cpu::state::{EAX, ESP};
use crate::machine::{MachineConfig, RunExit};
use crate::mmu::segment::{Seg, CS, DS, SS};
use crate::trace::EventKind;

fn machine() -> Machine {
    Machine::new(MachineConfig {
        ram_bytes: 1 << 20,
        ..Default::default()
    })
}

/// A machine in real mode about to run `code` at 0000:7C00.
fn real_mode(code: &[u8]) -> Machine {
    let mut m = machine();
    assert!(m.core.mem.load(0x7C00, code));
    m.core.cpu.seg[CS] = Seg::real(0);
    m.core.cpu.eip = 0x7C00;
    m
}

#[test]
fn reset_state_is_the_manuals() {
    let m = machine();
    let i = m.inspect();
    assert_eq!(i.world(), World::Host);
    let c = i.cpu();
    assert_eq!(c.world, World::Host);
    assert_eq!(c.mode, CpuMode::Real);
    assert_eq!(c.mode.name(), "real");
    assert_eq!(c.eip, 0xFFF0);
    assert_eq!(c.seg[CS].selector, 0xF000);
    assert_eq!(c.seg[CS].base, 0xFFFF_0000);
    assert_eq!(c.pc(), 0xFFFF_FFF0);
    assert_eq!(i.pc(), 0xFFFF_FFF0);
    assert_eq!(c.eflags, 0x0000_0002);
    assert_eq!(c.control.cr0, 0x6000_0010);
    assert!(!c.control.protection() && !c.control.paging());
    assert_eq!(c.dr[6], 0xFFFF_0FF0);
    assert_eq!(c.dr[7], 0x400);
    assert_eq!(c.gpr[2], 0x600, "EDX holds the family");
    assert_eq!(c.msr.apic_base, 0xFEE0_0900);
    assert_eq!(c.idtr.limit, 0xFFFF);
    assert!(!c.halted && !c.interrupt_shadow);
    let mmu = i.mmu();
    assert_eq!(mmu.paging, PagingMode::Off);
    assert!(mmu.a20);
    assert_eq!(i.counters().icount, 0);
    assert_eq!(i.events().total(), 0);
    assert!(i.events().is_empty());
    // The FPU after RESET (SDM Vol. 3A Table 9-1): CW 0040H, SW 0, TW 5555H (all +0.0).
    let f = &c.fpu;
    assert_eq!((f.cw, f.sw, f.tw, f.top), (0x40, 0, 0x5555, 0));
    assert!(f
        .st
        .iter()
        .all(|r| r.tag == 1 && r.class == "zero" && r.approx == 0.0));
    assert_eq!(f.precision(), "24 bits (single)");
    assert_eq!(f.rounding(), "to nearest");
}

/// FNINIT, FLD1, FLDPI, FDIV by zero (masked: ZE set): the stack in ST order with physical
/// numbers and tags, the status word decoded.
#[test]
fn the_fpu_stack_reads_back_in_st_order() {
    let mut m = real_mode(&[
        0xDB, 0xE3, // fninit
        0xD9, 0xE8, // fld1
        0xD9, 0xEB, // fldpi
        0xD9, 0xEE, // fldz
        0xDC, 0xF9, // fdiv st(1), st(0): pi / 0 = +inf, ZE (masked)
        0xF4,
    ]);
    assert_eq!(m.run(100), RunExit::Halted);
    let f = m.inspect().cpu().fpu;
    assert_eq!(f.top, 5, "three pushes from TOP 0");
    assert_eq!(f.st[0].phys, 5);
    assert_eq!(f.st[0].class, "zero");
    assert_eq!(f.st[1].class, "infinity");
    assert_eq!(f.st[1].tag, 2);
    assert_eq!(f.st[2].approx, 1.0);
    assert_eq!(f.st[2].tag, 0);
    assert_eq!(f.st[3].tag, 3, "empty");
    assert_eq!(
        f.tw, 0x27FF,
        "R0-R4 empty (11), R5 zero (01), R6 special (10), R7 valid"
    );
    assert_eq!(FpuState::set_bits(f.sw, &EXCEPTION_BITS), ["ZE"]);
    assert_eq!(f.precision(), "64 bits (extended)");
}

#[test]
fn a_real_mode_program_reads_back() {
    let mut m = real_mode(&[
        0xB8, 0x34, 0x12, // mov ax, 0x1234
        0x05, 0xCC, 0xED, // add ax, 0xEDCC: 0x10000, so AX = 0 with CF ZF PF AF
        0xB0, 0xFB, // mov al, 0xFB
        0xE6, 0x21, // out 0x21, al: master PIC mask
        0xF4, // hlt (IF = 0: halted for good)
    ]);
    m.core.events.io = true;
    assert_eq!(m.run(100), RunExit::Halted);
    let i = m.inspect();
    let c = i.cpu();
    assert_eq!(c.gpr[EAX], 0x0000_00FB);
    assert_eq!(i.gpr(EAX), 0xFB);
    // Lazy flags materialized: bit 1 always set, CF (0), PF (2), AF (4), ZF (6).
    assert_eq!(c.eflags, 0x2 | 0x1 | 0x4 | 0x10 | 0x40);
    assert_eq!(c.eip, 0x7C0B, "EIP after the HLT");
    assert!(c.halted && i.halted());
    assert_eq!(i.counters().icount, 5);
    assert_eq!(i.icount(), 5);
    assert_eq!(i.devices().pics[0].imr, 0xFB);
    assert_eq!(i.devices().pics[0].name, "master");
    // The event log: the port write, then the halt.
    let ev = i.events();
    assert_eq!(ev.world(), World::Host);
    assert!(ev.records_io());
    let kinds: Vec<&EventKind> = ev.since(0).map(|e| &e.kind).collect();
    assert_eq!(
        kinds,
        [
            &EventKind::Io {
                write: true,
                port: 0x21,
                size: 1,
                value: 0xFB
            },
            &EventKind::Halt
        ]
    );
    assert_eq!(ev.since(ev.total() - 1).count(), 1);
    assert_eq!(ev.since(ev.total()).count(), 0);
    assert_eq!(ev.last().map(|e| &e.kind), Some(&EventKind::Halt));
    // One block decoded, so at least one decode-cache miss.
    let dc = i.decode_cache();
    assert!(dc.misses >= 1, "{dc:?}");
    assert_eq!(dc.world, World::Host);
}

#[test]
fn registers_and_hidden_segment_state_map_one_to_one() {
    let mut m = machine();
    let c = &mut m.core.cpu;
    for (k, r) in c.gpr.iter_mut().enumerate() {
        *r = 0x1111_1111 * k as u32;
    }
    c.seg[DS] = Seg {
        sel: 0x10,
        base: 0x0012_3000,
        limit: 0xFFFF_FFFF,
        attr: 0xC93, // present, DPL 0, data RW accessed, 32-bit, 4 KiB granular
        valid: true,
    };
    c.seg[SS] = Seg::real(0x2000);
    c.gpr[ESP] = 0x1234_FFF0;
    c.cr0 = 0x8000_0011 | (1 << 16);
    c.cr3 = 0x0003_0FFF;
    c.cr4 = 0x10;
    c.cr2 = 0xDEAD_B000;
    let i = m.inspect();
    let s = i.cpu();
    for k in (0..8).filter(|&k| k != ESP) {
        assert_eq!(s.gpr[k], 0x1111_1111 * k as u32);
    }
    assert_eq!(s.gpr[ESP], 0x1234_FFF0);
    assert_eq!(
        s.seg[DS],
        SegmentState {
            selector: 0x10,
            base: 0x0012_3000,
            limit: 0xFFFF_FFFF,
            attr: 0xC93,
            valid: true
        }
    );
    assert_eq!(i.segment(DS), s.seg[DS]);
    assert!(s.seg[DS].present() && s.seg[DS].big() && !s.seg[DS].is_code());
    assert_eq!(s.seg[DS].dpl(), 0);
    assert_eq!(s.seg[DS].type_bits(), 3);
    // A 16-bit stack: the top is SS base + SP only.
    assert_eq!(i.stack_top(), 0x2_0000 + 0xFFF0);
    let cr = i.control();
    assert_eq!(cr, s.control);
    assert!(cr.protection() && cr.paging() && cr.write_protect() && cr.page_size_extensions());
    assert_eq!(cr.page_directory(), 0x0003_0000);
    assert_eq!(cr.cr2, 0xDEAD_B000);
    let mmu = i.mmu();
    assert_eq!(mmu.paging, PagingMode::TwoLevel { large_pages: true });
    assert!(mmu.write_protect);
    assert_eq!(mmu.page_directory, 0x0003_0000);
}

#[test]
fn walks_and_peeks_have_no_side_effects() {
    let mut m = machine();
    const PD: u32 = 0x3_0000;
    const PT: u32 = 0x3_1000;
    // PDE 0 -> PT (present, writable, user); PTE 5 -> frame 0x8000 (present, read-only
    // user, accessed bit clear).
    let (pde, pte): (u32, u32) = (PT | 0x7, 0x8000 | 0x5);
    assert!(m.core.mem.load(PD, &pde.to_le_bytes()));
    assert!(m.core.mem.load(PT + 5 * 4, &pte.to_le_bytes()));
    assert!(m.core.mem.load(0x8123, &[0xAA, 0xBB, 0xCC, 0xDD]));
    m.core.cpu.cr3 = PD;
    m.core.cpu.cr0 |= 0x8000_0001;
    let i = m.inspect();
    let r = i.walk(0x5123, Access::READ);
    assert!(r.paging);
    assert_eq!(r.linear, 0x5123);
    assert_eq!(r.result, Ok(0x8123));
    assert_eq!(r.steps.len(), 2);
    assert_eq!(r.steps[1].entry_addr, PT + 5 * 4);
    // A user write to a read-only page: #PF with P, W/R and U/S set.
    let w = i.walk(
        0x5123,
        Access {
            write: true,
            user: true,
            fetch: false,
        },
    );
    assert_eq!(w.result, Err(0x7));
    assert_eq!(i.peek_linear(0x5123, 4), Some(vec![0xAA, 0xBB, 0xCC, 0xDD]));
    assert_eq!(i.peek_linear_u32(0x5123), Some(0xDDCC_BBAA));
    assert_eq!(i.peek_linear(0x6000, 1), None, "PTE 6 is not present");
    assert_eq!(i.peek_physical(0x8123, 2), vec![0xAA, 0xBB]);
    // Nothing above set an accessed bit or filled the TLB.
    assert_eq!(i.peek_physical(PT + 5 * 4, 4), pte.to_le_bytes());
    assert_eq!(i.peek_physical(PD, 4), pde.to_le_bytes());
    assert_eq!(i.mmu().tlb, TlbStats::default());
}

#[test]
fn only_the_host_world_exists_today() {
    let m = machine();
    assert_eq!(m.worlds(), vec![World::Host]);
    assert!(m.inspect_world(World::Host).is_some());
    assert!(m.inspect_world(World::Guest { asid: 1 }).is_none());
    assert_eq!(World::Guest { asid: 3 }.name(), "guest 3");
    assert_eq!(m.inspect().devices().world, World::Host);
    assert_eq!(m.inspect().mmu().world, World::Host);
    assert_eq!(m.inspect().counters().world, World::Host);
}

#[test]
fn rates_and_device_helpers() {
    let t = TlbStats {
        hits: 3,
        misses: 1,
        flushes: 0,
    };
    assert_eq!(t.hit_rate(), 75.0);
    assert_eq!(TlbStats::default().hit_rate(), 100.0);
    let u = UartRegs {
        ier: 0,
        lcr: 3,
        mcr: 0,
        iir: 1,
        divisor: 12,
        fifo_enabled: false,
        rx_len: 0,
        pending_input: 0,
    };
    assert_eq!(u.baud(), 9600);
    let p = PitChannelRegs {
        channel: 0,
        mode: 2,
        reload: 11_932,
    };
    assert!((p.frequency_hz() - 100.0).abs() < 0.01);
}
