//! The image's CodeView debug record and the PDB it names: what WinDbg matches to load
//! symbols (the PDB file name, its GUID and age, from the image's `RSDS` record against the PDB
//! info stream).

use crate::parse::{PeImage, dir, rva_to_offset};
use crate::read::{PeError, bytes, u32_at};

/// `IMAGE_DEBUG_TYPE_CODEVIEW`.
pub const DEBUG_TYPE_CODEVIEW: u32 = 2;
/// The signature of a PDB 7.0 CodeView record.
const RSDS: &[u8; 4] = b"RSDS";
/// The magic of an MSF 7.00 (PDB 7) file's superblock.
pub const MSF7_MAGIC: &[u8; 32] = b"Microsoft C/C++ MSF 7.00\r\n\x1aDS\0\0\0";
/// Limits that keep a hostile file from making the reader loop for long.
const MAX_DEBUG_ENTRIES: usize = 64;
const MAX_PDB_PATH: usize = 1024;
const MAX_DIRECTORY_BYTES: usize = 16 << 20;
const MAX_STREAMS: usize = 1 << 20;

/// The GUID and age that tie an image to its PDB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PdbId {
    /// The PDB's GUID, as stored (little-endian fields).
    pub guid: [u8; 16],
    /// The age.
    pub age: u32,
}

/// An image's `RSDS` CodeView record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeView {
    /// GUID and age.
    pub id: PdbId,
    /// The PDB path recorded by the linker.
    pub pdb_path: String,
}

/// The image's first CodeView `RSDS` record, `None` if the image has no debug directory or no
/// CodeView entry in it.
pub fn codeview(data: &[u8], image: &PeImage) -> Result<Option<CodeView>, PeError> {
    let Some((rva, size)) = image.directory(dir::DEBUG) else {
        return Ok(None);
    };
    let base = rva_to_offset(&image.sections, rva, "debug directory")?;
    let entries = (size as usize / 28).min(MAX_DEBUG_ENTRIES);
    for i in 0..entries {
        let at = base + i * 28;
        if u32_at(data, at + 12, "debug entry Type")? != DEBUG_TYPE_CODEVIEW {
            continue;
        }
        let len = u32_at(data, at + 16, "debug entry SizeOfData")? as usize;
        let file = u32_at(data, at + 24, "debug entry PointerToRawData")? as usize;
        let record = bytes(data, file, len, "CodeView record")?;
        if len < 24 || &record[..4] != RSDS {
            return Err(PeError::Malformed(format!(
                "CodeView record at {file:#x} is not an RSDS (PDB 7.0) record"
            )));
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&record[4..20]);
        let age = u32_at(record, 20, "CodeView age")?;
        let path = &record[24..];
        let end = path
            .iter()
            .take(MAX_PDB_PATH)
            .position(|&b| b == 0)
            .ok_or_else(|| PeError::Malformed("CodeView PDB path is not terminated".into()))?;
        return Ok(Some(CodeView {
            id: PdbId { guid, age },
            pdb_path: String::from_utf8_lossy(&path[..end]).into_owned(),
        }));
    }
    Ok(None)
}

