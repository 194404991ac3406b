//! Debian's tinyproxy on 127.0.0.1, its log read back as the requests it
//! carried: proof that a check (and its certificate handshake) went
//! through it, not around it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A tinyproxy child, killed when dropped.
pub struct Tinyproxy {
    pub port: u16,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// tinyproxy on a free port; `extra` is added to its config (e.g.
    /// `ConnectPort 443`, which refuses CONNECT to any other port).
    pub fn start(extra: &str) -> Tinyproxy {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\nMaxClients 50\nAllow 127.0.0.1\n{extra}\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy (tests/deps.sh installs it)");
        let mut proxy = Tinyproxy {
            port,
            log,
            child,
            _dir: dir,
        };
        let until = Instant::now() + Duration::from_secs(10);
        // Listening, and still alive: a tinyproxy that found its port taken
        // exits, and the listener found would be another test's.
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() || !proxy.log.exists() {
            assert!(
                Instant::now() < until,
                "tinyproxy did not listen within 10s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            matches!(proxy.child.try_wait(), Ok(None)),
            "tinyproxy exited: port {port} taken?"
        );
        proxy
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Each request line the proxy logged: `GET http://…/ok HTTP/1.1`,
    /// `CONNECT 127.0.0.1:443 HTTP/1.1`.
    pub fn requests(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter_map(|l| {
                l.split_once("): ")
                    .filter(|_| l.contains("Request (file descriptor"))
            })
            .map(|(_, request)| request.to_string())
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
