//! The merge rule of a cable: what kind of write a render stream makes, and which writer holds
//! the cable while its SysEx is in pieces.
//!
//! A render stream writes one normalised message per write, or one *piece* of a SysEx (see
//! `render::play`: the first piece starts with `F0`, the last ends with `F7`). Writes are
//! serialised by the cable's lock, so a message in one write is atomic on its own. A SysEx in
//! several pieces is not: between its pieces another writer could write. So its writer becomes
//! the cable's *SysEx owner* from its first piece until its last piece, any other write of it
//! that is not a continuation (its application cut the SysEx), a certain refusal of one of its
//! pieces (the render side then skips the rest), or its stream ending
//! ([`super::Cable::end_writer`]). While the cable is owned, the other writers' writes are
//! refused with `Full` (they wait for the kick that [`super::Written::released`] asks for),
//! except single realtime bytes (`F8`..`FF`), which pass at once, as on a wire.
//!
//! An owner that never finishes its SysEx (its application stops sending in the middle of one)
//! holds the other writers until it sends something else or its stream stops; the render side
//! of one stream cannot be made to finish another's SysEx, and cutting it would put a hole into
//! what every reader sees.

/// Most writers (render streams) a cable tells apart: 8 per render pin, two render pins.
pub const MAX_WRITERS: usize = 16;

/// A writer of a cable: a render stream, by the small number the miniport hands out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WriterId(u8);

impl WriterId {
    /// Writer `n`, if `n < MAX_WRITERS`.
    pub const fn new(n: usize) -> Option<Self> {
        if n < MAX_WRITERS {
            Some(Self(n as u8))
        } else {
            None
        }
    }

    /// Its number.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a write is, from its first and last byte.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// One realtime byte (`F8`..`FF`): passes whoever owns the cable.
    Realtime,
    /// A message in one write (a whole SysEx included).
    Message,
    /// The first piece of a SysEx in several (starts with `F0`, does not end with `F7`).
    SysexStart,
    /// A later piece (starts with a data byte or is the `F7`); `end` if it ends with `F7`.
    Continuation {
        /// It is the last piece.
        end: bool,
    },
}

impl Kind {
    /// The kind of the non-empty write whose first byte is `first`, last byte `last`, of
    /// `len` bytes.
    pub(crate) const fn of(first: u8, last: u8, len: usize) -> Self {
        if len == 1 && first >= 0xF8 {
            Kind::Realtime
        } else if first == 0xF0 {
            if len >= 2 && last == 0xF7 {
                Kind::Message
            } else {
                Kind::SysexStart
            }
        } else if first < 0x80 || first == 0xF7 {
            Kind::Continuation { end: last == 0xF7 }
        } else {
            Kind::Message
        }
    }

    /// Whether the write is a message of its own for the feedback guard (a SysEx counts once,
    /// at its first piece).
    pub(crate) const fn is_message(self) -> bool {
        !matches!(self, Kind::Continuation { .. })
    }
}

/// Who owns the cable, and whether anybody waited for it.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Owner {
    owner: Option<WriterId>,
    /// A writer was refused because of the owner since it took the cable: a release kicks.
    waited: bool,
}

/// What the merge rule says of one write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Admit {
    /// Another writer owns the cable: refuse with `Full` and wait.
    Wait,
    /// Go on; `own` if this write is the continuation of the writer's own SysEx.
    Pass {
        /// A piece of the SysEx the writer owns the cable for.
        own: bool,
        /// The writer owned the cable and this write ends that (its SysEx was cut): the
        /// readers' SysEx state ends before the write.
        cut: bool,
    },
}

impl Owner {
    /// The owner now.
    pub(crate) const fn get(&self) -> Option<WriterId> {
        self.owner
    }

    /// Applies the rule to a write of kind `k` by `w`.
    pub(crate) fn admit(&mut self, w: WriterId, k: Kind) -> Admit {
        match self.owner {
            Some(o) if o != w => {
                if k == Kind::Realtime {
                    Admit::Pass {
                        own: false,
                        cut: false,
                    }
                } else {
                    self.waited = true;
                    Admit::Wait
                }
            }
            Some(_) => match k {
                Kind::Realtime => Admit::Pass {
                    own: false,
                    cut: false,
                },
                Kind::Continuation { .. } => Admit::Pass {
                    own: true,
                    cut: false,
                },
                Kind::Message | Kind::SysexStart => Admit::Pass {
                    own: false,
                    cut: true,
                },
            },
            None => Admit::Pass {
                own: false,
                cut: false,
            },
        }
    }

    /// `w` takes the cable (its SysEx start was accepted).
    pub(crate) fn take(&mut self, w: WriterId) {
        self.owner = Some(w);
        self.waited = false;
    }

    /// The owner lets go; returns whether a writer waited (and so needs a kick).
    pub(crate) fn release(&mut self) -> bool {
        self.owner = None;
        core::mem::take(&mut self.waited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_first_and_last_byte() {
        assert_eq!(Kind::of(0xF8, 0xF8, 1), Kind::Realtime);
        assert_eq!(Kind::of(0xF8, 0xF8, 2), Kind::Message);
        assert_eq!(Kind::of(0x90, 0x40, 3), Kind::Message);
        assert_eq!(Kind::of(0xF0, 0xF7, 5), Kind::Message);
        assert_eq!(Kind::of(0xF0, 0x12, 5), Kind::SysexStart);
        assert_eq!(Kind::of(0xF0, 0xF0, 1), Kind::SysexStart);
        assert_eq!(Kind::of(0x12, 0x13, 5), Kind::Continuation { end: false });
        assert_eq!(Kind::of(0x12, 0xF7, 5), Kind::Continuation { end: true });
        assert_eq!(Kind::of(0xF7, 0xF7, 1), Kind::Continuation { end: true });
        assert!(!Kind::Continuation { end: true }.is_message());
        assert!(Kind::SysexStart.is_message());
    }

    #[test]
    fn an_owner_holds_others_but_not_realtime_and_a_release_reports_waiters() {
        let (a, b) = (WriterId::new(0).unwrap(), WriterId::new(15).unwrap());
        assert_eq!(WriterId::new(MAX_WRITERS), None);
        let mut o = Owner::default();
        o.take(a);
        assert_eq!(
            o.admit(b, Kind::Realtime),
            Admit::Pass {
                own: false,
                cut: false
            }
        );
        assert!(!o.release(), "nobody waited");
        o.take(a);
        assert_eq!(o.admit(b, Kind::Message), Admit::Wait);
        assert_eq!(
            o.admit(a, Kind::Continuation { end: false }),
            Admit::Pass {
                own: true,
                cut: false
            }
        );
        assert_eq!(
            o.admit(a, Kind::Message),
            Admit::Pass {
                own: false,
                cut: true
            }
        );
        assert!(o.release(), "b waited");
        assert_eq!(o.get(), None);
    }
}
