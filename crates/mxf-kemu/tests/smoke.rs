//! End-to-end use of the emulator the way the core uses it.

use mxf_core::platform::{BlockPool, DISPATCH_LEVEL, Platform, PoolTag, SpinLock};
use mxf_kemu::{Emu, EmuConfig};

const TAG: PoolTag = PoolTag::new(b"Smok");

#[test]
fn alloc_lock_free_unload_is_clean() {
    let emu = Emu::new(EmuConfig::default());
    let p = emu.pool_alloc(24, TAG).expect("alloc");
    let pool = emu.new_block_pool(40, TAG).expect("block pool");
    let lock = SpinLock::new(emu.new_spin_lock(), 0u32);
    {
        let mut g = lock.lock();
        assert_eq!(emu.current_irql(), DISPATCH_LEVEL);
        let b = pool.alloc().expect("block");
        *g += 1;
        // SAFETY: `b` came from `pool.alloc` and is not used afterwards.
        unsafe { pool.free(b) };
    }
    assert_eq!(emu.current_irql(), 0);
    // SAFETY: `p` came from `pool_alloc` with TAG.
    unsafe { emu.pool_free(p, TAG) };
    drop(pool);
    let report = emu.unload().expect("clean unload");
    assert_eq!(report.pool.live_count, 0);
    assert_eq!(report.block_pools_created, 1);
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Emu>();
    send_sync::<mxf_kemu::EmuBlockPool>();
    send_sync::<mxf_kemu::EmuSpinLock>();
    send_sync::<mxf_kemu::EmuTimer>();
    send_sync::<mxf_kemu::BugCheck>();
}

#[test]
fn log_lines_are_captured_with_their_level() {
    use mxf_core::platform::LogLevel;
    let emu = Emu::new(EmuConfig::default());
    emu.log(LogLevel::Warn, format_args!("queue {} full", 3));
    emu.at_irql(DISPATCH_LEVEL, || {
        emu.log(LogLevel::Trace, format_args!("at dispatch"))
    });
    assert_eq!(
        emu.log_lines(),
        vec![
            "WARN queue 3 full".to_string(),
            "TRACE at dispatch".to_string()
        ]
    );
    assert_eq!(emu.unload().unwrap().log_lines, 2);
}

#[test]
fn huge_time_steps_do_not_overflow() {
    let emu = Emu::new(EmuConfig::default());
    let pool = emu.new_block_pool(8, TAG).unwrap();
    emu.advance_time(i64::MAX);
    assert_eq!(emu.now_100ns(), i64::MAX);
    emu.advance_time(5);
    assert_eq!(pool.depth(), mxf_kemu::DEPTH_MIN);
}

#[test]
fn absurd_sizes_fail_instead_of_panicking() {
    let emu = Emu::new(EmuConfig::default());
    assert!(emu.pool_alloc(usize::MAX - 8, TAG).is_none());
    assert_eq!(emu.pool_report().failed_allocs, 1);
    emu.unload().unwrap();
}
