//! Pin instantiation as KS does it (`impl Port`): data-range intersection, `NewStream`, the
//! Synth property handshake of a DirectMusic client, the KS state steps, and queueing render
//! units.

use super::*;

impl Port {
    /// KS pin instantiation: data-range intersection on the pin for `client`'s range, the
    /// pin's instance limit (`STATUS_UNSUCCESSFUL` beyond it, `NewStream` not called), then
    /// `NewStream` with `alloc`. The instance counts from here until [`Port::release_open`].
    pub(super) fn open(
        &mut self,
        pin: u32,
        kind: DmusStreamType,
        client: Client,
        alloc: &ComPtr<IAllocatorMxf>,
    ) -> Result<OpenStream, PortError> {
        let format = Box::new(self.intersect(pin, client)?);
        let limit = self.info.instance_limit(pin);
        if self.pin_instances(pin) >= limit {
            return Err(err(
                "KS pin create",
                STATUS_UNSUCCESSFUL,
                format!("pin {pin} has its {limit} instance(s) open"),
            ));
        }
        let (v, mp) = self.mp_vtbl();
        let mut stream: *mut IMxf = ptr::null_mut();
        let mut group: *mut IServiceGroup = ptr::null_mut();
        let mut prefetch: u64 = 0;
        let alloc = alloc.as_raw();
        let clock = self
            .clock
            .as_ref()
            .map(|c| c.as_raw())
            .unwrap_or(ptr::null_mut());
        let fmt_ptr = ptr::from_ref::<KsDataFormat>(&format).cast_mut();
        self.tracker.call("IMiniportDMus::NewStream", self.irql());
        // SAFETY: live miniport; every pointer argument is valid for the call (the format
        // lives in `format`, kept with the stream), the out parameters are ours.
        let st = unsafe {
            (v.new_stream)(
                mp,
                &mut stream,
                ptr::null_mut(),
                PoolType::NON_PAGED_NX,
                pin,
                kind,
                fmt_ptr,
                &mut group,
                alloc,
                clock,
                &mut prefetch,
            )
        };
        // SAFETY: a non-null group from NewStream carries one reference for us.
        let group = NonNull::new(group).map(|g| unsafe { ComPtr::from_raw(g) });
        // SAFETY: a non-null stream from NewStream carries one reference for us.
        let stream = NonNull::new(stream).map(|s| unsafe { ComPtr::from_raw(s) });
        check("IMiniportDMus::NewStream", st)?;
        let stream = stream.ok_or(err(
            "IMiniportDMus::NewStream",
            mxf_abi::STATUS_UNSUCCESSFUL,
            "success without a stream",
        ))?;
        if kind == DmusStreamType::MIDI_RENDER {
            self.shared.prefetch.fetch_max(prefetch, Relaxed);
        }
        let group = match group {
            Some(g) if self.group.as_ref().map(|x| x.as_raw()) != Some(g.as_raw()) => {
                self.add_member(&g)?;
                Some(g)
            }
            // The stream's group is the miniport's (already a member), or none.
            other => other,
        };
        if self.pin_open.len() <= pin as usize {
            self.pin_open.resize(pin as usize + 1, 0);
        }
        self.pin_open[pin as usize] += 1;
        Ok(OpenStream {
            stream,
            group,
            pin,
            _format: format,
        })
    }

    /// Lets an instance go (as a KS pin close does): out of its service group, released,
    /// counted down on its pin.
    pub(super) fn release_open(&mut self, o: OpenStream) {
        if let Some(g) = &o.group {
            self.remove_member(g);
        }
        if let Some(n) = self.pin_open.get_mut(o.pin as usize) {
            *n = n.saturating_sub(1);
        }
        drop(o);
    }

    fn new_handle(&mut self) -> usize {
        self.next_handle += 1;
        self.next_handle
    }

