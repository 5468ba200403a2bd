//! The `redis` check against private Redis servers of the harness (plain, with `requirepass`, with TLS): each
//! measure reaches OK, WARNING and CRITICAL around values the test sets up (`maxmemory`, `maxclients`, keys
//! written), evictions are counted between two runs, a stopped server and a wrong password are CRITICAL, and the
//! password is never shown.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use super::{HealthEnv, results};
use crate::common::{Redis, RedisOptions, TestCa, assert_exit};

/// The one result of `redis` with `target`.
#[track_caller]
fn measure<'a>(report: &'a Value, target: &str) -> &'a Value {
    let found: Vec<_> = results(report, "redis")
        .into_iter()
        .filter(|result| result["target"] == target)
        .collect();
    assert_eq!(found.len(), 1, "one `redis {target}` in {report:#}");
    found[0]
}

fn info_number(connection: &mut redis::Connection, key: &str) -> f64 {
    let info: String = redis::cmd("INFO").query(connection).expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO has no {key}"))
}

fn config_set(connection: &mut redis::Connection, key: &str, value: &str) {
    redis::cmd("CONFIG")
        .arg("SET")
        .arg(key)
        .arg(value)
        .query::<()>(connection)
        .unwrap_or_else(|e| panic!("CONFIG SET {key} {value}: {e}"));
}

#[test]
fn ping_memory_and_clients_reach_ok_warning_and_critical_around_known_values() {
    let server = Redis::spawn(RedisOptions::default());
    let mut connection = server.connection();
    config_set(&mut connection, "maxmemory", "20mb");
    config_set(&mut connection, "maxclients", "10");
    // About 10 MB of values: half of maxmemory.
    let value = "x".repeat(100_000);
    for key in 0..100 {
        redis::cmd("SET")
            .arg(format!("key{key}"))
            .arg(&value)
            .query::<()>(&mut connection)
            .expect("SET");
    }
    let percent = info_number(&mut connection, "used_memory") * 100.0 / (20.0 * 1024.0 * 1024.0);
    assert!((30.0..70.0).contains(&percent), "{percent} % of maxmemory");

    // Memory: around the measured percentage. Clients: campctl's connection and the test's are 2 of 10, and
    // anything from 1 to 4 falls between 10 and 50 %. PING: 0 s is always reached, 10 s never.
    let cases = [
        (
            "OK",
            0,
            "latency_warning = \"10s\"\nlatency_critical = \"20s\"\nmemory_warning = 90.0\nmemory_critical = 95.0\nclients_warning = 60.0\nclients_critical = 80.0",
        ),
        (
            "WARNING",
            1,
            &*format!(
                "latency_warning = \"0s\"\nlatency_critical = \"10s\"\nmemory_warning = {}\nmemory_critical = {}\nclients_warning = 10.0\nclients_critical = 50.0",
                percent - 10.0,
                percent + 10.0
            ),
        ),
        (
            "CRITICAL",
            2,
            &*format!(
                "latency_warning = \"0s\"\nlatency_critical = \"0s\"\nmemory_warning = {}\nmemory_critical = {}\nclients_warning = 5.0\nclients_critical = 10.0",
                percent - 20.0,
                percent - 10.0
            ),
        ),
    ];
    for (level, code, thresholds) in cases {
        let env = HealthEnv::new(&format!("[health.redis]\nurl = \"{}\"\n{thresholds}\n", server.url()));
        let (report, output) = env.json(&["--check", "redis"]);
        assert_exit(&output, code);
        for target in ["ping", "memory", "clients"] {
            assert_eq!(measure(&report, target)["status"], level, "{target} in {report:#}");
        }
        let memory = measure(&report, "memory")["value"].as_f64().expect("memory %");
        assert!((memory - percent).abs() < 2.0, "campctl {memory} %, INFO {percent} %");
        let clients = measure(&report, "clients");
        assert!(
            clients["message"].as_str().expect("msg").contains("of maxclients 10"),
            "{clients:#}"
        );
        let evicted = measure(&report, "evicted");
        assert_eq!(evicted["status"], "OK");
        assert!(
            evicted["message"].as_str().expect("msg").starts_with("first run"),
            "{evicted:#}"
        );
    }
}

