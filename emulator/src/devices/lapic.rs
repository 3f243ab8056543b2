//! The local APIC of the one CPU, as the xAPIC of Intel SDM Vol. 3A chapter 11 ("Advanced
//! Programmable Interrupt Controller (APIC)") describes it: a 4 KiB register page at the
//! address of IA32_APIC_BASE (11.4.4, "Local APIC Status and Location"), the global enable
//! bit of that MSR (11.4.3), the software enable bit of the spurious-interrupt vector
//! register (11.9), IRR/ISR/TMR and the processor priority (11.8.3-11.8.5), EOI (11.8.5),
//! the local vector table (11.5.1), the error status register (11.5.3), the timer in
//! one-shot and periodic modes (11.5.4), and the ICR for IPIs to itself (11.6.1).
//!
//! It owns only the APIC's registers and its timer, as functions of virtual time (like the
//! PIT): the `Devices` hub feeds it interrupts from the I/O APIC and asks it for the vector
//! to deliver; the machine maps its page into the physical address space. It never touches
//! guest memory, the CPU or the 8259s.
//!
//! Model choices (said here, since the SDM leaves them to the implementation):
//! - Version register 0x0004_0014: an integrated APIC (1xH, 11.4.8) with five LVT entries
//!   (max LVT entry 4: timer, performance counter, LINT0, LINT1, error; no thermal entry, as
//!   on P6 processors). The performance-counter entry is a register only (no counters).
//! - The timer counts at the virtual bus clock of 100 MHz: one count per tick of virtual time
//!   (one retired instruction, `NS_PER_TICK`) with divide-by-1, so its interrupts come at the
//!   same instruction in every run. TSC-deadline mode is not offered (LVT timer bit 18 is
//!   reserved and reads 0).
//! - Reset state (11.4.7.1) as the firmware leaves it on a PC in virtual wire mode (MP spec
//!   1.4, 3.6.2.2; QEMU does the same): the APIC is globally enabled at 0xFEE00000 but
//!   software-disabled (SVR = 0xFF), every LVT entry is masked except LINT0 = ExtINT, so the
//!   8259's INTR reaches the CPU until the guest takes over.
//! - Software-disabled (11.4.7.2): every LVT mask bit is set and cannot be cleared; fixed
//!   interrupts are not accepted (IRR, ISR are kept) and none is delivered to the CPU.
//! - Globally disabled (IA32_APIC_BASE[11] = 0): the page is gone, CPUID.1:EDX.APIC reads 0,
//!   LINT0 is the CPU's INTR pin (the 8259 path) and the registers return to their power-up
//!   state (11.4.3).
//! - NMI, SMI, INIT and start-up deliveries (LVT or ICR) are accepted as writes and do
//!   nothing: Traplab has no NMI source and one CPU. Delivery status always reads idle.

use serde::{Deserialize, Serialize};

/// IA32_APIC_BASE (MSR 0x1B) at power-up: base 0xFEE00000, global enable, BSP.
pub const BASE_RESET: u64 = 0xFEE0_0900;
/// IA32_APIC_BASE bit 8: this is the bootstrap processor (read-only).
pub const BASE_BSP: u64 = 1 << 8;
/// IA32_APIC_BASE bit 11: APIC global enable.
pub const BASE_ENABLE: u64 = 1 << 11;
/// The value of the version register (see the module docs).
pub const VERSION: u32 = 0x0004_0014;
/// SVR bit 8: APIC software enable.
pub const SVR_ENABLE: u32 = 1 << 8;
/// LVT and ICR bit 16: masked.
pub const LVT_MASKED: u32 = 1 << 16;
/// LVT timer bit 17: periodic mode.
pub const TIMER_PERIODIC: u32 = 1 << 17;
/// Nanoseconds of virtual time per timer count at divide-by-1 (a 100 MHz bus clock).
pub const NS_PER_COUNT: u64 = 10;

/// Indices into `Lapic::lvt` (register offsets 0x320, 0x340, 0x350, 0x360, 0x370).
pub const LVT_TIMER: usize = 0;
pub const LVT_PERF: usize = 1;
pub const LVT_LINT0: usize = 2;
pub const LVT_LINT1: usize = 3;
pub const LVT_ERROR: usize = 4;
/// Register offset of each LVT entry, by index.
pub const LVT_OFFSETS: [u32; 5] = [0x320, 0x340, 0x350, 0x360, 0x370];
/// Writable bits of each LVT entry (11.5.1, Figure 11-8).
const LVT_WRITABLE: [u32; 5] = [
    0x0003_00FF,
    0x0001_07FF,
    0x0001_A7FF,
    0x0001_A7FF,
    0x0001_00FF,
];

