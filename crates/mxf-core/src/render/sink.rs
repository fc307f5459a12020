//! [`TargetSink`]: the serializer's byte sink in front of a [`RenderTarget`], which drops the
//! rest of a SysEx once one of its fragments was refused.

use super::RenderTarget;
use crate::midi::is_realtime;
use crate::serialize::ByteSink;

/// What the sink remembers between writes (and batches).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct SinkState {
    /// A SysEx is being written (its `F0` went by, its `F7` not yet).
    in_sysex: bool,
    /// A fragment of the current SysEx was refused: its remaining fragments are dropped.
    skipping: bool,
    pub(crate) bytes_rendered: u64,
    pub(crate) bytes_dropped: u64,
    pub(crate) writes_dropped: u64,
    pub(crate) sysex_dropped: u64,
}

impl SinkState {
    /// Forgets a SysEx in progress (the stream stopped).
    pub(crate) fn reset(&mut self) {
        self.in_sysex = false;
        self.skipping = false;
    }
}

/// Writes each payload the serializer hands over to the target as one all-or-nothing write.
pub(crate) struct TargetSink<'a, T: RenderTarget + ?Sized> {
    pub(crate) target: &'a T,
    pub(crate) time: i64,
    pub(crate) state: &'a mut SinkState,
    /// Bytes accepted by the target during this batch.
    pub(crate) accepted: u64,
}

impl<T: RenderTarget + ?Sized> ByteSink for TargetSink<'_, T> {
    fn write(&mut self, bytes: &[u8]) {
        let Some((&first, _)) = bytes.split_first() else {
            return;
        };
        let realtime = bytes.len() == 1 && is_realtime(first);
        if !realtime {
            if first == 0xF0 {
                self.state.in_sysex = true;
                self.state.skipping = false;
            } else if first >= 0x80 && first != 0xF7 {
                self.state.in_sysex = false;
                self.state.skipping = false;
            }
        }
        let sysex_piece = self.state.in_sysex && !realtime;
        let ends_sysex = sysex_piece && bytes.last() == Some(&0xF7);
        let n = bytes.len() as u64;
        if sysex_piece && self.state.skipping {
            self.state.bytes_dropped += n;
            self.state.writes_dropped += 1;
        } else if self.target.write(bytes, self.time) {
            self.state.bytes_rendered += n;
            self.accepted += n;
        } else {
            self.state.bytes_dropped += n;
            self.state.writes_dropped += 1;
            if sysex_piece && !ends_sysex {
                self.state.skipping = true;
                self.state.sysex_dropped += 1;
            }
        }
        if ends_sysex {
            self.state.in_sysex = false;
            self.state.skipping = false;
        }
    }
}
