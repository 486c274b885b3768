//! Hyperlinks (OSC 8): the addresses a program attached to its text.
//!
//! A cell names its link by a small id (`Style::link`), so a screen full of linked text
//! costs two bytes a cell. Ids are handed out once and never reused: a cell kept in the
//! scrollback can never come to point at another address. The table is bounded; once it
//! is full, further links are dropped and their text is kept, as tmux does.
//!
//! The address is what a program chose, and it goes on to the user's terminal: only
//! printable ASCII (what RFC 3986 allows in a URI) is kept, and nothing longer than
//! `MAX_URL`, so an address can never carry a control sequence.

use std::collections::HashMap;
use std::sync::Arc;

/// The longest address kept (tmux and VTE cap theirs near here); a row decoded with a
/// longer one loses it.
pub const MAX_URL: usize = crate::protocol::wire::MAX_URL;
/// The most bytes of addresses one terminal keeps.
const MAX_BYTES: usize = 4 << 20;

#[derive(Clone, Default)]
pub struct Links {
    urls: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u16>,
    bytes: usize,
}

impl Links {
    /// The id for `url` (the same one each time it is asked), or 0 when `url` is empty,
    /// not a URI's characters, too long, or the table is full.
    pub fn id(&mut self, url: &[u8]) -> u16 {
        if url.is_empty() || !crate::protocol::wire::printable_url(url) {
            return 0;
        }
        // Checked above: every byte is ASCII.
        let Ok(url) = std::str::from_utf8(url) else { return 0 };
        if let Some(&id) = self.ids.get(url) {
            return id;
        }
        if self.urls.len() >= u16::MAX as usize || self.bytes + url.len() > MAX_BYTES {
            return 0;
        }
        let url: Arc<str> = Arc::from(url);
        self.urls.push(url.clone());
        self.bytes += url.len();
        let id = self.urls.len() as u16;
        self.ids.insert(url, id);
        id
    }

    /// The address of link `id`.
    pub fn url(&self, id: u16) -> Option<&str> {
        id.checked_sub(1).and_then(|i| self.urls.get(i as usize)).map(|u| &**u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_one_id_and_keeps_it() {
        let mut links = Links::default();
        let a = links.id(b"https://example.com/a");
        let b = links.id(b"file:///etc/hosts");
        assert_ne!(a, 0);
        assert_ne!(a, b);
        assert_eq!(links.id(b"https://example.com/a"), a);
        assert_eq!(links.url(a), Some("https://example.com/a"));
        assert_eq!(links.url(0), None);
        assert_eq!(links.url(99), None);
    }

    #[test]
    fn addresses_that_could_carry_a_sequence_are_refused() {
        let mut links = Links::default();
        for bad in [&b""[..], b"https://x/\x1b[31m", b"https://x/\x07", b"https://x/ y", "https://x/\u{9b}".as_bytes()]
        {
            assert_eq!(links.id(bad), 0, "{bad:?}");
        }
        assert_eq!(links.id(&vec![b'a'; MAX_URL + 1]), 0);
        assert_ne!(links.id(&vec![b'a'; MAX_URL]), 0);
    }

    #[test]
    fn a_full_table_drops_new_links_and_keeps_the_old() {
        let mut links = Links::default();
        let first = links.id(b"https://first/");
        for i in 0..u16::MAX as usize {
            links.id(format!("https://x/{i}").as_bytes());
        }
        assert_eq!(links.id(b"https://new/"), 0);
        assert_eq!(links.url(first), Some("https://first/"));
        assert_eq!(links.id(b"https://first/"), first);
    }
}
