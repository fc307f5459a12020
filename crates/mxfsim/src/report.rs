//! The run's report: what went in and came out, by kind; SysEx sizes; latency; allocator,
//! loopback, render and port counters; the emulator's verdict; PASS or FAIL and why.

use crate::compare::Comparison;
use crate::drops::Drops;
use crate::options::{MiniportKind, SimOptions};
use mxf_core::alloc::AllocatorStats;
use mxf_core::loopback::LoopbackStats;
use mxf_core::render::RenderStats;
use mxf_miniport::CaptureStreamStats;
use mxf_portemu::{ContractStats, PortStats, RenderSourceStats, SinkStats, TimedMessage};
use std::fmt::{self, Write};
use std::time::Duration;

/// A rule of the verdict: the run fails when any rule is broken, and the report names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rule {
    /// The name printed with the failure (and listed in `--help`).
    pub name: &'static str,
    /// What the rule requires, in words (the `--help` line).
    pub requires: &'static str,
}

/// The run itself: miniport created, pins opened, pipeline idle in time, closed with no
/// references left.
pub const RULE_RUN: Rule = Rule {
    name: "run",
    requires: "the miniport and pins open, the pipeline goes idle, close leaves no references",
};
/// Every captured message was sent (no corruption, invention or reordering).
pub const RULE_CORRUPTION: Rule = Rule {
    name: "corruption",
    requires: "every captured message was sent",
};
/// Exact accounting of messages missing whole and of SysEx truncated, stage by stage.
pub const RULE_ACCOUNTING: Rule = Rule {
    name: "accounting",
    requires: "every message missing or truncated is counted, exactly, by a drop counter",
};
/// The port's capture sink saw no event breaking the DMus contract.
pub const RULE_SINK_MALFORMED: Rule = Rule {
    name: "sink-malformed",
    requires: "the port's capture sink counts no malformed event",
};
/// The DMus capture flag contract: every fragment of a message spread over several events
/// is flagged INCOMPLETE.
pub const RULE_FLAG_PATTERN: Rule = Rule {
    name: "flag-pattern",
    requires: "every fragment of a message longer than one event is flagged INCOMPLETE",
};
/// No message captured before its presentation time.
pub const RULE_LATENCY_EARLY: Rule = Rule {
    name: "latency-early",
    requires: "no message is captured before its presentation time",
};
/// No message captured later than the bound after its presentation time.
pub const RULE_LATENCY_BOUND: Rule = Rule {
    name: "latency-bound",
    requires: "without --faults no message is captured later than --max-latency-us after its presentation time",
};
/// Without `--faults` nothing is dropped anywhere, for any cause (the port's allocator cap
/// included).
pub const RULE_NO_DROPS: Rule = Rule {
    name: "no-drops",
    requires: "without --faults nothing is dropped, by any stage, for any cause",
};
/// The DMus allocator rules: the miniport never writes the port's fields of an event and
/// never calls `PutBuffer`.
pub const RULE_ALLOCATOR_RULES: Rule = Rule {
    name: "allocator-rules",
    requires: "the miniport never writes bReserved/cbStruct of the port's events, never calls PutBuffer, returns packages detached",
};
/// Nothing left behind: loopback empty, allocators balanced, the emulator's unload clean.
pub const RULE_LEAKS: Rule = Rule {
    name: "leaks",
    requires: "loopback empty, no event or buffer outstanding, emulator unload clean",
};

/// With `--feedback`, the feedback guard mutes every cable fed its own output.
pub const RULE_FEEDBACK: Rule = Rule {
    name: "feedback",
    requires: "with --feedback every cable's feedback guard mutes the echo loop",
};

/// Every rule of the verdict, in the order `--help` lists them.
pub const RULES: [Rule; 11] = [
    RULE_RUN,
    RULE_CORRUPTION,
    RULE_ACCOUNTING,
    RULE_SINK_MALFORMED,
    RULE_FLAG_PATTERN,
    RULE_ALLOCATOR_RULES,
    RULE_LATENCY_EARLY,
    RULE_LATENCY_BOUND,
    RULE_NO_DROPS,
    RULE_LEAKS,
    RULE_FEEDBACK,
];