    /// `KSPROPERTY_PIN_DATAINTERSECTION` as PortCls handles it: the miniport's handler for
    /// each range of the pin in turn until one answers, each time a size query first, then
    /// (checked) a buffer one byte short, then the real call.
    pub(super) fn intersect(&self, pin: u32, who: Client) -> Result<KsDataFormat, PortError> {
        let ranges = self
            .info
            .ranges
            .get(pin as usize)
            .cloned()
            .unwrap_or_default();
        let (v, mp) = self.mp_vtbl();
        let mut client = client_range(who);
        let client_ptr = ptr::from_mut(&mut client).cast::<KsDataRange>();
        for r in ranges {
            let mut len: u32 = 0;
            self.tracker
                .call("IMiniport::DataRangeIntersection", self.irql());
            // Size query first, as KS does for a zero-length output buffer.
            // SAFETY: live miniport; the ranges are the descriptor's own; `len` is ours.
            let st = unsafe {
                (v.base.data_range_intersection)(
                    mp.cast(),
                    pin,
                    client_ptr,
                    r.cast_mut(),
                    0,
                    ptr::null_mut(),
                    &mut len,
                )
            };
            if st == STATUS_NOT_IMPLEMENTED {
                // PortCls's default intersection: the matching range itself as the format.
                // SAFETY: a range of the descriptor, readable (validated).
                let mut f = unsafe { *r };
                f.format_size = std::mem::size_of::<KsDataFormat>() as u32;
                return Ok(f);
            }
            if st != STATUS_BUFFER_OVERFLOW {
                continue;
            }
            let want = std::mem::size_of::<KsDataFormat>() as u32;
            if len < want {
                return Err(err(
                    "DataRangeIntersection",
                    mxf_abi::STATUS_UNSUCCESSFUL,
                    format!("size query answered {len} bytes"),
                ));
            }
            let mut short = vec![0u8; len as usize - 1];
            let mut got: u32 = 0;
            // SAFETY: as above; `short` has `len - 1` writable bytes.
            let st = unsafe {
                (v.base.data_range_intersection)(
                    mp.cast(),
                    pin,
                    client_ptr,
                    r.cast_mut(),
                    len - 1,
                    short.as_mut_ptr().cast(),
                    &mut got,
                )
            };
            if st != STATUS_BUFFER_TOO_SMALL {
                return Err(err(
                    "DataRangeIntersection",
                    if nt_success(st) {
                        mxf_abi::STATUS_UNSUCCESSFUL
                    } else {
                        st
                    },
                    format!("a {}-byte buffer was answered {st:#x}", len - 1),
                ));
            }
            let mut out = vec![0u8; len as usize];
            // SAFETY: as above; `out` has `len` writable bytes.
            let st = unsafe {
                (v.base.data_range_intersection)(
                    mp.cast(),
                    pin,
                    client_ptr,
                    r.cast_mut(),
                    len,
                    out.as_mut_ptr().cast(),
                    &mut got,
                )
            };
            if st != STATUS_SUCCESS || got < want || got > len {
                return Err(err(
                    "DataRangeIntersection",
                    st,
                    format!("returned {got} bytes"),
                ));
            }
            // SAFETY: `out` holds at least 64 initialised bytes; read unaligned.
            let f: KsDataFormat = unsafe { ptr::read_unaligned(out.as_ptr().cast()) };
            if f.major_format != client.data_range.major_format
                || f.sub_format != client.data_range.sub_format
            {
                return Err(err(
                    "DataRangeIntersection",
                    mxf_abi::STATUS_UNSUCCESSFUL,
                    "resultant format is not the client's",
                ));
            }
            return Ok(f);
        }
        Err(err(
            "DataRangeIntersection",
            mxf_abi::STATUS_NO_MATCH,
            format!("no range of pin {pin} intersects {who:?}"),
        ))
    }

    /// A node property request on the filter handle (`on` `None`) or on the pin handle of
    /// `on`'s stream (`(client, capture)`), dispatched as PortCls does
    /// ([`crate::property`]). `PASSIVE_LEVEL`. `Err`: the miniport broke the contract.
    pub fn node_property(
        &self,
        on: Option<(Client, bool)>,
        req: NodeRequest<'_>,
    ) -> Result<NodeAnswer, PortError> {
        let minor = match on {
            None => None,
            Some((client, false)) => self.render_stream_of(client),
            Some((_, true)) => self.capture_stream(),
        };
        self.node_property_on(minor, req)
    }

