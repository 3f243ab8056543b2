//! Unit tests of the pure parts: exit names, EVENTINJ legality, permission-map layouts.

use super::*;

#[test]
fn exit_names_follow_appendix_c() {
    assert_eq!(exit_name(code::CR0_READ + 3), "CR3_READ");
    assert_eq!(exit_name(code::DR0_WRITE + 7), "DR7_WRITE");
    assert_eq!(exit_name(code::EXCP_BASE + 14), "EXCP_PF");
    assert_eq!(exit_name(code::INTR), "INTR");
    assert_eq!(exit_name(code::CPUID), "CPUID");
    assert_eq!(exit_name(code::IOIO), "IOIO");
    assert_eq!(exit_name(code::SHUTDOWN), "SHUTDOWN");
    assert_eq!(exit_name(code::VMMCALL), "VMMCALL");
    assert_eq!(exit_name(code::WBINVD), "WBINVD");
    assert_eq!(exit_name(code::NPF), "NPF");
    assert_eq!(exit_name(code::INVALID), "INVALID");
    assert_eq!(exit_name(0x8A), "UNKNOWN");
}

#[test]
fn eventinj_types_and_vectors() {
    // APM 15.20: types 0, 2, 3, 4 only; an exception's vector must be an exception's.
    assert!(vmrun::eventinj_legal(0), "V clear: nothing to check");
    assert!(vmrun::eventinj_legal(1 << 31 | 0x20));
    assert!(vmrun::eventinj_legal(1 << 31 | 2 << 8));
    assert!(vmrun::eventinj_legal(1 << 31 | 3 << 8 | 14));
    assert!(vmrun::eventinj_legal(1 << 31 | 4 << 8 | 0x80));
    assert!(!vmrun::eventinj_legal(1 << 31 | 1 << 8));
    assert!(!vmrun::eventinj_legal(1 << 31 | 5 << 8));
    assert!(!vmrun::eventinj_legal(1 << 31 | 3 << 8 | 2));
    assert!(!vmrun::eventinj_legal(1 << 31 | 3 << 8 | 32));
}

#[test]
fn ioio_exitinfo1_layout() {
    // APM 15.10.2 Figure 15-2.
    use intercept::ioio_info;
    assert_eq!(
        ioio_info(0x3F8, 1, false, false, false, false),
        0x3F8 << 16 | 1 << 4
    );
    assert_eq!(
        ioio_info(0x60, 4, true, false, false, false),
        0x60 << 16 | 1 << 6 | 1
    );
    // REP INSW with a 32-bit address: STR, REP, A32.
    assert_eq!(
        ioio_info(0x1F0, 2, true, true, true, true),
        0x1F0 << 16 | 1 << 8 | 1 << 5 | 1 << 3 | 1 << 2 | 1
    );
    // OUTSB with a 16-bit address.
    assert_eq!(
        ioio_info(0x80, 1, false, true, false, false),
        0x80 << 16 | 1 << 7 | 1 << 4 | 1 << 2
    );
}

#[test]
fn msr_permission_map_ranges() {
    // APM 15.11: bit 2n reads and 2n+1 writes of MSR n in its range's 2 KiB.
    let mut c = Core::new(
        1 << 20,
        crate::devices::Devices::new(1 << 20, Default::default()),
    );
    c.svm.ctl.msrpm_base = 0x8000;
    c.mem.write(
        0x8000 + 0x800 + (0x80 * 2 + 1) / 8,
        1,
        1 << ((0x80 * 2 + 1) % 8),
    );
    assert!(intercept::msr_intercepted(&c, 0xC000_0080, true));
    assert!(!intercept::msr_intercepted(&c, 0xC000_0080, false));
    assert!(!intercept::msr_intercepted(&c, 0x80, true));
    assert!(
        intercept::msr_intercepted(&c, 0x4000_0000, false),
        "outside the ranges"
    );
}

#[test]
fn vmcb_image_writes_back_only_the_changed_fields() {
    use vmcb::{ctl, save, Image, VmcbSeg};
    let mut c = Core::new(
        1 << 20,
        crate::devices::Devices::new(1 << 20, Default::default()),
    );
    let pa = 0x7000;
    let pattern: Vec<u8> = (0..0x1000u32).map(|i| (i * 7 + 3) as u8).collect();
    assert!(c.mem.load(pa, &pattern));
    let mut v = Image::load(&c, pa);
    assert_eq!(
        v.r32(ctl::ASID),
        u32::from_le_bytes(pattern[0x58..0x5C].try_into().unwrap())
    );
    assert_eq!(v.r8(save::CPL), pattern[save::CPL as usize]);
    let seg = VmcbSeg {
        sel: 0x1B,
        attrib: 0xCFB,
        limit: 0xFFFF_FFFF,
        base: 0x1234_5000,
    };
    v.w64(ctl::EXITCODE, 0x7B);
    v.set_seg(save::SS, seg);
    v.w8(save::CPL, 3);
    v.store(&mut c);
    let after = c.mem.peek(pa, 0x1000);
    let mut want = pattern.clone();
    want[0x70..0x78].copy_from_slice(&0x7Bu64.to_le_bytes());
    want[0x420..0x422].copy_from_slice(&0x1Bu16.to_le_bytes());
    want[0x422..0x424].copy_from_slice(&0xCFBu16.to_le_bytes());
    want[0x424..0x428].copy_from_slice(&0xFFFF_FFFFu32.to_le_bytes());
    want[0x428..0x430].copy_from_slice(&0x1234_5000u64.to_le_bytes());
    want[save::CPL as usize] = 3;
    assert_eq!(after, want, "only the three fields changed");
    // The save area alone (the host save area): its fields read back as stored.
    let h = Image::load_save(&c, pa);
    assert_eq!(h.seg(save::SS), seg);
    assert_eq!(h.r8(save::CPL), 3);
    // Nothing changed, nothing written: a page of cached code is not invalidated.
    c.mem.code_pages[(pa >> 12) as usize] = 1;
    Image::load(&c, pa).store(&mut c);
    assert!(c.smc_pages.is_empty() && !c.req.any());
    let mut v = Image::load(&c, pa);
    v.w32(ctl::V_INTR, 0);
    v.store(&mut c);
    assert_eq!(
        c.smc_pages,
        vec![pa >> 12],
        "a written code page is invalidated"
    );
}
