//! The local APIC seen from a running guest (Intel SDM Vol. 3A chapter 11): its page at
//! 0xFEE00000, CPUID.1:EDX.APIC and IA32_APIC_BASE, the timer's interrupts taken by the CPU
//! in virtual time (11.5.4), EOI (11.8.5), HLT woken by the timer, and the APIC state across
//! a snapshot. A machine built without the APIC has none of it.

use traplab::boot::{boot, BootKind};
use traplab::devices::DevicesConfig;
use traplab::machine::{Machine, MachineConfig, RunExit};
use traplab::snapshot::{restore, save, state_hash};

/// Flat 32-bit code at 0x1000 (GNU as, linked at 0x1000):
/// ```text
/// start:  lgdt gdtr; ljmp $0x08,$reload
/// reload: mov $0x10,%ax; mov %ax,%ds; mov %ax,%ss
///         (IDT gate 0x40 -> handler, IDT at 0x3000); lidt idtr
///         movl $0x1FF, 0xFEE000F0      # SVR: software enable, spurious 0xFF
///         movl $0xB,   0xFEE003E0      # divide by 1
///         movl $0x20040, 0xFEE00320    # LVT timer: periodic, vector 0x40
///         movl $1000,  0xFEE00380      # initial count
///         sti
/// wait:   hlt; cmpl $5,count; jb wait
///         cli; mov count,%eax; out %al,$0xF4
/// handler: incl count; movl $0,0xFEE000B0 (EOI); iret
/// gdt: null, flat code 0x08, flat data 0x10
/// ```
const TIMER_GUEST: &[u8] = &[
    0x0f, 0x01, 0x15, 0xa8, 0x10, 0x00, 0x00, 0xea, 0x0e, 0x10, 0x00, 0x00, 0x08, 0x00, 0x66, 0xb8,
    0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xd0, 0xb8, 0x7e, 0x10, 0x00, 0x00, 0x66, 0xa3, 0x00, 0x32, 0x00,
    0x00, 0x66, 0xc7, 0x05, 0x02, 0x32, 0x00, 0x00, 0x08, 0x00, 0x66, 0xc7, 0x05, 0x04, 0x32, 0x00,
    0x00, 0x00, 0x8e, 0xc1, 0xe8, 0x10, 0x66, 0xa3, 0x06, 0x32, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0xae,
    0x10, 0x00, 0x00, 0xc7, 0x05, 0xf0, 0x00, 0xe0, 0xfe, 0xff, 0x01, 0x00, 0x00, 0xc7, 0x05, 0xe0,
    0x03, 0xe0, 0xfe, 0x0b, 0x00, 0x00, 0x00, 0xc7, 0x05, 0x20, 0x03, 0xe0, 0xfe, 0x40, 0x00, 0x02,
    0x00, 0xc7, 0x05, 0x80, 0x03, 0xe0, 0xfe, 0xe8, 0x03, 0x00, 0x00, 0xfb, 0xf4, 0x83, 0x3d, 0xb4,
    0x10, 0x00, 0x00, 0x05, 0x72, 0xf6, 0xfa, 0xa1, 0xb4, 0x10, 0x00, 0x00, 0xe6, 0xf4, 0xff, 0x05,
    0xb4, 0x10, 0x00, 0x00, 0xc7, 0x05, 0xb0, 0x00, 0xe0, 0xfe, 0x00, 0x00, 0x00, 0x00, 0xcf, 0x90,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x9a, 0xcf, 0x00,
    0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00, 0x17, 0x00, 0x90, 0x10, 0x00, 0x00, 0xff, 0x07,
    0x00, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
];

fn machine(apic: bool) -> Machine {
    machine_with(apic, TIMER_GUEST)
}

/// The timer guest waiting in a busy loop instead of HLT (its `sti; hlt` becomes
/// `sti; nop`): every wait is instructions, so every point in time is an instruction count.
fn busy_machine() -> Machine {
    let mut code = TIMER_GUEST.to_vec();
    let at = code
        .windows(3)
        .position(|w| w == [0xFB, 0xF4, 0x83])
        .expect("sti; hlt; cmp");
    code[at + 1] = 0x90;
    machine_with(true, &code)
}

