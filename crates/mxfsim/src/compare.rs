//! Matching the captured message stream against the normalised input: what arrived intact,
//! what is missing (wholly, or a SysEx delivered only up to a cut), and what arrived that was
//! never sent (corruption).

use mxf_portemu::TimedMessage;
use std::collections::HashMap;

/// How far ahead in the input a captured message is looked for before it is declared
/// unexpected.
const LOOKAHEAD: usize = 4096;

/// The outcome of a comparison.
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// Messages captured exactly as sent.
    pub matched: u64,
    /// Messages sent and not captured at all.
    pub missing: u64,
    /// SysEx messages captured only up to a cut (a prefix, marked truncated).
    pub partial: u64,
    /// Normalised bytes of missing messages plus the missing tails of partial ones.
    pub missing_bytes: u64,
    /// Captured messages that match nothing sent (corruption, reordering, invention).
    pub unexpected: u64,
    /// Latency of every matched message (capture time − presentation time), 100 ns.
    pub latencies: Vec<i64>,
    /// The first few problems, in words.
    pub samples: Vec<String>,
}

fn hex(b: &[u8]) -> String {
    let shown: Vec<String> = b.iter().take(12).map(|x| format!("{x:02x}")).collect();
    let more = if b.len() > 12 {
        format!(" .. ({} bytes)", b.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(" "))
}

fn fits(sent: &TimedMessage, got: &TimedMessage) -> Option<bool> {
    if !got.truncated && !sent.truncated && got.bytes == sent.bytes {
        Some(true)
    } else if got.truncated
        && sent.bytes.starts_with(&got.bytes)
        && got.bytes.first() == Some(&0xF0)
    {
        Some(false)
    } else if got.truncated && sent.truncated && got.bytes == sent.bytes {
        Some(true)
    } else {
        None
    }
}

/// Compares `sent` (normalised input, in order) with `got` (captured, in order).
pub fn compare(sent: &[TimedMessage], got: &[TimedMessage]) -> Comparison {
    let mut c = Comparison::default();
    // Where each exact message occurs in the input, for the lookahead.
    let mut index: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, m) in sent.iter().enumerate() {
        index.entry(&m.bytes).or_default().push(i);
    }
    let (mut i, mut j) = (0usize, 0usize);
    // Sent realtime messages matched ahead of their turn (see below).
    let mut taken = vec![false; sent.len()];
    let note = |c: &mut Comparison, s: String| {
        if c.samples.len() < 8 {
            c.samples.push(s);
        }
    };
    while i < sent.len() && j < got.len() {
        if taken[i] {
            i += 1;
            continue;
        }
        // A SysEx cut short on the way is only seen to end at the next status byte, so the
        // realtime messages sent after it (and before that status) arrive inside it, and come
        // out before it: match them with the run of realtime messages after the SysEx.
        if sent[i].bytes.first() == Some(&0xF0)
            && got[j].bytes.len() == 1
            && got[j].bytes[0] >= 0xF8
        {
            let ahead = (i + 1..sent.len())
                .take_while(|&k| sent[k].bytes.first().is_some_and(|&b| b >= 0xF8))
                .find(|&k| !taken[k] && sent[k].bytes == got[j].bytes);
            if let Some(k) = ahead {
                taken[k] = true;
                c.matched += 1;
                c.latencies.push(got[j].time - sent[k].time);
                j += 1;
                continue;
            }
        }
        match fits(&sent[i], &got[j]) {
            Some(true) => {
                c.matched += 1;
                c.latencies.push(got[j].time - sent[i].time);
                i += 1;
                j += 1;
            }
            Some(false) => {
                c.partial += 1;
                c.missing_bytes += (sent[i].bytes.len() - got[j].bytes.len()) as u64;
                note(
                    &mut c,
                    format!(
                        "sysex #{i} delivered {} of {} bytes (truncated)",
                        got[j].bytes.len(),
                        sent[i].bytes.len()
                    ),
                );
                i += 1;
                j += 1;
            }
            None => {
                // Is the captured message further on in the input (the ones before it lost)?
                let ahead = if got[j].truncated {
                    (i + 1..sent.len().min(i + LOOKAHEAD))
                        .find(|&k| fits(&sent[k], &got[j]).is_some())
                } else {
                    index.get(&got[j].bytes[..]).and_then(|v| {
                        let p = v.partition_point(|&k| k <= i);
                        v.get(p).copied().filter(|&k| k < i + LOOKAHEAD)
                    })
                };
                match ahead {
                    Some(k) => {
                        for m in (i..k).filter(|&x| !taken[x]).map(|x| &sent[x]) {
                            c.missing += 1;
                            c.missing_bytes += m.bytes.len() as u64;
                            note(&mut c, format!("missing: {}", hex(&m.bytes)));
                        }
                        i = k;
                    }
                    None => {
                        c.unexpected += 1;
                        note(&mut c, format!("unexpected: {}", hex(&got[j].bytes)));
                        j += 1;
                    }
                }
            }
        }
    }
    for (k, m) in sent.iter().enumerate().skip(i) {
        if taken[k] {
            continue;
        }
        c.missing += 1;
        c.missing_bytes += m.bytes.len() as u64;
        note(&mut c, format!("missing at end: {}", hex(&m.bytes)));
    }
    for m in &got[j..] {
        c.unexpected += 1;
        note(&mut c, format!("unexpected at end: {}", hex(&m.bytes)));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(b: &[u8], t: i64) -> TimedMessage {
        TimedMessage {
            bytes: b.to_vec(),
            time: t,
            truncated: false,
        }
    }

    #[test]
    fn identical_streams_match_with_latency() {
        let s = [m(&[0x90, 1, 2], 10), m(&[0xF8], 20)];
        let g = [m(&[0x90, 1, 2], 15), m(&[0xF8], 40)];
        let c = compare(&s, &g);
        assert_eq!(
            (c.matched, c.missing, c.unexpected, c.partial),
            (2, 0, 0, 0)
        );
        assert_eq!(c.latencies, vec![5, 20]);
    }

    #[test]
    fn realtime_after_a_sysex_cut_on_the_way_arrives_before_it() {
        let s = [
            m(&[0xF0, 1, 2, 3, 0xF7], 0),
            m(&[0xF8], 1),
            m(&[0xFE], 2),
            m(&[0x90, 1, 2], 3),
        ];
        let mut cut = m(&[0xF0, 1], 5);
        cut.truncated = true;
        let g = [m(&[0xF8], 4), m(&[0xFE], 4), cut, m(&[0x90, 1, 2], 5)];
        let c = compare(&s, &g);
        assert_eq!(
            (c.matched, c.partial, c.missing, c.unexpected),
            (3, 1, 0, 0),
            "{c:?}"
        );
        // Realtime that was never sent is still unexpected.
        let g = [m(&[0xFA], 4), g[2].clone(), g[3].clone()];
        let c = compare(&s, &g);
        assert_eq!(c.unexpected, 1, "{c:?}");
    }

    #[test]
    fn drops_partials_and_corruption_are_told_apart() {
        let s = [
            m(&[0x90, 1, 2], 0),
            m(&[0xF0, 1, 2, 3, 0xF7], 0),
            m(&[0xC0, 5], 0),
            m(&[0xB0, 7, 9], 0),
        ];
        let mut cut = m(&[0xF0, 1], 0);
        cut.truncated = true;
        let g = [cut, m(&[0xC0, 6], 0), m(&[0xB0, 7, 9], 0)];
        let c = compare(&s, &g);
        assert_eq!(c.missing, 2, "{c:?}"); // 90 .. and C0 05
        assert_eq!(c.partial, 1);
        assert_eq!(c.unexpected, 1); // C0 06 was never sent
        assert_eq!(c.matched, 1);
        assert_eq!(c.missing_bytes, 3 + 3 + 2);
    }
}
