//! Our `IAllocatorMXF`: events and buffers for an MXF graph, over the platform's block pools
//! (lookaside lists), callable at IRQL <= `DISPATCH_LEVEL` from several CPUs at once.
//!
//! # Use
//! [`new_allocator`] (`PASSIVE_LEVEL`) returns a `ComPtr<IAllocatorMxf>`; everything else goes
//! through the COM interface (`ComPtr` calls, or C callers through the vtable), so code that
//! packages events works the same against PortCls's allocator and ours.
//! [`Allocator::from_com`] recognises one of ours (it answers the private interface id
//! [`IID_MXF_PRIVATE_ALLOCATOR`] with itself: [`crate::com::ours`]) and gives access to
//! [`AllocatorStats`], the block pools' own counters and Rust-ABI twins of the slots.
//!
//! # Storage
//! Two block pools of the platform: one of `16 + 40`-byte blocks for events, one of
//! `16 + buffer_size`-byte blocks for buffers. Every block starts with a 16-byte header
//! ([`header`] documents the layout) and its payload *ends at the end of the
//! block*, so the special pool's guard bytes sit right after the last usable byte.
//!
//! Each kind has a **reserve**: `reserve_*` blocks taken from the pool at creation and kept
//! until the allocator is destroyed, in one slot array whose free slot indices sit on
//! lock-free LIFOs, **one per processor** ([`reserve`];
//! each a [`stack`]: a Treiber stack whose 64-bit head packs `{tag, count, top}`;
//! the 32-bit tag, bumped by every operation, defeats ABA), each head on its own cache lines,
//! so that processors working at once do not fight over one line. A get pops the reserve
//! first — its own processor's stack, else it steals from the others' (`reserve_hits`) — and
//! only when every stack is empty goes to the block pool (`pool_misses`). A put pushes onto
//! the stack of the processor it runs on. The reserve is split, not replicated: slot `i`
//! starts on processor `i % n` (`n` = the platform's processor count, at most 64), and
//! stealing keeps every free reserve block reachable from every processor. A
//! block keeps its origin: a reserve block goes back to the reserve on put (so the reserve
//! refills exactly as its blocks come back), a pool block back to the pool. Consequence: a
//! pool block returned while reserve blocks are still out does not refill the reserve —
//! the reserve is "these N blocks", not "up to N of any". That keeps the stack a fixed
//! slot array (no 16-byte CAS) and lets a put verify that a header naming slot `n` really is
//! slot `n`'s block.
//!
//! The cap: reserve blocks plus pool blocks in existence never exceed `max_*` (pool blocks
//! are capped at `max - reserve`), so outstanding blocks never do either; past it a get fails
//! with `STATUS_INSUFFICIENT_RESOURCES` and writes `*pp = NULL`.
//!
//! The hot path (a reserve hit and its put) is three interlocked operations: the pop's CAS,
//! the put's header CAS and the push's CAS (a raw lookaside hit is two), all on lines the
//! processor keeps to itself, plus the IRQL check and the current processor per get and per
//! put (below), inlined: the vtable is one per platform type, so its hot slots are compiled
//! for the platform and read IRQL and processor without a call through a pointer (in the
//! kernel `KeGetCurrentIrql` is a register read, the processor one imported call; in the
//! emulator two thread-local reads). The slots run a fast path for exactly this case
//! (module `fast`: the running processor's own stack, one plain reserve block) that makes no call
//! returning into it, so it pushes no registers and spills nothing: every interlocked
//! operation first waits for the processor's store buffer to drain, so plain stores between
//! them cost time on every pair. Everything else goes, in tail position, to the full path,
//! which behaves the same. No counter is touched on it: `reserve_hits` is
//! the stacks' pop count, derived from their version tags (`tag = pushes + pops`, `count =
//! pushes - pops`) minus the indices steals moved between stacks (counted on the steal path);
//! outstanding counts come from the stacks' counts and the pool-block counter, and `puts`
//! from `gets - outstanding`. The high-water mark is sampled (summing the stacks) only when a
//! processor's stack reaches a new low or it steals: exact while one processor does all the
//! gets and puts, possibly short of a peak that several processors reach together
//! ([`reserve`] explains).
//!
//! # IRQL
//! Every `GetMessage`, `GetBuffer`, `PutMessage` and `PutBuffer` checks that it runs at IRQL
//! <= `DISPATCH_LEVEL`, whether the reserve or the block pool serves it, and stops the system
//! the way the pool does: a get above it asks the block pool for a block, so the platform's
//! own check raises its code (`BAD_POOL_CALLER` 0x08, under Verifier 0xC4 / 0x02); a put of a
//! pool block frees it, ditto (0x09, under Verifier 0xC4 / 0x12). When the platform does not
//! stop (a lookaside hit checks nothing) and for reserve blocks, the allocator raises
//! `BAD_POOL_CALLER` [`c2::ALLOC_IRQL`] / [`c2::FREE_IRQL`] itself
//! with the pool's parameters — the code the pool raises without Verifier (the allocator
//! cannot tell whether Verifier is on, so a put of a *reserve* block above `DISPATCH_LEVEL`
//! gives 0xC2 / 0x09 under Verifier too). A reserve block is left untouched by the refusal.
//!
//! # Bad pointers: what is detected, and the limits
//! A put (`PutBuffer`, and every event and buffer `PutMessage` walks) reads the 16-byte
//! header in front of the pointer and moves its state `LIVE -> FREE` by CAS. Refused with
//! `BAD_POOL_CALLER` (0xC2), parameter 1 [`c2::FOREIGN`] or
//! [`c2::DOUBLE_FREE`], p2 the pointer, p3 the header word found, p4 the kind:
//! - a pointer not 16-aligned: foreign, decided without reading anything;
//! - a header whose check/kind is not this allocator's and this kind's: foreign. That covers
//!   events and buffers of *another* allocator (ours or the port's), an event passed as a
//!   buffer and vice versa, and pointers into the middle of a block;
//! - a header of ours already `FREE`: double put. Exact while the block is in our reserve
//!   (its header is ours until the allocator dies), and while a pool block's memory has not
//!   been reused; once the pool has reused or freed it, the second put reads someone else's
//!   bytes: reported as foreign if they do not look like our header, and *undetected* in the
//!   one case where the block was handed out again by this same allocator (the second put
//!   then recycles the new owner's block — as with any pool). Two puts of one block racing on
//!   two CPUs: exactly one wins the CAS, the other is reported.
//! - a header naming a reserve slot whose block is elsewhere, or an owner cookie that does
//!   not match: foreign.
//!
//! The limit is the read itself: for an arbitrary pointer the 16 bytes before it may not be
//! mapped (a pointer at the start of a page after an unmapped one, or freed special pool):
//! the read then faults (0x50 / 0xD5) rather than returning a clean 0xC2 — still a stop
//! naming the bad caller, not silent corruption. In Rust terms that read is only defined when
//! the 16 bytes are readable memory, which is the documented precondition of the put methods;
//! a pointer we handed out always satisfies it. A random 64-bit word matches our check with
//! probability 2^-32 and the owner cookie too with 2^-64 more; memory that *copies* one of
//! our headers (e.g. a stale copy of a block) is not told apart.
//!
//! # Reference counting
//! `AddRef`/`Release` are interlocked; the final `Release` frees the reserves, the pools and
//! the object. Blocks still out at that point are leaked on purpose (freeing them under their
//! holder would be worse) and logged; the platform reports them at unload. A `Release` too
//! many is caught (bug check `REFERENCE_BY_POINTER`, 0x18) only while the object is still
//! being torn down by the last legitimate `Release`; once its memory is freed, a further call
//! is a use after free that only the platform can catch (special pool).
//!
//! # Files
//! One concern each, listed bottom-up: a file uses only those above it in this list. `config` and
//! `stats` (plain data), `header` (the block header), `stack` and `reserve` (the lock-free
//! reserve), `lane` (one kind of block: its reserve, cap and counters), `object` (the
//! platform-independent [`Allocator`] and the `Backend` trait it reaches its platform through),
//! `validate` (what a put and a reserve get check), `pool` (the block pool side), `stops` (above
//! `DISPATCH_LEVEL`), `full` (the full get and put), `chain` (`PutMessage`'s walk), `fast` (the hot
//! slots' fast paths), `twins` (the Rust-ABI twins of the slots), `teardown` (the lanes at the
//! final `Release`), `backend` (`Object<P>`, the platform half), `vtbl` (the `extern "system"`
//! thunks), `build` ([`new_allocator`]).
//!
//! [`c2::FOREIGN`]: crate::platform::bugcheck::c2::FOREIGN
//! [`c2::DOUBLE_FREE`]: crate::platform::bugcheck::c2::DOUBLE_FREE
//! [`c2::ALLOC_IRQL`]: crate::platform::bugcheck::c2::ALLOC_IRQL
//! [`c2::FREE_IRQL`]: crate::platform::bugcheck::c2::FREE_IRQL

