//! The round-trip run: short messages then SysEx, each sent and awaited in turn (ping-pong,
//! so every message yields one latency sample), checked byte-exact.

use crate::checker::{CheckStats, Checker, Completion, MsgId};
use crate::patterns::{XorShift64, short_messages, sysex_message};
use crate::stats::{LatencySummary, Throughput};
use crate::transport::{Event, Transport, TransportError};
use std::time::Duration;

/// What to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunConfig {
    /// SysEx payload lengths, in send order.
    pub sysex_sizes: Vec<usize>,
    /// Number of short messages.
    pub short_count: usize,
    /// Seed for the payloads.
    pub seed: u64,
    /// Give up on a message after this long without any input.
    pub timeout: Duration,
    /// Quiet time waited for stray input after the last message.
    pub drain: Duration,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            sysex_sizes: crate::patterns::DEFAULT_SYSEX_SIZES.to_vec(),
            short_count: 1000,
            seed: 1,
            timeout: Duration::from_millis(2000),
            drain: Duration::from_millis(200),
        }
    }
}

/// Outcome for one SysEx size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeResult {
    /// Payload length (bytes between `F0` and `F7`).
    pub payload_len: usize,
    /// Came back byte-exact.
    pub ok: bool,
    /// Send start to arrival of the last byte, µs (`None` if it never came back).
    pub latency_us: Option<u64>,
}

/// Everything a run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct RunReport {
    /// The transport's description.
    pub transport: String,
    /// The configuration used.
    pub config: RunConfig,
    /// Checker counters.
    pub stats: CheckStats,
    /// Per-size SysEx outcome, in send order.
    pub sysex: Vec<SizeResult>,
    /// Latency of SysEx messages that came back intact.
    pub sysex_latency: Option<LatencySummary>,
    /// Latency of short messages that came back intact.
    pub short_latency: Option<LatencySummary>,
    /// Intact SysEx bytes over the SysEx phase.
    pub sysex_throughput: Throughput,
    /// Intact short-message bytes over the short phase.
    pub short_throughput: Throughput,
}

impl RunReport {
    /// True when everything came back byte-exact.
    pub fn passed(&self) -> bool {
        self.stats.passed()
    }
}

/// Feeds one event into the checker.
fn feed(checker: &mut Checker, ev: Event, out: &mut Vec<Completion>) {
    match ev {
        Event::Short(w, t) => checker.on_short(w, t, out),
        Event::Long(v, t) => checker.on_long(&v, t, out),
        Event::LongError(v, t) => checker.on_long_error(&v, t, out),
    }
}

/// Receives until nothing sent is outstanding, or until `timeout` passes without input.
fn settle<T: Transport>(
    t: &mut T,
    checker: &mut Checker,
    timeout: Duration,
    out: &mut Vec<Completion>,
) -> Result<(), TransportError> {
    while checker.outstanding() > 0 {
        match t.recv(timeout)? {
            Some(ev) => feed(checker, ev, out),
            None => checker.expire(t.now_us(), out),
        }
    }
    Ok(())
}

struct Phase {
    start_us: u64,
    end_us: u64,
    bytes: u64,
    latencies: Vec<u64>,
}

impl Phase {
    fn new(start_us: u64) -> Self {
        Self {
            start_us,
            end_us: start_us,
            bytes: 0,
            latencies: Vec::new(),
        }
    }

    fn absorb(&mut self, done: &[Completion]) {
        for c in done {
            self.end_us = self.end_us.max(c.recv_us);
            if c.ok {
                self.bytes += c.len as u64;
                self.latencies.push(c.recv_us.saturating_sub(c.sent_us));
            }
        }
    }

    fn throughput(&self) -> Throughput {
        Throughput {
            bytes: self.bytes,
            elapsed_us: self.end_us.saturating_sub(self.start_us),
        }
    }
}

/// Runs the whole test over `t`.
pub fn run<T: Transport>(t: &mut T, cfg: &RunConfig) -> Result<RunReport, TransportError> {
    let mut rng = XorShift64::new(cfg.seed);
    let mut checker = Checker::new();
    let mut done = Vec::new();

    let mut shorts = Phase::new(t.now_us());
    for msg in short_messages(cfg.short_count, &mut rng) {
        let sent = t.now_us();
        checker.expect_short(msg, sent);
        t.send_short(msg.packed())?;
        settle(t, &mut checker, cfg.timeout, &mut done)?;
        shorts.absorb(&done);
        done.clear();
    }

    let mut sysex = Phase::new(t.now_us());
    let mut ids: Vec<(MsgId, usize)> = Vec::with_capacity(cfg.sysex_sizes.len());
    let mut per_size: Vec<SizeResult> = Vec::with_capacity(cfg.sysex_sizes.len());
    for &len in &cfg.sysex_sizes {
        let msg = sysex_message(len, &mut rng);
        let sent = t.now_us();
        // The checker keeps the only copy; the transport sends from it before it is moved.
        t.send_long(&msg)?;
        let id = checker.expect_sysex(msg, sent);
        ids.push((id, per_size.len()));
        per_size.push(SizeResult {
            payload_len: len,
            ok: false,
            latency_us: None,
        });
        settle(t, &mut checker, cfg.timeout, &mut done)?;
        sysex.absorb(&done);
        record_sizes(&ids, &mut per_size, &done);
        done.clear();
    }

    // Anything arriving now was never sent (or came back very late): let the checker see it.
    while let Some(ev) = t.recv(cfg.drain)? {
        feed(&mut checker, ev, &mut done);
    }
    sysex.absorb(&done);
    record_sizes(&ids, &mut per_size, &done);

    let stats = checker.finish(t.now_us());
    Ok(RunReport {
        transport: t.describe(),
        config: cfg.clone(),
        stats,
        sysex: per_size,
        sysex_latency: LatencySummary::from_samples(&mut sysex.latencies),
        short_latency: LatencySummary::from_samples(&mut shorts.latencies),
        sysex_throughput: sysex.throughput(),
        short_throughput: shorts.throughput(),
    })
}

fn record_sizes(ids: &[(MsgId, usize)], per_size: &mut [SizeResult], done: &[Completion]) {
    for c in done {
        if let Some(&(_, i)) = ids.iter().find(|(id, _)| *id == c.id)
            && let Some(r) = per_size.get_mut(i)
        {
            r.ok = c.ok;
            r.latency_us = Some(c.recv_us.saturating_sub(c.sent_us));
        }
    }
}
