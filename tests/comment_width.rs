//! Comments are wrapped at 100 columns (what rustfmt's `wrap_comments`/`comment_width = 100`
//! would do; those options are nightly-only, and the toolchain is pinned to stable, so this
//! test enforces the width instead). Exempt: lines inside a fenced code block, Markdown table
//! rows (a row cannot be wrapped), and a line whose comment is one unbreakable word.

use std::fs;
use std::path::{Path, PathBuf};

const WIDTH: usize = 100;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The comment text of `line` if it is a comment line (`//`, `///`, `//!`).
fn comment_body(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix("//")?;
    let rest = rest
        .strip_prefix('!')
        .or_else(|| rest.strip_prefix('/'))
        .unwrap_or(rest);
    Some(rest.trim_start())
}

/// `path:line` of every comment line wider than [`WIDTH`] that could be wrapped.
fn too_wide(path: &Path, text: &str) -> Vec<String> {
    let mut in_fence = false;
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(body) = comment_body(line) else {
            continue;
        };
        if body.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        let exempt = in_fence || body.starts_with('|') || !body.contains(' ');
        if !exempt && line.chars().count() > WIDTH {
            bad.push(format!("{}:{}", path.display(), i + 1));
        }
    }
    bad
}

#[test]
fn every_comment_line_fits_in_100_columns() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "crates", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 100, "found the workspace's sources");
    let bad: Vec<String> = files
        .iter()
        .flat_map(|p| too_wide(p, &fs::read_to_string(p).expect("readable source")))
        .collect();
    assert!(
        bad.is_empty(),
        "comment lines wider than {WIDTH} columns:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_sees_a_wide_comment_and_exempts_tables_and_code() {
    let wide = format!("/// {}", "word ".repeat(30));
    let table = format!("//! | {} |", "cell ".repeat(30));
    let code = format!("//! ```\n//! {}\n//! ```", "x ".repeat(60));
    let p = Path::new("x.rs");
    assert_eq!(too_wide(p, &wide), ["x.rs:1"]);
    assert!(too_wide(p, &table).is_empty());
    assert!(too_wide(p, &code).is_empty());
}
