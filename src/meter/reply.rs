//! What an agent said last: the text of a model's final answer in a turn, read out of the
//! reply as it streams past the metering proxy (`teamster capture --last-reply`, hand-offs
//! and pipes between agents).
//!
//! Read where the agent cannot dress it up: from the provider's reply on the wire, not from
//! a transcript file or a hook payload the agent writes. A reply that calls a tool is a step
//! of the turn, not its answer; a request that offers no tools is a side request (a title,
//! a router's choice), not the conversation.
//!
//! Pure: bytes in (in whatever pieces the network gives), text out.

use super::usage::Api;
use serde_json::Value;

/// The longest answer kept; beyond it the text is cut (and says so).
const MAX_TEXT: usize = 256 << 10;
/// The largest JSON body or stream line read for text.
const MAX_LINE: usize = 16 << 20;

/// Does this request body carry a turn of the agent's conversation (it offers tools)?
pub fn offers_tools(body: &[u8]) -> bool {
    // The tools alone: the rest (a whole conversation) is skipped, not built.
    #[derive(serde::Deserialize)]
    struct Offered {
        tools: Option<Vec<serde::de::IgnoredAny>>,
    }
    serde_json::from_slice::<Offered>(body).ok().and_then(|o| o.tools).is_some_and(|t| !t.is_empty())
}

/// Reads one reply's answer text, piece by piece.
pub struct ReplyReader {
    api: Api,
    stream: bool,
    /// A partial line (streams) or the body so far (JSON).
    pending: Vec<u8>,
    text: String,
    /// The reply calls a tool: the turn goes on.
    calls_tool: bool,
    overflow: bool,
}

