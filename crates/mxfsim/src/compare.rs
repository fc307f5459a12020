//! Matching the captured message stream against the normalised input: what arrived intact,
//! what is missing (wholly, or a SysEx delivered only up to a cut), and what arrived that was
//! never sent (corruption).

use mxf_portemu::TimedMessage;
use std::collections::HashMap;
use std::ops::Range;

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
    /// Of `matched`, SysEx the application sent cut and captured exactly so.
    pub matched_truncated: u64,
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

fn is_realtime(m: &TimedMessage) -> bool {
    matches!(m.bytes[..], [b] if b >= 0xF8)
}

/// Where the realtime messages captured ahead of a truncated SysEx may come from.
///
/// A SysEx cut on the way (the rest of it given up by the render side or the capture
/// packager, or the application's own SysEx whose cutting status was dropped) is seen to end
/// only when the capture side receives the next status byte that is not realtime: that of the
/// next message *delivered*. Messages dropped whole after it put no byte on the wire, and the
/// packager hands realtime bytes on at once while it holds the next SysEx's first bytes (its
/// `F0` included) for a fragment. So every realtime message sent after the cut SysEx and
/// before the next delivered non-realtime message is captured before the cut SysEx, across
/// any number of messages dropped whole in between (which are then missing). A SysEx cut
/// right after it is part of the same window: the realtime bytes inside that one (before the
/// status byte that cuts it on the wire, which may come later than the application's, when
/// the render side drops an incomplete message that cut it) come out ahead of both.
struct CutWindow {
    /// Index in `got` of the truncated SysEx.
    cut: usize,
    /// Index in `sent` of the SysEx it was cut from.
    from: usize,
    /// Index in `got` of the next non-realtime message after the cut one and the cut SysEx
    /// right after it, if any.
    next: Option<usize>,
    /// Indices in `sent`, after `from`, of the messages that `next` fits, in order (or the
    /// lookahead's end if there is no `next`). The first one is taken for the delivered one
    /// unless a realtime message captured before the cut was sent after it: then that one
    /// and the identical messages before it were dropped whole, and a later one is.
    candidates: Vec<usize>,
    /// Which of `candidates` bounds the realtime messages captured before the cut.
    bound: usize,
}

impl CutWindow {
    /// The window for the captured realtime message `got[j]` when the next non-realtime
    /// message captured after it is a truncated SysEx that fits an untaken sent message at
    /// or after `i`.
    fn find(
        sent: &[TimedMessage],
        got: &[TimedMessage],
        taken: &[bool],
        next_status: &[usize],
        (i, j): (usize, usize),
    ) -> Option<Self> {
        let cut = next_status[j];
        let t = got.get(cut)?;
        if !t.truncated || t.bytes.first() != Some(&0xF0) {
            return None;
        }
        let limit = sent.len().min(i + LOOKAHEAD);
        let status = |k: usize, m: &TimedMessage| {
            !taken[k] && !is_realtime(&sent[k]) && fits(&sent[k], m).is_some()
        };
        let from = (i..limit).find(|&k| status(k, t))?;
        let is_cut = |m: &TimedMessage| m.truncated && m.bytes.first() == Some(&0xF0);
        let mut n = next_status[cut + 1];
        while got.get(n).is_some_and(is_cut) {
            n = next_status[n + 1];
        }
        let next = got.get(n).map(|_| n);
        let candidates = match next {
            Some(n) => (from + 1..limit).filter(|&k| status(k, &got[n])).collect(),
            // Cut by the end of the stream: nothing bounds it but the lookahead.
            None => vec![limit],
        };
        Some(Self {
            cut,
            from,
            next,
            candidates,
            bound: 0,
        })
    }

    /// The first untaken sent realtime message at or after `i` equal to `m` and sent before
    /// the next delivered message; moves the bound on past identical messages if needed.
    fn realtime(
        &mut self,
        sent: &[TimedMessage],
        taken: &[bool],
        i: usize,
        m: &TimedMessage,
    ) -> Option<usize> {
        let end = self.candidates.last().copied()?;
        let k =
            (i..end).find(|&k| !taken[k] && is_realtime(&sent[k]) && sent[k].bytes == m.bytes)?;
        let b = self.candidates.iter().position(|&q| q > k)?;
        self.bound = self.bound.max(b);
        Some(k)
    }

    /// Where the next captured message must be matched in `sent` when the bound had to move
    /// past identical messages dropped whole.
    fn forced(&self) -> Option<(usize, usize)> {
        let n = self.next?;
        (self.bound > 0).then(|| (n, self.candidates[self.bound]))
    }
}

