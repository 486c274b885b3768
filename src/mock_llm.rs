//! A stand-in LLM provider: an HTTP server on loopback that speaks the four wire formats
//! agent CLIs use (Anthropic Messages, OpenAI Responses, OpenAI Chat Completions, Gemini),
//! streamed or not, with usage in every answer. Whoever runs it decides each turn: call
//! the agent's shell tool with a command, or say something.
//!
//! `teamster doctor --live` runs each installed agent against it to check that teamster's
//! hooks still work with that version; the tests build their scripted mock on it.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

/// A request as the agent sent it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub body: Value,
    /// The body as sent, for searching.
    pub text: String,
}

/// What to answer a turn of the conversation with.
#[derive(Clone, Debug, PartialEq)]
pub enum Turn {
    /// Call the shell tool the request offers with this command.
    CallTool(String),
    Say(String),
}

struct Usage {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

/// An HTTP answer: status line, content type, body.
pub type Answer = (&'static str, &'static str, String);

/// What decides each answer; it may block, to hold one.
pub type Answerer = Arc<dyn Fn(&Request) -> Answer + Send + Sync>;

impl Request {
    /// The path without its query.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// A turn of the conversation: the request offers tools (a side request, for a title or
    /// a router's choice, offers none).
    pub fn is_turn(&self) -> bool {
        !tool_names(&self.body).is_empty()
    }

    /// The JSON schema a side request wants its answer in, if it wants one.
    pub fn schema(&self) -> Option<&Value> {
        let b = &self.body;
        b.pointer("/output_config/format/schema")
            .or_else(|| b.pointer("/generationConfig/responseJsonSchema"))
            .or_else(|| b.pointer("/generationConfig/responseSchema"))
            .or_else(|| b.pointer("/text/format/schema"))
            .or_else(|| b.pointer("/response_format/json_schema/schema"))
    }

    /// Whether the conversation ends with a tool's result: the agent ran (or was refused)
    /// the call and waits for what comes next.
    pub fn ends_with_tool_result(&self) -> bool {
        let b = &self.body;
        if self.route().contains("enerateContent") {
            b.get("contents")
                .and_then(Value::as_array)
                .and_then(|c| c.last())
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array)
                .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()))
        } else if let Some(input) = b.get("input").and_then(Value::as_array) {
            input.last().and_then(|i| i.get("type")).and_then(Value::as_str) == Some("function_call_output")
        } else if let Some(messages) = b.get("messages").and_then(Value::as_array) {
            // Claude Code may put a system message after the user's.
            let last = messages.iter().rev().find(|m| m.get("role").and_then(Value::as_str) != Some("system"));
            last.is_some_and(|m| {
                m.get("role").and_then(Value::as_str) == Some("tool")
                    || m.get("content")
                        .and_then(Value::as_array)
                        .is_some_and(|c| c.iter().any(|p| p.get("type").and_then(Value::as_str) == Some("tool_result")))
            })
        } else {
            false
        }
    }

    /// What the user wrote, oldest first, in any of the formats.
    pub fn user_texts(&self) -> Vec<String> {
        let b = &self.body;
        let mut out = Vec::new();
        let items =
            ["messages", "input", "contents"].iter().filter_map(|k| b.get(*k).and_then(Value::as_array)).flatten();
        for m in items.filter(|m| m.get("role").and_then(Value::as_str) == Some("user")) {
            let mut text = String::new();
            collect_text(m.get("content").or_else(|| m.get("parts")).unwrap_or(&Value::Null), &mut text);
            if !text.trim().is_empty() {
                out.push(text);
            }
        }
        out
    }
}

/// Serves HTTP/1.1 on `listener` for as long as the process lives, a thread per
/// connection; `answer` gives each request's answer.
pub fn serve(listener: TcpListener, answer: Answerer) {
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || serve_connection(conn, &answer));
        }
    });
}

fn serve_connection(conn: TcpStream, answer: &Answerer) {
    let _ = conn.set_nodelay(true);
    let Ok(reader) = conn.try_clone() else { return };
    let mut reader = BufReader::new(reader);
    let mut out = conn;
    // Keep-alive: one request after another until the client hangs up.
    while let Some((method, path, body)) = read_request(&mut reader) {
        let text = String::from_utf8_lossy(&body).into_owned();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (status, content_type, reply) = answer(&Request { method, path, body, text });
        // Head and body in one write: one segment on the wire.
        let whole = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-cache\r\nconnection: keep-alive\r\n\r\n{reply}",
            reply.len()
        );
        if out.write_all(whole.as_bytes()).is_err() {
            return;
        }
    }
}

