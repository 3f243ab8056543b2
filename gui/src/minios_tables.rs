//! minios's process, namespace and cgroup tables, read out of guest memory through the
//! kernel's ELF symbols (`procs`, `pidns`, `utsns`, `groups`, `nets`, `bridges`, `inodes`),
//! for the Containers view: which processes run, in which PID/UTS/mount/network namespace
//! and cgroup, what a container's root layers are, its limits and usage. The Linux
//! counterparts are /proc/PID/status's NSpid, /proc/PID/ns/* and /sys/fs/cgroup. Also the
//! last lines of dockerd's request log (/var/log/dockerd.log), read from the in-memory
//! file system's inodes and page frames.
//!
//! Owns: the byte layout of those C structs (samples/minios/kernel.h, ns.c, cgroup.c, net.c,
//! fs.c; `tests::layout_matches_the_c_structs` checks every offset against gcc), and the
//! grouping of processes into containers. Must not: write guest memory or trust it: every
//! index read from the guest is bounds-checked, a table whose symbol size does not match the
//! layout is reported as a changed layout, never misread.

use crate::symbols::Symbols;
use std::collections::BTreeMap;

/// Reads `len` bytes of guest memory at a kernel address (None: unreadable).
pub type Peek<'a> = &'a dyn Fn(u32, usize) -> Option<Vec<u8>>;

/// Element sizes and counts of the tables (kernel.h: NPROC, ns.c: NNS, cgroup.h: NCGROUP...).
const PROC_SIZE: u32 = 420;
const PIDNS_SIZE: u32 = 12;
const UTSNS_SIZE: u32 = 36;
const GROUP_SIZE: u32 = 60;
const NETNS_SIZE: u32 = 40;
const BRIDGE_SIZE: u32 = 20;
const INODE_SIZE: u32 = 560;
/// `struct eth`s per network namespace (net.c: NETH).
const NETH: u32 = 3;

/// struct proc's fields (kernel.h).
mod proc_off {
    pub const PID: usize = 0;
    pub const PPID: usize = 4;
    pub const STATE: usize = 8;
    pub const NAME: usize = 12;
    pub const NAME_LEN: usize = 16;
    pub const ROOT: usize = 128;
    pub const VPID: usize = 132;
    pub const PIDNS: usize = 136;
    pub const UTS: usize = 140;
    pub const CG: usize = 144;
    pub const NETNS: usize = 148;
    pub const IPCNS: usize = 152;
}

/// struct cgroup's fields (cgroup.c).
mod group_off {
    pub const NAME: usize = 4;
    pub const NAME_LEN: usize = 16;
    pub const MEM_MAX: usize = 20;
    pub const MEM_CUR: usize = 24;
    pub const WEIGHT: usize = 28;
    pub const TICKS: usize = 32;
    pub const PIDS_MAX: usize = 40;
    pub const PIDS_CUR: usize = 44;
}

/// struct inode's fields (fs.c).
mod inode_off {
    pub const USED: usize = 0;
    pub const LOWER: usize = 8;
    pub const PARENT: usize = 12;
    pub const NAME: usize = 16;
    pub const NAME_LEN: usize = 28;
    pub const SIZE: usize = 44;
    pub const PAGES: usize = 48;
}

/// minios's page size; a file's bytes live in whole page frames (fs.c).
const PAGE: u32 = 4096;
/// The file dockerd logs every answered API request to (dockerd.c `log_request`).
pub const API_LOG: &str = "/var/log/dockerd.log";
/// How many of its last requests are kept.
const API_LOG_LINES: usize = 12;
/// How many bytes of its end are read (dockerd starts it again past 3 KiB).
const API_LOG_TAIL: u32 = 2048;

/// A process slot in use (syscall.h's PROC_* states).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proc {
    /// Global pid (what the initial PID namespace sees).
    pub pid: i32,
    pub ppid: i32,
    pub state: i32,
    pub name: String,
    /// Its pid inside its own PID namespace.
    pub vpid: i32,
    pub pidns: i32,
    pub uts: i32,
    pub cg: i32,
    pub netns: i32,
    pub ipcns: i32,
    /// Inode of its "/" (0: the real root).
    pub root: i32,
}

