//! An independent, deliberately naive model of what capture → serialize must produce: a
//! byte-by-byte walk with `Vec`s, giving the expected events (items) in order.

/// One expected event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub bytes: Vec<u8>,
    /// `Some(n)`: a fragment of the n-th SysEx of the stream.
    pub sysex: Option<usize>,
    /// The `INCOMPLETE` flag the event must carry: set on every fragment of a SysEx spread
    /// over several events, and on a cut SysEx's last one; clear on a whole message.
    pub incomplete: bool,
}

fn data_count(status: u8) -> usize {
    match status {
        0x80..=0xBF | 0xE0..=0xEF | 0xF2 => 2,
        0xC0..=0xDF | 0xF1 | 0xF3 => 1,
        _ => 0,
    }
}

/// The expected events for `input` with SysEx fragments of `cap` bytes, the stream ended
/// (as `reset` does) after the last byte.
pub fn expected_items(input: &[u8], cap: usize) -> Vec<Item> {
    let mut out = Vec::new();
    let mut running: Option<u8> = None;
    let mut msg: Vec<u8> = Vec::new();
    let mut need = 0usize; // total length of `msg` when complete; 0 = none in progress
    let mut sysex: Option<Vec<u8>> = None; // held (not yet emitted) bytes of the SysEx
    let mut sysex_no = 0usize;
    let mut emitted = false; // a fragment of the current SysEx went out already
    let short = |out: &mut Vec<Item>, b: Vec<u8>| {
        out.push(Item {
            bytes: b,
            sysex: None,
            incomplete: false,
        })
    };
    for &b in input {
        if b >= 0xF8 {
            short(&mut out, vec![b]);
            continue;
        }
        if let Some(held) = sysex.as_mut() {
            if b < 0x80 {
                held.push(b);
                if held.len() == cap {
                    emitted = true;
                    out.push(Item {
                        bytes: std::mem::take(held),
                        sysex: Some(sysex_no),
                        incomplete: true,
                    });
                }
                continue;
            }
            let mut held = sysex.take().unwrap();
            let complete = b == 0xF7;
            if complete {
                held.push(b);
            }
            if !held.is_empty() {
                out.push(Item {
                    bytes: held,
                    sysex: Some(sysex_no),
                    incomplete: !complete || emitted,
                });
            }
            sysex_no += 1;
            if complete {
                continue;
            }
        }
        if b < 0x80 {
            if need == 0 {
                match running {
                    Some(rs) => {
                        msg = vec![rs];
                        need = 1 + data_count(rs);
                    }
                    None => continue, // stray
                }
            }
            msg.push(b);
            if msg.len() == need {
                short(&mut out, std::mem::take(&mut msg));
                need = 0;
            }
            continue;
        }
        // A status byte 80..=F7: whatever was in progress is truncated.
        msg.clear();
        need = 0;
        if b < 0xF0 {
            running = Some(b);
            msg = vec![b];
            need = 1 + data_count(b);
            continue;
        }
        running = None;
        match b {
            0xF0 => {
                sysex = Some(vec![0xF0]);
                emitted = false;
            }
            0xF7 => {} // stray
            0xF1..=0xF3 => {
                msg = vec![b];
                need = 1 + data_count(b);
            }
            _ => short(&mut out, vec![b]), // F4, F5, F6
        }
    }
    if let Some(held) = sysex.take().filter(|h| !h.is_empty()) {
        out.push(Item {
            bytes: held,
            sysex: Some(sysex_no),
            incomplete: true,
        });
    }
    out
}

/// The bytes the items serialise to.
pub fn concat(items: &[Item]) -> Vec<u8> {
    items.iter().flat_map(|i| i.bytes.iter().copied()).collect()
}
