//! `[notify]` and `campctl notify test` against the in-process HTTP server (tests/common/https.rs): one POST of the
//! documented shape per format when a backup fails (a missing database, exit 10), none on success by default and
//! one with `on = ["success"]`; a webhook that hangs or answers 500 leaves the exit code alone and the run ends in
//! about the timeout; the webhook URL never reaches stderr, even at `-vvv`; `notify test` against 200 and 500.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{HttpServer, Recorded, Route, TestContext, TestDb, assert_exit};

/// The part of the webhook URL that is the secret, as in a Slack URL's path.
const TOKEN: &str = "T0SECRET/B0SECRET/xoxSECRETtoken";

/// The path the server answers on.
fn hook_path() -> String {
    format!("/services/{TOKEN}")
}

/// A sandbox with a database, a local store and `[notify]` pointing at `server` with `notify` appended.
struct NotifyEnv {
    ctx: TestContext,
    db: TestDb,
    config: PathBuf,
}

impl NotifyEnv {
    fn new(server: Option<&HttpServer>, notify: &str) -> Self {
        let ctx = TestContext::new();
        let db = ctx.db();
        let webhook = server.map_or_else(String::new, |server| {
            format!("webhook_url = \"{}\"\n", server.url(&hook_path()))
        });
        let config = ctx.write_file(
            "campctl.toml",
            format!(
                "[database]\nurl = \"{}\"\n\n[storage.local]\npath = \"{}\"\n\n[notify]\n{webhook}{notify}\n",
                db.url(),
                ctx.home().join("backups").display()
            ),
        );
        Self { ctx, db, config }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = self.ctx.cmd();
        command.arg("--config").arg(&self.config).args(args);
        command.output().expect("run campctl")
    }

    /// `campctl backup` of a database that does not exist: exit 10.
    fn failing_backup(&self, extra: &[&str]) -> Output {
        let mut args = extra.to_vec();
        args.extend(["backup", "campctl_notify_no_such_db"]);
        self.run(&args)
    }
}

fn posts(server: &HttpServer) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|request| request.method == "POST" && request.path == hook_path())
        .collect()
}

