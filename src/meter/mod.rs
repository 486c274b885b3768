//! The cost meter: a proxy for LLM APIs that forwards each agent's requests to the real
//! provider, reads the usage as replies stream past, and prices it.

pub mod ca;
pub mod intercept;
pub mod prices;
pub mod proxy;
pub mod reply;
pub mod sni;
pub mod upstream;
pub mod usage;
