//! Running the `mxfsim` binary from a test, bounded: a child still running after its limit
//! is killed and the test fails, so a hang is a test failure, not a hung test run.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one `mxfsim` run may take in a test: a debug build of the longest run the tests
/// make (the quick workload under the verifier) takes seconds.
pub const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Reads a child's pipe to its end on a thread of its own, so that a child writing more than
/// a pipe holds is never blocked by the test waiting for it.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut v);
        }
        v
    })
}

/// Waits for `child` at most `limit`; kills it and panics (naming `what`) past that.
pub fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> Output {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("wait for the child") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what}: still running after {limit:?}, killed");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Runs `mxfsim args` with `stdin` (or none), bounded by `limit`.
pub fn mxfsim_within(args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mxfsim"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mxfsim");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let data = data.to_vec();
        // On a thread: a child that stops reading must not block the test.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    wait_bounded(child, limit, &format!("mxfsim {args:?}"))
}

/// Runs `mxfsim args` with `stdin` (or none), bounded by [`RUN_LIMIT`].
pub fn mxfsim(args: &[&str], stdin: Option<&[u8]>) -> Output {
    mxfsim_within(args, stdin, RUN_LIMIT)
}

/// Writes `data` to a file of its own in the temporary directory (named after the test
/// process and `name`) and returns its path.
pub fn tmp(name: &str, data: &[u8]) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("mxfsim-test-{}-{name}", std::process::id()));
    std::fs::write(&p, data).unwrap();
    p
}

/// Text of a child's output.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
