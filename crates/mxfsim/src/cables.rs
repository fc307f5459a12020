//! The multi-client run (`--cables N --renderers K --readers M [--feedback]`): N independent
//! cables, each a miniport behind a port of its own ("MxfLoop 1" … "MxfLoop N") on one
//! emulator, each with K render instances and M capture instances open at once, as that many
//! applications would open them on Windows.
//!
//! - The clients alternate between WinMM and DirectMusic ([`client_of`]): renderers 1, 3, …
//!   open the WinMM render pin, 2, 4, … the DirectMusic one (each pin has its own instance
//!   count); readers alternate the capture pin's two formats the same way.
//! - Every renderer of a cable plays the whole workload (it is duplicated, not split: a
//!   split would cut running status between renderers, and duplicates send every long SysEx
//!   from K renderers at the same presentation time, which is what exercises the
//!   message-by-message merge). Every cable gets the same workload.
//! - Every reader must receive every message written into its cable: with one renderer
//!   each reader's capture is compared in order, byte for byte, with the workload's messages;
//!   with several, with the K copies as a multiset (the merge order of messages due at the
//!   same time is the cable's choice), and every reader of a cable must have captured the
//!   same sequence.
//! - `--feedback` opens one more reader and one more renderer on each cable, an echo
//!   application: whatever the echo reader captures is queued, as it arrives, on the echo
//!   renderer [`ECHO_TURNAROUND_100NS`] later. The cable's feedback guard must mute it; if it
//!   lets the echo run for [`ECHO_GIVE_UP_100NS`] without muting, the echo application gives
//!   up (the run then fails). Whatever the guard mutes is counted: per client, what was sent
//!   equals what got through plus what was dropped, by cause.
//! - The guard's limit is the driver's registry value `FeedbackMaxMessagesPerSecond`
//!   (`--feedback-limit`). A loop with few messages in flight circulates each one once per
//!   round trip (at least the port's default DPC latency plus the echo turnaround, 150 µs:
//!   under 6,700 messages a second per message), which the driver's default limit (31,250 a
//!   second, ten DIN wires) lets pass as ordinary traffic. So a `--feedback` run without
//!   `--feedback-limit` sets the limit to [`feedback_limit_for`] the workload: twice its own
//!   peak rate (times the renderers), at least [`MIN_DERIVED_FEEDBACK_LIMIT`], which the
//!   workload alone never reaches and one message looping does (while that limit stays
//!   under a looping message's rate); the run then ends with the cable muted by the last
//!   loop.
//! - Checked: content (per reader), counts (per client and per cable), the sinks' event
//!   contract, the allocator rules, leaks. Latency and the capture flag pattern are the
//!   classic run's checks (one cable, one client each), not repeated here.
//!
//! The report is [`crate::cables_report::CablesReport`].

use crate::cables_report::{CableReport, CablesReport, ReaderReport, RendererReport};
pub use crate::options::CableOptions;
use crate::options::SimOptions;
use crate::sim::{DRAIN_GRACE_100NS, Drain, drain_step, render_units};
use crate::workload::Unit;
use mxf_core::alloc::AllocatorConfig;
use mxf_core::feedback::FeedbackConfig;
use mxf_kemu::{Emu, EmuConfig};
use mxf_portemu::{CaptureHandle, Client, Port, PortConfig, RenderHandle, RenderUnit};
use std::time::Instant;

/// Most cables a run may ask for: each is a miniport and a port on the one emulator, and a
/// run's cost grows with their number.
pub const MAX_CABLES: u32 = 16;

/// Most render or capture instances a run may ask for per cable (the pins' descriptors may
/// allow fewer: the port then refuses the instance beyond their count, and the run fails).
pub const MAX_CLIENTS: u32 = 64;

/// The echo application's turnaround: what it captured is sent back this much later.
pub const ECHO_TURNAROUND_100NS: i64 = 1_000;

/// How long the echo application echoes without the cable being muted before it gives up
/// (emulated time): far longer than the guard takes to trip (its windows times its trip
/// count, 300 ms by default).
pub const ECHO_GIVE_UP_100NS: i64 = 50_000_000;

/// The least limit (messages a second) [`feedback_limit_for`] sets.
pub const MIN_DERIVED_FEEDBACK_LIMIT: u32 = 1_000;

