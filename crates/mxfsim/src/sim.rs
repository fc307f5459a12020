//! The loopback run: the miniport on the emulator behind the port emulator, a workload fed
//! through the render pin in emulated real time, everything captured, then compared. Its
//! options ([`SimOptions`]) and drop counters ([`Drops`]) live in leaf modules re-exported
//! here, so the reports and the multi-cable run use them without depending on this file.

use crate::compare::{Comparison, compare};
pub use crate::drops::Drops;
pub use crate::options::{MiniportKind, Plant, SimOptions};
use crate::report::Report;
use crate::workload::Unit;
use mxf_core::alloc::AllocatorConfig;
use mxf_kemu::{Emu, EmuConfig, FaultPlan};
use mxf_portemu::{Port, PortConfig, RenderUnit, TimedMessage};
use std::io::Write;
use std::time::{Duration, Instant};

/// Drops the workload's units into absolute time (saturating: the input layer bounds the
/// offsets far below the clock's range, see [`crate::input::MAX_TIME_100NS`]).
pub(crate) fn render_units(units: &[Unit], start: i64) -> Vec<RenderUnit> {
    units
        .iter()
        .map(|u| RenderUnit {
            time: start.saturating_add(u.offset),
            bytes: u.bytes.clone(),
        })
        .collect()
}

