//! [`PortPlatform`]: the emulator seen through a pool-tag filter, so that an instance of our
//! own allocator can stand in for PortCls's pool and still be told apart in pool reports.

use core::ffi::c_void;
use core::fmt;
use core::ptr::NonNull;
use mxf_core::platform::{Irql, LogLevel, Platform, PoolTag, TimerCallback};
use mxf_kemu::{Emu, EmuBlockPool, EmuSpinLock, EmuTimer};

/// Pool tags of the port's allocator start with these three characters (ours: `Mxf`).
pub const PORT_TAG_PREFIX: [u8; 3] = *b"Prt";

/// `tag` as the port's pool shows it: `Mxf?` becomes `Prt?`, other tags are kept.
pub fn port_tag(tag: PoolTag) -> PoolTag {
    let b = tag.bytes();
    if b[..3] == *b"Mxf" {
        PoolTag::new(&[
            PORT_TAG_PREFIX[0],
            PORT_TAG_PREFIX[1],
            PORT_TAG_PREFIX[2],
            b[3],
        ])
    } else {
        tag
    }
}

/// The emulator, with every pool tag passed through [`port_tag`]. Everything else (IRQL,
/// clock, fault injection, Verifier checks) is the emulator's own.
#[derive(Clone, Debug)]
pub struct PortPlatform {
    emu: Emu,
}

impl PortPlatform {
    /// Wraps `emu`.
    pub fn new(emu: Emu) -> Self {
        Self { emu }
    }
}

impl Platform for PortPlatform {
    type BlockPool = EmuBlockPool;
    type RawSpinLock = EmuSpinLock;
    type Timer = EmuTimer;

    fn current_irql(&self) -> Irql {
        self.emu.current_irql()
    }

    fn raise_irql(&self, new: Irql) -> Irql {
        self.emu.raise_irql(new)
    }

    fn lower_irql(&self, old: Irql) {
        self.emu.lower_irql(old)
    }

    fn processor_count(&self) -> u32 {
        self.emu.processor_count()
    }

    fn current_processor(&self) -> u32 {
        self.emu.current_processor()
    }

    fn pool_alloc(&self, size: usize, tag: PoolTag) -> Option<NonNull<u8>> {
        self.emu.pool_alloc(size, port_tag(tag))
    }

    unsafe fn pool_free(&self, p: NonNull<u8>, tag: PoolTag) {
        // SAFETY: forwarded under the caller's contract; the tag is mapped exactly as at
        // allocation.
        unsafe { self.emu.pool_free(p, port_tag(tag)) }
    }

    fn new_block_pool(
        &self,
        block_size: usize,
        tag: PoolTag,
    ) -> Result<EmuBlockPool, mxf_abi::NtError> {
        self.emu.new_block_pool(block_size, port_tag(tag))
    }

    fn new_spin_lock(&self) -> EmuSpinLock {
        self.emu.new_spin_lock()
    }

    unsafe fn new_timer(
        &self,
        callback: TimerCallback,
        context: *const c_void,
    ) -> Result<EmuTimer, mxf_abi::NtError> {
        // SAFETY: forwarded under the caller's contract.
        unsafe { self.emu.new_timer(callback, context) }
    }

    fn now_100ns(&self) -> i64 {
        self.emu.now_100ns()
    }

    fn system_time_100ns(&self) -> i64 {
        self.emu.system_time_100ns()
    }

    fn log(&self, level: LogLevel, args: fmt::Arguments<'_>) {
        self.emu.log(level, format_args!("[port] {args}"))
    }

    fn bug_check(&self, code: u32, params: [usize; 4]) -> ! {
        self.emu.bug_check(code, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_tags_are_renamed() {
        assert_eq!(port_tag(PoolTag::new(b"MxfE")), PoolTag::new(b"PrtE"));
        assert_eq!(port_tag(PoolTag::new(b"MxfB")), PoolTag::new(b"PrtB"));
        assert_eq!(port_tag(PoolTag::new(b"Abcd")), PoolTag::new(b"Abcd"));
    }

    fn emu_with(processors: u32) -> Emu {
        Emu::new(mxf_kemu::EmuConfig {
            processors,
            ..mxf_kemu::EmuConfig::default()
        })
    }

    #[test]
    fn processors_and_clocks_are_the_emulators() {
        let emu = emu_with(5);
        let port = PortPlatform::new(emu.clone());
        assert_eq!(port.processor_count(), 5);
        for cpu in [3, 0, 4] {
            emu.set_current_processor(cpu);
            assert_eq!(port.current_processor(), cpu);
        }
        emu.advance_time(1234);
        assert_eq!(port.now_100ns(), emu.now_100ns());
        emu.set_system_time(0x0123_4567_89AB);
        assert_eq!(port.system_time_100ns(), emu.system_time_100ns());
        assert_eq!(port.system_time_100ns(), 0x0123_4567_89AB);
    }

    #[test]
    fn the_port_allocator_has_one_reserve_stack_per_emulated_processor() {
        use mxf_core::alloc::header::Kind;
        use mxf_core::alloc::{AllocatorConfig, new_allocator};
        let emu = emu_with(4);
        let com = new_allocator(PortPlatform::new(emu.clone()), AllocatorConfig::DEFAULT)
            .expect("allocator");
        let alloc = mxf_core::alloc::Allocator::from_com(&com).expect("ours");
        assert_eq!(alloc.reserve_processors(Kind::Event), 4);
        assert_eq!(alloc.reserve_processors(Kind::Buffer), 4);
    }
}