/// The GUID and age of a PDB file (MSF 7.00): the PDB info stream (stream 1) holds
/// `Version, Signature, Age, Guid`.
pub fn pdb_id(pdb: &[u8]) -> Result<PdbId, PeError> {
    if bytes(pdb, 0, 32, "MSF superblock")? != MSF7_MAGIC {
        return Err(PeError::Malformed("not an MSF 7.00 (PDB) file".into()));
    }
    let block_size = u32_at(pdb, 32, "MSF BlockSize")? as usize;
    if ![512, 1024, 2048, 4096].contains(&block_size) {
        return Err(PeError::Malformed(format!("MSF block size {block_size}")));
    }
    let dir_bytes = u32_at(pdb, 44, "MSF NumDirectoryBytes")? as usize;
    let map_block = u32_at(pdb, 52, "MSF BlockMapAddr")? as usize;
    if !(4..=MAX_DIRECTORY_BYTES).contains(&dir_bytes) {
        return Err(PeError::Malformed(format!(
            "MSF directory of {dir_bytes} bytes"
        )));
    }
    let block = |index: usize, what: &'static str| -> Result<&[u8], PeError> {
        let at = index
            .checked_mul(block_size)
            .ok_or_else(|| PeError::Malformed(format!("{what}: block {index}")))?;
        bytes(pdb, at, block_size, what)
    };
    // The block map lists the directory's blocks; the directory lists the streams.
    let dir_blocks = dir_bytes.div_ceil(block_size);
    let map = bytes(
        pdb,
        map_block.saturating_mul(block_size),
        dir_blocks * 4,
        "MSF block map",
    )?;
    let mut directory = Vec::with_capacity(dir_blocks * block_size);
    for i in 0..dir_blocks {
        let b = u32_at(map, i * 4, "MSF block map entry")? as usize;
        directory.extend_from_slice(block(b, "MSF directory block")?);
    }
    directory.truncate(dir_bytes);
    let streams = u32_at(&directory, 0, "MSF NumStreams")? as usize;
    if !(2..=MAX_STREAMS).contains(&streams) {
        return Err(PeError::Malformed(format!("MSF with {streams} streams")));
    }
    let size_of = |s: usize| -> Result<usize, PeError> {
        let v = u32_at(&directory, 4 + s * 4, "MSF stream size")?;
        Ok(if v == u32::MAX { 0 } else { v as usize })
    };
    let info_size = size_of(1)?;
    if info_size < 28 {
        return Err(PeError::Malformed(format!(
            "PDB info stream of {info_size} bytes"
        )));
    }
    // Stream 1's first block follows the block list of stream 0.
    let first_of_info = 4 + streams * 4 + size_of(0)?.div_ceil(block_size) * 4;
    let info_block = u32_at(&directory, first_of_info, "PDB info stream block")? as usize;
    let info = block(info_block, "PDB info stream")?;
    let age = u32_at(info, 8, "PDB info Age")?;
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&info[12..28]);
    Ok(PdbId { guid, age })
}