impl Proc {
    /// The state as `ps` would say it (an i18n key).
    pub fn state_key(&self) -> &'static str {
        match self.state {
            1 => "ct_ready",
            2 => "ct_running",
            3 => "ct_blocked",
            4 => "ct_zombie",
            _ => "ct_unknown",
        }
    }
}

/// A cgroup (memory in page frames; max 0 = no limit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub mem_max: i32,
    pub mem_cur: i32,
    pub weight: i32,
    /// Timer ticks of CPU its processes used.
    pub ticks: u32,
    pub pids_max: i32,
    pub pids_cur: i32,
}

/// A network interface of a namespace: plugged into a bridge, with an IPv4 address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Eth {
    pub bridge: String,
    pub addr: u32,
    pub prefix: i32,
}

impl Eth {
    pub fn address(&self) -> String {
        let a = self.addr.to_be_bytes();
        format!("{}.{}.{}.{}/{}", a[0], a[1], a[2], a[3], self.prefix)
    }
}

/// Everything read, indexed the way the kernel indexes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tables {
    pub procs: Vec<Proc>,
    /// Hostname of each UTS namespace in use (None: a free slot).
    pub hostnames: Vec<Option<String>>,
    pub groups: Vec<Option<Group>>,
    /// The interfaces of each network namespace in use (lo is implicit).
    pub nets: Vec<Option<Vec<Eth>>>,
    /// For each root inode a process uses: its path, then its lower layers' paths.
    pub layers: BTreeMap<i32, Vec<String>>,
    /// dockerd's last answered API requests, oldest first (empty: no log file yet).
    pub api_log: Vec<ApiRequest>,
}

/// One line of dockerd's request log: "N unix|tcp METHOD TARGET -> STATUS".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiRequest {
    /// Its number since dockerd started.
    pub seq: u32,
    /// "unix" (/var/run/docker.sock) or "tcp" (port 2375).
    pub via: String,
    pub method: String,
    pub target: String,
    pub status: u16,
}

impl ApiRequest {
    /// Parses one log line (None: not in dockerd's format; the guest's bytes are not trusted).
    pub fn parse(line: &str) -> Option<ApiRequest> {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [seq, via, method, target, "->", status] = w[..] else {
            return None;
        };
        Some(ApiRequest {
            seq: seq.parse().ok()?,
            via: via.into(),
            method: method.into(),
            target: target.into(),
            status: status.parse().ok()?,
        })
    }
}

/// One container: the processes sharing a PID namespace other than the initial one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container<'a> {
    /// The cgroup's name (dockerd names it after the container), else the hostname.
    pub name: String,
    pub pidns: i32,
    pub hostname: Option<&'a str>,
    pub group: Option<&'a Group>,
    pub eths: &'a [Eth],
    pub layers: &'a [String],
    pub procs: Vec<&'a Proc>,
}

