//! Halted CPUs (issue 19, item 1): a HLT that nothing can end is reported with its reason
//! (interrupts off, every IRQ masked, an IRQ in service that was never acknowledged), and a
//! halt that some device may still end counts against the run's budget in ticks, so a run
//! always ends. The guests are boot sectors started by the built-in BIOS, which leaves the
//! PIT ticking at 18.2 Hz, as on a PC.

use traplab::boot::{boot, BootKind};
use traplab::machine::{Halt, Machine, MachineConfig, RunExit};
use traplab::snapshot::{restore, save, state_hash};

/// The reproducer: an IRQ0 handler that IRETs without an EOI, then `sti; hlt`.
const NO_EOI: &[u8] = &[
    0xFA, // 7C00 cli
    0x31, 0xC0, // 7C01 xor ax,ax
    0x8E, 0xD8, // 7C03 mov ds,ax
    0xC7, 0x06, 0x20, 0x00, 0x19, 0x7C, // 7C05 mov word [0x20],7C19h  (IVT 8: IRQ0)
    0xC7, 0x06, 0x22, 0x00, 0x00, 0x00, // 7C0B mov word [0x22],0
    0xB0, 0xFE, // 7C11 mov al,0FEh
    0xE6, 0x21, // 7C13 out 21h,al         (only IRQ0 unmasked)
    0xFB, // 7C15 sti
    0xF4, // 7C16 hlt
    0xEB, 0xFD, // 7C17 jmp 7C16
    0xCF, // 7C19 iret                      (no EOI)
];

/// The same guest with a handler that counts ticks at 0000:0500 and sends the EOI.
const WITH_EOI: &[u8] = &[
    0xFA, 0x31, 0xC0, 0x8E, 0xD8, 0xC7, 0x06, 0x20, 0x00, 0x19, 0x7C, 0xC7, 0x06, 0x22, 0x00, 0x00,
    0x00, 0xB0, 0xFE, 0xE6, 0x21, 0xFB, 0xF4, 0xEB, 0xFD, //
    0xFF, 0x06, 0x00, 0x05, // 7C19 inc word [0x500]
    0xB0, 0x20, // 7C1D mov al,20h
    0xE6, 0x20, // 7C1F out 20h,al             (EOI)
    0xCF, // 7C21 iret
];

/// Every IRQ masked at both PICs, then `sti; hlt`.
const ALL_MASKED: &[u8] = &[
    0xFA, // cli
    0xB0, 0xFF, // mov al,0FFh
    0xE6, 0x21, // out 21h,al
    0xE6, 0xA1, // out 0A1h,al
    0xFB, // sti
    0xF4, // hlt
    0xEB, 0xFD, // jmp hlt
];

/// `cli; hlt`.
const IF_OFF: &[u8] = &[0xFA, 0xF4, 0xEB, 0xFD];

fn boot_sector(code: &[u8]) -> Machine {
    let mut img = code.to_vec();
    img.resize(510, 0);
    img.extend_from_slice(&[0x55, 0xAA]);
    boot(MachineConfig::default(), &img, &BootKind::Disk).expect("boots")
}

#[test]
fn a_timer_never_acknowledged_is_a_final_halt_with_its_reason() {
    let mut m = boot_sector(NO_EOI);
    // Before: the halted CPU skipped from PIT event to PIT event, and the run ended only
    // with its budget (or never, for the CLI's instruction count).
    assert_eq!(m.run(10_000_000_000), RunExit::Halted);
    let h = m.halt_reason().expect("a reason");
    assert_eq!(
        h,
        Halt::InService {
            blocked_by: 1,
            unmasked: 1
        }
    );
    let text = h.to_string();
    assert!(
        text.contains("IRQ0 is in service and never acknowledged"),
        "{text}"
    );
    assert!(!text.contains("disabled"), "{text}");
    // One IRQ0 was taken (the first wait was legitimate), then nothing more retires.
    let ic = m.icount();
    assert!(ic > 10 && ic < 100, "{ic}");
    assert_eq!(m.run(1_000_000), RunExit::Halted);
    assert_eq!(m.icount(), ic);
}

#[test]
fn every_irq_masked_is_not_reported_as_interrupts_disabled() {
    let mut m = boot_sector(ALL_MASKED);
    assert_eq!(m.run(1_000_000), RunExit::Halted);
    let h = m.halt_reason().expect("a reason");
    assert_eq!(
        h,
        Halt::AllMasked {
            master_imr: 0xFF,
            slave_imr: 0xFF
        }
    );
    let text = h.to_string();
    assert!(text.starts_with("interrupts enabled"), "{text}");
    assert!(text.contains("every IRQ is masked"), "{text}");

    let mut m = boot_sector(IF_OFF);
    assert_eq!(m.run(1_000_000), RunExit::Halted);
    assert_eq!(m.halt_reason(), Some(Halt::InterruptsDisabled));
    assert!(m.halt_reason().unwrap().to_string().contains("IF=0"));
}

