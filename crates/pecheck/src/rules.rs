//! What a kernel driver image must look like.

use crate::parse::{
    MACHINE_AMD64, PE32_PLUS, PeImage, SCN_CNT_CODE, SCN_MEM_EXECUTE, SCN_MEM_WRITE,
    SUBSYSTEM_NATIVE, dir,
};

/// `IMAGE_FILE_EXECUTABLE_IMAGE`.
const FILE_EXECUTABLE_IMAGE: u16 = 0x0002;
/// `IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE`.
const DLL_DYNAMIC_BASE: u16 = 0x0040;
/// `IMAGE_DLLCHARACTERISTICS_NX_COMPAT`.
const DLL_NX_COMPAT: u16 = 0x0100;

/// What the image is checked against.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// `dll!function` lines (DLL lower-case), in any order; compared as a sorted set.
    pub imports: Vec<String>,
    /// The entry point's symbol (`DriverEntry`).
    pub entry_symbol: String,
    /// The symbol's RVA according to the linker map, if one was given.
    pub map_entry_rva: Option<u32>,
}

/// Every difference between `image` and a well-formed x64 kernel driver meeting `exp`; empty
/// when the image passes.
pub fn check_driver(image: &PeImage, exp: &Expectations) -> Vec<String> {
    let mut p = Vec::new();
    if image.magic != PE32_PLUS {
        p.push(format!(
            "optional header magic {:#x}, want {PE32_PLUS:#x} (PE32+)",
            image.magic
        ));
        return p;
    }
    if image.machine != MACHINE_AMD64 {
        p.push(format!(
            "machine {:#x}, want {MACHINE_AMD64:#x} (AMD64)",
            image.machine
        ));
    }
    if image.characteristics & FILE_EXECUTABLE_IMAGE == 0 {
        p.push("IMAGE_FILE_EXECUTABLE_IMAGE is not set".into());
    }
    if image.subsystem != SUBSYSTEM_NATIVE {
        p.push(format!(
            "subsystem {}, want {SUBSYSTEM_NATIVE} (NATIVE)",
            image.subsystem
        ));
    }
    check_entry(image, exp, &mut p);
    check_hardening(image, &mut p);
    check_imports(image, exp, &mut p);
    p
}

fn check_entry(image: &PeImage, exp: &Expectations, p: &mut Vec<String>) {
    let entry = image.entry_rva;
    match image.section_of(entry) {
        None => p.push(format!("entry point RVA {entry:#x} lies in no section")),
        Some(s)
            if s.characteristics & SCN_MEM_EXECUTE == 0
                || s.characteristics & SCN_CNT_CODE == 0 =>
        {
            p.push(format!(
                "entry point RVA {entry:#x} lies in non-code section {}",
                s.name
            ))
        }
        Some(_) => {}
    }
    let export = image
        .exports
        .iter()
        .find(|e| e.name == exp.entry_symbol)
        .map(|e| e.rva);
    if export.is_none() && exp.map_entry_rva.is_none() {
        p.push(format!(
            "{} is neither exported nor given by a linker map: cannot verify the entry point",
            exp.entry_symbol
        ));
    }
    for (source, rva) in [("export table", export), ("linker map", exp.map_entry_rva)] {
        if let Some(rva) = rva
            && rva != entry
        {
            p.push(format!(
                "entry point RVA {entry:#x} != {} RVA {rva:#x} ({source})",
                exp.entry_symbol
            ));
        }
    }
}

fn check_hardening(image: &PeImage, p: &mut Vec<String>) {
    let dc = image.dll_characteristics;
    if dc & DLL_NX_COMPAT == 0 {
        p.push("DllCharacteristics lacks NX_COMPAT".into());
    }
    if dc & DLL_DYNAMIC_BASE == 0 {
        p.push("DllCharacteristics lacks DYNAMIC_BASE".into());
    } else if image.directory(dir::BASERELOC).is_none() {
        p.push("DYNAMIC_BASE without base relocations: the image cannot be relocated".into());
    }
    for s in &image.sections {
        if s.characteristics & SCN_MEM_WRITE != 0 && s.characteristics & SCN_MEM_EXECUTE != 0 {
            p.push(format!(
                "section {} is both writable and executable",
                s.name
            ));
        }
    }
    if image.directory(dir::TLS).is_some() {
        p.push("image has a TLS directory (not supported for drivers)".into());
    }
    if image.directory(dir::DELAY_IMPORT).is_some() {
        p.push("image has delay-load imports (not supported for drivers)".into());
    }
    if image.directory(dir::BOUND_IMPORT).is_some() {
        p.push("image has bound imports".into());
    }
}

fn check_imports(image: &PeImage, exp: &Expectations, p: &mut Vec<String>) {
    let mut have: Vec<String> = Vec::with_capacity(image.imports.len());
    for i in &image.imports {
        match &i.name {
            Some(n) if !n.is_empty() && !i.dll.is_empty() => have.push(i.to_string()),
            _ => p.push(format!("unresolved import {i} (no name)")),
        }
    }
    have.sort();
    let before = have.len();
    have.dedup();
    if have.len() != before {
        p.push("an import appears more than once".into());
    }
    let mut want: Vec<String> = exp.imports.iter().map(|s| normalise(s)).collect();
    want.sort();
    want.dedup();
    for w in &want {
        if have.binary_search(w).is_err() {
            p.push(format!("missing import {w}"));
        }
    }
    for h in &have {
        if want.binary_search(h).is_err() {
            p.push(format!("unexpected import {h}"));
        }
    }
}

/// `Dll.EXT!Name` → `dll.ext!Name` (DLL names match case-insensitively, functions exactly).
fn normalise(line: &str) -> String {
    match line.split_once('!') {
        Some((dll, f)) => format!("{}!{}", dll.trim().to_ascii_lowercase(), f.trim()),
        None => line.trim().to_string(),
    }
}

/// The RVA of public `symbol` in an MSVC/lld-link map file (`/MAP`): its `Rva+Base` column
/// minus the map's "Preferred load address".
pub fn map_symbol_rva(map: &str, symbol: &str) -> Option<u32> {
    let base = map.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Preferred load address is ")?;
        u64::from_str_radix(rest.trim(), 16).ok()
    })?;
    map.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let addr = f.next()?;
        if !addr.contains(':') || f.next()? != symbol {
            return None;
        }
        let va = u64::from_str_radix(f.next()?, 16).ok()?;
        u32::try_from(va.checked_sub(base)?).ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = " mxfloop\n\n Preferred load address is 0000000180000000\n\n  Address   Publics by Value   Rva+Base   Lib:Object\n\n 0001:00000000       DriverEntry                0000000180001000     a.o\n 0001:00000140       other                0000000180001140     b.o\n";

    #[test]
    fn map_symbols_resolve_to_rvas() {
        assert_eq!(map_symbol_rva(MAP, "DriverEntry"), Some(0x1000));
        assert_eq!(map_symbol_rva(MAP, "other"), Some(0x1140));
        assert_eq!(map_symbol_rva(MAP, "missing"), None);
        assert_eq!(
            map_symbol_rva("0001:0 DriverEntry 1000", "DriverEntry"),
            None,
            "no base line"
        );
    }

    #[test]
    fn import_lines_normalise_the_dll_only() {
        assert_eq!(
            normalise(" NTOSKRNL.exe!KeBugCheckEx "),
            "ntoskrnl.exe!KeBugCheckEx"
        );
        assert_eq!(normalise("portcls.sys!PcNewPort"), "portcls.sys!PcNewPort");
    }
}
