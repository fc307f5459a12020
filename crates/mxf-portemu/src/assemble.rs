//! [`Assembler`]: timed MIDI bytes → whole messages with the time each one completed, in the
//! order they complete (running status expanded, realtime lifted out of SysEx). Used on both
//! ends of the loopback, so input and capture are normalised by the same rules (those of
//! `mxf_core::midi::Parser`).

use mxf_core::midi::{Event, Parser, ParserStats};

/// One complete (or cut) MIDI message and when it completed, in 100 ns units.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TimedMessage {
    /// The message's bytes (a SysEx from `F0`, with `F7` unless `truncated`).
    pub bytes: Vec<u8>,
    /// Time of the chunk holding the byte that completed (or cut) the message.
    pub time: i64,
    /// A SysEx cut short by a status byte or by the end of the stream.
    pub truncated: bool,
}

/// Streaming assembler over the core's parser.
#[derive(Default, Debug)]
pub struct Assembler {
    parser: Parser,
    sysex: Vec<u8>,
    sysex_time: i64,
    out: Vec<TimedMessage>,
}

impl Assembler {
    /// A fresh assembler (no running status).
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk of bytes that all arrived (or are due) at `time`.
    pub fn feed(&mut self, bytes: &[u8], time: i64) {
        let mut input = bytes;
        while let Some(ev) = self.parser.next(&mut input) {
            match ev {
                Event::Message(m) => self.out.push(TimedMessage {
                    bytes: m.as_bytes().to_vec(),
                    time,
                    truncated: false,
                }),
                Event::SysExStart => {
                    self.sysex.clear();
                    self.sysex.push(0xF0);
                    self.sysex_time = time;
                }
                Event::SysExData(d) => {
                    self.sysex.extend_from_slice(d);
                    self.sysex_time = time;
                }
                Event::SysExEnd => {
                    self.sysex.push(0xF7);
                    self.out.push(TimedMessage {
                        bytes: std::mem::take(&mut self.sysex),
                        time,
                        truncated: false,
                    });
                }
                Event::SysExCut => self.cut(),
            }
        }
    }

    fn cut(&mut self) {
        self.out.push(TimedMessage {
            bytes: std::mem::take(&mut self.sysex),
            time: self.sysex_time,
            truncated: true,
        });
    }

    /// Ends the stream: an open SysEx is emitted as truncated.
    pub fn finish(&mut self) {
        if self.parser.finish() {
            self.cut();
        }
    }

    /// Whether a SysEx is open.
    pub fn in_sysex(&self) -> bool {
        self.parser.in_sysex()
    }

    /// The messages assembled so far.
    pub fn messages(&self) -> &[TimedMessage] {
        &self.out
    }

    /// Takes the messages assembled so far.
    pub fn take(&mut self) -> Vec<TimedMessage> {
        std::mem::take(&mut self.out)
    }

    /// The parser's byte accounting.
    pub fn stats(&self) -> &ParserStats {
        self.parser.stats()
    }
}

/// The normalised message list of a timed byte stream (chunks in order), closed at the end.
pub fn normalize<'a>(chunks: impl IntoIterator<Item = (i64, &'a [u8])>) -> Vec<TimedMessage> {
    let mut a = Assembler::new();
    for (t, b) in chunks {
        a.feed(b, t);
    }
    a.finish();
    a.take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_status_and_realtime_in_sysex() {
        let chunks: [(i64, &[u8]); 3] = [
            (10, &[0x90, 0x3C, 0x40, 0x3E]),
            (20, &[0x41, 0xF0, 0x01, 0xF8, 0x02]),
            (30, &[0xF7, 0xC0, 0x05]),
        ];
        let m = normalize(chunks);
        let got: Vec<(Vec<u8>, i64)> = m.iter().map(|m| (m.bytes.clone(), m.time)).collect();
        assert_eq!(
            got,
            vec![
                (vec![0x90, 0x3C, 0x40], 10),
                (vec![0x90, 0x3E, 0x41], 20),
                (vec![0xF8], 20),
                (vec![0xF0, 0x01, 0x02, 0xF7], 30),
                (vec![0xC0, 0x05], 30),
            ]
        );
    }

    #[test]
    fn cut_and_open_sysex_are_truncated() {
        let m = normalize([(1, &[0xF0, 0x01, 0x90, 0x3C, 0x40, 0xF0, 0x02][..])]);
        assert_eq!(m.len(), 3);
        assert!(m[0].truncated && m[0].bytes == [0xF0, 0x01]);
        assert!(!m[1].truncated);
        assert!(m[2].truncated && m[2].bytes == [0xF0, 0x02]);
    }
}
