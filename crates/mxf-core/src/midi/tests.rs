extern crate std;

use super::*;
use std::string::String;
use std::vec;
use std::vec::Vec;

#[derive(Debug, PartialEq, Eq)]
enum Out {
    M(Vec<u8>),
    Start,
    Data(Vec<u8>),
    End,
    Cut,
}

fn m(b: &[u8]) -> Out {
    Out::M(b.to_vec())
}

/// Parses `chunks` one after the other with one parser, checking the accounting invariant
/// after every call.
fn run_chunks(chunks: &[&[u8]]) -> (Vec<Out>, Parser) {
    let mut p = Parser::new();
    let mut out = Vec::new();
    for chunk in chunks {
        let mut input = *chunk;
        while let Some(ev) = p.next(&mut input) {
            out.push(match ev {
                Event::Message(msg) => Out::M(msg.as_bytes().to_vec()),
                Event::SysExStart => Out::Start,
                Event::SysExData(d) => {
                    assert!(!d.is_empty());
                    Out::Data(d.to_vec())
                }
                Event::SysExEnd => Out::End,
                Event::SysExCut => Out::Cut,
            });
            let s = p.stats();
            assert_eq!(s.bytes_in, s.bytes_accounted() + p.pending_bytes());
        }
        assert!(input.is_empty());
    }
    (out, p)
}

fn run(bytes: &[u8]) -> (Vec<Out>, Parser) {
    run_chunks(&[bytes])
}

#[test]
fn every_channel_status_class_has_its_length() {
    let (out, p) = run(&[
        0x80, 0x3c, 0x40, 0x91, 0x3c, 0x7f, 0xa2, 0x3c, 0x10, 0xb3, 0x07, 0x64, 0xc4, 0x05, 0xd5,
        0x22, 0xe6, 0x00, 0x40,
    ]);
    assert_eq!(
        out,
        [
            m(&[0x80, 0x3c, 0x40]),
            m(&[0x91, 0x3c, 0x7f]),
            m(&[0xa2, 0x3c, 0x10]),
            m(&[0xb3, 0x07, 0x64]),
            m(&[0xc4, 0x05]),
            m(&[0xd5, 0x22]),
            m(&[0xe6, 0x00, 0x40]),
        ]
    );
    assert_eq!(p.stats().channel_messages, 7);
    assert_eq!(p.stats().bytes_messages, 19);
}

#[test]
fn system_common_lengths_and_undefined_f4_f5() {
    let (out, p) = run(&[0xf1, 0x21, 0xf2, 0x10, 0x20, 0xf3, 0x05, 0xf6, 0xf4, 0xf5]);
    assert_eq!(
        out,
        [
            m(&[0xf1, 0x21]),
            m(&[0xf2, 0x10, 0x20]),
            m(&[0xf3, 0x05]),
            m(&[0xf6]),
            m(&[0xf4]),
            m(&[0xf5]),
        ]
    );
    assert_eq!(p.stats().system_common_messages, 6);
    assert_eq!(p.stats().bytes_in, p.stats().bytes_messages);
}

#[test]
fn running_status_is_expanded_and_counted_in_input_bytes() {
    let (out, p) = run(&[
        0x90, 0x3c, 0x7f, 0x3e, 0x7f, 0x40, 0x00, 0xc0, 0x01, 0x02, 0x03,
    ]);
    assert_eq!(
        out,
        [
            m(&[0x90, 0x3c, 0x7f]),
            m(&[0x90, 0x3e, 0x7f]),
            m(&[0x90, 0x40, 0x00]),
            m(&[0xc0, 0x01]),
            m(&[0xc0, 0x02]),
            m(&[0xc0, 0x03]),
        ]
    );
    // 11 input bytes, 16 output bytes: the counters follow the input.
    assert_eq!(p.stats().bytes_messages, 11);
    assert_eq!(p.stats().bytes_in, 11);
}

#[test]
fn running_status_survives_chunk_boundaries_and_realtime() {
    let (out, _) = run_chunks(&[&[0x90, 0x3c], &[0xf8, 0x7f, 0x3e], &[0xfe], &[0x7f]]);
    assert_eq!(
        out,
        [
            m(&[0xf8]),
            m(&[0x90, 0x3c, 0x7f]),
            m(&[0xfe]),
            m(&[0x90, 0x3e, 0x7f]),
        ]
    );
}