pub use crate::options::DEFAULT_LATENCY_MARGIN_100NS;

/// Message classes of the report.
pub const KINDS: [&str; 11] = [
    "note off",
    "note on",
    "poly pressure",
    "control change",
    "program change",
    "channel pressure",
    "pitch bend",
    "sysex",
    "sysex (truncated)",
    "system common",
    "realtime",
];

/// The class of a message (an index into [`KINDS`]).
pub fn kind(m: &TimedMessage) -> usize {
    match m.bytes.first().copied().unwrap_or(0) {
        0xF0 if m.truncated => 8,
        0xF0 => 7,
        0xF8..=0xFF => 10,
        0xF1..=0xF7 => 9,
        s => usize::from((s >> 4) & 0x7),
    }
}

/// Counts and bytes per class.
#[derive(Clone, Copy, Default, Debug)]
pub struct ByKind {
    /// Messages per class.
    pub count: [u64; 11],
    /// Bytes per class (normalised).
    pub bytes: [u64; 11],
}

impl ByKind {
    fn of(ms: &[TimedMessage]) -> Self {
        let mut k = Self::default();
        for m in ms {
            let i = kind(m);
            k.count[i] += 1;
            k.bytes[i] += m.bytes.len() as u64;
        }
        k
    }
    /// All messages.
    pub fn total(&self) -> u64 {
        self.count.iter().sum()
    }
    /// All bytes.
    pub fn total_bytes(&self) -> u64 {
        self.bytes.iter().sum()
    }
}

/// Everything the report prints.
#[derive(Default)]
pub struct Report {
    /// Workload name.
    pub workload: String,
    /// Options line.
    pub options: String,
    /// Units queued.
    pub units: u64,
    /// Raw bytes queued.
    pub bytes_in_raw: u64,
    /// Emulated time from the first unit to the end (100 ns).
    pub emulated_100ns: i64,
    /// Wall time.
    pub wall: Duration,
    /// Sent (normalised, excluding port drops) and captured, by kind.
    pub sent: ByKind,
    /// Captured by kind.
    pub got: ByKind,
    /// SysEx sizes captured (whole messages, bytes incl. F0/F7).
    pub sysex_sizes: Vec<usize>,
    /// The comparison.
    pub cmp: Comparison,
    /// Drop counters.
    pub drops: Drops,
    /// The captured messages, in the order they completed.
    pub captured: Vec<TimedMessage>,
    /// The port's counters.
    pub port: Option<PortStats>,
    /// The render source's counters.
    pub render_source: Option<RenderSourceStats>,
    /// The capture sink's counters.
    pub sink: Option<SinkStats>,
    /// The miniport's breaches of the port allocator's rules, counted until after close.
    pub allocator_contract: Option<ContractStats>,
    /// Port allocator counters before close (live) and at close.
    pub port_alloc_live: Option<AllocatorStats>,
    /// At close.
    pub port_alloc_end: Option<AllocatorStats>,
    /// The loopback's allocator.
    pub loopback_alloc: Option<AllocatorStats>,
    /// The loopback.
    pub loopback: Option<LoopbackStats>,
    /// The render stream.
    pub render_stream: Option<RenderStats>,
    /// The capture stream.
    pub capture_stream: Option<CaptureStreamStats>,
    /// `Emu::unload()`: `Ok` or the bug check in words.
    pub unload: Option<Result<(), String>>,
    /// Broken rules and why, in the order found.
    pub failures: Vec<(Rule, String)>,
    /// The latency bound of [`RULE_LATENCY_BOUND`] (100 ns).
    pub max_latency_100ns: i64,
    /// The port allocator's buffer size: the most bytes one capture event carries.
    pub event_capacity: u16,
    /// Whether faults were injected (drops are then allowed, if accounted for).
    pub faults: bool,
    /// The port's Notify → DPC latency (100 ns).
    pub dpc_latency_100ns: i64,
}

