//! Kernel COM plumbing: owned interface pointers that call through vtables ([`ComPtr`]), the
//! typed calls of each DMus interface, and the reference count used by our own objects.
//!
//! Code that packages or consumes events talks to allocators, sinks and clocks only through
//! these wrappers, so it behaves the same against PortCls's objects and ours.

mod calls;
mod ptr;
mod refcount;

pub use ptr::{ComPtr, Interface};
pub use refcount::RefCount;
