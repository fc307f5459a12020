//! What the port's DPCs do (`impl Shared`): pump each render instance's units into its
//! stream at their time.

use super::*;
use mxf_core::event_list::EventList;

impl Shared {
    /// The sequencer: every render instance in turn, then re-armed for the next due unit.
    pub(super) fn pump_render(&self) {
        let prefetch = self.prefetch.load(Relaxed) as i64;
        let n = lock(&self.render).lanes.len();
        for i in 0..n {
            self.pump_lane(i, prefetch);
        }
        self.arm_sequencer(prefetch);
    }

    /// Sends the due units of lane `i` to its render stream, one chain per presentation
    /// time.
    fn pump_lane(&self, i: usize, prefetch: i64) {
        let now = self.emu.now_100ns();
        loop {
            let (stream, mut chain) = {
                let mut q = lock(&self.render);
                let PendingUnits { lanes, dropped, .. } = &mut *q;
                let Some(lane) = lanes.get_mut(i) else {
                    return;
                };
                // The stream is live while it is in its lane: it leaves the lane before the
                // port releases it (at PASSIVE_LEVEL, never inside this DPC).
                let Some(stream) = lane.stream.as_ref().map(|s| s.as_raw()) else {
                    return;
                };
                let Some(t0) = lane.units.front().map(|(_, u)| u.time) else {
                    return;
                };
                if t0.saturating_sub(prefetch) > now {
                    return;
                }
                let mut batch = Vec::new();
                while lane.units.front().is_some_and(|(_, u)| u.time == t0) {
                    batch.extend(lane.units.pop_front());
                }
                let mut chain = EventList::new();
                let mut stats = lock(&self.render_stats);
                for (seq, unit) in &batch {
                    let packaged = match self.packaging {
                        Packaging::Flat => false,
                        Packaging::Packages => true,
                        Packaging::Mixed => self.unit_count.fetch_add(1, Relaxed) % 2 == 1,
                    };
                    let mut built = RenderSourceStats::default();
                    let r = build_unit(
                        &self.client_alloc,
                        self.buffer_size,
                        unit,
                        packaged,
                        &mut built,
                    );
                    let bytes = unit.bytes.len() as u64;
                    match r {
                        Ok(mut b) => {
                            chain.append(&mut b);
                            built.units_sent = 1;
                            built.bytes_sent = bytes;
                        }
                        Err(mut partial) => {
                            // SAFETY: events (and buffers) just taken from the port allocator.
                            unsafe { self.client_alloc.put_message(partial.take_chain()) };
                            built.units_dropped_no_memory = 1;
                            built.bytes_dropped = bytes;
                            dropped.push(*seq);
                        }
                    }
                    add_built(&mut stats, &built);
                    add_built(&mut lane.stats, &built);
                }
                if chain.is_empty() {
                    continue;
                }
                let late = (now.saturating_sub(t0).max(0) / 10) as u64;
                for s in [&mut *stats, &mut lane.stats] {
                    s.chains += 1;
                    s.max_send_lateness_us = s.max_send_lateness_us.max(late);
                }
                (stream, chain)
            };
            self.tracker
                .call("render IMXF::PutMessage", self.emu.current_irql());
            // SAFETY: `stream` is a live render stream (see above): its header holds the
            // vtable.
            let vtbl = unsafe { (*stream).vtbl };
            // SAFETY: the vtable of the live IMXF, static for the object's life.
            let put_message = unsafe { (*vtbl).put_message };
            // SAFETY: the stream's own method on the live stream; the chain is ours to give.
            let st = unsafe { put_message(stream, chain.take_chain()) };
            if !nt_success(st) {
                lock(&self.render_stats).put_errors += 1;
                if let Some(l) = lock(&self.render).lanes.get_mut(i) {
                    l.stats.put_errors += 1;
                }
            }
        }
    }

    pub(super) fn arm_sequencer(&self, prefetch: i64) {
        let next = lock(&self.render)
            .lanes
            .iter()
            .filter(|l| l.stream.is_some())
            .filter_map(|l| l.units.front().map(|(_, u)| u.time))
            .min();
        if let (Some(t), Some(timer)) = (next, lock(&self.sequencer).as_ref()) {
            timer.set(t.saturating_sub(prefetch));
        }
    }
}

/// Adds the counters of one unit's building to `to`.
fn add_built(to: &mut RenderSourceStats, b: &RenderSourceStats) {
    to.units_sent += b.units_sent;
    to.bytes_sent += b.bytes_sent;
    to.units_dropped_no_memory += b.units_dropped_no_memory;
    to.bytes_dropped += b.bytes_dropped;
    to.events += b.events;
    to.buffer_events += b.buffer_events;
    to.packages += b.packages;
}
