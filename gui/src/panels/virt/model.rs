//! The worlds model the virtualization views share: from the event log a view carries
//! (world switches, privilege changes, exceptions and interrupts), which lane ran when
//! and every switch between lanes with its cause. Pure computation over `Event`s, no
//! drawing and no machine access; the core's counts (`LedgerState`) stay the authority
//! for totals, this model only explains the window of events the machine still keeps.
//!
//! Lanes: the host at ring 0 (the hypervisor, or the kernel when nothing is virtualized),
//! the host at ring 1-2 (a deprivileged guest kernel under a trap-and-emulate monitor such
//! as tevmm), the host's ring 3, and each SVM guest (by ASID) in kernel and user mode.

use traplab::inspect::exit_name;
use traplab::trace::{Event, EventKind};

/// Where instructions ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// The machine's own CPU (no guest between VMRUN and #VMEXIT), at this ring.
    Host { ring: u8 },
    /// An SVM guest (the ASID its VMRUN loaded), kernel (CPL 0-2) or user (CPL 3).
    Guest { asid: u32, user: bool },
}

impl Lane {
    /// Does this lane run the guest's code (an SVM guest, or under trap-and-emulate
    /// (`deprivileged`) any ring but the monitor's ring 0)?
    pub fn is_guest_code(&self, deprivileged: bool) -> bool {
        match *self {
            Lane::Guest { .. } => true,
            Lane::Host { ring } => deprivileged && ring > 0,
        }
    }

    /// Lanes are drawn in this order: hypervisor at the top, guest user space at the bottom.
    pub fn order(&self) -> (u32, u32) {
        match *self {
            Lane::Host { ring: 0 } => (0, 0),
            Lane::Host { ring: 3 } => (1, 0),
            Lane::Host { ring } => (2, ring as u32),
            Lane::Guest { asid, user } => (3 + asid, user as u32),
        }
    }

    pub fn ring(&self) -> u8 {
        match *self {
            Lane::Host { ring } => ring,
            Lane::Guest { user, .. } => {
                if user {
                    3
                } else {
                    0
                }
            }
        }
    }

    fn with_ring(self, ring: u8) -> Lane {
        match self {
            Lane::Host { .. } => Lane::Host { ring },
            Lane::Guest { asid, .. } => Lane::Guest {
                asid,
                user: ring == 3,
            },
        }
    }

    /// The VM a lane belongs to, for per-VM tables: the SVM guest's ASID, or 0 for the
    /// deprivileged rings of the host (a trap-and-emulate monitor's one guest: its kernel
    /// at ring 1-2 and, when there is one, its user space at ring 3).
    pub fn vm(&self, deprivileged: bool) -> Option<u32> {
        match *self {
            Lane::Guest { asid, .. } => Some(asid),
            Lane::Host { ring: 1 | 2 } => Some(0),
            Lane::Host { ring: 3 } if deprivileged => Some(0),
            Lane::Host { .. } => None,
        }
    }
}

/// Why a switch happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// #VMEXIT with this code (`exit_name` names it) from the guest with this ASID;
    /// VMMCALL is the SVM hypercall. A VMRUN that fails its checks exits too
    /// (VMEXIT_INVALID) without leaving the host.
    Exit {
        code: u64,
        info1: u64,
        info2: u64,
        asid: u32,
    },
    /// VMRUN entered the guest.
    Vmrun,
    /// An exception (a trap into the monitor or kernel), with its error code.
    Trap { vector: u8, error: Option<u32> },
    /// A page fault at this address.
    PageFault { addr: u32, error: u32 },
    /// `int n`: a system call, or tevmm's hypercall (`int 0x82`).
    SoftInt { vector: u8 },
    /// A device interrupt.
    Irq { vector: u8 },
    /// A return to a less privileged ring (IRET, RET far) or a far transfer.
    Return,
}

/// tevmm's paravirtual hypercall vector (samples/tevmm/hypercall.h).
pub const TEVMM_HYPERCALL: u8 = 0x82;

/// The #VMEXIT code of VMMCALL (AMD APM Appendix C).
pub const VMEXIT_VMMCALL: u64 = 0x81;

