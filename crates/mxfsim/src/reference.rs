//! The expected side of the comparison: a minimal MIDI 1.0 normaliser of mxfsim's own,
//! written apart from the core's parser (`mxf_core::midi::Parser`) on purpose. The capture
//! side runs through the core's parser (in the capture packager and the port's sink); if the
//! expected side did too, a parser bug would change both sides alike and cancel itself out.
//!
//! The rules are MIDI 1.0's, with the same choices the project documents for its parser:
//! running status for channel messages (cleared by system common and `F0`, kept by realtime);
//! realtime (`F8..=FF`) taken out where it occurs, inside messages and SysEx included; the
//! undefined `F4`/`F5` one-byte messages like `F6`; a status byte before a message is complete
//! drops the incomplete message, and cuts a SysEx in progress (delivered truncated); a data
//! byte with nothing to complete and `F7` outside a SysEx are stray (dropped).

use mxf_portemu::TimedMessage;

/// Data bytes after `status`, for statuses that start a fixed-length message.
fn data_bytes(status: u8) -> Option<usize> {
    match status {
        0x80..=0xBF | 0xE0..=0xEF | 0xF2 => Some(2),
        0xC0..=0xDF | 0xF1 | 0xF3 => Some(1),
        0xF4..=0xF6 | 0xF8..=0xFF => Some(0),
        _ => None,
    }
}

#[derive(Default)]
struct State {
    out: Vec<TimedMessage>,
    /// Running status (a channel status), if any.
    running: Option<u8>,
    /// The message being assembled (status first) and how many data bytes it needs.
    msg: Vec<u8>,
    need: usize,
    /// The SysEx in progress (from `F0`), and the time of its last byte so far.
    sysex: Option<Vec<u8>>,
    sysex_time: i64,
}

impl State {
    fn emit(&mut self, bytes: Vec<u8>, time: i64, truncated: bool) {
        self.out.push(TimedMessage {
            bytes,
            time,
            truncated,
        });
    }

    fn cut_sysex(&mut self) {
        if let Some(s) = self.sysex.take() {
            let t = self.sysex_time;
            self.emit(s, t, true);
        }
    }

    fn byte(&mut self, b: u8, time: i64) {
        if b >= 0xF8 {
            self.emit(vec![b], time, false);
            return;
        }
        if b < 0x80 {
            if let Some(s) = self.sysex.as_mut() {
                s.push(b);
                self.sysex_time = time;
                return;
            }
            if self.msg.is_empty() {
                match self.running {
                    Some(r) => {
                        self.msg.push(r);
                        self.need = data_bytes(r).unwrap_or(0);
                    }
                    None => return, // stray
                }
            }
            self.msg.push(b);
            if self.msg.len() == self.need + 1 {
                let m = std::mem::take(&mut self.msg);
                self.emit(m, time, false);
            }
            return;
        }
        // A status byte (not realtime): whatever was incomplete ends here.
        self.msg.clear();
        if b == 0xF7 {
            if let Some(mut s) = self.sysex.take() {
                s.push(0xF7);
                self.emit(s, time, false);
            }
            self.running = None;
            return;
        }
        self.cut_sysex();
        if b == 0xF0 {
            self.running = None;
            self.sysex = Some(vec![0xF0]);
            self.sysex_time = time;
            return;
        }
        let need = data_bytes(b).unwrap_or(0);
        self.running = (b < 0xF0).then_some(b);
        if need == 0 {
            self.emit(vec![b], time, false);
        } else {
            self.msg.push(b);
            self.need = need;
        }
    }
}

/// The normalised messages of timed chunks of MIDI bytes (in order), each message timed by
/// the chunk that completed it (a cut SysEx: by the chunk of its last byte), in the order
/// they complete; a SysEx open at the end is delivered truncated.
pub fn normalize<'a>(chunks: impl IntoIterator<Item = (i64, &'a [u8])>) -> Vec<TimedMessage> {
    let mut s = State::default();
    for (time, bytes) in chunks {
        for &b in bytes {
            s.byte(b, time);
        }
    }
    s.cut_sysex();
    s.out
}

/// The SysEx the chunks leave open at their end (an `F0` with no `F7` nor other status byte
/// after it), as the number of its data bytes (realtime bytes inside it not counted), if
/// there is one: the SysEx [`normalize`] delivers truncated, cut by the end of the input.
pub fn sysex_open_at_end<'a>(chunks: impl IntoIterator<Item = (i64, &'a [u8])>) -> Option<usize> {
    let mut s = State::default();
    for (time, bytes) in chunks {
        for &b in bytes {
            s.byte(b, time);
        }
    }
    s.sysex.map(|v| v.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(chunks: &[(i64, &[u8])]) -> Vec<(Vec<u8>, i64, bool)> {
        normalize(chunks.iter().copied())
            .into_iter()
            .map(|m| (m.bytes, m.time, m.truncated))
            .collect()
    }

    #[test]
    fn running_status_expanded_and_realtime_lifted_out_of_sysex_and_messages() {
        let got = msgs(&[
            (10, &[0x90, 0x3C, 0x40, 0x3E]),
            (20, &[0x41, 0xF0, 0x01, 0xF8, 0x02]),
            (30, &[0xF7, 0xE0, 0x01, 0xFE, 0x02]),
        ]);
        assert_eq!(
            got,
            vec![
                (vec![0x90, 0x3C, 0x40], 10, false),
                (vec![0x90, 0x3E, 0x41], 20, false),
                (vec![0xF8], 20, false),
                (vec![0xF0, 0x01, 0x02, 0xF7], 30, false),
                (vec![0xFE], 30, false),
                (vec![0xE0, 0x01, 0x02], 30, false),
            ]
        );
    }

    #[test]
    fn cuts_strays_and_system_common() {
        let got = msgs(&[
            (1, &[0x05, 0xF0, 0x01]),
            (2, &[0x90, 0x3C, 0xF6, 0x40, 0xF7, 0xF4]),
            (3, &[0xF0, 0x02]),
        ]);
        assert_eq!(
            got,
            vec![
                (vec![0xF0, 0x01], 1, true),
                (vec![0xF6], 2, false),
                (vec![0xF4], 2, false),
                (vec![0xF0, 0x02], 3, true),
            ]
        );
    }

    #[test]
    fn a_sysex_open_at_the_end_is_found_with_its_data_length() {
        let open = |c: &[(i64, &[u8])]| sysex_open_at_end(c.iter().copied());
        assert_eq!(open(&[(0, &[0xF0])]), Some(0));
        assert_eq!(open(&[(0, &[0xF0, 0xF8]), (1, &[0xFE])]), Some(0));
        assert_eq!(
            open(&[(0, &[0x90, 1, 2, 0xF0, 1]), (1, &[2, 0xF8])]),
            Some(2)
        );
        assert_eq!(open(&[(0, &[0xF0, 1, 0xF7])]), None);
        assert_eq!(open(&[(0, &[0xF0, 1, 0x90])]), None);
        assert_eq!(open(&[]), None);
    }

    /// The reference agrees with the port emulator's normaliser (over the core's parser) on
    /// the built-in workload, running status included: both read MIDI 1.0 alike.
    #[test]
    fn agrees_with_the_core_parser_on_the_workload() {
        let units = crate::workload::build(&crate::workload::WorkloadSpec::quick(5));
        let chunks = || units.iter().map(|u| (u.offset, &u.bytes[..]));
        let core = mxf_portemu::normalize(chunks());
        let ours = normalize(chunks());
        assert!(ours.len() > 3000);
        assert_eq!(ours, core);
    }
}
