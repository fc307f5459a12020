//! The filter's numbering: pin ids (indices into its pin descriptors) and node ids (indices
//! into its nodes), which PortCls, the miniport and the property handlers agree on. A leaf.

/// Pin id of the WinMM (byte-stream MIDI) render stream.
pub const PIN_RENDER_STREAM: u32 = 0;
/// Pin id of the DirectMusic render stream.
pub const PIN_RENDER_DMUS: u32 = 1;
/// Pin id of the bridge both render streams flow out through.
pub const PIN_RENDER_BRIDGE: u32 = 2;
/// Pin id of the bridge the capture stream is fed from.
pub const PIN_CAPTURE_BRIDGE: u32 = 3;
/// Pin id of the capture stream (MIDI or DirectMusic format).
pub const PIN_CAPTURE_STREAM: u32 = 4;
/// Number of pin factories.
pub const PIN_COUNT: usize = 5;

/// Node id of the synthesizer on the DirectMusic render path.
pub const NODE_SYNTH: u32 = 0;
/// Node id of the synthesizer node on the capture path (DMusUART's "input" node).
pub const NODE_INPUT: u32 = 1;
/// Number of nodes.
pub const NODE_COUNT: usize = 2;
