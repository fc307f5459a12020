//! Compiling a probe to assembler text.

use crate::locate::{
    INSTALL_HINT, ddk_include, mingw_gcc, probe_header_dir, repo_root, shared_dir,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

enum Source {
    File(PathBuf),
    Text { name: String, text: String },
}

/// One C probe and its include path; [`Probe::compile`] returns the `.s` text.
pub struct Probe {
    source: Source,
    include_dirs: Vec<PathBuf>,
}

impl Probe {
    /// `<repo>/scripts/layout/<name>`.
    pub fn script(name: &str) -> Self {
        Self::from_source(Source::File(repo_root().join("scripts/layout").join(name)))
    }

    /// C text held by the test itself; `name` is for messages only.
    pub fn text(name: &str, text: &str) -> Self {
        Self::from_source(Source::Text {
            name: name.into(),
            text: text.into(),
        })
    }

    fn from_source(source: Source) -> Self {
        Self {
            source,
            include_dirs: vec![probe_header_dir()],
        }
    }

    /// Adds the mingw `include/ddk` directory and the shared `ddk_fixups.h` directory (the
    /// probe includes `"ddk_fixups.h"` after `<ddk/wdm.h>` when it needs `<ddk/portcls.h>`).
    ///
    /// # Panics
    /// When either is missing.
    pub fn with_ddk(mut self) -> Self {
        let fixups = shared_dir().join("tools/win-sysroot");
        assert!(
            fixups.join("ddk_fixups.h").is_file(),
            "ddk_fixups.h not found in {} (set MXF_SHARED to the shared tree)",
            fixups.display()
        );
        self.include_dirs.push(ddk_include());
        self.include_dirs.push(fixups);
        self
    }

    fn name(&self) -> String {
        match &self.source {
            Source::File(p) => p.display().to_string(),
            Source::Text { name, .. } => name.clone(),
        }
    }

    /// Runs `x86_64-w64-mingw32-gcc -S -O0 -o -` on the probe and returns the assembler text
    /// (from stdout: no temporary files, so concurrent test runs cannot collide).
    ///
    /// # Panics
    /// When the compiler cannot be run (naming the packages) or rejects the probe (with its
    /// diagnostics).
    pub fn compile(&self) -> String {
        let gcc = mingw_gcc();
        let mut cmd = Command::new(&gcc);
        cmd.args(["-S", "-O0", "-Wno-missing-braces", "-o", "-"]);
        for dir in &self.include_dirs {
            cmd.arg(format!("-I{}", dir.display()));
        }
        match &self.source {
            Source::File(p) => {
                cmd.arg(p).stdin(Stdio::null());
            }
            Source::Text { .. } => {
                cmd.args(["-x", "c", "-"]).stdin(Stdio::piped());
            }
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `{gcc}` ({e}); the layout check needs it: `{INSTALL_HINT}`")
            });
        if let Source::Text { text, .. } = &self.source {
            // Small enough for the pipe buffer, and gcc reads all of stdin before writing.
            let mut stdin = child.stdin.take().expect("piped stdin");
            stdin
                .write_all(text.as_bytes())
                .expect("write probe to gcc");
        }
        let output = child.wait_with_output().expect("wait for gcc");
        assert!(
            output.status.success(),
            "`{gcc}` failed on {}:\n{}",
            self.name(),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("gcc wrote non-UTF-8 assembly")
    }
}