impl Report {
    pub(crate) fn new(workload: &str, opt: &SimOptions) -> Self {
        Self {
            workload: workload.to_string(),
            options: format!(
                "miniport {}, verifier {}, faults {}, buffer size {}, packaging {:?}, seed {}",
                match opt.miniport {
                    MiniportKind::Real => "mxf-miniport",
                    MiniportKind::Double => "test double",
                },
                if opt.verifier { "on" } else { "off" },
                opt.faults
                    .map_or("off".to_string(), |n| format!("1 in {n}")),
                opt.buffer_size
                    .map_or("default".to_string(), |n| n.to_string()),
                opt.packaging,
                opt.seed
            ) + &format!(
                ", capture mode {:?}, loopback buffer size {}, loopback capacity {}",
                opt.capture_mode,
                opt.loopback_buffer_size
                    .map_or("default".to_string(), |n| n.to_string()),
                opt.loopback_capacity
                    .map_or("default".to_string(), |n| n.to_string()),
            ),
            faults: opt.faults.is_some(),
            dpc_latency_100ns: opt.dpc_latency_100ns,
            max_latency_100ns: opt.max_latency_100ns(),
            ..Self::default()
        }
    }

    /// Records a failure of [`RULE_RUN`].
    pub(crate) fn fail(&mut self, why: String) {
        self.fail_rule(RULE_RUN, why);
    }

    /// Records that `rule` is broken, and why.
    pub(crate) fn fail_rule(&mut self, rule: Rule, why: String) {
        self.failures.push((rule, why));
    }

    /// Whether `rule` is broken.
    pub fn broke(&self, rule: Rule) -> bool {
        self.failures.iter().any(|(r, _)| *r == rule)
    }

