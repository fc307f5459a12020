//! Reading values back from GNU assembler text.

use std::collections::BTreeMap;

/// Collects `.set mxf.<key>.hi, H` / `.set mxf.<key>.lo, L` into
/// `key -> H * 2^32 + (L mod 2^32)` (the 64-bit pattern, as `i64`).
///
/// # Errors
/// A malformed line, a key with one half missing or a half given twice.
pub fn parse_values(asm: &str) -> Result<BTreeMap<String, i64>, String> {
    let mut halves: BTreeMap<String, (Option<i64>, Option<i64>)> = BTreeMap::new();
    for line in asm.lines() {
        let Some(rest) = line.trim().strip_prefix(".set mxf.") else {
            continue;
        };
        let (name, value) = rest
            .split_once(',')
            .ok_or_else(|| format!("no `, value` in `{line}`"))?;
        let value: i64 = value
            .trim()
            .parse()
            .map_err(|_| format!("bad value in `{line}`"))?;
        let name = name.trim();
        let (key, is_hi) = if let Some(key) = name.strip_suffix(".hi") {
            (key, true)
        } else if let Some(key) = name.strip_suffix(".lo") {
            (key, false)
        } else {
            return Err(format!("neither .hi nor .lo: `{line}`"));
        };
        let entry = halves.entry(key.to_string()).or_default();
        let slot = if is_hi { &mut entry.0 } else { &mut entry.1 };
        if slot.replace(value).is_some() {
            return Err(format!("duplicate probe symbol `{name}`"));
        }
    }
    halves
        .into_iter()
        .map(|(key, halves)| match halves {
            (Some(hi), Some(lo)) => Ok((key, (hi << 32) | i64::from(lo as u32))),
            _ => Err(format!("`{key}`: one half missing")),
        })
        .collect()
}

/// The first `len` bytes the assembler would emit under `label:` (data directives only).
///
/// # Errors
/// The label is missing, a directive other than data follows it before `len` bytes, or the
/// data runs out.
pub fn data_bytes(asm: &str, label: &str, len: usize) -> Result<Vec<u8>, String> {
    let head = format!("{label}:");
    let mut lines = asm.lines().skip_while(|l| l.trim() != head);
    if lines.next().is_none() {
        return Err(format!("`{label}` not defined by the probe"));
    }
    let mut bytes = Vec::new();
    for line in lines {
        if bytes.len() >= len {
            break;
        }
        let line = line.trim();
        let (dir, args) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let width = match dir {
            ".quad" => Some(8),
            ".long" => Some(4),
            ".word" | ".value" | ".short" => Some(2),
            ".byte" => Some(1),
            _ => None,
        };
        if let Some(width) = width {
            for v in args.split(',') {
                // Two's complement little-endian: the low `width` bytes of the value.
                bytes.extend_from_slice(&parse_int(v)?.to_le_bytes()[..width]);
            }
            continue;
        }
        match dir {
            ".space" | ".zero" => {
                let n = usize::try_from(parse_int(args)?).map_err(|_| format!("bad `{line}`"))?;
                bytes.resize(bytes.len() + n, 0);
            }
            ".ascii" => {
                let body = args
                    .trim()
                    .strip_prefix('"')
                    .and_then(|b| b.strip_suffix('"'))
                    .ok_or_else(|| format!("unquoted `{line}`"))?;
                ascii_bytes(body, &mut bytes)?;
            }
            _ => return Err(format!("unexpected `{line}` inside `{label}`")),
        }
    }
    if bytes.len() < len {
        return Err(format!("`{label}` has only {} bytes", bytes.len()));
    }
    bytes.truncate(len);
    Ok(bytes)
}

fn parse_int(s: &str) -> Result<i128, String> {
    let t = s.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(h) => i128::from_str_radix(h, 16),
        None => digits.parse(),
    }
    .map_err(|_| format!("bad integer `{t}`"))?;
    Ok(if neg { -v } else { v })
}

