//! Guest symbols read from an ELF image's symbol table (goblin), for the disassembly
//! (`kmain+0x14`), the stack view and breakpoints by name. Owns lookup only.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct Symbols {
    /// Start address -> (name, size). Labels without a size (assembly entry points such as
    /// `isr128`) get one: up to the next symbol, within the end of their section.
    by_addr: BTreeMap<u32, (String, u32)>,
    /// Every name (several can share an address: `_end` and the object placed there),
    /// with its address and size.
    names: std::collections::HashMap<String, (u32, u32)>,
}

impl Symbols {
    /// Function and object symbols of a 32-bit ELF; empty for anything else.
    pub fn from_elf(bytes: &[u8]) -> Symbols {
        let mut s = Symbols::default();
        let Ok(elf) = goblin::elf::Elf::parse(bytes) else {
            return s;
        };
        // Where each section ends: an labels label reaches at most there.
        let section_end = |shndx: usize| {
            elf.section_headers
                .get(shndx)
                .map(|h| h.sh_addr.saturating_add(h.sh_size) as u32)
        };
        let mut labels: Vec<(u32, Option<u32>)> = Vec::new();
        for sym in elf.syms.iter() {
            let kind = sym.st_type();
            if kind != goblin::elf::sym::STT_FUNC
                && kind != goblin::elf::sym::STT_OBJECT
                && kind != goblin::elf::sym::STT_NOTYPE
            {
                continue;
            }
            if sym.st_value == 0 || sym.st_shndx == 0 {
                continue;
            }
            let Some(name) = elf.strtab.get_at(sym.st_name) else {
                continue;
            };
            if name.is_empty() || name.starts_with('.') || name.starts_with("$") {
                continue;
            }
            let addr = sym.st_value as u32;
            s.names
                .entry(name.to_string())
                .or_insert((addr, sym.st_size as u32));
            let e = s.by_addr.entry(addr).or_insert((name.to_string(), 0));
            // Prefer functions (sized) over labels at the same address.
            if sym.st_size > 0 && kind == goblin::elf::sym::STT_FUNC {
                *e = (name.to_string(), sym.st_size as u32);
            } else if sym.st_size > 0 && e.1 == 0 {
                e.1 = sym.st_size as u32;
            } else if e.1 == 0 {
                labels.push((addr, section_end(sym.st_shndx)));
            }
        }
        // An labels label covers up to the next symbol, but not past its section's end
        // (`_end` and other linker marks cover nothing but their own address).
        for (addr, end) in labels {
            let next = s
                .by_addr
                .range(addr.saturating_add(1)..)
                .next()
                .map(|(&a, _)| a)
                .unwrap_or(u32::MAX);
            let limit = next.min(end.filter(|&e| e > addr).unwrap_or(addr.saturating_add(1)));
            if let Some(e) = s.by_addr.get_mut(&addr) {
                if e.1 == 0 {
                    e.1 = limit.saturating_sub(addr).max(1);
                }
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// The symbol containing `addr`: a function or object by its size, a label up to the
    /// next symbol within its section. Addresses in no symbol give None.
    pub fn lookup(&self, addr: u32) -> Option<(&str, u32)> {
        let (&start, (name, size)) = self.by_addr.range(..=addr).next_back()?;
        let off = addr - start;
        (off < (*size).max(1)).then_some((name.as_str(), off))
    }

    /// `name+0x14`, `name`, or None.
    pub fn describe(&self, addr: u32) -> Option<String> {
        self.lookup(addr).map(|(n, off)| {
            if off == 0 {
                n.to_string()
            } else {
                format!("{n}+{off:#x}")
            }
        })
    }

    /// The exact start of a symbol (not inside one).
    pub fn at(&self, addr: u32) -> Option<&str> {
        self.by_addr.get(&addr).map(|(n, _)| n.as_str())
    }

    pub fn address_of(&self, name: &str) -> Option<u32> {
        self.names.get(name).map(|&(a, _)| a)
    }

    /// A symbol's address and size (objects such as `procs`: the table's bytes).
    pub fn sized(&self, name: &str) -> Option<(u32, u32)> {
        self.names.get(name).copied()
    }

    /// Start of the symbol holding `addr`, if any.
    pub fn start_of(&self, addr: u32) -> Option<u32> {
        self.lookup(addr).map(|(_, off)| addr - off)
    }
}

/// Parses an address typed by a user: hex (`0x1000`, `1000h`, bare hex) or a symbol name,
/// optionally `symbol+offset`.
pub fn parse_address(text: &str, syms: &Symbols) -> Option<u32> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Some((base, off)) = t.split_once('+') {
        return Some(parse_address(base, syms)?.wrapping_add(parse_address(off, syms)?));
    }
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_suffix('h'));
    if let Some(h) = hex {
        return u32::from_str_radix(h, 16).ok();
    }
    if let Some(a) = syms.address_of(t) {
        return Some(a);
    }
    u32::from_str_radix(t, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minios_symbols_resolve() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../samples/minios/minios.elf"
        ))
        .unwrap();
        let s = Symbols::from_elf(&bytes);
        let kmain = s.address_of("kmain").expect("kmain symbol");
        assert_eq!(s.describe(kmain).as_deref(), Some("kmain"));
        assert_eq!(s.describe(kmain + 0x14).as_deref(), Some("kmain+0x14"));
        assert_eq!(parse_address("kmain+0x10", &s), Some(kmain + 0x10));
        assert_eq!(parse_address("0x1000", &s), Some(0x1000));
        assert_eq!(parse_address("nonsense!", &s), None);
        // `_end` marks the end of the image: nothing beyond it is "_end+0x2bd4" (another
        // symbol may start there: minios's built-in archive).
        let end = s.address_of("_end").expect("minios has _end");
        assert!(s
            .describe(end + 0x2bd4)
            .is_none_or(|d| !d.starts_with("_end")));
        // An assembly entry point without a size still names the bytes after it.
        let isr = s.address_of("isr128").expect("minios has isr128");
        assert_eq!(s.describe(isr + 2).as_deref(), Some("isr128+0x2"));
        // A sized function ends where its size says.
        let (_, size) = s.by_addr[&kmain];
        assert!(s
            .describe(kmain + size)
            .is_none_or(|d| !d.starts_with("kmain")));
    }
}
