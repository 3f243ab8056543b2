//! Register semantics of the local APIC against Intel SDM Vol. 3A chapter 11 (section
//! named in each test).

use super::*;

/// A software-enabled APIC with spurious vector 0xFF.
fn enabled() -> Lapic {
    let mut a = Lapic::new();
    a.write(0xF0, 0x1FF);
    a
}

#[test]
fn reset_state_is_virtual_wire_and_software_disabled() {
    // 11.4.7.1: SVR 0xFF, DFR all ones, LVT masked; LINT0 ExtINT as the firmware leaves it.
    let mut a = Lapic::new();
    assert_eq!(a.base, 0xFEE0_0900);
    assert_eq!(a.read(0xF0), 0xFF);
    assert_eq!(a.read(0xE0), 0xFFFF_FFFF);
    assert_eq!(a.read(0x30), VERSION);
    assert_eq!(a.read(0x30) & 0xF0, 0x10, "integrated APIC (11.4.8)");
    assert_eq!((a.read(0x30) >> 16) & 0xFF, 4, "max LVT entry");
    for off in [0x320, 0x340, 0x360, 0x370] {
        assert_eq!(a.read(off), LVT_MASKED, "{off:#x}");
    }
    assert_eq!(a.read(0x350), 0x700);
    assert!(a.extint_passes());
    assert!(!a.software_enabled());
}

#[test]
fn software_disable_masks_every_lvt_entry() {
    // 11.4.7.2: masks set and cannot be cleared while software-disabled.
    let mut a = enabled();
    a.write(0x320, 0x40);
    assert_eq!(a.read(0x320), 0x40);
    a.write(0xF0, 0xFF);
    assert_eq!(a.read(0x320), 0x40 | LVT_MASKED);
    assert_eq!(a.read(0x350), 0x700 | LVT_MASKED);
    assert!(!a.extint_passes(), "a masked LINT0 blocks the 8259");
    a.write(0x320, 0x41);
    assert_eq!(a.read(0x320), 0x41 | LVT_MASKED);
    a.accept(0x50, false);
    assert_eq!(
        a.irr, [0; 8],
        "a software-disabled APIC accepts no fixed interrupt"
    );
}

#[test]
fn global_disable_returns_to_power_up_and_passes_intr() {
    // 11.4.3: IA32_APIC_BASE[11] = 0.
    let mut a = enabled();
    a.write(0x80, 0x30);
    a.write_base(0xFEE0_0000);
    assert!(!a.enabled());
    assert_eq!(a.page(), None);
    assert!(a.extint_passes(), "LINT0 is the CPU's INTR pin");
    assert_eq!(a.base & BASE_BSP, BASE_BSP, "BSP is read-only");
    a.write_base(0xFEE0_0800);
    assert_eq!(a.read(0x80), 0);
    assert_eq!(a.read(0xF0), 0xFF);
    assert_eq!(a.read(0x350), LVT_MASKED, "power-up state: LINT0 masked");
    a.write_base(0xFED0_0800);
    assert_eq!(a.page(), Some(0xFED0_0000), "relocated");
}

#[test]
fn priority_ppr_follows_tpr_and_isr() {
    // 11.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0.
    let mut a = enabled();
    a.write(0x80, 0x25);
    assert_eq!(a.read(0xA0), 0x25);
    a.accept(0x61, false);
    assert_eq!(a.acknowledge(), 0x61);
    assert_eq!(a.read(0xA0), 0x60);
    a.write(0x80, 0x7A);
    assert_eq!(a.read(0xA0), 0x7A);
    assert_eq!(a.read(0x80), 0x7A);
}