/// The feedback guard's limit (messages a second) a `--feedback` run uses without
/// `--feedback-limit`: twice what `renderers` renderers playing `workload` send in its
/// busiest 100 ms (the guard's window), in messages a second, at least
/// [`MIN_DERIVED_FEEDBACK_LIMIT`].
pub fn feedback_limit_for(workload: &[mxf_portemu::TimedMessage], renderers: u32) -> u32 {
    let window = FeedbackConfig::DEFAULT.window_100ns.max(1);
    let mut per_window: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
    for m in workload {
        *per_window.entry(m.time.div_euclid(window)).or_insert(0) += 1;
    }
    let peak = per_window.values().copied().max().unwrap_or(0) * u64::from(renderers);
    let per_second = peak.saturating_mul(10_000_000 / window as u64);
    u32::try_from(per_second.saturating_mul(2))
        .unwrap_or(u32::MAX)
        .max(MIN_DERIVED_FEEDBACK_LIMIT)
}

/// The kind of client the `i`-th renderer or reader of a cable is (from 0): WinMM, then
/// DirectMusic, in turn.
pub fn client_of(i: u32) -> Client {
    if i.is_multiple_of(2) {
        Client::WinMm
    } else {
        Client::DirectMusic
    }
}

fn client_name(c: Client) -> &'static str {
    match c {
        Client::WinMm => "WinMM",
        Client::DirectMusic => "DirectMusic",
    }
}

/// The name of cable `i` (from 0).
pub fn cable_name(i: u32) -> String {
    format!("MxfLoop {}", i + 1)
}

/// The echo application of one cable.
struct Echo {
    reader: CaptureHandle,
    renderer: RenderHandle,
    /// Messages of the echo reader's log already echoed.
    consumed: usize,
    /// The last time the application saw the cable muted, or its first echo.
    unmuted_since: Option<i64>,
    echoed: u64,
    gave_up: bool,
}

/// One cable under test.
struct Cable {
    name: String,
    port: Port,
    renderers: Vec<RenderHandle>,
    readers: Vec<CaptureHandle>,
    echo: Option<Echo>,
}

/// Opens cable `i`: its miniport, its port, its readers (the echo reader last), its
/// renderers (the echo renderer last).
fn open_cable(
    emu: &Emu,
    i: u32,
    opt: &SimOptions,
    c: &CableOptions,
    feedback: FeedbackConfig,
) -> Result<Cable, String> {
    let name = cable_name(i);
    let mut mp_cfg = mxf_miniport::MiniportConfig::DEFAULT;
    mp_cfg.feedback = feedback;
    mp_cfg.capture_mode = opt.capture_mode;
    if let Some(cap) = opt.loopback_capacity {
        mp_cfg.loopback.capacity = cap;
    }
    let mut alloc: AllocatorConfig = PortConfig::default().allocator;
    if let Some(bs) = opt.buffer_size {
        alloc.buffer_size = bs;
    }
    let port_cfg = PortConfig {
        allocator: alloc,
        capture_allocator: alloc,
        packaging: opt.packaging,
        dpc_latency_100ns: opt.dpc_latency_100ns,
    };
    let mp = mxf_miniport::new_miniport(emu.clone(), mp_cfg)
        .map_err(|st| format!("{name}: new_miniport failed: {:#010x}", st.status() as u32))?;
    let mut port =
        Port::with_config(emu.clone(), mp, port_cfg).map_err(|e| format!("{name}: port: {e}"))?;
    let mut readers = Vec::new();
    for r in 0..c.readers {
        let h = port
            .open_capture_instance(client_of(r))
            .map_err(|e| format!("{name}: opening reader {}: {e}", r + 1))?;
        readers.push(h);
    }
    let echo_reader = if c.feedback {
        Some(
            port.open_capture_instance(client_of(c.readers))
                .map_err(|e| format!("{name}: opening the echo reader: {e}"))?,
        )
    } else {
        None
    };
    let mut renderers = Vec::new();
    for r in 0..c.renderers {
        let h = port
            .open_render_instance(client_of(r))
            .map_err(|e| format!("{name}: opening renderer {}: {e}", r + 1))?;
        renderers.push(h);
    }
    let echo = match echo_reader {
        Some(reader) => Some(Echo {
            reader,
            renderer: port
                .open_render_instance(client_of(c.renderers))
                .map_err(|e| format!("{name}: opening the echo renderer: {e}"))?,
            consumed: 0,
            unmuted_since: None,
            echoed: 0,
            gave_up: false,
        }),
        None => None,
    };
    Ok(Cable {
        name,
        port,
        renderers,
        readers,
        echo,
    })
}

