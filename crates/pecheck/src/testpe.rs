//! Synthetic PE32+ images for the tests: headers, `.text`, `.rdata` (imports, exports) and
//! `.reloc`, each section at VA == file offset with 0x1000 alignment.

use crate::parse::{SCN_CNT_CODE, SCN_MEM_EXECUTE, SCN_MEM_WRITE};
use crate::{Expectations, check_driver, parse};

const SCN_MEM_READ: u32 = 0x4000_0000;
const SCN_INIT_DATA: u32 = 0x0000_0040;
const TEXT: u32 = 0x1000;
const RDATA: u32 = 0x2000;
const RELOC: u32 = 0x3000;
const SIZE: u32 = 0x4000;

#[derive(Clone)]
struct Spec {
    machine: u16,
    magic: u16,
    subsystem: u16,
    dll_chars: u16,
    entry: u32,
    text_chars: u32,
    imports: Vec<(&'static str, Vec<&'static str>)>,
    ordinal_import: Option<(&'static str, u16)>,
    exports: Vec<(&'static str, u32)>,
    reloc: bool,
    tls: bool,
}

impl Spec {
    fn good() -> Self {
        Spec {
            machine: 0x8664,
            magic: 0x20b,
            subsystem: 1,
            dll_chars: 0x0160,
            entry: TEXT + 0x10,
            text_chars: SCN_CNT_CODE | SCN_MEM_EXECUTE | SCN_MEM_READ,
            imports: vec![
                ("ntoskrnl.exe", vec!["KeBugCheckEx", "DbgPrintEx"]),
                ("PORTCLS.SYS", vec!["PcNewPort"]),
            ],
            ordinal_import: None,
            exports: vec![("DriverEntry", TEXT + 0x10)],
            reloc: true,
            tls: false,
        }
    }

    fn expected() -> Expectations {
        Expectations {
            imports: vec![
                "portcls.sys!PcNewPort".into(),
                "ntoskrnl.exe!DbgPrintEx".into(),
                "ntoskrnl.exe!KeBugCheckEx".into(),
            ],
            entry_symbol: "DriverEntry".into(),
            map_entry_rva: None,
        }
    }

    fn build(&self) -> Vec<u8> {
        let mut f = vec![0u8; SIZE as usize];
        let put16 = |f: &mut Vec<u8>, at: u32, v: u16| {
            f[at as usize..at as usize + 2].copy_from_slice(&v.to_le_bytes())
        };
        let put32 = |f: &mut Vec<u8>, at: u32, v: u32| {
            f[at as usize..at as usize + 4].copy_from_slice(&v.to_le_bytes())
        };
        let put64 = |f: &mut Vec<u8>, at: u32, v: u64| {
            f[at as usize..at as usize + 8].copy_from_slice(&v.to_le_bytes())
        };
        let putstr = |f: &mut Vec<u8>, at: u32, s: &str| {
            f[at as usize..at as usize + s.len()].copy_from_slice(s.as_bytes())
        };
        f[0] = b'M';
        f[1] = b'Z';
        let pe = 0x80;
        put32(&mut f, 0x3c, pe);
        putstr(&mut f, pe, "PE\0\0");
        let coff = pe + 4;
        put16(&mut f, coff, self.machine);
        put16(&mut f, coff + 2, 3);
        put16(&mut f, coff + 16, 240);
        put16(&mut f, coff + 18, 0x2022);
        let opt = coff + 20;
        put16(&mut f, opt, self.magic);
        put32(&mut f, opt + 16, self.entry);
        put64(&mut f, opt + 24, 0x1_4000_0000);
        put32(&mut f, opt + 32, 0x1000);
        put32(&mut f, opt + 36, 0x1000);
        put32(&mut f, opt + 56, SIZE);
        put32(&mut f, opt + 60, 0x1000);
        put16(&mut f, opt + 68, self.subsystem);
        put16(&mut f, opt + 70, self.dll_chars);
        put32(&mut f, opt + 108, 16);
        let dirs = opt + 112;
        let sh = opt + 240;
        let sections = [
            (".text", TEXT, self.text_chars),
            (".rdata", RDATA, SCN_INIT_DATA | SCN_MEM_READ),
            (".reloc", RELOC, SCN_INIT_DATA | SCN_MEM_READ),
        ];
        for (i, (name, va, chars)) in sections.iter().enumerate() {
            let at = sh + i as u32 * 40;
            putstr(&mut f, at, name);
            put32(&mut f, at + 8, 0x1000);
            put32(&mut f, at + 12, *va);
            put32(&mut f, at + 16, 0x1000);
            put32(&mut f, at + 20, *va);
            put32(&mut f, at + 36, *chars);
        }
        // .rdata: descriptors at RDATA, then a bump allocator for tables and strings.
        let mut next = RDATA + 0x200;
        let mut alloc = |n: u32| {
            let at = next;
            next += (n + 7) & !7;
            at
        };
        let mut dlls: Vec<(&str, Vec<Result<&str, u16>>)> = self
            .imports
            .iter()
            .map(|(d, fs)| (*d, fs.iter().map(|f| Ok(*f)).collect()))
            .collect();
        if let Some((dll, ord)) = self.ordinal_import {
            dlls.push((dll, vec![Err(ord)]));
        }
        for (i, (dll, funcs)) in dlls.iter().enumerate() {
            let desc = RDATA + i as u32 * 20;
            let ilt = alloc(8 * (funcs.len() as u32 + 1));
            let iat = alloc(8 * (funcs.len() as u32 + 1));
            let name = alloc(dll.len() as u32 + 1);
            putstr(&mut f, name, dll);
            for (j, func) in funcs.iter().enumerate() {
                let thunk = match func {
                    Ok(fname) => {
                        let hn = alloc(2 + fname.len() as u32 + 1);
                        putstr(&mut f, hn + 2, fname);
                        u64::from(hn)
                    }
                    Err(ord) => (1u64 << 63) | u64::from(*ord),
                };
                put64(&mut f, ilt + 8 * j as u32, thunk);
                put64(&mut f, iat + 8 * j as u32, thunk);
            }
            put32(&mut f, desc, ilt);
            put32(&mut f, desc + 12, name);
            put32(&mut f, desc + 16, iat);
        }
        if !dlls.is_empty() {
            put32(&mut f, dirs + 8, RDATA);
            put32(&mut f, dirs + 12, 20 * (dlls.len() as u32 + 1));
        }
        if !self.exports.is_empty() {
            let n = self.exports.len() as u32;
            let ed = alloc(40);
            let funcs = alloc(4 * n);
            let names = alloc(4 * n);
            let ords = alloc(2 * n);
            for (i, (name, rva)) in self.exports.iter().enumerate() {
                let s = alloc(name.len() as u32 + 1);
                putstr(&mut f, s, name);
                put32(&mut f, funcs + 4 * i as u32, *rva);
                put32(&mut f, names + 4 * i as u32, s);
                put16(&mut f, ords + 2 * i as u32, i as u16);
            }
            put32(&mut f, ed + 20, n);
            put32(&mut f, ed + 24, n);
            put32(&mut f, ed + 28, funcs);
            put32(&mut f, ed + 32, names);
            put32(&mut f, ed + 36, ords);
            put32(&mut f, dirs, ed);
            put32(&mut f, dirs + 4, 40);
        }
        if self.reloc {
            put32(&mut f, RELOC, TEXT);
            put32(&mut f, RELOC + 4, 8);
            put32(&mut f, dirs + 5 * 8, RELOC);
            put32(&mut f, dirs + 5 * 8 + 4, 8);
        }
        if self.tls {
            put32(&mut f, dirs + 9 * 8, RDATA + 0x100);
            put32(&mut f, dirs + 9 * 8 + 4, 40);
        }
        f
    }
}

fn problems(spec: &Spec, exp: &Expectations) -> Vec<String> {
    let image = parse(&spec.build()).expect("synthetic image parses");
    check_driver(&image, exp)
}

fn assert_one_problem_containing(spec: &Spec, exp: &Expectations, needle: &str) {
    let p = problems(spec, exp);
    assert!(
        p.iter().any(|m| m.contains(needle)),
        "expected a problem with {needle:?}, got {p:?}"
    );
}

#[test]
fn a_well_formed_driver_passes() {
    let spec = Spec::good();
    let image = parse(&spec.build()).unwrap();
    assert_eq!(image.imports.len(), 3);
    assert_eq!(
        image.imports[2].to_string(),
        "portcls.sys!PcNewPort",
        "DLL names are lower-cased"
    );
    assert_eq!(image.exports[0].name, "DriverEntry");
    assert_eq!(
        check_driver(&image, &Spec::expected()),
        Vec::<String>::new()
    );
}

#[test]
fn the_linker_map_must_agree_with_the_entry_point() {
    let mut exp = Spec::expected();
    exp.map_entry_rva = Some(TEXT + 0x10);
    assert!(problems(&Spec::good(), &exp).is_empty());
    exp.map_entry_rva = Some(TEXT + 0x20);
    assert_one_problem_containing(&Spec::good(), &exp, "linker map");
    // Without an export the map alone suffices, and without either the check fails.
    let mut spec = Spec::good();
    spec.exports.clear();
    exp.map_entry_rva = Some(TEXT + 0x10);
    assert!(problems(&spec, &exp).is_empty());
    exp.map_entry_rva = None;
    assert_one_problem_containing(&spec, &exp, "cannot verify the entry point");
}

#[test]
fn wrong_headers_are_reported() {
    let exp = Spec::expected();
    let mut s = Spec::good();
    s.machine = 0x14c;
    assert_one_problem_containing(&s, &exp, "AMD64");
    let mut s = Spec::good();
    s.subsystem = 3;
    assert_one_problem_containing(&s, &exp, "NATIVE");
    let mut s = Spec::good();
    s.magic = 0x10b;
    assert_one_problem_containing(&s, &exp, "PE32+");
}

#[test]
fn entry_point_must_be_driver_entry_in_code() {
    let exp = Spec::expected();
    let mut s = Spec::good();
    s.entry = TEXT + 0x40;
    assert_one_problem_containing(&s, &exp, "export table");
    let mut s = Spec::good();
    s.entry = RDATA + 0x10;
    s.exports = vec![("DriverEntry", RDATA + 0x10)];
    assert_one_problem_containing(&s, &exp, "non-code section .rdata");
    let mut s = Spec::good();
    s.entry = 0x9000;
    s.exports = vec![("DriverEntry", 0x9000)];
    assert_one_problem_containing(&s, &exp, "lies in no section");
}

#[test]
fn hardening_is_required() {
    let exp = Spec::expected();
    let mut s = Spec::good();
    s.dll_chars &= !0x0100;
    assert_one_problem_containing(&s, &exp, "NX_COMPAT");
    let mut s = Spec::good();
    s.reloc = false;
    assert_one_problem_containing(&s, &exp, "base relocations");
    let mut s = Spec::good();
    s.text_chars |= SCN_MEM_WRITE;
    assert_one_problem_containing(&s, &exp, "writable and executable");
    let mut s = Spec::good();
    s.tls = true;
    assert_one_problem_containing(&s, &exp, "TLS");
}

#[test]
fn imports_must_match_exactly() {
    let mut exp = Spec::expected();
    exp.imports.push("ntoskrnl.exe!KeSetTimer".into());
    assert_one_problem_containing(
        &Spec::good(),
        &exp,
        "missing import ntoskrnl.exe!KeSetTimer",
    );
    let mut s = Spec::good();
    s.imports
        .push(("hal.dll", vec!["KeStallExecutionProcessor"]));
    assert_one_problem_containing(
        &s,
        &Spec::expected(),
        "unexpected import hal.dll!KeStallExecutionProcessor",
    );
    let mut s = Spec::good();
    s.ordinal_import = Some(("ntoskrnl.exe", 7));
    assert_one_problem_containing(&s, &Spec::expected(), "unresolved import ntoskrnl.exe!#7");
    let mut s = Spec::good();
    s.imports[0].1.push("KeBugCheckEx");
    assert_one_problem_containing(&s, &Spec::expected(), "more than once");
}

#[test]
fn truncated_or_garbage_images_are_errors_not_panics() {
    let good = Spec::good().build();
    for len in [0, 1, 0x3c, 0x84, 0x90, 0x100, 0x200, 0x2000, 0x2100] {
        assert!(
            parse(&good[..len]).is_err(),
            "prefix of {len} bytes must not parse"
        );
    }
    // Flip bytes across the headers and tables: any outcome but a panic is acceptable.
    let mut seed = 0x2545_f491_u32;
    for _ in 0..2000 {
        let mut img = good.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let at = (seed as usize) % 0x2400;
            img[at] = (seed >> 8) as u8;
        }
        let _ = parse(&img).map(|i| check_driver(&i, &Spec::expected()));
    }
}