/// Runs the loopback over `units`.
pub fn run(units: &[Unit], workload_name: &str, opt: &SimOptions) -> Report {
    let started = Instant::now();
    let cfg = if opt.verifier {
        EmuConfig::verifier()
    } else {
        EmuConfig::default()
    };
    let emu = Emu::new(cfg);
    let mut rep = Report::new(workload_name, opt);
    let mut alloc_cfg = PortConfig::default().allocator;
    if let Some(bs) = opt.buffer_size {
        alloc_cfg.buffer_size = bs;
        // Buffers for 1.5 MiB of SysEx in flight whatever their size, as a port sizes its
        // pool to the buffers it hands out.
        let n = ((3usize << 19).div_ceil(usize::from(bs).max(1)) + 64) as u32;
        alloc_cfg.max_buffers = alloc_cfg.max_buffers.max(n);
        alloc_cfg.max_events = alloc_cfg.max_events.max(2 * n);
    }
    let mut mp_cfg = mxf_miniport::MiniportConfig::DEFAULT;
    mp_cfg.capture_mode = opt.capture_mode;
    if let Some(c) = opt.loopback_capacity {
        mp_cfg.loopback.capacity = c;
    }
    if let Some(bs) = opt.loopback_buffer_size {
        let a = &mut mp_cfg.loopback.allocator;
        a.buffer_size = bs;
        // Enough buffers to fill the capacity with them, and events for as many chunks.
        let chunks = (mp_cfg.loopback.capacity as usize).div_ceil(usize::from(bs).max(1)) + 4;
        a.max_buffers = a.max_buffers.max(chunks as u32);
        a.max_events = a.max_events.max(chunks as u32);
    }
    if opt.faults.is_some() {
        // Small reserves, so that allocations reach the (faulty) pool instead of being served
        // from memory set aside at creation.
        alloc_cfg.reserve_events = 8;
        alloc_cfg.reserve_buffers = 1;
        mp_cfg.loopback.allocator.reserve_events = 8;
        mp_cfg.loopback.allocator.reserve_buffers = 1;
    }
    rep.event_capacity = alloc_cfg.buffer_size;
    let port_cfg = PortConfig {
        allocator: AllocatorConfig { ..alloc_cfg },
        capture_allocator: alloc_cfg,
        packaging: opt.packaging,
        dpc_latency_100ns: opt.dpc_latency_100ns,
    };
    let miniport = match opt.miniport {
        MiniportKind::Real => match mxf_miniport::new_miniport(emu.clone(), mp_cfg) {
            Ok(m) => m,
            Err(st) => {
                rep.fail(format!("new_miniport failed: {:#010x}", st.status() as u32));
                return rep;
            }
        },
        MiniportKind::Double => mxf_portemu::double::new_double_miniport(emu.clone()).miniport,
    };
    let mut port = match Port::with_config(emu.clone(), miniport, port_cfg) {
        Ok(p) => p,
        Err(e) => {
            rep.fail(format!("port: {e}"));
            return rep;
        }
    };
    if let Err(e) = port.open_capture().and_then(|()| port.open_render()) {
        rep.fail(format!("opening pins: {e}"));
        drop(port);
        rep.unload = Some(emu.unload().map(|_| ()).map_err(|b| b.to_string_lossy()));
        return rep;
    }
    // The parser bug lives in the core's parser, which every parser user of this process
    // shares (the capture packager, the port's sink); only the expected side is immune.
    mxf_core::planted::PARSER_BUG.store(
        opt.plant == Some(Plant::ParserBug),
        std::sync::atomic::Ordering::Relaxed,
    );
    mxf_core::planted::RESERVED_WRITE.store(
        opt.plant == Some(Plant::ReservedWrite),
        std::sync::atomic::Ordering::Relaxed,
    );
    mxf_core::planted::PUT_BUFFER.store(
        opt.plant == Some(Plant::PutBuffer),
        std::sync::atomic::Ordering::Relaxed,
    );
    if let Some(t) = opt.plant.and_then(Plant::tamper) {
        port.capture_log()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .tamper = Some(t);
    }
    if let Some(n) = opt.faults {
        emu.set_fault_plan(FaultPlan::Random {
            seed: opt.seed,
            one_in: n,
        });
    }
    let start = emu.now_100ns() + 10_000;
    let runits = render_units(units, start);
    let last_time = runits.last().map_or(start, |u| u.time);
    rep.units = runits.len() as u64;
    rep.bytes_in_raw = runits.iter().map(|u| u.bytes.len() as u64).sum();
    port.queue_render(runits.iter().cloned());
    drive(&emu, &port, start, last_time, opt, &mut rep);
    // Stop injecting faults before the streams are torn down: teardown only frees.
    emu.set_fault_plan(FaultPlan::None);
    // The client stops the render pin first, as an application does when its input ends:
    // what the stream gives up at its stop is counted before the counters are read.
    if let Err(e) = port.stop_render() {
        rep.fail(format!("stopping the render pin: {e}"));
    }
    let dropped_seqs = port.render_dropped_units();
    let render = port.render_stats();
    let mut drops = Drops {
        port_units: render.units_dropped_no_memory,
        port_bytes: render.bytes_dropped,
        port_units_discarded: render.units_discarded_at_close,
        ..Drops::default()
    };
    if let (MiniportKind::Real, Some(mp)) = (opt.miniport, port.miniport()) {
        if let Some(l) = mxf_miniport::loopback_stats::<Emu>(mp) {
            drops.loopback_discarded = l.bytes_discarded;
            rep.loopback = Some(l);
        }
        rep.loopback_alloc = mxf_miniport::loopback_allocator_stats::<Emu>(mp);
        if let Some(r) = port
            .render_stream()
            .and_then(mxf_miniport::render_stats::<Emu>)
        {
            drops.render_no_listener = r.dropped_no_listener;
            drops.render_no_memory = r.dropped_no_memory;
            drops.render_too_large = r.dropped_too_large;
            drops.render_muted = r.dropped_muted;
            drops.render_stop = r.dropped_stop;
            drops.render_events_refused = r.events_refused;
            drops.render_sysex_cut_written = r.sysex_cut_written;
            drops.render_sysex_open = r.sysex_open;
            rep.render_stream = Some(r);
        }
        if let Some(c) = port
            .capture_stream()
            .and_then(mxf_miniport::capture_stats::<Emu>)
        {
            let p = &c.packager;
            drops.capture_messages = p.messages_dropped_no_memory;
            drops.capture_sysex_truncated = p.sysex_dropped_after_partial_delivery;
            drops.capture_sysex_whole = p
                .sysex_dropped_no_memory
                .saturating_sub(p.sysex_dropped_after_partial_delivery);
            drops.capture_bytes = p.bytes_dropped_no_memory;
            let ps = &p.parser;
            drops.capture_sysex_cut_arrived = ps
                .sysex_started
                .saturating_sub(ps.sysex_complete + ps.sysex_aborted_ended);
            // Open in the parser (not aborted): the stop delivers it cut.
            let open = ps
                .sysex_started
                .saturating_sub(ps.sysex_complete + ps.sysex_cut + ps.sysex_aborted);
            drops.capture_sysex_delivered_cut = p.sysex_truncated + open;
            drops.capture_no_sink_events = c.events_dropped_no_sink;
            drops.capture_malformed_bytes = p.parser.bytes_stray + p.parser.bytes_truncated;
            rep.capture_stream = Some(c);
        }
    }
    rep.port_alloc_live = port.allocator_stats();
    rep.port = Some(port.stats());
    rep.render_source = Some(render);
    let log = port.capture_log();
    let contract = port.contract_watch();
    let close = port.close();
    rep.allocator_contract = Some(contract.stats());
    let mut captured: Vec<TimedMessage>;
    match close {
        Ok(c) => {
            if c.allocator_refs_left != 0 || !c.live_objects.is_empty() {
                rep.fail(format!(
                    "references left after close: allocator {} others, objects {:?}",
                    c.allocator_refs_left, c.live_objects
                ));
            }
            rep.port_alloc_end = c.allocator;
        }
        Err(e) => rep.fail(format!("close: {e}")),
    }
    rep.unload = Some(emu.unload().map(|_| ()).map_err(|b| b.to_string_lossy()));
    {
        let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
        rep.sink = Some(l.stats);
        captured = l.assembler.take();
    }
    // Expected: what the port actually handed to the miniport (the units it sent before the
    // render pin stopped, less those it dropped), normalised by mxfsim's own reference parser
    // (not the core's, which the capture side runs through).
    let dropped: std::collections::HashSet<u64> = dropped_seqs.into_iter().collect();
    let handed = runits.len() - (drops.port_units_discarded as usize).min(runits.len());
    let handed_over = || {
        runits[..handed]
            .iter()
            .enumerate()
            .filter(|(i, _)| !dropped.contains(&(*i as u64)))
            .map(|(_, u)| (u.time, &u.bytes[..]))
    };
    let sent = crate::reference::normalize(handed_over());
    if let Some(data) = crate::reference::sysex_open_at_end(handed_over()) {
        drops.input_sysex_cut_at_end = 1;
        drops.input_sysex_cut_at_end_f0_only = u64::from(data == 0);
    }
    if opt.corrupt_capture
        && let Some(m) = captured.iter_mut().find(|m| m.bytes.len() >= 3)
    {
        m.bytes[2] ^= 0x01;
    }
    let cmp: Comparison = compare(&sent, &captured);
    rep.finish(sent, captured, cmp, drops, started.elapsed());
    rep
}