/// Runs the multi-client loopback over `units`.
pub fn run(units: &[Unit], workload_name: &str, opt: &SimOptions) -> CablesReport {
    let started = Instant::now();
    let c = opt.cables;
    let emu = Emu::new(if opt.verifier {
        EmuConfig::verifier()
    } else {
        EmuConfig::default()
    });
    let mut rep = CablesReport::new(workload_name, opt);
    let start = emu.now_100ns() + 10_000;
    let runits = render_units(units, start);
    // The workload's messages as the reference parser reads them (what one renderer sends).
    let workload_msgs = crate::reference::normalize(runits.iter().map(|u| (u.time, &u.bytes[..])));
    let limit = match (c.feedback_limit, c.feedback) {
        (Some(n), _) => Some(n),
        (None, true) => Some(feedback_limit_for(&workload_msgs, c.renderers)),
        (None, false) => None,
    };
    let feedback = match limit {
        None => FeedbackConfig::DEFAULT,
        Some(n) => match FeedbackConfig::from_registry(n) {
            Some(f) => f,
            None => {
                rep.fail(format!(
                    "feedback limit {n} refused (the registry value's range)"
                ));
                return rep;
            }
        },
    };
    rep.feedback_limit = limit;
    let mut cables = Vec::new();
    for i in 0..c.cables {
        match open_cable(&emu, i, opt, &c, feedback) {
            Ok(cable) => cables.push(cable),
            Err(e) => {
                rep.fail(e);
                drop(cables);
                rep.unload = Some(emu.unload().map(|_| ()).map_err(|b| bug_check_text(&b)));
                return rep;
            }
        }
    }
    let last_time = runits.last().map_or(start, |u| u.time);
    rep.units = runits.len() as u64;
    rep.bytes_in_raw = runits.iter().map(|u| u.bytes.len() as u64).sum();
    for cable in &cables {
        for &h in &cable.renderers {
            cable.port.queue_render_on(h, runits.iter().cloned());
        }
    }
    drive(&emu, &mut cables, last_time, &mut rep);
    rep.emulated_100ns = emu.now_100ns() - start;
    for cable in cables {
        let r = finish_cable(cable, &workload_msgs);
        rep.cables.push(r);
    }
    rep.unload = Some(emu.unload().map(|_| ()).map_err(|b| bug_check_text(&b)));
    rep.wall = started.elapsed();
    rep.verdict(&workload_msgs);
    rep
}

/// Advances emulated time to each due timer in turn until every cable is idle, echoing what
/// the echo readers captured after each step.
fn drive(emu: &Emu, cables: &mut [Cable], last: i64, rep: &mut CablesReport) {
    let mut deadline = last.saturating_add(DRAIN_GRACE_100NS);
    loop {
        let now = emu.now_100ns();
        for cable in cables.iter_mut() {
            if echo_step(cable, now) {
                // Echoes move the end of the input: the grace runs from the last one.
                deadline = deadline.max(now.saturating_add(DRAIN_GRACE_100NS));
            }
        }
        let idle = cables.iter().all(|c| c.port.render_backlog() == 0);
        match drain_step(emu, idle, deadline) {
            Drain::Stepped => {}
            Drain::Idle => break,
            Drain::Stuck(why) => {
                rep.fail(why);
                break;
            }
        }
    }
}

/// Queues what cable's echo reader captured since the last step on its echo renderer;
/// whether it echoed anything.
fn echo_step(cable: &mut Cable, now: i64) -> bool {
    let Some(echo) = cable.echo.as_mut() else {
        return false;
    };
    if echo.gave_up {
        return false;
    }
    let consumed = echo.consumed;
    let (fresh, len) = cable
        .port
        .with_capture_of(echo.reader, |log| {
            let ms = log.assembler.messages();
            let fresh: Vec<RenderUnit> = ms
                .get(consumed..)
                .unwrap_or(&[])
                .iter()
                .filter(|m| !m.truncated)
                .map(|m| RenderUnit {
                    time: now.saturating_add(ECHO_TURNAROUND_100NS),
                    bytes: m.bytes.clone(),
                })
                .collect();
            (fresh, ms.len())
        })
        .unwrap_or_default();
    echo.consumed = len.max(consumed);
    if fresh.is_empty() {
        return false;
    }
    let muted = cable
        .port
        .miniport()
        .and_then(mxf_miniport::cable_stats::<Emu>)
        .is_some_and(|s| s.muted);
    let since = *echo.unmuted_since.get_or_insert(now);
    if muted {
        echo.unmuted_since = Some(now);
    } else if now.saturating_sub(since) > ECHO_GIVE_UP_100NS {
        echo.gave_up = true;
        return false;
    }
    echo.echoed += fresh.len() as u64;
    cable.port.queue_render_on(echo.renderer, fresh);
    true
}