impl Cause {
    /// Short text: `#VMEXIT CPUID`, `#GP trap`, `hypercall`, `int 0x80`...
    pub fn short(&self) -> String {
        match self {
            Cause::Exit { code, .. } if *code == VMEXIT_VMMCALL => "hypercall (VMMCALL)".into(),
            Cause::Exit { code, .. } => format!("#VMEXIT {}", exit_name(*code)),
            Cause::Vmrun => "VMRUN".into(),
            Cause::Trap { vector, .. } => format!("{} trap", vector_name(*vector)),
            Cause::PageFault { .. } => "#PF trap".into(),
            Cause::SoftInt { vector } if *vector == TEVMM_HYPERCALL => {
                "hypercall (int 0x82)".into()
            }
            Cause::SoftInt { vector } => format!("int {vector:#04x}"),
            Cause::Irq { vector } => format!("IRQ {vector:#04x}"),
            Cause::Return => "return".into(),
        }
    }

    /// A key for tables of causes (the same text for the same kind of exit or trap).
    pub fn key(&self) -> String {
        match self {
            Cause::Trap { vector, .. } => format!("{} trap", vector_name(*vector)),
            other => other.short(),
        }
    }

    /// A switch into the hypervisor (or monitor): the kinds a ledger counts.
    pub fn is_entry(&self) -> bool {
        !matches!(self, Cause::Vmrun | Cause::Return)
    }

    pub fn is_hypercall(&self) -> bool {
        matches!(self, Cause::Exit { code, .. } if *code == VMEXIT_VMMCALL)
            || matches!(self, Cause::SoftInt { vector } if *vector == TEVMM_HYPERCALL)
    }
}

pub fn vector_name(v: u8) -> String {
    match crate::panels::events::vector_name(v) {
        "" | "-" => format!("vector {v}"),
        n => n.to_string(),
    }
}

/// One world switch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub icount: u64,
    pub from: Lane,
    pub to: Lane,
    pub cause: Cause,
    /// Where the CPU was (the event's CS:EIP: the trapping instruction for a trap; for a
    /// #VMEXIT the guest's RIP, with the host's CS).
    pub cs: u16,
    pub eip: u32,
}

/// A stretch of instructions in one lane: [start, end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub lane: Lane,
    pub start: u64,
    pub end: u64,
}

/// The lanes, switches and segments of the kept events, up to `now`.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub lanes: Vec<Lane>,
    pub switches: Vec<Switch>,
    pub segments: Vec<Segment>,
    /// The first instruction count the events explain, and the current one.
    pub start: u64,
    pub now: u64,
}

/// An entry into the hypervisor (or monitor) and the time until the guest ran again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub icount: u64,
    pub vm: u32,
    pub cause: Cause,
    /// Instructions the host ran before the guest resumed (None: it has not resumed yet).
    pub handler: Option<u64>,
}

/// The events in time order: the lasting ones older than the recent log, then the recent
/// log (the same merge as the events panel's).
pub fn merged<'a>(lasting: &'a [Event], recent: &'a [Event]) -> Vec<&'a Event> {
    let first = recent.first();
    let mut out: Vec<&Event> = lasting
        .iter()
        .filter(|e| match first {
            None => true,
            Some(f) => {
                e.icount < f.icount
                    || (e.icount == f.icount
                        && !recent
                            .iter()
                            .take_while(|r| r.icount == f.icount)
                            .any(|r| r == *e))
            }
        })
        .collect();
    out.extend(recent.iter());
    out
}