impl ReplyReader {
    pub fn new(api: Api, content_type: &str) -> ReplyReader {
        ReplyReader {
            api,
            stream: content_type.contains("event-stream"),
            pending: Vec::new(),
            text: String::new(),
            calls_tool: false,
            overflow: false,
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.overflow {
            return;
        }
        if self.stream {
            let mut pending = std::mem::take(&mut self.pending);
            super::usage::each_line(&mut pending, chunk, |line| self.line(line));
            self.pending = pending;
        } else {
            self.pending.extend_from_slice(chunk);
        }
        if self.pending.len() > MAX_LINE {
            self.overflow = true;
            self.pending = Vec::new();
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let Some(data) = line.trim_end().strip_prefix("data:") else { return };
        if let Ok(event) = serde_json::from_str::<Value>(data.trim_start()) {
            self.event(&event);
        }
    }

    /// One streamed event, or a whole JSON body.
    fn event(&mut self, v: &Value) {
        let kind = v.get("type").and_then(Value::as_str);
        match self.api {
            Api::AnthropicMessages => match kind {
                Some("content_block_start") => {
                    let block = v.get("content_block");
                    self.block(block.and_then(|b| b.get("type")).and_then(Value::as_str), block);
                }
                Some("content_block_delta")
                    if v.pointer("/delta/type").and_then(Value::as_str) == Some("text_delta") =>
                {
                    self.push(v.pointer("/delta/text"))
                }
                // A whole body.
                Some("message") => {
                    for block in v.get("content").and_then(Value::as_array).into_iter().flatten() {
                        self.block(block.get("type").and_then(Value::as_str), Some(block));
                    }
                }
                _ => {}
            },
            Api::OpenaiResponses => match kind {
                Some("response.output_text.delta") => self.push(v.get("delta")),
                Some("response.output_item.added") => self.item(v.get("item"), false),
                // A body is the response itself.
                None if v.get("object").and_then(Value::as_str) == Some("response") => {
                    for item in v.get("output").and_then(Value::as_array).into_iter().flatten() {
                        self.item(Some(item), true);
                    }
                }
                _ => {}
            },
            Api::OpenaiChat => {
                for choice in v.get("choices").and_then(Value::as_array).into_iter().flatten() {
                    // A chunk's delta, or a body's message.
                    let Some(m) = choice.get("delta").or_else(|| choice.get("message")) else { continue };
                    if m.get("tool_calls").and_then(Value::as_array).is_some_and(|c| !c.is_empty()) {
                        self.calls_tool = true;
                    }
                    self.push(m.get("content"));
                }
            }
            Api::Gemini => {
                // Code Assist (Login with Google) wraps the chunk in `response`.
                let v = v.get("response").filter(|r| r.is_object()).unwrap_or(v);
                let parts = v.pointer("/candidates/0/content/parts").and_then(Value::as_array);
                for part in parts.into_iter().flatten() {
                    if part.get("functionCall").is_some() {
                        self.calls_tool = true;
                    } else if part.get("thought").and_then(Value::as_bool) != Some(true) {
                        self.push(part.get("text"));
                    }
                }
            }
        }
    }

    /// An Anthropic content block: text, or a call of a tool (thinking is not the answer).
    fn block(&mut self, kind: Option<&str>, block: Option<&Value>) {
        match kind {
            Some("text") => self.push(block.and_then(|b| b.get("text"))),
            Some("tool_use" | "server_tool_use") => self.calls_tool = true,
            _ => {}
        }
    }

    /// A Responses output item: a message (whose text counts when read from a body), or a
    /// call of some tool (`function_call`, `local_shell_call`, `custom_tool_call`...).
    fn item(&mut self, item: Option<&Value>, whole: bool) {
        let Some(item) = item else { return };
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        if kind.ends_with("_call") {
            self.calls_tool = true;
        } else if kind == "message" && whole {
            for part in item.get("content").and_then(Value::as_array).into_iter().flatten() {
                if part.get("type").and_then(Value::as_str) == Some("output_text") {
                    self.push(part.get("text"));
                }
            }
        }
    }

    fn push(&mut self, text: Option<&Value>) {
        let Some(text) = text.and_then(Value::as_str) else { return };
        if self.text.len() >= MAX_TEXT {
            return;
        }
        let room = MAX_TEXT - self.text.len();
        let cut = (0..=text.len().min(room)).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        self.text.push_str(&text[..cut]);
        if cut < text.len() {
            self.text.push_str("\n[… cut: the answer is longer than teamster keeps]");
        }
    }

    /// The answer, when the reply ended whole with text and called no tool.
    pub fn finish(mut self, whole: bool) -> Option<String> {
        if !self.overflow && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            if self.stream {
                self.line(&rest);
            } else if let Ok(v) = serde_json::from_slice::<Value>(&rest) {
                self.event(&v);
            }
        }
        let text = self.text.trim();
        (whole && !self.calls_tool && !text.is_empty()).then(|| text.to_string())
    }
}

/// How the `reply` fuzz target (`fuzz/fuzz_targets/reply.rs`) reads an input, as the
/// `usage` target does (`usage::fuzz_read`): the API and flags, the piece size, then the
/// reply, fed in pieces; the answer read, and whether the request body `rest` offers tools.
/// `None`: too short. The answer is never longer than teamster keeps (and its notice).
#[doc(hidden)]
pub fn fuzz_read(data: &[u8]) -> Option<(Option<String>, bool)> {
    let [pick, piece, rest @ ..] = data else { return None };
    let api = [Api::AnthropicMessages, Api::OpenaiResponses, Api::OpenaiChat, Api::Gemini][*pick as usize % 4];
    let content_type = if pick & 4 != 0 { "text/event-stream; charset=utf-8" } else { "application/json" };
    let mut r = ReplyReader::new(api, content_type);
    for chunk in rest.chunks(usize::from(*piece).max(1)) {
        r.feed(chunk);
    }
    let answer = r.finish(pick & 8 != 0);
    if let Some(text) = &answer {
        assert!(text.len() <= MAX_TEXT + 64, "an answer of {} bytes was kept", text.len());
    }
    Some((answer, offers_tools(rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::mock_llm::{Request, Turn, answer};
    use serde_json::json;

    /// What the reader makes of the mock provider's answer to `body` at `path`, fed in
    /// pieces of `n` bytes.
    fn read(path: &str, body: Value, turn: Turn, n: usize) -> Option<String> {
        let req = Request { method: "POST".into(), path: path.into(), text: body.to_string(), body };
        let (_, content_type, reply) = answer(&req, &turn, 1);
        let mut r = ReplyReader::new(Api::of_path(path).expect("a model call"), content_type);
        for piece in reply.as_bytes().chunks(n) {
            r.feed(piece);
        }
        r.finish(true)
    }

    fn bodies() -> Vec<(&'static str, Value)> {
        let shell = json!([{ "name": "Bash", "type": "function", "function": { "name": "bash" } }]);
        vec![
            ("/v1/messages?beta=true", json!({ "model": "m", "stream": true, "tools": shell })),
            ("/v1/messages", json!({ "model": "m", "stream": false, "tools": shell })),
            ("/v1/responses", json!({ "model": "m", "stream": true, "tools": shell })),
            ("/v1/responses", json!({ "model": "m", "stream": false, "tools": shell })),
            ("/v1/chat/completions", json!({ "model": "m", "stream": true, "tools": shell })),
            ("/v1/chat/completions", json!({ "model": "m", "stream": false, "tools": shell })),
            (
                "/v1beta/models/g:streamGenerateContent?alt=sse",
                json!({ "tools": [{ "functionDeclarations": [{ "name": "run_shell_command" }] }] }),
            ),
            ("/v1beta/models/g:generateContent", json!({ "tools": [{ "functionDeclarations": [{ "name": "x" }] }] })),
        ]
    }

    #[test]
    fn an_answer_is_read_in_every_api_streamed_or_not_in_any_pieces() {
        for (path, body) in bodies() {
            for n in [1, 7, 4096] {
                let got = read(path, body.clone(), Turn::Say("the tests pass: 12 of 12".into()), n);
                assert_eq!(got.as_deref(), Some("the tests pass: 12 of 12"), "{path} {body} in pieces of {n}");
            }
        }
    }

    /// The fuzz target's seeds are the mock provider's replies in each API (an answer, and
    /// a call of a tool), as `fuzz_read` takes them; written again with
    /// `TEAMSTER_WRITE_SEEDS=1`.
    #[test]
    fn the_fuzz_seeds_are_replies_as_providers_send_them() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/reply");
        for (i, (path, body)) in bodies().into_iter().enumerate() {
            for (turn, answered) in [(Turn::Say("done: 3 of 3".into()), true), (Turn::CallTool("ls".into()), false)] {
                let req =
                    Request { method: "POST".into(), path: path.into(), text: body.to_string(), body: body.clone() };
                let (_, content_type, reply) = answer(&req, &turn, 1);
                let api = Api::of_path(path).expect("a model call");
                let pick = [Api::AnthropicMessages, Api::OpenaiResponses, Api::OpenaiChat, Api::Gemini]
                    .iter()
                    .position(|a| *a == api)
                    .expect("an API") as u8;
                let stream = if content_type.contains("event-stream") { 4 } else { 0 };
                let seed = [&[pick | stream | 8, 61][..], reply.as_bytes()].concat();
                let name = format!("{i}-{}", if answered { "answer" } else { "tool" });
                let file = dir.join(&name);
                if std::env::var_os("TEAMSTER_WRITE_SEEDS").is_some() {
                    std::fs::write(&file, &seed).unwrap();
                }
                assert_eq!(std::fs::read(&file).ok(), Some(seed.clone()), "{name}: TEAMSTER_WRITE_SEEDS=1");
                let (got, _) = fuzz_read(&seed).expect("long enough");
                assert_eq!(got.is_some(), answered, "{name}: {got:?}");
            }
        }
    }

    #[test]
    fn a_reply_that_calls_a_tool_is_no_answer() {
        for (path, body) in bodies() {
            assert_eq!(read(path, body.clone(), Turn::CallTool("ls".into()), 5), None, "{path} {body}");
        }
    }

    #[test]
    fn a_cut_off_reply_or_one_without_text_is_no_answer() {
        let mut r = ReplyReader::new(Api::AnthropicMessages, "text/event-stream");
        r.feed(b"data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"half\"}}\n");
        assert_eq!(r.finish(false), None);
        let r = ReplyReader::new(Api::OpenaiChat, "application/json");
        assert_eq!(r.finish(true), None);
    }

    #[test]
    fn only_requests_that_offer_tools_are_turns() {
        assert!(offers_tools(br#"{"model":"m","tools":[{"name":"Bash"}],"messages":[]}"#));
        assert!(!offers_tools(br#"{"model":"m","messages":[],"output_config":{}}"#));
        assert!(!offers_tools(br#"{"tools":[]}"#));
        assert!(!offers_tools(b"not json"));
    }

    #[test]
    fn a_huge_answer_is_cut_where_a_character_ends() {
        let mut r = ReplyReader::new(Api::OpenaiChat, "application/json");
        let big = "é".repeat(MAX_TEXT);
        r.feed(json!({ "choices": [{ "message": { "content": big } }] }).to_string().as_bytes());
        let text = r.finish(true).expect("an answer");
        assert!(text.len() < MAX_TEXT + 100 && text.ends_with("longer than teamster keeps]"), "{}", text.len());
    }
}
