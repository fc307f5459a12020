//! Arbitrary bytes → capture (fuzzer-chosen buffer size, burst lengths, allocator failures) →
//! serialize. Checks: no panic, no leak, every byte accounted for, output a function of the
//! input alone when nothing fails.
#![no_main]

use mxf_testkit::alloc_double::{FailPlan, TestAlloc};
use libfuzzer_sys::fuzz_target;
use mxf_core::capture::CapturePackager;
use mxf_core::serialize::{ByteSink, Serializer};

struct Sink(Vec<u8>);

impl ByteSink for Sink {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((head, input)) = data.split_first_chunk::<6>() else {
        return;
    };
    let size = u16::from_le_bytes([head[0], head[1]]);
    let percent = u32::from(head[2] % 64);
    let seed = u64::from(head[3]) | (u64::from(head[4]) << 8);
    let burst = usize::from(head[5]).max(1);
    let plan = if percent == 0 { FailPlan::Never } else { FailPlan::Random { seed, percent } };
    let alloc = TestAlloc::new(size, plan);
    let mut p = CapturePackager::new(alloc.com());
    let mut ser = Serializer::new(Some(size));
    let mut sink = Sink(Vec::new());
    for (i, b) in input.chunks(burst).enumerate() {
        let chain = p.feed(b, i as i64);
        ser.write_owned(&chain, &mut sink);
        let s = p.stats();
        assert_eq!(s.bytes_in(), s.bytes_accounted() + s.bytes_pending);
    }
    let chain = p.reset(0);
    ser.write_owned(&chain, &mut sink);
    drop(chain);
    let s = p.stats();
    assert_eq!(s.bytes_in(), input.len() as u64);
    assert_eq!(s.bytes_in(), s.bytes_accounted());
    assert_eq!(s.parser.bytes_in, s.parser.bytes_accounted());
    drop(p);
    alloc.assert_clean();
    if percent == 0 {
        // Same input in one burst: same bytes out (burst boundaries never change the output).
        let again = TestAlloc::new(size, FailPlan::Never);
        let mut q = CapturePackager::new(again.com());
        let mut ser2 = Serializer::new(Some(size));
        let mut sink2 = Sink(Vec::new());
        ser2.write_owned(&q.feed(input, 0), &mut sink2);
        ser2.write_owned(&q.reset(0), &mut sink2);
        drop(q);
        again.assert_clean();
        assert_eq!(sink.0, sink2.0);
    }
});
