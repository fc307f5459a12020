//! Parser and formatter properties over arbitrary byte streams.

mod support;

use mxf_core::midi::format::format_messages;
use mxf_core::midi::{Event, Parser};
use proptest::prelude::*;
use support::reference::expected_items;
use support::strategies::{arbitrary_bytes, bursts, midi_stream, split};

/// Messages as the parser reports them, SysEx reassembled (realtime lifted out, so a SysEx
/// completes — and is listed — after the realtime bytes inside it), checking the accounting
/// invariant after every call.
fn parse(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Parser) {
    let mut p = Parser::new();
    let mut out = Vec::new();
    let mut sysex: Option<Vec<u8>> = None;
    for chunk in chunks {
        let mut input = *chunk;
        while let Some(ev) = p.next(&mut input) {
            match ev {
                Event::Message(m) => out.push(m.as_bytes().to_vec()),
                Event::SysExStart => sysex = Some(vec![0xf0]),
                Event::SysExData(d) => sysex.as_mut().unwrap().extend_from_slice(d),
                Event::SysExEnd => {
                    let mut s = sysex.take().unwrap();
                    s.push(0xf7);
                    out.push(s);
                }
                Event::SysExCut => out.push(sysex.take().unwrap()),
            }
            let s = p.stats();
            assert_eq!(s.bytes_in, s.bytes_accounted() + p.pending_bytes());
        }
    }
    if p.finish() {
        out.push(sysex.take().unwrap());
    }
    assert_eq!(p.pending_bytes(), 0);
    (out, p)
}

fn reference_messages(input: &[u8]) -> Vec<Vec<u8>> {
    expected_items(input, usize::MAX)
        .into_iter()
        .map(|i| i.bytes)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_byte_is_accounted_and_chunking_does_not_matter(
        input in prop_oneof![arbitrary_bytes(4096), midi_stream(64, 512)],
        lens in bursts(),
    ) {
        let (whole, p) = parse(&[&input]);
        let (chunked, q) = parse(&split(&input, &lens));
        prop_assert_eq!(&whole, &chunked);
        prop_assert_eq!(p.stats(), q.stats());
        let s = p.stats();
        prop_assert_eq!(s.bytes_in, input.len() as u64);
        prop_assert_eq!(s.bytes_in, s.bytes_accounted());
        prop_assert_eq!(&whole, &reference_messages(&input));
    }

    #[test]
    fn formatter_prints_the_reference_messages(input in prop_oneof![arbitrary_bytes(2048), midi_stream(64, 256)]) {
        let mut text = String::new();
        let stats = format_messages(&input, &mut text).unwrap();
        let want: String = reference_messages(&input)
            .iter()
            .map(|m| {
                let hex: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
                hex.join(" ") + "\n"
            })
            .collect();
        prop_assert_eq!(text, want);
        prop_assert_eq!(stats.bytes_in, input.len() as u64);
    }
}
