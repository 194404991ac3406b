//! Fleets: several upcheck hosts sharing one real PostgreSQL (started by the
//! test as the `postgres` user). Each "host" is a World of its own (its own
//! config, outbox and `<name>.down` flags), so a service can fail from one
//! probe and not from another.

use crate::support::{Ca, Postgres, World, assert_contains, services, set_down, switchable};

const PASSWORD_ENV: &str = "UPCHECK_DB_PASSWORD";

/// A host of the fleet: probe `probe`, mail into its outbox, `extra` keys.
fn host(url: &str, probe: &str, extra: &str, service_list: &str) -> World {
    World::new(&format!(
        "database = {url:?}\ndatabase_password_env = {PASSWORD_ENV:?}\nprobe = {probe:?}\n{extra}\n\
         alert_after = 1\nremind = \"never\"\n\n\
         [email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\ntransport = \"file\"\noutbox = \"outbox\"\n\n\
         {service_list}"
    ))
}

fn run(world: &World, pg: &Postgres) -> crate::support::Run {
    world.run_env(&[], &[(PASSWORD_ENV, &pg.password)])
}

/// The emails in a host's outbox, oldest first.
fn emails(world: &World) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(world.path("outbox")) else {
        return Vec::new();
    };
    let mut files: Vec<_> = dir.map(|e| e.unwrap().path()).collect();
    files.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn subjects(world: &World) -> Vec<String> {
    emails(world)
        .iter()
        .filter_map(|e| {
            e.lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        })
        .collect()
}

#[test]
fn two_probes_share_one_history_and_the_password_is_nowhere() {
    let pg = Postgres::start();
    let url = pg.database("shared");
    let list = services(&[("api", &switchable("api")), ("web", &switchable("web"))]);
    let a = host(&url, "fra-1", "", &list);
    let b = host(&url, "ams-1", "", &list);
    for world in [&a, &b, &a] {
        let run = run(world, &pg);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (0, "", ""),
            "{run:?}"
        );
    }
    assert_eq!(pg.count("shared", "SELECT count(*) FROM checks"), 6);
    assert_eq!(
        pg.count(
            "shared",
            "SELECT count(*) FROM checks WHERE probe = 'fra-1'"
        ),
        4
    );
    assert_eq!(
        pg.count("shared", "SELECT count(*) FROM runs WHERE probe = 'ams-1'"),
        1
    );
    assert_eq!(pg.count("shared", "SELECT count(*) FROM probe_state"), 4);
    // The README's questions read the same views.
    assert_eq!(
        pg.count(
            "shared",
            "SELECT count(*) FROM latest WHERE status = 'online'"
        ),
        2
    );
    let uptime: f64 = pg
        .client("shared")
        .query_one("SELECT uptime_24h FROM uptime WHERE service = 'api'", &[])
        .unwrap()
        .get(0);
    assert_eq!(uptime, 100.0);
    let status = a.run_env(&["status"], &[(PASSWORD_ENV, &pg.password)]);
    assert_eq!(status.code, 0, "{status:?}");
    assert_contains(&status.stdout, "api");
    let check = a.run(&["check-config"]);
    assert_contains(&check.stdout, "probe \"fra-1\"");
    // The README's psql questions run on this history.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("The questions above, in `psql`:\n\n```sql\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README's psql block");
    let answers = pg.client("shared").simple_query(block).expect(block);
    let rows = |n: usize| {
        answers
            .iter()
            .filter(|m| matches!(m, postgres::SimpleQueryMessage::CommandComplete(_)))
            .nth(n)
            .map(|m| match m {
                postgres::SimpleQueryMessage::CommandComplete(rows) => *rows,
                _ => unreachable!(),
            })
    };
    assert_eq!(rows(0), Some(4), "uptime per service and probe");
    assert_eq!(rows(1), Some(4), "what each probe saw last");
    // The password is in no output, no table and no log line of the server.
    let mut client = pg.client("shared");
    for table in [
        "runs",
        "checks",
        "notifications",
        "service_state",
        "probe_state",
    ] {
        let rows = client
            .query(&format!("SELECT t::text FROM {table} t"), &[])
            .unwrap();
        for row in rows {
            let text: String = row.get(0);
            assert!(!text.contains(&pg.password), "{table}: {text}");
        }
    }
    for text in [
        status.stdout,
        status.stderr,
        check.stdout,
        check.stderr,
        pg.log(),
    ] {
        assert!(!text.contains(&pg.password), "{text}");
    }
}

