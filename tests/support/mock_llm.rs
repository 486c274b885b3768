//! The tests' mock LLM provider: teamster's stand-in provider (`teamster::mock_llm`, which
//! speaks Anthropic Messages, OpenAI Responses and Chat Completions, and Gemini) playing a
//! fixed script, with every request logged for tests to wait on.
//!
//! The script: a prompt that contains `TRIGGER` gets a reply that calls the agent's shell
//! tool with the command the test gave; the tool's result gets `TOOL_DONE`; any other
//! prompt gets `mock reply to MARK-b (you first said: MARK-a)`, naming the latest and the
//! earliest `MARK-` words of the user's in the conversation it was sent (so a test can tell
//! a resumed conversation from a fresh one). Side requests (titles, Gemini's model router)
//! get JSON shaped to their schema.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use teamster::meter::usage::{Api, Usage};
pub use teamster::mock_llm::Request;
use teamster::mock_llm::{Turn, answer_using, example_of, serve, usage_of};

/// Words in a prompt that make the mock call the shell tool.
pub const TRIGGER: &str = "please run the tool";
/// What the mock says after a tool ran.
pub const TOOL_DONE: &str = "the tool has run";

struct Shared {
    requests: Mutex<Vec<Request>>,
    changed: Condvar,
    command: Mutex<String>,
    answers: AtomicUsize,
    /// While set, turns of the conversation (requests that offer tools) wait for release:
    /// tests see the agent at work for as long as they need.
    hold: Mutex<bool>,
    released: Condvar,
    /// Tool calls still to make in this turn, after the current one.
    queue: Mutex<Vec<String>>,
    /// A fixed input-token count for every answer's usage, instead of one by size.
    input_tokens: Mutex<Option<u64>>,
    /// The usage reported for each model call answered, with the model asked for.
    answered: Mutex<Vec<Usage>>,
}

pub struct MockLlm {
    pub port: u16,
    shared: Arc<Shared>,
}

impl MockLlm {
    /// Listens on 127.0.0.1; `command` is what the scripted tool call runs.
    pub fn start(command: &str) -> MockLlm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mock LLM");
        let port = listener.local_addr().expect("mock address").port();
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            command: Mutex::new(command.into()),
            answers: AtomicUsize::new(0),
            hold: Mutex::new(false),
            released: Condvar::new(),
            queue: Mutex::new(Vec::new()),
            input_tokens: Mutex::new(None),
            answered: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        serve(listener, Arc::new(move |req: &Request| s.answer(req)));
        MockLlm { port, shared }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The command the next scripted tool call runs.
    pub fn set_command(&self, command: &str) {
        self.set_commands(&[command]);
    }

    /// Commands the next scripted turn runs one after another, each once the last one's
    /// result is in.
    pub fn set_commands(&self, commands: &[&str]) {
        let (first, rest) = commands.split_first().expect("a command");
        *self.shared.command.lock().expect("mock command") = first.to_string();
        *self.shared.queue.lock().expect("mock queue") = rest.iter().map(|c| c.to_string()).collect();
    }

    /// Every answer reports `n` input tokens (its other counts are fixed already).
    pub fn fix_input_tokens(&self, n: u64) {
        *self.shared.input_tokens.lock().expect("mock usage") = Some(n);
    }

    /// The usage reported for each model call answered so far, with its model.
    pub fn answered(&self) -> Vec<Usage> {
        self.shared.answered.lock().expect("mock answered").clone()
    }

    pub fn hold_replies(&self) {
        *self.shared.hold.lock().expect("mock hold") = true;
    }

    pub fn release_replies(&self) {
        *self.shared.hold.lock().expect("mock hold") = false;
        self.shared.released.notify_all();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().expect("mock log").clone()
    }

    /// Waits until a logged request satisfies `cond`, and returns it.
    pub fn wait_request(&self, what: &str, cond: impl Fn(&Request) -> bool) -> Request {
        match self.poll_request(super::AGENT_DEADLINE, cond) {
            Some(r) => r,
            None => {
                let log = self.requests();
                let seen: Vec<String> =
                    log.iter().map(|r| format!("{} {} {:.300}", r.method, r.path, r.text)).collect();
                panic!("the mock LLM never got {what}; it got:\n{}", seen.join("\n"));
            }
        }
    }

    /// The first logged request that satisfies `cond`, waiting up to `wait` for one.
    pub fn poll_request(&self, wait: Duration, cond: impl Fn(&Request) -> bool) -> Option<Request> {
        let deadline = Instant::now() + wait;
        let mut log = self.shared.requests.lock().expect("mock log");
        loop {
            if let Some(r) = log.iter().find(|r| cond(r)) {
                return Some(r.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            log = self.shared.changed.wait_timeout(log, left).expect("mock log").0;
        }
    }
}

impl Shared {
    fn answer(&self, req: &Request) -> teamster::mock_llm::Answer {
        {
            let mut log = self.requests.lock().expect("mock log");
            log.push(req.clone());
            self.changed.notify_all();
        }
        if req.is_turn() {
            let mut hold = self.hold.lock().expect("mock hold");
            while *hold {
                hold = self.released.wait(hold).expect("mock hold");
            }
        }
        let n = self.answers.fetch_add(1, Ordering::SeqCst) + 1;
        let turn = if let Some(schema) = req.schema() {
            Turn::Say(example_of(schema).to_string())
        } else if req.ends_with_tool_result() {
            let mut queue = self.queue.lock().expect("mock queue");
            if queue.is_empty() { Turn::Say(format!("{TOOL_DONE}.")) } else { Turn::CallTool(queue.remove(0)) }
        } else if req.user_texts().last().is_some_and(|t| t.contains(TRIGGER)) {
            Turn::CallTool(self.command.lock().expect("mock command").clone())
        } else {
            let (first, last) = markers(req);
            Turn::Say(format!("mock reply to {last} (you first said: {first})"))
        };
        let model = req
            .body
            .get("model")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .or_else(|| teamster::meter::usage::requested_model(&req.path, b""));
        let mut usage = usage_of(req, model.as_deref());
        if let Some(input) = *self.input_tokens.lock().expect("mock usage") {
            usage.input = input;
        }
        if Api::of_path(&req.path).is_some() {
            self.answered.lock().expect("mock answered").push(usage.clone());
        }
        answer_using(req, &turn, n, &usage)
    }
}

/// The first and last `MARK-` words in what the user wrote: the tests mark their prompts.
fn markers(req: &Request) -> (String, String) {
    let words: Vec<String> = req
        .user_texts()
        .iter()
        .flat_map(|t| t.split(|c: char| !(c.is_alphanumeric() || c == '-')).map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.starts_with("MARK-"))
        .collect();
    let none = || "nothing marked".to_string();
    (words.first().cloned().unwrap_or_else(none), words.last().cloned().unwrap_or_else(none))
}
