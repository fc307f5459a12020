//! Closing the port the way PortCls does when the pins and the filter close ([`Port::close`]),
//! and the same on drop.

use super::*;

impl Port {
    /// Tears everything down the way PortCls does when the pins and the filter close and
    /// the port is released. `PASSIVE_LEVEL`. Fails with the first failed step, or (step
    /// `"capture sink"`) if the capture sink received malformed events
    /// ([`crate::SinkStats::malformed_events`]): the miniport broke the port's contract.
    pub fn close(mut self) -> Result<CloseReport, PortError> {
        self.teardown()
    }

    pub(super) fn teardown(&mut self) -> Result<CloseReport, PortError> {
        self.closed = true;
        let mut first_err: Option<PortError> = None;
        let mut keep = |r: Result<(), PortError>| {
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        };
        // Every stall ends first: what the stalled sinks hold is delivered before the
        // streams stop and drain into them.
        for c in &self.captures {
            if let Some(ctl) = &c.control {
                ctl.set_stalled(false);
            }
        }
        // Render first: the sequencer stops before the streams go.
        keep(self.stop_render());
        let discarded = self.render_discarded;
        for r in std::mem::take(&mut self.renders) {
            if let Some(l) = lock(&self.shared.render).lane(r.handle) {
                l.stream = None;
            }
            self.release_open(r.open);
        }
        self.default_render = [None, None];
        let open: Vec<CaptureHandle> = self
            .captures
            .iter()
            .filter(|c| c.open.is_some())
            .map(|c| c.handle)
            .collect();
        for h in open {
            keep(self.close_capture_instance(h));
        }
        lock(&self.shared.capture_streams).clear();
        // No DPC may run past this point.
        drop(lock(&self.shared.dpc).take());
        drop(std::mem::take(&mut *lock(&self.shared.pending)));
        if let Some(g) = self.group.take() {
            self.remove_member(&g);
            drop(g);
        }
        for g in std::mem::take(&mut self.joined) {
            self.remove_member(&g);
        }
        drop(std::mem::take(&mut *lock(&self.shared.registered)));
        self.tracker.call("IMiniportDMus::Release", self.irql());
        drop(self.miniport.take());
        drop(self.port.take());
        drop(self.service_sink.take());
        drop(self.clock.take());
        drop(self.capture_sink.take());
        let mut sink_stats = {
            let mut log = lock(&self.capture_log);
            log.assembler.finish();
            log.stats
        };
        for c in &self.captures {
            if Arc::ptr_eq(&c.log, &self.capture_log) {
                continue;
            }
            let mut log = lock(&c.log);
            log.assembler.finish();
            sink_stats.malformed_events += log.stats.malformed_events;
            sink_stats.not_whole_message_events += log.stats.not_whole_message_events;
        }
        if sink_stats.malformed_events > 0 && first_err.is_none() {
            first_err = Some(err(
                "capture sink",
                mxf_abi::STATUS_UNSUCCESSFUL,
                format!(
                    "{} malformed capture event(s), {} of them flagged COMPLETE without \
                     being exactly one whole message",
                    sink_stats.malformed_events, sink_stats.not_whole_message_events
                ),
            ));
        }
        let contract = self.shared.contract.stats();
        if contract != ContractStats::default() && first_err.is_none() {
            first_err = Some(err(
                "port allocator",
                mxf_abi::STATUS_UNSUCCESSFUL,
                format!(
                    "the miniport broke the allocator rules: {} event(s) returned with \
                     bReserved/cbStruct written, {} PutBuffer call(s), {} package(s) returned \
                     with their sub-chain attached",
                    contract.reserved_writes, contract.put_buffer_calls, contract.attached_packages
                ),
            ));
        }
        // Each capture instance's own allocator: its counters, and the references others
        // still hold (the port holds one on the allocator and one on the guard; the guard
        // one on the allocator).
        let mut capture_allocators = Vec::new();
        let mut instance_refs_left = 0;
        for c in &mut self.captures {
            // The sink's core holds the guard.
            drop(c.control.take());
            if let Some((own, guard)) = c.alloc.take() {
                if let Some(a) = Allocator::from_com(&own) {
                    capture_allocators.push((c.handle, a.stats()));
                    instance_refs_left += a.ref_count().saturating_sub(2);
                }
                instance_refs_left += guard_refs(&guard).saturating_sub(1);
            }
        }
        let allocator = self.allocator_stats();
        // The port holds one reference on the guard, and the guard and the port one each on
        // the allocator; anything above that is someone else's.
        let refs = Allocator::from_com(&self.shared.alloc).map_or(0, |a| a.ref_count());
        let guard_refs = guard_refs(&self.shared.client_alloc);
        let report = CloseReport {
            allocator,
            allocator_refs_left: refs.saturating_sub(2)
                + guard_refs.saturating_sub(1)
                + instance_refs_left,
            capture_allocators,
            contract,
            live_objects: self
                .tracker
                .live()
                .into_iter()
                .filter(|&(_, n)| n != 0)
                .collect(),
            render_discarded: discarded,
        };
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        if !self.closed {
            let _ = self.teardown();
        }
    }
}
