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
