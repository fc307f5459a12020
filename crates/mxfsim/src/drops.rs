//! [`Drops`]: the drop counters of every stage of a run, and what they say is expected of
//! the capture. A leaf: the run fills them, the report judges by them.

use mxf_core::render::DropCount;

/// Drop counters of every stage, in whole messages where the stage can tell.
#[derive(Clone, Copy, Default, Debug)]
pub struct Drops {
    /// Units the port could not turn into events (port allocator failures): never handed to
    /// the miniport, so not part of what is expected.
    pub port_units: u64,
    /// Their raw bytes.
    pub port_bytes: u64,
    /// Render stream: nobody listening.
    pub render_no_listener: DropCount,
    /// Render stream: loopback allocation failed with the loopback empty.
    pub render_no_memory: DropCount,
    /// Render stream: a write larger than the loopback could ever hold.
    pub render_too_large: DropCount,
    /// Render stream: refused while the cable's feedback guard muted it.
    pub render_muted: DropCount,
    /// Render stream: flushed at STOP / destruction.
    pub render_stop: DropCount,
    /// Render stream: top-level events refused at its queue bound (not countable in
    /// messages: a failure when nonzero).
    pub render_events_refused: u64,
    /// Capture packager: non-SysEx messages dropped (no memory).
    pub capture_messages: u64,
    /// Capture packager: SysEx dropped before any of it was delivered.
    pub capture_sysex_whole: u64,
    /// Capture packager: SysEx dropped after part of it was delivered (seen truncated).
    pub capture_sysex_truncated: u64,
    /// Capture packager: input bytes dropped (no memory).
    pub capture_bytes: u64,
    /// Render stream: the application's cut SysEx written whole as cut (see
    /// `RenderStats::sysex_cut_written`).
    pub render_sysex_cut_written: u64,
    /// Render stream: a SysEx in progress with pieces out and nothing given up.
    pub render_sysex_open: bool,
    /// Capture parser: SysEx that arrived cut on the wire (no `F7` before the next status
    /// byte), whatever the packager then did with them, or are still open (cut at the stop).
    pub capture_sysex_cut_arrived: u64,
    /// Capture packager: SysEx delivered cut as they arrived (cut on the wire, or open at the
    /// stop, which delivers them cut).
    pub capture_sysex_delivered_cut: u64,
    /// Capture stream: events dropped for want of a sink (a failure when nonzero).
    pub capture_no_sink_events: u64,
    /// Loopback bytes discarded (a failure when nonzero: the loopback only takes writes
    /// while the capture stream runs, and drains before it stops).
    pub loopback_discarded: u64,
    /// Capture-side parser bytes that were not messages (stray, truncated): a failure when
    /// nonzero, since the render side writes only normalised messages.
    pub capture_malformed_bytes: u64,
    /// Units the port never handed to the miniport because the run ended first (discarded
    /// at the render pin's stop): not part of what is expected; the run has failed already.
    pub port_units_discarded: u64,
    /// The input ends inside a SysEx (0 or 1): the application's own cut, by the end of the
    /// input. With data bytes, the render side writes what it has and the SysEx arrives cut
    /// (counted as cut by the application); an `F0` alone is never written (its `F0` goes
    /// with the first piece), and the render stream gives it up at its stop, in
    /// `render_stop` (see [`Self::input_sysex_cut_at_end_f0_only`]).
    pub input_sysex_cut_at_end: u64,
    /// Of [`Self::input_sysex_cut_at_end`], the one that is an `F0` with no data byte after
    /// it: one message of one byte in `render_stop`, caused by the input, not a drop.
    pub input_sysex_cut_at_end_f0_only: u64,
}

impl Drops {
    /// The render stream's drops, all causes.
    pub fn render(&self) -> DropCount {
        self.render_no_listener
            .plus(self.render_no_memory)
            .plus(self.render_too_large)
            .plus(self.render_muted)
            .plus(self.render_stop)
    }

    /// Messages the counters say are missing whole.
    pub fn expected_missing(&self) -> u64 {
        self.render().messages + self.capture_messages + self.capture_sysex_whole
    }

    /// SysEx the render side sent cut (or has open), by its counters: given up after
    /// pieces got out (any cause), the application's own cut ones, the one in progress.
    /// Stage one of the truncation accounting: the capture side must receive exactly these
    /// cut ([`Self::capture_sysex_cut_arrived`]).
    pub fn render_sysex_cut(&self) -> u64 {
        self.render().sysex_truncated
            + self.render_sysex_cut_written
            + u64::from(self.render_sysex_open)
    }

    /// SysEx the capture side delivered truncated, by its counters: cut as they arrived,
    /// or cut by the packager after part of them was delivered. Stage two: every SysEx
    /// captured truncated is one of these (a partial one, or one matching a SysEx the
    /// application sent cut).
    ///
    /// The stages are counted apart because a SysEx can be hit by both: cut by the render
    /// side, then dropped whole or cut shorter by the capture side, it is one message lost
    /// or truncated, not one of each (a sum of the two sides' counters would count it twice).
    pub fn expected_truncated_captured(&self) -> u64 {
        self.capture_sysex_delivered_cut + self.capture_sysex_truncated
    }

    /// The render stream's drops at its stop, less the input's `F0` alone cut by the end of
    /// the input (one message, one byte each).
    fn render_stop_not_input_cut(&self) -> DropCount {
        let n = self.input_sysex_cut_at_end_f0_only;
        DropCount {
            messages: self.render_stop.messages.saturating_sub(n),
            sysex_truncated: self.render_stop.sysex_truncated,
            bytes: self.render_stop.bytes.saturating_sub(n),
        }
    }

    /// Whether anything at all was dropped after the port, for a cause other than the input
    /// itself (an `F0` alone at its end).
    pub fn any(&self) -> bool {
        let render = self
            .render_no_listener
            .plus(self.render_no_memory)
            .plus(self.render_too_large)
            .plus(self.render_muted)
            .plus(self.render_stop_not_input_cut());
        render.messages
            + self.capture_messages
            + self.capture_sysex_whole
            + render.sysex_truncated
            + self.capture_sysex_truncated
            > 0
            || render.bytes + self.capture_bytes > 0
            || self.render_events_refused + self.capture_no_sink_events + self.loopback_discarded
                > 0
    }
}
