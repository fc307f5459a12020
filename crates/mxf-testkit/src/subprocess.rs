//! Bug checks that cannot be caught in-process: run part of a test in a child process and
//! report the emulated bug check it died with.
//!
//! # Why
//! An emulated bug check is a panic ([`BugCheck`] payload). [`expect_bugcheck`] catches it by
//! unwinding, which works for Rust calls but not through an `unsafe extern "system"` function
//! — a COM vtable slot as a C caller calls it: a panic may not unwind out of such a function,
//! so Rust aborts the whole process. [`expect_bugcheck_in_child`] runs the code in a child
//! process instead, where dying is fine, and hands the parent the bug check.
//!
//! # How
//! The child is the *same test binary* ([`std::env::current_exe`]) re-executed with the libtest
//! arguments `<name> --exact --include-ignored --nocapture --test-threads=1` and the
//! environment variable [`CHILD_ENV`]`=<name>`, so it runs exactly the calling test, whatever
//! filters or `--test-threads` the parent run was given. In the child, the same call of
//! [`expect_bugcheck_in_child`] sees [`CHILD_ENV`] and runs the closure directly, after
//! installing a panic hook that, on a [`BugCheck`] payload (outside [`expect_bugcheck`]), writes
//! one line to stderr — [`format_line`]:
//!
//! ```text
//! MXF-BUGCHECK code=0xc2 p=0x46,0x7f3a5c000f80,0x0,0xe7 msg=<message, \ \n \r escaped>
//! ```
//!
//! then prints the usual human-readable report and aborts the process, as a real bug check
//! stops the machine (no unwinding, so no "panic in a function that cannot unwind" either; a
//! bug check on any thread of the child stops it). The parent collects the child's output,
//! parses the first such line ([`parse_line`]) and checks that the child did not exit
//! successfully.
//!
//! Failures are reported, never passed ([`ChildFailure`]): the closure returned (the child then
//! exits 0 after writing a marker line), the child died without the line (another panic, a
//! crash), it exited 0 some other way (e.g. `name` matches no test: "running 0 tests"), it ran
//! longer than [`CHILD_TIMEOUT`] (it is killed), the line is malformed, or `name` is not the
//! running test (checked against libtest's test-thread name).
//!
//! # Rules for the calling test
//! - `name` is the test's full libtest name as `cargo test -- --list` prints it without
//!   `: test`: the function name in an integration test's top level, `module::tests::name`
//!   in a unit test.
//! - The child re-runs the test function from its start: code before the call runs in both
//!   processes (keep it cheap and free of outside effects), the closure only in the child, code
//!   after the call only in the parent. Hence one call per test (a second call with the same
//!   `name` is [`ChildFailure::CalledTwice`]): the child could only ever reach the first.
//! - Each call costs a process start plus libtest's start-up (a few milliseconds for a small
//!   test binary): keep such tests in small binaries.
//! - A test runner wrapper (`CARGO_TARGET_<triple>_RUNNER`) is not re-applied to the child.
//!
//! ```no_run
//! # use mxf_kemu::{Emu, EmuConfig};
//! # use mxf_testkit::subprocess::expect_bugcheck_in_child;
//! # use mxf_core::platform::Platform;
//! #[test]
//! fn raising_below_the_current_irql_stops() {
//!     let r = expect_bugcheck_in_child("raising_below_the_current_irql_stops", || {
//!         let emu = Emu::new(EmuConfig::default());
//!         emu.raise_irql(2);
//!         emu.raise_irql(1);
//!     });
//!     assert_eq!(r.code, 0x09);
//! }
//! ```
//!
//! [`expect_bugcheck`]: mxf_kemu::expect_bugcheck

use mxf_kemu::{BugCheck, code_name, expecting_bugcheck, install_bugcheck_hook};
use std::collections::HashSet;
use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

/// The environment variable that makes a test binary run the closure of the test it names.
pub const CHILD_ENV: &str = "MXF_KEMU_CHILD";