/// Every way the image's CodeView record fails to name `pdb` (whose file name is
/// `pdb_file_name`): missing record, another file name, another GUID or age.
pub fn check_pdb(cv: Option<&CodeView>, pdb: &PdbId, pdb_file_name: &str) -> Vec<String> {
    let Some(cv) = cv else {
        return vec!["no CodeView (RSDS) debug directory entry: the debugger finds no PDB".into()];
    };
    let mut p = Vec::new();
    let recorded = cv.pdb_path.rsplit(['\\', '/']).next().unwrap_or_default();
    if !recorded.eq_ignore_ascii_case(pdb_file_name) {
        p.push(format!(
            "CodeView names PDB {:?}, not {pdb_file_name:?}",
            cv.pdb_path
        ));
    }
    if cv.id.guid != pdb.guid {
        p.push(format!(
            "CodeView GUID {} differs from the PDB's {}",
            hex(&cv.id.guid),
            hex(&pdb.guid)
        ));
    }
    if cv.id.age != pdb.age {
        p.push(format!(
            "CodeView age {} differs from the PDB's {}",
            cv.id.age, pdb.age
        ));
    }
    p
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::Section;

    const GUID: [u8; 16] = *b"0123456789abcdef";

    /// A one-section image whose debug directory (at RVA 0x1000 == file offset 0x200) holds a
    /// POGO-like entry and then a CodeView entry pointing at an RSDS record.
    fn image_with_codeview(record: &[u8]) -> (Vec<u8>, PeImage) {
        let mut data = vec![0u8; 0x400];
        let put32 =
            |d: &mut Vec<u8>, at: usize, v: u32| d[at..at + 4].copy_from_slice(&v.to_le_bytes());
        // Entry 0: type 13 (POGO), ignored. Entry 1: CodeView at file offset 0x280.
        put32(&mut data, 0x200 + 12, 13);
        put32(&mut data, 0x200 + 28 + 12, DEBUG_TYPE_CODEVIEW);
        put32(&mut data, 0x200 + 28 + 16, record.len() as u32);
        put32(&mut data, 0x200 + 28 + 24, 0x280);
        data[0x280..0x280 + record.len()].copy_from_slice(record);
        let image = PeImage {
            machine: 0x8664,
            characteristics: 0,
            magic: 0x20b,
            entry_rva: 0,
            image_base: 0,
            subsystem: 1,
            dll_characteristics: 0,
            directories: vec![(0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0, 0), (0x1000, 56)],
            sections: vec![Section {
                name: ".rdata".into(),
                virtual_address: 0x1000,
                virtual_size: 0x200,
                raw_offset: 0x200,
                raw_size: 0x200,
                characteristics: 0,
            }],
            imports: Vec::new(),
            exports: Vec::new(),
        };
        (data, image)
    }

    fn rsds(guid: [u8; 16], age: u32, path: &str) -> Vec<u8> {
        let mut r = b"RSDS".to_vec();
        r.extend_from_slice(&guid);
        r.extend_from_slice(&age.to_le_bytes());
        r.extend_from_slice(path.as_bytes());
        r.push(0);
        r
    }

    /// A minimal MSF 7.00 file with 512-byte blocks: superblock (0), block map (3), directory
    /// (4: two streams, stream 0 of 600 bytes in blocks 6 and 7, stream 1 in block 5), the
    /// info stream (5).
    fn msf(guid: [u8; 16], age: u32) -> Vec<u8> {
        const BS: usize = 512;
        let mut f = vec![0u8; 8 * BS];
        let put32 =
            |f: &mut Vec<u8>, at: usize, v: u32| f[at..at + 4].copy_from_slice(&v.to_le_bytes());
        f[..32].copy_from_slice(MSF7_MAGIC);
        put32(&mut f, 32, BS as u32);
        put32(&mut f, 40, 8);
        let directory = [2u32, 600, 28, 6, 7, 5];
        put32(&mut f, 44, (directory.len() * 4) as u32);
        put32(&mut f, 52, 3);
        put32(&mut f, 3 * BS, 4);
        for (i, v) in directory.iter().enumerate() {
            put32(&mut f, 4 * BS + i * 4, *v);
        }
        put32(&mut f, 5 * BS, 20000404);
        put32(&mut f, 5 * BS + 8, age);
        f[5 * BS + 12..5 * BS + 28].copy_from_slice(&guid);
        f
    }

    #[test]
    fn a_matching_codeview_record_and_pdb_pass() {
        let (data, image) = image_with_codeview(&rsds(GUID, 3, "mxfloop.pdb"));
        let cv = codeview(&data, &image).unwrap().expect("a CodeView record");
        assert_eq!(cv.pdb_path, "mxfloop.pdb");
        assert_eq!(cv.id, PdbId { guid: GUID, age: 3 });
        let pdb = pdb_id(&msf(GUID, 3)).unwrap();
        assert_eq!(pdb, cv.id);
        assert!(check_pdb(Some(&cv), &pdb, "mxfloop.pdb").is_empty());
        // A full path in the record names the same file.
        let (data, image) = image_with_codeview(&rsds(GUID, 3, "C:\\out\\MXFLOOP.pdb"));
        let cv = codeview(&data, &image).unwrap().unwrap();
        assert!(check_pdb(Some(&cv), &pdb, "mxfloop.pdb").is_empty());
    }

    #[test]
    fn a_missing_or_mismatched_record_is_reported() {
        let pdb = pdb_id(&msf(GUID, 3)).unwrap();
        let no_debug = check_pdb(None, &pdb, "mxfloop.pdb");
        assert!(no_debug[0].contains("no CodeView"), "{no_debug:?}");

        let mut other = GUID;
        other[0] ^= 1;
        let (data, image) = image_with_codeview(&rsds(other, 4, "other.pdb"));
        let cv = codeview(&data, &image).unwrap().unwrap();
        let p = check_pdb(Some(&cv), &pdb, "mxfloop.pdb");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains("other.pdb") && p[1].contains("GUID") && p[2].contains("age"));

        let mut image = image;
        image.directories.truncate(6);
        assert_eq!(codeview(&data, &image).unwrap(), None, "no debug directory");
    }

    #[test]
    fn malformed_records_and_pdbs_are_errors_not_panics() {
        let (data, image) = image_with_codeview(b"NB10\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert!(codeview(&data, &image).is_err(), "a PDB 2.0 record");
        let mut unterminated = rsds(GUID, 1, "x.pdb");
        unterminated.pop();
        let (data, image) = image_with_codeview(&unterminated);
        assert!(codeview(&data, &image).is_err());

        let good = msf(GUID, 1);
        assert!(pdb_id(&good[..100]).is_err(), "truncated superblock");
        assert!(pdb_id(b"not a pdb at all, not a pdb at all").is_err());
        for cut in [3 * 512 + 2, 4 * 512 + 8, 5 * 512 + 20] {
            assert!(pdb_id(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_block = good.clone();
        bad_block[32..36].copy_from_slice(&100u32.to_le_bytes());
        assert!(pdb_id(&bad_block).is_err(), "block size 100");
        let mut huge_map = good;
        huge_map[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(pdb_id(&huge_map).is_err(), "block map far past the end");
    }
}
