//! One cell of the comparison: boot the setting, type the command, stop at each marker
//! (`MARK_PORT`) and read the counters there, then take the differences.
//!
//! Must not: change the machine's behaviour other than by stopping the run at a marker
//! (the port hook handles the write instead of the devices, which have nothing at that
//! port anyway), so a cell's numbers are those of an ordinary run of the same input.

use super::settings::StartFrom;
use super::{Cause, Cell, ExitKind, Figures, Images, Options, Setting, Workload, WorldShare};
use crate::boot::{boot, BootKind};
use crate::cpu::ctx::{Core, Request};
use crate::cpu::exception::Exception;
use crate::machine::{Machine, MachineConfig, RunExit};
use crate::trace::monitor::GUEST_SHARE;
use std::collections::BTreeMap;

/// The port minios's `mark()` writes (`samples/minios/syscall.h`: `MARK_PORT`).
pub const MARK_PORT: u16 = 0xEA;
const MARK_COMMAND: u32 = 1;
const MARK_BEGIN: u32 = 2;
const MARK_END: u32 = 3;

/// A marker ends the run as an exit request with an even status tagged here: the exit
/// port's statuses are always odd (`(v << 1) | 1`), so the two never meet.
const MARK_TAG: u32 = 0x4D00_0000;

fn mark_hook(core: &mut Core, _port: u16, _size: u8, value: u32) -> bool {
    core.request(Request::Exit(MARK_TAG | (value & 0xFF) << 1));
    true
}

fn marker(status: u32) -> Option<u32> {
    (status & 0xFF00_0001 == MARK_TAG).then_some((status >> 1) & 0xFF)
}

/// Instructions per slice of a run (between two progress reports).
const SLICE: u64 = 4_000_000;

/// Guest RAM of every run.
const RAM: usize = 32 << 20;

