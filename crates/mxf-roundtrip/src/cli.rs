//! Command-line parsing (hand-written: a dozen flags do not justify a dependency).

use crate::patterns::MAX_SYSEX_PAYLOAD;
use crate::runner::RunConfig;
use crate::sim::Fault;
use std::time::Duration;

/// Usage text.
pub const USAGE: &str = "\
usage: mxf-roundtrip [--device NAME] [--list] [--sizes a,b,c] [--short N] [--seed S]
                     [--timeout-ms T] [--in-buffer BYTES] [--in-buffers N]
                     [--out-chunk BYTES] [--simulate] [--sim-fault KIND]

Sends SysEx messages and short messages out of a WinMM MIDI output and checks that they
come back byte-exact on the WinMM MIDI input of the same loopback (the mxfloop driver),
then prints latency percentiles and throughput.

  --device NAME      substring of the device name, case-insensitive (default: mxfloop);
                     used for both the output and the input device
  --list             list WinMM MIDI devices and exit
  --sizes a,b,c      SysEx payload lengths in bytes (default: 0,1,2,7,8,9,127,128,1000,
                     1024,2048,4096,65535,65536,262144,1048576)
  --short N          number of short messages (default 1000)
  --seed S           payload seed (default 1)
  --timeout-ms T     give up on a message after T ms without input (default 2000)
  --in-buffer BYTES  size of each WinMM input buffer (default 16384)
  --in-buffers N     number of WinMM input buffers kept queued (default 32)
  --out-chunk BYTES  largest midiOutLongMsg buffer; longer SysEx is sent in pieces
                     (default 32768)
  --simulate         run against the built-in simulated loopback instead of WinMM
                     (the only mode on non-Windows systems)
  --sim-fault KIND   with --simulate: inject flip|drop-byte|lose|reorder|truncate into
                     the first large SysEx, to see a failing report

Exit status: 0 all byte-exact, 1 mismatch, 2 usage/device/platform error, 3 WinMM error.";

/// Parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Device name substring.
    pub device: String,
    /// `--list`.
    pub list: bool,
    /// `--help`.
    pub help: bool,
    /// `--simulate`.
    pub simulate: bool,
    /// `--sim-fault`.
    pub sim_fault: Option<Fault>,
    /// What to send.
    pub run: RunConfig,
    /// WinMM input buffer size.
    pub in_buffer: usize,
    /// WinMM input buffer count.
    pub in_buffers: usize,
    /// Largest WinMM output buffer.
    pub out_chunk: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            device: crate::device::DEFAULT_DEVICE.to_string(),
            list: false,
            help: false,
            simulate: false,
            sim_fault: None,
            run: RunConfig::default(),
            in_buffer: 16 * 1024,
            in_buffers: 32,
            out_chunk: 32 * 1024,
        }
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{flag}: '{v}' is not a valid number"))
}

fn ranged(flag: &str, v: &str, lo: usize, hi: usize) -> Result<usize, String> {
    let n: usize = number(flag, v)?;
    if (lo..=hi).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{flag}: {n} is outside {lo}..={hi}"))
    }
}

/// Index of the send that `--sim-fault` targets: the first SysEx of at least 1000 bytes
/// (or the last one), counted after the short messages.
fn fault_target(run: &RunConfig) -> usize {
    let i = run
        .sysex_sizes
        .iter()
        .position(|&s| s >= 1000)
        .unwrap_or(run.sysex_sizes.len().saturating_sub(1));
    run.short_count + i
}

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut o = Options::default();
    let mut fault: Option<String> = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => o.help = true,
            "--list" => o.list = true,
            "--simulate" => o.simulate = true,
            "--device" => o.device = value("--device")?,
            "--sizes" => {
                let v = value("--sizes")?;
                o.run.sysex_sizes = v
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| ranged("--sizes", s, 0, MAX_SYSEX_PAYLOAD))
                    .collect::<Result<_, _>>()?;
            }
            "--short" => o.run.short_count = ranged("--short", &value("--short")?, 0, 10_000_000)?,
            "--seed" => o.run.seed = number("--seed", &value("--seed")?)?,
            "--timeout-ms" => {
                let ms = ranged("--timeout-ms", &value("--timeout-ms")?, 1, 3_600_000)?;
                o.run.timeout = Duration::from_millis(ms as u64);
            }
            "--in-buffer" => {
                o.in_buffer = ranged("--in-buffer", &value("--in-buffer")?, 16, 65_535)?
            }
            "--in-buffers" => {
                o.in_buffers = ranged("--in-buffers", &value("--in-buffers")?, 1, 1024)?
            }
            "--out-chunk" => {
                o.out_chunk = ranged("--out-chunk", &value("--out-chunk")?, 16, 65_535)?
            }
            "--sim-fault" => fault = Some(value("--sim-fault")?),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if o.device.trim().is_empty() {
        return Err("--device: empty name".into());
    }
    if let Some(kind) = fault {
        let message = fault_target(&o.run);
        o.sim_fault = Some(match kind.as_str() {
            "flip" => Fault::FlipBit {
                message,
                offset: 500,
            },
            "drop-byte" => Fault::DropByte {
                message,
                offset: 500,
            },
            "lose" => Fault::DropMessage { message },
            "reorder" => Fault::SwapWithNext { message },
            "truncate" => Fault::Truncate { message, keep: 500 },
            other => return Err(format!("--sim-fault: unknown kind '{other}'")),
        });
        if !o.simulate {
            return Err("--sim-fault needs --simulate".into());
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert_eq!(o.device, "mxfloop");
        assert_eq!(o.run.sysex_sizes.len(), 16);
        assert_eq!(o.run.sysex_sizes[15], 1_048_576);
        assert!(!o.list && !o.simulate);
    }

    #[test]
    fn all_flags() {
        let o = p(&[
            "--device",
            "Loop 2",
            "--sizes",
            "0,5,70000",
            "--short=12",
            "--seed",
            "99",
            "--timeout-ms",
            "250",
            "--in-buffer",
            "1024",
            "--in-buffers",
            "8",
            "--out-chunk",
            "4096",
            "--simulate",
            "--sim-fault",
            "flip",
            "--list",
        ])
        .unwrap();
        assert_eq!(o.device, "Loop 2");
        assert_eq!(o.run.sysex_sizes, [0, 5, 70000]);
        assert_eq!(o.run.short_count, 12);
        assert_eq!(o.run.seed, 99);
        assert_eq!(o.run.timeout, Duration::from_millis(250));
        assert_eq!((o.in_buffer, o.in_buffers, o.out_chunk), (1024, 8, 4096));
        assert!(o.simulate && o.list);
        // Target: 12 shorts, then the first SysEx ≥ 1000 bytes is index 2.
        assert_eq!(
            o.sim_fault,
            Some(Fault::FlipBit {
                message: 14,
                offset: 500
            })
        );
    }

    #[test]
    fn errors() {
        assert!(p(&["--short"]).is_err());
        assert!(p(&["--short", "x"]).is_err());
        assert!(p(&["--sizes", "1,-2"]).is_err());
        assert!(p(&["--sizes", "99999999"]).is_err());
        assert!(p(&["--in-buffer", "70000"]).is_err());
        assert!(p(&["--timeout-ms", "0"]).is_err());
        assert!(p(&["--bogus"]).is_err());
        assert!(p(&["--device", ""]).is_err());
        assert!(p(&["--sim-fault", "flip"]).is_err());
        assert!(p(&["--simulate", "--sim-fault", "melt"]).is_err());
    }
}
