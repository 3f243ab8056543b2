//! A 32-bit oracle inside the 64-bit test process (Linux x86-64 only): the code runs in
//! compatibility mode through the kernel's 32-bit user code segment (selector 0x23), where
//! DAA DAS AAA AAS AAM AAD still exist. The 32-bit code, its stack and its data live in one
//! page below 2 GiB (mmap with MAP_32BIT); `lretq` enters compatibility mode and a far
//! `jmp 0x33:...` comes back. Because a platform without that segment would kill the
//! process, `available()` first runs the probe in a child process.

use std::arch::asm;

const USER64_CS: u8 = 0x33;
const LEN: usize = 0x4000;
const DATA: u32 = 0x800;

pub struct Compat {
    base: *mut u8,
}

fn mmap32() -> Option<*mut u8> {
    let ret: i64;
    // SAFETY: the raw mmap system call (9) with an anonymous private mapping; rcx and r11
    // are clobbered by `syscall`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") 9i64 => ret,
            in("rdi") 0u64,
            in("rsi") LEN as u64,
            in("rdx") 7u64,              // PROT_READ | PROT_WRITE | PROT_EXEC
            in("r10") 0x62u64,           // MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT
            in("r8") -1i64,
            in("r9") 0u64,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    (ret > 0 && ret < 0x8000_0000).then_some(ret as *mut u8)
}

impl Compat {
    pub fn new() -> Option<Compat> {
        mmap32().map(|base| Compat { base })
    }

    fn addr(&self, off: u32) -> u32 {
        self.base as u32 + off
    }

    /// Runs the 32-bit instruction `op` with EAX and the arithmetic flags from the inputs;
    /// returns (EAX, EFLAGS) after it.
    pub fn run(&mut self, op: &[u8], eax: u32, flags: u32) -> (u32, u32) {
        let d = |k: u32| self.addr(DATA + k).to_le_bytes();
        let mut code: Vec<u8> = vec![0x8C, 0xD0, 0x8E, 0xD8, 0x8E, 0xC0]; // ds = es = ss
        code.push(0xA1); // mov eax, [in_eax]
        code.extend(d(0));
        code.extend([0xFF, 0x35]); // push dword [in_flags]
        code.extend(d(4));
        code.push(0x9D); // popfd
        code.extend(op);
        code.push(0x9C); // pushfd
        code.extend([0x8F, 0x05]); // pop dword [out_flags]
        code.extend(d(8));
        code.push(0xA3); // mov [out_eax], eax
        code.extend(d(12));
        code.push(0xEA); // jmp far 0x33:back64
        code.extend(self.addr(0x100).to_le_bytes());
        code.extend([USER64_CS, 0]);
        let mut back: Vec<u8> = vec![0x48, 0x8B, 0x24, 0x25]; // mov rsp, [saved_rsp]
        back.extend(d(16));
        back.extend([0xFF, 0x24, 0x25]); // jmp qword [ret_addr]
        back.extend(d(24));
        // SAFETY: the mapping is LEN bytes, ours, and not executing while written.
        unsafe {
            let page = std::slice::from_raw_parts_mut(self.base, LEN);
            page[..code.len()].copy_from_slice(&code);
            page[0x100..0x100 + back.len()].copy_from_slice(&back);
            let data = DATA as usize;
            page[data..data + 4].copy_from_slice(&eax.to_le_bytes());
            page[data + 4..data + 8].copy_from_slice(&((flags & 0x8D5) | 0x202).to_le_bytes());
        }
        // SAFETY: switches to the 32-bit code above and back; every register the 32-bit
        // side could disturb is declared clobbered or saved (RBX, RBP, DS, ES), and RSP is
        // restored from the saved slot before returning to Rust code. Offsets from the
        // page base: 0x810 saved RSP, 0x818 return address, 0x820 DS/ES, 0x3FF0 stack top.
        unsafe {
            asm!(
                "push rbx",
                "push rbp",
                "mov ax, ds",
                "mov [{p} + 0x820], ax",
                "mov ax, es",
                "mov [{p} + 0x822], ax",
                "mov [{p} + 0x810], rsp",
                "lea rax, [rip + 2f]",
                "mov [{p} + 0x818], rax",
                "lea rsp, [{p} + 0x3FF0]",
                "push 0x23",
                "push {p}",
                ".byte 0x48, 0xCB", // retfq to 0x23:page base
                "2:",
                "mov ax, [{p} + 0x820]",
                "mov ds, ax",
                "mov ax, [{p} + 0x822]",
                "mov es, ax",
                "pop rbp",
                "pop rbx",
                p = in(reg) self.base,
                out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            );
            let page = std::slice::from_raw_parts(self.base, LEN);
            let rd = |k: usize| u32::from_le_bytes(page[k..k + 4].try_into().unwrap());
            (rd(DATA as usize + 12), rd(DATA as usize + 8))
        }
    }
}

/// Whether compatibility-mode execution works here, decided by running a probe (`DAA`
/// on 0x0F) in a child copy of this test binary: a platform without the 32-bit code
/// segment would kill the process with SIGSEGV.
pub fn available() -> bool {
    if std::env::var_os("TRAPLAB_COMPAT_PROBE").is_some() {
        return true;
    }
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    std::process::Command::new(exe)
        .args(["--exact", "compat_probe", "--test-threads", "1"])
        .env("TRAPLAB_COMPAT_PROBE", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