/// How many POSTs the server received (where a test's local `posts` shadows [`posts`]).
fn posts_after(server: &HttpServer) -> usize {
    posts(server).len()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_failed_backup_posts_one_message_of_each_format() {
    for format in ["slack", "teams", "json"] {
        let server = HttpServer::http();
        server.route("POST", &hook_path(), Route::text(200, "ok"));
        let env = NotifyEnv::new(Some(&server), &format!("format = \"{format}\""));
        let output = env.failing_backup(&[]);
        assert_exit(&output, 10);
        let posts = posts(&server);
        assert_eq!(posts.len(), 1, "{format}: {posts:?}");
        assert_eq!(posts[0].header("content-type"), Some("application/json"));
        let body = posts[0].json();
        match format {
            "slack" => {
                let text = body["text"].as_str().expect("text");
                assert!(text.contains("campctl backup failed on "), "{body:#}");
                assert!(
                    text.contains("(database campctl_notify_no_such_db), exit 10: "),
                    "{body:#}"
                );
                assert!(text.contains("campctl_notify_no_such_db"), "{body:#}");
                let blocks = body["blocks"].as_array().expect("blocks");
                assert_eq!(blocks[0]["type"], "header");
                assert_eq!(blocks[1]["type"], "section");
                let fields: Vec<&str> = blocks[1]["fields"]
                    .as_array()
                    .expect("fields")
                    .iter()
                    .filter_map(|field| field["text"].as_str())
                    .collect();
                assert!(fields.contains(&"*Command*\nbackup"), "{fields:?}");
                assert!(fields.contains(&"*Exit code*\n10"), "{fields:?}");
                assert!(fields.contains(&"*Database*\ncampctl_notify_no_such_db"), "{fields:?}");
                assert!(fields.iter().any(|field| field.starts_with("*Host*\n")), "{fields:?}");
                assert!(
                    blocks[2]["text"]["text"]
                        .as_str()
                        .is_some_and(|text| text.starts_with("```"))
                );
            }
            "teams" => {
                assert_eq!(body["type"], "message", "{body:#}");
                let attachment = &body["attachments"][0];
                assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
                let card = &attachment["content"];
                assert_eq!(card["type"], "AdaptiveCard");
                assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
                assert!(card["version"].is_string());
                assert_eq!(card["body"][0]["type"], "TextBlock");
                assert!(
                    card["body"][0]["text"]
                        .as_str()
                        .is_some_and(|text| text.starts_with("campctl backup failed on ")),
                    "{card:#}"
                );
                let facts: Vec<(String, String)> = card["body"][1]["facts"]
                    .as_array()
                    .expect("facts")
                    .iter()
                    .map(|fact| {
                        (
                            fact["title"].as_str().unwrap_or_default().to_string(),
                            fact["value"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                assert!(facts.contains(&("Exit code".into(), "10".into())), "{facts:?}");
                assert!(facts.contains(&("Command".into(), "backup".into())), "{facts:?}");
                assert!(
                    facts.contains(&("Database".into(), "campctl_notify_no_such_db".into())),
                    "{facts:?}"
                );
                assert!(card["body"][2]["text"].as_str().is_some_and(|text| !text.is_empty()));
            }
            _ => {
                assert_eq!(body["source"], "campctl");
                assert_eq!(body["command"], "backup");
                assert_eq!(body["database"], "campctl_notify_no_such_db");
                assert_eq!(body["exit_code"], 10);
                assert_eq!(body["status"], "failure");
                assert!(body["host"].as_str().is_some_and(|host| !host.is_empty()));
                let error = body["error"].as_str().expect("error");
                assert!(
                    !error.contains('\n') && error.contains("campctl_notify_no_such_db"),
                    "{error}"
                );
                for key in ["started_at", "finished_at"] {
                    let text = body[key].as_str().expect(key);
                    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|err| panic!("{key}: {err}"));
                }
                assert!(body["duration_seconds"].as_f64().is_some_and(|seconds| seconds >= 0.0));
            }
        }
        assert!(!stderr(&output).contains("notification"), "{}", stderr(&output));
    }
}

#[test]
fn a_successful_backup_posts_nothing_by_default_and_one_message_with_on_success() {
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(200, "ok"));
    let env = NotifyEnv::new(Some(&server), "format = \"json\"");
    let output = env.run(&["backup", env.db.name()]);
    assert_exit(&output, 0);
    assert_eq!(posts(&server).len(), 0);

    let env = NotifyEnv::new(Some(&server), "format = \"json\"\non = [\"success\"]");
    let output = env.run(&["backup", env.db.name()]);
    assert_exit(&output, 0);
    let posts = posts(&server);
    assert_eq!(posts.len(), 1, "{posts:?}");
    let body = posts[0].json();
    assert_eq!(body["status"], "success");
    assert_eq!(body["exit_code"], 0);
    assert_eq!(body["error"], Value::Null);
    assert_eq!(body["database"], env.db.name());
    // `on = ["success"]` alone: a failure is not sent.
    let output = env.failing_backup(&[]);
    assert_exit(&output, 10);
    assert_eq!(posts_after(&server), 1);
}

#[test]
fn a_webhook_that_hangs_costs_about_the_timeout_and_leaves_the_exit_code() {
    let server = HttpServer::http();
    server.route(
        "POST",
        &hook_path(),
        Route::text(200, "ok").delay(Duration::from_secs(20)),
    );
    let env = NotifyEnv::new(Some(&server), "timeout = \"1s\"");
    let started = Instant::now();
    let output = env.failing_backup(&[]);
    let elapsed = started.elapsed();
    assert_exit(&output, 10);
    assert!(elapsed < Duration::from_secs(8), "the run took {elapsed:?}");
    assert_eq!(posts(&server).len(), 1, "a timeout is not retried");
    let stderr = stderr(&output);
    assert!(
        stderr.contains("the notification was not sent to http://127.0.0.1:") && stderr.contains("no answer within 1s"),
        "{stderr}"
    );
}

#[test]
fn a_webhook_that_answers_500_is_retried_once_and_leaves_the_exit_code() {
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(500, "internal_error\nsecond line"));
    let env = NotifyEnv::new(Some(&server), "");
    let output = env.failing_backup(&[]);
    assert_exit(&output, 10);
    assert_eq!(posts(&server).len(), 2, "one retry");
    let stderr = stderr(&output);
    assert!(
        stderr.contains("refused the slack notification: HTTP 500 Internal Server Error: internal_error (the command's exit code is unchanged)"),
        "{stderr}"
    );
    assert!(!stderr.contains("second line"), "{stderr}");
    // The command's own error comes first; the notification's warning is the last line.
    let error_at = stderr.find("error:").expect("the command's error");
    let warning_at = stderr.find("refused the slack notification").expect("the warning");
    assert!(error_at < warning_at, "{stderr}");

    // A 500 then a 200: the retry delivers, and nothing is said.
    let server = HttpServer::http();
    server.route_sequence("POST", &hook_path(), vec![Route::status(503), Route::text(200, "ok")]);
    let env = NotifyEnv::new(Some(&server), "");
    let output = env.failing_backup(&[]);
    assert_exit(&output, 10);
    assert_eq!(posts(&server).len(), 2);
    assert!(
        !self::stderr(&output).contains("notification"),
        "{}",
        self::stderr(&output)
    );

    // A success with `on = ["success"]` and a failing webhook still exits 0.
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::status(500));
    let env = NotifyEnv::new(Some(&server), "on = [\"success\", \"failure\"]");
    let output = env.run(&["backup", env.db.name()]);
    assert_exit(&output, 0);
    assert_eq!(posts(&server).len(), 2);
}

#[test]
fn a_refused_connection_is_a_warning_in_json_logs_and_leaves_the_exit_code() {
    // A port nothing listens on: take one from a server and drop it.
    let url = {
        let server = HttpServer::http();
        server.url(&hook_path())
    };
    let ctx_env = NotifyEnv::new(None, &format!("webhook_url = \"{url}\""));
    let output = ctx_env.failing_backup(&["--log-format", "json"]);
    assert_exit(&output, 10);
    let warnings: Vec<Value> = stderr(&output)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["level"] == "WARN")
        .collect();
    assert!(
        warnings.iter().any(|line| line["message"]
            .as_str()
            .is_some_and(|message| message.contains("the notification was not sent")
                && message.contains("cannot reach the webhook"))),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_webhook_url_never_appears_on_stderr_or_in_config_show() {
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(500, "nope"));
    let env = NotifyEnv::new(Some(&server), "");
    for verbosity in ["-vv", "-vvv"] {
        let output = env.failing_backup(&[verbosity]);
        assert_exit(&output, 10);
        let stderr = stderr(&output);
        assert!(stderr.contains("HTTP 500"), "{stderr}");
        assert!(!stderr.contains("SECRET"), "{verbosity}: {stderr}");
    }
    let output = env.run(&["config", "show"]);
    assert_exit(&output, 0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("notify.webhook_url"), "{stdout}");
    assert!(!stdout.contains("SECRET"), "{stdout}");
    let output = env.run(&["--format", "json", "config", "show"]);
    let show: Value = serde_json::from_slice(&output.stdout).expect("config show JSON");
    assert_eq!(show["notify"]["webhook_url"], "******** (set)");
    let output = env.run(&["config", "check"]);
    assert!(!String::from_utf8_lossy(&output.stdout).contains("SECRET"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("slack notifications to http://127.0.0.1:"));
}

#[test]
fn notify_test_reports_the_answer_of_the_webhook() {
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(200, "ok"));
    let env = NotifyEnv::new(Some(&server), "format = \"teams\"");
    let output = env.run(&["--format", "json", "notify", "test"]);
    assert_exit(&output, 0);
    let report: Value = serde_json::from_slice(&output.stdout).expect("report");
    assert_eq!(report["status"], 200);
    assert_eq!(report["answer"], "HTTP 200 OK");
    assert_eq!(report["body"], "ok");
    assert_eq!(report["format"], "teams");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("SECRET"));
    let posts = posts(&server);
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json()["attachments"][0]["content"]["type"], "AdaptiveCard");

    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(500, "invalid_payload\nmore"));
    let env = NotifyEnv::new(Some(&server), "");
    let output = env.run(&["notify", "test"]);
    assert_exit(&output, 1);
    let stderr = stderr(&output);
    assert!(
        stderr.contains("answered HTTP 500 Internal Server Error: invalid_payload"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRET"), "{stderr}");
    // `notify test` is not itself notified.
    assert_eq!(posts_after(&server), 2);
}

#[test]
fn notify_test_without_a_webhook_is_a_usage_error_and_the_variable_supplies_one() {
    let env = NotifyEnv::new(None, "");
    let output = env.run(&["notify", "test"]);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).contains("no notification webhook is configured"),
        "{}",
        stderr(&output)
    );

    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(200, "ok"));
    let mut command = env.ctx.cmd();
    command
        .arg("--config")
        .arg(&env.config)
        .args(["notify", "test"])
        .env("CAMPCTL_NOTIFY_WEBHOOK_URL", server.url(&hook_path()));
    let output = command.output().expect("run campctl");
    assert_exit(&output, 0);
    assert_eq!(posts(&server).len(), 1);
    assert!(posts(&server)[0].json()["blocks"].is_array(), "slack by default");
}

