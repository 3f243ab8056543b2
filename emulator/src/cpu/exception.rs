//! Architectural exceptions as values. Every memory and execution path returns
//! `Result<_, Exception>`; delivery happens in one place (`cpu::interrupt`).

/// Exception vectors (Intel SDM Vol. 3A, Table 6-1).
pub mod vec {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const NMI: u8 = 2;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;
    pub const MC: u8 = 18;
    pub const XM: u8 = 19;
    /// Not a vector: the marker of a #VMEXIT recorded by a fault path while a guest runs
    /// (`cpu::svm::exit_fault`); `interrupt::raise` performs the exit instead of delivering.
    pub const VMEXIT: u8 = 0xFE;
    /// Not a vector: what a taken Jcc whose target lies in its own cached block returns
    /// (`exec::fast::jcc_in`), so that the dispatch loop goes on at the target on the path
    /// it already tests after each handler. Never leaves the dispatch loop (`machine::exec`).
    pub const BRANCH: u8 = 0xFD;
    /// Not a vector: what a handler in a chained block returns when it completed but made
    /// a request (`Core::req`), so that the dispatch loop need not test the requests after
    /// each instruction (`exec::thread::eager`, `exec::fast`). Never leaves the dispatch loop.
    pub const REQUEST: u8 = 0xFC;
}

/// A fault or abort raised by an instruction (traps such as INT n are delivered directly).
///
/// Packed into 8 bytes with a niche (the `bool`), so that `Res<()>` and `Res<u32>` fit in one
/// register: every handler and memory access returns one, and a wider `Result` would be
/// returned through memory. Error codes are 16 bits on this CPU (a selector with EXT/IDT/TI,
/// or the #PF bits), so a `u16` holds every one (SDM Vol. 3A 6.13).
/// `repr(C)` with the `bool` first puts the niche in the low byte: testing for `Ok` is one
/// byte compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Exception {
    has_code: bool,
    pub vector: u8,
    code: u16,
    /// For #PF: the linear address that faulted (loaded into CR2 on delivery).
    pub cr2: u32,
}

impl Exception {
    pub const fn new(vector: u8) -> Self {
        Exception {
            vector,
            has_code: false,
            code: 0,
            cr2: 0,
        }
    }
    pub const fn with_code(vector: u8, code: u32) -> Self {
        Exception {
            vector,
            has_code: true,
            code: code as u16,
            cr2: 0,
        }
    }
    /// The error code pushed with the exception, if it has one.
    pub const fn error_code(&self) -> Option<u32> {
        if self.has_code {
            Some(self.code as u32)
        } else {
            None
        }
    }
    /// The in-block branch marker (`vec::BRANCH`).
    pub const fn branch() -> Self {
        Self::new(vec::BRANCH)
    }
    /// The in-block branch marker of a thread (`exec::thread`): the target is instruction
    /// `t` of the block (`branch_target`).
    pub const fn branch_to(t: u8) -> Self {
        Exception {
            vector: vec::BRANCH,
            has_code: false,
            code: t as u16,
            cr2: 0,
        }
    }
    /// The index carried by `branch_to`'s marker.
    pub const fn branch_target(&self) -> usize {
        self.code as usize
    }
    /// The exception as 64 bits (`exec::thread::Stop`): bit 0 has-code, bits 8-15 the
    /// vector, 16-31 the error code, 32-63 CR2; bits 1-7 are zero.
    #[inline(always)]
    pub const fn to_bits(self) -> u64 {
        self.has_code as u64
            | (self.vector as u64) << 8
            | (self.code as u64) << 16
            | (self.cr2 as u64) << 32
    }
    /// The inverse of `to_bits` (bits 1-7 ignored).
    #[inline(always)]
    pub const fn from_bits(b: u64) -> Self {
        Exception {
            has_code: b & 1 != 0,
            vector: (b >> 8) as u8,
            code: (b >> 16) as u16,
            cr2: (b >> 32) as u32,
        }
    }
    /// The "completed with a request" marker (`vec::REQUEST`).
    pub const fn request() -> Self {
        Self::new(vec::REQUEST)
    }
    pub const fn de() -> Self {
        Self::new(vec::DE)
    }
    pub const fn ud() -> Self {
        Self::new(vec::UD)
    }
    pub const fn nm() -> Self {
        Self::new(vec::NM)
    }
    pub const fn gp(code: u32) -> Self {
        Self::with_code(vec::GP, code)
    }
    pub const fn ss(code: u32) -> Self {
        Self::with_code(vec::SS, code)
    }
    pub const fn np(code: u32) -> Self {
        Self::with_code(vec::NP, code)
    }
    pub const fn ts(code: u32) -> Self {
        Self::with_code(vec::TS, code)
    }
    /// Alignment check: error code 0 (SDM Vol. 3A 6.15, interrupt 17).
    pub const fn ac() -> Self {
        Self::with_code(vec::AC, 0)
    }
    pub const fn pf(addr: u32, code: u32) -> Self {
        Exception {
            vector: vec::PF,
            has_code: true,
            code: code as u16,
            cr2: addr,
        }
    }
    /// Faults whose error code is pushed (SDM Vol. 3A 6.13).
    pub fn has_error_code(vector: u8) -> bool {
        matches!(vector, 8 | 10 | 11 | 12 | 13 | 14 | 17)
    }
    /// Benign / contributory / page-fault classes used for double-fault detection
    /// (SDM Vol. 3A Table 6-4 and 6-5).
    pub fn class(vector: u8) -> ExcClass {
        match vector {
            0 | 10 | 11 | 12 | 13 => ExcClass::Contributory,
            14 => ExcClass::PageFault,
            8 => ExcClass::DoubleFault,
            _ => ExcClass::Benign,
        }
    }
    pub fn name(vector: u8) -> &'static str {
        const NAMES: [&str; 20] = [
            "#DE divide error",
            "#DB debug",
            "NMI",
            "#BP breakpoint",
            "#OF overflow",
            "#BR bound range",
            "#UD invalid opcode",
            "#NM device not available",
            "#DF double fault",
            "coprocessor segment overrun",
            "#TS invalid TSS",
            "#NP segment not present",
            "#SS stack fault",
            "#GP general protection",
            "#PF page fault",
            "reserved",
            "#MF x87 error",
            "#AC alignment check",
            "#MC machine check",
            "#XM SIMD exception",
        ];
        NAMES.get(vector as usize).copied().unwrap_or("interrupt")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcClass {
    Benign,
    Contributory,
    PageFault,
    DoubleFault,
}

pub type Res<T = ()> = Result<T, Exception>;

// The register-sized results the dispatch loop depends on (see `Exception`).
const _: () = assert!(std::mem::size_of::<Res<()>>() == 8);
const _: () = assert!(std::mem::size_of::<Res<u32>>() == 8);
