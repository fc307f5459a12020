//! What the port's DPCs do (`impl Shared`): service the registered groups, pump render
//! units into the render stream at their time, record what the capture sink receives.

use super::*;

impl Shared {
    pub(super) fn pump_render(&self) {
        let prefetch = self.prefetch.load(Relaxed) as i64;
        for client in Client::ALL {
            let stream = lock(&self.render_streams)[client.index()]
                .as_ref()
                .map(|c| c.as_raw());
            if let Some(stream) = stream {
                self.pump_client(client.index(), stream, prefetch);
            }
        }
        self.arm_sequencer(prefetch);
    }

    /// Sends the due units of client `c` to its render stream `stream`.
    pub(super) fn pump_client(&self, c: usize, stream: *mut IMxf, prefetch: i64) {
        let now = self.emu.now_100ns();
        loop {
            // One chain per presentation time: the units due at the same moment.
            let batch: Vec<(u64, RenderUnit)> = {
                let mut q = lock(&self.render);
                let Some(t0) = q.units[c].front().map(|(_, u)| u.time) else {
                    break;
                };
                if t0.saturating_sub(prefetch) > now {
                    break;
                }
                let mut b = Vec::new();
                while q.units[c].front().is_some_and(|(_, u)| u.time == t0) {
                    b.extend(q.units[c].pop_front());
                }
                b
            };
            let mut chain = Building::new();
            let mut stats = lock(&self.render_stats);
            for (seq, unit) in &batch {
                let packaged = match self.packaging {
                    Packaging::Flat => false,
                    Packaging::Packages => true,
                    Packaging::Mixed => self.unit_count.fetch_add(1, Relaxed) % 2 == 1,
                };
                match build_unit(
                    &self.client_alloc,
                    self.buffer_size,
                    unit,
                    packaged,
                    &mut stats,
                ) {
                    Ok(b) => {
                        chain.append(b);
                        stats.units_sent += 1;
                        stats.bytes_sent += unit.bytes.len() as u64;
                    }
                    Err(partial) => {
                        // SAFETY: events (and buffers) just taken from the port allocator.
                        unsafe { self.client_alloc.put_message(partial.into_raw()) };
                        stats.units_dropped_no_memory += 1;
                        stats.bytes_dropped += unit.bytes.len() as u64;
                        lock(&self.render).dropped.push(*seq);
                    }
                }
            }
            if chain.is_empty() {
                continue;
            }
            stats.chains += 1;
            let late = batch
                .first()
                .map(|(_, u)| now.saturating_sub(u.time).max(0) / 10)
                .unwrap_or(0) as u64;
            stats.max_send_lateness_us = stats.max_send_lateness_us.max(late);
            drop(stats);
            self.tracker
                .call("render IMXF::PutMessage", self.emu.current_irql());
            // SAFETY: `stream` is the live render stream (released only at close, at
            // PASSIVE_LEVEL, after the sequencer timer is gone): its header holds the vtable.
            let vtbl = unsafe { (*stream).vtbl };
            // SAFETY: the vtable of the live IMXF, static for the object's life.
            let put_message = unsafe { (*vtbl).put_message };
            // SAFETY: the stream's own method on the live stream; the chain is ours to give.
            let st = unsafe { put_message(stream, chain.into_raw()) };
            if !nt_success(st) {
                lock(&self.render_stats).put_errors += 1;
            }
        }
    }

    pub(super) fn arm_sequencer(&self, prefetch: i64) {
        let next = {
            let q = lock(&self.render);
            let streams = lock(&self.render_streams);
            Client::ALL
                .iter()
                .filter(|c| streams[c.index()].is_some())
                .filter_map(|c| q.units[c.index()].front().map(|(_, u)| u.time))
                .min()
        };
        if let (Some(t), Some(timer)) = (next, lock(&self.sequencer).as_ref()) {
            timer.set(t.saturating_sub(prefetch));
        }
    }
}