#[test]
fn a_password_in_the_url_or_a_vague_sslmode_is_a_config_error() {
    for (database, says) in [
        (
            "postgres://upcheck:hunter2@db.internal/upcheck",
            "holds a password: put it in database_password_env",
        ),
        (
            "postgres://upcheck@db.internal/upcheck?password=hunter2",
            "holds a password",
        ),
        (
            "postgres://upcheck:pa/hunter2@db.internal/upcheck",
            "holds a password",
        ),
        (
            "postgres://upcheck:p?hunter2@db.internal/upcheck",
            "holds a password",
        ),
        (
            "postgres://upcheck@db.internal/upcheck?pass%77ord=hunter2",
            "holds a password",
        ),
        (
            "postgres://upcheck@db.internal/upcheck?sslmode=prefer",
            "sslmode=prefer would fall back to an unencrypted connection",
        ),
        (
            "postgres://upcheck@db.internal/upcheck?sslmode=bogus",
            "unknown sslmode \"bogus\"",
        ),
    ] {
        let world = World::new(&format!(
            "database = {database:?}\n\n{}",
            services(&[("api", "tcp = \"127.0.0.1:1\"")])
        ));
        let run = world.run(&["check-config"]);
        assert_eq!(run.code, 2, "{run:?}");
        assert_contains(&run.stderr, "upcheck.toml:1: key `database`");
        assert_contains(&run.stderr, says);
        assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    }
    let world = World::new(&format!(
        "confirm = 2\n\n{}",
        services(&[("api", "tcp = \"127.0.0.1:1\"")])
    ));
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert_contains(
        &run.stderr,
        "`confirm` applies only to a PostgreSQL `database`",
    );
}

#[test]
fn an_unreachable_database_fails_the_run_and_its_checks_wait_in_the_spool() {
    let mut pg = Postgres::start();
    let url = pg.database("gone");
    let a = host(&url, "fra-1", "", &services(&[("api", &switchable("api"))]));
    assert_eq!(run(&a, &pg).code, 0);
    pg.stop();
    let failed = run(&a, &pg);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert_contains(
        &failed.stderr,
        "opening the database postgres://upcheck@127.0.0.1",
    );
    assert_contains(&failed.stderr, "this run's checks are kept in ");
    assert!(!failed.stderr.contains(&pg.password));
    let mail = emails(&a);
    assert_eq!(mail.len(), 1, "{mail:?}");
    let parsed = mail_parser::MessageParser::default()
        .parse(mail[0].as_bytes())
        .unwrap();
    assert_contains(
        parsed.subject().unwrap(),
        "upcheck failed: opening the database",
    );
    let text = parsed.body_text(0).unwrap().replace('\n', " ");
    assert_contains(&text, "and, the database out of reach, kept the checks");
    assert!(
        !mail[0].contains(&pg.password),
        "the password is not in the email"
    );
    let spool = a.path("upcheck-spool.jsonl");
    let first = std::fs::read_to_string(&spool).unwrap();
    // A write torn mid-line (disk full, kill -9), then another failed run:
    // the torn line spoils only itself.
    let torn = &first[..first.len() / 2];
    std::fs::write(&spool, format!("{first}{torn}")).unwrap();
    assert_eq!(run(&a, &pg).code, 1);
    // A line of another probe sharing the folder: not this probe's to store.
    let other = first.replace("\"probe\":\"fra-1\"", "\"probe\":\"other\"");
    let mut text = std::fs::read_to_string(&spool).unwrap();
    text.push_str(&other);
    std::fs::write(&spool, text).unwrap();
    // Back: the next run stores the kept checks first, and leaves only the
    // other probe's line.
    pg.start_again();
    let back = run(&a, &pg);
    assert_eq!(back.code, 0, "{back:?}");
    assert_contains(
        &back.stderr,
        "stored the checks of 2 runs kept while the database was out of reach",
    );
    assert_contains(&back.stderr, "1 lines of ");
    assert_contains(
        &back.stderr,
        "1 runs of another probe or database were left in",
    );
    assert_eq!(std::fs::read_to_string(&spool).unwrap(), other);
    assert_eq!(pg.count("gone", "SELECT count(*) FROM checks"), 4);
    assert_eq!(
        pg.count(
            "gone",
            "SELECT count(*) FROM runs WHERE error LIKE 'the database could not be reached%'"
        ),
        2
    );
    // The rollups count the fleet's decisions: the spooled run made none.
    assert_eq!(pg.count("gone", "SELECT checks FROM checks_daily"), 2);
    // probe_state still points at the newest check, not the spooled one.
    assert_eq!(
        pg.count(
            "gone",
            "SELECT count(*) FROM probe_state p JOIN checks c ON c.id = p.last_check_id
                          WHERE c.id = (SELECT max(id) FROM checks)"
        ),
        1
    );
}

