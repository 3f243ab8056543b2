//! Nested paging end to end (AMD APM Vol. 2 15.25): `samples/nptloop` runs a guest with its
//! own two-level paging over PAE nested tables (a PAE host). While the guest runs, the
//! inspection API's walk is the 2-D walk (each guest level's gPA -> hPA), peeks go through
//! it, the nested context is the one VMRUN set; every TLB miss costs exactly the 2-D walk's
//! references; #VMEXIT clears the context; a snapshot taken in the guest restores and runs
//! to the same state as the uninterrupted run.

use traplab::boot::{boot, BootKind};
use traplab::machine::{Machine, MachineConfig, RunExit};
use traplab::mmu::paging::Access;

const IMAGE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../samples/nptloop/nptloop.elf"
);

fn symbol(image: &[u8], name: &str) -> u32 {
    let elf = goblin::elf::Elf::parse(image).expect("ELF");
    elf.syms
        .iter()
        .find(|s| elf.strtab.get_at(s.st_name) == Some(name))
        .unwrap_or_else(|| panic!("symbol {name}"))
        .st_value as u32
}

fn start(image: &[u8], iters: u32) -> Machine {
    let kind = BootKind::Multiboot {
        cmdline: format!("iters={iters}"),
        modules: vec![],
    };
    boot(MachineConfig::default(), image, &kind).expect("boots")
}

/// Runs until the CPU is in the guest (a few instructions at a time).
fn run_into_guest(m: &mut Machine) {
    for _ in 0..100_000 {
        if m.core.svm.guest {
            return;
        }
        assert_eq!(m.run(100), RunExit::Budget, "the guest must start");
    }
    panic!("never entered the guest");
}

#[test]
fn the_guest_walk_is_two_dimensional_and_counted() {
    let image = std::fs::read(IMAGE).expect("samples/nptloop/nptloop.elf");
    let (probe_a, probe_b) = (symbol(&image, "probe_a"), symbol(&image, "probe_b"));
    assert_ne!(probe_a, probe_b);
    let mut m = start(&image, 100_000);
    run_into_guest(&mut m);
    let mmu = m.inspect().mmu();
    let (n_cr3, pae) = mmu.nested.active.expect("nested paging on in the guest");
    assert!(pae, "a PAE host: PAE nested tables");
    assert_eq!(n_cr3, symbol(&image, "n_pdpt"));
    // The guest maps probe_a to itself; the nested tables send its page to probe_b's.
    let w = m.inspect().walk(probe_a + 8, Access::READ);
    assert_eq!(w.result, Ok(probe_b + 8), "{w:#?}");
    assert_eq!(w.npf, None);
    assert!(w.paging && !w.pae, "the guest's own two-level paging");
    assert_eq!(w.steps.len(), 2);
    for s in &w.steps {
        let n = s
            .nested
            .as_ref()
            .expect("each guest level has its nested walk");
        assert_eq!(n.gpa, s.entry_addr);
        assert_eq!(n.result, Ok(s.entry_addr), "guest tables are mapped 1:1");
        let levels: Vec<_> = n.steps.iter().map(|x| x.level.as_str()).collect();
        assert_eq!(levels, ["PDPTE", "PDE", "PTE"]);
    }
    let fin = w.nested.as_ref().expect("the final address's nested walk");
    assert_eq!((fin.gpa, fin.result), (probe_a + 8, Ok(probe_b + 8)));
    let mut text = String::new();
    traplab::mmu::explain::write_report(&mut text, &w, m.core.cpu.cr3);
    assert!(text.contains("host-physical"), "{text}");
    // Peeks (debugger reads of guest memory) go through the 2-D walk too.
    let b = m.core.peek_lin(probe_a, 4).expect("mapped");
    assert_eq!(u32::from_le_bytes([b[0], b[1], b[2], b[3]]), 0x2222_BBBB);
    // To the end: every 2-D walk of this guest read 2 x (3 + 1) + 3 = 11 entries.
    assert_eq!(m.run(100_000_000), RunExit::Exit(1));
    let n = m.inspect().mmu().nested;
    assert!(n.walks > 0);
    assert_eq!(n.refs, 11 * n.walks, "{n:?}");
    assert_eq!(n.active, None, "#VMEXIT left nested paging");
}

#[test]
fn a_snapshot_in_the_guest_resumes_with_its_nested_paging() {
    let image = std::fs::read(IMAGE).expect("samples/nptloop/nptloop.elf");
    let mut a = start(&image, 20_000);
    run_into_guest(&mut a);
    assert_eq!(a.run(5_000), RunExit::Budget);
    let snap = traplab::snapshot::save(&a);
    let mut b = traplab::snapshot::restore(&snap).expect("restores");
    assert!(b.inspect().mmu().nested.active.is_some());
    assert_eq!(a.run(100_000_000), RunExit::Exit(1));
    assert_eq!(b.run(100_000_000), RunExit::Exit(1));
    assert_eq!(
        traplab::snapshot::state_hash(&a),
        traplab::snapshot::state_hash(&b)
    );
    assert_eq!(a.icount(), b.icount());
}

/// Nested walks cost virtual time when the charged TLB model misses (`mmu::charged`), and a
/// restored machine charges exactly what the original did, although its software TLB
/// starts empty and walks again where the original's hit.
#[test]
fn nested_walks_are_charged_the_same_after_a_restore() {
    let image = std::fs::read(IMAGE).expect("samples/nptloop/nptloop.elf");
    let mut a = start(&image, 20_000);
    run_into_guest(&mut a);
    assert_eq!(a.run(5_000), RunExit::Budget);
    let charged_before = a.inspect().ledger().nested_walks;
    assert!(charged_before > 0, "the guest's first pages were charged");
    let soft_before = a.inspect().mmu().nested.walks;
    let mut b = traplab::snapshot::restore(&traplab::snapshot::save(&a)).expect("restores");
    assert_eq!(a.run(100_000_000), RunExit::Exit(1));
    assert_eq!(b.run(100_000_000), RunExit::Exit(1));
    let soft_a = a.inspect().mmu().nested.walks - soft_before;
    let soft_b = b.inspect().mmu().nested.walks;
    assert!(
        soft_b > soft_a,
        "the restored software TLB walked again: {soft_b} walks against {soft_a}"
    );
    let (la, lb) = (a.inspect().ledger(), b.inspect().ledger());
    assert!(la.nested_walks >= charged_before);
    assert_eq!(
        (la.nested_walks, la.nested_refs),
        (lb.nested_walks, lb.nested_refs)
    );
    assert_eq!(
        la.nested_refs,
        11 * la.nested_walks,
        "2 x (3 + 1) + 3 references each"
    );
    assert_eq!(
        la.charged.nested_ref,
        10 * la.nested_refs,
        "10 ns a reference"
    );
    assert_eq!(a.inspect().now_ns(), b.inspect().now_ns());
    assert_eq!(
        traplab::snapshot::state_hash(&a),
        traplab::snapshot::state_hash(&b)
    );
}