/// How every bug check line starts.
pub const LINE_PREFIX: &str = "MXF-BUGCHECK ";

/// The line a child writes to stderr when the closure returned without a bug check.
const RETURNED_MARKER: &str = "MXF-KEMU-CHILD-RETURNED";

/// Longest a child may run before it is killed and reported as [`ChildFailure::TimedOut`].
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// Most bytes of a child's output quoted in a [`ChildFailure`] message (its end is kept).
const QUOTE_MAX: usize = 4000;

/// The bug check a child died with.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BugCheckReport {
    /// The bug check code.
    pub code: u32,
    /// The four bug check parameters.
    pub params: [usize; 4],
    /// The emulator's description.
    pub message: String,
    /// How the child ended (not a success; normally killed by `SIGABRT`).
    pub status: ExitStatus,
}

impl BugCheckReport {
    /// The symbolic name of [`BugCheckReport::code`].
    pub fn name(&self) -> &'static str {
        code_name(self.code)
    }

    /// The bug check as the in-process [`expect_bugcheck`](mxf_kemu::expect_bugcheck) returns
    /// it.
    pub fn bugcheck(&self) -> BugCheck {
        BugCheck {
            code: self.code,
            params: self.params,
            message: self.message.clone(),
        }
    }
}

impl fmt::Display for BugCheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (child: {})", self.bugcheck(), self.status)
    }
}

/// Why a child did not report a bug check.
#[derive(Debug)]
pub enum ChildFailure {
    /// `name` is not the test that is running (libtest names its test threads after the
    /// test).
    NameMismatch {
        /// The name passed.
        given: String,
        /// The running test's name.
        running: String,
    },
    /// The same `name` was used a second time in this process.
    CalledTwice {
        /// The name passed.
        name: String,
    },
    /// The child process could not be started or waited for.
    Spawn(io::Error),
    /// The child ran longer than [`CHILD_TIMEOUT`] and was killed.
    TimedOut {
        /// Its standard error so far.
        stderr: String,
    },
    /// The closure returned without a bug check.
    Returned,
    /// The child exited successfully without running the test: `name` matches no test.
    NoTestRan {
        /// Its standard output.
        stdout: String,
    },
    /// The child exited successfully without running the closure to its end (e.g. the test
    /// returned before the call in the child).
    ExitedSuccessfully {
        /// Its standard output.
        stdout: String,
        /// Its standard error.
        stderr: String,
    },
    /// The child failed without a bug check line: another panic or a crash.
    NoBugCheck {
        /// How it ended.
        status: ExitStatus,
        /// Its standard error.
        stderr: String,
    },
    /// The child wrote a bug check line that does not parse.
    Malformed {
        /// The line.
        line: String,
        /// What is wrong with it.
        error: String,
    },
}

/// The end of `s`, at most [`QUOTE_MAX`] bytes, for a failure message.
fn tail(s: &str) -> &str {
    let mut start = s.len().saturating_sub(QUOTE_MAX);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

impl fmt::Display for ChildFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChildFailure::NameMismatch { given, running } => write!(
                f,
                "expect_bugcheck_in_child(\"{given}\") called from test `{running}`: the name \
                 must be the calling test's full libtest name"
            ),
            ChildFailure::CalledTwice { name } => write!(
                f,
                "expect_bugcheck_in_child(\"{name}\") called twice: the child re-runs the test \
                 from its start and could only ever reach the first call"
            ),
            ChildFailure::Spawn(e) => write!(f, "could not run the child test process: {e}"),
            ChildFailure::TimedOut { stderr } => write!(
                f,
                "the child ran longer than {CHILD_TIMEOUT:?} and was killed; its stderr:\n{}",
                tail(stderr)
            ),
            ChildFailure::Returned => {
                write!(
                    f,
                    "expected a bug check, but the code returned normally (in the child)"
                )
            }
            ChildFailure::NoTestRan { stdout } => write!(
                f,
                "the child ran no test: is the name the exact libtest name? Its stdout:\n{}",
                tail(stdout)
            ),
            ChildFailure::ExitedSuccessfully { stdout, stderr } => write!(
                f,
                "the child exited successfully without a bug check; its stdout:\n{}\nits \
                 stderr:\n{}",
                tail(stdout),
                tail(stderr)
            ),
            ChildFailure::NoBugCheck { status, stderr } => write!(
                f,
                "the child died without an emulated bug check ({status}); its stderr:\n{}",
                tail(stderr)
            ),
            ChildFailure::Malformed { line, error } => {
                write!(
                    f,
                    "malformed bug check line from the child ({error}): {line}"
                )
            }
        }
    }
}