/// Advances emulated time like a real-time stream, until the workload is played and the
/// pipeline is idle: straight to each due timer in turn, since nothing happens in between.
/// The wall time of a run follows the number of timer firings, not the emulated span (a
/// file whose events are years apart plays in as many steps as one whose events are
/// milliseconds apart).
fn drive(emu: &Emu, port: &Port, start: i64, last: i64, opt: &SimOptions, rep: &mut Report) {
    let deadline = last.saturating_add(DRAIN_GRACE_100NS);
    let mut last_progress = Instant::now();
    let mut last_pct = 0u64;
    loop {
        match drain_step(emu, port.render_backlog() == 0, deadline) {
            Drain::Stepped => {}
            Drain::Idle => break,
            Drain::Stuck(why) => {
                rep.fail(why);
                break;
            }
        }
        if opt.progress && last_progress.elapsed() >= Duration::from_secs(1) {
            let span = (last - start).max(1);
            let pct =
                (((emu.now_100ns() - start).max(0) as u128 * 100) / span as u128).min(100) as u64;
            if pct != last_pct {
                let _ = writeln!(
                    std::io::stderr(),
                    "mxfsim: {pct:3}% of the workload played ({:.1} s emulated)",
                    (emu.now_100ns() - start) as f64 / 1e7
                );
                last_pct = pct;
            }
            last_progress = Instant::now();
        }
    }
    rep.emulated_100ns = emu.now_100ns() - start;
}

/// Emulated time the pipeline may stay busy after the last unit (100 ns: 5 s).
pub(crate) const DRAIN_GRACE_100NS: i64 = 50_000_000;

/// What one [`drain_step`] found.
pub(crate) enum Drain {
    /// It advanced the emulated time.
    Stepped,
    /// The pipeline is idle and no timer is due: the run is over.
    Idle,
    /// Past the deadline and still busy: the failure, in words.
    Stuck(String),
}

/// One step of a run's emulated time after (or while) its input plays: idle when `idle` (the
/// caller's queues are empty) and no timer is due; stuck when the time is past `deadline`;
/// else the time advances to the next due timer — at least one tick, so that a timer re-armed
/// in the past cannot hold time still, and never further than just past the deadline, where
/// the next step ends the run.
pub(crate) fn drain_step(emu: &Emu, idle: bool, deadline: i64) -> Drain {
    let now = emu.now_100ns();
    let due = emu.next_timer_due();
    if idle && due.is_none() {
        return Drain::Idle;
    }
    if now > deadline {
        return Drain::Stuck(format!(
            "pipeline still busy {} s after the last unit (timer due: {due:?})",
            DRAIN_GRACE_100NS / 10_000_000
        ));
    }
    let target = due.unwrap_or(i64::MAX).min(deadline.saturating_add(1));
    emu.advance_time(target.saturating_sub(now).max(1));
    Drain::Stepped
}

trait Lossy {
    fn to_string_lossy(&self) -> String;
}

impl Lossy for mxf_kemu::BugCheck {
    fn to_string_lossy(&self) -> String {
        format!(
            "bug check {:#x} {} ({:#x}, {:#x}, {:#x}, {:#x}): {}",
            self.code,
            self.name(),
            self.params[0],
            self.params[1],
            self.params[2],
            self.params[3],
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drain_step_ends_idle_fails_past_the_deadline_and_else_moves_time() {
        let emu = Emu::new(EmuConfig::default());
        let now = emu.now_100ns();
        assert!(matches!(drain_step(&emu, true, now), Drain::Idle));
        match drain_step(&emu, false, now - 1) {
            Drain::Stuck(why) => assert!(why.contains("still busy 5 s"), "{why}"),
            _ => panic!("busy past the deadline must fail"),
        }
        // Busy with no timer due: at least one tick, never past just after the deadline.
        assert!(matches!(drain_step(&emu, false, now + 10), Drain::Stepped));
        assert_eq!(emu.now_100ns(), now + 11);
        assert!(matches!(drain_step(&emu, false, now + 10), Drain::Stuck(_)));
        let _ = emu.unload();
    }
}
