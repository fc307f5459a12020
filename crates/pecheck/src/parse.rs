//! PE32+ headers, sections, imports and exports.

use crate::read::{PeError, bytes, cstr_at, u16_at, u32_at, u64_at};

/// `IMAGE_NT_OPTIONAL_HDR64_MAGIC`.
pub const PE32_PLUS: u16 = 0x20b;
/// `IMAGE_FILE_MACHINE_AMD64`.
pub const MACHINE_AMD64: u16 = 0x8664;
/// `IMAGE_SUBSYSTEM_NATIVE`.
pub const SUBSYSTEM_NATIVE: u16 = 1;
/// `IMAGE_SCN_MEM_EXECUTE`.
pub const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
/// `IMAGE_SCN_MEM_WRITE`.
pub const SCN_MEM_WRITE: u32 = 0x8000_0000;
/// `IMAGE_SCN_CNT_CODE`.
pub const SCN_CNT_CODE: u32 = 0x0000_0020;

/// Data directory indices.
pub mod dir {
    /// Export table.
    pub const EXPORT: usize = 0;
    /// Import table.
    pub const IMPORT: usize = 1;
    /// Base relocations.
    pub const BASERELOC: usize = 5;
    /// Debug directory.
    pub const DEBUG: usize = 6;
    /// Thread-local storage.
    pub const TLS: usize = 9;
    /// Bound imports.
    pub const BOUND_IMPORT: usize = 11;
    /// Delay-load imports.
    pub const DELAY_IMPORT: usize = 13;
}

/// A section header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Name (up to 8 bytes).
    pub name: String,
    /// `VirtualAddress`.
    pub virtual_address: u32,
    /// `VirtualSize`.
    pub virtual_size: u32,
    /// `PointerToRawData`.
    pub raw_offset: u32,
    /// `SizeOfRawData`.
    pub raw_size: u32,
    /// `Characteristics`.
    pub characteristics: u32,
}

impl Section {
    /// Whether `rva` lies inside the section's memory image.
    pub fn contains(&self, rva: u32) -> bool {
        let size = self.virtual_size.max(self.raw_size);
        rva >= self.virtual_address
            && u64::from(rva) < u64::from(self.virtual_address) + u64::from(size)
    }
}

/// One imported function: `dll!name` or `dll!#ordinal`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Import {
    /// The DLL name, lower-cased (the loader matches it case-insensitively).
    pub dll: String,
    /// The function name, or `None` for an import by ordinal.
    pub name: Option<String>,
    /// The ordinal of an import by ordinal.
    pub ordinal: Option<u16>,
}

impl std::fmt::Display for Import {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, self.ordinal) {
            (Some(n), _) => write!(f, "{}!{}", self.dll, n),
            (None, Some(o)) => write!(f, "{}!#{}", self.dll, o),
            (None, None) => write!(f, "{}!?", self.dll),
        }
    }
}

/// One exported function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    /// Exported name.
    pub name: String,
    /// RVA of the function.
    pub rva: u32,
}

/// What the checks need from an image.
#[derive(Clone, Debug)]
pub struct PeImage {
    /// COFF `Machine`.
    pub machine: u16,
    /// COFF `Characteristics`.
    pub characteristics: u16,
    /// Optional header `Magic`.
    pub magic: u16,
    /// `AddressOfEntryPoint`.
    pub entry_rva: u32,
    /// `ImageBase`.
    pub image_base: u64,
    /// `Subsystem`.
    pub subsystem: u16,
    /// `DllCharacteristics`.
    pub dll_characteristics: u16,
    /// Data directories (RVA, size).
    pub directories: Vec<(u32, u32)>,
    /// Section headers.
    pub sections: Vec<Section>,
    /// Imported functions in table order.
    pub imports: Vec<Import>,
    /// Exported functions.
    pub exports: Vec<Export>,
}

impl PeImage {
    /// The (RVA, size) of data directory `i`, if present and non-empty.
    pub fn directory(&self, i: usize) -> Option<(u32, u32)> {
        self.directories
            .get(i)
            .copied()
            .filter(|&(rva, size)| rva != 0 && size != 0)
    }

    /// The section holding `rva`.
    pub fn section_of(&self, rva: u32) -> Option<&Section> {
        self.sections.iter().find(|s| s.contains(rva))
    }
}

