//! Many services against a small file-descriptor budget, and a config of
//! ten thousand services. How fast these are is measured in `bench/`, not here.

use std::os::unix::process::CommandExt;

use crate::support::{HttpServer, World, raw_server, services};

/// Sets the soft and hard limit on open files in the child before it starts.
fn limit_open_files(cmd: &mut std::process::Command, limit: u64) {
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn two_thousand_services_with_256_open_files_and_parallel_above_it_all_pass() {
    let http = HttpServer::start();
    let tcp = raw_server(|_| {});
    let mut entries = Vec::new();
    for i in 0..2000 {
        // Slow answers, so every worker is busy and more are hired.
        let body = match i % 4 {
            0 => format!("tcp = \"127.0.0.1:{tcp}\""),
            1 | 2 => format!("url = {:?}", http.url("/slow/200")),
            _ => "command = [\"sleep\", \"0.2\"]".to_string(),
        };
        entries.push((format!("svc-{i:04}"), body));
    }
    let entries: Vec<(&str, &str)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_str()))
        .collect();
    let world = World::new(&format!(
        "parallel = 1000\nrun_timeout = \"2m\"\n\n{}",
        services(&entries)
    ));
    let mut cmd = world.command(&[]);
    limit_open_files(&mut cmd, 256);
    let run: crate::support::Run = cmd.output().expect("run").into();
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "", ""),
        "{run:?}"
    );
    let failing: Vec<(String, String, Option<String>)> = world
        .db()
        .prepare("SELECT service, status, error FROM latest WHERE status != 'online' LIMIT 5")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        failing,
        [],
        "every service is up; none may fail for want of a file descriptor"
    );
    assert_eq!(world.count("SELECT count(*) FROM latest"), 2000);
}

#[test]
fn a_config_of_ten_thousand_services_loads_and_a_duplicate_among_them_is_named() {
    let mut text = String::new();
    for i in 0..10_000 {
        text.push_str(&format!(
            "[[service]]\nname = \"svc-{i:05}\"\ntcp = \"127.0.0.1:{}\"\n\n",
            1000 + i % 50_000
        ));
    }
    let world = World::new(&text);
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("svc-09999"), "{}", &run.stdout[..200]);
    text.push_str("[[service]]\nname = \"svc-04321\"\ncommand = [\"true\"]\n");
    world.write("upcheck.toml", &text);
    let run = world.run(&["check-config"]);
    assert_eq!(run.code, 2);
    let line = text.lines().count() - 1;
    assert!(
        run.stderr.contains(&format!("upcheck.toml:{line}:")) && run.stderr.contains("svc-04321"),
        "{}",
        run.stderr
    );
}