#[test]
fn without_maxmemory_the_memory_measure_is_ok_with_the_bytes_used() {
    let server = Redis::spawn(RedisOptions::default());
    let env = HealthEnv::new(&format!("[health.redis]\nurl = \"{}\"\n", server.url()));
    let (report, output) = env.json(&["--check", "redis"]);
    let memory = measure(&report, "memory");
    assert_eq!(memory["status"], "OK", "{report:#}");
    assert_eq!(memory["unit"], "bytes");
    assert!(
        memory["value"].as_f64().is_some_and(|bytes| bytes > 100_000.0),
        "{memory:#}"
    );
    assert!(
        memory["message"].as_str().expect("msg").contains("no maxmemory"),
        "{memory:#}"
    );
    assert_exit(&output, 0);
}

#[test]
fn evicted_keys_are_counted_between_two_runs() {
    let server = Redis::spawn(RedisOptions::default());
    let mut connection = server.connection();
    config_set(&mut connection, "maxmemory", "3mb");
    config_set(&mut connection, "maxmemory-policy", "allkeys-lru");
    let env = HealthEnv::new(&format!(
        "[health.redis]\nurl = \"{}\"\nevicted_warning = 1.0\nevicted_critical = 1000000.0\n",
        server.url()
    ));
    let before = info_number(&mut connection, "evicted_keys");
    let (first, _) = env.json(&["--check", "redis"]);
    assert!(
        measure(&first, "evicted")["message"]
            .as_str()
            .expect("msg")
            .starts_with("first run"),
        "{first:#}"
    );
    let value = "y".repeat(50_000);
    for key in 0..200 {
        redis::cmd("SET")
            .arg(format!("evict{key}"))
            .arg(&value)
            .query::<()>(&mut connection)
            .expect("SET");
    }
    let after = info_number(&mut connection, "evicted_keys");
    assert!(after - before > 50.0, "10 MB into 3 MB evicts keys: {before} → {after}");
    let (second, _) = env.json(&["--check", "redis"]);
    // Over maxmemory, every command may evict one more key, campctl's own included.
    let last = info_number(&mut connection, "evicted_keys");
    let evicted = measure(&second, "evicted");
    assert_eq!(evicted["status"], "WARNING", "{second:#}");
    let counted = evicted["value"].as_f64().expect("count");
    assert!(
        (after - before..=last - before).contains(&counted),
        "INFO said {} after the writes and {} after the run; campctl counted {counted}",
        after - before,
        last - before
    );
    assert!(
        evicted["message"].as_str().expect("msg").contains("since the last run"),
        "{evicted:#}"
    );
}

#[test]
fn a_stopped_redis_is_critical_and_names_the_refused_connection() {
    let server = Redis::spawn(RedisOptions::default());
    let url = server.url();
    server.stop();
    let env = HealthEnv::new(&format!("[health.redis]\nurl = \"{url}\"\n"));
    let (report, output) = env.json(&["--check", "redis"]);
    assert_exit(&output, 2);
    let ping = measure(&report, "ping");
    assert_eq!(ping["status"], "CRITICAL");
    let message = ping["message"].as_str().expect("msg");
    assert!(
        message.contains("cannot connect") && message.contains("refused"),
        "{message}"
    );
}

#[test]
fn the_password_comes_from_the_url_rediscli_auth_or_the_config_and_is_never_shown() {
    const PASSWORD: &str = "s3cret-Pw-91x";
    let server = Redis::spawn(RedisOptions {
        password: Some(PASSWORD.to_owned()),
        tls: None,
    });
    let port = server.port();
    let plain = format!("redis://127.0.0.1:{port}");
    // (config table, REDISCLI_AUTH, expected ping status, expected words of the message)
    let cases: [(String, Option<&str>, &str, &str); 5] = [
        (
            format!("url = \"redis://:{PASSWORD}@127.0.0.1:{port}\""),
            None,
            "OK",
            "PONG",
        ),
        (format!("url = \"{plain}\""), Some(PASSWORD), "OK", "PONG"),
        (
            format!("url = \"{plain}\"\npassword = \"{PASSWORD}\""),
            None,
            "OK",
            "PONG",
        ),
        (
            format!("url = \"{plain}\"\npassword = \"wrong-{PASSWORD}\""),
            None,
            "CRITICAL",
            "authentication failed",
        ),
        (
            format!("url = \"{plain}\""),
            None,
            "CRITICAL",
            "authentication required",
        ),
    ];
    for (table, env_password, status, words) in cases {
        let env = HealthEnv::new(&format!("[health.redis]\n{table}\n"));
        let mut command = env.ctx.cmd();
        command
            .arg("--config")
            .arg(&env.config)
            .args(["-vv", "--format", "json", "health", "--check", "redis"]);
        if let Some(password) = env_password {
            command.env("REDISCLI_AUTH", password);
        }
        let output = command.output().expect("run campctl");
        let report: Value = serde_json::from_slice(&output.stdout).expect("JSON report");
        let ping = measure(&report, "ping");
        assert_eq!(ping["status"], status, "{table}: {report:#}");
        assert!(ping["message"].as_str().expect("msg").contains(words), "{ping:#}");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stdout.contains(PASSWORD) && !stderr.contains(PASSWORD),
            "the password shows:\n{stdout}\n{stderr}"
        );
        assert!(
            ping["message"].as_str().is_some_and(|m| m.contains(&plain)),
            "the message names the URL without its password: {ping:#}"
        );
    }
    // No flag takes a password, so none can reach campctl's argv (and `ps`).
    let help = HealthEnv::new("").run(&["health", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--check") && !help.contains("--password") && !help.contains("--auth"),
        "{help}"
    );
}

