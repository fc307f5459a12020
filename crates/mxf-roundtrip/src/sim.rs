//! An in-memory loopback that behaves like WinMM in front of a loopback driver, so the run
//! loop, checker and report can be exercised anywhere, and faults can be injected to prove
//! that the checker catches them.
//!
//! Modelled WinMM behaviour: long data is written into fixed-size input buffers, and a buffer
//! is returned (`MIM_LONGDATA`) when it is full or when an `F7` has been written to it, so a
//! big SysEx arrives in several buffers and a SysEx without its `F7` is held back until more
//! bytes fill the buffer. Short messages come back as packed DWORDs whose unused bytes may
//! hold garbage (`dirty_unused_bytes`). A driver-injected active-sensing byte (`FE`) can be
//! interleaved into long data.
//!
//! Time is virtual and deterministic: sending `n` bytes advances the clock by
//! `n * per_byte_ns`, and every message arrives `latency_us` after its send finished.

use crate::transport::{Event, Transport, TransportError};
use std::collections::VecDeque;
use std::time::Duration;

/// A deliberate defect, addressed by the 0-based index of the send call (short and long
/// sends counted together).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// XOR bit 0 of byte `offset` of the message.
    FlipBit {
        /// Send index.
        message: usize,
        /// Byte offset within the message.
        offset: usize,
    },
    /// Remove byte `offset` of a SysEx.
    DropByte {
        /// Send index.
        message: usize,
        /// Byte offset within the message.
        offset: usize,
    },
    /// Lose the whole message.
    DropMessage {
        /// Send index.
        message: usize,
    },
    /// Deliver this message after the next one.
    SwapWithNext {
        /// Send index.
        message: usize,
    },
    /// Deliver only the first `keep` bytes of a SysEx.
    Truncate {
        /// Send index.
        message: usize,
        /// Bytes kept.
        keep: usize,
    },
}

/// Behaviour of the simulated loopback.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Size of each WinMM input buffer (`dwBufferLength`).
    pub in_buffer_size: usize,
    /// Time to send one byte, ns (10 ns ≈ 100 MB/s).
    pub per_byte_ns: u64,
    /// Delay from the end of a send to the arrival of its last byte, µs.
    pub latency_us: u64,
    /// Fill the unused bytes of received short-message DWORDs with garbage.
    pub dirty_unused_bytes: bool,
    /// Insert an `FE` into long data after every this many bytes (0 = never).
    pub active_sensing_every: usize,
    /// Defects to inject.
    pub faults: Vec<Fault>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            in_buffer_size: 16 * 1024,
            per_byte_ns: 10,
            latency_us: 50,
            dirty_unused_bytes: true,
            active_sensing_every: 0,
            faults: Vec::new(),
        }
    }
}

/// The simulated loopback.
#[derive(Debug)]
pub struct SimLoopback {
    cfg: SimConfig,
    clock_us: u64,
    sends: usize,
    /// Events of a message held back by [`Fault::SwapWithNext`].
    held: Vec<Event>,
    /// The input buffer WinMM is currently filling.
    fill: Vec<u8>,
    long_bytes_since_sensing: usize,
    queue: VecDeque<Event>,
}

impl SimLoopback {
    /// A loopback with the given behaviour.
    pub fn new(cfg: SimConfig) -> Self {
        Self {
            cfg,
            clock_us: 0,
            sends: 0,
            held: Vec::new(),
            fill: Vec::new(),
            long_bytes_since_sensing: 0,
            queue: VecDeque::new(),
        }
    }

    fn faults_for(&self, message: usize) -> impl Iterator<Item = Fault> + '_ {
        self.cfg.faults.iter().copied().filter(move |f| {
            let m = match *f {
                Fault::FlipBit { message, .. }
                | Fault::DropByte { message, .. }
                | Fault::DropMessage { message }
                | Fault::SwapWithNext { message }
                | Fault::Truncate { message, .. } => message,
            };
            m == message
        })
    }

    /// Applies byte-level faults; returns `None` if the message is dropped, and whether it
    /// is to be held back behind the next one.
    fn mangle(&self, index: usize, mut bytes: Vec<u8>) -> Option<(Vec<u8>, bool)> {
        let mut hold = false;
        for f in self.faults_for(index) {
            match f {
                Fault::FlipBit { offset, .. } => {
                    if let Some(b) = bytes.get_mut(offset) {
                        *b ^= 1;
                    }
                }
                Fault::DropByte { offset, .. } => {
                    if offset < bytes.len() {
                        bytes.remove(offset);
                    }
                }
                Fault::DropMessage { .. } => return None,
                Fault::SwapWithNext { .. } => hold = true,
                Fault::Truncate { keep, .. } => bytes.truncate(keep),
            }
        }
        Some((bytes, hold))
    }

    fn begin_send(&mut self, len: usize) -> (usize, u64) {
        let index = self.sends;
        self.sends += 1;
        self.clock_us += (len as u64 * self.cfg.per_byte_ns).div_ceil(1000);
        (index, self.clock_us + self.cfg.latency_us)
    }

    fn release(&mut self, events: Vec<Event>, hold: bool) {
        if hold {
            self.held.extend(events);
        } else {
            self.queue.extend(events);
            let held = std::mem::take(&mut self.held);
            self.queue.extend(held);
        }
    }

    /// Writes long data into input buffers the way WinMM does, returning the buffers that
    /// became done.
    fn write_long(&mut self, bytes: &[u8], at_us: u64) -> Vec<Event> {
        let cap = self.cfg.in_buffer_size.max(1);
        let mut done = Vec::new();
        for &b in bytes {
            let sensing = self.cfg.active_sensing_every;
            if sensing > 0 && self.long_bytes_since_sensing == sensing {
                self.long_bytes_since_sensing = 0;
                self.push_long_byte(0xFE, cap, at_us, &mut done);
            }
            self.long_bytes_since_sensing += 1;
            self.push_long_byte(b, cap, at_us, &mut done);
        }
        done
    }

    fn push_long_byte(&mut self, b: u8, cap: usize, at_us: u64, done: &mut Vec<Event>) {
        self.fill.push(b);
        if self.fill.len() >= cap || b == 0xF7 {
            done.push(Event::Long(std::mem::take(&mut self.fill), at_us));
        }
    }
}

