//! `pecheck IMAGE --expected-imports FILE [--map FILE] [--entry SYMBOL] [--pdb FILE]`: checks a
//! kernel driver image (with `--pdb`, also that its CodeView record names that PDB by file name,
//! GUID and age); prints every problem and exits 1 if there is any (2 on usage/IO errors).
//! `pecheck IMAGE --print-imports` prints the image's import list in the expected-file format.

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!(
        "usage: pecheck IMAGE --expected-imports FILE [--map FILE] [--entry SYMBOL] [--pdb FILE]\n       pecheck IMAGE --print-imports"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(image_path) = args.first() else {
        return usage();
    };
    let mut expected = None;
    let mut map = None;
    let mut entry = "DriverEntry".to_string();
    let mut print = false;
    let mut pdb = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--expected-imports" => expected = it.next().cloned(),
            "--map" => map = it.next().cloned(),
            "--pdb" => match it.next() {
                Some(p) => pdb = Some(p.clone()),
                None => return usage(),
            },
            "--entry" => match it.next() {
                Some(e) => entry = e.clone(),
                None => return usage(),
            },
            "--print-imports" => print = true,
            _ => return usage(),
        }
    }
    let data = match std::fs::read(image_path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("pecheck: {image_path}: {e}");
            return ExitCode::from(2);
        }
    };
    let image = match pecheck::parse(&data) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("pecheck: {image_path}: {e}");
            return ExitCode::from(1);
        }
    };
    if print {
        let mut lines: Vec<String> = image.imports.iter().map(|i| i.to_string()).collect();
        lines.sort();
        for l in lines {
            println!("{l}");
        }
        return ExitCode::SUCCESS;
    }
    let Some(expected) = expected else {
        return usage();
    };
    let text = match std::fs::read_to_string(&expected) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("pecheck: {expected}: {e}");
            return ExitCode::from(2);
        }
    };
    let imports = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect();
    let map_entry_rva = match &map {
        Some(m) => match std::fs::read_to_string(m) {
            Ok(t) => match pecheck::map_symbol_rva(&t, &entry) {
                Some(rva) => Some(rva),
                None => {
                    eprintln!("pecheck: {m}: no public symbol {entry}");
                    return ExitCode::from(1);
                }
            },
            Err(e) => {
                eprintln!("pecheck: {m}: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let exp = pecheck::Expectations {
        imports,
        entry_symbol: entry,
        map_entry_rva,
    };
    let mut problems = pecheck::check_driver(&image, &exp);
    let mut symbols = String::new();
    if let Some(pdb_path) = &pdb {
        let pdb_data = match std::fs::read(pdb_path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("pecheck: {pdb_path}: {e}");
                return ExitCode::from(2);
            }
        };
        let id = match pecheck::pdb_id(&pdb_data) {
            Ok(id) => id,
            Err(e) => {
                eprintln!("pecheck: {pdb_path}: {e}");
                return ExitCode::from(1);
            }
        };
        let cv = match pecheck::codeview(&data, &image) {
            Ok(cv) => cv,
            Err(e) => {
                eprintln!("pecheck: {image_path}: {e}");
                return ExitCode::from(1);
            }
        };
        let name = std::path::Path::new(pdb_path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        problems.extend(pecheck::check_pdb(cv.as_ref(), &id, &name));
        symbols = format!(", CodeView names {name} (GUID and age match)");
    }
    if problems.is_empty() {
        println!(
            "pecheck: {image_path}: OK (PE32+ AMD64 native, entry {:#x}, {} imports as expected{symbols})",
            image.entry_rva,
            image.imports.len()
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            eprintln!("pecheck: {image_path}: {p}");
        }
        ExitCode::from(1)
    }
}