#[test]
fn delivery_respects_priority_classes() {
    // 11.8.4: a vector is delivered when its class is above PPR's class.
    let mut a = enabled();
    a.write(0x80, 0x40);
    a.accept(0x45, false);
    assert!(!a.has_interrupt(), "same class as TPR: held");
    a.accept(0x51, false);
    assert!(a.has_interrupt());
    assert_eq!(a.acknowledge(), 0x51);
    assert_eq!(a.read(0x100 + 16 * 2), 1 << (0x51 - 64), "ISR bit");
    assert_eq!(
        a.read(0x200 + 16 * 2),
        1 << (0x45 - 64),
        "0x45 still requested"
    );
    a.write(0x80, 0);
    assert!(
        !a.has_interrupt(),
        "0x45's class is below the in-service 0x51's"
    );
    assert_eq!(a.write(0xB0, 0), Effect::None);
    assert!(a.has_interrupt());
    assert_eq!(a.acknowledge(), 0x45);
    // Nothing left: INTA now gives the spurious vector and sets no ISR bit.
    assert_eq!(a.acknowledge(), 0xFF);
    assert_eq!(a.highest_isr(), Some(0x45));
}

#[test]
fn eoi_ends_the_highest_in_service_and_reports_level() {
    // 11.8.5: EOI clears the highest ISR bit; level-triggered ones go to the I/O APIC.
    let mut a = enabled();
    a.accept(0x30, true);
    assert_eq!(a.acknowledge(), 0x30);
    a.accept(0x80, false);
    assert_eq!(a.acknowledge(), 0x80, "nested: higher class preempts");
    assert_eq!(a.write(0xB0, 0), Effect::None);
    assert_eq!(a.highest_isr(), Some(0x30));
    assert_eq!(
        a.read(0x180 + 16),
        1 << (0x30 - 32),
        "TMR bit of the level one"
    );
    assert_eq!(a.write(0xB0, 0), Effect::LevelEoi(0x30));
    assert_eq!(a.highest_isr(), None);
    assert_eq!(
        a.write(0xB0, 0),
        Effect::None,
        "EOI with nothing in service"
    );
}

#[test]
fn illegal_vectors_and_registers_set_esr_after_a_write() {
    // 11.5.3: errors show in the ESR after the next write to it.
    let mut a = enabled();
    a.write(0x370, 0x0001_0000 | 0xFE); // error LVT masked
    a.accept(5, false);
    assert_eq!(a.read(0x280), 0, "not latched yet");
    a.write(0x280, 0);
    assert_eq!(a.read(0x280), ESR_RECV_ILLEGAL);
    a.write(0x300, 0x0004_0003); // self IPI, vector 3
    a.read(0x3F0); // reserved offset
    a.write(0x280, 0);
    assert_eq!(a.read(0x280), ESR_SEND_ILLEGAL | ESR_ILLEGAL_REG);
    a.write(0x280, 0);
    assert_eq!(a.read(0x280), 0, "cleared by the write");
    // Unmasked error entry: an error raises its vector.
    a.write(0x370, 0xFE);
    a.accept(1, false);
    assert_eq!(a.highest_irr(), Some(0xFE));
}

#[test]
fn self_ipi_by_shorthand_and_by_destination() {
    // 11.6.1: ICR shorthands; 11.6.2: physical and logical destinations.
    let mut a = enabled();
    a.write(0x300, 0x0004_0040); // shorthand self
    assert_eq!(a.highest_irr(), Some(0x40));
    a.write(0x300, 0x000C_0041); // all excluding self
    assert_eq!(a.highest_irr(), Some(0x40));
    a.write(0x310, 0);
    a.write(0x300, 0x42); // physical ID 0
    assert_eq!(a.highest_irr(), Some(0x42));
    a.write(0xD0, 0x0100_0000);
    a.write(0x310, 0x0200_0000);
    a.write(0x300, 0x843); // logical, flat: 0x02 & 0x01 = 0, nobody
    assert_eq!(a.highest_irr(), Some(0x42));
    a.write(0x310, 0x0300_0000);
    a.write(0x300, 0x843);
    assert_eq!(a.highest_irr(), Some(0x43));
    assert_eq!(a.read(0x300) & (1 << 12), 0, "delivery status idle");
    assert_eq!(a.read(0x310), 0x0300_0000);
}