/// The usage the stand-in reports for `req` (in every answer's usage fields), as the meter
/// reads it: input grows with the request, the rest is fixed.
pub fn usage_of(req: &Request, model: Option<&str>) -> crate::meter::usage::Usage {
    crate::meter::usage::Usage {
        model: model.map(str::to_string),
        input: (req.text.len() / 4) as u64 + 1,
        output: 12,
        cache_read: 100,
        cache_write: 20,
        cache_write_1h: 0,
    }
}

/// The answer to `req`: `turn` in the request's own wire format (the `n`th answer, for
/// unique ids), or what the endpoints around model calls want (a liveness probe, token
/// counts, a model list).
pub fn answer(req: &Request, turn: &Turn, n: usize) -> Answer {
    answer_using(req, turn, n, &usage_of(req, None))
}

/// `answer`, reporting usage `u`.
pub fn answer_using(req: &Request, turn: &Turn, n: usize, u: &crate::meter::usage::Usage) -> Answer {
    let route = req.route();
    let stream = req.body.get("stream").and_then(Value::as_bool).unwrap_or(false) || req.path.contains("alt=sse");
    let usage = Usage { input: u.input, output: u.output, cache_read: u.cache_read, cache_write: u.cache_write };
    // Claude Code checks the endpoint is up before anything else.
    if req.method == "HEAD" || route == "/" {
        return ("200 OK", "text/plain", String::new());
    }
    if route.ends_with("/count_tokens") {
        return ("200 OK", "application/json", json!({ "input_tokens": usage.input }).to_string());
    }
    if route.ends_with(":countTokens") {
        return ("200 OK", "application/json", json!({ "totalTokens": usage.input }).to_string());
    }
    let reply = Reply { turn: turn.clone(), n, usage };
    let body = if route.ends_with("/messages") {
        anthropic(&reply, req, stream)
    } else if route.ends_with("/responses") {
        responses(&reply, req, stream)
    } else if route.ends_with("/chat/completions") {
        chat(&reply, req, stream)
    } else if route.contains(":generateContent") || route.contains(":streamGenerateContent") {
        gemini(&reply, stream)
    } else if route.ends_with("/models") {
        return ("200 OK", "application/json", json!({ "object": "list", "data": [] }).to_string());
    } else {
        let msg = json!({ "error": { "message": format!("mock LLM: no route {route}") } });
        return ("404 Not Found", "application/json", msg.to_string());
    };
    ("200 OK", if stream { "text/event-stream" } else { "application/json" }, body)
}

struct Reply {
    turn: Turn,
    n: usize,
    usage: Usage,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok().filter(|n| *n > 0)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, body))
}

fn collect_text(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => items.iter().for_each(|i| collect_text(i, out)),
        Value::Object(o) => {
            if let Some(t) = o.get("text").and_then(Value::as_str) {
                out.push_str(t);
                out.push('\n');
            }
        }
        _ => {}
    }
}

/// A value that fits a JSON schema well enough for the CLIs' side requests.
pub fn example_of(schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("object") => {
            let mut o = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    o.insert(k.clone(), example_of(v));
                }
            }
            Value::Object(o)
        }
        Some("array") => json!([]),
        Some("integer") | Some("number") => json!(1),
        Some("boolean") => json!(false),
        _ => match schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            Some(first) => first.clone(),
            None => json!("mock"),
        },
    }
}

/// The name and arguments of the shell tool among those the request offers.
fn shell_call(req: &Request, command: &str) -> (String, Value) {
    let names: Vec<String> = tool_names(&req.body);
    let has = |n: &str| names.iter().any(|t| t == n);
    if has("exec_command") {
        ("exec_command".into(), json!({ "cmd": command }))
    } else if has("shell") {
        ("shell".into(), json!({ "command": ["bash", "-lc", command] }))
    } else if has("run_shell_command") {
        ("run_shell_command".into(), json!({ "command": command, "description": "run a command" }))
    } else if has("Bash") {
        ("Bash".into(), json!({ "command": command, "description": "run a command" }))
    } else {
        ("bash".into(), json!({ "command": command, "description": "run a command" }))
    }
}

