//! `mxfsim`: mxfloop's DMus miniport run end to end on the host kernel emulator, behind the
//! port emulator (`mxf-portemu`), with a reproducible workload; and `mxfsim parse`, the
//! capture packager as a MIDI parsing tool. The binary is a thin wrapper over [`cli::main`].

pub mod cables;
pub mod cables_report;
pub mod cli;
pub mod compare;
pub mod drops;
pub mod input;
pub mod options;
pub mod parse;
pub mod reference;
pub mod report;
pub mod sim;
pub mod smf;
pub mod workload;
