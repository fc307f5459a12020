//! The header in front of every event and buffer: which allocator and kind a block belongs
//! to, whether it is live, and which reserve slot (if any) it occupies.
//!
//! # Block layout
//! ```text
//! block (from the BlockPool, POOL_ALIGN-aligned)
//! +0   owner: u64   allocator cookie (the allocator's address ^ OWNER_SALT)
//! +8   word:  u64   {check: 32 | slot: 16 | kind: 8 | state: 8}, changed only atomically
//! +16  payload      the DMUS_KERNEL_EVENT (40 bytes) or the buffer (buffer_size bytes)
//! +16+payload       = end of the block: the special pool's guard bytes start right here,
//!                     so a one-byte overrun of a buffer is caught when the block is freed
//! ```
//! `check` is a 32-bit fold of the owner cookie mixed with the kind, so one 64-bit load tells
//! "live buffer of this allocator in slot n" from everything else, and the `LIVE -> FREE`
//! transition of a put is one CAS on the same word: of two puts of one block (a double put,
//! even from two CPUs at once) exactly one wins.
//!
//! The first eight bytes are the ones a kernel lookaside list overwrites with its
//! `SLIST_ENTRY` link while a block sits on the list, which is why the atomic word is the
//! second one: a block that went back to the block pool keeps `state = FREE` for as long as
//! nothing reuses its memory, so a late second put is still reported as a double put.

use super::sync::{AtomicU64, Ordering};
use core::ptr::NonNull;

/// Bytes in front of every payload. A multiple of `POOL_ALIGN` so payloads stay 16-aligned.
pub const HEADER_SIZE: usize = 16;

/// Mixed into the owner cookie so that a block of ours is not recognised by memory that
/// merely holds the allocator's address ("MXFLOOP!").
const OWNER_SALT: u64 = 0x4D58_464C_4F4F_5021;

/// The `slot` of a block that came from the block pool rather than the reserve.
pub const NO_SLOT: u16 = 0xFFFF;

/// What a block holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Kind {
    /// A `DMUS_KERNEL_EVENT`.
    Event = 0xE7,
    /// A `GetBuffer` buffer.
    Buffer = 0xB5,
}

/// `state` of a block handed out.
pub const STATE_LIVE: u8 = 0x4C;
/// `state` of a block in the reserve, in the block pool, or on its way there.
pub const STATE_FREE: u8 = 0xF3;

/// The decoded header word.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(transparent)]
pub struct Word(pub u64);

impl Word {
    /// A word for a block of `identity` in `slot` with `state`.
    #[inline]
    pub const fn new(identity: Identity, kind: Kind, slot: u16, state: u8) -> Self {
        let check = identity.check ^ kind_salt(kind);
        Word(((check as u64) << 32) | ((slot as u64) << 16) | ((kind as u64) << 8) | state as u64)
    }