/// Decodes a GAS string literal body (`\ooo` octal, `\\`, `\"`, `\n`... escapes).
fn ascii_bytes(body: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c as u8);
            continue;
        }
        match chars.next().ok_or("dangling escape")? {
            d @ '0'..='7' => {
                let mut v = d as u32 - '0' as u32;
                for _ in 0..2 {
                    match chars.peek().and_then(|c| c.to_digit(8)) {
                        Some(n) => {
                            v = v * 8 + n;
                            chars.next();
                        }
                        None => break,
                    }
                }
                out.push(v as u8);
            }
            'n' => out.push(b'\n'),
            't' => out.push(b'\t'),
            'r' => out.push(b'\r'),
            'b' => out.push(8),
            'f' => out.push(12),
            other => out.push(other as u8),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_join_signed_halves_into_64_bit_patterns() {
        // What gcc prints for -1073741198 (0xC0000272), u32::MAX, 1 << 63 and
        // 0xFFFFF78000000008, with the GAS comment lines it interleaves.
        let asm = "/APP\n # 12 \"p.c\" 1\n\t.set mxf.value.A.hi, -1\n\t.set mxf.value.A.lo, -1073741198\n\
                   # 0 \"\" 2\n\t.set mxf.value.B.hi, 0\n\t.set mxf.value.B.lo, -1\n\
                   \t.set mxf.value.C.hi, -2147483648\n\t.set mxf.value.C.lo, 0\n\
                   \t.set mxf.value.D.lo, 8\n\t.set mxf.value.D.hi, -2176\n\
                   \t.set other.x.hi, 5\n\tmovq %rsp, %rbp\n";
        let m = parse_values(asm).unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m["value.A"], -1073741198);
        assert_eq!(m["value.B"], 0xffff_ffff);
        assert_eq!(m["value.C"] as u64, 1 << 63);
        assert_eq!(m["value.D"] as u64, 0xFFFF_F780_0000_0008);
    }

    #[test]
    fn malformed_value_lines_are_errors() {
        assert!(parse_values("\t.set mxf.size.X.hi, 0\n").is_err());
        assert!(
            parse_values(
                "\t.set mxf.size.X.hi, 0\n\t.set mxf.size.X.hi, 0\n\t.set mxf.size.X.lo, 1\n"
            )
            .is_err()
        );
        assert!(parse_values("\t.set mxf.size.X, 4\n").is_err());
        assert!(parse_values("\t.set mxf.size.X.lo, four\n\t.set mxf.size.X.hi, 0\n").is_err());
        assert_eq!(parse_values("nothing here\n").unwrap().len(), 0);
    }

    #[test]
    fn data_bytes_decode_what_gas_would_emit() {
        // gcc's GUID output: .long/.word in decimal, Data4 as octal-escaped .ascii pieces
        // ({a5f0d62c-b30f-11d2-b7a3-0060083316c1}, IID_IAllocatorMXF).
        let asm = "X:\n\t.long\t-1510943188\n\t.word\t-19697\n\t.word\t4562\n\
                   \t.ascii \"\\267\\243\\0`\\10\"\n\t.ascii \"3\\26\\301\"\n\t.globl Y\n";
        assert_eq!(
            data_bytes(asm, "X", 16).unwrap(),
            [
                0x2c, 0xd6, 0xf0, 0xa5, 0x0f, 0xb3, 0xd2, 0x11, 0xb7, 0xa3, 0x00, 0x60, 0x08, 0x33,
                0x16, 0xc1
            ]
        );
        assert_eq!(data_bytes("Z:\n\t.space 16\n", "Z", 16).unwrap(), [0; 16]);
        let asm = "H:\n\t.quad\t327683\n\t.byte 1, 0x2\n\t.zero\t6\n";
        let b = data_bytes(asm, "H", 16).unwrap();
        assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), 327683);
        assert_eq!(&b[8..], &[1, 2, 0, 0, 0, 0, 0, 0]);
        assert!(data_bytes(asm, "Missing", 16).is_err());
        assert!(data_bytes("S:\n\t.long 1\n\tret\n", "S", 8).is_err());
        assert!(data_bytes("S:\n\t.long 1\n", "S", 8).is_err());
    }
}