fn machine_with(apic: bool, code: &[u8]) -> Machine {
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        devices: DevicesConfig {
            apic,
            ..Default::default()
        },
    };
    boot(
        cfg,
        code,
        &BootKind::Flat {
            addr: 0x1000,
            real: false,
        },
    )
    .expect("boots")
}

#[test]
fn periodic_timer_interrupts_wake_hlt_in_virtual_time() {
    let mut m = machine(true);
    assert_eq!(m.run(1_000_000), RunExit::Exit(5 << 1 | 1));
    // Five periods of 1000 counts at one count per tick (divide by 1): the fifth expiry
    // comes 5000 ticks after the count was written, and the guest ends a few instructions
    // later.
    let clock = m.core.clock();
    assert!((5000..5100).contains(&clock), "clock {clock}");
    assert!(
        m.core.stats.halted_ticks > 4000,
        "the waits were halted time"
    );
    let a = m.core.dev.apic.as_ref().expect("APIC present");
    assert_eq!(a.lapic.timer_fired, 5);
    assert_eq!(a.lapic.highest_isr(), None, "every interrupt got its EOI");
}

#[test]
fn without_the_apic_the_page_is_not_there() {
    let mut m = machine(false);
    assert!(m.core.dev.apic.is_none());
    // The timer is never programmed: the guest halts with every 8259 line masked.
    assert_eq!(m.run(1_000_000), RunExit::Halted);
}

#[test]
fn apic_state_survives_a_snapshot() {
    let mut a = machine(true);
    a.run(40); // the timer runs, the guest halts between ticks
    let a1 = a.core.dev.apic.as_ref().unwrap().lapic.clone();
    assert!(a1.timer_next_ns.is_some());
    let snap = save(&a);
    let mut b = restore(&snap).expect("restores");
    assert_eq!(b.core.dev.apic.as_ref().unwrap().lapic, a1);
    assert_eq!(state_hash(&a), state_hash(&b));
    let ea = a.run(1_000_000);
    let eb = b.run(1_000_000);
    assert_eq!(ea, eb);
    assert_eq!(a.core.clock(), b.core.clock());
    assert_eq!(state_hash(&a), state_hash(&b));
}

/// Flat code at 0x1000: CPUID.1 EDX -> [0x2000]; RDMSR 0x1B -> [0x2004], [0x2008]; the
/// version register -> [0x200C]; WRMSR 0x1B with bit 11 clear; the version register again
/// -> [0x2010]; CPUID.1 EDX -> [0x2014]; cli; hlt.
const CPUID_GUEST: &[u8] = &[
    0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0x15, 0x00, 0x20, 0x00, 0x00, 0xb9, 0x1b, 0x00,
    0x00, 0x00, 0x0f, 0x32, 0xa3, 0x04, 0x20, 0x00, 0x00, 0x89, 0x15, 0x08, 0x20, 0x00, 0x00, 0x8b,
    0x1d, 0x30, 0x00, 0xe0, 0xfe, 0x89, 0x1d, 0x0c, 0x20, 0x00, 0x00, 0x25, 0xff, 0xf7, 0xff, 0xff,
    0x0f, 0x30, 0x8b, 0x1d, 0x30, 0x00, 0xe0, 0xfe, 0x89, 0x1d, 0x10, 0x20, 0x00, 0x00, 0xb8, 0x01,
    0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0x15, 0x14, 0x20, 0x00, 0x00, 0xfa, 0xf4,
];

fn cpuid_run(apic: bool) -> Vec<u32> {
    let cfg = MachineConfig {
        ram_bytes: 2 << 20,
        devices: DevicesConfig {
            apic,
            ..Default::default()
        },
    };
    let kind = BootKind::Flat {
        addr: 0x1000,
        real: false,
    };
    let mut m = boot(cfg, CPUID_GUEST, &kind).expect("boots");
    assert_eq!(m.run(1000), RunExit::Halted);
    (0..6).map(|k| m.core.mem.read(0x2000 + 4 * k, 4)).collect()
}

