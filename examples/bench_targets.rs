//! Local HTTP targets for `bench/run.sh`: binds 127.0.0.1:0 twice and prints
//! both ports on stdout, a line each. The first serves `/ok` (200 "ok" at
//! once) and `/hang` (never answers; a thread of its own, so it blocks
//! nothing). The second is a slow backend, a thread per connection as many
//! real ones are: `/slow?ms=N` answers 200 "ok" after N ms (other query
//! parameters are ignored, so that many URLs can name the same wait) and
//! closes the connection. Exits by itself after `--max-seconds N` (default 600).
//!
//!     cargo run --release --example bench_targets -- --max-seconds 60

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
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
    let slow = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!("{port}");
    println!("{}", slow.local_addr().expect("an address").port());
    thread::spawn(move || {
        for conn in slow.incoming().flatten() {
            thread::spawn(move || serve_slow(conn));
        }
    });
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

/// Reads one request head, waits the `ms` it asks for, answers and closes.
fn serve_slow(conn: TcpStream) {
    let mut reader = BufReader::new(&conn);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let ms = line.split(' ').nth(1).and_then(slow_ms);
    // The rest of the head, up to its blank line.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let answer = match ms {
        Some(ms) => {
            thread::sleep(Duration::from_millis(ms));
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        }
        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    };
    let _ = (&conn).write_all(answer.as_bytes());
}

/// N of a `/slow?ms=N[&...]` URL.
fn slow_ms(url: &str) -> Option<u64> {
    let query = url.strip_prefix("/slow?")?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("ms="))
        .and_then(|v| v.parse().ok())
}