#[test]
fn system_common_and_sysex_clear_running_status() {
    let (out, p) = run(&[0x90, 0x3c, 0x7f, 0xf6, 0x3e, 0x7f]);
    assert_eq!(out, [m(&[0x90, 0x3c, 0x7f]), m(&[0xf6])]);
    assert_eq!(p.stats().bytes_stray, 2);
    let (out, p) = run(&[0xb0, 0x07, 0x64, 0xf0, 0x01, 0xf7, 0x08, 0x10]);
    assert_eq!(
        out,
        [
            m(&[0xb0, 0x07, 0x64]),
            Out::Start,
            Out::Data(vec![0x01]),
            Out::End,
        ]
    );
    assert_eq!(p.stats().bytes_stray, 2);
    // A stray F7 is a system common status too.
    let (out, p) = run(&[0x90, 0x3c, 0x7f, 0xf7, 0x3e, 0x7f]);
    assert_eq!(out, [m(&[0x90, 0x3c, 0x7f])]);
    assert_eq!(p.stats().bytes_stray, 3);
}

#[test]
fn realtime_between_status_and_data_and_inside_sysex() {
    let (out, p) = run(&[
        0x90, 0xf8, 0x3c, 0xfa, 0x7f, 0xf0, 0x01, 0xf8, 0x02, 0xfc, 0xf7,
    ]);
    assert_eq!(
        out,
        [
            m(&[0xf8]),
            m(&[0xfa]),
            m(&[0x90, 0x3c, 0x7f]),
            Out::Start,
            Out::Data(vec![0x01]),
            m(&[0xf8]),
            Out::Data(vec![0x02]),
            m(&[0xfc]),
            Out::End,
        ]
    );
    assert_eq!(p.stats().realtime_messages, 4);
    assert_eq!(p.stats().bytes_sysex, 4);
    assert_eq!(p.stats().sysex_complete, 1);
}

#[test]
fn undefined_realtime_f9_fd_are_messages() {
    let (out, p) = run(&[0xf9, 0xc0, 0xfd, 0x05, 0xff]);
    assert_eq!(out, [m(&[0xf9]), m(&[0xfd]), m(&[0xc0, 0x05]), m(&[0xff])]);
    assert_eq!(p.stats().realtime_messages, 3);
}

#[test]
fn stray_data_bytes_are_dropped_and_counted() {
    let (out, p) = run(&[0x01, 0x02, 0xf8, 0x03, 0x90, 0x3c, 0x7f]);
    assert_eq!(out, [m(&[0xf8]), m(&[0x90, 0x3c, 0x7f])]);
    assert_eq!(p.stats().bytes_stray, 3);
    assert_eq!(p.stats().bytes_in, 7);
}

#[test]
fn stray_f7_is_counted() {
    let (out, p) = run(&[0xf7, 0xf7, 0xc0, 0x01]);
    assert_eq!(out, [m(&[0xc0, 0x01])]);
    assert_eq!(p.stats().bytes_stray, 2);
}

#[test]
fn status_byte_truncates_a_message_in_progress() {
    let (out, p) = run(&[0x90, 0x3c, 0x80, 0x3c, 0x40]);
    assert_eq!(out, [m(&[0x80, 0x3c, 0x40])]);
    assert_eq!(p.stats().truncated_messages, 1);
    assert_eq!(p.stats().bytes_truncated, 2);
    // Truncating a running-status message counts only its input bytes.
    let (_, p) = run(&[0x90, 0x3c, 0x7f, 0x3e, 0xf6]);
    assert_eq!(p.stats().bytes_truncated, 1);
    assert_eq!(p.stats().bytes_in, p.stats().bytes_accounted());
}

#[test]
fn sysex_cut_by_a_status_is_reported_then_the_status_is_parsed() {
    let (out, p) = run(&[0xf0, 0x7e, 0x01, 0x90, 0x3c, 0x7f, 0x3d, 0x7f]);
    assert_eq!(
        out,
        [
            Out::Start,
            Out::Data(vec![0x7e, 0x01]),
            Out::Cut,
            m(&[0x90, 0x3c, 0x7f]),
            m(&[0x90, 0x3d, 0x7f]),
        ]
    );
    assert_eq!(p.stats().sysex_cut, 1);
    assert_eq!(p.stats().bytes_sysex_cut, 3);
    // F0 inside a SysEx cuts it and starts another.
    let (out, _) = run(&[0xf0, 0x01, 0xf0, 0x02, 0xf7]);
    assert_eq!(
        out,
        [
            Out::Start,
            Out::Data(vec![0x01]),
            Out::Cut,
            Out::Start,
            Out::Data(vec![0x02]),
            Out::End,
        ]
    );
}

