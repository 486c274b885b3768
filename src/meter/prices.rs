//! Prices: the table teamster ships (`prices.toml`, versioned and dated, read offline),
//! with the config's additions and overrides, turning a call's tokens into dollars.

use super::usage::Usage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Dollars per million tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input read back; none published means cached tokens cost as input.
    pub cache_read: Option<f64>,
    /// Writing the cache (Anthropic's 5-minute writes); none means no separate charge.
    pub cache_write: Option<f64>,
    /// Anthropic's 1-hour cache writes; none means as `cache_write`.
    pub cache_write_1h: Option<f64>,
}

impl Price {
    pub fn new(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Price {
        Price { input, output, cache_read: Some(cache_read), cache_write: Some(cache_write), cache_write_1h: None }
    }

    pub fn cost(&self, u: &Usage) -> f64 {
        let write = self.cache_write.unwrap_or(0.0);
        let hour = u.cache_write_1h.min(u.cache_write);
        (u.input as f64 * self.input
            + u.output as f64 * self.output
            + u.cache_read as f64 * self.cache_read.unwrap_or(self.input)
            + (u.cache_write - hour) as f64 * write
            + hour as f64 * self.cache_write_1h.unwrap_or(write))
            / 1e6
    }
}

/// Dearer rates for a whole request whose prompt is longer than `threshold` tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongContext {
    pub threshold: u64,
    #[serde(flatten)]
    pub price: Price,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub provider: String,
    #[serde(flatten)]
    pub price: Price,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub long_context: Option<LongContext>,
}

impl ModelPrice {
    /// The rates for one request with this usage.
    pub fn rates(&self, u: &Usage) -> Price {
        match &self.long_context {
            Some(l) if u.prompt_tokens() > l.threshold => l.price,
            _ => self.price,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    pub version: u32,
    /// When the prices were checked.
    pub date: String,
    pub models: BTreeMap<String, ModelPrice>,
}

/// The table that ships with teamster.
pub const BUILT_IN: &str = include_str!("../../prices.toml");

/// How a call was priced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Priced {
    /// At the model's price.
    #[default]
    Exact,
    /// The model is not in the table: at the configured fallback price.
    Fallback,
    /// The call's usage could not be read: nothing is guessed.
    Unknown,
}

impl Priced {
    /// As the state database keeps it.
    pub fn word(self) -> &'static str {
        match self {
            Priced::Exact => "exact",
            Priced::Fallback => "fallback",
            Priced::Unknown => "unknown",
        }
    }
}

/// The built-in table with the config's prices over it.
#[derive(Clone, Debug, PartialEq)]
pub struct Prices {
    pub table: PriceTable,
    pub overrides: BTreeMap<String, Price>,
    pub fallback: Price,
}

impl Prices {
    pub fn new(overrides: BTreeMap<String, Price>, fallback: Price) -> Prices {
        let table = toml::from_str(BUILT_IN).unwrap_or_else(|e| panic!("prices.toml ships broken: {e}"));
        Prices { table, overrides, fallback }
    }

    /// What a call cost, and how it was priced (long prompts at the table's own rates).
    pub fn cost(&self, u: &Usage) -> (f64, Priced) {
        match self.resolve(u.model.as_deref().unwrap_or("")) {
            Known::Configured(p) => (p.cost(u), Priced::Exact),
            Known::Table(m) => (m.rates(u).cost(u), Priced::Exact),
            Known::Not => (self.fallback.cost(u), Priced::Fallback),
        }
    }

    /// A model by its name as requests spell it: exact, an alias, without a provider
    /// prefix, a date stamp or a suffix in brackets (`claude-opus-4-1[1m]`), or the longest
    /// known name it extends (`claude-sonnet-4-5-latest`). The config's prices first.
    fn resolve(&self, model: &str) -> Known<'_> {
        let name = base_name(model);
        let configured = |n: &str| self.overrides.get(n).copied();
        if let Some(p) = configured(name).or_else(|| configured(strip_date(name))) {
            return Known::Configured(p);
        }
        let Some(key) = self.canonical(name) else { return Known::Not };
        match (configured(key), self.table.models.get(key)) {
            (Some(p), _) => Known::Configured(p),
            (None, Some(m)) => Known::Table(m),
            (None, None) => Known::Not,
        }
    }

    /// The table's name for `name`: by name or alias, dated or not, or the longest name
    /// it extends.
    fn canonical(&self, name: &str) -> Option<&str> {
        let find = |n: &str| {
            self.table.models.iter().find(|(k, m)| *k == n || m.aliases.iter().any(|a| a == n)).map(|(k, _)| k.as_str())
        };
        let undated = strip_date(name);
        find(name).or_else(|| find(undated)).or_else(|| {
            self.table
                .models
                .keys()
                .filter(|k| {
                    undated.len() > k.len() && undated.starts_with(k.as_str()) && undated.as_bytes()[k.len()] == b'-'
                })
                .max_by_key(|k| k.len())
                .map(String::as_str)
        })
    }
}

/// What the prices know of a model.
enum Known<'a> {
    /// The config prices it.
    Configured(Price),
    Table(&'a ModelPrice),
    Not,
}