impl Tables {
    /// Reads the tables of the minios kernel whose symbols are `syms`. Err: not minios
    /// (a table's symbol is missing), or a layout this module does not know.
    pub fn read(syms: &Symbols, peek: Peek) -> Result<Tables, String> {
        let procs = table(syms, peek, "procs", PROC_SIZE)?;
        let utsns = table(syms, peek, "utsns", UTSNS_SIZE)?;
        let _pidns = table(syms, peek, "pidns", PIDNS_SIZE)?;
        let groups = table(syms, peek, "groups", GROUP_SIZE)?;
        let nets = table(syms, peek, "nets", NETNS_SIZE)?;
        let bridges = table(syms, peek, "bridges", BRIDGE_SIZE)?;
        let (inodes_at, inodes_n) = sized(syms, "inodes", INODE_SIZE)?;

        let mut t = Tables::default();
        for p in procs.chunks(PROC_SIZE as usize) {
            let state = i32_at(p, proc_off::STATE);
            if state == 0 {
                continue;
            }
            t.procs.push(Proc {
                pid: i32_at(p, proc_off::PID),
                ppid: i32_at(p, proc_off::PPID),
                state,
                name: c_str(&p[proc_off::NAME..proc_off::NAME + proc_off::NAME_LEN]),
                vpid: i32_at(p, proc_off::VPID),
                pidns: i32_at(p, proc_off::PIDNS),
                uts: i32_at(p, proc_off::UTS),
                cg: i32_at(p, proc_off::CG),
                netns: i32_at(p, proc_off::NETNS),
                ipcns: i32_at(p, proc_off::IPCNS),
                root: i32_at(p, proc_off::ROOT),
            });
        }
        t.hostnames = utsns
            .chunks(UTSNS_SIZE as usize)
            .map(|u| (i32_at(u, 0) != 0).then(|| c_str(&u[4..UTSNS_SIZE as usize])))
            .collect();
        t.groups = groups
            .chunks(GROUP_SIZE as usize)
            .map(|g| {
                use group_off::*;
                (i32_at(g, 0) != 0).then(|| Group {
                    name: c_str(&g[NAME..NAME + NAME_LEN]),
                    mem_max: i32_at(g, MEM_MAX),
                    mem_cur: i32_at(g, MEM_CUR),
                    weight: i32_at(g, WEIGHT),
                    ticks: i32_at(g, TICKS) as u32,
                    pids_max: i32_at(g, PIDS_MAX),
                    pids_cur: i32_at(g, PIDS_CUR),
                })
            })
            .collect();
        let bridge_names: Vec<Option<String>> = bridges
            .chunks(BRIDGE_SIZE as usize)
            .map(|b| (i32_at(b, 0) != 0).then(|| c_str(&b[4..BRIDGE_SIZE as usize])))
            .collect();
        t.nets = nets
            .chunks(NETNS_SIZE as usize)
            .map(|n| {
                (i32_at(n, 0) != 0).then(|| {
                    (0..NETH as usize)
                        .filter_map(|k| {
                            let e = 4 + 12 * k;
                            let bridge = i32_at(n, e);
                            (bridge > 0).then(|| Eth {
                                bridge: usize::try_from(bridge - 1)
                                    .ok()
                                    .and_then(|b| bridge_names.get(b).cloned().flatten())
                                    .unwrap_or_else(|| format!("#{bridge}")),
                                addr: i32_at(n, e + 4) as u32,
                                prefix: i32_at(n, e + 8),
                            })
                        })
                        .collect()
                })
            })
            .collect();
        t.api_log = read_api_log(peek, inodes_at, inodes_n);
        let inode = |ino: i32| -> Option<Vec<u8>> {
            let k = u32::try_from(ino).ok().filter(|&k| k < inodes_n)?;
            let b = peek(inodes_at + k * INODE_SIZE, 32 + inode_off::NAME_LEN)?;
            (b[inode_off::USED] != 0).then_some(b)
        };
        for root in t.procs.iter().map(|p| p.root).collect::<Vec<_>>() {
            if t.layers.contains_key(&root) {
                continue;
            }
            let mut layers = Vec::new();
            let mut ino = root;
            // Each layer's lower; a bounded chain (the guest's memory is not trusted).
            for _ in 0..8 {
                layers.push(path_of(ino, &inode));
                match inode(ino).map(|b| i32_at(&b, inode_off::LOWER)) {
                    Some(l) if l > 0 && l != ino => ino = l,
                    _ => break,
                }
            }
            t.layers.insert(root, layers);
        }
        Ok(t)
    }

    /// The processes of the initial PID namespace (the host's).
    pub fn host_procs(&self) -> Vec<&Proc> {
        self.procs.iter().filter(|p| p.pidns == 0).collect()
    }