#[test]
fn a_healthy_idle_loop_is_not_a_final_halt_and_its_wait_is_bounded() {
    let mut m = boot_sector(WITH_EOI);
    let idle0 = m.core.idle_ticks;
    let r = m.run_limited(u64::MAX / 2, 20_000_000);
    assert_eq!(r, RunExit::Budget);
    assert_eq!(m.halt_reason(), None);
    // The wait ends at the first PIT event at or past the limit (18.2 Hz: ~5.5 M ticks).
    let waited = m.core.idle_ticks - idle0;
    assert!((20_000_000..26_000_000).contains(&waited), "{waited}");
    let ticks = m.core.mem.ram[0x500];
    assert!((3..=5).contains(&ticks), "{ticks} timer interrupts");
}

#[test]
fn halted_runs_do_not_depend_on_slicing() {
    let mut a = boot_sector(WITH_EOI);
    let mut b = a.clone();
    let target = a.icount() + 5_000;
    assert_eq!(a.run_limited(5_000, u64::MAX), RunExit::Budget);
    assert_eq!(a.icount(), target);
    let mut calls = 0;
    while b.icount() < target {
        assert_eq!(b.run((target - b.icount()).min(97)), RunExit::Budget);
        calls += 1;
    }
    assert!(calls > 100, "{calls}");
    assert_eq!(b.icount(), target);
    assert_eq!(state_hash(&a), state_hash(&b));
}

#[test]
fn a_snapshot_with_every_irq_in_service_halts_for_good() {
    // A healthy idle guest, saved with the master PIC's in-service register at 0xFF (as a
    // hand-edited or hostile snapshot could have it).
    let mut m = boot_sector(WITH_EOI);
    assert_eq!(m.run(1_000), RunExit::Budget);
    let mut pic = serde_json::to_value(&m.core.dev.pic).expect("pic as json");
    pic["master"]["isr"] = 0xFF.into();
    m.core.dev.pic = serde_json::from_value(pic).expect("pic from json");
    let mut r = restore(&save(&m)).expect("restores");
    assert_eq!(r.core.dev.pic.master.isr(), 0xFF);
    assert_eq!(r.run(10_000_000_000), RunExit::Halted);
    let h = r.halt_reason().expect("a reason");
    assert_eq!(
        h,
        Halt::InService {
            blocked_by: 1,
            unmasked: 1
        }
    );
}

/// A #UD handler that is itself UD2: every delivery faults again before an instruction
/// retires, so the instruction budget alone would never end the run (found by the SVM
/// proptest with random VMCBs; host real mode has the same hole). The stack is in its own
/// segment, so the pushes of the deliveries never reach the IVT.
const UD_LOOP: &[u8] = &[
    0xFA, // 7C00 cli
    0x31, 0xC0, // 7C01 xor ax,ax
    0x8E, 0xD8, // 7C03 mov ds,ax
    0xC7, 0x06, 0x18, 0x00, 0x18, 0x7C, // 7C05 mov word [0x18],7C18h (IVT 6: #UD)
    0xC7, 0x06, 0x1A, 0x00, 0x00, 0x00, // 7C0B mov word [0x1A],0
    0xB8, 0x00, 0x10, // 7C11 mov ax,1000h
    0x8E, 0xD0, // 7C14 mov ss,ax
    0x0F, 0x0B, // 7C16 ud2
    0x0F, 0x0B, // 7C18 ud2 (the handler)
];

#[test]
fn a_handler_that_faults_forever_ends_the_run_as_stuck() {
    let mut m = boot_sector(UD_LOOP);
    let before = m.icount();
    let t = std::time::Instant::now();
    // Before: this call never returned (no instruction retires, the budget is never met).
    assert_eq!(m.run(1_000), RunExit::Halted);
    assert!(t.elapsed().as_secs() < 30);
    assert_eq!(
        m.icount() - before,
        7,
        "the setup retires, then nothing does"
    );
    assert_eq!(
        m.halt_reason(),
        Some(Halt::Stuck {
            vector: 6,
            eip: 0x7C18
        })
    );
    let why = m.halt_reason().unwrap().to_string();
    assert!(why.contains("#UD") && why.contains("0x00007c18"), "{why}");
    // One instruction at a time (the GUI's step) ends the same way.
    let mut m = boot_sector(UD_LOOP);
    let mut steps = 0;
    while m.step() != RunExit::Halted {
        steps += 1;
        assert!(steps < 200_000, "stepping never ends");
    }
    // A handler that makes progress is never judged stuck: a #UD handler that skips the
    // UD2 and returns, 200,000 times.
    let mut fine = UD_LOOP[..22].to_vec();
    fine.extend_from_slice(&[
        0x0F, 0x0B, // 7C16 ud2
        0xEB, 0xFC, // 7C18 jmp 7C16
        0x55, // 7C1A push bp (the handler)
        0x89, 0xE5, // 7C1B mov bp,sp
        0x83, 0x46, 0x02, 0x02, // 7C1D add word [bp+2],2
        0x5D, // 7C21 pop bp
        0xCF, // 7C22 iret
    ]);
    fine[9] = 0x1A;
    let mut m = boot_sector(&fine);
    assert_eq!(m.run(1_200_000), RunExit::Budget);
    assert_eq!(m.halt_reason(), None);
}