#[test]
fn cpuid_and_the_apic_base_msr() {
    // CPUID.1:EDX bit 9 reports an enabled APIC; clearing IA32_APIC_BASE[11] removes the
    // page and the CPUID bit (11.4.3).
    let r = cpuid_run(true);
    assert_ne!(r[0] & 1 << 9, 0, "CPUID.1:EDX.APIC");
    assert_eq!(
        (r[1], r[2]),
        (0xFEE0_0900, 0),
        "IA32_APIC_BASE: 0xFEE00000, enabled, BSP"
    );
    assert_eq!(r[3], 0x0004_0014, "version register");
    assert_eq!(
        r[4], 0xFFFF_FFFF,
        "globally disabled: nothing at 0xFEE00030"
    );
    assert_eq!(r[5] & 1 << 9, 0, "CPUID.1:EDX.APIC after the disable");
    // Without the APIC: no CPUID bit, no page.
    let r = cpuid_run(false);
    assert_eq!(r[0] & 1 << 9, 0);
    assert_eq!(r[3], 0xFFFF_FFFF);
}

#[test]
fn reverse_execution_across_timer_interrupts_is_exact() {
    // The debugger's time travel rebuilds states from snapshots and re-execution: going
    // back to instruction counts of the (busy-waiting) timer guest gives the state a fresh
    // machine has at that count, APIC included (its timer, IRR/ISR bits, the expiries).
    use traplab::debug::session::{Session, Stop};
    let mut s = Session::new(busy_machine());
    s.checkpoint_every = 1_000;
    let end = s.advance(1_000_000);
    assert_ne!(end, Stop::Done, "the guest exits: {end:?}");
    assert_eq!(s.m.core.dev.apic.as_ref().unwrap().lapic.timer_fired, 5);
    let last = s.icount();
    assert!(last > 5000, "busy wait: {last} instructions");
    for k in (1..last).rev().step_by(37) {
        assert_eq!(s.go_to(k), Stop::Done, "go to {k}");
        let mut fresh = busy_machine();
        assert_eq!(fresh.run(k), RunExit::Budget);
        assert_eq!(s.m.core.cpu, fresh.core.cpu, "at icount {k}");
        assert_eq!(s.m.core.dev.apic, fresh.core.dev.apic, "at icount {k}");
        assert_eq!(state_hash(&s.m), state_hash(&fresh), "at icount {k}");
    }
}

#[test]
fn the_inspection_api_shows_both_apics() {
    // Front ends read the APICs through `Machine::inspect` (never the devices): the timer
    // guest's LVT timer decoded, its count at the machine's virtual time, the spurious
    // vector; the I/O APIC's 24 entries as at power-up. No APICs, no rows.
    let mut m = machine(true);
    m.run(40);
    let d = m.inspect().devices();
    let a = d.apic.expect("the APICs in the inspection API");
    let l = &a.lapic;
    assert_eq!(
        (l.base, l.enabled, l.id, l.version),
        (0xFEE0_0000, true, 0, 0x0004_0014)
    );
    assert_eq!((l.spurious_vector, l.software_enabled), (0xFF, true));
    let t = l.lvt[0];
    assert_eq!(
        (t.name, t.vector, t.mode, t.masked),
        ("timer", 0x40, "fixed", false)
    );
    assert!(l.timer_periodic);
    assert_eq!(
        (l.divide_config, l.divisor, l.initial_count),
        (0xB, 1, 1000)
    );
    assert!((1..=1000).contains(&l.current_count), "{}", l.current_count);
    assert_eq!(l.lvt[2].mode, "ExtINT", "LINT0 in virtual wire mode");
    assert_eq!(a.ioapic.redir.len(), 24);
    assert!(a.ioapic.redir.iter().all(|e| e.masked && e.untouched()));
    assert_eq!(
        (a.ioapic.base, a.ioapic.version),
        (0xFEC0_0000, 0x0017_0011)
    );
    // Later in time the count read through the API is the one the guest would read: the
    // inspection does not advance the device, yet its count follows virtual time.
    m.run(300);
    let now = m.inspect().devices().apic.unwrap().lapic;
    let dev = &m.core.dev.apic.as_ref().unwrap().lapic;
    assert_eq!(now.current_count, dev.count_at(m.core.now_ns()));
    assert_eq!(now.timer_fired, dev.timer_fired);
    // Inspecting changes nothing.
    let h = state_hash(&m);
    let _ = m.inspect().devices();
    assert_eq!(state_hash(&m), h);
    assert!(machine(false).inspect().devices().apic.is_none());
}
