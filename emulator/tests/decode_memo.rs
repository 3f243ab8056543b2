//! The decode cache's instruction memo (`DecodeCache::recall`): a block that copies an
//! instruction another block decoded must hold exactly what decoding it would have given,
//! handler and dispatch included (a Jcc or a flag setter another block re-linked chooses
//! its handler again). Checked on minios's boot to its prompt and its CPU demo, blocks
//! built with the memo against blocks built without it, field by field.

use traplab::boot::{boot, BootKind};
use traplab::cpu::insn::Insn;
use traplab::machine::{Machine, MachineConfig};
use traplab::snapshot::state_hash;

fn minios(memo: bool) -> Machine {
    let img = std::fs::read(format!(
        "{}/../samples/minios/minios.elf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample image");
    let kind = BootKind::Multiboot {
        cmdline: String::new(),
        modules: vec![],
    };
    let mut m = boot(MachineConfig::default(), &img, &kind).expect("boots");
    m.cache.set_memo(memo);
    m.core.dev.push_serial_input(b"run cpu\n");
    m
}

/// Every field of a decoded instruction, handlers as addresses.
fn fields(i: &Insn) -> impl PartialEq + std::fmt::Debug {
    (
        (
            i.thread as usize,
            i.inner as usize,
            i.next_ip,
            i.idx,
            i.lazy_ip,
        ),
        (i.len, i.size, i.k0, i.k1, i.r0, i.r1),
        (i.g0 as u8, i.g1 as u8, i.gb as u8, i.gx as u8),
        (i.base, i.index, i.scale, i.seg, i.a16, i.ea_form),
        (i.disp, i.imm, i.imm2, i.cc, i.skip, i.back, i.relinked),
        (i.ins, i.ins.ip(), i.ins.next_ip()),
    )
}

#[test]
fn blocks_built_from_the_memo_equal_blocks_decoded_afresh() {
    let (mut a, mut b) = (minios(true), minios(false));
    for budget in [531_214, 3_000_000] {
        a.run(budget);
        b.run(budget);
        assert_eq!(state_hash(&a), state_hash(&b), "same guest state");
        assert_eq!(a.cache.blocks.len(), b.cache.blocks.len());
        for (x, y) in a.cache.blocks.iter().zip(&b.cache.blocks) {
            assert_eq!((x.key, x.ip, x.valid), (y.key, y.ip, y.valid));
            assert_eq!(x.insns.len(), y.insns.len(), "block at {:#x}", x.ip);
            for (i, j) in x.insns.iter().zip(&y.insns) {
                assert_eq!(fields(i), fields(j), "instruction at {:#x}", i.ip());
            }
        }
    }
    // The boot decodes thousands of instructions a second time without the memo (a jump
    // into a block's middle, a callee in each caller's trace): the memo served them.
    assert!(a.cache.recalls > 2000, "recalls: {}", a.cache.recalls);
    assert_eq!(b.cache.recalls, 0);
}
