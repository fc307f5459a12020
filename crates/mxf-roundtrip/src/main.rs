//! `mxf-roundtrip` command line; see the library docs and `--help`.

use mxf_roundtrip::report::{EXIT_TRANSPORT, EXIT_USAGE, exit_code, render};
use mxf_roundtrip::sim::{SimConfig, SimLoopback};
use mxf_roundtrip::{cli, runner};
use std::process::ExitCode;

fn code(c: i32) -> ExitCode {
    ExitCode::from(u8::try_from(c).unwrap_or(1))
}

fn simulate(o: &cli::Options) -> i32 {
    println!("note: running against the SIMULATED loopback, not a driver");
    let mut t = SimLoopback::new(SimConfig {
        in_buffer_size: o.in_buffer,
        faults: o.sim_fault.into_iter().collect(),
        ..SimConfig::default()
    });
    match runner::run(&mut t, &o.run) {
        Ok(r) => {
            print!("{}", render(&r));
            exit_code(&r)
        }
        Err(e) => {
            eprintln!("mxf-roundtrip: {e}");
            EXIT_TRANSPORT
        }
    }
}

#[cfg(any(windows, mxf_winmm_check))]
fn real(o: &cli::Options) -> i32 {
    use mxf_roundtrip::winmm;
    if o.list {
        return match winmm::list_devices() {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(e) => {
                eprintln!("mxf-roundtrip: {e}");
                EXIT_TRANSPORT
            }
        };
    }
    let cfg = winmm::WinMmConfig {
        in_buffer_size: o.in_buffer,
        in_buffers: o.in_buffers,
        out_chunk: o.out_chunk,
        send_timeout: o.run.timeout,
    };
    let mut t = match winmm::WinMmTransport::open(&o.device, &cfg) {
        Ok(t) => t,
        Err(winmm::OpenError::Device(msg)) => {
            eprintln!("mxf-roundtrip: {msg}");
            return EXIT_USAGE;
        }
        Err(winmm::OpenError::Transport(e)) => {
            eprintln!("mxf-roundtrip: {e}");
            return EXIT_TRANSPORT;
        }
    };
    match runner::run(&mut t, &o.run) {
        Ok(r) => {
            print!("{}", render(&r));
            exit_code(&r)
        }
        Err(e) => {
            eprintln!("mxf-roundtrip: {e}");
            EXIT_TRANSPORT
        }
    }
}

#[cfg(not(any(windows, mxf_winmm_check)))]
fn real(_o: &cli::Options) -> i32 {
    eprintln!(
        "mxf-roundtrip: WinMM is Windows-only; run this on the Windows machine with the \
         mxfloop driver installed, or pass --simulate to run against the built-in simulated \
         loopback"
    );
    EXIT_USAGE
}

fn main() -> ExitCode {
    let o = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mxf-roundtrip: {e}\n\n{}", cli::USAGE);
            return code(EXIT_USAGE);
        }
    };
    if o.help {
        println!("{}", cli::USAGE);
        return code(0);
    }
    if o.simulate && !o.list {
        return code(simulate(&o));
    }
    code(real(&o))
}