/// Delivery modes (LVT and ICR bits 8-10).
pub const MODE_FIXED: u32 = 0;
pub const MODE_EXTINT: u32 = 7;

/// ESR bits (11.5.3, Figure 11-9).
pub const ESR_SEND_ILLEGAL: u32 = 1 << 5;
pub const ESR_RECV_ILLEGAL: u32 = 1 << 6;
pub const ESR_ILLEGAL_REG: u32 = 1 << 7;

/// What a register write asks of the rest of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    /// An EOI ended a level-triggered interrupt with this vector: the I/O APIC clears the
    /// remote IRR of the entries with that vector (11.8.5).
    LevelEoi(u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lapic {
    /// IA32_APIC_BASE: base address (bits 12-31), global enable (11), BSP (8).
    pub base: u64,
    /// APIC ID (bits 24-31 of register 0x20).
    pub id: u8,
    /// Task priority register (0x80).
    pub tpr: u8,
    /// Logical destination register (0xD0): bits 24-31.
    pub ldr: u32,
    /// Destination format register (0xE0): bits 28-31 model (flat 1111, cluster 0000).
    pub dfr: u32,
    /// Spurious-interrupt vector register (0xF0): vector, bit 8 software enable.
    pub svr: u32,
    /// In-service, trigger-mode and request registers: 256 bits each, vector n = bit n%32
    /// of word n/32.
    pub isr: [u32; 8],
    pub tmr: [u32; 8],
    pub irr: [u32; 8],
    /// Error status as last latched by a write to the ESR (what reads return).
    pub esr: u32,
    /// Errors seen since that write.
    pub esr_pending: u32,
    /// Interrupt command register: low word (0x300) and destination field (0x310).
    pub icr_lo: u32,
    pub icr_hi: u32,
    /// Local vector table: timer, performance counter, LINT0, LINT1, error.
    pub lvt: [u32; 5],
    /// Timer initial count (0x380) and divide configuration (0x3E0, bits 0, 1 and 3).
    pub initial_count: u32,
    pub divide_config: u32,
    /// Virtual time of the timer's next expiry (None: stopped, or a one-shot count ended).
    pub timer_next_ns: Option<u64>,
    /// Timer interrupts raised since power-on (for front ends; the guest cannot see it).
    pub timer_fired: u64,
    now_ns: u64,
}

impl Default for Lapic {
    fn default() -> Self {
        Lapic::new()
    }
}

impl Lapic {
    /// The APIC as the firmware leaves it (module docs): enabled, software-disabled,
    /// LINT0 in virtual wire mode.
    pub fn new() -> Lapic {
        let mut a = Lapic::power_up(BASE_RESET);
        a.lvt[LVT_LINT0] = MODE_EXTINT << 8;
        a
    }

    /// Register state after power-up or reset (11.4.7.1), with IA32_APIC_BASE = `base`.
    fn power_up(base: u64) -> Lapic {
        Lapic {
            base,
            id: 0,
            tpr: 0,
            ldr: 0,
            dfr: 0xFFFF_FFFF,
            svr: 0xFF,
            isr: [0; 8],
            tmr: [0; 8],
            irr: [0; 8],
            esr: 0,
            esr_pending: 0,
            icr_lo: 0,
            icr_hi: 0,
            lvt: [LVT_MASKED; 5],
            initial_count: 0,
            divide_config: 0,
            timer_next_ns: None,
            timer_fired: 0,
            now_ns: 0,
        }
    }

    /// IA32_APIC_BASE[11]: the APIC is globally enabled.
    pub fn enabled(&self) -> bool {
        self.base & BASE_ENABLE != 0
    }

    /// SVR[8]: the APIC is software-enabled (and globally enabled).
    pub fn software_enabled(&self) -> bool {
        self.enabled() && self.svr & SVR_ENABLE != 0
    }

    /// Physical address of the register page, when the APIC is globally enabled.
    pub fn page(&self) -> Option<u32> {
        self.enabled().then_some((self.base & 0xFFFF_F000) as u32)
    }

    /// WRMSR IA32_APIC_BASE. Reserved bits (32-63, 0-7, 9, 10) are ignored; the BSP bit is
    /// read-only. Clearing the enable bit returns the registers to their power-up state.
    pub fn write_base(&mut self, v: u64) {
        let new = (v & 0xFFFF_F000) | (v & BASE_ENABLE) | (self.base & BASE_BSP);
        if new & BASE_ENABLE == 0 && self.enabled() {
            let now = self.now_ns;
            let fired = self.timer_fired;
            *self = Lapic::power_up(new);
            self.now_ns = now;
            self.timer_fired = fired;
        }
        self.base = new;
    }

    /// The 8259's INTR reaches the CPU: the APIC is globally disabled (LINT0 is then the
    /// CPU's INTR pin), or LINT0 is unmasked in ExtINT mode (virtual wire, 11.5.1).
    pub fn extint_passes(&self) -> bool {
        !self.enabled() || {
            let l = self.lvt[LVT_LINT0];
            l & LVT_MASKED == 0 && (l >> 8) & 7 == MODE_EXTINT
        }
    }

    // ---- the 256-bit registers ----

    fn bit(r: &[u32; 8], v: u8) -> bool {
        r[v as usize / 32] & (1 << (v % 32)) != 0
    }

    fn set(r: &mut [u32; 8], v: u8, on: bool) {
        let m = 1 << (v % 32);
        if on {
            r[v as usize / 32] |= m;
        } else {
            r[v as usize / 32] &= !m;
        }
    }

    fn highest(r: &[u32; 8]) -> Option<u8> {
        (0..8)
            .rev()
            .find(|&w| r[w] != 0)
            .map(|w| (w * 32 + 31 - r[w].leading_zeros() as usize) as u8)
    }

    /// Highest vector requested (IRR), if any.
    pub fn highest_irr(&self) -> Option<u8> {
        Lapic::highest(&self.irr)
    }

    /// Highest vector in service (ISR), if any.
    pub fn highest_isr(&self) -> Option<u8> {
        Lapic::highest(&self.isr)
    }

    /// Processor priority (11.8.3.1): the TPR, or the class of the highest in-service
    /// vector when that is higher.
    pub fn ppr(&self) -> u8 {
        let isrv = self.highest_isr().unwrap_or(0);
        if self.tpr >> 4 >= isrv >> 4 {
            self.tpr
        } else {
            isrv & 0xF0
        }
    }

    /// Arbitration priority (11.8.3.1 for P6-family APICs): the highest of the TPR's class
    /// and the classes of the highest requested and in-service vectors.
    fn apr(&self) -> u8 {
        let irrv = self.highest_irr().unwrap_or(0) & 0xF0;
        let isrv = self.highest_isr().unwrap_or(0) & 0xF0;
        if self.tpr >> 4 >= irrv >> 4 && self.tpr >> 4 >= isrv >> 4 {
            self.tpr
        } else {
            irrv.max(isrv)
        }
    }

    /// Accepts a fixed interrupt (from the I/O APIC, the LVT or an IPI) into the IRR;
    /// `level` sets its TMR bit. Vectors 0-15 are illegal (ESR bit 6, 11.5.3). A
    /// software-disabled APIC accepts none.
    pub fn accept(&mut self, vector: u8, level: bool) {
        if vector < 16 {
            self.error(ESR_RECV_ILLEGAL);
            return;
        }
        if !self.software_enabled() {
            return;
        }
        Lapic::set(&mut self.irr, vector, true);
        Lapic::set(&mut self.tmr, vector, level);
    }

    /// Records an error; an unmasked LVT error entry then raises its interrupt.
    fn error(&mut self, bits: u32) {
        self.esr_pending |= bits;
        let e = self.lvt[LVT_ERROR];
        if e & LVT_MASKED == 0 && (e & 0xFF) >= 16 && self.software_enabled() {
            self.accept(e as u8, false);
        }
    }

    /// The APIC has an interrupt for the CPU: the highest requested vector's priority
    /// class is above the processor priority's (11.8.4).
    pub fn has_interrupt(&self) -> bool {
        self.software_enabled() && self.highest_irr().is_some_and(|v| v >> 4 > self.ppr() >> 4)
    }

    /// INTA: the highest requested vector moves from IRR to ISR and is delivered. If none
    /// can be delivered any more, the spurious vector (11.9), which sets no ISR bit.
    pub fn acknowledge(&mut self) -> u8 {
        match self.highest_irr() {
            Some(v) if self.has_interrupt() => {
                Lapic::set(&mut self.irr, v, false);
                Lapic::set(&mut self.isr, v, true);
                v
            }
            _ => self.svr as u8,
        }
    }

    // ---- the timer (11.5.4) ----

    /// Nanoseconds per count with the current divide configuration.
    fn ns_per_count(&self) -> u64 {
        let d = (self.divide_config & 3) | ((self.divide_config >> 1) & 4);
        NS_PER_COUNT << ((d + 1) & 7)
    }

    /// The current-count register at the device's present time.
    pub fn current_count(&self) -> u32 {
        self.count_at(self.now_ns)
    }

    /// The current count as it reads at virtual time `now_ns` (not before the device's own
    /// time), without advancing the device: an expiry not yet processed by `update` ends a
    /// one-shot count (0) and restarts a periodic one, as `update` will. For front ends.
    pub fn count_at(&self, now_ns: u64) -> u32 {
        let now = now_ns.max(self.now_ns);
        let Some(mut t) = self.timer_next_ns else {
            return 0;
        };
        let per = self.ns_per_count();
        if t <= now && self.lvt[LVT_TIMER] & TIMER_PERIODIC != 0 && self.initial_count != 0 {
            let period = self.initial_count as u64 * per;
            t += ((now - t) / period + 1) * period;
        }
        let left = t.saturating_sub(now).div_ceil(per);
        left.min(self.initial_count as u64) as u32
    }

    /// The timer's divisor (1, 2, 4 ... 128) from the divide configuration register.
    pub fn divisor(&self) -> u32 {
        let d = (self.divide_config & 3) | ((self.divide_config >> 1) & 4);
        1 << ((d + 1) & 7)
    }

    /// Advances the timer to `now_ns`, raising its interrupt at each expiry (expiries that
    /// pass while the IRR bit is still set merge into it, as on hardware).
    pub fn update(&mut self, now_ns: u64) {
        self.now_ns = self.now_ns.max(now_ns);
        let Some(t) = self.timer_next_ns else { return };
        if t > self.now_ns {
            return;
        }
        let lvt = self.lvt[LVT_TIMER];
        if lvt & TIMER_PERIODIC != 0 && self.initial_count != 0 {
            let period = self.initial_count as u64 * self.ns_per_count();
            let n = (self.now_ns - t) / period + 1;
            self.timer_next_ns = Some(t + n * period);
        } else {
            self.timer_next_ns = None;
        }
        self.timer_fired += 1;
        if lvt & LVT_MASKED == 0 {
            self.accept(lvt as u8, false);
        }
    }

    /// When the timer next needs `update`, if it runs.
    pub fn next_event_ns(&self) -> Option<u64> {
        self.timer_next_ns
    }

    /// Like `next_event_ns`, only when the expiry can interrupt the CPU (unmasked, and the
    /// APIC software-enabled).
    pub fn next_interrupt_event_ns(&self) -> Option<u64> {
        let unmasked = self.lvt[LVT_TIMER] & LVT_MASKED == 0;
        self.timer_next_ns
            .filter(|_| unmasked && self.software_enabled())
    }

    fn start_timer(&mut self, count: u32) {
        self.timer_next_ns = (count != 0).then(|| self.now_ns + count as u64 * self.ns_per_count());
    }

    // ---- registers ----

    /// 32-bit register read at `offset` within the page (11.4.1, Table 11-1). Undefined
    /// and write-only offsets read 0 (and flag an illegal register address).
    pub fn read(&mut self, offset: u32) -> u32 {
        let off = offset & 0xFF0;
        match off {
            0x020 => (self.id as u32) << 24,
            0x030 => VERSION,
            0x080 => self.tpr as u32,
            0x090 => self.apr() as u32,
            0x0A0 => self.ppr() as u32,
            0x0D0 => self.ldr,
            0x0E0 => self.dfr,
            0x0F0 => self.svr,
            0x100..=0x170 => self.isr[(off as usize - 0x100) / 16],
            0x180..=0x1F0 => self.tmr[(off as usize - 0x180) / 16],
            0x200..=0x270 => self.irr[(off as usize - 0x200) / 16],
            0x280 => self.esr,
            0x300 => self.icr_lo,
            0x310 => self.icr_hi,
            0x320 => self.lvt[LVT_TIMER],
            0x340 => self.lvt[LVT_PERF],
            0x350 => self.lvt[LVT_LINT0],
            0x360 => self.lvt[LVT_LINT1],
            0x370 => self.lvt[LVT_ERROR],
            0x380 => self.initial_count,
            0x390 => self.current_count(),
            0x3E0 => self.divide_config,
            _ => {
                if off != 0x0B0 {
                    self.error(ESR_ILLEGAL_REG);
                }
                0
            }
        }
    }

    /// 32-bit register write at `offset` within the page. Read-only registers ignore it.
    pub fn write(&mut self, offset: u32, v: u32) -> Effect {
        let off = offset & 0xFF0;
        match off {
            0x020 => self.id = (v >> 24) as u8,
            0x080 => self.tpr = v as u8,
            0x0B0 => return self.eoi(),
            0x0D0 => self.ldr = v & 0xFF00_0000,
            0x0E0 => self.dfr = v | 0x0FFF_FFFF,
            0x0F0 => {
                self.svr = v & 0x1FF;
                if v & SVR_ENABLE == 0 {
                    for l in &mut self.lvt {
                        *l |= LVT_MASKED;
                    }
                }
            }
            0x280 => {
                self.esr = std::mem::take(&mut self.esr_pending);
            }
            0x300 => {
                self.icr_lo = v & 0x000C_CFFF;
                self.send_ipi();
            }
            0x310 => self.icr_hi = v & 0xFF00_0000,
            0x320 | 0x340 | 0x350 | 0x360 | 0x370 => {
                let k = LVT_OFFSETS.iter().position(|&o| o == off).unwrap_or(0);
                let mut val = (self.lvt[k] & !LVT_WRITABLE[k]) | (v & LVT_WRITABLE[k]);
                if !self.software_enabled() {
                    val |= LVT_MASKED;
                }
                self.lvt[k] = val;
            }
            0x380 => {
                self.initial_count = v;
                self.start_timer(v);
            }
            0x3E0 => {
                // The count in progress goes on at the new rate.
                let left = self.current_count();
                self.divide_config = v & 0xB;
                if self.timer_next_ns.is_some() {
                    self.start_timer(left);
                }
            }
            0x030 | 0x090 | 0x0A0 | 0x0C0 | 0x100..=0x270 | 0x390 => {}
            _ => self.error(ESR_ILLEGAL_REG),
        }
        Effect::None
    }

    /// EOI (11.8.5): the highest in-service vector ends; a level-triggered one is
    /// broadcast to the I/O APIC.
    fn eoi(&mut self) -> Effect {
        let Some(v) = self.highest_isr() else {
            return Effect::None;
        };
        Lapic::set(&mut self.isr, v, false);
        if Lapic::bit(&self.tmr, v) {
            Lapic::set(&mut self.tmr, v, false);
            return Effect::LevelEoi(v);
        }
        Effect::None
    }

    /// The destination of a message (ICR or I/O APIC entry) names this APIC: physical
    /// mode compares the APIC ID (0xFF broadcasts), logical mode the LDR under the flat or
    /// cluster model of the DFR (11.6.2).
    pub fn is_destination(&self, dest: u8, logical: bool) -> bool {
        if !logical {
            return dest == self.id || dest == 0xFF;
        }
        let ldr = (self.ldr >> 24) as u8;
        if self.dfr >> 28 == 0xF {
            dest & ldr != 0
        } else {
            // Cluster model: high nibble = cluster (15 broadcasts), low = members.
            (dest >> 4 == ldr >> 4 || dest >> 4 == 0xF) && dest & ldr & 0xF != 0
        }
    }

    /// A write to ICR low sends an IPI (11.6.1). With one CPU only the self shorthand,
    /// "all including self" and a destination naming this APIC reach anyone; only fixed
    /// and lowest-priority deliveries do anything.
    fn send_ipi(&mut self) {
        let lo = self.icr_lo;
        let vector = lo as u8;
        let mode = (lo >> 8) & 7;
        let to_self = match (lo >> 18) & 3 {
            0 => self.is_destination((self.icr_hi >> 24) as u8, lo & (1 << 11) != 0),
            1 | 2 => true,
            _ => false,
        };
        if mode > 1 {
            return;
        }
        if vector < 16 {
            self.error(ESR_SEND_ILLEGAL);
            return;
        }
        if to_self {
            self.accept(vector, false);
        }
    }

    /// Validates a restored state (snapshots).
    pub(crate) fn check(&self) -> Result<(), String> {
        let max = super::MAX_TIME_NS;
        if self.now_ns > max || self.timer_next_ns.is_some_and(|t| t > max + (1 << 44)) {
            return Err("local APIC timer".into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "lapic_tests.rs"]
mod tests;
