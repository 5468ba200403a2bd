//! The `campctl` binary: parse, resolve settings, set up logging, run one command racing Ctrl-C / SIGTERM.

use std::process::ExitCode;

use campctl::cli::Cli;
use campctl::diagnostics;
use campctl::exit;
use campctl::settings::{self, GlobalSettings};
use campctl::stderr::{json_line, write_stderr};

/// How long the exit waits for open PostgreSQL connections to close.
const CLOSE_CONNECTIONS: std::time::Duration = std::time::Duration::from_secs(2);

fn main() -> ExitCode {
    // Both rustls providers are linked (ours is ring; the Azure SDK's reqwest brings aws-lc-rs): name one for the
    // process so that no library has to guess.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (cli, command) = match Cli::parse_env_with_path() {
        Ok(parsed) => parsed,
        Err(err) => return exit::clap_error(&err, Cli::json_logs_requested()),
    };
    let (junit, started_at) = (campctl::junit_path(&cli), chrono::Utc::now());
    let settings = match GlobalSettings::resolve(&cli.global) {
        Ok(settings) => settings,
        Err(err) => {
            let json = cli.global.log_format == Some(campctl::logging::LogFormat::Json);
            campctl::junit_on_failure(junit.as_deref(), Err(&err), started_at, json);
            return fail(&err, settings::use_color(cli.global.color.unwrap_or_default()), json);
        }
    };
    campctl::logging::setup(settings.verbosity, settings.log_format, settings.color);
    for warning in &settings.db.warnings {
        tracing::warn!("{warning}");
    }
    let printer = settings.printer();
    let (color, json) = (settings.color, printer.json_logs);
    let notice = match campctl::RunNotice::new(&cli, command, &settings, started_at) {
        Ok(notice) => notice,
        Err(err) => {
            campctl::junit_on_failure(junit.as_deref(), Err(&err), started_at, json);
            return fail(&err, color, json);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime can be built");
    let result = runtime.block_on(async {
        let result = tokio::select! {
            biased;
            () = interrupted(json) => Ok(campctl::interrupt::status_on_interrupt()),
            result = campctl::run(cli, settings, printer) => result,
        };
        // Scratch databases and the like, also after an interrupt (the command's children are killed by now);
        // a second Ctrl-C stops waiting.
        tokio::select! {
            () = campctl::interrupt::run_all() => {}
            () = interrupted(json) => {}
        }
        // Every client is dropped by now: let each connection say goodbye (Terminate) before the process exits.
        campctl::pg::close_connections(CLOSE_CONNECTIONS).await;
        result
    });
    campctl::junit_on_failure(junit.as_deref(), result.as_ref().copied(), started_at, json);
    let code = match &result {
        Ok(status) => (*status).into(),
        Err(err) => fail(err, color, json),
    };
    // `[notify]`: last, once the command, its clean-up and its error message are done, so that the message tells
    // how the run really ended and a failed notification is the last line on stderr. It never changes the exit
    // code; a Ctrl-C stops waiting for the webhook.
    if let Some(notice) = &notice {
        runtime.block_on(async {
            tokio::select! {
                () = notice.send(result.as_ref().copied()) => {}
                () = interrupted(json) => {}
            }
        });
    }
    // Do not wait for blocking tasks (e.g. a child's stderr reader) after an interrupt.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

/// Resolves on Ctrl-C or SIGTERM.
async fn interrupted(json: bool) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    write_stderr(&if json {
        json_line("WARN", "interrupted", serde_json::Map::new())
    } else {
        "interrupted\n".into()
    });
}

fn fail(err: &anyhow::Error, color: bool, json: bool) -> ExitCode {
    // `campctl stats | head` closes our stdout: that is not an error (as ripgrep does).
    if exit::is_broken_pipe(err) {
        return ExitCode::SUCCESS;
    }
    write_stderr(&if json {
        diagnostics::render_json(err)
    } else {
        diagnostics::render(err, color)
    });
    diagnostics::status_of(err).into()
}
