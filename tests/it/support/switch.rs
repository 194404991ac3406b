//! A dead-man's switch that records every ping it gets (method, path with
//! query, body) and answers each with the next status code of its script
//! (then 200), as a real HTTP server (tiny_http).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread;

/// One ping as the switch received it.
#[derive(Clone, Debug, PartialEq)]
pub struct Ping {
    pub method: String,
    pub url: String,
    pub body: String,
}

pub struct Switch {
    pub port: u16,
    pings: Arc<Mutex<Vec<Ping>>>,
}

impl Switch {
    /// A switch answering `script`'s codes in turn, then 200.
    pub fn start(script: &[u16]) -> Switch {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind switch");
        let port = server.server_addr().to_ip().expect("ip").port();
        let pings = Arc::new(Mutex::new(Vec::new()));
        let seen = pings.clone();
        let mut script: VecDeque<u16> = script.iter().copied().collect();
        thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                seen.lock().unwrap().push(Ping {
                    method: request.method().to_string(),
                    url: request.url().to_string(),
                    body,
                });
                let code = script.pop_front().unwrap_or(200);
                let _ =
                    request.respond(tiny_http::Response::from_string("OK").with_status_code(code));
            }
        });
        Switch { port, pings }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pings(&self) -> Vec<Ping> {
        self.pings.lock().unwrap().clone()
    }
}