/// DOWN alerts decided for `service`, across the fleet.
fn downs(pg: &Postgres, db: &str, service: &str) -> i64 {
    pg.count(
        db,
        &format!(
            "SELECT count(*) FROM notifications WHERE kind = 'down' AND service = '{service}'"
        ),
    )
}

#[test]
fn confirm_2_alerts_once_when_two_probes_agree_and_not_when_one_fails() {
    let pg = Postgres::start();
    let url = pg.database("quorum");
    let list = services(&[("api", &switchable("api")), ("web", &switchable("web"))]);
    let a = host(&url, "fra-1", "confirm = 2", &list);
    let b = host(&url, "ams-1", "confirm = 2", &list);
    assert_eq!(run(&b, &pg).code, 0);
    // Only fra-1 sees api fail: one of two fresh probes, no alert.
    set_down(&a, "api", true);
    for world in [&a, &b, &a] {
        let r = run(world, &pg);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    }
    assert_eq!(downs(&pg, "quorum", "api"), 0);
    assert!(emails(&a).is_empty() && emails(&b).is_empty());
    assert_eq!(
        pg.count(
            "quorum",
            "SELECT count(*) FROM checks WHERE service = 'api' AND status = 'offline'"
        ),
        2,
        "fra-1's failing checks are stored all the same"
    );
    // Now ams-1 sees it too: the run that makes two sends the one alert.
    set_down(&b, "api", true);
    assert_eq!(run(&b, &pg).code, 0);
    assert_eq!(run(&a, &pg).code, 0);
    assert_eq!(downs(&pg, "quorum", "api"), 1);
    let sent: Vec<String> = [subjects(&a), subjects(&b)].concat();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_contains(&sent[0], "DOWN");
    assert_contains(&sent[0], "api");
    assert_eq!(subjects(&b).len(), 1, "ams-1's run decided it and sent it");
}

#[test]
fn two_probes_running_at_the_same_moment_send_one_alert() {
    let pg = Postgres::start();
    let url = pg.database("race");
    let list = services(&[("api", &switchable("api"))]);
    let a = host(&url, "fra-1", "", &list);
    let b = host(&url, "ams-1", "", &list);
    for world in [&a, &b] {
        set_down(world, "api", true);
    }
    let started: Vec<_> = [&a, &b]
        .iter()
        .map(|w| {
            w.command(&[])
                .env(PASSWORD_ENV, &pg.password)
                .spawn()
                .unwrap()
        })
        .collect();
    for child in started {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{out:?}");
    }
    assert_eq!(downs(&pg, "race", "api"), 1);
    let sent: Vec<String> = [subjects(&a), subjects(&b)].concat();
    assert_eq!(sent.len(), 1, "{sent:?}");
}

#[test]
fn when_the_host_that_alerted_dies_another_sends_the_recovery() {
    let pg = Postgres::start();
    let url = pg.database("handover");
    let list = services(&[("api", &switchable("api"))]);
    let keys = "confirm = 2\nfresh_within = \"2s\"";
    let a = host(&url, "fra-1", keys, &list);
    let b = host(&url, "ams-1", keys, &list);
    set_down(&a, "api", true);
    set_down(&b, "api", true);
    // fra-1 runs first: the only fresh probe, failing, so it alerts.
    assert_eq!(run(&a, &pg).code, 0);
    assert_eq!(run(&b, &pg).code, 0);
    assert_eq!(
        subjects(&a).len(),
        1,
        "fra-1 decided the outage and sent it"
    );
    assert_eq!(subjects(&b).len(), 0);
    // fra-1 is gone for good; api comes back as ams-1 sees it. fra-1's last
    // (failing) check ages out of fresh_within, and ams-1 alone decides.
    set_down(&b, "api", false);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(run(&b, &pg).code, 0);
    let sent = subjects(&b);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_contains(&sent[0], "RECOVERED");
    assert_eq!(
        pg.count(
            "handover",
            "SELECT count(*) FROM notifications WHERE kind = 'recovery'"
        ),
        1
    );
}