    /// The 32-bit owner/kind check.
    #[inline]
    pub const fn check(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The reserve slot, or [`NO_SLOT`].
    #[inline]
    pub const fn slot(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The kind byte (a [`Kind`] discriminant if the word is ours).
    #[inline]
    pub const fn kind(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// The state byte.
    #[inline]
    pub const fn state(self) -> u8 {
        self.0 as u8
    }

    /// The same word with another state.
    #[inline]
    pub const fn with_state(self, state: u8) -> Self {
        Word((self.0 & !0xFF) | state as u64)
    }

    /// Whether the word names a block of `identity` and `kind` (in any state or slot).
    #[inline]
    pub const fn belongs_to(self, identity: Identity, kind: Kind) -> bool {
        self.check() == identity.check ^ kind_salt(kind) && self.kind() == kind as u8
    }

    /// The owner part of the word: `check` and `kind`, with `slot` and `state` zero. Two
    /// words have the same owner part exactly when both [`Word::belongs_to`] one `identity`
    /// and `kind` (see [`OwnerTag`]).
    #[inline]
    pub const fn owner_part(self) -> u64 {
        self.0 & OWNER_PART_MASK
    }
}

/// The bits of a [`Word`] that [`Word::belongs_to`] compares: `check` and `kind`.
const OWNER_PART_MASK: u64 = 0xFFFF_FFFF_0000_FF00;

/// The owner part of the words of one allocator's blocks of one kind ([`Word::owner_part`]),
/// computed once per lane: the hot paths test `word.owner_part() == tag.0` (one mask, one
/// compare) and build a reserve slot's expected word from it, instead of folding the
/// identity with the kind's salt on every call (the lane's kind is a load, not a constant,
/// so that folding was a load, a conditional move and three more operations per check).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OwnerTag(pub u64);

impl OwnerTag {
    /// The tag of `identity`'s blocks of `kind`.
    #[inline]
    pub const fn new(identity: Identity, kind: Kind) -> Self {
        OwnerTag(Word::new(identity, kind, 0, 0).0)
    }

    /// Whether `word` belongs to this tag's identity and kind (= [`Word::belongs_to`]).
    #[inline(always)]
    pub const fn owns(self, word: Word) -> bool {
        word.owner_part() == self.0
    }

    /// The word of this tag's block in `slot` with `state` (= [`Word::new`]).
    #[inline(always)]
    pub const fn word(self, slot: u16, state: u8) -> Word {
        Word(self.0 | ((slot as u64) << 16) | state as u64)
    }
}

const fn kind_salt(kind: Kind) -> u32 {
    match kind {
        Kind::Event => 0x0000_0000,
        Kind::Buffer => 0x5BF0_0F5B,
    }
}

/// The per-allocator values written into and checked against headers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Identity {
    /// Stored in `owner`.
    pub owner: u64,
    /// The 32-bit fold of `owner` in every word.
    pub check: u32,
}

impl Identity {
    /// The identity of the allocator object at `addr`. Unique among live allocators (their
    /// addresses differ); an allocator created later at the same address shares it.
    pub const fn for_address(addr: usize) -> Self {
        let owner = addr as u64 ^ OWNER_SALT;
        Identity {
            owner,
            check: (owner as u32) ^ ((owner >> 32) as u32).rotate_left(13),
        }
    }
}

/// The header fields of a block.
#[repr(C, align(16))]
pub struct Header {
    /// Owner cookie ([`Identity::owner`]); only meaningful while the block is ours.
    pub owner: AtomicU64,
    /// The [`Word`].
    pub word: AtomicU64,
}

const _: () = assert!(core::mem::size_of::<Header>() == HEADER_SIZE);

impl Header {
    /// The header of the block that starts at `block`.
    ///
    /// # Safety
    /// `block` is the start of a block of at least `HEADER_SIZE` bytes, 16-aligned, that
    /// stays allocated while the returned reference is used.
    #[inline]
    pub unsafe fn at<'a>(block: NonNull<u8>) -> &'a Header {
        // SAFETY: per the caller the memory is valid, aligned and live; `Header` is two
        // atomics, for which every bit pattern is valid, and all access is atomic.
        unsafe { block.cast::<Header>().as_ref() }
    }

    /// Writes a fresh header (the block is exclusively ours).
    #[inline]
    pub fn init(&self, identity: Identity, word: Word) {
        self.owner.store(identity.owner, Ordering::Relaxed);
        self.word.store(word.0, Ordering::Relaxed);
    }

    /// The current word.
    #[inline]
    pub fn load(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }
}

/// The payload of the block at `block`.
///
/// # Safety
/// `block` is the start of one of our blocks (`HEADER_SIZE` + payload bytes).
#[inline]
pub unsafe fn payload_of(block: NonNull<u8>) -> NonNull<u8> {
    // SAFETY: the block is HEADER_SIZE + payload bytes (payload > 0), so the payload start
    // is inside the same allocation.
    unsafe { block.add(HEADER_SIZE) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `OwnerTag` is the precomputed form of `Word::new` / `Word::belongs_to`: the same words,
    /// the same verdicts, including on words that differ from ours in one field only.
    #[test]
    fn owner_tag_matches_word_new_and_belongs_to() {
        let ids = [
            Identity::for_address(0x1000),
            Identity::for_address(0xFFFF_8000_1234_5670),
            Identity::for_address(usize::MAX & !0xF),
        ];
        for &id in &ids {
            for kind in [Kind::Event, Kind::Buffer] {
                let tag = OwnerTag::new(id, kind);
                for slot in [0u16, 1, 0x1234, NO_SLOT] {
                    for state in [STATE_LIVE, STATE_FREE, 0, 0xFF] {
                        let w = Word::new(id, kind, slot, state);
                        assert_eq!(tag.word(slot, state), w);
                        assert!(tag.owns(w));
                        // Flip one bit at a time: `owns` agrees with `belongs_to` on every one
                        // (a flip in `check` or `kind` is foreign, in `slot`/`state` not).
                        for bit in 0..64 {
                            let v = Word(w.0 ^ (1 << bit));
                            for &other in &ids {
                                for k in [Kind::Event, Kind::Buffer] {
                                    assert_eq!(
                                        OwnerTag::new(other, k).owns(v),
                                        v.belongs_to(other, k),
                                        "word {:#x}",
                                        v.0
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
