//! Every pool tag of the driver's objects is distinct and starts with `Mxf`, so `!poolused`
//! and the emulator's leak report name exactly one kind of object per tag.

use mxf_core::platform::PoolTag;

#[test]
fn pool_tags_are_distinct_and_prefixed() {
    let tags: [(&str, PoolTag); 9] = [
        ("allocator object", mxf_core::alloc::TAG_OBJECT),
        ("allocator events", mxf_core::alloc::TAG_EVENTS),
        ("allocator buffers", mxf_core::alloc::TAG_BUFFERS),
        ("allocator reserve", mxf_core::alloc::TAG_RESERVE),
        ("render queue", mxf_core::render::TAG_RENDER),
        ("service group", mxf_core::service::TAG_SERVICE_GROUP),
        (
            "capture stream",
            mxf_miniport::stream::capture::TAG_CAPTURE_STREAM,
        ),
        (
            "render stream",
            mxf_miniport::stream::render::TAG_RENDER_STREAM,
        ),
        ("miniport", mxf_miniport::miniport::TAG_MINIPORT),
    ];
    for (i, (name, tag)) in tags.iter().enumerate() {
        assert_eq!(
            &tag.bytes()[..3],
            b"Mxf",
            "{name}: tag {tag} lacks the Mxf prefix"
        );
        for (other, tag2) in &tags[i + 1..] {
            assert_ne!(tag, tag2, "{name} and {other} share the pool tag {tag}");
        }
    }
}
