//! teamster: a terminal multiplexer for AI coding agents, and the control layer above them.
//!
//! The binary (`src/main.rs`) is a thin CLI over these modules; see `docs/architecture.md`.

pub mod input;
pub mod layout;
pub mod screen;
