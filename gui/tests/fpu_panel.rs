//! The FPU section of the CPU panel, on a machine stopped after FNINIT, FLD1, FLDPI: the
//! stack in ST order with physical registers and tags, the control word decoded, in English
//! and Spanish.

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use traplab::boot::{boot, BootKind};
use traplab::debug::session::Session;
use traplab::inspect::FpuState;
use traplab::machine::{MachineConfig, RunExit};
use traplab_gui::i18n::Lang;
use traplab_gui::panels::fpu;
use traplab_gui::symbols::Symbols;
use traplab_gui::view::{EventsCache, MachineView, ViewRequest};

fn fpu_state() -> FpuState {
    // fninit; fld1; fldpi; hlt (IF = 0: halted for good)
    let code = [0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEB, 0xF4];
    let kind = BootKind::Flat {
        addr: 0x1000,
        real: false,
    };
    let mut m = boot(MachineConfig::default(), &code, &kind).unwrap();
    assert_eq!(m.run(100), RunExit::Halted);
    let s = Session::new(m);
    let mv = MachineView::capture(
        &s,
        &ViewRequest::default(),
        None,
        &Symbols::default(),
        &mut EventsCache::default(),
    );
    mv.cpu.fpu.clone()
}

fn harness(f: FpuState, lang: Lang) -> Harness<'static, (FpuState, Lang)> {
    Harness::builder()
        .with_size(egui::vec2(1000.0, 600.0))
        .build_ui_state(
            |ui, st: &mut (FpuState, Lang)| fpu::ui(ui, &st.0, None, st.1),
            (f, lang),
        )
}

#[test]
fn fpu_stack_and_words_decoded() {
    let f = fpu_state();
    assert_eq!(f.top, 6);
    let mut h = harness(f.clone(), Lang::En);
    h.get_by_label("x87 FPU").click();
    h.run();
    h.get_by_label("ST(0) = R6");
    h.get_by_label("ST(1) = R7");
    h.get_by_label("ST(7) = R5");
    assert!(
        h.query_all_by_label("valid").count() == 2,
        "ST(0) and ST(1) valid"
    );
    assert!(h.query_all_by_label("empty").count() == 6);
    assert!(h
        .query_all_by_label_contains("precision: 64 bits (extended)")
        .next()
        .is_some());
    assert!(h.query_all_by_label_contains("TOP=6").next().is_some());
    let mut h = harness(f, Lang::Es);
    h.get_by_label("FPU x87").click();
    h.run();
    assert!(h.query_all_by_label("vacío").count() == 6);
    assert!(h
        .query_all_by_label_contains("redondeo: al más cercano")
        .next()
        .is_some());
}