    /// A node property request on the filter handle (`minor` `None`) or on the pin handle of
    /// the open stream `minor`.
    fn node_property_on(
        &self,
        minor: Option<&ComPtr<IMxf>>,
        req: NodeRequest<'_>,
    ) -> Result<NodeAnswer, PortError> {
        let minor = minor.map_or(ptr::null_mut(), |s| s.as_raw().cast::<IUnknown>());
        let major = self
            .miniport
            .as_ref()
            .map_or(ptr::null_mut(), |m| m.as_raw().cast::<IUnknown>());
        self.tracker.call("node property handler", self.irql());
        // SAFETY: `info` describes the live miniport `major`; `minor` is null or one of its
        // live streams (held by `self`).
        unsafe { node_property(&self.info, major, minor, req) }
            .map_err(|v| err("node property", mxf_abi::STATUS_UNSUCCESSFUL, v.0))
    }

    /// What dmusic.dll asks of a DirectMusic pin it opened (the pin's synth node, found
    /// through the topology), each answer checked against the Synth contract, bad
    /// requests included: CAPS (size query, short buffer, GET on the filter, SET refused),
    /// PORTPARAMETERS (asking for 2 channel groups; none in the instance refused), the
    /// granted CHANNELGROUPS set, LATENCYCLOCK on the pin.
    pub(super) fn synth_handshake(
        &self,
        pin: u32,
        on: &ComPtr<IMxf>,
    ) -> Result<SynthHandshake, PortError> {
        use mxf_abi::*;
        let fail = |detail: String| err("KSPROPSETID_Synth", STATUS_UNSUCCESSFUL, detail);
        let node = self
            .info
            .node_of_pin(pin)
            .ok_or_else(|| fail(format!("pin {pin} is joined to no synthesizer node")))?;
        let ask = |on: Option<&ComPtr<IMxf>>,
                   id: u32,
                   verb: u32,
                   instance: &[u8],
                   value: Option<Vec<u8>>|
         -> Result<NodeAnswer, PortError> {
            let value_len = value.as_ref().map_or(0, |v| v.len() as u32);
            self.node_property_on(
                on,
                NodeRequest {
                    node,
                    set: KSPROPSETID_SYNTH,
                    id,
                    verb,
                    instance,
                    value,
                    value_len,
                },
            )
        };
        let expect = |what: &str, a: &NodeAnswer, status: NtStatus, size: u32| {
            if a.status == status && a.size == size {
                Ok(())
            } else {
                Err(fail(format!(
                    "{what}: {:#x} / {} bytes, expected {status:#x} / {size}",
                    a.status, a.size
                )))
            }
        };
        let caps_len = size_of::<SynthCaps>() as u32;
        let get = KSPROPERTY_TYPE_GET;
        let a = ask(None, KSPROPERTY_SYNTH_CAPS, get, &[], None)?;
        expect("CAPS size query", &a, STATUS_BUFFER_OVERFLOW, caps_len)?;
        let a = ask(None, KSPROPERTY_SYNTH_CAPS, get, &[], Some(vec![0; 16]))?;
        expect("CAPS short buffer", &a, STATUS_BUFFER_TOO_SMALL, 0)?;
        let a = ask(
            None,
            KSPROPERTY_SYNTH_CAPS,
            KSPROPERTY_TYPE_SET,
            &[],
            Some(vec![0; caps_len as usize]),
        )?;
        if nt_success(a.status) {
            return Err(fail("CAPS accepted a SET".into()));
        }
        let a = ask(
            None,
            KSPROPERTY_SYNTH_CAPS,
            get,
            &[],
            Some(vec![0; caps_len as usize]),
        )?;
        expect("CAPS", &a, STATUS_SUCCESS, caps_len)?;
        let caps = a.value;
        let word =
            |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        let max_groups = word(&caps, 24);
        if max_groups == 0 {
            return Err(fail("CAPS: MaxChannelGroups 0".into()));
        }
        let a = ask(
            None,
            KSPROPERTY_SYNTH_CAPS,
            KSPROPERTY_TYPE_BASICSUPPORT,
            &[],
            Some(vec![0; 4]),
        )?;
        expect("CAPS basic support", &a, STATUS_SUCCESS, 4)?;
        if word(&a.value, 0) & get == 0 {
            return Err(fail("CAPS basic support lacks GET".into()));
        }
        let params_len = size_of::<SynthPortParams>();
        let request: Vec<u8> = [SYNTH_PORTPARAMS_CHANNELGROUPS, 0, 2, 0, 0, 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_PORTPARAMETERS,
            get,
            &[],
            Some(vec![0; params_len]),
        )?;
        if nt_success(a.status) {
            return Err(fail("PORTPARAMETERS without a request succeeded".into()));
        }
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_PORTPARAMETERS,
            get,
            &request,
            Some(vec![0; params_len]),
        )?;
        if !nt_success(a.status) || a.size as usize != params_len {
            return Err(fail(format!(
                "PORTPARAMETERS: {:#x} / {} bytes",
                a.status, a.size
            )));
        }
        let port_params_status = a.status;
        let groups = word(&a.value, 8);
        if groups == 0
            || groups > max_groups
            || (groups != 2) != (a.status == STATUS_NOT_ALL_ASSIGNED)
        {
            return Err(fail(format!(
                "PORTPARAMETERS granted {groups} channel groups with {:#x} (max {max_groups})",
                a.status
            )));
        }
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_CHANNELGROUPS,
            KSPROPERTY_TYPE_SET,
            &[],
            Some(groups.to_le_bytes().to_vec()),
        )?;
        if a.status != STATUS_SUCCESS {
            return Err(fail(format!("CHANNELGROUPS set {groups}: {:#x}", a.status)));
        }
        let before = self
            .clock
            .as_ref()
            .and_then(|c| c.get_time().ok())
            .unwrap_or(0);
        let a = ask(
            Some(on),
            KSPROPERTY_SYNTH_LATENCYCLOCK,
            get,
            &[],
            Some(vec![0; 8]),
        )?;
        expect("LATENCYCLOCK", &a, STATUS_SUCCESS, 8)?;
        let mut t = [0u8; 8];
        t.copy_from_slice(&a.value);
        let latency_clock = i64::from_le_bytes(t);
        if latency_clock < before {
            return Err(fail(format!(
                "LATENCYCLOCK {latency_clock} is before the clock's {before}"
            )));
        }
        Ok(SynthHandshake {
            node,
            caps,
            channel_groups: groups,
            port_params_status,
            latency_clock,
        })
    }

    pub(super) fn set_states(
        &self,
        stream: &ComPtr<IMxf>,
        states: &[KsState],
    ) -> Result<(), PortError> {
        for &s in states {
            self.tracker.call("IMXF::SetState", self.irql());
            check("IMXF::SetState", stream.set_state(s))?;
        }
        Ok(())
    }

    /// Opens the WinMM client's render pin ([`Port::open_render_as`]).
    pub fn open_render(&mut self) -> Result<(), PortError> {
        self.open_render_as(Client::WinMm)
    }

    /// Opens `client`'s render pin ([`Port::open_render_instance`]); the client's first
    /// instance is the one [`Port::queue_render_to`] and [`Port::render_stream_of`] use.
    /// Both clients' pins may be open together. `PASSIVE_LEVEL`.
    pub fn open_render_as(&mut self, client: Client) -> Result<(), PortError> {
        self.open_render_instance(client).map(|_| ())
    }

    /// Opens one more instance of `client`'s render pin (the streaming IN pin with its
    /// subformat): intersection over the pin's ranges, the instance limit,
    /// `NewStream(DMUS_STREAM_MIDI_RENDER)` with the port's allocator, for a DirectMusic
    /// client the Synth handshake on the pin's node, then ACQUIRE → PAUSE → RUN. The instance
    /// has its own queue ([`Port::queue_render_on`]). `PASSIVE_LEVEL`.
    pub fn open_render_instance(&mut self, client: Client) -> Result<RenderHandle, PortError> {
        let pin = self.info.pin_for(client, false).ok_or(err(
            "open_render",
            mxf_abi::STATUS_NOT_SUPPORTED,
            format!("no {client:?} render pin"),
        ))?;
        if self.render_stopped {
            return Err(err(
                "open_render",
                STATUS_INVALID_DEVICE_REQUEST,
                "the render pins were stopped",
            ));
        }
        let alloc = self.shared.client_alloc.clone();
        let s = self.open(pin, DmusStreamType::MIDI_RENDER, client, &alloc)?;
        if lock(&self.shared.sequencer).is_none() {
            // SAFETY: the context is `shared`, kept alive by `self` until the timer is
            // dropped in `close`.
            let timer = unsafe {
                self.emu
                    .new_timer(sequencer_dpc, Arc::as_ptr(&self.shared).cast())
            }
            .map_err(|st| err("KeInitializeTimer (sequencer)", st, ""))?;
            *lock(&self.shared.sequencer) = Some(timer);
        }
        let handle = RenderHandle(self.new_handle());
        let stream = s.stream.clone();
        self.renders.push(RenderInstance {
            handle,
            client,
            open: s,
        });
        let first = self.default_render[client.index()].is_none();
        {
            let mut q = lock(&self.shared.render);
            let units = if first {
                std::mem::take(&mut q.unbound[client.index()])
            } else {
                VecDeque::new()
            };
            let stats = RenderSourceStats {
                units_queued: units.len() as u64,
                ..RenderSourceStats::default()
            };
            q.lanes.push(Lane {
                handle,
                stream: None,
                units,
                stats,
            });
        }
        if first {
            self.default_render[client.index()] = Some(handle);
        }
        self.join_registered()?;
        if client == Client::DirectMusic {
            let h = self.synth_handshake(pin, &stream)?;
            self.handshakes.push(h);
        }
        self.set_states(&stream, &[KsState::ACQUIRE, KsState::PAUSE, KsState::RUN])?;
        if let Some(l) = lock(&self.shared.render).lane(handle) {
            l.stream = Some(stream);
        }
        self.shared
            .arm_sequencer(self.shared.prefetch.load(Relaxed) as i64);
        Ok(handle)
    }

    /// Opens the capture pin for a WinMM client ([`Port::open_capture_as`]).
    pub fn open_capture(&mut self) -> Result<(), PortError> {
        self.open_capture_as(Client::WinMm)
    }

    /// Opens the capture pin for `client`: intersection for its subformat, the instance
    /// limit, `NewStream(DMUS_STREAM_MIDI_CAPTURE)`, for a DirectMusic client the Synth
    /// handshake, `ConnectOutput(sink)`, then ACQUIRE → PAUSE → RUN. The first capture opened
    /// this way uses the port's allocator and sink ([`Port::capture_log`],
    /// [`Port::capture_stream`]); later ones are instances of their own, as from
    /// [`Port::open_capture_instance`]. `PASSIVE_LEVEL`.
    pub fn open_capture_as(&mut self, client: Client) -> Result<(), PortError> {
        let shared = self.default_capture.is_none();
        let h = self.open_capture_with(client, shared)?;
        if shared {
            self.default_capture = Some(h);
        }
        Ok(())
    }

    /// Opens one more instance of the capture pin for `client` (as [`Port::open_capture_as`])
    /// with its own allocator ([`PortConfig::capture_allocator`]), its own sink and its own
    /// [`CaptureLog`] ([`Port::with_capture_of`]). `PASSIVE_LEVEL`.
    pub fn open_capture_instance(&mut self, client: Client) -> Result<CaptureHandle, PortError> {
        self.open_capture_with(client, false)
    }

    fn open_capture_with(
        &mut self,
        client: Client,
        shared: bool,
    ) -> Result<CaptureHandle, PortError> {
        let pin = self.info.pin_for(client, true).ok_or(err(
            "open_capture",
            mxf_abi::STATUS_NOT_SUPPORTED,
            format!("no {client:?} capture pin"),
        ))?;
        let handle = CaptureHandle(self.new_handle());
        let (alloc, sink, control, log) = if shared {
            (
                None,
                self.capture_sink.clone(),
                None,
                Arc::clone(&self.capture_log),
            )
        } else {
            let own = new_allocator(PortPlatform::new(self.emu.clone()), self.capture_allocator)
                .map_err(|s| err("capture instance allocator", s, ""))?;
            let guard = new_guard(&own, Arc::clone(&self.shared.contract));
            let log = Arc::new(Mutex::new(CaptureLog::default()));
            let (sink, control) = new_controlled_sink(
                self.emu.clone(),
                &guard,
                Arc::clone(&log),
                self.tracker.born("capture sink IMXF"),
            );
            (Some((own, guard)), Some(sink), Some(control), log)
        };
        let stream_alloc = alloc
            .as_ref()
            .map_or_else(|| self.shared.client_alloc.clone(), |(_, g)| g.clone());
        let s = self.open(pin, DmusStreamType::MIDI_CAPTURE, client, &stream_alloc)?;
        drop(stream_alloc);
        let stream = s.stream.clone();
        self.captures.push(CaptureInstance {
            handle,
            open: Some(s),
            sink: sink.clone(),
            control,
            log,
            alloc,
        });
        if let Some(sink) = &sink {
            self.tracker.call("IMXF::ConnectOutput", self.irql());
            check("IMXF::ConnectOutput", stream.connect_output(sink))?;
        }
        self.join_registered()?;
        lock(&self.shared.capture_streams).push(stream.clone());
        if client == Client::DirectMusic {
            let h = self.synth_handshake(pin, &stream)?;
            self.handshakes.push(h);
        }
        self.set_states(&stream, &[KsState::ACQUIRE, KsState::PAUSE, KsState::RUN])?;
        Ok(handle)
    }

    /// Queues the WinMM client's submissions ([`Port::queue_render_to`]).
    pub fn queue_render(&self, units: impl IntoIterator<Item = RenderUnit>) -> u64 {
        self.queue_render_to(Client::WinMm, units)
    }

    /// Queues `client`'s submissions for its (first) render instance, or, before it is
    /// open, for the first one it opens. See [`Port::queue_render_on`].
    pub fn queue_render_to(
        &self,
        client: Client,
        units: impl IntoIterator<Item = RenderUnit>,
    ) -> u64 {
        match self.default_render[client.index()] {
            Some(h) => self.queue_render_on(h, units),
            None => self.queue_into(None, client, units),
        }
    }

    /// Queues submissions for render instance `h` (in presentation-time order; a unit
    /// earlier than the instance's last queued one is sent with it). Returns the sequence
    /// number of the first (one sequence across every instance). Units for an instance that
    /// is not open are counted as queued and discarded at once
    /// ([`RenderSourceStats::units_discarded_at_close`]).
    pub fn queue_render_on(
        &self,
        h: RenderHandle,
        units: impl IntoIterator<Item = RenderUnit>,
    ) -> u64 {
        self.queue_into(Some(h), Client::WinMm, units)
    }

    fn queue_into(
        &self,
        h: Option<RenderHandle>,
        client: Client,
        units: impl IntoIterator<Item = RenderUnit>,
    ) -> u64 {
        let first;
        {
            let mut q = lock(&self.shared.render);
            first = q.next_seq;
            let mut fresh: Vec<(u64, RenderUnit)> = Vec::new();
            for u in units {
                fresh.push((q.next_seq, u));
                q.next_seq += 1;
            }
            let n = fresh.len() as u64;
            let mut gone = 0;
            let queue = match h {
                None => Some(&mut q.unbound[client.index()]),
                Some(h) => match q.lane(h) {
                    Some(l) if !self.render_stopped => {
                        l.stats.units_queued += n;
                        Some(&mut l.units)
                    }
                    Some(l) => {
                        l.stats.units_queued += n;
                        l.stats.units_discarded_at_close += n;
                        gone = n;
                        None
                    }
                    None => {
                        gone = n;
                        None
                    }
                },
            };
            if let Some(queue) = queue {
                for (seq, mut u) in fresh {
                    if let Some((_, last)) = queue.back() {
                        u.time = u.time.max(last.time);
                    }
                    queue.push_back((seq, u));
                }
            }
            let mut stats = lock(&self.shared.render_stats);
            stats.units_queued += n;
            stats.units_discarded_at_close += gone;
        }
        self.shared
            .arm_sequencer(self.shared.prefetch.load(Relaxed) as i64);
        first
    }

    /// Stops the render pins (every instance) as KS does when a client stops its stream
    /// (RUN → PAUSE → ACQUIRE → STOP) and keeps them open until [`Port::close`]: the
    /// sequencer stops, units not yet sent are discarded (counted in
    /// [`RenderSourceStats::units_discarded_at_close`]), and each stream gives up what it still
    /// holds, so its end-of-stream counters can be read before close. Does nothing the
    /// second time, nor for a pin never opened. No render instance opens after it.
    /// `PASSIVE_LEVEL`.
    pub fn stop_render(&mut self) -> Result<(), PortError> {
        if self.render_stopped {
            return Ok(());
        }
        self.render_stopped = true;
        drop(lock(&self.shared.sequencer).take());
        let discarded = {
            let mut q = lock(&self.shared.render);
            let mut n = 0u64;
            for l in &mut q.lanes {
                let k = l.units.len() as u64;
                l.stats.units_discarded_at_close += k;
                l.units.clear();
                n += k;
            }
            for u in &mut q.unbound {
                n += u.len() as u64;
                u.clear();
            }
            n
        };
        lock(&self.shared.render_stats).units_discarded_at_close += discarded;
        self.render_discarded += discarded;
        let mut first = Ok(());
        for r in &self.renders {
            let r = self.set_states(&r.open.stream, &STOP_STATES);
            first = first.and(r);
        }
        first
    }

    /// Closes render instance `h` as KS closes a pin: its queued units are discarded
    /// (counted), the stream steps down to STOP, leaves its service group and is released,
    /// and its pin has one instance fewer. Its counters stay readable. `PASSIVE_LEVEL`.
    pub fn close_render_instance(&mut self, h: RenderHandle) -> Result<(), PortError> {
        let Some(at) = self.renders.iter().position(|r| r.handle == h) else {
            return Err(err(
                "close_render_instance",
                STATUS_INVALID_DEVICE_REQUEST,
                "no such render instance",
            ));
        };
        let r = self.renders.remove(at);
        let discarded = {
            let mut q = lock(&self.shared.render);
            match q.lane(h) {
                Some(l) => {
                    let n = l.units.len() as u64;
                    l.units.clear();
                    l.stats.units_discarded_at_close += n;
                    l.stream = None;
                    n
                }
                None => 0,
            }
        };
        lock(&self.shared.render_stats).units_discarded_at_close += discarded;
        self.render_discarded += discarded;
        let res = if self.render_stopped {
            Ok(())
        } else {
            self.set_states(&r.open.stream, &STOP_STATES)
        };
        if self.default_render[r.client.index()] == Some(h) {
            self.default_render[r.client.index()] = None;
        }
        self.release_open(r.open);
        res
    }

    /// Closes capture instance `h` as KS closes a pin: its stall ends (what its sink held
    /// is delivered), the stream steps down to STOP (delivering what it still holds),
    /// is disconnected from its sink, leaves its service group and is released; its pin has
    /// one instance fewer. Its log stays readable. `PASSIVE_LEVEL`.
    pub fn close_capture_instance(&mut self, h: CaptureHandle) -> Result<(), PortError> {
        let Some(at) = self
            .captures
            .iter()
            .position(|c| c.handle == h && c.open.is_some())
        else {
            return Err(err(
                "close_capture_instance",
                STATUS_INVALID_DEVICE_REQUEST,
                "no such open capture instance",
            ));
        };
        if let Some(c) = &self.captures[at].control {
            c.set_stalled(false);
        }
        let Some(o) = self.captures[at].open.take() else {
            return Ok(());
        };
        let sink = self.captures[at].sink.take();
        let mut first = self.set_states(&o.stream, &STOP_STATES);
        if let Some(sink) = &sink {
            self.tracker.call("IMXF::DisconnectOutput", self.irql());
            let r = check("IMXF::DisconnectOutput", o.stream.disconnect_output(sink));
            first = first.and(r);
        }
        lock(&self.shared.capture_streams).retain(|s| s.as_raw() != o.stream.as_raw());
        self.release_open(o);
        drop(sink);
        first
    }
}