mod backend;
mod build;
mod chain;
mod config;
mod fast;
mod full;
pub mod header;
mod lane;
mod object;
mod pool;
pub mod reserve;
pub mod stack;
mod stats;
mod stops;
mod teardown;
mod twins;
mod validate;
mod vtbl;

pub use build::new_allocator;
pub use config::AllocatorConfig;
pub use object::Allocator;
pub use stats::AllocatorStats;

use crate::platform::PoolTag;
use mxf_abi::Guid;

/// A private interface id: our allocators answer `QueryInterface` with it (returning
/// themselves, AddRef'd), which is how [`Allocator::from_com`] recognises them
/// ([`crate::com::ours`]). Never asked for by PortCls.
pub const IID_MXF_PRIVATE_ALLOCATOR: Guid = Guid::from_u128(0x6d786630_0004_4d58_8000_6d78666c6f6f);

/// The atomics the lock-free parts use (`tests/loom_stack.rs` substitutes `loom`'s).
mod sync {
    pub(crate) use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
}

pub use crate::platform::POISON_BYTE;

/// Pool tag of the allocator object.
pub const TAG_OBJECT: PoolTag = PoolTag::new(b"MxfA");
/// Pool tag of the event blocks.
pub const TAG_EVENTS: PoolTag = PoolTag::new(b"MxfE");
/// Pool tag of the buffer blocks.
pub const TAG_BUFFERS: PoolTag = PoolTag::new(b"MxfB");
/// Pool tag of the reserves' slot arrays.
pub const TAG_RESERVE: PoolTag = PoolTag::new(b"MxfR");
