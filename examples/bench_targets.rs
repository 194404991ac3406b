//! Local HTTP targets for `bench/run.sh`: binds 127.0.0.1:0, prints the port
//! on stdout as one line, then serves `/ok` (200 "ok" at once) and `/hang`
//! (never answers). A hanging request gets a thread of its own, so it blocks
//! nothing. Exits by itself after `--max-seconds N` (default 600).
//!
//!     cargo run --release --example bench_targets -- --max-seconds 60

use std::io::Write;
use std::thread;
use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut max_seconds: u64 = 600;
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--max-seconds", Some(n)) => max_seconds = n,
            _ => {
                eprintln!("usage: bench_targets [--max-seconds N]");
                std::process::exit(2);
            }
        }
    }
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = server.server_addr().to_ip().expect("an IP address").port();
    println!("{port}");
    std::io::stdout().flush().expect("print the port");
    thread::spawn(move || {
        thread::sleep(Duration::from_secs(max_seconds));
        std::process::exit(0);
    });
    let response =
        |code: u16, body: &str| tiny_http::Response::from_string(body).with_status_code(code);
    for request in server.incoming_requests() {
        match request.url() {
            // Answered inline: a thread per request would cost the server more
            // CPU than upcheck spends, on the same two cores.
            "/ok" => drop(request.respond(response(200, "ok"))),
            // A health answer as Spring Boot's actuator gives it.
            "/json" => drop(request.respond(response(
                200,
                r#"{"status":"UP","components":{"db":{"status":"UP","details":{"database":"PostgreSQL"}},"diskSpace":{"status":"UP"}}}"#,
            ))),
            "/hang" => {
                thread::spawn(move || {
                    // Outlives any probe timeout; the process exit ends it.
                    thread::sleep(Duration::from_secs(max_seconds + 60));
                    drop(request.respond(response(200, "too late")));
                });
            }
            _ => drop(request.respond(response(404, "not found"))),
        }
    }
}
