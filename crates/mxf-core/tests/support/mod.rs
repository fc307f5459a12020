//! Shared helpers of the capture/serialize/midi integration tests.
#![allow(dead_code)]

pub mod checks;
pub mod reference;
pub mod strategies;

use mxf_abi::{DMUS_KERNEL_EVENT_SIZE, IAllocatorMxf, K_BYTE_POSITION_NONE};
use mxf_core::capture::{CAPTURE_CHANNEL_GROUP, CapturePackager, CaptureStats, Chain};
use mxf_core::com::ComPtr;
use mxf_core::serialize::{ByteSink, Serializer};

/// A [`ByteSink`] collecting into a vector.
#[derive(Default)]
pub struct VecSink(pub Vec<u8>);

impl ByteSink for VecSink {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// One event as observed in a returned chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub bytes: Vec<u8>,
    pub incomplete: bool,
    pub time: u64,
    pub burst: usize,
}

/// What a capture run produced.
pub struct CaptureRun {
    pub events: Vec<Observed>,
    /// The serializer's output over every chain, in order.
    pub wire: Vec<u8>,
    pub stats: CaptureStats,
    pub serializer: Serializer,
}

/// Burst `i`'s timestamp.
pub fn burst_time(i: usize) -> i64 {
    1_000 + 3_200 * i as i64
}

/// Checks the fixed fields of every event of `chain`, records them, serialises the chain and
/// drops it (back to the allocator).
pub fn take_chain(chain: Chain, burst: usize, run: &mut CaptureRun, sink: &mut VecSink) {
    let time = burst_time(burst).max(0) as u64;
    for (ev, data) in chain.iter() {
        assert_eq!(ev.cb_struct as usize, DMUS_KERNEL_EVENT_SIZE);
        // `bReserved` is the allocator's: the test double checks it is untouched on return.
        assert_eq!(ev.us_channel_group, CAPTURE_CHANNEL_GROUP);
        assert_eq!(ev.ull_byte_position, K_BYTE_POSITION_NONE);
        assert!(!ev.is_package());
        assert_eq!(ev.us_flags & !1, 0, "only INCOMPLETE may be set");
        assert!(ev.cb_event > 0);
        assert_eq!(
            ev.ull_pres_time_100ns, time,
            "event stamped with its burst's time"
        );
        assert_eq!(data.len(), usize::from(ev.cb_event));
        run.events.push(Observed {
            bytes: data.to_vec(),
            incomplete: ev.is_incomplete(),
            time: ev.ull_pres_time_100ns,
            burst,
        });
    }
    run.serializer.write_owned(&chain, sink);
    drop(chain);
}

/// Feeds `bursts` (burst `i` stamped [`burst_time`]`(i)`), then resets; every chain is checked,
/// serialised and returned to the allocator as it comes.
pub fn run_capture(alloc: &ComPtr<IAllocatorMxf>, bursts: &[&[u8]]) -> CaptureRun {
    let mut p = CapturePackager::new(alloc);
    let mut run = CaptureRun {
        events: Vec::new(),
        wire: Vec::new(),
        stats: CaptureStats::default(),
        serializer: Serializer::new(Some(alloc.buffer_size())),
    };
    let mut sink = VecSink::default();
    for (i, b) in bursts.iter().enumerate() {
        let chain = p.feed(b, burst_time(i));
        take_chain(chain, i, &mut run, &mut sink);
        let s = p.stats();
        assert_eq!(
            s.bytes_in(),
            s.bytes_accounted() + s.bytes_pending,
            "{s:#?}"
        );
    }
    let chain = p.reset(burst_time(bursts.len()));
    take_chain(chain, bursts.len(), &mut run, &mut sink);
    run.stats = p.stats();
    assert_eq!(run.stats.bytes_pending, 0);
    assert_eq!(run.stats.bytes_in(), run.stats.bytes_accounted());
    let ps = run.stats.parser;
    assert_eq!(ps.bytes_in, ps.bytes_accounted());
    drop(p);
    run.wire = sink.0;
    run
}
