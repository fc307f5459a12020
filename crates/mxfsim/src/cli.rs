//! Command-line handling.

use crate::cables::{MAX_CABLES, MAX_CLIENTS};
use crate::sim::{MiniportKind, Plant, SimOptions, run};
use crate::workload::{WorkloadSpec, build};
use mxf_core::capture::CaptureMode;
use mxf_portemu::Packaging;
use std::io::{IsTerminal, Read, Write};

/// Usage text.
pub const USAGE: &str = "\
usage: mxfsim [OPTIONS]            run the loopback end to end on the kernel emulator
       mxfsim parse FILE|-         print the MIDI messages of raw bytes, one per line

options:
  --quick              a small workload (seconds, even in debug builds)
  --file PATH          play PATH instead of the built-in workload: a Standard MIDI File
                       (type 0/1, tempo map), or raw MIDI bytes / .syx
  --verifier           Driver Verifier settings (lookaside depth 0, Verifier bug checks)
  --faults N           after setup, one pool allocation attempt in N fails; every message
                       must arrive, or be counted as dropped (by cause) by the pipeline
  --buffer-size N      the port allocator's GetBufferSize() (9..=65535)
  --loopback-buffer-size N   the loopback allocator's buffer size (9..=65535)
  --dpc-latency-us N   the port's Notify -> DPC latency (default 50)
  --seed S             workload and fault seed (default 1)
  --packaging P        render chains: flat, packages or mixed (default mixed)
  --miniport M         real (mxf-miniport, default) or double (the port emulator's test double)
  --capture-mode C     whole (default: a message in one event is COMPLETE, fragments of longer
                       ones INCOMPLETE) or raw (every event INCOMPLETE, as DMusUART); the
                       driver's registry value CaptureMode (0/1)
  --progress / --no-progress   progress lines on stderr (default: when stderr is a terminal)

  --cables N           N independent cables (1..=16) named MxfLoop 1 .. MxfLoop N, each a
                       miniport behind a port of its own, all playing the workload
  --renderers K        K render instances per cable (default 1), each playing the whole
                       workload (duplicated, not split: every long SysEx is sent by K
                       renderers at once, so the cable must merge them message by message);
                       odd ones open the WinMM render pin, even ones the DirectMusic pin
  --readers M          M capture instances per cable (default 1): each must receive every
                       message (in order with one renderer, as the K copies otherwise);
                       WinMM and DirectMusic clients in turn
  --feedback           one more reader and renderer per cable, an application echoing what
                       it captures back into the cable: the feedback guard must mute the
                       cable, and per client sent = delivered + dropped by cause
  --feedback-limit N   the feedback guard's limit, messages a second (the driver's registry
                       value FeedbackMaxMessagesPerSecond, 0 = off; default 31250, with
                       --feedback twice the renderers' peak rate, at least 1000: one
                       message looping must trip it, the workload alone must not)
                       (the report gives per-cable and per-client counts; these options
                       take no --faults, --miniport double or --max-latency-us)

  --max-latency-us N   the latency bound of the verdict (default: the DPC latency + 10 ms)
  -h, --help           this text

exit status: 0 PASS, 1 FAIL, 2 usage or input error. The run FAILs when any of these rules
is broken, and the report names each broken rule:
  run                  the miniport and pins open, the pipeline goes idle, close leaves no
                       references
  corruption           every captured message was sent (the expected side is built from
                       the workload by mxfsim's own reference parser, not the driver's)
  accounting           every message missing or truncated is counted, exactly, by a drop
                       counter
  sink-malformed       the port's capture sink counts no malformed event
  flag-pattern         every fragment of a message longer than one event is flagged
                       INCOMPLETE (DMus contract: one whole message per COMPLETE event)
  allocator-rules      the miniport never writes bReserved/cbStruct of an event the port's
                       allocator handed out, never calls PutBuffer, and returns a played
                       package with its sub-chain detached (DMus contract, as DMusUART)
  latency-early        no message is captured before its presentation time
  latency-bound        without --faults no message is captured later than --max-latency-us
                       after its presentation time (faults delay delivery by design)
  no-drops             without --faults nothing is dropped, by any stage, for any cause (the
                       port allocator's cap included: 4096 buffers of 4080 bytes, about
                       16 MiB in flight; the built-in workloads fit it, their largest SysEx
                       is 1 MiB, but a --file SysEx near 16 MiB does not)
  leaks                loopback empty, no event or buffer outstanding, emulator unload
                       clean
  feedback             with --feedback every cable's feedback guard mutes the echo loop
                       (the echo application gives up after 5 s of emulated time
                       unmuted otherwise)";