/// Stops a cable's render pins, reads every client's counters, closes the port.
fn finish_cable(mut cable: Cable, workload: &[mxf_portemu::TimedMessage]) -> CableReport {
    let mut rep = CableReport {
        name: cable.name.clone(),
        ..CableReport::default()
    };
    if let Err(e) = cable.port.stop_render() {
        rep.errors.push(format!("stopping the render pins: {e}"));
    }
    let port = &cable.port;
    let render = |h: RenderHandle, name: String, expected: u64| {
        let source = port.render_stats_of(h).unwrap_or_default();
        RendererReport {
            name,
            echo: false,
            expected_messages: expected,
            source,
            stream: port
                .render_stream_on(h)
                .and_then(mxf_miniport::render_stats::<Emu>),
        }
    };
    // A workload renderer sends the workload's messages when the port handed it every unit
    // (the verdict checks that it did).
    for (i, &h) in cable.renderers.iter().enumerate() {
        rep.renderers.push(render(
            h,
            format!("renderer {} ({})", i + 1, client_name(client_of(i as u32))),
            workload.len() as u64,
        ));
    }
    if let Some(e) = &cable.echo {
        let sent = port.render_stats_of(e.renderer).map_or(0, |s| s.units_sent);
        let mut r = render(e.renderer, "echo renderer".into(), sent);
        r.echo = true;
        rep.renderers.push(r);
        rep.echoed = e.echoed;
        rep.echo_gave_up = e.gave_up;
    }
    let mut readers: Vec<(CaptureHandle, String, bool)> = cable
        .readers
        .iter()
        .enumerate()
        .map(|(i, &h)| {
            let client = client_name(client_of(i as u32));
            (h, format!("reader {} ({client})", i + 1), false)
        })
        .collect();
    if let Some(e) = &cable.echo {
        readers.push((e.reader, "echo reader".into(), true));
    }
    for (h, name, echo) in &readers {
        rep.readers.push(ReaderReport {
            name: name.clone(),
            echo: *echo,
            stream: port
                .capture_stream_on(*h)
                .and_then(mxf_miniport::capture_stats::<Emu>),
            reader: port
                .capture_stream_on(*h)
                .and_then(mxf_miniport::reader_stats::<Emu>),
            ..ReaderReport::default()
        });
    }
    if let Some(mp) = port.miniport() {
        rep.loopback = mxf_miniport::loopback_stats::<Emu>(mp);
        rep.cable = mxf_miniport::cable_stats::<Emu>(mp);
        rep.loopback_alloc = mxf_miniport::loopback_allocator_stats::<Emu>(mp);
    }
    let logs: Vec<_> = readers
        .iter()
        .map(|(h, _, _)| port.capture_log_of(*h))
        .collect();
    let contract = port.contract_watch();
    match cable.port.close() {
        Ok(c) => {
            if c.allocator_refs_left != 0 || !c.live_objects.is_empty() {
                rep.errors.push(format!(
                    "references left after close: allocator {} others, objects {:?}",
                    c.allocator_refs_left, c.live_objects
                ));
            }
            rep.port_alloc_end = c.allocator;
            for (r, (h, _, _)) in rep.readers.iter_mut().zip(&readers) {
                r.alloc_end = c
                    .capture_allocators
                    .iter()
                    .find(|(x, _)| x == h)
                    .map(|(_, s)| *s);
            }
        }
        Err(e) => rep.errors.push(format!("close: {e}")),
    }
    rep.contract = contract.stats();
    for (r, log) in rep.readers.iter_mut().zip(logs) {
        if let Some(log) = log {
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            r.sink = l.stats;
            r.captured = l.assembler.take();
        }
    }
    rep
}

fn bug_check_text(b: &mxf_kemu::BugCheck) -> String {
    format!("bug check {:#x} {}: {}", b.code, b.name(), b.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxf_portemu::TimedMessage;

    fn at(time: i64) -> TimedMessage {
        TimedMessage {
            bytes: vec![0xF8],
            time,
            truncated: false,
        }
    }

    #[test]
    fn the_derived_feedback_limit_is_twice_the_renderers_peak() {
        // 300 messages in one 100 ms window, 10 in another: a peak of 3,000 a second.
        let mut w: Vec<TimedMessage> = (0..300).map(|i| at(i * 100)).collect();
        w.extend((0..10).map(|i| at(5_000_000 + i)));
        assert_eq!(feedback_limit_for(&w, 1), 6_000);
        assert_eq!(feedback_limit_for(&w, 3), 18_000);
        assert_eq!(feedback_limit_for(&w[300..], 1), MIN_DERIVED_FEEDBACK_LIMIT);
        assert_eq!(feedback_limit_for(&[], 4), MIN_DERIVED_FEEDBACK_LIMIT);
    }
}