#[test]
fn a_bad_webhook_url_stops_the_run_before_it_starts() {
    let env = NotifyEnv::new(None, "webhook_url = \"hooks.slack.com/services/x\"");
    let output = env.run(&["backup", env.db.name()]);
    assert_exit(&output, 2);
    let stderr = stderr(&output);
    assert!(stderr.contains("is not a webhook URL"), "{stderr}");
    assert!(!stderr.contains("services/x"), "{stderr}");
    assert!(!env.ctx.home().join("backups").exists(), "nothing was backed up");
}

#[test]
fn a_profile_sets_its_own_webhook_and_format() {
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(200, "ok"));
    let env = NotifyEnv::new(
        None,
        &format!(
            "format = \"teams\"\ntimeout = \"5s\"\n\n[profiles.prod.notify]\nwebhook_url = \"{}\"\nformat = \"json\"\n",
            server.url(&hook_path())
        ),
    );
    // Without the profile there is no webhook: nothing is sent.
    let output = env.failing_backup(&[]);
    assert_exit(&output, 10);
    assert!(posts(&server).is_empty());
    let output = env.failing_backup(&["--profile", "prod"]);
    assert_exit(&output, 10);
    let sent = posts(&server);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].json()["status"], "failure", "json from the profile");
}

#[test]
fn an_interrupted_run_is_a_failure_with_exit_130() {
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(200, "ok"));
    // A "server" that accepts TCP and never speaks: `config check` waits on it until the signal.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let env = NotifyEnv::new(Some(&server), "format = \"json\"");
    let url = format!("postgres://u:p@127.0.0.1:{port}/db?sslmode=disable&connect_timeout=60");
    let mut child = env
        .ctx
        .std_cmd()
        .arg("--config")
        .arg(&env.config)
        .args(["--db-url", &url, "config", "check"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(20);
    let _accepted = loop {
        match listener.accept() {
            Ok(pair) => break pair,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(err) => {
                let _ = child.kill();
                panic!("campctl never connected: {err}");
            }
        }
    };
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(i32::try_from(child.id()).expect("pid"), libc::SIGTERM) };
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    let sent = posts(&server);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body = sent[0].json();
    assert_eq!(body["command"], "config check");
    assert_eq!(body["exit_code"], 130);
    assert_eq!(body["status"], "failure");
    assert_eq!(body["error"], "interrupted (Ctrl-C or SIGTERM)");
}