    /// The containers, by PID namespace, in order of their first process.
    pub fn containers(&self) -> Vec<Container<'_>> {
        let mut out: Vec<Container> = Vec::new();
        for p in self.procs.iter().filter(|p| p.pidns != 0) {
            if let Some(c) = out.iter_mut().find(|c| c.pidns == p.pidns) {
                c.procs.push(p);
                continue;
            }
            let at = |v: i32| usize::try_from(v).ok();
            let hostname = at(p.uts)
                .and_then(|u| self.hostnames.get(u))
                .and_then(|h| h.as_deref());
            let group = at(p.cg)
                .filter(|&g| g != 0)
                .and_then(|g| self.groups.get(g))
                .and_then(|g| g.as_ref());
            let name = match (group, hostname) {
                (Some(g), _) => g.name.clone(),
                (None, Some(h)) => h.to_string(),
                (None, None) => format!("pidns {}", p.pidns),
            };
            out.push(Container {
                name,
                pidns: p.pidns,
                hostname,
                group,
                eths: at(p.netns)
                    .and_then(|n| self.nets.get(n))
                    .and_then(|n| n.as_deref())
                    .unwrap_or(&[]),
                layers: self.layers.get(&p.root).map_or(&[], |l| &l[..]),
                procs: vec![p],
            });
        }
        for c in &mut out {
            c.procs.sort_by_key(|p| p.vpid);
        }
        out
    }

    /// The hostname of the initial UTS namespace.
    pub fn host_name(&self) -> Option<&str> {
        self.hostnames.first().and_then(|h| h.as_deref())
    }
}

/// The address and element count of a table, checked against its element size.
fn sized(syms: &Symbols, name: &str, elem: u32) -> Result<(u32, u32), String> {
    let (addr, size) = syms
        .sized(name)
        .ok_or_else(|| format!("no `{name}` symbol: not a minios kernel"))?;
    if size == 0 || size % elem != 0 {
        return Err(format!(
            "`{name}` is {size} bytes, not a multiple of {elem}: minios's layout changed (gui/src/minios_tables.rs)"
        ));
    }
    Ok((addr, size / elem))
}

fn table(syms: &Symbols, peek: Peek, name: &str, elem: u32) -> Result<Vec<u8>, String> {
    let (addr, n) = sized(syms, name, elem)?;
    peek(addr, (n * elem) as usize).ok_or_else(|| format!("`{name}` at {addr:#x} is unreadable"))
}