#[test]
fn tls_to_the_database_is_verified_as_sslmode_says() {
    let mut pg = Postgres::start();
    let base = pg.database("tls").replace("?sslmode=disable", "");
    let ca = Ca::new();
    pg.require_tls(&ca);
    let other = Ca::new();
    let list = services(&[("api", &switchable("api"))]);
    let world = |query: &str| {
        let w = host(&format!("{base}?{query}"), "fra-1", "", &list);
        w.write("ca.pem", &ca.pem);
        w.write("other.pem", &other.pem);
        w
    };
    for (query, code, says) in [
        ("sslmode=verify-full&sslrootcert=ca.pem", 0, ""),
        ("sslmode=verify-ca&sslrootcert=ca.pem", 0, ""),
        ("sslmode=require", 0, ""),
        // The built-in roots do not know the test CA.
        ("sslmode=verify-full", 1, "add sslrootcert=FILE"),
        (
            "sslmode=verify-full&sslrootcert=other.pem",
            1,
            "certificate",
        ),
        // The server lets in TLS connections only.
        ("sslmode=disable", 1, "no encryption"),
    ] {
        let w = world(query);
        let r = run(&w, &pg);
        assert_eq!(r.code, code, "{query}: {r:?}");
        assert_contains(&r.stderr, says);
        assert!(!r.stderr.contains(&pg.password));
    }
    assert_eq!(
        pg.count("tls", "SELECT count(*) FROM runs WHERE error IS NULL"),
        3
    );
}