/// The file offset of `rva` (which must lie in a section's raw data).
pub(crate) fn rva_to_offset(
    sections: &[Section],
    rva: u32,
    what: &'static str,
) -> Result<usize, PeError> {
    for s in sections {
        if rva >= s.virtual_address {
            let delta = rva - s.virtual_address;
            if delta < s.raw_size && delta < s.virtual_size.max(s.raw_size) {
                return Ok(s.raw_offset as usize + delta as usize);
            }
        }
    }
    Err(PeError::Malformed(format!(
        "{what}: RVA {rva:#x} is not backed by any section's file data"
    )))
}

/// Limits that keep a hostile image from making the reader loop for long.
const MAX_SECTIONS: usize = 96;
const MAX_DLLS: usize = 256;
const MAX_IMPORTS_PER_DLL: usize = 4096;
const MAX_NAME: usize = 512;
const MAX_EXPORTS: usize = 65_536;

/// Parses a PE32+ image.
pub fn parse(data: &[u8]) -> Result<PeImage, PeError> {
    if bytes(data, 0, 2, "DOS signature")? != b"MZ" {
        return Err(PeError::Malformed("no MZ signature".into()));
    }
    let pe = u32_at(data, 0x3c, "e_lfanew")? as usize;
    if bytes(data, pe, 4, "PE signature")? != b"PE\0\0" {
        return Err(PeError::Malformed("no PE signature".into()));
    }
    let coff = pe + 4;
    let machine = u16_at(data, coff, "Machine")?;
    let nsections = u16_at(data, coff + 2, "NumberOfSections")? as usize;
    let opt_size = u16_at(data, coff + 16, "SizeOfOptionalHeader")? as usize;
    let characteristics = u16_at(data, coff + 18, "Characteristics")?;
    let opt = coff + 20;
    let magic = u16_at(data, opt, "Magic")?;
    if magic != PE32_PLUS {
        // Everything below assumes the PE32+ layout; report the magic and stop.
        return Ok(PeImage {
            machine,
            characteristics,
            magic,
            entry_rva: 0,
            image_base: 0,
            subsystem: 0,
            dll_characteristics: 0,
            directories: Vec::new(),
            sections: Vec::new(),
            imports: Vec::new(),
            exports: Vec::new(),
        });
    }
    if opt_size < 112 {
        return Err(PeError::Malformed(format!(
            "optional header too small ({opt_size} bytes)"
        )));
    }
    let entry_rva = u32_at(data, opt + 16, "AddressOfEntryPoint")?;
    let image_base = u64_at(data, opt + 24, "ImageBase")?;
    let subsystem = u16_at(data, opt + 68, "Subsystem")?;
    let dll_characteristics = u16_at(data, opt + 70, "DllCharacteristics")?;
    let ndirs = (u32_at(data, opt + 108, "NumberOfRvaAndSizes")? as usize)
        .min(16)
        .min((opt_size - 112) / 8);
    let mut directories = Vec::with_capacity(ndirs);
    for i in 0..ndirs {
        let at = opt + 112 + i * 8;
        directories.push((
            u32_at(data, at, "data directory")?,
            u32_at(data, at + 4, "data directory")?,
        ));
    }
    if nsections > MAX_SECTIONS {
        return Err(PeError::Malformed(format!("{nsections} sections")));
    }
    let sh = opt + opt_size;
    let mut sections = Vec::with_capacity(nsections);
    for i in 0..nsections {
        let at = sh + i * 40;
        let raw_name = bytes(data, at, 8, "section name")?;
        let name_len = raw_name.iter().position(|&b| b == 0).unwrap_or(8);
        sections.push(Section {
            name: String::from_utf8_lossy(&raw_name[..name_len]).into_owned(),
            virtual_size: u32_at(data, at + 8, "VirtualSize")?,
            virtual_address: u32_at(data, at + 12, "VirtualAddress")?,
            raw_size: u32_at(data, at + 16, "SizeOfRawData")?,
            raw_offset: u32_at(data, at + 20, "PointerToRawData")?,
            characteristics: u32_at(data, at + 36, "section Characteristics")?,
        });
    }
    let mut image = PeImage {
        machine,
        characteristics,
        magic,
        entry_rva,
        image_base,
        subsystem,
        dll_characteristics,
        directories,
        sections,
        imports: Vec::new(),
        exports: Vec::new(),
    };
    image.imports = parse_imports(data, &image)?;
    image.exports = parse_exports(data, &image)?;
    Ok(image)
}

