//! The report of a multi-client run ([`crate::cables`]): per cable and per client (renderer,
//! reader) what was sent, what got through, what was dropped and why; the verdict, under the
//! same rules as the classic run's report where they apply, plus [`RULE_FEEDBACK`].

use crate::options::SimOptions;
use crate::report::{
    RULE_ACCOUNTING, RULE_ALLOCATOR_RULES, RULE_CORRUPTION, RULE_FEEDBACK, RULE_LEAKS,
    RULE_NO_DROPS, RULE_RUN, RULE_SINK_MALFORMED, Rule,
};
use mxf_core::alloc::AllocatorStats;
use mxf_core::cable::{CableStats, ReaderStats};
use mxf_core::loopback::LoopbackStats;
use mxf_core::render::{DropCount, RenderStats};
use mxf_miniport::CaptureStreamStats;
use mxf_portemu::{ContractStats, RenderSourceStats, SinkStats, TimedMessage};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write};
use std::time::Duration;

/// The drop causes of a render stream, by name.
pub fn render_drops(r: &RenderStats) -> Vec<(&'static str, DropCount)> {
    vec![
        ("no listener", r.dropped_no_listener),
        ("no memory", r.dropped_no_memory),
        ("too large", r.dropped_too_large),
        ("stop", r.dropped_stop),
    ]
}

/// Messages a render stream gave up because the cable's feedback guard muted them.
pub fn render_muted(r: &RenderStats) -> DropCount {
    r.dropped_muted
}

/// The drop causes of a reader, by name, in messages: its share of the cable refused for it
/// (its loopback full or out of memory while another reader took the message; a SysEx cut
/// for it counts once), and what its capture stream could not package (its allocator dry).
pub fn reader_drops(r: &ReaderStats, c: &CaptureStreamStats) -> Vec<(&'static str, u64)> {
    let p = &c.packager;
    vec![
        ("cable", r.messages_dropped + r.sysex_truncated),
        (
            "no memory",
            p.messages_dropped_no_memory + p.sysex_dropped_no_memory,
        ),
    ]
}

/// One renderer of a cable.
#[derive(Clone, Default, Debug)]
pub struct RendererReport {
    /// "renderer 1", …, "echo renderer".
    pub name: String,
    /// The echo application's renderer.
    pub echo: bool,
    /// Messages it sends (the workload's, by the reference parser; an echo renderer's units,
    /// each one whole message).
    pub expected_messages: u64,
    /// The port's counters of its instance.
    pub source: RenderSourceStats,
    /// Its render stream's counters.
    pub stream: Option<RenderStats>,
}

impl RendererReport {
    /// Messages given up, every cause (muted included), whole or cut.
    pub fn dropped(&self) -> u64 {
        let Some(r) = &self.stream else {
            return 0;
        };
        render_drops(r)
            .into_iter()
            .chain([("muted", render_muted(r))])
            .map(|(_, d)| d.messages + d.sysex_truncated)
            .sum()
    }

    /// Messages it wrote into the cable.
    pub fn written(&self) -> u64 {
        self.stream.as_ref().map_or(0, |r| r.messages_written)
    }
}

/// One reader of a cable.
#[derive(Clone, Default, Debug)]
pub struct ReaderReport {
    /// "reader 1", …, "echo reader".
    pub name: String,
    /// The echo application's reader.
    pub echo: bool,
    /// What its sink captured.
    pub captured: Vec<TimedMessage>,
    /// Its sink's counters.
    pub sink: SinkStats,
    /// Its capture stream's counters.
    pub stream: Option<CaptureStreamStats>,
    /// Its counters as a reader of the cable.
    pub reader: Option<ReaderStats>,
    /// Its allocator at close.
    pub alloc_end: Option<AllocatorStats>,
}

impl ReaderReport {
    /// Whole messages captured (a SysEx cut on the way not included).
    pub fn whole(&self) -> u64 {
        self.captured.iter().filter(|m| !m.truncated).count() as u64
    }

    /// Its drops by cause (none known without its counters).
    pub fn drops(&self) -> Vec<(&'static str, u64)> {
        match (&self.reader, &self.stream) {
            (Some(r), Some(c)) => reader_drops(r, c),
            _ => Vec::new(),
        }
    }