#[test]
fn long_sysex_is_streamed_across_chunks() {
    let body: Vec<u8> = (0..10_000u32).map(|i| (i % 128) as u8).collect();
    let mut chunks: Vec<Vec<u8>> = vec![vec![0xf0]];
    chunks.extend(body.chunks(333).map(|c| c.to_vec()));
    chunks.push(vec![0xf7]);
    let refs: Vec<&[u8]> = chunks.iter().map(|c| c.as_slice()).collect();
    let (out, p) = run_chunks(&refs);
    let mut data = Vec::new();
    for o in &out[1..out.len() - 1] {
        match o {
            Out::Data(d) => data.extend_from_slice(d),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(out.first(), Some(&Out::Start));
    assert_eq!(out.last(), Some(&Out::End));
    assert_eq!(data, body);
    assert_eq!(p.stats().bytes_sysex, 10_002);
}

#[test]
fn abort_skips_the_rest_of_the_sysex_but_not_realtime() {
    let mut p = Parser::new();
    let mut input: &[u8] = &[0xf0, 0x01, 0x02];
    while p.next(&mut input).is_some() {}
    assert!(p.abort_sysex());
    assert!(!p.abort_sysex());
    let mut input: &[u8] = &[0x03, 0xf8, 0x04, 0xf7, 0x05, 0xc0, 0x01];
    let mut msgs = Vec::new();
    while let Some(ev) = p.next(&mut input) {
        match ev {
            Event::Message(msg) => msgs.push(msg.as_bytes().to_vec()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(msgs, [vec![0xf8], vec![0xc0, 0x01]]);
    let s = p.stats();
    assert_eq!(s.bytes_sysex_aborted, 3);
    assert_eq!(s.bytes_skipped, 4);
    assert_eq!(s.bytes_in, s.bytes_accounted());
}

#[test]
fn finish_cuts_sysex_and_truncates_messages() {
    let (_, mut p) = run(&[0xf0, 0x01]);
    assert!(p.finish());
    assert_eq!(p.stats().sysex_cut, 1);
    assert_eq!(p.stats().bytes_in, p.stats().bytes_accounted());
    let (_, mut p) = run(&[0x90, 0x3c, 0x7f, 0x3c]);
    assert!(!p.finish());
    assert_eq!(p.stats().bytes_truncated, 1);
    // Running status is forgotten.
    let (out, _) = {
        let mut input: &[u8] = &[0x3c, 0x00];
        let mut out = Vec::new();
        while let Some(ev) = p.next(&mut input) {
            out.push(ev == Event::SysExEnd);
        }
        (out, ())
    };
    assert!(out.is_empty());
    assert_eq!(p.stats().bytes_stray, 2);
}

#[test]
fn message_kinds_and_input_len() {
    let (_, p) = run(&[0x90, 0x3c, 0x7f]);
    assert_eq!(p.stats().channel_messages, 1);
    let mut p = Parser::new();
    let mut input: &[u8] = &[0xe0, 0x01, 0x02, 0x03, 0x04, 0xf2, 0x01, 0x02, 0xfe];
    let mut got = Vec::new();
    while let Some(Event::Message(msg)) = p.next(&mut input) {
        got.push((msg.kind(), msg.input_len(), msg.status()));
    }
    assert_eq!(
        got,
        [
            (MessageKind::Channel, 3, 0xe0),
            (MessageKind::Channel, 2, 0xe0),
            (MessageKind::SystemCommon, 3, 0xf2),
            (MessageKind::Realtime, 1, 0xfe),
        ]
    );
}

#[test]
fn inline_data_is_the_message_bytes_then_zeroes() {
    // Every length: 1 (realtime, tune request), 2 (program change, running status), 3.
    let mut input: &[u8] = &[
        0xf8, 0xf6, 0xc5, 0x7f, 0x11, 0x93, 0x3c, 0x7f, 0x3d, 0x40, 0xf2, 0x7f, 0x7f, 0xff,
    ];
    let mut p = Parser::new();
    let mut n = 0;
    while let Some(ev) = p.next(&mut input) {
        let Event::Message(msg) = ev else {
            panic!("only messages in this input");
        };
        let bytes = msg.as_bytes();
        let inline = msg.to_inline();
        assert_eq!(&inline[..bytes.len()], bytes, "{msg:?}");
        assert!(inline[bytes.len()..].iter().all(|&b| b == 0), "{msg:?}");
        n += 1;
    }
    assert_eq!(n, 8);
}

fn fmt(bytes: &[u8]) -> String {
    let mut s = String::new();
    format::format_messages(bytes, &mut s).unwrap();
    s
}

#[test]
fn format_one_line_per_message_in_completion_order() {
    assert_eq!(
        fmt(&[0x90, 0x3c, 0xf8, 0x7f, 0x3e, 0x7f, 0xc0, 0x05]),
        "f8\n90 3c 7f\n90 3e 7f\nc0 05\n"
    );
    assert_eq!(
        fmt(&[0xf0, 0x7e, 0xfe, 0x7f, 0x09, 0xf7, 0xf4]),
        "fe\nf0 7e 7f 09 f7\nf4\n"
    );
    // Cut SysEx and SysEx open at the end: printed without f7; strays not printed.
    assert_eq!(
        fmt(&[0x01, 0xf0, 0x01, 0x02, 0xb0, 0x07, 0x64, 0xf7, 0xf0, 0x05]),
        "f0 01 02\nb0 07 64\nf0 05\n"
    );
    assert_eq!(fmt(&[]), "");
}
