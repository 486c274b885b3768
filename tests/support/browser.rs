//! Headless Chromium driven over WebDriver (Debian's `chromium` and `chromium-driver`),
//! for the share server's web UI.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium `width` pixels wide.
    pub async fn start(width: u32) -> Browser {
        Browser::start_sized(width, 900).await
    }

    /// Starts chromedriver and a headless Chromium whose window is `width` x `height`.
    pub async fn start_sized(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; ./scripts/test installs it)");
        let base = format!("http://127.0.0.1:{port}");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            // Another process coming up: nothing to wait on but time.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut options = serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     format!("--window-size={width},{height}")]
        });
        // A window is never narrower than 500 pixels: a phone's width is emulated.
        if width < 500 {
            options["mobileEmulation"] = serde_json::json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "touch": true } });
        }
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options
        }}});
        let mut b = Browser { driver, base, session: String::new(), http };
        let v = b.call("POST", "/session", caps).await;
        b.session = v["sessionId"].as_str().expect("a WebDriver session").to_string();
        b
    }

    async fn call(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).header("content-type", "application/json").body(body.to_string()),
        };
        let text = req.send().await.expect("WebDriver request").text().await.expect("WebDriver answer");
        let v: serde_json::Value = serde_json::from_str(&text).expect("WebDriver JSON");
        v["value"].clone()
    }

    /// A PNG of what the window shows.
    pub async fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let v = self.call("GET", "/screenshot", serde_json::Value::Null).await;
        base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).expect("a PNG in base64")
    }

    pub async fn open(&self, url: &str) {
        self.call("POST", "/url", serde_json::json!({ "url": url })).await;
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.call("POST", "/execute/sync", serde_json::json!({ "script": script, "args": [] })).await
    }

    /// Waits until `script` returns something truthy; returns it.
    pub async fn wait(&self, what: &str, script: &str) -> serde_json::Value {
        let deadline = Instant::now() + super::DEADLINE;
        loop {
            let v = self.eval(script).await;
            if !(v.is_null() || v == false || v == "" || v == 0) {
                return v;
            }
            let body = self.eval("return document.body ? document.body.innerText : ''").await;
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the page says:\n{body}");
            // The page is another process: ask again shortly.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the first element matching `css`, as a user would.
    pub async fn click(&self, css: &str) {
        let el = self.call("POST", "/element", serde_json::json!({ "using": "css selector", "value": css })).await;
        let id =
            el.as_object().and_then(|o| o.values().next()).and_then(|v| v.as_str()).expect("the element").to_string();
        self.call("POST", &format!("/element/{id}/click"), serde_json::json!({})).await;
    }
}

impl Browser {
    /// Closes Chromium (killing chromedriver alone would leave it running).
    pub async fn quit(&self) {
        self.call("DELETE", "", serde_json::json!({})).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