impl std::error::Error for ChildFailure {}

/// Runs `f` in a child process (see the module documentation) and returns the emulated bug
/// check it died with.
///
/// # Panics
/// With the [`ChildFailure`] message if the child did not die of a bug check — in the parent.
/// In the child this function does not return: it aborts at the bug check, or exits after `f`
/// returns.
#[track_caller]
pub fn expect_bugcheck_in_child(name: &str, f: impl FnOnce()) -> BugCheckReport {
    match run_in_child(name, f) {
        Ok(r) => r,
        Err(e) => panic!("expect_bugcheck_in_child(\"{name}\"): {e}"),
    }
}

/// As [`expect_bugcheck_in_child`], returning the failure instead of panicking.
///
/// # Panics
/// In a child started for another test (the environment names a different test): that is a
/// broken `name`, and running on could start children recursively.
pub fn run_in_child(name: &str, f: impl FnOnce()) -> Result<BugCheckReport, ChildFailure> {
    run(name, f, CHILD_TIMEOUT)
}

fn run(name: &str, f: impl FnOnce(), timeout: Duration) -> Result<BugCheckReport, ChildFailure> {
    match std::env::var(CHILD_ENV) {
        Ok(wanted) if wanted == name => run_as_child(f),
        Ok(wanted) => panic!(
            "{CHILD_ENV}={wanted}, but this test calls expect_bugcheck_in_child(\"{name}\"): \
             the name must be the calling test's full libtest name"
        ),
        Err(_) => {
            check_name(name)?;
            interpret(spawn_child(name, name, timeout)?)
        }
    }
}

