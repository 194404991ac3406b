//! Noise control through real runs: retries within a run, silences,
//! maintenance windows, the connectivity guard, dependencies, test-alert.

use std::time::{Duration, Instant};

use crate::support::{World, assert_contains, assert_within, services};

/// A command check that fails its first `fails` attempts (counted in
/// `<name>.count` beside the config), then passes.
fn flaky(world: &World, name: &str, fails: u32) -> String {
    world.script(
        &format!("{name}.sh"),
        &format!(
            "#!/bin/sh\nn=$(cat {name}.count 2>/dev/null || echo 0)\nn=$((n + 1))\necho $n > {name}.count\n\
             [ $n -gt {fails} ] || {{ echo \"attempt $n failed\" >&2; exit 1; }}\n"
        ),
    );
    format!("command = [\"./{name}.sh\"]")
}

fn attempts(world: &World, name: &str) -> u32 {
    std::fs::read_to_string(world.path(&format!("{name}.count")))
        .map_or(0, |s| s.trim().parse().unwrap())
}

#[test]
fn retries_within_a_run_store_only_the_last_attempt() {
    let world = World::new("");
    let config = format!(
        "retries = 2\nretry_delay = \"200ms\"\n\n{}",
        services(&[
            // Passes on its last attempt: online, one check stored.
            ("blip", &flaky(&world, "blip", 2)),
            // Fails every attempt: the reason says how many were made.
            (
                "down",
                &format!("{}\nretry_delay = \"100ms\"", flaky(&world, "down", 99))
            ),
            // No retries for this one.
            (
                "once",
                &format!("{}\nretries = 0", flaky(&world, "once", 99))
            ),
        ])
    );
    world.write("upcheck.toml", &config);
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "two retries 200 ms apart"
    );
    assert_eq!(attempts(&world, "blip"), 3);
    assert_eq!(world.latest("blip"), ("online".to_string(), None));
    assert_eq!(attempts(&world, "down"), 3);
    assert_eq!(
        world.latest("down"),
        (
            "offline".to_string(),
            Some("exit 1: attempt 3 failed (3 attempts)".to_string())
        )
    );
    assert_eq!(attempts(&world, "once"), 1);
    assert_eq!(
        world.latest("once").1.as_deref(),
        Some("exit 1: attempt 1 failed")
    );
    assert_eq!(world.count("SELECT count(*) FROM checks"), 3);
}

#[test]
fn retries_never_run_past_run_timeout() {
    let world = World::new("");
    let config = format!(
        "run_timeout = \"2s\"\nretries = 10\nretry_delay = \"700ms\"\n\n{}",
        services(&[("down", &flaky(&world, "down", 99))])
    );
    world.write("upcheck.toml", &config);
    let started = Instant::now();
    let run = world.run(&[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_within(started, Duration::from_secs(4));
    let made = attempts(&world, "down");
    assert!(
        (2..=3).contains(&made),
        "{made} attempts in 2 s, 700 ms apart"
    );
    let reason = world.latest("down").1.unwrap();
    assert_contains(
        &reason,
        &format!("({made} of 11 attempts: run_timeout left no time for more)"),
    );
}