    /// Messages dropped for this reader, every cause.
    pub fn dropped(&self) -> u64 {
        self.drops().iter().map(|(_, n)| n).sum()
    }
}

/// One cable.
#[derive(Clone, Default, Debug)]
pub struct CableReport {
    /// "MxfLoop 1", ….
    pub name: String,
    /// Its renderers (the echo renderer last).
    pub renderers: Vec<RendererReport>,
    /// Its readers (the echo reader last).
    pub readers: Vec<ReaderReport>,
    /// Its loopbacks (every reader's, summed).
    pub loopback: Option<LoopbackStats>,
    /// The cable's counters (merge, feedback guard).
    pub cable: Option<CableStats>,
    /// Its readers' loopback allocators, summed.
    pub loopback_alloc: Option<AllocatorStats>,
    /// Its port's allocator at close.
    pub port_alloc_end: Option<AllocatorStats>,
    /// The miniport's breaches of the port allocator's rules.
    pub contract: ContractStats,
    /// Messages the echo application sent back.
    pub echoed: u64,
    /// The echo application gave up (the guard never muted the echo).
    pub echo_gave_up: bool,
    /// Failed steps (stop, close).
    pub errors: Vec<String>,
}

impl CableReport {
    /// Messages written into the cable, every renderer.
    pub fn written(&self) -> u64 {
        self.renderers.iter().map(RendererReport::written).sum()
    }

    /// Messages the feedback guard muted, every renderer.
    pub fn muted(&self) -> u64 {
        self.renderers
            .iter()
            .filter_map(|r| r.stream.as_ref())
            .map(|r| {
                let d = render_muted(r);
                d.messages + d.sysex_truncated
            })
            .sum()
    }
}

/// Everything the report of a multi-client run prints.
#[derive(Default)]
pub struct CablesReport {
    /// Workload name.
    pub workload: String,
    /// Options line.
    pub options: String,
    /// Whether the echo application runs.
    pub feedback: bool,
    /// The feedback guard's limit set for the run (messages a second; `None`: the driver's
    /// default).
    pub feedback_limit: Option<u32>,
    /// Renderers per cable (besides the echo one).
    pub renderers: u32,
    /// Units queued per renderer.
    pub units: u64,
    /// Raw bytes queued per renderer.
    pub bytes_in_raw: u64,
    /// Emulated time from the first unit to the end (100 ns).
    pub emulated_100ns: i64,
    /// Wall time.
    pub wall: Duration,
    /// The cables.
    pub cables: Vec<CableReport>,
    /// `Emu::unload()`.
    pub unload: Option<Result<(), String>>,
    /// Broken rules and why.
    pub failures: Vec<(Rule, String)>,
}

/// Messages as a multiset (bytes and whether cut).
fn multiset<'a>(ms: impl IntoIterator<Item = &'a TimedMessage>) -> BTreeMap<(&'a [u8], bool), u64> {
    let mut m = BTreeMap::new();
    for x in ms {
        *m.entry((&x.bytes[..], x.truncated)).or_insert(0) += 1;
    }
    m
}

/// Whether `m` is a message of `sent`, or the truncated start of one of its SysEx.
fn sent_or_cut(m: &TimedMessage, sent: &[TimedMessage]) -> bool {
    sent.iter().any(|x| matches_sent(m, x))
}

/// `m` is `x`, or (truncated) a start of the SysEx `x`.
fn matches_sent(m: &TimedMessage, x: &TimedMessage) -> bool {
    if m.truncated {
        x.bytes.first() == Some(&0xF0) && x.bytes.starts_with(&m.bytes)
    } else {
        m.bytes == x.bytes && !x.truncated
    }
}

/// Whether `got` is `sent` in order with some messages left out (each kept one whole, or a
/// SysEx cut short).
fn in_order_with_gaps(got: &[TimedMessage], sent: &[TimedMessage]) -> bool {
    let mut rest = sent.iter();
    got.iter().all(|m| rest.any(|x| matches_sent(m, x)))
}

fn same_sequence(a: &[TimedMessage], b: &[TimedMessage]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.bytes == y.bytes && x.truncated == y.truncated)
}

