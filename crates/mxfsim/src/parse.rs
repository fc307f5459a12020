//! `mxfsim parse`: raw MIDI bytes through the capture packager (our allocator, on the
//! emulator, at `DISPATCH_LEVEL`, in 128-byte bursts like the capture FIFO), printed one
//! message per line in the order the messages complete — the same line format as
//! `mxf_core::midi::format` (lowercase hex, single spaces, running status expanded,
//! realtime lines where they occur). Cut SysEx and dropped bytes go to stderr only.

use mxf_core::alloc::{AllocatorConfig, new_allocator};
use mxf_core::capture::{CapturePackager, CaptureStats, Chain};
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig};
use mxf_portemu::{Assembler, TimedMessage};

/// Bytes per burst (the capture stream's FIFO size).
pub const BURST: usize = 128;

/// What `parse` produced.
pub struct Parsed {
    /// Complete messages, in order (stdout).
    pub messages: Vec<Vec<u8>>,
    /// Lines for stderr (cut SysEx, drop summary).
    pub diagnostics: Vec<String>,
    /// The packager's counters.
    pub stats: CaptureStats,
}

/// One output line.
pub fn hex_line(b: &[u8]) -> String {
    let v: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    v.join(" ")
}

fn collect(chain: &Chain, asm: &mut Assembler) {
    for (ev, data) in chain.iter() {
        asm.feed(data, ev.pres_time() as i64);
    }
}

/// Parses `bytes` through the capture packager. Errors are emulator verdicts (leaks).
pub fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let emu = Emu::new(EmuConfig::default());
    let alloc = new_allocator(emu.clone(), AllocatorConfig::DEFAULT)
        .map_err(|s| format!("allocator: {:#010x}", s.status() as u32))?;
    let mut asm = Assembler::new();
    let stats = emu.at_irql(DISPATCH_LEVEL, || {
        let mut p = CapturePackager::new(&alloc);
        for (i, burst) in bytes.chunks(BURST).enumerate() {
            let chain = p.feed(burst, i as i64);
            collect(&chain, &mut asm);
        }
        let chain = p.reset(bytes.len().div_ceil(BURST) as i64);
        collect(&chain, &mut asm);
        p.stats()
    });
    drop(alloc);
    asm.finish();
    emu.unload()
        .map_err(|b| format!("emulator: {}", b.message))?;
    let mut messages = Vec::new();
    let mut diagnostics = Vec::new();
    for TimedMessage {
        bytes, truncated, ..
    } in asm.take()
    {
        if truncated {
            diagnostics.push(format!("incomplete sysex: {}", hex_line(&bytes)));
        } else {
            messages.push(bytes);
        }
    }
    let p = &stats.parser;
    if p.bytes_stray + p.bytes_truncated + stats.bytes_dropped_no_memory > 0 {
        diagnostics.push(format!(
            "dropped: {} stray byte(s), {} byte(s) of {} message(s) cut short, {} byte(s) for \
             want of memory",
            p.bytes_stray, p.bytes_truncated, p.truncated_messages, stats.bytes_dropped_no_memory
        ));
    }
    Ok(Parsed {
        messages,
        diagnostics,
        stats,
    })
}