#[test]
fn a_health_warning_is_sent_only_with_on_warning() {
    let server = HttpServer::http();
    server.route("POST", &hook_path(), Route::text(200, "ok"));
    server.route("GET", "/health", Route::status(200).delay(Duration::from_millis(600)));
    let health = |on: &str, state: &std::path::Path| {
        format!(
            "format = \"json\"\non = {on}\n\n[health]\nstate_file = \"{}\"\n\n[[health.api]]\nurl = \"{}\"\nwarning = \"300ms\"\ncritical = \"5s\"\n",
            state.display(),
            server.url("/health")
        )
    };
    let scratch = TestContext::new();
    let env = NotifyEnv::new(
        Some(&server),
        &health("[\"failure\"]", &scratch.home().join("state.json")),
    );
    let output = env.run(&["health", "--check", "api"]);
    assert_exit(&output, 1);
    assert_eq!(posts_after(&server), 0, "a WARNING is not a failure");

    let env = NotifyEnv::new(
        Some(&server),
        &health("[\"failure\", \"warning\"]", &scratch.home().join("state2.json")),
    );
    let output = env.run(&["health", "--check", "api"]);
    assert_exit(&output, 1);
    let sent = posts(&server);
    assert_eq!(sent.len(), 1);
    let body = sent[0].json();
    assert_eq!(body["command"], "health");
    assert_eq!(body["status"], "warning");
    assert_eq!(body["exit_code"], 1);
}