impl Timeline {
    /// Builds the timeline from the kept events; `now` is the current instruction count
    /// and `lane_now` the lane that runs now (it closes the last segment).
    pub fn build(lasting: &[Event], recent: &[Event], now: u64, lane_now: Lane) -> Timeline {
        let events = merged(lasting, recent);
        let mut t = Timeline {
            now,
            ..Timeline::default()
        };
        let Some(first) = events.first() else {
            t.start = now;
            t.segments.push(Segment {
                lane: lane_now,
                start: now,
                end: now,
            });
            t.lanes.push(lane_now);
            return t;
        };
        t.start = first.icount;
        let mut lane = initial_lane(&events).unwrap_or(lane_now);
        let mut seg_start = t.start;
        // The cause waiting for the switch it explains (events at the same icount).
        let mut pending: Option<(u64, Cause, u16, u32)> = None;
        for e in &events {
            if pending.as_ref().is_some_and(|p| p.0 != e.icount) {
                pending = None;
            }
            let next = match &e.kind {
                EventKind::Vmrun { asid, .. } => Some((
                    Lane::Guest {
                        asid: *asid,
                        user: false,
                    },
                    Cause::Vmrun,
                )),
                EventKind::Vmexit {
                    code,
                    info1,
                    info2,
                    asid,
                    ..
                } => Some((
                    Lane::Host { ring: 0 },
                    Cause::Exit {
                        code: *code,
                        info1: *info1,
                        info2: *info2,
                        asid: *asid,
                    },
                )),
                EventKind::PrivilegeChange { from, to } => {
                    if lane.ring() != *from {
                        // What the events did not say (a guest's CPL at VMRUN, the state
                        // before the window): the stretch so far ran at `from`.
                        let fixed = lane.with_ring(*from);
                        if let Some(s) = t.switches.last_mut().filter(|s| s.to == lane) {
                            s.to = fixed;
                        }
                        lane = fixed;
                    }
                    let cause = match pending.take() {
                        Some((_, c, _, _)) if *to < *from => c,
                        _ => Cause::Return,
                    };
                    Some((lane.with_ring(*to), cause))
                }
                EventKind::Exception { vector, error_code } => {
                    pending = Some((
                        e.icount,
                        Cause::Trap {
                            vector: *vector,
                            error: *error_code,
                        },
                        e.cs,
                        e.eip,
                    ));
                    None
                }
                EventKind::PageFault { addr, error_code } => {
                    pending = Some((
                        e.icount,
                        Cause::PageFault {
                            addr: *addr,
                            error: *error_code,
                        },
                        e.cs,
                        e.eip,
                    ));
                    None
                }
                EventKind::Interrupt { vector, external } => {
                    // A page fault's own exception event comes first: keep the richer one.
                    if !matches!(pending, Some((_, Cause::PageFault { .. }, _, _))) {
                        let c = if *external {
                            Cause::Irq { vector: *vector }
                        } else {
                            Cause::SoftInt { vector: *vector }
                        };
                        pending = Some((e.icount, c, e.cs, e.eip));
                    }
                    None
                }
                _ => None,
            };
            let Some((to, cause)) = next else {
                continue;
            };
            // Every exit is a switch, even a failed VMRUN's (host to host).
            if to == lane && !matches!(cause, Cause::Exit { .. }) {
                continue;
            }
            t.close(lane, seg_start, e.icount);
            seg_start = e.icount;
            // Several events at one instruction (an exception delivered, then its CPL
            // change): one switch, from the first lane to the last.
            match t.switches.last_mut() {
                Some(s) if s.icount == e.icount && s.to == lane && s.from != s.to => {
                    s.to = to;
                    if matches!(s.cause, Cause::Return | Cause::Vmrun) && cause.is_entry() {
                        s.cause = cause;
                    }
                }
                _ => t.switches.push(Switch {
                    icount: e.icount,
                    from: lane,
                    to,
                    cause,
                    cs: e.cs,
                    // An exit is where the guest was (its RIP), not the host's VMRUN.
                    eip: match e.kind {
                        EventKind::Vmexit { rip, .. } => rip,
                        _ => e.eip,
                    },
                }),
            }
            lane = to;
        }
        t.close(lane, seg_start, now.max(seg_start));
        let mut lanes: Vec<Lane> = t.segments.iter().map(|s| s.lane).collect();
        lanes.extend(t.switches.iter().flat_map(|s| [s.from, s.to]));
        lanes.push(lane_now);
        lanes.sort_by_key(|l| l.order());
        lanes.dedup();
        t.lanes = lanes;
        t
    }

    fn close(&mut self, lane: Lane, start: u64, end: u64) {
        match self.segments.last_mut() {
            Some(s) if s.lane == lane && s.end == start => s.end = end,
            _ if end > start => self.segments.push(Segment { lane, start, end }),
            _ => {}
        }
    }

    /// Entries into the hypervisor or monitor from a guest, each with the instructions the
    /// host ran until the guest resumed.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = Vec::new();
        let mut open: Option<usize> = None;
        let dp = self.deprivileged();
        for s in &self.switches {
            let into_host = s.to == (Lane::Host { ring: 0 });
            let vm = match s.cause {
                Cause::Exit { asid, .. } => Some(asid),
                _ => s.from.vm(dp),
            };
            if let (Some(vm), true) = (vm, into_host && s.cause.is_entry()) {
                out.push(Entry {
                    icount: s.icount,
                    vm,
                    cause: s.cause.clone(),
                    handler: None,
                });
                open = Some(out.len() - 1);
            } else if let (Some(i), Some(_)) = (open, s.to.vm(dp)) {
                if s.from == (Lane::Host { ring: 0 }) {
                    out[i].handler = Some(s.icount - out[i].icount);
                    open = None;
                }
            }
        }
        out
    }

    /// A guest kernel ran deprivileged (ring 1 or 2) in the window: a trap-and-emulate
    /// monitor runs, and ring 3 is its guest's user space.
    pub fn deprivileged(&self) -> bool {
        self.lanes
            .iter()
            .any(|l| matches!(l, Lane::Host { ring: 1 | 2 }))
    }

    /// The switch nearest to `icount` (for clicks on the timeline), if any.
    pub fn nearest(&self, icount: f64) -> Option<&Switch> {
        let i = self
            .switches
            .partition_point(|s| (s.icount as f64) < icount);
        let a = i.checked_sub(1).and_then(|k| self.switches.get(k));
        let b = self.switches.get(i);
        match (a, b) {
            (Some(a), Some(b)) => {
                if icount - a.icount as f64 <= b.icount as f64 - icount {
                    Some(a)
                } else {
                    Some(b)
                }
            }
            (a, b) => a.or(b),
        }
    }
}