    pub(crate) fn finish(
        &mut self,
        sent: Vec<TimedMessage>,
        got: Vec<TimedMessage>,
        cmp: Comparison,
        drops: Drops,
        wall: Duration,
    ) {
        self.sent = ByKind::of(&sent);
        self.got = ByKind::of(&got);
        self.sysex_sizes = got
            .iter()
            .filter(|m| kind(m) == 7)
            .map(|m| m.bytes.len())
            .collect();
        self.captured = got;
        self.wall = wall;
        if cmp.unexpected > 0 {
            self.fail_rule(
                RULE_CORRUPTION,
                format!(
                    "{} captured message(s) were never sent (corruption)",
                    cmp.unexpected
                ),
            );
        }
        // Exact accounting: every message sent is captured as sent, or a counter of a named
        // cause says it is missing (whole) or truncated.
        if cmp.missing != drops.expected_missing() {
            self.fail_rule(
                RULE_ACCOUNTING,
                format!(
                    "{} message(s) missing, but the drop counters account for {} (render {:?}, \
                 capture {} msg + {} sysex)",
                    cmp.missing,
                    drops.expected_missing(),
                    drops.render(),
                    drops.capture_messages,
                    drops.capture_sysex_whole
                ),
            );
        }
        // Truncation, stage by stage (see `Drops::expected_truncated_captured`).
        if drops.render_sysex_cut() != drops.capture_sysex_cut_arrived {
            self.fail_rule(
                RULE_ACCOUNTING,
                format!(
                    "the render side sent {} SysEx cut ({:?} given up after pieces got out, {} \
                 cut by the application or the end of the input, {} open), but the capture side received {} cut",
                    drops.render_sysex_cut(),
                    drops.render().sysex_truncated,
                    drops.render_sysex_cut_written,
                    u64::from(drops.render_sysex_open),
                    drops.capture_sysex_cut_arrived
                ),
            );
        }
        if cmp.partial + cmp.matched_truncated != drops.expected_truncated_captured() {
            self.fail_rule(
                RULE_ACCOUNTING,
                format!(
                    "{} SysEx captured truncated ({} cut on the way, {} as the application cut \
                 them), but the capture side delivered {} cut ({} as they arrived, {} cut \
                 for want of memory)",
                    cmp.partial + cmp.matched_truncated,
                    cmp.partial,
                    cmp.matched_truncated,
                    drops.expected_truncated_captured(),
                    drops.capture_sysex_delivered_cut,
                    drops.capture_sysex_truncated
                ),
            );
        }
        if drops.render_events_refused > 0 {
            self.fail_rule(
                RULE_ACCOUNTING,
                format!(
                "the render queue refused {} event(s) at its bound: raise RenderConfig::max_queued",
                drops.render_events_refused
            ));
        }
        if drops.loopback_discarded > 0 {
            self.fail_rule(
                RULE_ACCOUNTING,
                format!(
                    "the loopback discarded {} byte(s)",
                    drops.loopback_discarded
                ),
            );
        }
        if drops.capture_no_sink_events > 0 {
            self.fail_rule(
                RULE_ACCOUNTING,
                format!(
                    "{} captured event(s) dropped for want of a sink",
                    drops.capture_no_sink_events
                ),
            );
        }
        if drops.capture_malformed_bytes > 0 {
            self.fail_rule(
                RULE_CORRUPTION,
                format!(
                    "the capture side parsed {} byte(s) that were not whole messages: the loopback \
                 must carry normalised messages only",
                    drops.capture_malformed_bytes
                ),
            );
        }
        if !self.faults && drops.any() {
            self.fail_rule(
                RULE_NO_DROPS,
                "drops without fault injection: the cable must apply backpressure".into(),
            );
        }
        if let Some(l) = &self.loopback
            && l.bytes_queued != 0
        {
            self.fail_rule(
                RULE_LEAKS,
                format!("{} byte(s) left in the loopback", l.bytes_queued),
            );
        }
        if let Some(a) = &self.loopback_alloc
            && (a.outstanding_events != 0 || a.outstanding_buffers != 0)
        {
            self.fail_rule(
                RULE_LEAKS,
                format!(
                    "loopback allocator: {} events / {} buffers outstanding at the end",
                    a.outstanding_events, a.outstanding_buffers
                ),
            );
        }
        if let Some(Err(e)) = &self.unload {
            self.fail_rule(RULE_LEAKS, format!("emulator unload: {e}"));
        }
        if let Some(a) = &self.port_alloc_end
            && (a.outstanding_events != 0 || a.outstanding_buffers != 0)
        {
            self.fail_rule(
                RULE_LEAKS,
                format!(
                    "port allocator: {} events / {} buffers outstanding at close",
                    a.outstanding_events, a.outstanding_buffers
                ),
            );
        }
        if !self.faults && drops.port_units > 0 {
            self.fail_rule(
                RULE_NO_DROPS,
                format!(
                    "the port dropped {} unit(s) ({} B) for want of allocator memory without \
                     --faults (its allocator's cap)",
                    drops.port_units, drops.port_bytes
                ),
            );
        }
        self.check_sink();
        if let Some(c) = self.allocator_contract
            && c != ContractStats::default()
        {
            self.fail_rule(
                RULE_ALLOCATOR_RULES,
                format!(
                    "{} event(s) came back with bReserved/cbStruct written, {} PutBuffer \
                     call(s), {} package(s) with their sub-chain attached",
                    c.reserved_writes, c.put_buffer_calls, c.attached_packages
                ),
            );
        }
        self.check_latency(&cmp.latencies);
        self.cmp = cmp;
        self.drops = drops;
    }

    /// [`RULE_SINK_MALFORMED`] and [`RULE_FLAG_PATTERN`], from the sink's counters and the
    /// captured messages.
    fn check_sink(&mut self) {
        let Some(s) = self.sink else {
            return;
        };
        if s.malformed_events > 0 {
            self.fail_rule(
                RULE_SINK_MALFORMED,
                format!(
                    "the port's capture sink counted {} malformed event(s) ({} flagged COMPLETE \
                     without being one whole message)",
                    s.malformed_events, s.not_whole_message_events
                ),
            );
        }
        if s.not_whole_message_events > 0 {
            self.fail_rule(
                RULE_FLAG_PATTERN,
                format!(
                    "{} event(s) flagged COMPLETE that are not one whole message: a fragment \
                     must be flagged INCOMPLETE",
                    s.not_whole_message_events
                ),
            );
        }
        let need = min_incomplete_events(&self.captured, self.event_capacity);
        if s.incomplete_events < need {
            self.fail_rule(
                RULE_FLAG_PATTERN,
                format!(
                    "the capture sink saw {} INCOMPLETE event(s), but the messages captured \
                     longer than one event ({} B) take at least {need}, every one INCOMPLETE",
                    s.incomplete_events, self.event_capacity
                ),
            );
        }
    }