/// The last requests of dockerd's log file, found by walking API_LOG's names through the
/// inode table (a missing or unreadable file reads as no requests).
fn read_api_log(peek: Peek, inodes_at: u32, inodes_n: u32) -> Vec<ApiRequest> {
    let Some(all) = peek(inodes_at, (inodes_n * INODE_SIZE) as usize) else {
        return Vec::new();
    };
    let inodes: Vec<&[u8]> = all.chunks(INODE_SIZE as usize).collect();
    let mut at = 0usize; // "/"
    for name in API_LOG.split('/').filter(|n| !n.is_empty()) {
        let child = inodes.iter().enumerate().skip(1).find(|(_, b)| {
            use inode_off::*;
            b[USED] != 0
                && usize::try_from(i32_at(b, PARENT)).ok() == Some(at)
                && c_str(&b[NAME..NAME + NAME_LEN]) == name
        });
        match child {
            Some((i, _)) => at = i,
            None => return Vec::new(),
        }
    }
    let b = inodes[at];
    let size =
        (i32_at(b, inode_off::SIZE) as u32).min((INODE_SIZE - inode_off::PAGES as u32) / 4 * PAGE);
    let start = size.saturating_sub(API_LOG_TAIL);
    let mut bytes = Vec::new();
    let mut pos = start;
    while pos < size {
        let page = (pos / PAGE) as usize;
        let frame = i32_at(b, inode_off::PAGES + 4 * page) as u32;
        let n = (PAGE - pos % PAGE).min(size - pos);
        match frame {
            0 => bytes.extend(std::iter::repeat_n(0u8, n as usize)),
            f => match peek(f.wrapping_add(pos % PAGE), n as usize) {
                Some(d) => bytes.extend(d),
                None => return Vec::new(),
            },
        }
        pos += n;
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<ApiRequest> = text.lines().filter_map(ApiRequest::parse).collect();
    let drop = lines.len().saturating_sub(API_LOG_LINES);
    lines.drain(..drop);
    lines
}

/// The absolute path of an inode, by its parents (bounded: the guest's memory is not trusted).
fn path_of(ino: i32, inode: &dyn Fn(i32) -> Option<Vec<u8>>) -> String {
    let mut names = Vec::new();
    let mut at = ino;
    for _ in 0..16 {
        if at == 0 {
            break;
        }
        let Some(b) = inode(at) else {
            return format!("inode {ino}");
        };
        names.push(c_str(
            &b[inode_off::NAME..inode_off::NAME + inode_off::NAME_LEN],
        ));
        at = i32_at(&b, inode_off::PARENT);
    }
    names.reverse();
    format!("/{}", names.join("/"))
}

fn i32_at(b: &[u8], off: usize) -> i32 {
    i32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// A NUL-terminated string in a fixed field (lossy: the guest's bytes are not trusted).
fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every offset and size above, checked by gcc with minios's own flags: one translation
    /// unit per kernel file (their static structs are only visible there).
    #[test]
    fn layout_matches_the_c_structs() {
        let minios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/minios");
        let po = |f: &str, off: usize| {
            format!("_Static_assert(offsetof(struct proc, {f}) == {off}, \"proc.{f}\");")
        };
        let checks: Vec<(&str, String)> = vec![
            (
                "sched.c",
                [
                    format!("_Static_assert(sizeof(struct proc) == {PROC_SIZE}, \"proc\");"),
                    po("pid", proc_off::PID),
                    po("ppid", proc_off::PPID),
                    po("state", proc_off::STATE),
                    po("name", proc_off::NAME),
                    format!(
                        "_Static_assert(sizeof(((struct proc *)0)->name) == {}, \"name\");",
                        proc_off::NAME_LEN
                    ),
                    po("root", proc_off::ROOT),
                    po("vpid", proc_off::VPID),
                    po("pidns", proc_off::PIDNS),
                    po("uts", proc_off::UTS),
                    po("cg", proc_off::CG),
                    po("netns", proc_off::NETNS),
                    po("ipcns", proc_off::IPCNS),
                ]
                .join("\n"),
            ),
            (
                "ns.c",
                format!(
                    "_Static_assert(sizeof(pidns[0]) == {PIDNS_SIZE}, \"pidns\");\n\
                     _Static_assert(sizeof(utsns[0]) == {UTSNS_SIZE}, \"utsns\");\n\
                     _Static_assert(offsetof(struct utsns, name) == 4, \"utsns.name\");"
                ),
            ),
            ("cgroup.c", {
                use group_off::*;
                format!(
                        "_Static_assert(sizeof(struct cgroup) == {GROUP_SIZE}, \"cgroup\");\n\
                         _Static_assert(offsetof(struct cgroup, name) == {NAME}, \"name\");\n\
                         _Static_assert(sizeof(((struct cgroup *)0)->name) == {NAME_LEN}, \"name len\");\n\
                         _Static_assert(offsetof(struct cgroup, mem_max) == {MEM_MAX}, \"mem_max\");\n\
                         _Static_assert(offsetof(struct cgroup, mem_cur) == {MEM_CUR}, \"mem_cur\");\n\
                         _Static_assert(offsetof(struct cgroup, weight) == {WEIGHT}, \"weight\");\n\
                         _Static_assert(offsetof(struct cgroup, ticks) == {TICKS}, \"ticks\");\n\
                         _Static_assert(offsetof(struct cgroup, pids_max) == {PIDS_MAX}, \"pids_max\");\n\
                         _Static_assert(offsetof(struct cgroup, pids_cur) == {PIDS_CUR}, \"pids_cur\");"
                    )
            }),
            (
                "net.c",
                format!(
                    "_Static_assert(sizeof(struct netns) == {NETNS_SIZE}, \"netns\");\n\
                     _Static_assert(NETH == {NETH}, \"NETH\");\n\
                     _Static_assert(offsetof(struct netns, eth) == 4, \"eth\");\n\
                     _Static_assert(sizeof(struct eth) == 12, \"eth size\");\n\
                     _Static_assert(offsetof(struct eth, addr) == 4, \"addr\");\n\
                     _Static_assert(offsetof(struct eth, prefix) == 8, \"prefix\");\n\
                     _Static_assert(sizeof(struct bridge) == {BRIDGE_SIZE}, \"bridge\");\n\
                     _Static_assert(offsetof(struct bridge, name) == 4, \"bridge name\");"
                ),
            ),
            ("fs.c", {
                use inode_off::*;
                format!(
                        "_Static_assert(sizeof(struct inode) == {INODE_SIZE}, \"inode\");\n\
                         _Static_assert(offsetof(struct inode, used) == {USED}, \"used\");\n\
                         _Static_assert(offsetof(struct inode, lower) == {LOWER}, \"lower\");\n\
                         _Static_assert(offsetof(struct inode, parent) == {PARENT}, \"parent\");\n\
                         _Static_assert(offsetof(struct inode, name) == {NAME}, \"name\");\n\
                         _Static_assert(sizeof(((struct inode *)0)->name) == {NAME_LEN}, \"name len\");\n\
                         _Static_assert(offsetof(struct inode, size) == {SIZE}, \"size\");\n\
                         _Static_assert(offsetof(struct inode, pages) == {PAGES}, \"pages\");\n\
                         _Static_assert(sizeof(struct inode) - {PAGES} == FILE_PAGES * 4, \"pages len\");\n\
                         _Static_assert(PAGE_SIZE == {PAGE}, \"page\");"
                    )
            }),
        ];
        let dir = std::env::temp_dir().join(format!("traplab-layout-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (file, asserts) in checks {
            let src = dir.join(format!("check-{file}"));
            let c = format!(
                "#include <stddef.h>\n#include \"{}\"\n{asserts}\n",
                minios.join(file).display()
            );
            std::fs::write(&src, c).unwrap();
            let out = std::process::Command::new("gcc")
                .args(["-m32", "-ffreestanding", "-fsyntax-only", "-w", "-I"])
                .arg(&minios)
                .arg(&src)
                .output()
                .expect("gcc (the samples' compiler) runs");
            assert!(
                out.status.success(),
                "{file}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_api_log_is_found_by_its_path_and_parsed() {
        // A fake kernel memory: four inodes (/, var, log, dockerd.log) and one page of text.
        let (table, frame) = (0x1000u32, 0x8000u32);
        let mut mem = vec![0u8; 0x9000];
        let text =
            "1 unix GET /_ping -> 200\njunk\n2 tcp POST /containers/create?name=web -> 201\n";
        for (ino, name, parent) in [
            (0u32, "", 0i32),
            (1, "var", 0),
            (2, "log", 1),
            (3, "dockerd.log", 2),
        ] {
            let b = (table + ino * INODE_SIZE) as usize;
            mem[b] = 1;
            mem[b + inode_off::PARENT..][..4].copy_from_slice(&parent.to_le_bytes());
            mem[b + inode_off::NAME..][..name.len()].copy_from_slice(name.as_bytes());
        }
        let f = (table + 3 * INODE_SIZE) as usize;
        mem[f + inode_off::SIZE..][..4].copy_from_slice(&(text.len() as u32).to_le_bytes());
        mem[f + inode_off::PAGES..][..4].copy_from_slice(&frame.to_le_bytes());
        mem[frame as usize..][..text.len()].copy_from_slice(text.as_bytes());
        let peek = |a: u32, n: usize| mem.get(a as usize..a as usize + n).map(<[u8]>::to_vec);
        let log = read_api_log(&peek, table, 4);
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!(
            log[1],
            ApiRequest {
                seq: 2,
                via: "tcp".into(),
                method: "POST".into(),
                target: "/containers/create?name=web".into(),
                status: 201,
            }
        );
        // Renamed away: no log, not a wrong one.
        let mut moved = mem.clone();
        moved[f + inode_off::PARENT] = 1;
        let peek = |a: u32, n: usize| moved.get(a as usize..a as usize + n).map(<[u8]>::to_vec);
        assert!(read_api_log(&peek, table, 4).is_empty());
    }

    #[test]
    fn junk_memory_reads_without_panicking() {
        let bytes = std::fs::read(crate::app::sample_path("samples/minios/minios.elf")).unwrap();
        let syms = Symbols::from_elf(&bytes);
        for fill in [0u8, 0xff, 0x41] {
            let peek = move |_a: u32, n: usize| Some(vec![fill; n]);
            let t = Tables::read(&syms, &peek).unwrap();
            let _ = t.containers();
            let _ = t.host_procs();
        }
        let unreadable = |_a: u32, _n: usize| None;
        assert!(Tables::read(&syms, &unreadable).is_err());
        assert!(Tables::read(&Symbols::default(), &unreadable)
            .unwrap_err()
            .contains("not a minios kernel"));
    }
}
