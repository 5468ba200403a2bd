//! JUnit XML for CI systems (GitHub Actions reporters, GitLab, Jenkins, Azure Pipelines): one `<testcase>` per check,
//! or, for a run that ended without a report (a usage or connection error, an interrupt), one `<testcase>` holding
//! that `<error>` ([`render_error`]). Every document is written atomically ([`write`]): a CI job reading the
//! documented fixed path sees the old file or the new one, never half of one, and never a stale PASS after a failed
//! run (issue 16, item 10: `lib::junit_on_failure` writes the error document on every exit without a report).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use super::test_report::{CheckOutcome, TestRestoreReport};

/// Escapes text for XML attributes and content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The report as a JUnit document.
pub(super) fn render(report: &TestRestoreReport) -> String {
    let tests = report.checks.len();
    let failures = report.checks.iter().filter(|c| c.outcome == CheckOutcome::Fail).count();
    let skipped = report.checks.iter().filter(|c| c.outcome == CheckOutcome::Skip).count();
    let suite = escape(&format!("campctl test-restore {}", report.backup));
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"campctl test-restore\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{:.3}\">",
        report.duration_seconds
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" \
         time=\"{:.3}\" timestamp=\"{}\" hostname=\"{}\">",
        report.duration_seconds,
        report.started_at.format("%Y-%m-%dT%H:%M:%S"),
        escape(&report.host)
    );
    let classname = escape(&format!("test-restore.{}", report.database));
    for check in &report.checks {
        let _ = write!(
            xml,
            "    <testcase classname=\"{classname}\" name=\"{}\" time=\"{:.3}\"",
            escape(&check.name),
            check.seconds
        );
        match check.outcome {
            CheckOutcome::Pass => {
                let _ = writeln!(
                    xml,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(&check.detail)
                );
            }
            CheckOutcome::Fail => {
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    </testcase>",
                    escape(&check.detail),
                    escape(&check.detail)
                );
            }
            CheckOutcome::Skip => {
                let _ = writeln!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(&check.detail)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// A run that ended without its report: one test case, `test-restore`, with an `<error>` whose `message` is the
/// error's first line and whose text is the whole rendering (causes and hint); `type` is `exit <code>`.
pub(crate) fn render_error(message: &str, detail: &str, exit_code: u8, started_at: DateTime<Utc>) -> String {
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let seconds = (Utc::now() - started_at).num_milliseconds().max(0) as f64 / 1000.0;
    let _ = writeln!(
        xml,
        "<testsuites name=\"campctl test-restore\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" \
         time=\"{seconds:.3}\">"
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"campctl test-restore\" tests=\"1\" failures=\"0\" errors=\"1\" skipped=\"0\" \
         time=\"{seconds:.3}\" timestamp=\"{}\" hostname=\"{}\">",
        started_at.format("%Y-%m-%dT%H:%M:%S"),
        escape(&crate::os::hostname())
    );
    let _ = writeln!(
        xml,
        "    <testcase classname=\"test-restore\" name=\"test-restore\" time=\"{seconds:.3}\">\n      \
         <error message=\"{}\" type=\"exit {exit_code}\">{}</error>\n    </testcase>",
        escape(message),
        escape(detail)
    );
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

/// Replaces `path` with `xml` atomically: written to a hidden file beside it, flushed, then renamed over it.
///
/// # Errors
/// The file cannot be written or renamed (its directory is gone, not writable, full).
pub(crate) fn write(path: &Path, xml: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let file_name = path
        .file_name()
        .map_or_else(|| "junit.xml".into(), |name| name.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{file_name}.{}.partial", std::process::id()));
    let written = (|| -> anyhow::Result<()> {
        let mut file = fs_err::File::create(&temporary)?;
        file.write_all(xml.as_bytes())?;
        file.sync_all()?;
        fs_err::rename(&temporary, path)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = fs_err::remove_file(&temporary);
    }
    written.with_context(|| format!("Failed to write the JUnit report to `{}`", path.display()))
}

#[cfg(test)]
mod tests {
    use super::{escape, render_error};

    #[test]
    fn an_error_is_one_test_case_with_an_error() {
        let xml = render_error("Authentication <failed>", "error: x\nhint: y", 12, chrono::Utc::now());
        assert!(xml.contains("errors=\"1\""), "{xml}");
        assert!(
            xml.contains("<error message=\"Authentication &lt;failed&gt;\" type=\"exit 12\">error: x\nhint: y</error>"),
            "{xml}"
        );
    }

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;?");
    }
}