struct Args {
    quick: bool,
    file: Option<String>,
    opt: SimOptions,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut a = Args {
        quick: false,
        file: None,
        opt: SimOptions {
            progress: std::io::stderr().is_terminal(),
            ..SimOptions::new()
        },
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => a.quick = true,
            "--feedback" => a.opt.cables.feedback = true,
            "--feedback-limit" => {
                let bad = "--feedback-limit needs 0..=10000000 (messages a second)";
                let n: u32 = value("--feedback-limit")?.parse().map_err(|_| bad)?;
                if n > 10_000_000 {
                    return Err(bad.into());
                }
                a.opt.cables.feedback_limit = Some(n);
            }
            "--cables" | "--renderers" | "--readers" => {
                let (max, what) = if arg == "--cables" {
                    (MAX_CABLES, "--cables")
                } else {
                    (MAX_CLIENTS, arg.as_str())
                };
                let bad = || format!("{what} needs 1..={max}");
                let n: u32 = value(what)?.parse().map_err(|_| bad())?;
                if !(1..=max).contains(&n) {
                    return Err(bad());
                }
                match what {
                    "--cables" => a.opt.cables.cables = n,
                    "--renderers" => a.opt.cables.renderers = n,
                    _ => a.opt.cables.readers = n,
                }
            }
            "--verifier" => a.opt.verifier = true,
            "--progress" => a.opt.progress = true,
            "--no-progress" => a.opt.progress = false,
            "--file" => a.file = Some(value("--file")?),
            "--faults" => {
                let n: u32 = value("--faults")?
                    .parse()
                    .map_err(|_| "--faults needs a positive integer")?;
                if n == 0 {
                    return Err("--faults needs a positive integer".into());
                }
                a.opt.faults = Some(n);
            }
            "--buffer-size" => {
                let n: u16 = value("--buffer-size")?
                    .parse()
                    .map_err(|_| "--buffer-size needs 9..=65535")?;
                if n < 9 {
                    return Err("--buffer-size needs 9..=65535".into());
                }
                a.opt.buffer_size = Some(n);
            }
            "--loopback-buffer-size" => {
                let n: u16 = value("--loopback-buffer-size")?
                    .parse()
                    .map_err(|_| "--loopback-buffer-size needs 9..=65535")?;
                if n < 9 {
                    return Err("--loopback-buffer-size needs 9..=65535".into());
                }
                a.opt.loopback_buffer_size = Some(n);
            }
            "--dpc-latency-us" => {
                let n: u32 = value("--dpc-latency-us")?
                    .parse()
                    .map_err(|_| "--dpc-latency-us needs an unsigned integer")?;
                a.opt.dpc_latency_100ns = i64::from(n) * 10;
            }
            "--seed" => {
                a.opt.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed needs an unsigned integer")?
            }
            "--packaging" => {
                a.opt.packaging = match value("--packaging")?.as_str() {
                    "flat" => Packaging::Flat,
                    "packages" => Packaging::Packages,
                    "mixed" => Packaging::Mixed,
                    other => return Err(format!("unknown packaging {other}")),
                }
            }
            "--capture-mode" => {
                a.opt.capture_mode = match value("--capture-mode")?.as_str() {
                    "whole" => CaptureMode::Whole,
                    "raw" => CaptureMode::Raw,
                    other => return Err(format!("unknown capture mode {other}")),
                }
            }
            "--miniport" => {
                a.opt.miniport = match value("--miniport")?.as_str() {
                    "real" => MiniportKind::Real,
                    "double" => MiniportKind::Double,
                    other => return Err(format!("unknown miniport {other}")),
                }
            }
            "--max-latency-us" => {
                let n: u32 = value("--max-latency-us")?
                    .parse()
                    .map_err(|_| "--max-latency-us needs an unsigned integer")?;
                a.opt.max_latency_100ns = Some(i64::from(n) * 10);
            }
            // Test hook (undocumented): corrupt one captured byte to prove the check bites.
            "--test-corrupt-capture" => a.opt.corrupt_capture = true,
            // Test hook (undocumented): plant a fault the verdict must catch.
            "--test-plant" => {
                let v = value("--test-plant")?;
                a.opt.plant = Some(
                    Plant::ALL
                        .iter()
                        .find(|(n, _)| *n == v)
                        .map(|&(_, p)| p)
                        .ok_or_else(|| format!("unknown plant {v}"))?,
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let o = &a.opt;
    if o.cables.is_multi()
        && (o.faults.is_some()
            || o.miniport != MiniportKind::Real
            || o.max_latency_100ns.is_some()
            || o.corrupt_capture
            || o.plant.is_some())
    {
        return Err(
            "--cables/--renderers/--readers/--feedback take no --faults, --miniport double, \
             --max-latency-us or test hooks"
                .into(),
        );
    }
    Ok(a)
}

fn read_input(path: &str) -> Result<Vec<u8>, String> {
    if path == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| format!("stdin: {e}"))?;
        Ok(v)
    } else {
        std::fs::read(path).map_err(|e| format!("{path}: {e}"))
    }
}

fn parse_cmd(args: &[String]) -> i32 {
    let [path] = args else {
        eprintln!("usage: mxfsim parse FILE|-");
        return 2;
    };
    let data = match read_input(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mxfsim: {e}");
            return 2;
        }
    };
    match crate::parse::parse(&data) {
        Ok(p) => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            for m in &p.messages {
                if writeln!(out, "{}", crate::parse::hex_line(m)).is_err() {
                    return 1;
                }
            }
            if out.flush().is_err() {
                return 1;
            }
            for d in &p.diagnostics {
                eprintln!("mxfsim parse: {d}");
            }
            0
        }
        Err(e) => {
            eprintln!("mxfsim parse: {e}");
            1
        }
    }
}