fn parse_imports(data: &[u8], image: &PeImage) -> Result<Vec<Import>, PeError> {
    let Some((rva, _)) = image.directory(dir::IMPORT) else {
        return Ok(Vec::new());
    };
    let s = &image.sections;
    let base = rva_to_offset(s, rva, "import directory")?;
    let mut out = Vec::new();
    for d in 0..MAX_DLLS {
        let at = base + d * 20;
        let desc = bytes(data, at, 20, "import descriptor")?;
        if desc.iter().all(|&b| b == 0) {
            return Ok(out);
        }
        let lookup = u32_at(data, at, "OriginalFirstThunk")?;
        let name_rva = u32_at(data, at + 12, "import DLL name")?;
        let iat = u32_at(data, at + 16, "FirstThunk")?;
        let dll = cstr_at(
            data,
            rva_to_offset(s, name_rva, "import DLL name")?,
            MAX_NAME,
            "import DLL name",
        )?
        .to_ascii_lowercase();
        let table = if lookup != 0 { lookup } else { iat };
        let table_off = rva_to_offset(s, table, "import lookup table")?;
        let mut terminated = false;
        for i in 0..MAX_IMPORTS_PER_DLL {
            let thunk = u64_at(data, table_off + i * 8, "import thunk")?;
            if thunk == 0 {
                terminated = true;
                break;
            }
            if thunk & (1 << 63) != 0 {
                out.push(Import {
                    dll: dll.clone(),
                    name: None,
                    ordinal: Some(thunk as u16),
                });
            } else {
                let hint_name = u32::try_from(thunk)
                    .map_err(|_| PeError::Malformed(format!("import thunk {thunk:#x} of {dll}")))?;
                let off = rva_to_offset(s, hint_name, "import name")?;
                let name = cstr_at(data, off.saturating_add(2), MAX_NAME, "import name")?;
                out.push(Import {
                    dll: dll.clone(),
                    name: Some(name),
                    ordinal: None,
                });
            }
        }
        if !terminated {
            return Err(PeError::Malformed(format!(
                "import table of {dll} has no terminator"
            )));
        }
    }
    Err(PeError::Malformed(
        "import directory has no terminating descriptor".into(),
    ))
}

fn parse_exports(data: &[u8], image: &PeImage) -> Result<Vec<Export>, PeError> {
    let Some((rva, _)) = image.directory(dir::EXPORT) else {
        return Ok(Vec::new());
    };
    let s = &image.sections;
    let at = rva_to_offset(s, rva, "export directory")?;
    let nfuncs = u32_at(data, at + 20, "NumberOfFunctions")? as usize;
    let nnames = u32_at(data, at + 24, "NumberOfNames")? as usize;
    if nfuncs > MAX_EXPORTS || nnames > nfuncs {
        return Err(PeError::Malformed(format!(
            "export counts {nfuncs}/{nnames}"
        )));
    }
    let funcs = rva_to_offset(
        s,
        u32_at(data, at + 28, "AddressOfFunctions")?,
        "export functions",
    )?;
    let mut out = Vec::with_capacity(nnames);
    if nnames == 0 {
        return Ok(out);
    }
    let names = rva_to_offset(s, u32_at(data, at + 32, "AddressOfNames")?, "export names")?;
    let ords = rva_to_offset(
        s,
        u32_at(data, at + 36, "AddressOfNameOrdinals")?,
        "export ordinals",
    )?;
    for i in 0..nnames {
        let name_rva = u32_at(data, names + i * 4, "export name RVA")?;
        let name = cstr_at(
            data,
            rva_to_offset(s, name_rva, "export name")?,
            MAX_NAME,
            "export name",
        )?;
        let ord = u16_at(data, ords + i * 2, "export ordinal")? as usize;
        if ord >= nfuncs {
            return Err(PeError::Malformed(format!(
                "export {name}: ordinal index {ord} >= {nfuncs}"
            )));
        }
        let func_rva = u32_at(data, funcs + ord * 4, "export address")?;
        out.push(Export {
            name,
            rva: func_rva,
        });
    }
    Ok(out)
}