/// The lane the window starts in, from the first event that tells.
fn initial_lane(events: &[&Event]) -> Option<Lane> {
    for e in events {
        match &e.kind {
            EventKind::Vmrun { .. } => {
                return Some(Lane::Host { ring: 0 });
            }
            EventKind::Vmexit { asid, .. } => {
                return Some(Lane::Guest {
                    asid: *asid,
                    user: e.cs & 3 == 3,
                })
            }
            EventKind::PrivilegeChange { from, .. } => return Some(Lane::Host { ring: *from }),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(icount: u64, cs: u16, kind: EventKind) -> Event {
        Event {
            icount,
            cs,
            eip: 0x1000 + icount as u32,
            kind,
        }
    }

    #[test]
    fn svm_exits_and_a_trap_and_emulate_round_trip_become_switches_with_causes() {
        let events = vec![
            ev(10, 8, EventKind::Vmrun { asid: 1, rip: 0 }),
            ev(
                25,
                8,
                EventKind::Vmexit {
                    code: 0x72,
                    info1: 0,
                    info2: 0,
                    rip: 0x40,
                    asid: 1,
                },
            ),
            ev(40, 8, EventKind::Vmrun { asid: 1, rip: 0x42 }),
            ev(
                50,
                8,
                EventKind::Vmexit {
                    code: VMEXIT_VMMCALL,
                    info1: 0,
                    info2: 0,
                    rip: 0x50,
                    asid: 1,
                },
            ),
        ];
        let t = Timeline::build(&[], &events, 60, Lane::Host { ring: 0 });
        assert_eq!(t.start, 10);
        let causes: Vec<String> = t.switches.iter().map(|s| s.cause.short()).collect();
        assert_eq!(
            causes,
            ["VMRUN", "#VMEXIT CPUID", "VMRUN", "hypercall (VMMCALL)"]
        );
        let e = t.entries();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].vm, e[0].handler), (1, Some(15)));
        assert_eq!(e[1].handler, None, "the guest has not resumed");
        assert_eq!(
            t.lanes,
            [
                Lane::Host { ring: 0 },
                Lane::Guest {
                    asid: 1,
                    user: false
                }
            ]
        );
        assert_eq!(t.nearest(27.0).unwrap().icount, 25);

        // tevmm: the guest kernel at ring 1 traps (#GP) into the monitor and is resumed.
        let events = vec![
            ev(
                5,
                0x09,
                EventKind::Exception {
                    vector: 13,
                    error_code: Some(0),
                },
            ),
            ev(5, 0x09, EventKind::PrivilegeChange { from: 1, to: 0 }),
            ev(30, 0x08, EventKind::PrivilegeChange { from: 0, to: 1 }),
            ev(
                40,
                0x1b,
                EventKind::Interrupt {
                    vector: TEVMM_HYPERCALL,
                    external: false,
                },
            ),
            ev(40, 0x1b, EventKind::PrivilegeChange { from: 3, to: 0 }),
        ];
        let t = Timeline::build(&[], &events, 45, Lane::Host { ring: 0 });
        let causes: Vec<String> = t.switches.iter().map(|s| s.cause.short()).collect();
        assert_eq!(causes, ["#GP trap", "return", "hypercall (int 0x82)"]);
        // Ring 1 up to the trap, the monitor, then (unsaid) ring 3 until the hypercall.
        let lanes: Vec<Lane> = t.segments.iter().map(|s| s.lane).collect();
        assert_eq!(
            lanes,
            [0, 3, 0].map(|ring| Lane::Host { ring }),
            "{:?}",
            t.segments
        );
        assert_eq!(t.switches[1].to, Lane::Host { ring: 3 });
        let e = t.entries();
        assert_eq!((e[0].vm, e[0].handler), (0, Some(25)));
        assert!(e[1].cause.is_hypercall());
    }
}