/// Runs the command line `args` (without the program name); returns the exit status.
pub fn main(args: Vec<String>) -> i32 {
    if args.first().map(String::as_str) == Some("parse") {
        return parse_cmd(&args[1..]);
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return 0;
    }
    let a = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mxfsim: {e}\n\n{USAGE}");
            return 2;
        }
    };
    let (units, name) = match &a.file {
        Some(path) => {
            let data = match read_input(path) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("mxfsim: {e}");
                    return 2;
                }
            };
            match crate::input::units_from_file(&data) {
                Ok(input) => {
                    for n in &input.notes {
                        eprintln!("mxfsim: {path}: note: {n}");
                    }
                    (input.units, format!("file {path}"))
                }
                Err(e) => {
                    eprintln!("mxfsim: {path}: {e}");
                    return 2;
                }
            }
        }
        None => {
            let spec = if a.quick {
                WorkloadSpec::quick(a.opt.seed)
            } else {
                WorkloadSpec::full(a.opt.seed)
            };
            let name = format!(
                "built-in {} ({} messages, {} sysex, {} clock bursts, running status {})",
                if a.quick { "quick" } else { "full" },
                spec.messages,
                spec.sysex_sizes.len(),
                spec.clock_bursts,
                if spec.running_status { "on" } else { "off" }
            );
            (build(&spec), name)
        }
    };
    if a.opt.cables.is_multi() {
        let rep = crate::cables::run(&units, &name, &a.opt);
        print!("{rep}");
        return if rep.passed() { 0 } else { 1 };
    }
    let rep = run(&units, &name, &a.opt);
    print!("{rep}");
    if rep.passed() { 0 } else { 1 }
}
