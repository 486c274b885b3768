//! Any program: no hooks, so its state comes from the screen (working while it prints,
//! idle once quiet).

use super::{Agent, Launch, LaunchContext};

pub fn launch(agent: &Agent, _ctx: &LaunchContext) -> Result<Launch, String> {
    Ok(Launch { argv: vec![agent.binary.clone()], ..Launch::default() })
}
