//! Kernel COM plumbing: owned interface pointers that call through vtables ([`ComPtr`]), the
//! typed calls of each DMus interface, the reference count used by our own objects, and the
//! `IUnknown` slots those objects share ([`ComObject`]), and the one query that recognises an
//! object of ours behind an interface pointer ([`ours()`]).
//!
//! Code that packages or consumes events talks to allocators, sinks and clocks only through
//! these wrappers, so it behaves the same against PortCls's objects and ours.

mod calls;
mod object;
mod ours;
mod ptr;
mod refcount;

pub use object::{
    ComObject, add_ref, answer_query_interface, answer_release, drop_and_free, query_interface,
    release, unknown_vtbl,
};
pub use ours::{OurMark, OurObject, ours, ours_raw};
pub use ptr::{ComPtr, Interface};
pub use refcount::RefCount;
