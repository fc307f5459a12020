//! The files of each crate form layers that depend one way: no import cycle between the
//! modules of a crate (issue 13). A module is a file of a crate's `src/` tree (`a/b.rs` and
//! `a/b/mod.rs` are `a::b`; `lib.rs` is the root); its dependencies are the `crate::…`,
//! `super::…` and `self::…` paths it names (`use` groups included) and the paths through its
//! own child modules, outside comments, string literals and `#[cfg(test)]` items. Each path
//! counts as a dependency on the deepest module it names. A reference to one of the module's
//! own ancestors is not a dependency: a `mod.rs` or `lib.rs` is the face of the modules under
//! it (declarations and re-exports), and what it defines itself is shared by them.
//! Binary roots (`main.rs` beside a `lib.rs`, `src/bin/`) are crates of their own and skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A module: its path below the crate root (`[]` is the root).
type Module = Vec<String>;

/// The `.rs` files under `dir`, sorted.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a file (relative to `src/`, `/`-separated) defines, or `None` for a binary root
/// of its own.
fn module_of(rel: &str, has_lib: bool) -> Option<Module> {
    let stem = rel.strip_suffix(".rs")?;
    let mut parts: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    if parts.len() == 1 && parts[0] == "main" && has_lib {
        return None;
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        return Some(Vec::new());
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}

/// Source text with comments, string/char literals replaced by spaces (newlines kept, so
/// byte offsets keep their lines).
fn code_only(src: &str) -> Vec<u8> {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in out.iter_mut().take(to).skip(from) {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            let end = b[i..]
                .iter()
                .position(|&x| x == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j] == b'/' && b.get(j + 1) == Some(&b'*') {
                    depth += 1;
                    j += 2;
                } else if b[j] == b'*' && b.get(j + 1) == Some(&b'/') {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (c == b'r' || (c == b'b' && b.get(i + 1) == Some(&b'r')))
            && (i == 0 || !ident(b[i - 1]))
            && {
                let s = if c == b'r' { i + 1 } else { i + 2 };
                let h = b[s..].iter().take_while(|&&x| x == b'#').count();
                b.get(s + h) == Some(&b'"')
            }
        {
            // A raw string: r"…", r#"…"#, br"…".
            let s = if c == b'r' { i + 1 } else { i + 2 };
            let hashes = b[s..].iter().take_while(|&&x| x == b'#').count();
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = s + hashes + 1;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |n| body + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if c == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank(&mut out, i, end);
            i = end;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{..}', '\'') or a lifetime ('a).
            let lit_end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&x| x == b'\'')
                    .map(|n| i + 2 + n + 1)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(i + 3)
            } else {
                // A multi-byte UTF-8 char literal, or a lifetime.
                let n = src[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + n) == Some(&b'\'')).then_some(i + 2 + n)
            };
            match lit_end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else if ident(c) {
            // Skip the whole identifier, so that `r`/`br` inside one never opens a raw string.
            while i < b.len() && ident(b[i]) {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A token of code: an identifier (with a leading `$` for `$crate`) or one punctuation byte
/// (`::` is one token), with its byte offset.
#[derive(Clone, Debug, PartialEq)]
struct Tok {
    text: String,
    at: usize,
}

fn tokens(code: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if c.is_ascii_alphabetic() || c == b'_' || (c == b'$' && code.get(i + 1) == Some(&b'c')) {
            let s = i;
            i += 1;
            while i < code.len() && (code[i].is_ascii_alphanumeric() || code[i] == b'_') {
                i += 1;
            }
            let text = String::from_utf8_lossy(&code[s..i])
                .trim_start_matches('$')
                .to_owned();
            toks.push(Tok { text, at: s });
        } else if c.is_ascii_digit() {
            while i < code.len() && (code[i].is_ascii_alphanumeric() || code[i] == b'_') {
                i += 1;
            }
        } else if c == b':' && code.get(i + 1) == Some(&b':') {
            toks.push(Tok {
                text: "::".into(),
                at: i,
            });
            i += 2;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else {
            toks.push(Tok {
                text: (c as char).to_string(),
                at: i,
            });
            i += 1;
        }
    }
    toks
}

/// The index just past the item that starts at `toks[i]` (after its attributes): up to its
/// first `;` at bracket depth 0, or through the `{ … }` block it opens.
fn item_end(toks: &[Tok], mut i: usize) -> usize {
    let mut depth = 0i32;
    while i < toks.len() {
        match toks[i].text.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            ";" if depth == 0 => return i + 1,
            "{" if depth == 0 => return block_end(toks, i),
            _ => {}
        }
        i += 1;
    }
    toks.len()
}

/// The index just past the `}` closing the `{` at `toks[open]`.
fn block_end(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0i32;
    for (j, t) in toks.iter().enumerate().skip(open) {
        match t.text.as_str() {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// The end of the attribute `#[…]` starting at `toks[i]`, and whether it is `#[cfg(test)]`.
fn attribute(toks: &[Tok], i: usize) -> Option<(usize, bool)> {
    if toks.get(i)?.text != "#" {
        return None;
    }
    let open = if toks.get(i + 1)?.text == "!" {
        i + 2
    } else {
        i + 1
    };
    if toks.get(open)?.text != "[" {
        return None;
    }
    let mut depth = 0;
    for (j, t) in toks.iter().enumerate().skip(open) {
        match t.text.as_str() {
            "[" => depth += 1,
            "]" => {
                depth -= 1;
                if depth == 0 {
                    let inner: Vec<&str> =
                        toks[open + 1..j].iter().map(|t| t.text.as_str()).collect();
                    return Some((j + 1, inner == ["cfg", "(", "test", ")"]));
                }
            }
            _ => {}
        }
    }
    None
}

/// A path a module names (`crate::…`, `super::…`, `self::…`, or through a child module).
#[derive(Debug, PartialEq)]
struct Named {
    /// The path from the crate root (`super`/`self`/a child resolved against the module).
    path: Vec<String>,
    /// Byte offset of its first token.
    at: usize,
}

/// What one file references: paths (resolved to absolute ones) and the file-level modules
/// it declares as `#[cfg(test)] mod name;`.
struct FileRefs {
    named: Vec<Named>,
    test_children: Vec<String>,
}

/// Parses the path at `toks[i]` (`a::b::{c, d::e as f, self}`), appending every full path to
/// `out` (each prefixed by `prefix`); returns the index after it.
fn parse_path(
    toks: &[Tok],
    mut i: usize,
    prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix;
    loop {
        match toks.get(i).map(|t| t.text.as_str()) {
            Some("{") => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| t.text.as_str()) {
                        Some("}") => return i + 1,
                        Some(",") => i += 1,
                        None => return i,
                        Some(_) => i = parse_path(toks, i, path.clone(), out),
                    }
                }
            }
            Some("*") => {
                out.push(path);
                return i + 1;
            }
            Some(t)
                if t.chars()
                    .next()
                    .is_some_and(|c| c.is_alphabetic() || c == '_') =>
            {
                if t != "self" {
                    path.push(t.to_owned());
                }
                i += 1;
                if toks.get(i).is_some_and(|t| t.text == "::") {
                    i += 1;
                    continue;
                }
                if toks.get(i).is_some_and(|t| t.text == "as") {
                    i += 2;
                }
                out.push(path);
                return i;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// The paths file module `module` names in `src` (see the module docs); `children` are the
/// names of its child modules (a path starting with one of them is relative to `module`).
fn references(module: &Module, src: &str, children: &BTreeSet<String>) -> FileRefs {
    let toks = tokens(&code_only(src));
    let mut named = Vec::new();
    let mut test_children = Vec::new();
    // Inline modules open at this point: (name, index of the token after its block).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        while inline.last().is_some_and(|&(_, end)| i >= end) {
            inline.pop();
        }
        if let Some((after, is_test)) = attribute(&toks, i) {
            if !is_test {
                i = after;
                continue;
            }
            let mut j = after;
            while let Some((next, _)) = attribute(&toks, j) {
                j = next;
            }
            let end = item_end(&toks, j);
            // `#[cfg(test)] mod name;`: a test module in a file of its own.
            let words: Vec<&str> = toks[j..end].iter().map(|t| t.text.as_str()).collect();
            if let [.., "mod", name, ";"] = words.as_slice()
                && inline.is_empty()
            {
                test_children.push((*name).to_owned());
            }
            i = end;
            continue;
        }
        let t = toks[i].text.as_str();
        if t == "mod"
            && toks.get(i + 2).is_some_and(|t| t.text == "{")
            && let Some(name) = toks.get(i + 1)
        {
            inline.push((name.text.clone(), block_end(&toks, i + 2)));
            i += 3;
            continue;
        }
        let after_colons = i > 0 && toks[i - 1].text == "::";
        let starts = matches!(t, "crate" | "super" | "self") || children.contains(t);
        if after_colons || !starts || toks.get(i + 1).is_none_or(|t| t.text != "::") {
            i += 1;
            continue;
        }
        // A visibility `pub(in crate::a)` names no dependency.
        if i > 0 && toks[i - 1].text == "in" {
            i += 1;
            continue;
        }
        // Where the path starts, in inline-module-aware terms.
        let mut here: Module = module.clone();
        here.extend(inline.iter().map(|(n, _)| n.clone()));
        let mut j = i;
        let base: Module = match t {
            "crate" => {
                j += 2;
                Vec::new()
            }
            "self" => {
                j += 2;
                here.clone()
            }
            "super" => {
                let mut b = here.clone();
                while toks.get(j).is_some_and(|t| t.text == "super")
                    && toks.get(j + 1).is_some_and(|t| t.text == "::")
                {
                    b.pop();
                    j += 2;
                }
                b
            }
            _ if inline.is_empty() => here.clone(),
            _ => {
                // A child name inside an inline module is not the file's child.
                i += 1;
                continue;
            }
        };
        let mut paths = Vec::new();
        let next = parse_path(&toks, j, Vec::new(), &mut paths);
        for p in paths {
            let mut full = base.clone();
            full.extend(p);
            named.push(Named {
                path: full,
                at: toks[i].at,
            });
        }
        i = next.max(i + 1);
    }
    FileRefs {
        named,
        test_children,
    }
}

/// A dependency edge of the module graph and where it is first seen.
type Edges = BTreeMap<Module, BTreeMap<Module, String>>;

/// The module graph of one crate, from its files (`/`-separated paths relative to `src/`,
/// with their texts); `label` prefixes the locations.
fn module_graph(label: &str, files: &[(String, String)]) -> Edges {
    let has_lib = files.iter().any(|(p, _)| p == "lib.rs");
    let mut modules: BTreeMap<Module, (&str, &str)> = BTreeMap::new();
    for (rel, text) in files {
        if let Some(m) = module_of(rel, has_lib) {
            modules.insert(m, (rel, text));
        }
    }
    let children_of = |m: &Module| -> BTreeSet<String> {
        modules
            .keys()
            .filter(|k| k.len() == m.len() + 1 && k.starts_with(m))
            .filter_map(|k| k.last().cloned())
            .collect()
    };
    let mut refs: BTreeMap<Module, FileRefs> = BTreeMap::new();
    for (m, (_, text)) in &modules {
        refs.insert(m.clone(), references(m, text, &children_of(m)));
    }
    // Modules declared `#[cfg(test)]` (and everything under them) are not part of the build.
    let mut test_mods: Vec<Module> = Vec::new();
    for (m, r) in &refs {
        for c in &r.test_children {
            let mut t = m.clone();
            t.push(c.clone());
            test_mods.push(t);
        }
    }
    let is_test = |m: &Module| test_mods.iter().any(|t| m.starts_with(t));
    let mut edges = Edges::new();
    for (m, r) in &refs {
        if is_test(m) {
            continue;
        }
        let (rel, text) = modules[m];
        for n in &r.named {
            let target = (0..=n.path.len())
                .rev()
                .map(|k| n.path[..k].to_vec())
                .find(|p| modules.contains_key(p))
                .unwrap_or_default();
            if m.starts_with(&target) || is_test(&target) {
                continue;
            }
            let line = text[..n.at].matches('\n').count() + 1;
            edges
                .entry(m.clone())
                .or_default()
                .entry(target)
                .or_insert_with(|| format!("{label}/{rel}:{line}"));
        }
    }
    edges
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// Every cycle of `edges`: each strongly connected set of more than one module, described as
/// its modules and one location per edge between them.
fn cycles(edges: &Edges) -> Vec<String> {
    let nodes: BTreeSet<&Module> = edges
        .iter()
        .flat_map(|(a, to)| std::iter::once(a).chain(to.keys()))
        .collect();
    let reach = |from: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for n in edges.get(&m).into_iter().flat_map(|t| t.keys()) {
                if seen.insert(n.clone()) {
                    stack.push(n.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&Module, BTreeSet<Module>> =
        nodes.iter().map(|&m| (m, reach(m))).collect();
    let mut done: BTreeSet<&Module> = BTreeSet::new();
    let mut out = Vec::new();
    for &m in &nodes {
        if done.contains(m) || !reachable[m].contains(m) {
            continue;
        }
        let set: BTreeSet<&Module> = nodes
            .iter()
            .copied()
            .filter(|&n| reachable[m].contains(n) && reachable[n].contains(m))
            .collect();
        done.extend(set.iter().copied());
        let mut text = format!(
            "cycle between {}:",
            set.iter().map(|m| name(m)).collect::<Vec<_>>().join(", ")
        );
        for &a in &set {
            for (b, at) in &edges[a] {
                if set.contains(b) {
                    text.push_str(&format!("\n    {} -> {} ({at})", name(a), name(b)));
                }
            }
        }
        out.push(text);
    }
    out
}

/// The `src/` trees of the workspace: the root crate's and every member's.
fn crate_sources(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = vec![("src".to_owned(), root.join("src"))];
    let mut members: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .collect();
    members.sort();
    for m in members {
        let src = m.join("src");
        if src.is_dir() {
            let label = format!("crates/{}/src", m.file_name().unwrap().to_string_lossy());
            out.push((label, src));
        }
    }
    out
}

#[test]
fn no_import_cycle_between_files_of_a_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    let mut modules = 0;
    for (label, src) in crate_sources(root) {
        let mut paths = Vec::new();
        rust_files(&src, &mut paths);
        let files: Vec<(String, String)> = paths
            .iter()
            .map(|p| {
                let rel = p
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                (rel, fs::read_to_string(p).expect("readable source"))
            })
            .collect();
        modules += files.len();
        found.extend(
            cycles(&module_graph(&label, &files))
                .into_iter()
                .map(|c| format!("{label}: {c}")),
        );
    }
    assert!(modules > 100, "found the workspace's sources");
    assert!(
        found.is_empty(),
        "import cycles between files of a crate:\n{}",
        found.join("\n")
    );
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn the_check_finds_a_cycle_through_a_use_group_and_through_super() {
    let crate_files = files(&[
        ("lib.rs", "mod a;\nmod b;\nmod c;\npub use a::*;\n"),
        (
            "a.rs",
            "use crate::{b::X, c::{self, d::W}};\npub fn g() {}\n",
        ),
        ("b.rs", "pub struct X;\n"),
        ("c/mod.rs", "mod d;\npub use d::W;\n"),
        (
            "c/d.rs",
            "pub struct W;\nfn f() {\n    super::super::a::g();\n}\n",
        ),
    ]);
    let g = module_graph("k", &crate_files);
    let found = cycles(&g);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("cycle between a, c, c::d:"),
        "{}",
        found[0]
    );
    assert!(found[0].contains("a -> c::d (k/a.rs:1)"), "{}", found[0]);
    assert!(
        found[0].contains("c -> c::d (k/c/mod.rs:2)"),
        "{}",
        found[0]
    );
    assert!(!found[0].contains("-> b"), "b is not in the cycle");
    assert!(found[0].contains("c::d -> a (k/c/d.rs:3)"), "{}", found[0]);
    let (a, c): (Module, Module) = (vec!["a".into()], vec!["c".into()]);
    assert_eq!(g[&a][&c], "k/a.rs:1", "`c::{{self, ..}}` names c");
    assert!(
        g[&c].contains_key(&vec!["c".into(), "d".into()]),
        "a path through a child"
    );
}

#[test]
fn the_check_ignores_comments_strings_tests_and_ancestors() {
    let crate_files = files(&[
        ("lib.rs", "mod a;\nmod b;\n"),
        (
            "a.rs",
            concat!(
                "//! See [`crate::b::X`].\n/// Also [`super::b`].\nuse crate::b::X;\n",
                "#[cfg(test)]\nmod tests;\npub fn f() {}\n",
            ),
        ),
        (
            "b/mod.rs",
            concat!(
                "mod inner;\npub use inner::Z;\n",
                "/* crate::a::f() */\n",
                "const S: &str = \"crate::a::f\";\n",
                "const R: &str = r#\"super::a\"#;\n",
                "const C: char = '\"'; fn l<'a>(x: &'a u8) {}\n",
                "#[cfg(test)]\nmod tests {\n    use crate::a::f;\n}\n",
                "#[cfg(test)]\nuse crate::a::g;\n",
                "pub(crate) struct X;\n",
            ),
        ),
        (
            "b/inner.rs",
            "use super::X;\nuse crate::b::X as Y;\npub struct Z;\n",
        ),
        ("a/tests.rs", "use crate::b::X;\n"),
    ]);
    let g = module_graph("k", &crate_files);
    assert_eq!(cycles(&g), Vec::<String>::new());
    let (a, b): (Module, Module) = (vec!["a".into()], vec!["b".into()]);
    let inner: Module = vec!["b".into(), "inner".into()];
    assert_eq!(
        g[&a].keys().collect::<Vec<_>>(),
        [&b],
        "a names b, and no test module"
    );
    assert_eq!(
        g[&a][&b], "k/a.rs:3",
        "the first real use, not the doc links"
    );
    assert_eq!(
        g[&b].keys().collect::<Vec<_>>(),
        [&inner],
        "b names a only where it does not count"
    );
    assert!(
        !g.contains_key(&inner),
        "inner names only its ancestor b: {g:?}"
    );
    // A real reference from `b` to `a` is a cycle.
    let mut planted = crate_files.clone();
    planted[2].1.push_str("fn h() { crate::a::f() }\n");
    let found = cycles(&module_graph("k", &planted));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("b -> a (k/b/mod.rs:14)"), "{}", found[0]);
}
