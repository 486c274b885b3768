//! Reading token usage out of LLM API replies as they stream past, without holding them
//! up: Anthropic Messages, OpenAI Responses, OpenAI Chat Completions and Gemini, each as a
//! server-sent event stream or a single JSON body.
//!
//! Pure: bytes in (in whatever pieces the network gives), usage out.

use serde_json::Value;

/// The API a request speaks, from its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    AnthropicMessages,
    OpenaiResponses,
    OpenaiChat,
    Gemini,
}

impl Api {
    /// The API of a request path that is a model call (and so costs money), if it is one.
    pub fn of_path(path: &str) -> Option<Api> {
        let route = path.split('?').next().unwrap_or("");
        if route.ends_with("/messages") {
            Some(Api::AnthropicMessages)
        } else if route.ends_with("/responses") {
            Some(Api::OpenaiResponses)
        } else if route.ends_with("/chat/completions") {
            Some(Api::OpenaiChat)
        } else if route.contains(":generateContent") || route.contains(":streamGenerateContent") {
            Some(Api::Gemini)
        } else {
            None
        }
    }
}

/// Tokens one model call used, in the four kinds prices distinguish. `input` excludes the
/// cached part, whichever way the API counts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub model: Option<String>,
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// Of `cache_write`, what was written for an hour (Anthropic prices it apart).
    pub cache_write_1h: u64,
}

impl Usage {
    /// Every token of the prompt, cached or not (saturating: the counts are a reply's claim).
    pub fn prompt_tokens(&self) -> u64 {
        self.input.saturating_add(self.cache_read).saturating_add(self.cache_write)
    }
}

/// What a reply said of its usage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    Usage(Usage),
    /// The reply ended without usage we could read (a broken stream, a new format): the
    /// spend of this call is unknown, not guessed.
    Unknown(String),
}

/// The largest JSON body kept to read usage from; a reply bigger than this is still passed
/// on whole, its usage unknown.
const MAX_BODY: usize = 16 << 20;

/// Reads one reply's usage from its bytes, piece by piece.
pub struct UsageReader {
    api: Api,
    stream: bool,
    /// A partial line (streams) or the body so far (JSON).
    pending: Vec<u8>,
    usage: Usage,
    seen: bool,
    complete: bool,
    overflow: bool,
    /// Gemini repeats its running counts in every chunk: the latest, read at the end.
    latest: Vec<u8>,
}