impl CablesReport {
    pub(crate) fn new(workload: &str, opt: &SimOptions) -> Self {
        let c = opt.cables;
        Self {
            workload: workload.to_string(),
            options: format!(
                "cables {}, renderers {} per cable (each plays the whole workload), readers {} \
                 per cable, feedback {}, verifier {}, packaging {:?}, seed {}",
                c.cables,
                c.renderers,
                c.readers,
                if c.feedback {
                    "on (an echo reader and renderer per cable)"
                } else {
                    "off"
                },
                if opt.verifier { "on" } else { "off" },
                opt.packaging,
                opt.seed
            ),
            feedback: c.feedback,
            renderers: c.renderers,
            ..Self::default()
        }
    }

    /// Records a failure of [`RULE_RUN`].
    pub(crate) fn fail(&mut self, why: String) {
        self.fail_rule(RULE_RUN, why);
    }

    fn fail_rule(&mut self, rule: Rule, why: String) {
        self.failures.push((rule, why));
    }

    /// Whether `rule` is broken.
    pub fn broke(&self, rule: Rule) -> bool {
        self.failures.iter().any(|(r, _)| *r == rule)
    }

    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Applies the rules; `workload` is what one renderer sends.
    pub(crate) fn verdict(&mut self, workload: &[TimedMessage]) {
        let mut found: Vec<(Rule, String)> = Vec::new();
        let sent_set: BTreeSet<&[u8]> = workload.iter().map(|m| &m.bytes[..]).collect();
        let k = u64::from(self.renderers);
        let want = multiset(workload)
            .into_iter()
            .map(|(m, n)| (m, n * k))
            .collect();
        for c in &self.cables {
            let n = &c.name;
            for e in &c.errors {
                found.push((RULE_RUN, format!("{n}: {e}")));
            }
            for r in &c.renderers {
                let Some(s) = &r.stream else {
                    found.push((RULE_RUN, format!("{n} {}: no render stream", r.name)));
                    continue;
                };
                if r.source.units_dropped_no_memory + r.source.units_discarded_at_close > 0 {
                    found.push((
                        RULE_NO_DROPS,
                        format!(
                            "{n} {}: the port did not hand over {} unit(s) (no memory) and {} \
                             (discarded at the stop)",
                            r.name,
                            r.source.units_dropped_no_memory,
                            r.source.units_discarded_at_close
                        ),
                    ));
                    continue;
                }
                let got = r.written() + r.dropped() + u64::from(s.sysex_open);
                if got != r.expected_messages {
                    found.push((
                        RULE_ACCOUNTING,
                        format!(
                            "{n} {}: sent {} message(s), but written {} + dropped {} = {got}",
                            r.name,
                            r.expected_messages,
                            r.written(),
                            r.dropped()
                        ),
                    ));
                }
                let other: u64 = render_drops(s)
                    .iter()
                    .map(|(_, d)| d.messages + d.sysex_truncated)
                    .sum();
                if other > 0 {
                    found.push((
                        RULE_NO_DROPS,
                        format!("{n} {}: {other} message(s) dropped (not muted)", r.name),
                    ));
                }
                if s.events_refused > 0 {
                    found.push((
                        RULE_ACCOUNTING,
                        format!(
                            "{n} {}: {} event(s) refused at the queue bound",
                            r.name, s.events_refused
                        ),
                    ));
                }
            }
            let written = c.written();
            for r in &c.readers {
                if r.whole() + r.dropped() != written {
                    found.push((
                        RULE_ACCOUNTING,
                        format!(
                            "{n} {}: {written} message(s) written into the cable, but captured {} \
                             + dropped {}",
                            r.name,
                            r.whole(),
                            r.dropped()
                        ),
                    ));
                }
                if r.dropped() > 0 {
                    found.push((
                        RULE_NO_DROPS,
                        format!("{n} {}: {} message(s) dropped", r.name, r.dropped()),
                    ));
                }
                let strange = r
                    .captured
                    .iter()
                    .filter(|m| {
                        !(sent_set.contains(&m.bytes[..])
                            || (m.truncated && sent_or_cut(m, workload)))
                    })
                    .count();
                if strange > 0 {
                    found.push((
                        RULE_CORRUPTION,
                        format!(
                            "{n} {}: {strange} captured message(s) were never sent",
                            r.name
                        ),
                    ));
                }
                if r.sink.malformed_events > 0 {
                    found.push((
                        RULE_SINK_MALFORMED,
                        format!(
                            "{n} {}: {} malformed event(s)",
                            r.name, r.sink.malformed_events
                        ),
                    ));
                }
                if let Some(a) = &r.alloc_end
                    && (a.outstanding_events != 0 || a.outstanding_buffers != 0)
                {
                    found.push((
                        RULE_LEAKS,
                        format!(
                            "{n} {}: allocator {} events / {} buffers outstanding at close",
                            r.name, a.outstanding_events, a.outstanding_buffers
                        ),
                    ));
                }
                if !self.feedback && !r.echo && c.muted() > 0 {
                    // The guard muted part of the workload (counted above): what came out is
                    // what went in less the muted messages, a SysEx cut by the mute being a
                    // truncated prefix of the one sent. With one renderer that is checked in
                    // order; with several, the check above that every captured message was
                    // sent (or is such a prefix) is all that holds.
                    if k == 1 && !in_order_with_gaps(&r.captured, workload) {
                        found.push((
                            RULE_CORRUPTION,
                            format!(
                                "{n} {}: the capture is not the workload less what was muted",
                                r.name
                            ),
                        ));
                    }
                } else if !self.feedback && !r.echo {
                    // Byte-exact: in order with one renderer, as the K copies otherwise.
                    let exact = if k == 1 {
                        same_sequence(&r.captured, workload)
                    } else {
                        multiset(&r.captured) == want
                    };
                    if !exact {
                        found.push((
                            RULE_CORRUPTION,
                            format!(
                                "{n} {}: the capture is not the workload{} ({} message(s), {} \
                                 expected)",
                                r.name,
                                if k == 1 { " in order" } else { "'s copies" },
                                r.captured.len(),
                                workload.len() as u64 * k
                            ),
                        ));
                    }
                }
            }
            if let Some(first) = c.readers.first()
                && c.readers.iter().all(|r| r.dropped() == 0)
                && let Some(r) = c
                    .readers
                    .iter()
                    .find(|r| !same_sequence(&r.captured, &first.captured))
            {
                found.push((
                    RULE_CORRUPTION,
                    format!(
                        "{n}: {} and {} captured different sequences (every reader gets every \
                         message)",
                        first.name, r.name
                    ),
                ));
            }
            if let Some(cs) = &c.cable
                && cs.feedback.messages_muted != c.muted()
            {
                found.push((
                    RULE_ACCOUNTING,
                    format!(
                        "{n}: the feedback guard muted {} message(s), the renderers count {}",
                        cs.feedback.messages_muted,
                        c.muted()
                    ),
                ));
            }
            let trips = c.cable.map_or(0, |s| s.feedback.trips);
            if self.feedback && c.cable.is_some_and(|s| !s.muted) && !c.echo_gave_up {
                found.push((
                    RULE_FEEDBACK,
                    format!("{n}: the cable is not muted at the end of the echo loop"),
                ));
            }
            if self.feedback && (c.echo_gave_up || c.muted() == 0 || trips == 0) {
                found.push((
                    RULE_FEEDBACK,
                    format!(
                        "{n}: the feedback guard never muted the echo ({} echoes{})",
                        c.echoed,
                        if c.echo_gave_up {
                            ", the echo application gave up"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            if let Some(l) = &c.loopback
                && l.bytes_queued != 0
            {
                found.push((
                    RULE_LEAKS,
                    format!("{n}: {} byte(s) left in the loopback", l.bytes_queued),
                ));
            }
            for (what, a) in [("loopback", &c.loopback_alloc), ("port", &c.port_alloc_end)] {
                if let Some(a) = a
                    && (a.outstanding_events != 0 || a.outstanding_buffers != 0)
                {
                    found.push((
                        RULE_LEAKS,
                        format!(
                            "{n}: {what} allocator {} events / {} buffers outstanding at the end",
                            a.outstanding_events, a.outstanding_buffers
                        ),
                    ));
                }
            }
            if c.contract != ContractStats::default() {
                found.push((
                    RULE_ALLOCATOR_RULES,
                    format!(
                        "{n}: the miniport broke the allocator rules: {:?}",
                        c.contract
                    ),
                ));
            }
        }
        if let Some(Err(e)) = &self.unload {
            found.push((RULE_LEAKS, format!("emulator unload: {e}")));
        }
        self.failures.extend(found);
    }
}

impl fmt::Display for CablesReport {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = String::new();
        writeln!(f, "mxfsim report (cables)")?;
        writeln!(f, "  workload           {}", self.workload)?;
        writeln!(f, "  options            {}", self.options)?;
        writeln!(
            f,
            "  feedback limit     {}",
            match self.feedback_limit {
                None => "the driver's default (31250 msg/s)".to_string(),
                Some(0) => "0 (guard off)".to_string(),
                Some(n) => format!("{n} msg/s"),
            }
        )?;
        writeln!(
            f,
            "  played             {} units, {} bytes per renderer, {:.3} s emulated, {:.2} s wall",
            self.units,
            self.bytes_in_raw,
            self.emulated_100ns as f64 / 1e7,
            self.wall.as_secs_f64()
        )?;
        for c in &self.cables {
            writeln!(
                f,
                "cable \"{}\"  written {} msg into the cable, muted {} msg{}",
                c.name,
                c.written(),
                c.muted(),
                if self.feedback {
                    format!(", echoed {}", c.echoed)
                } else {
                    String::new()
                }
            )?;
            if let Some(s) = &c.cable {
                let g = &s.feedback;
                writeln!(
                    f,
                    "  feedback guard     trips {}, releases {}, muted {} msg ({} B), muted now {}; \
                     merge waits {}, sysex held {}, realtime passed {}",
                    g.trips,
                    g.releases,
                    g.messages_muted,
                    g.bytes_muted,
                    if s.muted { "yes" } else { "no" },
                    s.merge_waits,
                    s.sysex_held,
                    s.realtime_passed
                )?;
            }
            if let Some(l) = &c.loopback {
                writeln!(
                    f,
                    "  loopback           in {} B, out {} B, discarded {} B, high water {} B, \
                     writes {}, refused full {}",
                    l.bytes_in,
                    l.bytes_out,
                    l.bytes_discarded,
                    l.high_water,
                    l.writes,
                    l.writes_refused_full
                )?;
            }
            for r in &c.renderers {
                let s = r.stream.unwrap_or_default();
                let mut causes: Vec<String> = render_drops(&s)
                    .into_iter()
                    .chain([("muted", render_muted(&s))])
                    .map(|(name, d)| format!("{name} {}", d.messages + d.sysex_truncated))
                    .collect();
                causes.push(format!("open {}", u64::from(s.sysex_open)));
                writeln!(
                    f,
                    "  {:<24} sent {} msg ({} units), written {} msg ({} sysex, {} B), dropped {} \
                     ({}), blocked {} times",
                    r.name,
                    r.expected_messages,
                    r.source.units_sent,
                    r.written(),
                    s.sysex_written,
                    s.bytes_written,
                    r.dropped(),
                    causes.join(", "),
                    s.blocks
                )?;
            }
            for r in &c.readers {
                let causes: Vec<String> = r
                    .drops()
                    .into_iter()
                    .map(|(name, n)| format!("{name} {n}"))
                    .collect();
                writeln!(
                    f,
                    "  {:<24} captured {} msg ({} whole, {} B), dropped {} ({}), sink chains {}, \
                     malformed {}",
                    r.name,
                    r.captured.len(),
                    r.whole(),
                    r.sink.bytes,
                    r.dropped(),
                    causes.join(", "),
                    r.sink.chains,
                    r.sink.malformed_events
                )?;
            }
        }
        match &self.unload {
            Some(Ok(())) => writeln!(f, "emulator             unload clean")?,
            Some(Err(e)) => writeln!(f, "emulator             {e}")?,
            None => writeln!(f, "emulator             not unloaded")?,
        }
        if self.passed() {
            writeln!(f, "result               PASS")?;
        } else {
            let mut names: Vec<&str> = self.failures.iter().map(|(r, _)| r.name).collect();
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

    fn msg(bytes: &[u8]) -> TimedMessage {
        TimedMessage {
            bytes: bytes.to_vec(),
            time: 0,
            truncated: false,
        }
    }

    /// One cable, one renderer that wrote `workload`, one reader that captured `captured`.
    fn report(workload: &[TimedMessage], captured: Vec<TimedMessage>) -> CablesReport {
        let stream = RenderStats {
            messages_written: workload.len() as u64,
            ..RenderStats::default()
        };
        CablesReport {
            renderers: 1,
            cables: vec![CableReport {
                name: "MxfLoop 1".into(),
                renderers: vec![RendererReport {
                    name: "renderer 1".into(),
                    expected_messages: workload.len() as u64,
                    stream: Some(stream),
                    ..RendererReport::default()
                }],
                readers: vec![ReaderReport {
                    name: "reader 1".into(),
                    captured,
                    reader: Some(ReaderStats::default()),
                    stream: Some(CaptureStreamStats::default()),
                    ..ReaderReport::default()
                }],
                cable: Some(CableStats::default()),
                ..CableReport::default()
            }],
            unload: Some(Ok(())),
            ..CablesReport::default()
        }
    }

    #[test]
    fn a_reader_with_every_message_passes() {
        let w = [msg(&[0x90, 1, 2]), msg(&[0xF0, 1, 0xF7])];
        let mut r = report(&w, w.to_vec());
        r.verdict(&w);
        assert!(r.passed(), "{r}");
    }

    #[test]
    fn a_reader_missing_a_message_fails_accounting_and_corruption() {
        let w = [msg(&[0x90, 1, 2]), msg(&[0x90, 3, 4])];
        let mut r = report(&w, vec![w[0].clone()]);
        r.verdict(&w);
        assert!(r.broke(RULE_ACCOUNTING) && r.broke(RULE_CORRUPTION), "{r}");
    }

    #[test]
    fn a_reader_out_of_order_with_one_renderer_fails_corruption_only() {
        let w = [msg(&[0x90, 1, 2]), msg(&[0x90, 3, 4])];
        let mut r = report(&w, vec![w[1].clone(), w[0].clone()]);
        r.verdict(&w);
        assert!(r.broke(RULE_CORRUPTION) && !r.broke(RULE_ACCOUNTING), "{r}");
    }

    #[test]
    fn a_drop_for_a_reader_is_counted_but_still_a_drop() {
        let w = [msg(&[0x90, 1, 2]), msg(&[0x90, 3, 4])];
        let mut r = report(&w, vec![w[0].clone()]);
        r.cables[0].readers[0].reader = Some(ReaderStats {
            messages_dropped: 1,
            ..ReaderStats::default()
        });
        r.verdict(&w);
        assert!(!r.broke(RULE_ACCOUNTING), "{r}");
        assert!(r.broke(RULE_NO_DROPS), "{r}");
    }

    #[test]
    fn a_renderer_whose_counts_do_not_balance_fails_accounting() {
        let w = [msg(&[0x90, 1, 2]), msg(&[0x90, 3, 4])];
        let mut r = report(&w, w.to_vec());
        r.cables[0].renderers[0].expected_messages = 3;
        r.verdict(&w);
        assert!(r.broke(RULE_ACCOUNTING), "{r}");
    }

    #[test]
    fn a_feedback_run_the_guard_never_muted_fails_the_feedback_rule() {
        let w = [msg(&[0x90, 1, 2])];
        let mut r = report(&w, w.to_vec());
        r.feedback = true;
        r.cables[0].echo_gave_up = true;
        r.cables[0].echoed = 1000;
        r.verdict(&w);
        assert!(r.broke(RULE_FEEDBACK), "{r}");
        assert!(r.to_string().contains("never muted"), "{r}");
    }

    #[test]
    fn muted_messages_the_renderers_do_not_count_fail_accounting() {
        let w = [msg(&[0x90, 1, 2])];
        let mut r = report(&w, w.to_vec());
        r.cables[0].cable = Some(CableStats {
            feedback: mxf_core::feedback::FeedbackStats {
                trips: 1,
                messages_muted: 5,
                ..Default::default()
            },
            muted: true,
            ..CableStats::default()
        });
        r.verdict(&w);
        assert!(r.broke(RULE_ACCOUNTING), "{r}");
    }
}
