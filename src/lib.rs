//! teamster: a terminal multiplexer for AI coding agents, and the control layer above them.
//!
//! The binary (`src/main.rs`) is a thin CLI over these modules; `docs/architecture.md`
//! maps them.

pub mod agents;
pub mod cli;
pub mod client;
pub mod config;
pub mod effects;
pub mod fdio;
pub mod input;
pub mod meter;
pub mod mock_llm;
pub mod nofollow;
pub mod paths;
pub mod places;
pub mod policy;
pub mod protocol;
/// The shared data of the protocol, where the rest of the crate knew them before.
pub use protocol::{approval, layout};
pub mod runner;
pub mod sandbox;
pub mod screen;
pub mod share;
pub mod text;
pub mod tui;