/// A model name without a provider prefix (`anthropic/`) or a suffix in brackets.
fn base_name(model: &str) -> &str {
    let name = model.trim();
    let name = name.rsplit('/').next().unwrap_or(name);
    name.split('[').next().unwrap_or(name)
}

/// `claude-3-5-sonnet-20241022` → `claude-3-5-sonnet`; `gpt-4o-2024-08-06` → `gpt-4o`.
fn strip_date(name: &str) -> &str {
    let bytes = name.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if name.len() > 9 && bytes[name.len() - 9] == b'-' && digits(&bytes[name.len() - 8..]) {
        return &name[..name.len() - 9];
    }
    if name.len() > 11 && bytes[name.len() - 11] == b'-' {
        let tail = &name[name.len() - 10..];
        let parts: Vec<&str> = tail.split('-').collect();
        if parts.len() == 3
            && [4, 2, 2] == [parts[0].len(), parts[1].len(), parts[2].len()]
            && parts.iter().all(|p| digits(p.as_bytes()))
        {
            return &name[..name.len() - 11];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base price `model` resolves to, if it is known.
    fn lookup(p: &Prices, model: &str) -> Option<Price> {
        match p.resolve(model) {
            Known::Configured(p) => Some(p),
            Known::Table(m) => Some(m.price),
            Known::Not => None,
        }
    }

    fn price(p: &Prices, model: &str) -> (Price, Priced) {
        lookup(p, model).map_or((p.fallback, Priced::Fallback), |x| (x, Priced::Exact))
    }

    fn prices() -> Prices {
        Prices::new(BTreeMap::new(), Price::new(15.0, 75.0, 1.5, 18.75))
    }

    #[test]
    fn the_shipped_table_reads_and_covers_the_big_three() {
        let p = prices();
        assert!(p.table.version >= 1 && p.table.date.len() == 10, "{} {}", p.table.version, p.table.date);
        for provider in ["anthropic", "openai", "google"] {
            assert!(p.table.models.values().any(|m| m.provider == provider), "{provider}");
        }
        for (name, m) in &p.table.models {
            assert!(m.price.input > 0.0 && m.price.output >= m.price.input, "{name}: {:?}", m.price);
        }
    }

    #[test]
    fn names_as_requests_spell_them() {
        let p = prices();
        let sonnet = lookup(&p, "claude-sonnet-4-5").expect("sonnet 4.5");
        for name in [
            "claude-sonnet-4-5-20250929",
            "anthropic/claude-sonnet-4-5",
            "claude-sonnet-4-5[1m]",
            "claude-sonnet-4-5-latest",
        ] {
            assert_eq!(lookup(&p, name), Some(sonnet), "{name}");
        }
        assert!(lookup(&p, "gpt-4o-2024-08-06").is_some());
        assert_eq!(price(&p, "no-such-model-9"), (p.fallback, Priced::Fallback));
    }

    #[test]
    fn config_overrides_and_adds() {
        let mut over = BTreeMap::new();
        over.insert("claude-sonnet-4-5".to_string(), Price::new(1.0, 2.0, 0.0, 0.0));
        over.insert("my-tune".to_string(), Price::new(4.0, 8.0, 0.0, 0.0));
        let p = Prices::new(over, Price::default());
        assert_eq!(price(&p, "claude-sonnet-4-5-20250929").0.input, 1.0);
        assert_eq!(price(&p, "my-tune"), (Price::new(4.0, 8.0, 0.0, 0.0), Priced::Exact));
        let u = Usage { model: Some("claude-sonnet-4-5-20250929".into()), input: 1_000_000, ..Usage::default() };
        assert_eq!(p.cost(&u), (1.0, Priced::Exact), "an override beats the table, long prompts too");
    }

    #[test]
    fn cost_counts_each_kind_of_token() {
        let price = Price { cache_write_1h: Some(6.0), ..Price::new(3.0, 15.0, 0.3, 3.75) };
        let u = Usage {
            model: None,
            input: 1_000_000,
            output: 100_000,
            cache_read: 2_000_000,
            cache_write: 400_000,
            cache_write_1h: 100_000,
        };
        assert!((price.cost(&u) - (3.0 + 1.5 + 0.6 + 0.3 * 3.75 + 0.1 * 6.0)).abs() < 1e-9);
        // No cache-read price published: cached input costs as input.
        let plain = Price { input: 2.0, output: 8.0, cache_read: None, cache_write: None, cache_write_1h: None };
        let u = Usage { cache_read: 1_000_000, ..Usage::default() };
        assert_eq!(plain.cost(&u), 2.0);
    }

    #[test]
    fn long_prompts_cost_their_own_rates() {
        let p = prices();
        let (name, m) =
            p.table.models.iter().find(|(_, m)| m.long_context.is_some()).expect("a model with long-context rates");
        let l = m.long_context.expect("long context");
        let call = |input| Usage { model: Some(name.clone()), input, output: 10, ..Usage::default() };
        assert_eq!(m.rates(&call(l.threshold / 2)), m.price);
        assert_eq!(m.rates(&call(l.threshold + 1)), l.price);
        // And the meter charges them.
        let long = call(l.threshold + 1);
        assert_eq!(p.cost(&long), (l.price.cost(&long), Priced::Exact));
        assert_ne!(l.price.cost(&long), m.price.cost(&long));
    }
}