/// The counters at one instant.
struct Sample {
    clock_ns: u64,
    icount: u64,
    exceptions: Vec<u64>,
    interrupts: Vec<u64>,
    exits: BTreeMap<u64, (&'static str, u64)>,
    worlds: Vec<(String, u64, u64)>,
    charged_ns: u64,
    frames: u64,
    /// A monitor's own count of its guest's instructions (`trace::monitor::GUEST_SHARE`).
    monitor_guest: Option<u64>,
}

impl Sample {
    fn take(m: &Machine) -> Sample {
        let i = m.inspect();
        let c = i.counters();
        let l = i.ledger();
        Sample {
            clock_ns: c.now_ns,
            icount: c.icount,
            exceptions: c.exceptions,
            interrupts: c.interrupts,
            exits: l
                .exits
                .iter()
                .map(|e| (e.code, (e.name, e.count)))
                .collect(),
            worlds: l
                .retired
                .iter()
                .map(|w| (w.world.name(), w.kernel, w.user))
                .collect(),
            charged_ns: l.charged.total(),
            frames: used_frames(&m.core.mem.ram),
            monitor_guest: m.core.monitor.get(GUEST_SHARE),
        }
    }
}

/// RAM frames holding anything but zeros.
fn used_frames(ram: &[u8]) -> u64 {
    ram.chunks(4096)
        .filter(|f| f.iter().any(|&b| b != 0))
        .count() as u64
}

/// The name of an interrupt vector: minios's system call and tevmm's hypercall by their
/// gate, the IRQs of minios's PIC base (0x20) and of tevmm's (0xF0) by line.
fn interrupt_name(v: usize) -> String {
    match v {
        0x80 => "int 0x80 (system call)".into(),
        0x82 => "int 0x82 (hypercall)".into(),
        0x20..=0x2F => format!("IRQ {}", v - 0x20),
        0xF0..=0xFF => format!("IRQ {}", v - 0xF0),
        _ => format!("int {v:#04x}"),
    }
}

fn exception_name(v: usize) -> String {
    Exception::name(v as u8)
        .split(' ')
        .next()
        .unwrap_or("?")
        .to_string()
}

/// Sorted most frequent first (then by name), zeros left out.
fn causes(mut v: Vec<Cause>) -> Vec<Cause> {
    v.retain(|c| c.count > 0);
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    v
}

/// Where the start was: (virtual time in ns, instructions retired).
type Start = (u64, u64);

fn diff(begin: &Sample, end: &Sample, start: Start, exits: ExitKind, total: u64) -> Figures {
    let mut traps = Vec::new();
    for (v, (a, b)) in begin.exceptions.iter().zip(&end.exceptions).enumerate() {
        traps.push(Cause {
            name: exception_name(v),
            count: b - a,
        });
    }
    for (v, (a, b)) in begin.interrupts.iter().zip(&end.interrupts).enumerate() {
        traps.push(Cause {
            name: interrupt_name(v),
            count: b - a,
        });
    }
    let traps = causes(traps);
    let exit_list = match exits {
        ExitKind::None => vec![],
        ExitKind::Traps => traps.clone(),
        ExitKind::VmExits => causes(
            end.exits
                .iter()
                .map(|(code, (name, n))| Cause {
                    name: name.to_string(),
                    count: n - begin.exits.get(code).map_or(0, |e| e.1),
                })
                .collect(),
        ),
    };
    let worlds = end
        .worlds
        .iter()
        .map(|(w, k, u)| {
            let before = begin.worlds.iter().find(|b| &b.0 == w);
            WorldShare {
                world: w.clone(),
                kernel: k - before.map_or(0, |b| b.1),
                user: u - before.map_or(0, |b| b.2),
            }
        })
        .filter(|w| w.kernel + w.user > 0)
        .collect();
    Figures {
        time_ns: end.clock_ns - begin.clock_ns,
        instructions: end.icount - begin.icount,
        startup_ns: begin.clock_ns - start.0,
        startup_instructions: begin.icount - start.1,
        boot_ns: begin.clock_ns,
        boot_instructions: begin.icount,
        frames: begin.frames,
        exit_total: exit_list.iter().map(|c| c.count).sum(),
        exits: exit_list,
        traps,
        worlds,
        charged_ns: end.charged_ns - begin.charged_ns,
        run_instructions: total,
        monitor_guest_instructions: match (begin.monitor_guest, end.monitor_guest) {
            (Some(a), Some(b)) => Some(b.wrapping_sub(a)),
            _ => None,
        },
    }
}

/// Runs `workload` in `setting`: a fresh machine, the setting's images, the command typed.
/// `tick` is called after every slice of the run with the instructions retired so far.
pub fn run_cell(
    setting: &'static Setting,
    workload: Workload,
    images: &Images,
    opts: &Options,
    tick: &mut dyn FnMut(u64),
) -> Cell {
    let command = workload.command(&opts.sizes);
    let result = match setting.missing(images) {
        Some(why) => Err(format!("not available: {why}")),
        None => measure(setting, &command, images, opts, tick),
    };
    Cell {
        setting: setting.id,
        workload,
        command,
        result,
    }
}

fn measure(
    setting: &'static Setting,
    command: &str,
    images: &Images,
    opts: &Options,
    tick: &mut dyn FnMut(u64),
) -> Result<Figures, String> {
    let plan = (setting.plan)(command);
    let kernel = images
        .get(plan.kernel)
        .ok_or_else(|| format!("image not found: samples/{}", plan.kernel))?;
    let kind = BootKind::Multiboot {
        cmdline: plan.cmdline.clone(),
        modules: Setting::modules(&plan, images),
    };
    let cfg = MachineConfig {
        ram_bytes: RAM,
        ..MachineConfig::default()
    };
    let mut m = boot(cfg, kernel, &kind).map_err(|e| format!("boot: {e}"))?;
    m.set_costs(opts.costs);
    m.core.hook_port_write(MARK_PORT, mark_hook);
    m.core.dev.push_serial_input(plan.input.as_bytes());

    let mut tail: Vec<u8> = Vec::new();
    let mut start: Option<Start> = match setting.start_from {
        StartFrom::PowerOn => Some((0, 0)),
        StartFrom::FirstCommand => None,
    };
    let mut begin: Option<Sample> = None;
    let mut spent = 0u64;
    loop {
        let (i0, h0) = (m.core.icount, m.core.stats.halted_ticks);
        let left = opts.budget.saturating_sub(spent);
        if left == 0 {
            return Err(format!(
                "did not finish within {} instructions and ticks halted{}",
                opts.budget,
                last_words(&tail)
            ));
        }
        let r = m.run_limited(left.min(SLICE), left.min(SLICE));
        spent += (m.core.icount - i0) + (m.core.stats.halted_ticks - h0);
        keep_tail(&mut tail, m.core.dev.take_serial_output());
        tick(m.core.icount);
        match r {
            RunExit::Budget => {}
            RunExit::Exit(s) => match marker(s) {
                Some(MARK_COMMAND) => {
                    start.get_or_insert((m.core.now_ns(), m.core.icount));
                }
                Some(MARK_BEGIN) if begin.is_none() => {
                    begin = Some(Sample::take(&m));
                }
                Some(MARK_END) => {
                    let Some(b) = &begin else {
                        return Err("the workload ended before it began".into());
                    };
                    let end = Sample::take(&m);
                    let start = start.unwrap_or((0, 0));
                    return Ok(diff(b, &end, start, setting.exits, m.core.icount));
                }
                Some(_) => {}
                None => {
                    return Err(format!(
                        "the guest exited (status {s}) before the workload ended{}",
                        last_words(&tail)
                    ))
                }
            },
            RunExit::Halted => {
                return Err(format!(
                    "the machine halted for good ({}){}",
                    m.halt_reason()
                        .map_or_else(|| "HLT".to_string(), |h| h.to_string()),
                    last_words(&tail)
                ))
            }
            other => return Err(format!("the run ended: {other:?}{}", last_words(&tail))),
        }
    }
}

/// Keeps the last 400 bytes of serial output, for error messages.
fn keep_tail(tail: &mut Vec<u8>, new: Vec<u8>) {
    tail.extend(new);
    if tail.len() > 400 {
        tail.drain(..tail.len() - 400);
    }
}

fn last_words(tail: &[u8]) -> String {
    let text = String::from_utf8_lossy(tail);
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    if line.is_empty() {
        String::new()
    } else {
        format!("; its last output: {:?}", line.trim())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_never_look_like_exit_port_statuses() {
        for v in 0..=0xFFFFu32 {
            assert_eq!(marker(v.wrapping_shl(1) | 1), None);
        }
        for v in 0..=0xFF {
            assert_eq!(marker(MARK_TAG | v << 1), Some(v));
        }
    }

    #[test]
    fn frames_holding_data_are_counted() {
        let mut ram = vec![0u8; 4 * 4096];
        ram[4096 + 17] = 1;
        ram[3 * 4096 + 4095] = 9;
        assert_eq!(used_frames(&ram), 2);
    }
}