fn note(c: &mut Comparison, s: String) {
    if c.samples.len() < 8 {
        c.samples.push(s);
    }
}

/// Counts the untaken sent messages of `range` missing.
fn lose(c: &mut Comparison, sent: &[TimedMessage], taken: &[bool], range: Range<usize>) {
    for m in range.filter(|&x| !taken[x]).map(|x| &sent[x]) {
        c.missing += 1;
        c.missing_bytes += m.bytes.len() as u64;
        note(c, format!("missing: {}", hex(&m.bytes)));
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
    // For each captured index, the first non-realtime message at or after it (`got.len()`
    // if none).
    let mut next_status = vec![got.len(); got.len() + 1];
    for j in (0..got.len()).rev() {
        next_status[j] = if is_realtime(&got[j]) {
            next_status[j + 1]
        } else {
            j
        };
    }
    let (mut i, mut j) = (0usize, 0usize);
    // Sent realtime messages matched ahead of their turn (see `CutWindow`).
    let mut taken = vec![false; sent.len()];
    let mut window: Option<CutWindow> = None;
    // A captured message's match fixed by a cut window: (index in `got`, index in `sent`).
    let mut forced: Option<(usize, usize)> = None;
    while i < sent.len() && j < got.len() {
        if taken[i] {
            i += 1;
            continue;
        }
        if is_realtime(&got[j]) && fits(&sent[i], &got[j]).is_none() {
            if window
                .as_ref()
                .is_none_or(|w| w.cut != next_status[j] || w.from < i)
            {
                window = CutWindow::find(sent, got, &taken, &next_status, (i, j));
            }
            if let Some(w) = window.as_mut()
                && let Some(k) = w.realtime(sent, &taken, i, &got[j])
            {
                forced = w.forced().or(forced);
                taken[k] = true;
                c.matched += 1;
                c.latencies.push(got[j].time - sent[k].time);
                j += 1;
                continue;
            }
        }
        if let Some((fj, fi)) = forced
            && fj == j
        {
            forced = None;
            if fi > i {
                lose(&mut c, sent, &taken, i..fi);
                i = fi;
                continue;
            }
        }
        match fits(&sent[i], &got[j]) {
            Some(true) => {
                c.matched += 1;
                c.matched_truncated += u64::from(got[j].truncated);
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
                        lose(&mut c, sent, &taken, i..k);
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

    fn cut(b: &[u8], t: i64) -> TimedMessage {
        TimedMessage {
            truncated: true,
            ..m(b, t)
        }
    }

    /// The whole-cable case of proptest seed `40c2e595…`: a SysEx dropped whole, one cut by
    /// the render side (out of memory), one dropped whole after it, then a SysEx with
    /// realtime inside. On the capture side the cut one ends only at the next delivered
    /// SysEx's first fragment, so the realtime lifted out of that one come out before it.
    #[test]
    fn realtime_after_messages_dropped_behind_a_cut_sysex_arrives_before_it() {
        let sx = |n: u8| {
            let mut b = vec![0xF0];
            b.extend((0..n).map(|k| k & 0x7F));
            b.push(0xF7);
            b
        };
        let mut s = vec![m(&sx(30), 0)];
        s.extend((1..=4).map(|t| m(&[0xF8], t)));
        s.push(m(&sx(60), 5)); // cut after 20 bytes
        s.push(m(&sx(40), 6)); // dropped whole
        s.extend((7..=18).map(|t| m(&[0xF8], t)));
        s.push(m(&sx(12), 19));
        let mut g: Vec<TimedMessage> = (0..16).map(|t| m(&[0xF8], 100 + t)).collect();
        g.push(cut(&sx(60)[..21], 200));
        g.push(m(&sx(12), 201));
        let c = compare(&s, &g);
        assert_eq!(
            (c.matched, c.missing, c.partial, c.unexpected),
            (17, 2, 1, 0),
            "{c:?}"
        );
        assert_eq!(c.missing_bytes, 32 + (62 - 21) + 42);
        // The realtime messages are matched in order: 1..=4 first, then 7..=18.
        let sent_times: Vec<i64> = c
            .latencies
            .iter()
            .zip(&g)
            .map(|(l, g)| g.time - l)
            .collect();
        assert_eq!(sent_times[..4], [1, 2, 3, 4]);
        assert_eq!(sent_times[4..16], (7..=18).collect::<Vec<_>>()[..]);

        // A channel message dropped whole behind the cut does the same.
        let s = [
            m(&sx(8), 0),
            m(&[0xC0, 1], 1),
            m(&[0xF8], 2),
            m(&[0x90, 1, 2], 3),
        ];
        let g = [m(&[0xF8], 9), cut(&sx(8)[..4], 9), m(&[0x90, 1, 2], 9)];
        let c = compare(&s, &g);
        assert_eq!(
            (c.matched, c.missing, c.partial, c.unexpected),
            (2, 1, 1, 0),
            "{c:?}"
        );
    }

    /// Fuzz case: the application sends `F0 a` cut by `F0`, then `F0 b` cut by `D0`, an
    /// incomplete message the render side drops, then `FF`: on the wire `FF` is inside
    /// `F0 b` (cut only by the next status byte), so it comes out before both cut SysEx.
    #[test]
    fn realtime_inside_a_chain_of_cut_sysex_arrives_before_the_chain() {
        let s = [
            cut(&[0xF0, 1, 2], 0),
            cut(&[0xF0, 3], 0),
            m(&[0xFF], 0),
            m(&[0x90, 1, 2], 1),
        ];
        let g = [
            m(&[0xFF], 5),
            cut(&[0xF0, 1, 2], 5),
            cut(&[0xF0, 3], 6),
            m(&[0x90, 1, 2], 6),
        ];
        let c = compare(&s, &g);
        assert_eq!(
            (c.matched, c.partial, c.missing, c.unexpected),
            (2, 2, 0, 0),
            "{c:?}"
        );
        // Not past the message that ends the chain: FF sent after 90 .. is unexpected there.
        let s = [s[0].clone(), s[1].clone(), s[3].clone(), s[2].clone()];
        let c = compare(&s, &g);
        assert!(c.unexpected > 0, "{c:?}");
    }

    #[test]
    fn realtime_sent_after_the_next_delivered_message_is_not_let_before_a_cut() {
        // F8 was sent after C0, which ended the cut SysEx: it cannot come out before it.
        let s = [
            m(&[0xF0, 1, 2, 3, 0xF7], 0),
            m(&[0xC0, 1], 1),
            m(&[0xF8], 2),
            m(&[0x90, 1, 2], 3),
        ];
        let g = [
            m(&[0xF8], 9),
            cut(&[0xF0, 1], 9),
            m(&[0xC0, 1], 9),
            m(&[0x90, 1, 2], 9),
        ];
        let c = compare(&s, &g);
        assert!(c.unexpected > 0, "{c:?}");
        // Nor before a SysEx that arrived whole.
        let s = [m(&[0xF0, 1, 0xF7], 0), m(&[0xF8], 1)];
        let g = [m(&[0xF8], 9), m(&[0xF0, 1, 0xF7], 9)];
        let c = compare(&s, &g);
        assert_eq!((c.missing, c.unexpected), (1, 1), "{c:?}");
    }

    #[test]
    fn a_dropped_copy_of_the_message_that_ends_a_cut_moves_the_bound() {
        // D is sent twice, the first copy dropped whole; the realtime between the copies
        // arrives before the cut SysEx, so the second copy is the delivered one.
        let d = [0xB0, 7, 7];
        let s = [
            m(&[0xF0, 1, 2, 3, 0xF7], 0),
            m(&d, 1),
            m(&[0xF8], 2),
            m(&d, 3),
            m(&[0x90, 1, 2], 4),
        ];
        let g = [
            m(&[0xF8], 10),
            cut(&[0xF0, 1], 10),
            m(&d, 10),
            m(&[0x90, 1, 2], 10),
        ];
        let c = compare(&s, &g);
        assert_eq!(
            (c.matched, c.missing, c.partial, c.unexpected),
            (3, 1, 1, 0),
            "{c:?}"
        );
        assert_eq!(c.latencies, vec![8, 7, 6], "D matched with its second copy");
        // Cut by the end of the stream: realtime after messages dropped behind it.
        let s = [
            m(&[0xF0, 1, 2, 3, 0xF7], 0),
            m(&[0xC0, 1], 1),
            m(&[0xFE], 2),
        ];
        let g = [m(&[0xFE], 10), cut(&[0xF0, 1, 2], 10)];
        let c = compare(&s, &g);
        assert_eq!(
            (c.matched, c.missing, c.partial, c.unexpected),
            (1, 1, 1, 0),
            "{c:?}"
        );
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