/// Names already used in this process.
static USED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn check_name(name: &str) -> Result<(), ChildFailure> {
    let current = thread::current();
    if let Some(running) = current.name()
        && running != name
        && running != "main"
    {
        return Err(ChildFailure::NameMismatch {
            given: name.to_owned(),
            running: running.to_owned(),
        });
    }
    let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
    if !used
        .get_or_insert_with(HashSet::new)
        .insert(name.to_owned())
    {
        return Err(ChildFailure::CalledTwice {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// The child side: hook, run, and never return.
fn run_as_child(f: impl FnOnce()) -> ! {
    install_child_hook();
    f();
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{RETURNED_MARKER}");
    let _ = err.flush();
    std::process::exit(0)
}

static CHILD_HOOK: Once = Once::new();

fn install_child_hook() {
    CHILD_HOOK.call_once(|| {
        // The emulator's hook first, so that ours wraps it (it is installed once per process
        // and does not pass bug checks on to the hook it replaced).
        install_bugcheck_hook();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(bc) = info.payload().downcast_ref::<BugCheck>()
                && !expecting_bugcheck()
            {
                {
                    // One write of the whole line: it cannot interleave with other output.
                    let mut err = io::stderr().lock();
                    let _ = err.write_all(format_line(bc).as_bytes());
                    let _ = err.flush();
                }
                previous(info);
                std::process::abort();
            }
            previous(info);
        }));
    });
}

/// What a finished child left.
struct ChildOutput {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Starts this test binary on test `test` with [`CHILD_ENV`]`=marker` and waits for it (at most
/// `timeout`, then kills it).
fn spawn_child(test: &str, marker: &str, timeout: Duration) -> Result<ChildOutput, ChildFailure> {
    let exe = std::env::current_exe().map_err(ChildFailure::Spawn)?;
    let mut child = Command::new(exe)
        .args([
            test,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, marker)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(ChildFailure::Spawn)?;
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let collect =
        |h: Option<thread::JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
    let started = Instant::now();
    let mut nap = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                // The child is ours (spawned just above): stop it and reap it.
                let _ = child.kill();
                let _ = child.wait();
                let _ = collect(stdout);
                return Err(ChildFailure::TimedOut {
                    stderr: collect(stderr),
                });
            }
            Ok(None) => {
                thread::sleep(nap);
                nap = (nap * 2).min(Duration::from_millis(20));
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ChildFailure::Spawn(e));
            }
        }
    };
    Ok(ChildOutput {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

/// Reads a pipe to its end on a thread of its own (so that neither pipe can fill up and
/// block the child while the other is read).
fn drain(mut r: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = r.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Turns a finished child's output into the report or the failure.
fn interpret(out: ChildOutput) -> Result<BugCheckReport, ChildFailure> {
    let line = out
        .stderr
        .lines()
        .find_map(|l| l.find(LINE_PREFIX).map(|i| &l[i..]));
    if out.status.success() {
        return Err(if out.stderr.lines().any(|l| l == RETURNED_MARKER) {
            ChildFailure::Returned
        } else if out.stdout.lines().any(|l| l.trim() == "running 0 tests") {
            ChildFailure::NoTestRan { stdout: out.stdout }
        } else {
            ChildFailure::ExitedSuccessfully {
                stdout: out.stdout,
                stderr: out.stderr,
            }
        });
    }
    let Some(line) = line else {
        return Err(ChildFailure::NoBugCheck {
            status: out.status,
            stderr: out.stderr,
        });
    };
    let bc = parse_line(line).map_err(|error| ChildFailure::Malformed {
        line: line.to_owned(),
        error,
    })?;
    Ok(BugCheckReport {
        code: bc.code,
        params: bc.params,
        message: bc.message,
        status: out.status,
    })
}

/// The line a child writes for `bc`, newline included: [`LINE_PREFIX`], `code=`, `p=` (four
/// parameters), `msg=` (the message with `\`, newline and carriage return escaped as `\\`,
/// `\n`, `\r`, so the line stays one line). Numbers are lower-case hex with `0x`.
pub fn format_line(bc: &BugCheck) -> String {
    let mut msg = String::with_capacity(bc.message.len());
    for c in bc.message.chars() {
        match c {
            '\\' => msg.push_str("\\\\"),
            '\n' => msg.push_str("\\n"),
            '\r' => msg.push_str("\\r"),
            c => msg.push(c),
        }
    }
    let [p1, p2, p3, p4] = bc.params;
    format!(
        "{LINE_PREFIX}code={:#x} p={p1:#x},{p2:#x},{p3:#x},{p4:#x} msg={msg}\n",
        bc.code
    )
}

fn parse_hex(s: &str) -> Result<usize, String> {
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("`{s}` lacks the 0x prefix"))?;
    usize::from_str_radix(digits, 16).map_err(|e| format!("`{s}`: {e}"))
}

/// Parses one line of [`format_line`] (a trailing newline is allowed).
pub fn parse_line(line: &str) -> Result<BugCheck, String> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let rest = line
        .strip_prefix(LINE_PREFIX)
        .ok_or_else(|| format!("does not start with `{LINE_PREFIX}`"))?;
    let (head, raw_msg) = rest.split_once(" msg=").ok_or("no ` msg=` field")?;
    let (code, params) = head.split_once(' ').ok_or("no ` p=` field")?;
    let code = parse_hex(code.strip_prefix("code=").ok_or("no `code=` field")?)?;
    let code = u32::try_from(code).map_err(|_| format!("code {code:#x} exceeds 32 bits"))?;
    let params: Vec<usize> = params
        .strip_prefix("p=")
        .ok_or("no `p=` field")?
        .split(',')
        .map(parse_hex)
        .collect::<Result<_, _>>()?;
    let params: [usize; 4] = params
        .try_into()
        .map_err(|p: Vec<usize>| format!("{} parameters, not 4", p.len()))?;
    let mut message = String::with_capacity(raw_msg.len());
    let mut chars = raw_msg.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            message.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => message.push('\\'),
            Some('n') => message.push('\n'),
            Some('r') => message.push('\r'),
            other => return Err(format!("bad escape `\\{}` in msg", other.unwrap_or(' '))),
        }
    }
    Ok(BugCheck {
        code,
        params,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxf_core::platform::{DISPATCH_LEVEL, Platform};
    use mxf_kemu::{Emu, EmuConfig, IRQL_NOT_GREATER_OR_EQUAL, expect_bugcheck, raise};
    use proptest::prelude::*;

    /// A "vtable slot": the bug check inside it cannot unwind out, so in-process it would
    /// abort the test binary.
    unsafe extern "system" fn slot_that_stops(emu: *const Emu) -> u32 {
        // SAFETY: the caller passes a live emulator.
        let emu = unsafe { &*emu };
        emu.raise_irql(DISPATCH_LEVEL);
        emu.raise_irql(1);
        0
    }

    #[test]
    fn a_bugcheck_inside_an_extern_system_fn_is_reported() {
        let r = expect_bugcheck_in_child(
            "subprocess::tests::a_bugcheck_inside_an_extern_system_fn_is_reported",
            || {
                let emu = Emu::new(EmuConfig::default());
                // SAFETY: a live emulator.
                unsafe { slot_that_stops(&emu) };
            },
        );
        assert_eq!(r.code, IRQL_NOT_GREATER_OR_EQUAL, "{r}");
        assert_eq!(r.params, [2, 1, 0, 0]);
        assert!(r.message.contains("below the current IRQL"), "{r}");
        assert!(!r.status.success());
    }

    unsafe extern "system" fn slot_that_raises(code: u32) {
        raise(BugCheck {
            code,
            params: [usize::MAX, 0, 0x46, 1 << 63],
            message: "two\nlines, a \\ and msg=x p=0x1".into(),
        })
    }

    #[test]
    fn parameters_and_message_survive_the_trip() {
        let r = expect_bugcheck_in_child(
            "subprocess::tests::parameters_and_message_survive_the_trip",
            || {
                // SAFETY: the function has no preconditions.
                unsafe { slot_that_raises(0xDEAD_00C2) }
            },
        );
        assert_eq!(r.code, 0xDEAD_00C2);
        assert_eq!(r.params, [usize::MAX, 0, 0x46, 1 << 63]);
        assert_eq!(r.message, "two\nlines, a \\ and msg=x p=0x1");
    }

    #[test]
    fn a_bugcheck_caught_by_expect_bugcheck_in_the_child_is_not_the_one_reported() {
        let r = expect_bugcheck_in_child(
            "subprocess::tests::a_bugcheck_caught_by_expect_bugcheck_in_the_child_is_not_the_one_reported",
            || {
                let emu = Emu::new(EmuConfig::verifier());
                let inner = expect_bugcheck(|| {
                    emu.raise_irql(DISPATCH_LEVEL);
                    emu.raise_irql(1);
                });
                assert_eq!(inner.code, 0xC4);
                emu.bug_check(0x1234, [1, 2, 3, 4]);
            },
        );
        assert_eq!((r.code, r.params), (0x1234, [1, 2, 3, 4]), "{r}");
    }

    #[test]
    fn a_child_that_returns_is_a_failure() {
        let r = run_in_child(
            "subprocess::tests::a_child_that_returns_is_a_failure",
            || {
                let emu = Emu::new(EmuConfig::default());
                emu.at_irql(DISPATCH_LEVEL, || ());
            },
        );
        assert!(matches!(r, Err(ChildFailure::Returned)), "{r:?}");
    }

    #[test]
    fn a_child_that_panics_otherwise_is_a_failure() {
        let r = run_in_child(
            "subprocess::tests::a_child_that_panics_otherwise_is_a_failure",
            || panic!("not a bug check: 7d1f"),
        );
        match r {
            Err(ChildFailure::NoBugCheck { status, stderr }) => {
                assert!(!status.success());
                assert!(stderr.contains("not a bug check: 7d1f"), "{stderr}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expect_bugcheck_in_child_panics_when_there_is_no_bugcheck() {
        let name = "subprocess::tests::expect_bugcheck_in_child_panics_when_there_is_no_bugcheck";
        let p = std::panic::catch_unwind(|| expect_bugcheck_in_child(name, || ()));
        let msg = p.expect_err("must fail");
        let msg = msg.downcast_ref::<String>().expect("a formatted message");
        assert!(msg.contains("returned normally"), "{msg}");
    }

    #[test]
    fn a_second_call_in_one_test_is_refused() {
        let name = "subprocess::tests::a_second_call_in_one_test_is_refused";
        let first = run_in_child(name, || {
            Emu::new(EmuConfig::default()).bug_check(0x77, [0; 4]);
        });
        assert_eq!(first.expect("first call").code, 0x77);
        let second = run_in_child(name, || ());
        assert!(
            matches!(second, Err(ChildFailure::CalledTwice { .. })),
            "{second:?}"
        );
    }

    #[test]
    fn a_name_other_than_the_running_test_is_refused() {
        let r = run_in_child("subprocess::tests::some_other_test", || ());
        match r {
            Err(ChildFailure::NameMismatch { given, running }) => {
                assert_eq!(given, "subprocess::tests::some_other_test");
                assert_eq!(
                    running,
                    "subprocess::tests::a_name_other_than_the_running_test_is_refused"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_name_that_matches_no_test_is_a_failure() {
        // Past the thread-name check: as if libtest ran the test on an unnamed thread.
        let out = spawn_child("no::such::test", "no::such::test", CHILD_TIMEOUT).unwrap();
        let r = interpret(out);
        assert!(matches!(r, Err(ChildFailure::NoTestRan { .. })), "{r:?}");
    }

    #[test]
    fn a_child_started_for_another_test_refuses_to_run() {
        // The child runs this very test with the environment naming another one: it must
        // panic rather than run the closure or start children of its own.
        let me = "subprocess::tests::a_child_started_for_another_test_refuses_to_run";
        if std::env::var(CHILD_ENV).is_ok() {
            let _ = run_in_child(me, || unreachable!("must not run"));
            return;
        }
        let out = spawn_child(me, "someone::else", CHILD_TIMEOUT).unwrap();
        assert!(!out.status.success());
        assert!(
            out.stderr
                .contains("this test calls expect_bugcheck_in_child"),
            "{}",
            out.stderr
        );
        assert!(matches!(
            interpret(out),
            Err(ChildFailure::NoBugCheck { .. })
        ));
    }

    #[test]
    fn a_hung_child_is_killed() {
        let r = run(
            "subprocess::tests::a_hung_child_is_killed",
            || loop {
                thread::sleep(Duration::from_millis(10));
            },
            Duration::from_millis(300),
        );
        assert!(matches!(r, Err(ChildFailure::TimedOut { .. })), "{r:?}");
    }

    #[test]
    fn interpret_requires_a_failed_exit_and_the_line() {
        use std::os::unix::process::ExitStatusExt;
        let line = format_line(&BugCheck {
            code: 0xC2,
            params: [7, 0x10, 0, 0xB5],
            message: "m".into(),
        });
        let out = |raw: i32, stdout: &str, stderr: &str| ChildOutput {
            status: ExitStatus::from_raw(raw),
            stdout: stdout.into(),
            stderr: stderr.into(),
        };
        const SIGABRT: i32 = 6;
        const EXIT_101: i32 = 101 << 8;
        let noise = format!("thread 'x' panicked\n{line}more noise\n");
        let ok = interpret(out(SIGABRT, "", &noise)).expect("abort with the line");
        assert_eq!((ok.code, ok.params), (0xC2, [7, 0x10, 0, 0xB5]));
        // The first line counts, even after other text on the same line.
        let two = format!("partial {line}{}", line.replace("0xc2", "0xc1"));
        assert_eq!(interpret(out(SIGABRT, "", &two)).unwrap().code, 0xC2);
        assert!(matches!(
            interpret(out(0, "", &line)),
            Err(ChildFailure::ExitedSuccessfully { .. })
        ));
        assert!(matches!(
            interpret(out(EXIT_101, "", "panicked at boom\n")),
            Err(ChildFailure::NoBugCheck { .. })
        ));
        assert!(matches!(
            interpret(out(SIGABRT, "", "MXF-BUGCHECK code=0xc2 p=1,2 msg=\n")),
            Err(ChildFailure::Malformed { .. })
        ));
        assert!(matches!(
            interpret(out(0, "\nrunning 0 tests\n", "")),
            Err(ChildFailure::NoTestRan { .. })
        ));
        assert!(matches!(
            interpret(out(0, "", "MXF-KEMU-CHILD-RETURNED\n")),
            Err(ChildFailure::Returned)
        ));
    }

    #[test]
    fn the_line_has_the_documented_form() {
        let bc = BugCheck {
            code: 0xC2,
            params: [0x46, 0x7f00, 0, 0xE7],
            message: "a\\b\nc".into(),
        };
        assert_eq!(
            format_line(&bc),
            "MXF-BUGCHECK code=0xc2 p=0x46,0x7f00,0x0,0xe7 msg=a\\\\b\\nc\n"
        );
        assert_eq!(parse_line(&format_line(&bc)), Ok(bc));
    }

    #[test]
    fn malformed_lines_are_rejected() {
        for bad in [
            "",
            "MXF-BUGCHECK",
            "MXF-BUGCHECK code=0xc2 p=0x1,0x2,0x3,0x4",
            "MXF-BUGCHECK code=c2 p=0x1,0x2,0x3,0x4 msg=",
            "MXF-BUGCHECK code=0x1c2c2c2c2 p=0x1,0x2,0x3,0x4 msg=",
            "MXF-BUGCHECK code=0xc2 p=0x1,0x2,0x3 msg=",
            "MXF-BUGCHECK code=0xc2 p=0x1,0x2,0x3,0x4,0x5 msg=",
            "MXF-BUGCHECK code=0xc2 p=0x1,0x2,0x3,0xg msg=",
            "MXF-BUGCHECK code=0xc2 p=0x1,0x2,0x3,0x4 msg=trailing\\",
            "MXF-BUGCHECK code=0xc2 p=0x1,0x2,0x3,0x4 msg=bad\\t",
            "MXF-BUGCHECK code=0xc2 q=0x1,0x2,0x3,0x4 msg=",
            "BUGCHECK code=0xc2 p=0x1,0x2,0x3,0x4 msg=",
        ] {
            assert!(parse_line(bad).is_err(), "accepted: {bad:?}");
        }
        let ok = parse_line("MXF-BUGCHECK code=0xC2 p=0x46,0xFF,0x0,0x0 msg=").unwrap();
        assert_eq!(
            (ok.code, ok.params[1], ok.message.as_str()),
            (0xC2, 0xFF, "")
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn format_then_parse_is_the_identity(
            code in any::<u32>(),
            params in any::<[usize; 4]>(),
            message in "(\\PC|[\\\\\n\r ]|msg=|p=0x){0,40}",
        ) {
            let bc = BugCheck { code, params, message };
            let line = format_line(&bc);
            prop_assert_eq!(line.matches('\n').count(), 1);
            prop_assert!(line.ends_with('\n'));
            prop_assert_eq!(parse_line(&line), Ok(bc));
        }
    }
}