#[test]
fn both_schemas_have_the_same_tables_views_and_columns() {
    let pg = Postgres::start();
    let url = pg.database("shape");
    let a = host(&url, "fra-1", "", &services(&[("api", &switchable("api"))]));
    assert_eq!(run(&a, &pg).code, 0);
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    let schema =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.sql")).unwrap();
    sqlite.execute_batch(&schema).unwrap();
    let mut lite: Vec<String> = sqlite
        .prepare(
            "SELECT m.name || '.' || p.name FROM sqlite_schema m, pragma_table_info(m.name) p
             WHERE m.type IN ('table', 'view')
               -- SQLite's own addition: it counts check ids itself.
               AND m.name <> 'sequences'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut postgres: Vec<String> = pg
        .client("shape")
        .query(
            "SELECT table_name || '.' || column_name FROM information_schema.columns
             WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .filter(|c: &String| {
            // PostgreSQL's additions, for the fleet.
            !c.starts_with("probe_state.")
                && !c.starts_with("schema_version.")
                && !matches!(c.as_str(), "runs.probe" | "checks.probe")
        })
        .collect();
    lite.sort();
    postgres.sort();
    assert!(lite.len() > 80, "{lite:?}");
    assert_eq!(lite, postgres);
}

#[test]
fn the_periodic_report_reads_its_figures_from_postgres() {
    let pg = Postgres::start();
    let url = pg.database("report");
    let a = World::new(&format!(
        "database = {url:?}\ndatabase_password_env = {PASSWORD_ENV:?}\nprobe = \"fra-1\"\n\n\
         [email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\ntransport = \"file\"\noutbox = \"outbox\"\n\n\
         [report]\nevery = \"week\"\n\n{}",
        services(&[("api", "command = [\"true\"]")])
    ));
    let env = [(PASSWORD_ENV, pg.password.as_str())];
    let faked = |offset: &str| {
        let mut cmd = std::process::Command::new("faketime");
        let real = a.command(&[]);
        cmd.arg("-f")
            .arg(offset)
            .arg(real.get_program())
            .args(real.get_args())
            .current_dir(a.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env);
        crate::support::Run::from(cmd.output().unwrap())
    };
    // A run last week, then two now (the first after a gap doubts its clock).
    for r in [faked("-7d"), run(&a, &pg), run(&a, &pg)] {
        assert_eq!(r.code, 0, "{r:?}");
    }
    let sent = subjects(&a);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_contains(&sent[0], "weekly report: ");
    assert_eq!(
        pg.count(
            "report",
            "SELECT count(*) FROM notifications WHERE kind = 'summary' AND sent_at IS NOT NULL"
        ),
        1
    );
}

#[test]
fn an_alert_command_only_one_host_has_is_left_for_that_host() {
    let pg = Postgres::start();
    let url = pg.database("commands");
    let list = services(&[("api", &switchable("api"))]);
    let command = "[[alert_command]]\ncommand = [\"sh\", \"-c\", \"echo $UPCHECK_KIND $UPCHECK_SERVICE >> paged\"]\non = [\"down\"]\n\n";
    let keys = "fresh_within = \"1s\"";
    let a = host(&url, "fra-1", keys, &format!("{command}{list}"));
    let b = host(&url, "ams-1", keys, &list);
    set_down(&a, "api", true);
    set_down(&b, "api", true);
    // ams-1 decides the outage; it has no such command, and must neither
    // drop the delivery nor hand it to a command of its own.
    assert_eq!(run(&b, &pg).code, 0);
    assert_eq!(
        pg.count(
            "commands",
            "SELECT count(*) FROM command_deliveries WHERE sent_at IS NULL"
        ),
        0,
        "ams-1 has no command for it, so it queued none"
    );
    // fra-1's own decisions queue for its command: the next outage it
    // decides, once ams-1's failing check is no longer fresh.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    set_down(&a, "api", false);
    set_down(&b, "api", false);
    assert_eq!(run(&a, &pg).code, 0);
    set_down(&a, "api", true);
    set_down(&b, "api", true);
    let r = run(&a, &pg);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        std::fs::read_to_string(a.path("paged")).unwrap(),
        "down api\n"
    );
    // A delivery fra-1 queued but could not make stays for fra-1.
    pg.admin("commands")
        .batch_execute("UPDATE command_deliveries SET sent_at = NULL")
        .unwrap();
    assert_eq!(run(&b, &pg).code, 0);
    assert_eq!(
        pg.count(
            "commands",
            "SELECT count(*) FROM command_deliveries WHERE sent_at IS NULL"
        ),
        1,
        "ams-1 left fra-1's delivery alone"
    );
}

/// The SQL string literals in `src/store/`, `?N` made `$N`: every statement
/// the store can send.
fn store_statements() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/store");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // schema.rs is the SQLite file's own setup (pragmas, sqlite_schema).
        if name == "tests.rs" || name == "schema.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for literal in text.split('"').skip(1).step_by(2) {
            let sql = literal.trim_start();
            let is_sql = ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", "WITH "]
                .iter()
                .any(|k| sql.starts_with(k));
            // An INSERT's head alone (its rows added by `insert_each`) is
            // not a statement; the runs that send it are the tests.
            let head_only =
                sql.starts_with("INSERT ") && !sql.contains("VALUES") && !sql.contains("SELECT");
            if is_sql && !head_only && !sql.contains('{') && !sql.contains('\\') {
                let mut pg = String::new();
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    let numbered = c == '?' && chars.peek().is_some_and(char::is_ascii_digit);
                    pg.push(if numbered { '$' } else { c });
                }
                found.push((name.clone(), pg));
            }
        }
    }
    found
}