#[test]
fn rediss_is_verified_with_the_configured_ca_and_refused_without_it() {
    let ca = TestCa::new("campctl redis test CA");
    let cert = ca.issue_server_cert(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    let server = Redis::spawn(RedisOptions {
        password: Some("tls-pw".to_owned()),
        tls: Some(cert),
    });
    let env = HealthEnv::new("");
    let ca_file = env.ctx.write_file("redis-ca.pem", ca.cert_pem());
    let url = format!("rediss://:tls-pw@127.0.0.1:{}", server.port());
    let trusted = HealthEnv::new(&format!(
        "[health.redis]\nurl = \"{url}\"\nca_file = \"{}\"\n",
        ca_file.display()
    ));
    let (report, output) = trusted.json(&["--check", "redis"]);
    assert_eq!(measure(&report, "ping")["status"], "OK", "{report:#}");
    assert!(measure(&report, "clients")["value"].as_f64().is_some(), "{report:#}");
    assert_exit(&output, 0);

    let untrusted = HealthEnv::new(&format!("[health.redis]\nurl = \"{url}\"\n"));
    let (report, output) = untrusted.json(&["--check", "redis"]);
    assert_exit(&output, 2);
    let ping = measure(&report, "ping");
    assert_eq!(ping["status"], "CRITICAL");
    let message = ping["message"].as_str().expect("msg");
    assert!(message.contains("TLS") && message.contains("certificate"), "{message}");
}

#[test]
fn a_bad_redis_url_is_a_usage_error_that_does_not_repeat_it() {
    let env = HealthEnv::new("[health.redis]\nurl = \"http://:pw-in-url@host\"\n");
    let output = env.run(&["health", "--check", "redis"]);
    assert_exit(&output, 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`http`") && stderr.contains("[health.redis]"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw-in-url"), "{stderr}");
}

#[test]
fn a_redis_that_accepts_but_never_answers_times_out_as_unknown() {
    // The kernel completes the TCP handshake for the listener's backlog; nothing ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    let env = HealthEnv::new(&format!(
        "[health.redis]\nurl = \"redis://127.0.0.1:{port}\"\ntimeout = \"500ms\"\n"
    ));
    let (report, output) = env.json(&["--check", "redis"]);
    assert_exit(&output, 3);
    let result = results(&report, "redis")[0];
    assert_eq!(result["status"], "UNKNOWN", "{report:#}");
    assert!(
        result["message"]
            .as_str()
            .expect("msg")
            .starts_with("no answer within 500ms"),
        "{report:#}"
    );
    drop(silent);
}

#[test]
fn without_a_redis_url_or_an_api_url_both_checks_are_left_out_with_a_note() {
    let env = HealthEnv::new("[health.cpu]\ninterval = \"100ms\"\n[health.redis]\nclients_warning = 50.0\n");
    let (report, _) = env.json(&[]);
    assert!(
        results(&report, "redis").is_empty() && results(&report, "api").is_empty(),
        "{report:#}"
    );
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("`redis` (configure `[health.redis] url`)")
            && notes.contains("`api` (configure `[[health.api]]"),
        "{notes}"
    );
    let output = env.run(&["health", "--check", "redis"]);
    assert_exit(&output, 2);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("[health.redis] url"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