fn tool_names(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for t in body.get("tools").and_then(Value::as_array).into_iter().flatten() {
        if let Some(n) = t.get("name").or_else(|| t.pointer("/function/name")).and_then(Value::as_str) {
            out.push(n.to_string());
        }
        for f in t.get("functionDeclarations").and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = f.get("name").and_then(Value::as_str) {
                out.push(n.to_string());
            }
        }
    }
    out
}

fn sse(events: &[(Option<&str>, Value)]) -> String {
    let mut out = String::new();
    for (name, data) in events {
        if let Some(name) = name {
            out.push_str(&format!("event: {name}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    }
    out
}

fn anthropic(reply: &Reply, req: &Request, stream: bool) -> String {
    let model = req.body.get("model").cloned().unwrap_or(json!("mock"));
    let id = format!("msg_mock_{}", reply.n);
    let u = &reply.usage;
    let usage = json!({
        "input_tokens": u.input, "output_tokens": u.output,
        "cache_read_input_tokens": u.cache_read, "cache_creation_input_tokens": u.cache_write,
    });
    let (block, stop) = match &reply.turn {
        Turn::CallTool(command) => {
            let (name, input) = shell_call(req, command);
            (
                json!({ "type": "tool_use", "id": format!("toolu_mock_{}", reply.n), "name": name, "input": input }),
                "tool_use",
            )
        }
        Turn::Say(text) => (json!({ "type": "text", "text": text }), "end_turn"),
    };
    if !stream {
        return json!({
            "id": id, "type": "message", "role": "assistant", "model": model, "content": [block],
            "stop_reason": stop, "stop_sequence": null, "usage": usage,
        })
        .to_string();
    }
    let (start_block, delta) = if block["type"] == "tool_use" {
        let mut start = block.clone();
        start["input"] = json!({});
        (start, json!({ "type": "input_json_delta", "partial_json": block["input"].to_string() }))
    } else {
        (json!({ "type": "text", "text": "" }), json!({ "type": "text_delta", "text": block["text"] }))
    };
    sse(&[
        (
            Some("message_start"),
            json!({ "type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": { "input_tokens": u.input, "output_tokens": 1,
                           "cache_read_input_tokens": u.cache_read, "cache_creation_input_tokens": u.cache_write },
            }}),
        ),
        (
            Some("content_block_start"),
            json!({ "type": "content_block_start", "index": 0, "content_block": start_block }),
        ),
        (Some("content_block_delta"), json!({ "type": "content_block_delta", "index": 0, "delta": delta })),
        (Some("content_block_stop"), json!({ "type": "content_block_stop", "index": 0 })),
        (
            Some("message_delta"),
            json!({ "type": "message_delta", "delta": { "stop_reason": stop, "stop_sequence": null },
                    "usage": { "output_tokens": u.output } }),
        ),
        (Some("message_stop"), json!({ "type": "message_stop" })),
    ])
}

fn responses(reply: &Reply, req: &Request, stream: bool) -> String {
    let model = req.body.get("model").cloned().unwrap_or(json!("mock"));
    let id = format!("resp_mock_{}", reply.n);
    let u = &reply.usage;
    let usage = json!({
        "input_tokens": u.input, "input_tokens_details": { "cached_tokens": u.cache_read },
        "output_tokens": u.output, "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": u.input + u.output,
    });
    let item = match &reply.turn {
        Turn::CallTool(command) => {
            let (name, args) = shell_call(req, command);
            json!({ "type": "function_call", "id": format!("fc_mock_{}", reply.n), "call_id": format!("call_mock_{}", reply.n),
                    "name": name, "arguments": args.to_string(), "status": "completed" })
        }
        Turn::Say(text) => {
            json!({ "type": "message", "id": format!("msg_mock_{}", reply.n), "role": "assistant", "status": "completed",
                     "content": [{ "type": "output_text", "text": text, "annotations": [] }] })
        }
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({ "id": id, "object": "response", "created_at": 0, "status": status, "model": model,
                "output": output, "usage": usage })
    };
    if !stream {
        return response("completed", json!([item]), usage).to_string();
    }
    let mut events = vec![
        (
            Some("response.created"),
            json!({ "type": "response.created", "response": response("in_progress", json!([]), Value::Null) }),
        ),
        (
            Some("response.in_progress"),
            json!({ "type": "response.in_progress", "response": response("in_progress", json!([]), Value::Null) }),
        ),
    ];
    let mut added = item.clone();
    if item["type"] == "message" {
        added["content"] = json!([]);
        added["status"] = json!("in_progress");
    }
    events.push((
        Some("response.output_item.added"),
        json!({ "type": "response.output_item.added", "output_index": 0, "item": added }),
    ));
    if item["type"] == "message" {
        let text = &item["content"][0]["text"];
        events.push((
            Some("response.content_part.added"),
            json!({ "type": "response.content_part.added", "item_id": item["id"], "output_index": 0, "content_index": 0,
                    "part": { "type": "output_text", "text": "", "annotations": [] } }),
        ));
        events.push((
            Some("response.output_text.delta"),
            json!({ "type": "response.output_text.delta", "item_id": item["id"], "output_index": 0, "content_index": 0, "delta": text }),
        ));
        events.push((
            Some("response.output_text.done"),
            json!({ "type": "response.output_text.done", "item_id": item["id"], "output_index": 0, "content_index": 0, "text": text }),
        ));
    } else {
        events.push((
            Some("response.function_call_arguments.done"),
            json!({ "type": "response.function_call_arguments.done", "item_id": item["id"], "output_index": 0, "arguments": item["arguments"] }),
        ));
    }
    events.push((
        Some("response.output_item.done"),
        json!({ "type": "response.output_item.done", "output_index": 0, "item": item }),
    ));
    events.push((
        Some("response.completed"),
        json!({ "type": "response.completed", "response": response("completed", json!([item]), usage) }),
    ));
    sse(&events)
}

fn chat(reply: &Reply, req: &Request, stream: bool) -> String {
    let model = req.body.get("model").cloned().unwrap_or(json!("mock"));
    let id = format!("chatcmpl-mock-{}", reply.n);
    let u = &reply.usage;
    let usage = json!({ "prompt_tokens": u.input, "completion_tokens": u.output, "total_tokens": u.input + u.output,
                        "prompt_tokens_details": { "cached_tokens": u.cache_read } });
    let (message, finish) = match &reply.turn {
        Turn::CallTool(command) => {
            let (name, args) = shell_call(req, command);
            let call = json!({ "index": 0, "id": format!("call_mock_{}", reply.n), "type": "function",
                               "function": { "name": name, "arguments": args.to_string() } });
            (json!({ "role": "assistant", "content": null, "tool_calls": [call] }), "tool_calls")
        }
        Turn::Say(text) => (json!({ "role": "assistant", "content": text }), "stop"),
    };
    if !stream {
        return json!({ "id": id, "object": "chat.completion", "created": 0, "model": model,
                       "choices": [{ "index": 0, "message": message, "finish_reason": finish }], "usage": usage })
        .to_string();
    }
    let chunk = |delta: Value, finish: Value, usage: Value| {
        let choices =
            if delta.is_null() { json!([]) } else { json!([{ "index": 0, "delta": delta, "finish_reason": finish }]) };
        json!({ "id": id, "object": "chat.completion.chunk", "created": 0, "model": model, "choices": choices, "usage": usage })
    };
    let mut out = sse(&[
        (None, chunk(message, Value::Null, Value::Null)),
        (None, chunk(json!({}), json!(finish), Value::Null)),
        (None, chunk(Value::Null, Value::Null, usage)),
    ]);
    out.push_str("data: [DONE]\n\n");
    out
}

fn gemini(reply: &Reply, stream: bool) -> String {
    let u = &reply.usage;
    let part = match &reply.turn {
        Turn::CallTool(command) => json!({ "functionCall": {
            "name": "run_shell_command", "args": { "command": command, "description": "run a command" },
        }}),
        Turn::Say(text) => json!({ "text": text }),
    };
    let body = json!({
        "candidates": [{ "content": { "role": "model", "parts": [part] }, "finishReason": "STOP", "index": 0 }],
        "usageMetadata": { "promptTokenCount": u.input, "candidatesTokenCount": u.output,
                           "cachedContentTokenCount": u.cache_read, "totalTokenCount": u.input + u.output },
        "modelVersion": "mock",
    });
    if stream { sse(&[(None, body)]) } else { body.to_string() }
}
