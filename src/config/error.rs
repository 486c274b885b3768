//! Config errors that say where: file, line, key, and what was expected.

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not at one place in the file.
    pub line: usize,
    /// Dotted path of the key, e.g. `agents.claude.args`; empty when unknown.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ", line {}", self.line)?;
        }
        if !self.key.is_empty() {
            write!(f, ", key `{}`", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub fn new(file: &Path, line: usize, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError { file: file.to_path_buf(), line, key: key.into(), message: message.into() }
    }
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses TOML into `T`, turning any failure into an error that names the file, the line
/// and the key.
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let de = match toml::de::Deserializer::parse(text) {
        Ok(de) => de,
        Err(e) => {
            let line = e.span().map_or(0, |s| line_of(text, s.start));
            return Err(ConfigError::new(file, line, "", format!("not valid TOML: {}", e.message().trim())));
        }
    };
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.span().map_or(0, |s| line_of(text, s.start));
        let key = if key == "." { String::new() } else { key };
        ConfigError::new(file, line, key, explain(inner.message().trim()))
    })
}

/// serde's messages name Rust types; say it in the words of a config file.
fn explain(message: &str) -> String {
    message
        .replace("invalid type: string", "found a string")
        .replace("invalid type: integer", "found a number")
        .replace("invalid type: boolean", "found true/false")
        .replace("invalid type: sequence", "found a list")
        .replace("invalid type: map", "found a table")
        .replace("expected u64", "expected a whole number")
        .replace("expected usize", "expected a whole number")
        .replace("expected a sequence", "expected a list like [\"a\", \"b\"]")
        .replace("expected a boolean", "expected true or false")
}