#[test]
fn every_statement_of_the_store_prepares_on_postgres() {
    let pg = Postgres::start();
    let url = pg.database("statements");
    let a = host(&url, "fra-1", "", &services(&[("api", &switchable("api"))]));
    assert_eq!(run(&a, &pg).code, 0, "the schema is created");
    // Written for SQLite only; each has its PostgreSQL twin beside it.
    let sqlite_only = ["UPDATE sequences SET last", "min(ends_at, max(starts_at"];
    let statements = store_statements();
    assert!(statements.len() > 40, "{}", statements.len());
    let mut client = pg.client("statements");
    let mut failed = Vec::new();
    for (file, sql) in &statements {
        if sqlite_only.iter().any(|s| sql.contains(s)) {
            continue;
        }
        match client.prepare(sql) {
            Err(e) => failed.push(format!("{file}: {e}: {sql}")),
            // Every column must be of a type the store reads (a sum of
            // BIGINTs is NUMERIC, and must be cast back).
            Ok(statement) => {
                use postgres::types::Type;
                // VOID: a lock taken, executed and never read.
                let readable = [
                    Type::INT8,
                    Type::INT4,
                    Type::INT2,
                    Type::BOOL,
                    Type::FLOAT8,
                    Type::TEXT,
                    Type::VOID,
                ];
                for column in statement.columns() {
                    if !readable.contains(column.type_()) {
                        failed.push(format!(
                            "{file}: column {} is {}: {sql}",
                            column.name(),
                            column.type_()
                        ));
                    }
                }
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[test]
fn postgres_stopped_mid_run_keeps_the_checks_for_the_next_run() {
    let mut pg = Postgres::start();
    let url = pg.database("midrun");
    let slow = "command = [\"sh\", \"-c\", \"sleep 1.5\"]";
    let a = host(&url, "fra-1", "", &services(&[("slow", slow)]));
    assert_eq!(run(&a, &pg).code, 0);
    let child = a
        .command(&[])
        .env(PASSWORD_ENV, &pg.password)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run is connected and probing; the server goes away under it.
    std::thread::sleep(std::time::Duration::from_millis(700));
    pg.stop();
    let started = std::time::Instant::now();
    let out = crate::support::Run::from(child.wait_with_output().unwrap());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(out.code, 1, "{out:?}");
    assert_contains(&out.stderr, "this run's checks are kept in ");
    pg.start_again();
    let back = run(&a, &pg);
    assert_eq!(back.code, 0, "{back:?}");
    assert_eq!(pg.count("midrun", "SELECT count(*) FROM checks"), 3);
    assert_eq!(
        pg.count(
            "midrun",
            "SELECT count(*) FROM runs WHERE finished_at IS NULL"
        ),
        1,
        "the run the server left mid-way"
    );
}

#[test]
fn status_and_the_outputs_show_each_probes_view_beside_the_decision() {
    let pg = Postgres::start();
    let url = pg.database("views");
    let list = services(&[("api", &switchable("api"))]);
    let keys = "confirm = 2\nprometheus_textfile = \"metrics.prom\"\nstatus_page = \"status.html\"";
    let a = host(&url, "fra-1", keys, &list);
    let b = host(&url, "ams-1", keys, &list);
    set_down(&a, "api", true);
    assert_eq!(run(&b, &pg).code, 0);
    assert_eq!(run(&a, &pg).code, 0);
    let env = [(PASSWORD_ENV, pg.password.as_str())];
    let text = a.run_env(&["status"], &env);
    assert_eq!(text.code, 0, "{text:?}");
    let lines: Vec<&str> = text.stdout.lines().collect();
    let api = lines
        .iter()
        .position(|l| l.starts_with("api "))
        .expect(&text.stdout);
    // The fleet's decision (online: one of two failing, confirm 2), then each probe.
    assert_contains(lines[api], "online");
    assert_contains(lines[api + 1], "@ams-1");
    assert_contains(lines[api + 1], "online");
    assert_contains(lines[api + 2], "@fra-1");
    assert_contains(lines[api + 2], "offline");
    let json = a.run_env(&["status", "--json"], &env);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let probes = &doc["services"][0]["probes"];
    assert_eq!(probes[0]["probe"], "ams-1");
    assert_eq!(probes[1]["probe"], "fra-1");
    assert_eq!(probes[1]["status"], "offline");
    let metrics = std::fs::read_to_string(a.path("metrics.prom")).unwrap();
    assert_contains(&metrics, "upcheck_up{service=\"api\"} 1\n");
    assert_contains(
        &metrics,
        "upcheck_probe_up{service=\"api\",probe=\"fra-1\"} 0\n",
    );
    assert_contains(
        &metrics,
        "upcheck_probe_up{service=\"api\",probe=\"ams-1\"} 1\n",
    );
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(a.path("metrics.prom")).unwrap())
        .output()
        .expect("promtool (tests/deps.sh installs it)");
    crate::support::assert_checker_passed("promtool check metrics", &out, &metrics);
    let page = std::fs::read_to_string(a.path("status.html")).unwrap();
    assert_contains(&page, "fra-1");
    assert_contains(&page, "ams-1");
}

#[test]
fn migrate_copies_an_sqlite_history_once_and_the_fleet_carries_on_from_it() {
    // A single host's history: api went down and was alerted; a silence.
    let list = services(&[("api", &switchable("api")), ("web", &switchable("web"))]);
    let single = World::new(&format!(
        "alert_after = 1\nremind = \"never\"\n\n[email]\nto = [\"ops@example.com\"]\nfrom = \"upcheck@example.com\"\n\
         transport = \"file\"\noutbox = \"outbox\"\n\n{list}"
    ));
    assert_eq!(single.run(&[]).code, 0);
    set_down(&single, "api", true);
    assert_eq!(single.run(&[]).code, 0);
    assert_eq!(
        single.run(&["silence", "add", "web", "--for", "2h"]).code,
        0
    );
    let counts = |sql: &str| single.count(sql);
    let (runs, checks, notes) = (
        counts("SELECT count(*) FROM runs"),
        counts("SELECT count(*) FROM checks"),
        counts("SELECT count(*) FROM notifications"),
    );
    assert_eq!(notes, 1, "the DOWN alert");
    // The host joins a fleet: its config points at PostgreSQL, then migrate.
    let pg = Postgres::start();
    let url = pg.database("moved");
    let fleet = host(&url, "fra-1", "", &list);
    set_down(&fleet, "api", true);
    let env = [(PASSWORD_ENV, pg.password.as_str())];
    let from = single.path("upcheck.db");
    let from = from.to_str().unwrap();
    let moved = fleet.run_env(&["migrate", "--from", from], &env);
    assert_eq!(moved.code, 0, "{moved:?}");
    assert_contains(&moved.stdout, "as probe \"fra-1\"");
    assert_eq!(pg.count("moved", "SELECT count(*) FROM runs"), runs);
    assert_eq!(
        pg.count("moved", "SELECT count(*) FROM checks WHERE probe = 'fra-1'"),
        checks
    );
    assert_eq!(
        pg.count("moved", "SELECT count(*) FROM notifications"),
        notes
    );
    assert_eq!(pg.count("moved", "SELECT count(*) FROM silences"), 1);
    assert_eq!(pg.count("moved", "SELECT count(*) FROM probe_state"), 2);
    assert_eq!(
        pg.count("moved", "SELECT count(*) FROM checks_hourly"),
        single.count("SELECT count(*) FROM checks_hourly")
    );
    // The fleet carries on: api is still down and was alerted, so no new
    // alert; new rows get new ids.
    let next = run(&fleet, &pg);
    assert_eq!((next.code, next.stderr.as_str()), (0, ""), "{next:?}");
    assert!(emails(&fleet).is_empty(), "{:?}", subjects(&fleet));
    assert_eq!(pg.count("moved", "SELECT max(id) FROM runs"), runs + 1);
    // Once only: the target now holds a history.
    let again = fleet.run_env(&["migrate", "--from", from], &env);
    assert_eq!(again.code, 1, "{again:?}");
    assert_contains(&again.stderr, "migrate copies into an empty database only");
    // And only into PostgreSQL.
    let wrong = single.run(&["migrate", "--from", from]);
    assert_eq!(wrong.code, 2, "{wrong:?}");
    assert_contains(&wrong.stderr, "migrate copies into a PostgreSQL database");
}

#[test]
fn a_host_whose_own_network_is_down_keeps_no_checks_to_vote_with() {
    let mut pg = Postgres::start();
    let url = pg.database("offline");
    pg.stop();
    let a = World::new(&format!(
        "database = {url:?}\ndatabase_password_env = {PASSWORD_ENV:?}\nprobe = \"fra-1\"\n\n\
         [connectivity]\ntargets = [\"127.0.0.1:1\"]\ntimeout = \"1s\"\n\n{}",
        services(&[("api", &switchable("api"))])
    ));
    let r = run(&a, &pg);
    assert_eq!(r.code, 1, "{r:?}");
    assert_contains(&r.stderr, "the connectivity guard");
    assert_contains(&r.stderr, "nothing probed");
    assert!(
        !a.path("upcheck-spool.jsonl").exists(),
        "no checks kept to say every service failed"
    );
}

/// Each table.column of `db` with its type and nullability, and each check.
fn pg_shape(pg: &Postgres, db: &str) -> Vec<String> {
    let mut client = pg.client(db);
    let mut shape: Vec<String> = client
        .query(
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
             FROM information_schema.columns WHERE table_schema = current_schema()",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let checks = client
        .query(
            "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
             WHERE contype = 'c' AND connamespace = current_schema()::regnamespace",
            &[],
        )
        .unwrap();
    shape.extend(checks.iter().map(|r| r.get::<_, String>(0)));
    shape.sort();
    shape
}

#[test]
fn a_version_1_postgres_database_migrates_to_the_schema_a_new_one_gets() {
    let pg = Postgres::start();
    // Version 1, as schema.pg.sql was before heartbeats learned `start`.
    let url = pg.database("old");
    let schema =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.pg.sql")).unwrap();
    let v1 = schema
        .replace(
            "    online_total     BIGINT NOT NULL DEFAULT 0,\n    last_checked_at  TEXT COLLATE \"C\" NOT NULL\n",
            "    online_total     BIGINT NOT NULL DEFAULT 0\n",
        )
        .replace(
            "    probe         TEXT   NOT NULL,             -- the probe (host) that ran it\n    uuid          TEXT\n",
            "    probe         TEXT   NOT NULL\n",
        )
        .replace("    run_id       BIGINT REFERENCES runs(id),\n    kind         TEXT   NOT NULL CHECK (kind IN ('start', 'success', 'fail')),",
                 "    run_id       BIGINT NOT NULL REFERENCES runs(id),\n    kind         TEXT   NOT NULL CHECK (kind IN ('success', 'fail')),");
    assert_ne!(v1, schema, "the version 1 schema differs");
    let mut client = pg.client("old");
    client.batch_execute(&v1).unwrap();
    client
        .batch_execute(
            "INSERT INTO schema_version VALUES (1);
             INSERT INTO runs (started_at, forced, host, version, probe) VALUES ('2026-11-30T10:00:00.000Z', 0, 'h', '0', 'fra-1');
             INSERT INTO heartbeats (run_id, kind, requested_at, status_code) VALUES (1, 'success', '2026-11-30T10:00:01.000Z', 200);
             INSERT INTO checks (run_id, service, checked_at, status, probe) VALUES (1, 'api', '2026-11-30T10:00:00.500Z', 'online', 'fra-1');
             INSERT INTO service_state (service, status, since, last_check_id, fail_streak, pass_streak, down, runs_since_alert)
                 VALUES ('api', 'online', '2026-11-30T10:00:00.500Z', 1, 0, 1, 0, 0);",
        )
        .unwrap();
    // Version 2 -> 3 fills in each state's check time from its check.
    {
        let mut at_2 = pg.client("old");
        at_2.batch_execute(include_str!("../../migrations/pg/002-heartbeat.sql"))
            .unwrap();
        at_2.batch_execute(include_str!("../../migrations/pg/003-state-check-time.sql"))
            .unwrap();
        let row = at_2
            .query_one("SELECT last_checked_at FROM service_state", &[])
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "2026-11-30T10:00:00.500Z");
        at_2.batch_execute(
            "ALTER TABLE service_state DROP COLUMN last_checked_at;
             ALTER TABLE runs DROP COLUMN uuid;
             ALTER TABLE heartbeats DROP CONSTRAINT heartbeats_kind_check;
             ALTER TABLE heartbeats ADD CONSTRAINT heartbeats_kind_check CHECK (kind IN ('success', 'fail'));",
        )
        .unwrap();
    }
    let a = host(&url, "fra-1", "", &services(&[("api", &switchable("api"))]));
    assert_eq!(run(&a, &pg).code, 0);
    assert_eq!(
        pg.count("old", "SELECT max(version) FROM schema_version"),
        3
    );
    assert_eq!(
        pg.count("old", "SELECT count(*) FROM heartbeats"),
        1,
        "kept"
    );
    let fresh = pg.database("fresh");
    let b = host(
        &fresh,
        "fra-1",
        "",
        &services(&[("api", &switchable("api"))]),
    );
    assert_eq!(run(&b, &pg).code, 0);
    assert_eq!(pg_shape(&pg, "old"), pg_shape(&pg, "fresh"));
}