    /// [`RULE_LATENCY_EARLY`] and [`RULE_LATENCY_BOUND`].
    fn check_latency(&mut self, latencies: &[i64]) {
        let early = latencies.iter().filter(|&&l| l < 0).count();
        if let Some(min) = latencies.iter().copied().min().filter(|_| early > 0) {
            self.fail_rule(
                RULE_LATENCY_EARLY,
                format!(
                    "{early} message(s) captured before their presentation time (min latency {} \
                     us)",
                    min / 10
                ),
            );
        }
        // Injected faults delay delivery by design (no-memory retries until memory comes
        // back), so the bound holds for runs without `--faults`.
        if self.faults {
            return;
        }
        let bound = self.max_latency_100ns;
        let late = latencies.iter().filter(|&&l| l > bound).count();
        if let Some(max) = latencies.iter().copied().max().filter(|_| late > 0) {
            self.fail_rule(
                RULE_LATENCY_BOUND,
                format!(
                    "{late} message(s) captured more than {} us after their presentation time \
                     (max latency {} us)",
                    bound / 10,
                    max / 10
                ),
            );
        }
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The fewest INCOMPLETE events the capture sink must see for `captured` under the DMus
/// flag contract: a message longer than `capacity` bytes (one event's most) is spread over at
/// least `ceil(len / capacity)` events, and every one of them is a fragment, so INCOMPLETE.
pub fn min_incomplete_events(captured: &[TimedMessage], capacity: u16) -> u64 {
    let cap = usize::from(capacity.max(1));
    captured
        .iter()
        .filter(|m| m.bytes.len() > cap)
        .map(|m| m.bytes.len().div_ceil(cap) as u64)
        .sum()
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn alloc_line(f: &mut String, name: &str, a: &Option<AllocatorStats>) -> fmt::Result {
    match a {
        None => writeln!(f, "  {name:<18} n/a"),
        Some(a) => writeln!(
            f,
            "  {name:<18} gets {} (buffers {}), reserve hits {}, pool misses {}, failures {}, \
             high water {} ev / {} buf, outstanding {} ev / {} buf",
            a.gets,
            a.buffer_gets,
            a.reserve_hits,
            a.pool_misses,
            a.failures,
            a.high_water_events,
            a.high_water_buffers,
            a.outstanding_events,
            a.outstanding_buffers
        ),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = String::new();
        writeln!(f, "mxfsim report")?;
        writeln!(f, "  workload           {}", self.workload)?;
        writeln!(f, "  options            {}", self.options)?;
        writeln!(
            f,
            "  played             {} units, {} bytes, {:.3} s emulated, {:.2} s wall",
            self.units,
            self.bytes_in_raw,
            self.emulated_100ns as f64 / 1e7,
            self.wall.as_secs_f64()
        )?;
        writeln!(
            f,
            "messages (normalised)      sent   (bytes)   captured   (bytes)"
        )?;
        for (i, name) in KINDS.iter().enumerate() {
            if self.sent.count[i] + self.got.count[i] == 0 {
                continue;
            }
            writeln!(
                f,
                "  {name:<18} {:>10} {:>9} {:>10} {:>9}",
                self.sent.count[i], self.sent.bytes[i], self.got.count[i], self.got.bytes[i]
            )?;
        }
        writeln!(
            f,
            "  {:<18} {:>10} {:>9} {:>10} {:>9}",
            "total",
            self.sent.total(),
            self.sent.total_bytes(),
            self.got.total(),
            self.got.total_bytes()
        )?;
        let s = &self.sysex_sizes;
        if let (Some(min), Some(max)) = (s.iter().min(), s.iter().max()) {
            writeln!(
                f,
                "sysex captured       count {}, min {} B, max {} B (F0..F7 included)",
                s.len(),
                min,
                max
            )?;
            let buckets = [
                (0usize, 8usize, "<=8"),
                (9, 64, "9-64"),
                (65, 4096, "65-4K"),
                (4097, 65_536, "4K-64K"),
                (65_537, 1 << 20, "64K-1M"),
                ((1 << 20) + 1, usize::MAX, ">1M"),
            ];
            let h: Vec<String> = buckets
                .iter()
                .map(|&(lo, hi, name)| {
                    format!(
                        "{name}: {}",
                        s.iter().filter(|&&x| x >= lo && x <= hi).count()
                    )
                })
                .collect();
            writeln!(f, "  histogram          {}", h.join(", "))?;
        }
        let mut lat = self.cmp.latencies.clone();
        lat.sort_unstable();
        writeln!(
            f,
            "latency (emulated: capture event time - presentation time; the port's DPC runs {} us \
             after Notify)",
            self.dpc_latency_100ns / 10
        )?;
        writeln!(
            f,
            "                     n {}, min {} us, p50 {} us, p99 {} us, max {} us (bound {} us)",
            lat.len(),
            lat.first().copied().unwrap_or(0) / 10,
            pct(&lat, 0.5) / 10,
            pct(&lat, 0.99) / 10,
            lat.last().copied().unwrap_or(0) / 10,
            self.max_latency_100ns / 10
        )?;
        writeln!(f, "allocators")?;
        alloc_line(&mut f, "port (live)", &self.port_alloc_live)?;
        alloc_line(&mut f, "port (at close)", &self.port_alloc_end)?;
        alloc_line(&mut f, "loopback", &self.loopback_alloc)?;
        writeln!(f, "pipeline")?;
        if let Some(r) = &self.render_source {
            writeln!(
                f,
                "  port render        units sent {}, dropped (no memory) {} ({} B), events {} \
                 (buffers {}), packages {}, chains {}, put errors {}",
                r.units_sent,
                r.units_dropped_no_memory,
                r.bytes_dropped,
                r.events,
                r.buffer_events,
                r.packages,
                r.chains,
                r.put_errors
            )?;
        }
        if let Some(r) = &self.render_stream {
            writeln!(
                f,
                "  render stream      events queued {}, played {}, refused {}, flushed {}, max \
                 queue {} of {}, lateness max {} us",
                r.events_queued,
                r.events_played,
                r.events_refused,
                r.events_flushed,
                r.max_queue_depth,
                r.queue_bound,
                r.lateness_max / 10
            )?;
            writeln!(
                f,
                "                     written {} msg ({} sysex), {} B; blocked {} times, {} us \
                 total, {} us max; kicks {} (wakeups {}); no-memory retries {}",
                r.messages_written,
                r.sysex_written,
                r.bytes_written,
                r.blocks,
                r.blocked_time_total / 10,
                r.blocked_time_max / 10,
                r.kicks,
                r.wakeups,
                r.no_memory_retries
            )?;
            for (name, d) in [
                ("no listener", r.dropped_no_listener),
                ("no memory", r.dropped_no_memory),
                ("too large", r.dropped_too_large),
                ("muted", r.dropped_muted),
                ("stop", r.dropped_stop),
            ] {
                writeln!(
                    f,
                    "                     dropped ({name}): {} msg, {} sysex truncated, {} B",
                    d.messages, d.sysex_truncated, d.bytes
                )?;
            }
            let p = &r.parser;
            writeln!(
                f,
                "                     application input: {} B parsed, stray {} B, truncated {} \
                 msg ({} B), sysex cut {}",
                p.bytes_in, p.bytes_stray, p.truncated_messages, p.bytes_truncated, p.sysex_cut
            )?;
        }
        if let Some(l) = &self.loopback {
            writeln!(
                f,
                "  loopback           in {} B, out {} B, discarded {} B, high water {} B, writes \
                 {}, refused: full {} / allocator full {} / no memory {} / closed {}",
                l.bytes_in,
                l.bytes_out,
                l.bytes_discarded,
                l.high_water,
                l.writes,
                l.writes_refused_full,
                l.writes_refused_alloc_full,
                l.writes_refused_no_memory,
                l.writes_refused_closed
            )?;
        }
        if let Some(c) = &self.capture_stream {
            let p = &c.packager;
            writeln!(
                f,
                "  capture stream     services {}, bursts {}, bytes {}, chains {}, events {}, \
                 dropped {} msg / {} sysex / {} B (no memory), stray {} B",
                c.services,
                c.bursts,
                c.bytes_read,
                c.chains_delivered,
                c.events_delivered,
                p.messages_dropped_no_memory,
                p.sysex_dropped_no_memory,
                p.bytes_dropped_no_memory,
                p.parser.bytes_stray
            )?;
        }
        if let Some(s) = &self.sink {
            writeln!(
                f,
                "  port capture sink  chains {}, events {} (buffers {}, incomplete {}), bytes {}, \
                 malformed {}, longest chain {}",
                s.chains,
                s.events,
                s.buffer_events,
                s.incomplete_events,
                s.bytes,
                s.malformed_events,
                s.max_chain
            )?;
        }
        if let Some(p) = &self.port {
            writeln!(
                f,
                "  port               notifies {}, DPC runs {}, services {}, prefetch {} us",
                p.notifies,
                p.dpc_runs,
                p.services,
                p.render_prefetch_100ns / 10
            )?;
        }
        let c = &self.cmp;
        writeln!(
            f,
            "comparison           matched {}, missing {}, partial sysex {}, unexpected {}, \
             missing bytes {}",
            c.matched, c.missing, c.partial, c.unexpected, c.missing_bytes
        )?;
        let d = &self.drops;
        writeln!(
            f,
            "accounting           counted missing {} (render {}, capture {} msg + {} sysex), \
             sysex cut: render sent {} (given up {}, application's {}), capture received {}, \
             delivered {} cut (+ {} cut for want of memory); port units not sent {} ({} B); \
             sysex cut at end of input {} ({} an F0 alone, given up at the render stream's \
             stop); port units discarded at stop {}",
            d.expected_missing(),
            d.render().messages,
            d.capture_messages,
            d.capture_sysex_whole,
            d.render_sysex_cut(),
            d.render().sysex_truncated,
            d.render_sysex_cut_written,
            d.capture_sysex_cut_arrived,
            d.capture_sysex_delivered_cut,
            d.capture_sysex_truncated,
            d.port_units,
            d.port_bytes,
            d.input_sysex_cut_at_end,
            d.input_sysex_cut_at_end_f0_only,
            d.port_units_discarded
        )?;
        for s in &c.samples {
            writeln!(f, "  {s}")?;
        }
        match &self.unload {
            Some(Ok(())) => writeln!(
                f,
                "emulator             unload clean (no leaks, no timers, guards and poison \
                 intact; IRQL rules held)"
            )?,
            Some(Err(e)) => writeln!(f, "emulator             {e}")?,
            None => writeln!(f, "emulator             not unloaded")?,
        }
        if self.passed() {
            writeln!(f, "result               PASS")?;
        } else {
            let names: Vec<&str> = self.failures.iter().map(|(r, _)| r.name).collect();
            let mut names = names;
            names.dedup();
            writeln!(f, "result               FAIL ({})", names.join(", "))?;
            for (rule, why) in &self.failures {
                writeln!(f, "  [{}] {why}", rule.name)?;
            }
        }
        out.write_str(&f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(len: usize) -> TimedMessage {
        TimedMessage {
            bytes: vec![0; len],
            time: 0,
            truncated: false,
        }
    }

    #[test]
    fn messages_longer_than_one_event_need_every_fragment_incomplete() {
        // 100 B in one event; 101 B in two; 250 B in three; short ones in none.
        let c = [m(3), m(100), m(101), m(250)];
        assert_eq!(min_incomplete_events(&c, 100), 2 + 3);
        assert_eq!(min_incomplete_events(&c, 4096), 0);
    }

    #[test]
    fn failures_name_their_rule() {
        let mut r = Report::default();
        r.fail_rule(RULE_NO_DROPS, "x".into());
        r.fail_rule(RULE_NO_DROPS, "y".into());
        r.fail("z".into());
        assert!(!r.passed());
        assert!(r.broke(RULE_NO_DROPS) && r.broke(RULE_RUN) && !r.broke(RULE_LEAKS));
        let text = r.to_string();
        assert!(
            text.contains("result               FAIL (no-drops, run)"),
            "{text}"
        );
        assert!(text.contains("  [no-drops] y"), "{text}");
    }
}
