//! A real PostgreSQL server (Debian's, `tests/deps.sh` installs it) for the
//! fleet tests: a new cluster per test in a temp folder, run as the
//! `postgres` user (the server refuses root), listening on 127.0.0.1 only
//! with SCRAM password authentication; killed with the test.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The role upcheck logs in as; it owns each test database, as the README
/// asks of a real one.
pub const ROLE: &str = "upcheck";

pub struct Postgres {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub password: String,
    admin_password: String,
}

fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (tests/deps.sh)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        let version = p.parent().and_then(|v| v.file_name());
        version.and_then(|v| v.to_str()?.parse::<u32>().ok())
    });
    dirs.pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

/// `program` run as the `postgres` user, killed if the test's thread ends.
fn as_postgres(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--clear-groups",
        "--pdeathsig=KILL",
    ])
    .arg(program);
    cmd
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn secret(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{what}-{}-{nanos:x}", std::process::id())
}

impl Postgres {
    /// A new cluster, started and ready.
    pub fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let admin_password = secret("admin");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, &admin_password).unwrap();
        std::fs::set_permissions(&pwfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let data = dir.path().join("data");
        let out = as_postgres(&bin_dir().join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "admin", "--auth=scram-sha-256", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb: {out:?}");
        // Only TCP from this machine, with a password; no socket logins.
        std::fs::write(
            data.join("pg_hba.conf"),
            "host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        let mut pg = Postgres {
            child: None,
            port: 0,
            dir,
            password: secret("pw"),
            admin_password,
        };
        pg.launch();
        let mut admin = pg.admin("postgres");
        admin
            .batch_execute(&format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{}'",
                pg.password
            ))
            .expect("create role");
        pg
    }

    /// Starts the server (again, after `stop`, on the same port).
    fn launch(&mut self) {
        if self.port == 0 {
            self.port = free_port();
        }
        let child = as_postgres(&bin_dir().join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-c", "listen_addresses=127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("server.log")).unwrap())
            .spawn()
            .expect("start postgres");
        self.child = Some(child);
        let started = Instant::now();
        while self.try_admin("postgres").is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "postgres did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's log, for failure messages and password checks.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn try_admin(&self, db: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("admin")
            .password(&self.admin_password)
            .dbname(db)
            .connect(postgres::NoTls)
    }

    /// The superuser, for what the tests do behind upcheck's back.
    pub fn admin(&self, db: &str) -> postgres::Client {
        self.try_admin(db).expect("connect as admin")
    }

    /// A new empty database owned by `upcheck`; its URL, without password.
    pub fn database(&self, name: &str) -> String {
        self.admin("postgres")
            .batch_execute(&format!("CREATE DATABASE {name} OWNER {ROLE}"))
            .expect("create database");
        format!(
            "postgres://{ROLE}@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }

    /// Connected to `db` as upcheck's role, to read what runs stored.
    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(ROLE)
            .password(&self.password)
            .dbname(db)
            .connect(postgres::NoTls)
            .expect("connect as upcheck")
    }

    /// One number from `sql` in `db` (asked as the superuser, whom the
    /// server lets in without TLS).
    pub fn count(&self, db: &str, sql: &str) -> i64 {
        self.admin(db).query_one(sql, &[]).expect(sql).get(0)
    }

    /// Restarts the server with TLS on, its certificate for 127.0.0.1 signed
    /// by `ca`, and only TLS connections let in.
    pub fn require_tls(&mut self, ca: &super::Ca) {
        let data = self.dir.path().join("data");
        let (cert, key) = ca.issue_files(&data);
        for file in [&cert, &key] {
            let owner = Command::new("chown")
                .arg("postgres:postgres")
                .arg(file)
                .status();
            assert!(owner.unwrap().success());
        }
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str(&format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            cert.display(),
            key.display()
        ));
        std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 scram-sha-256\nhost all admin 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();
        self.stop();
        self.launch();
    }

    /// Starts a stopped server again, on the same port.
    pub fn start_again(&mut self) {
        self.launch();
    }

    /// Fast shutdown (SIGINT): connections are told, then closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id() as i32, 2);
            let _ = child.wait();
        }
    }
}

fn signal(pid: i32, signal: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id() as i32, 3);
            let _ = child.wait();
        }
    }
}