#[test]
fn timer_one_shot_counts_down_and_fires_once() {
    // 11.5.4: divide by 2 by default (000); the current count reaches 0 and stays.
    let mut a = enabled();
    a.write(0x320, 0x40);
    a.write(0x380, 100);
    assert_eq!(a.read(0x390), 100);
    a.update(20 * 50);
    assert_eq!(a.read(0x390), 50);
    a.update(20 * 100 - 1);
    assert_eq!(a.read(0x390), 1);
    assert!(!a.has_interrupt());
    a.update(20 * 100);
    assert_eq!(a.read(0x390), 0);
    assert!(a.has_interrupt());
    assert_eq!(a.acknowledge(), 0x40);
    a.write(0xB0, 0);
    a.update(20 * 1000);
    assert!(!a.has_interrupt(), "one shot");
    assert_eq!(a.next_event_ns(), None);
}

#[test]
fn timer_periodic_reloads_and_divide_values() {
    // 11.5.4, Figure 11-10: divide configuration 0,1,3 -> 2,4,8,16,32,64,128,1.
    let want = [
        (0b0000, 2),
        (0b0001, 4),
        (0b0010, 8),
        (0b0011, 16),
        (0b1000, 32),
        (0b1001, 64),
        (0b1010, 128),
        (0b1011, 1),
    ];
    for (cfg, div) in want {
        let mut a = enabled();
        a.write(0x3E0, cfg);
        assert_eq!(a.read(0x3E0), cfg);
        a.write(0x320, TIMER_PERIODIC | 0x41);
        a.write(0x380, 10);
        assert_eq!(
            a.next_event_ns(),
            Some(10 * div * NS_PER_COUNT),
            "div {div}"
        );
        let mut fired = 0;
        for k in 1..=5u64 {
            a.update(k * 10 * div * NS_PER_COUNT);
            if a.has_interrupt() {
                fired += 1;
                assert_eq!(a.acknowledge(), 0x41);
                a.write(0xB0, 0);
            }
            assert_eq!(a.read(0x390), 10, "reloaded");
        }
        assert_eq!(fired, 5);
    }
}

#[test]
fn timer_stops_on_zero_and_masked_timer_still_counts() {
    let mut a = enabled();
    a.write(0x3E0, 0xB); // divide by 1
    a.write(0x320, LVT_MASKED | TIMER_PERIODIC | 0x50);
    a.write(0x380, 10);
    a.update(100);
    assert!(!a.has_interrupt(), "masked");
    assert_eq!(a.timer_fired, 1);
    assert_eq!(a.next_interrupt_event_ns(), None);
    a.write(0x380, 0);
    assert_eq!(a.next_event_ns(), None, "initial count 0 stops the timer");
    assert_eq!(a.read(0x390), 0);
}

#[test]
fn logical_destination_models() {
    // 11.6.2.2: flat and cluster models.
    let mut a = enabled();
    a.write(0xD0, 0x0400_0000);
    assert!(a.is_destination(0x0C, true));
    assert!(!a.is_destination(0x03, true));
    a.write(0xE0, 0x0FFF_FFFF); // cluster
    a.write(0xD0, 0x2100_0000); // cluster 2, member 1
    assert!(a.is_destination(0x21, true));
    assert!(a.is_destination(0xF1, true));
    assert!(!a.is_destination(0x31, true));
    assert!(a.is_destination(0xFF, false));
    assert!(!a.is_destination(1, false));
}

/// `count_at` reads the current count at a later virtual time without advancing the timer:
/// what `update` then `current_count` give, in one-shot and periodic modes.
#[test]
fn count_at_matches_update_then_read() {
    for periodic in [false, true] {
        let mut a = Lapic::new();
        a.write(0xF0, 0x1FF);
        a.write(0x3E0, 0x3); // divide by 16
        a.write(0x320, 0x40 | if periodic { TIMER_PERIODIC } else { 0 });
        a.write(0x380, 100);
        for t in [0u64, 1, 159, 160, 16_000, 16_001, 40_000, 123_456] {
            let seen = a.count_at(t);
            let mut b = a.clone();
            b.update(t);
            assert_eq!(seen, b.current_count(), "periodic {periodic}, t {t}");
        }
    }
    assert_eq!(Lapic::new().divisor(), 2, "divide configuration 0: by 2");
}
