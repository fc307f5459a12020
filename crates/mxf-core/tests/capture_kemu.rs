//! The capture path against our real `IAllocatorMXF` on the host kernel emulator, at
//! `DISPATCH_LEVEL`, with pool fault injection; every run must unload clean (no leak, guard
//! bytes and poisoned quarantine intact).

mod support;

use mxf_abi::IAllocatorMxf;
use mxf_core::alloc::{AllocatorConfig, new_allocator};
use mxf_core::com::ComPtr;
use mxf_core::platform::DISPATCH_LEVEL;
use mxf_kemu::{Emu, EmuConfig, FaultPlan};
use proptest::prelude::*;
use support::checks::{cap_of, check_exact, check_with_drops};
use support::reference::expected_items;
use support::strategies::{arbitrary_bytes, bursts, midi_stream, split};
use support::{CaptureRun, run_capture};

fn small(buffer_size: u16) -> AllocatorConfig {
    AllocatorConfig {
        buffer_size,
        reserve_events: 8,
        reserve_buffers: 2,
        max_events: 64,
        max_buffers: 8,
        poison_freed: true,
    }
}

fn with_allocator<R>(
    cfg: EmuConfig,
    alloc_cfg: AllocatorConfig,
    fault: FaultPlan,
    f: impl FnOnce(&ComPtr<IAllocatorMxf>) -> R,
) -> R {
    let emu = Emu::new(cfg);
    let alloc = new_allocator(emu.clone(), alloc_cfg).expect("new_allocator");
    emu.set_fault_plan(fault);
    let r = emu.at_irql(DISPATCH_LEVEL, || f(&alloc));
    emu.set_fault_plan(FaultPlan::None);
    drop(alloc);
    if let Err(bc) = emu.unload() {
        panic!("unload not clean: {bc}");
    }
    r
}

fn capture(alloc: &ComPtr<IAllocatorMxf>, input: &[u8], lens: &[usize]) -> CaptureRun {
    run_capture(alloc, &split(input, lens))
}

#[test]
fn one_mib_sysex_under_verifier_with_default_allocator() {
    let mut input = vec![0xb0, 0x07, 0x64, 0xf0];
    input.extend((0..(1usize << 20)).map(|i| (i * 13 % 128) as u8));
    input.extend([0xf8, 0x01, 0xf7, 0x08, 0x10]);
    let run = with_allocator(
        EmuConfig::verifier(),
        AllocatorConfig::DEFAULT,
        FaultPlan::None,
        |a| capture(a, &input, &[128]),
    );
    check_exact(
        &expected_items(&input, cap_of(AllocatorConfig::DEFAULT.buffer_size)),
        &run,
    );
    assert_eq!(run.serializer.stats().sysex_complete, 1);
}

#[test]
fn pool_exhaustion_drops_messages_without_leaking() {
    let mut input = Vec::new();
    for i in 0..200u8 {
        input.extend([0x90, i % 128, 0x40, 0xf0]);
        input.extend((0..(i as usize * 7)).map(|k| (k % 128) as u8));
        input.push(0xf7);
    }
    let run = with_allocator(
        EmuConfig::default(),
        small(64),
        FaultPlan::Random { seed: 7, one_in: 3 },
        |a| capture(a, &input, &[37]),
    );
    check_with_drops(&expected_items(&input, 64), &run.events, &run.stats);
    assert!(
        run.stats.dropped_no_memory() > 0,
        "the fault plan must bite"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn valid_streams_round_trip_through_the_real_allocator(
        input in midi_stream(128, 2048),
        lens in bursts(),
        size in prop_oneof![9u16..=64, Just(4080u16), 9u16..=8192],
    ) {
        let cfg = AllocatorConfig { buffer_size: size, ..AllocatorConfig::DEFAULT };
        let run = with_allocator(EmuConfig::default(), cfg, FaultPlan::None, |a| capture(a, &input, &lens));
        check_exact(&expected_items(&input, cap_of(size)), &run);
    }

    #[test]
    fn faults_and_caps_of_the_real_allocator_drop_exactly_the_counted_messages(
        input in prop_oneof![midi_stream(128, 1024), arbitrary_bytes(2048)],
        lens in bursts(),
        size in 9u16..=256,
        seed in any::<u64>(),
        one_in in 2u32..=20,
        verifier in any::<bool>(),
    ) {
        let emu_cfg = if verifier { EmuConfig::verifier() } else { EmuConfig::default() };
        let run = with_allocator(emu_cfg, small(size), FaultPlan::Random { seed, one_in }, |a| {
            capture(a, &input, &lens)
        });
        check_with_drops(&expected_items(&input, cap_of(size)), &run.events, &run.stats);
    }
}