impl Transport for SimLoopback {
    fn now_us(&self) -> u64 {
        self.clock_us
    }

    fn send_short(&mut self, packed: u32) -> Result<(), TransportError> {
        let bytes = packed.to_le_bytes();
        let len = crate::patterns::short_len(bytes[0]).unwrap_or(3);
        let (index, at) = self.begin_send(len);
        let Some((mut bytes, hold)) = self.mangle(index, bytes[..len].to_vec()) else {
            return Ok(());
        };
        bytes.resize(4, 0);
        if self.cfg.dirty_unused_bytes {
            for b in bytes.iter_mut().skip(len) {
                *b = 0xA5;
            }
        }
        let word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        self.release(vec![Event::Short(word, at)], hold);
        Ok(())
    }

    fn send_long(&mut self, msg: &[u8]) -> Result<(), TransportError> {
        let (index, at) = self.begin_send(msg.len());
        let Some((bytes, hold)) = self.mangle(index, msg.to_vec()) else {
            return Ok(());
        };
        let events = self.write_long(&bytes, at);
        self.release(events, hold);
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Option<Event>, TransportError> {
        match self.queue.pop_front() {
            Some(ev) => {
                let ts = match &ev {
                    Event::Short(_, t) | Event::Long(_, t) | Event::LongError(_, t) => *t,
                };
                self.clock_us = self.clock_us.max(ts);
                Ok(Some(ev))
            }
            None => {
                self.clock_us += u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX / 4);
                Ok(None)
            }
        }
    }

    fn describe(&self) -> String {
        format!(
            "simulated WinMM loopback ({} B input buffers, {} ns/byte, {} µs latency{})",
            self.cfg.in_buffer_size,
            self.cfg.per_byte_ns,
            self.cfg.latency_us,
            if self.cfg.faults.is_empty() {
                String::new()
            } else {
                format!(", faults {:?}", self.cfg.faults)
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut SimLoopback) -> Vec<Event> {
        std::iter::from_fn(|| s.recv(Duration::ZERO).unwrap()).collect()
    }

    #[test]
    fn long_sysex_split_into_full_buffers_then_f7_buffer() {
        let mut s = SimLoopback::new(SimConfig {
            in_buffer_size: 4,
            ..SimConfig::default()
        });
        s.send_long(&[0xF0, 1, 2, 3, 4, 5, 0xF7]).unwrap();
        s.send_long(&[0xF0, 0xF7]).unwrap();
        let lens: Vec<Vec<u8>> = drain(&mut s)
            .into_iter()
            .map(|e| match e {
                Event::Long(v, _) => v,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            lens,
            [vec![0xF0, 1, 2, 3], vec![4, 5, 0xF7], vec![0xF0, 0xF7]]
        );
    }

    #[test]
    fn shorts_get_dirty_unused_bytes_and_swap_fault_reorders() {
        let mut s = SimLoopback::new(SimConfig {
            faults: vec![Fault::SwapWithNext { message: 0 }],
            ..SimConfig::default()
        });
        s.send_short(0x05C3).unwrap();
        s.send_short(0x403C90).unwrap();
        let ev = drain(&mut s);
        assert!(matches!(ev[0], Event::Short(0xA540_3C90, _)), "{ev:?}");
        assert!(matches!(ev[1], Event::Short(0xA5A5_05C3, _)), "{ev:?}");
    }

    #[test]
    fn virtual_clock_models_rate_and_latency() {
        let mut s = SimLoopback::new(SimConfig {
            per_byte_ns: 1000,
            latency_us: 7,
            ..SimConfig::default()
        });
        let t0 = s.now_us();
        s.send_long(&[0xF0, 1, 2, 0xF7]).unwrap();
        assert_eq!(s.now_us() - t0, 4);
        match s.recv(Duration::from_millis(1)).unwrap() {
            Some(Event::Long(_, t)) => assert_eq!(t, t0 + 4 + 7),
            other => panic!("{other:?}"),
        }
        assert_eq!(s.recv(Duration::from_millis(2)).unwrap(), None);
        assert_eq!(s.now_us(), t0 + 11 + 2000);
    }
}