impl UsageReader {
    /// For a reply of `api` whose content type is `content_type`; `model` is what the
    /// request asked for (Gemini names it only in the path).
    pub fn new(api: Api, content_type: &str, model: Option<String>) -> UsageReader {
        UsageReader {
            api,
            stream: content_type.contains("event-stream"),
            pending: Vec::new(),
            usage: Usage { model, ..Usage::default() },
            seen: false,
            complete: false,
            overflow: false,
            latest: Vec::new(),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.stream {
            if self.pending.len() + chunk.len() > MAX_BODY {
                self.overflow = true;
                self.pending = Vec::new();
            } else if !self.overflow {
                self.pending.extend_from_slice(chunk);
            }
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        each_line(&mut pending, chunk, |line| self.line(line));
        self.pending = pending;
        self.check_pending();
    }

    /// A "line" longer than any reply's usage: give up reading this reply.
    fn check_pending(&mut self) {
        if self.pending.len() > MAX_BODY {
            self.overflow = true;
            self.pending.clear();
        }
    }

    fn line(&mut self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let Some(data) = line.trim_end().strip_prefix("data:") else { return };
        let data = data.trim_start();
        // Most events are the reply's text: only those that can carry usage, or say the
        // reply is complete, are parsed. (OpenAI's text chunks say `"usage":null`.)
        let usage = data.contains("usage") && !data.contains("\"usage\":null");
        let end = data.contains("message_stop") || data.contains("finishReason");
        if !usage && !end {
            return;
        }
        if self.api == Api::Gemini && !end {
            self.latest.clear();
            self.latest.extend_from_slice(data.as_bytes());
            return;
        }
        self.latest.clear();
        if let Ok(event) = serde_json::from_str::<Value>(data) {
            self.event(&event);
        }
    }

    /// One streamed event, or a whole JSON body.
    fn event(&mut self, v: &Value) {
        let u = &mut self.usage;
        let n = |v: Option<&Value>| v.and_then(Value::as_u64);
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        match self.api {
            Api::AnthropicMessages => {
                // A stream starts with the input counts and ends with the output count; a
                // body has them all.
                let (usage, model) = match v.get("type").and_then(Value::as_str) {
                    Some("message_start") => (v.pointer("/message/usage"), v.pointer("/message/model")),
                    Some("message_delta") => (v.get("usage"), None),
                    Some("message_stop") => {
                        self.complete = true;
                        (None, None)
                    }
                    Some("message") => {
                        self.complete = true;
                        (v.get("usage"), v.get("model"))
                    }
                    _ => (None, None),
                };
                if let Some(m) = text(model) {
                    u.model = Some(m);
                }
                if let Some(usage) = usage {
                    // Later events repeat counts; the latest of each counts.
                    if let Some(x) = n(usage.get("input_tokens")) {
                        u.input = x;
                    }
                    if let Some(x) = n(usage.get("output_tokens")) {
                        u.output = x;
                    }
                    if let Some(x) = n(usage.get("cache_read_input_tokens")) {
                        u.cache_read = x;
                    }
                    if let Some(x) = n(usage.get("cache_creation_input_tokens")) {
                        u.cache_write = x;
                    }
                    if let Some(x) = n(usage.pointer("/cache_creation/ephemeral_1h_input_tokens")) {
                        u.cache_write_1h = x;
                    }
                    self.seen = true;
                }
            }
            Api::OpenaiResponses => {
                let response = match v.get("type").and_then(Value::as_str) {
                    Some("response.completed") | Some("response.incomplete") => v.get("response"),
                    Some(_) => None,
                    // A body is the response itself.
                    None if v.get("object").and_then(Value::as_str) == Some("response") => Some(v),
                    None => None,
                };
                if let Some(r) = response {
                    if let Some(m) = text(r.get("model")) {
                        u.model = Some(m);
                    }
                    if let Some(usage) = r.get("usage").filter(|u| u.is_object()) {
                        openai_counts(u, usage, "input_tokens", "/input_tokens_details/cached_tokens", "output_tokens");
                        self.seen = true;
                        self.complete = true;
                    }
                }
            }
            Api::OpenaiChat => {
                if let Some(m) = text(v.get("model")) {
                    u.model = Some(m);
                }
                if let Some(usage) = v.get("usage").filter(|u| u.is_object()) {
                    openai_counts(
                        u,
                        usage,
                        "prompt_tokens",
                        "/prompt_tokens_details/cached_tokens",
                        "completion_tokens",
                    );
                    self.seen = true;
                    self.complete = true;
                }
            }
            Api::Gemini => {
                // Each chunk carries the counts so far; the last is the call's. Code Assist
                // (Login with Google) wraps the chunk in `response`.
                let v = v.get("response").filter(|r| r.is_object()).unwrap_or(v);
                if let Some(m) = text(v.get("modelVersion")) {
                    u.model = Some(m);
                }
                if let Some(usage) = v.get("usageMetadata").filter(|u| u.is_object()) {
                    let cached = n(usage.get("cachedContentTokenCount")).unwrap_or(0);
                    u.input = n(usage.get("promptTokenCount")).unwrap_or(0).saturating_sub(cached);
                    u.cache_read = cached;
                    // Counts are the provider's to claim: added without overflowing.
                    u.output = n(usage.get("candidatesTokenCount"))
                        .unwrap_or(0)
                        .saturating_add(n(usage.get("thoughtsTokenCount")).unwrap_or(0));
                    self.seen = true;
                }
                if v.pointer("/candidates/0/finishReason").is_some() {
                    self.complete = true;
                }
            }
        }
    }

    /// The reply has ended (`whole`: as it should, not cut off).
    pub fn finish(mut self, whole: bool) -> Reading {
        if !self.stream && !self.overflow {
            match serde_json::from_slice::<Value>(&self.pending) {
                Ok(v) => self.event(&v),
                Err(e) => return Reading::Unknown(format!("the reply is not the JSON expected: {e}")),
            }
        } else if self.stream && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(&rest);
        }
        // A Gemini stream cut off before its last chunk: the counts it had reached.
        if !self.latest.is_empty()
            && let Ok(v) = serde_json::from_slice::<Value>(&std::mem::take(&mut self.latest))
        {
            self.event(&v);
        }
        if self.overflow {
            return Reading::Unknown("the reply was too large to read its usage".into());
        }
        match (self.seen, whole && (self.complete || !self.stream)) {
            (true, true) => Reading::Usage(self.usage),
            // Cut off: what was used up to there is known only in part.
            (true, false) => Reading::Unknown(format!(
                "the reply was cut off; it had used at least {} input and {} output tokens",
                self.usage.prompt_tokens(),
                self.usage.output
            )),
            (false, _) => Reading::Unknown("the reply carried no usage teamster could read".into()),
        }
    }
}

/// Calls `line` for each whole line of a stream that arrives in pieces, read where it lies
/// in the piece: `pending` holds a line the last piece cut, and keeps the one this piece
/// cuts, to be finished by the next.
pub(super) fn each_line(pending: &mut Vec<u8>, chunk: &[u8], mut line: impl FnMut(&[u8])) {
    let mut rest = chunk;
    if !pending.is_empty() {
        let Some(i) = rest.iter().position(|&b| b == b'\n') else {
            pending.extend_from_slice(rest);
            return;
        };
        let mut first = std::mem::take(pending);
        first.extend_from_slice(&rest[..i]);
        line(&first);
        rest = &rest[i + 1..];
    }
    while let Some(i) = rest.iter().position(|&b| b == b'\n') {
        line(&rest[..i]);
        rest = &rest[i + 1..];
    }
    pending.extend_from_slice(rest);
}

/// OpenAI's counts (Responses and Chat Completions name them differently): the input total
/// includes the cached part.
fn openai_counts(u: &mut Usage, usage: &Value, input: &str, cached: &str, output: &str) {
    let n = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let cached = n(usage.pointer(cached));
    u.input = n(usage.get(input)).saturating_sub(cached);
    u.cache_read = cached;
    u.output = n(usage.get(output));
}

/// The model a request asks for: in its body, or (Gemini) in its path.
pub fn requested_model(path: &str, body: &[u8]) -> Option<String> {
    if let Some(rest) = path.split("/models/").nth(1) {
        return rest.split([':', '?', '/']).next().map(str::to_string).filter(|m| !m.is_empty());
    }
    // The model field alone: the rest (a whole conversation) is skipped, not built.
    #[derive(serde::Deserialize)]
    struct Asked<'a> {
        #[serde(borrow)]
        model: Option<std::borrow::Cow<'a, str>>,
    }
    serde_json::from_slice::<Asked>(body).ok()?.model.map(|m| m.into_owned())
}

