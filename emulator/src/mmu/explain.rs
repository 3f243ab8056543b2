//! The text of an "explain this address" walk ([`WalkReport`]) for text front ends (gdb's
//! `monitor walk`): one line per entry read, under nested paging each guest entry followed
//! by the nested walk of its guest-physical address, then the result (physical address,
//! #PF error code or #VMEXIT NPF). Owns only wording; it must not walk tables.

use super::paging::{describe_entry, NestedWalk, WalkReport, WalkStep, PF_RSVD};
use std::fmt::Write;

fn entry_line(o: &mut String, indent: &str, st: &WalkStep, wide: bool, where_: &str) {
    let entry = if wide {
        format!("{:#018x}", st.entry)
    } else {
        format!("{:#010x}", st.entry)
    };
    let _ = writeln!(
        o,
        "{indent}{:<5} entry at {:#010x}{where_} = {entry}  {}",
        st.level,
        st.entry_addr,
        describe_entry(st.entry)
    );
}

fn nested_lines(o: &mut String, n: &NestedWalk, pae: bool) {
    for st in &n.steps {
        entry_line(o, "      nested ", st, pae, "");
    }
    let _ = match n.result {
        Ok(h) => writeln!(
            o,
            "      nested: guest-physical {:#010x} -> host-physical {h:#010x}",
            n.gpa
        ),
        Err(info1) => writeln!(
            o,
            "      nested: guest-physical {:#010x} -> nested page fault, EXITINFO1 {info1:#x}",
            n.gpa
        ),
    };
}

/// Appends the steps and the result of `r` to `o`. `cr3` is the CR3 the walk started from.
pub fn write_report(o: &mut String, r: &WalkReport, cr3: u32) {
    let lin = r.linear;
    let nested = r.nested.is_some() || r.npf.is_some();
    let nested_pae = r
        .steps
        .iter()
        .filter_map(|s| s.nested.as_ref())
        .chain(r.nested.as_ref())
        .flat_map(|n| n.steps.first())
        .any(|s| s.level == "PDPTE");
    if nested {
        let _ = writeln!(
            o,
            "nested paging: every guest table address and the final guest-physical address \
             go through the nested tables ({})",
            if nested_pae { "PAE" } else { "two-level" }
        );
    }
    if !r.paging {
        let _ = writeln!(
            o,
            "guest paging is off (CR0.PG = 0): guest-physical = linear"
        );
    } else if r.pae {
        let from = if nested { "memory" } else { "its register" };
        let _ = writeln!(
            o,
            "cr3 {cr3:#010x}  PAE: PDPT at {:#010x}; PDPTE {} comes from {from}",
            cr3 & 0xFFFF_FFE0,
            lin >> 30
        );
    } else {
        let _ = writeln!(o, "cr3 {cr3:#010x}");
    }
    let where_ = if nested { " (gPA)" } else { "" };
    for st in &r.steps {
        entry_line(o, "", st, r.pae, where_);
        if let Some(n) = &st.nested {
            nested_lines(o, n, nested_pae);
        }
    }
    if let Some(n) = &r.nested {
        let _ = writeln!(o, "final guest-physical address {:#010x}:", n.gpa);
        nested_lines(o, n, nested_pae);
    }
    if let Some((info1, gpa)) = r.npf {
        let on = if info1 & (1 << 33) != 0 {
            "a guest page-table access"
        } else {
            "the final guest-physical address"
        };
        let _ = write!(
            o,
            "-> #VMEXIT NPF (0x400) on {on}: EXITINFO1 {info1:#x}, EXITINFO2 {gpa:#x}"
        );
        return;
    }
    match r.result {
        Ok(p) if nested => {
            let _ = write!(o, "-> host-physical {p:#010x}");
        }
        Ok(p) => {
            let _ = write!(o, "-> physical {p:#010x}");
        }
        Err(code) => {
            let why = if code & PF_RSVD != 0 {
                " (reserved bit set)"
            } else {
                ""
            };
            let _ = write!(o, "-> page fault (#PF), error code {code:#x}{why}");
        }
    }
}