/// How the `usage` fuzz target (`fuzz/fuzz_targets/usage.rs`) and its regression tests
/// read an input: the API and flags, the piece size, then the reply, fed in pieces.
/// `None`: too short.
#[doc(hidden)]
pub fn fuzz_read(data: &[u8]) -> Option<Reading> {
    let [pick, piece, rest @ ..] = data else { return None };
    let api = [Api::AnthropicMessages, Api::OpenaiResponses, Api::OpenaiChat, Api::Gemini][*pick as usize % 4];
    let content_type = if pick & 4 != 0 { "text/event-stream; charset=utf-8" } else { "application/json" };
    let mut r = UsageReader::new(api, content_type, Some("asked".into()));
    for chunk in rest.chunks(usize::from(*piece).max(1)) {
        r.feed(chunk);
    }
    Some(r.finish(pick & 8 != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `reply` in pieces of `n` bytes, so events split anywhere.
    fn read(api: Api, content_type: &str, reply: &str, n: usize) -> Reading {
        let mut r = UsageReader::new(api, content_type, Some("asked".into()));
        for piece in reply.as_bytes().chunks(n) {
            r.feed(piece);
        }
        r.finish(true)
    }

    fn usage(model: &str, input: u64, output: u64, cache_read: u64, cache_write: u64) -> Reading {
        Reading::Usage(Usage { model: Some(model.into()), input, output, cache_read, cache_write, cache_write_1h: 0 })
    }

    const ANTHROPIC_STREAM: &str = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1,\"cache_read_input_tokens\":200,\"cache_creation_input_tokens\":30}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":57}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    #[test]
    fn every_api_streamed_or_not_in_any_pieces() {
        let cases: Vec<(Api, &str, String, Reading)> = vec![
            (Api::AnthropicMessages, "text/event-stream", ANTHROPIC_STREAM.into(), usage("claude-sonnet-4-5", 10, 57, 200, 30)),
            (
                Api::AnthropicMessages,
                "application/json",
                r#"{"type":"message","model":"claude-haiku-4-5","content":[],"usage":{"input_tokens":5,"output_tokens":7,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}"#.into(),
                usage("claude-haiku-4-5", 5, 7, 0, 0),
            ),
            (
                Api::OpenaiResponses,
                "text/event-stream; charset=utf-8",
                "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5\",\"usage\":{\"input_tokens\":100,\"input_tokens_details\":{\"cached_tokens\":60},\"output_tokens\":9}}}\n\n".into(),
                usage("gpt-5", 40, 9, 60, 0),
            ),
            (
                Api::OpenaiResponses,
                "application/json",
                r#"{"object":"response","model":"gpt-5-mini","usage":{"input_tokens":3,"output_tokens":4}}"#.into(),
                usage("gpt-5-mini", 3, 4, 0, 0),
            ),
            (
                Api::OpenaiChat,
                "text/event-stream",
                "data: {\"model\":\"gpt-4.1\",\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":null}\n\ndata: {\"model\":\"gpt-4.1\",\"choices\":[],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":20}}}\n\ndata: [DONE]\n\n".into(),
                usage("gpt-4.1", 30, 5, 20, 0),
            ),
            (
                Api::OpenaiChat,
                "application/json",
                r#"{"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":8,"completion_tokens":2}}"#.into(),
                usage("gpt-4o", 8, 2, 0, 0),
            ),
            (
                Api::Gemini,
                "text/event-stream",
                "data: {\"candidates\":[{\"content\":{}}],\"usageMetadata\":{\"promptTokenCount\":90,\"candidatesTokenCount\":1}}\r\n\r\ndata: {\"candidates\":[{\"finishReason\":\"STOP\"}],\"modelVersion\":\"gemini-2.5-pro\",\"usageMetadata\":{\"promptTokenCount\":90,\"candidatesTokenCount\":12,\"thoughtsTokenCount\":30,\"cachedContentTokenCount\":40}}\r\n\r\n".into(),
                usage("gemini-2.5-pro", 50, 42, 40, 0),
            ),
            (
                Api::Gemini,
                "application/json",
                r#"{"candidates":[{"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":3}}"#.into(),
                usage("asked", 7, 3, 0, 0),
            ),
            (
                Api::Gemini,
                "text/event-stream",
                "data: {\"response\":{\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2}},\"traceId\":\"t\"}\n\n".into(),
                usage("asked", 4, 2, 0, 0),
            ),
        ];
        for (api, ct, reply, want) in cases {
            for n in [1, 7, 64, reply.len()] {
                assert_eq!(read(api, ct, &reply, n), want, "{api:?} in pieces of {n}");
            }
        }
    }

    #[test]
    fn anthropic_one_hour_cache_writes_are_read_apart() {
        let body = r#"{"type":"message","model":"claude-opus-4-1","usage":{"input_tokens":1,"output_tokens":2,"cache_creation_input_tokens":30,"cache_creation":{"ephemeral_1h_input_tokens":12}}}"#;
        let Reading::Usage(u) = read(Api::AnthropicMessages, "application/json", body, 9) else { panic!("no usage") };
        assert_eq!((u.cache_write, u.cache_write_1h), (30, 12));
    }

    #[test]
    fn what_cannot_be_read_is_unknown_not_guessed() {
        // Cut off after the first event: the input is known, the output is not.
        let cut = &ANTHROPIC_STREAM[..ANTHROPIC_STREAM.find("event: content_block_delta").unwrap()];
        let mut r = UsageReader::new(Api::AnthropicMessages, "text/event-stream", None);
        r.feed(cut.as_bytes());
        assert!(
            matches!(r.finish(false), Reading::Unknown(why) if why.contains("cut off") && why.contains("240 input"))
        );
        // A stream that ends early without the connection failing.
        assert!(matches!(read(Api::AnthropicMessages, "text/event-stream", cut, 5), Reading::Unknown(_)));
        // Malformed, or without usage.
        assert!(matches!(read(Api::OpenaiChat, "application/json", "{not json", 3), Reading::Unknown(_)));
        assert!(matches!(
            read(Api::OpenaiResponses, "text/event-stream", "data: {\"type\":\"response.completed\",\"response\":{}}\n\n", 4),
            Reading::Unknown(why) if why.contains("no usage")
        ));
        assert!(matches!(
            read(Api::Gemini, "text/event-stream", "data: {\"usageMetadata\":{oops\n\n", 2),
            Reading::Unknown(_)
        ));
        assert!(matches!(
            read(Api::AnthropicMessages, "text/event-stream", "data: {\"type\":\"message_start\",\"usage\":{broken\n\ndata: {\"type\":\"message_stop\"}\n\n", 3),
            Reading::Unknown(why) if why.contains("no usage")
        ));
    }

    #[test]
    fn model_calls_by_path() {
        assert_eq!(Api::of_path("/v1/messages?beta=true"), Some(Api::AnthropicMessages));
        assert_eq!(Api::of_path("/v1/messages/count_tokens"), None);
        assert_eq!(Api::of_path("/v1/responses"), Some(Api::OpenaiResponses));
        assert_eq!(Api::of_path("/api/v1/chat/completions"), Some(Api::OpenaiChat));
        assert_eq!(Api::of_path("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"), Some(Api::Gemini));
        assert_eq!(Api::of_path("/v1/models"), None);
        assert_eq!(
            requested_model("/v1beta/models/gemini-2.5-flash:generateContent", b"{}").as_deref(),
            Some("gemini-2.5-flash")
        );
        assert_eq!(
            requested_model("/v1/messages", br#"{"model":"claude-opus-4-1","max_tokens":5}"#).as_deref(),
            Some("claude-opus-4-1")
        );
        assert_eq!(requested_model("/v1/messages", b"garbage"), None);
    }

    fn fuzz_replay(data: &[u8]) -> Reading {
        let reading = super::fuzz_read(data).expect("a fuzz input has at least two bytes");
        if let Reading::Usage(u) = &reading {
            let _ = crate::config::Config::default().prices().cost(u);
        }
        reading
    }

    #[test]
    fn fuzz_regression_counts_near_the_limit_do_not_overflow() {
        // Found by the fuzzer: Gemini's candidates and thoughts counts were added with `+`
        // (a panic in debug builds, a wrapped count in release); so were a cut-off
        // reply's prompt counts, and a long-context price's threshold check.
        let reading = fuzz_replay(include_bytes!("../../tests/fuzz-regressions/usage-gemini-count-overflow.bin"));
        assert!(matches!(reading, Reading::Unknown(_)), "{reading:?}");
        let big = "data: {\"usageMetadata\":{\"candidatesTokenCount\":18446744073709551615,\"thoughtsTokenCount\":4},\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n";
        let Reading::Usage(u) = read(Api::Gemini, "text/event-stream", big, 7) else { panic!("usage expected") };
        assert_eq!(u.output, u64::MAX);
        let max = Usage { input: u64::MAX, cache_read: u64::MAX, ..Usage::default() };
        assert_eq!(max.prompt_tokens(), u64::MAX);
        let cut = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":18446744073709551615,\"cache_read_input_tokens\":9}}}\n\n";
        let mut r = UsageReader::new(Api::AnthropicMessages, "text/event-stream", None);
        r.feed(cut.as_bytes());
        assert!(matches!(r.finish(false), Reading::Unknown(m) if m.contains("18446744073709551615 input")));
        let long = Usage { model: Some("gemini-2.5-pro".into()), input: u64::MAX, cache_write: 5, ..Usage::default() };
        assert!(crate::config::Config::default().prices().cost(&long).0 > 0.0);
    }
}
